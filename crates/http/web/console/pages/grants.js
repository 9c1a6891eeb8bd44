// Staff grants (人工发放, SPEC §6.2.2): a template's coupons given to a list
// of users (an uploaded CSV, pasted ids) or a tag segment, issued in the
// background with a progress bar; then each user's outcome.
// #/grants lists them, #/grants/new makes one, #/grants/<id> follows one.
import { ApiProblem, api } from '/web/api.js';
import { dateTime, register, t } from '/web/i18n.js';
import { busy, card, downloadFile, field, h, header, mount, poll, progressBar, table, toast } from '../ui.js';
import { countChip, facts, loadTemplates, number, stateBadge, templateSelect, useOpsStyles } from './codes-common.js';

register({
  'grants.new': ['新建发放', 'New grant'],
  'grants.list': ['发放记录', 'Grants'],
  'grants.empty': ['还没有发放记录', 'No grant yet'],
  'grants.recipients': ['发放对象', 'Recipients'],
  'grants.mode.csv': ['上传 CSV', 'Upload a CSV'],
  'grants.mode.paste': ['粘贴用户 ID', 'Paste user ids'],
  'grants.mode.segment': ['用户分群', 'Segment'],
  'grants.drop': ['把 CSV 文件拖到这里，或', 'Drop a CSV file here, or'],
  'grants.choose': ['选择文件', 'choose a file'],
  'grants.csv_hint': ['每行一个用户 ID，可带表头 user_id，空行忽略；最大 48 MiB', 'One user id a line, optional header user_id, blank lines ignored; up to 48 MiB'],
  'grants.file': ['{name}：约 {rows} 个用户', '{name}: about {rows} users'],
  'grants.no_file': ['请先选择或拖入 CSV 文件', 'Choose or drop a CSV file first'],
  'grants.paste': ['用户 ID', 'User ids'],
  'grants.paste_hint': ['每行一个，或用逗号、空格分隔', 'One a line, or separated by commas or spaces'],
  'grants.paste_count': ['共 {n} 个用户', '{n} users'],
  'grants.no_users': ['请至少输入一个用户 ID', 'Enter at least one user id'],
  'grants.segment': ['分群标签', 'Segment tag'],
  'grants.segment_hint': ['由商城推送的用户标签，如 vip', 'A user tag the mall sends, such as vip'],
  'grants.no_segment': ['请输入分群标签', 'Enter a segment tag'],
  'grants.reason': ['发放原因', 'Reason'],
  'grants.reason_hint': ['如：客诉补偿 #4711（记录在发放记录中）', 'For example: complaint #4711 (kept with the grant)'],
  'grants.submit': ['开始发放', 'Start the grant'],
  'grants.uploading': ['正在上传…', 'Uploading…'],
  'grants.started': ['发放已开始', 'The grant has started'],
  'grants.grant': ['发放 {id}', 'Grant {id}'],
  'grants.source': ['来源', 'Source'],
  'grants.source_list': ['名单', 'List'],
  'grants.source_segment': ['分群：{tag}', 'Segment: {tag}'],
  'grants.progress': ['已处理 {done} / {total}', '{done} of {total} processed'],
  'grants.total': ['用户数', 'Users'],
  'grants.duplicates': ['重复（已合并）', 'Duplicates (merged)'],
  'grants.issued': ['发放成功', 'Issued'],
  'grants.limit_reached': ['已达领取上限', 'Limit reached'],
  'grants.sold_out': ['库存不足', 'Sold out'],
  'grants.budget_exhausted': ['预算不足', 'Budget used up'],
  'grants.not_in_audience': ['不在发放范围', 'Not in audience'],
  'grants.failed': ['失败', 'Failed'],
  'grants.running_note': ['正在后台发放，进度会自动刷新…', 'Being issued in the background; the progress updates by itself…'],
  'grants.done_note': ['发放完成。', 'The grant is done.'],
  'grants.results': ['发放明细', 'Each user\u2019s outcome'],
  'grants.position': ['序号', '#'],
  'grants.user': ['用户', 'User'],
  'grants.outcome': ['结果', 'Outcome'],
  'grants.why': ['原因', 'Reason'],
  'grants.coupon': ['券码', 'Coupon'],
  'grants.download': ['下载明细 CSV', 'Download results (CSV)'],
  'grants.processed': ['进度', 'Progress'],
});

function canMake(role) {
  return role === 'admin' || role === 'operator';
}

function bar(grant) {
  const line = progressBar(grant.progress_percent, t('grants.progress', { done: number(grant.processed), total: number(grant.total) }));
  return line;
}

function skippedTotal(grant) {
  const s = grant.skipped || {};
  return (s.limit_reached || 0) + (s.sold_out || 0) + (s.budget_exhausted || 0) + (s.not_in_audience || 0);
}

function source(grant) {
  return grant.segment ? t('grants.source_segment', { tag: grant.segment }) : t('grants.source_list');
}

// Reasons are the claim refusal codes; the shared words know most of them.
function reasonText(reason) {
  if (!reason) return '—';
  const known = t(`code.${reason}`);
  return known === `code.${reason}` ? reason : known;
}

async function listView(ctx) {
  const newButton = canMake(ctx.role)
    ? h('button.primary', { dataset: { action: 'new-grant' }, onclick: () => ctx.navigate('#/grants/new') }, t('grants.new'))
    : null;
  const body = h('div', h('div.empty', t('ui.loading')));
  mount(ctx.root, header(t('nav.grants'), newButton), card(t('grants.list'), body));
  let grants = [];
  let cursor = null;
  const more = h('button.secondary', { dataset: { action: 'more' } }, t('ui.more'));
  const names = new Map((await loadTemplates(ctx.token).catch(() => [])).map((tpl) => [tpl.id, tpl.name]));
  const draw = () => mount(body,
    table([
      { title: t('ops.id'), cell: (g) => h('a.id-link.mono', { href: `#/grants/${encodeURIComponent(g.id)}`, dataset: { grant: g.id } }, g.id) },
      { title: t('ops.template'), cell: (g) => names.get(g.template_id) || g.template_id },
      { title: t('grants.source'), cell: source },
      { title: t('grants.reason'), cell: (g) => g.reason || '—' },
      { title: t('ops.status'), cell: (g) => stateBadge(g.status) },
      { title: t('grants.processed'), cell: bar },
      { title: t('grants.issued'), class: 'num', cell: (g) => number(g.done) },
      { title: t('state.skipped'), class: 'num', cell: (g) => number(skippedTotal(g) + g.failed) },
      { title: t('ops.created_at'), cell: (g) => dateTime(g.created_at) },
    ], grants, { empty: t('grants.empty') }),
    cursor ? h('div.form-actions', more) : null);
  const load = async (reset) => {
    const page = await api('GET', '/v1/grants', { token: ctx.token, query: { limit: 20, cursor: reset ? null : cursor } });
    grants = reset ? page.items : grants.concat(page.items);
    cursor = page.next_cursor;
    draw();
  };
  more.addEventListener('click', () => busy(more, () => load(false)));
  await load(true);
  // Unfinished grants move on by themselves: refresh the first page while any runs.
  poll(body, 1000, async () => {
    if (!grants.some((g) => g.status !== 'done')) return false;
    const page = await api('GET', '/v1/grants', { token: ctx.token, query: { limit: Math.max(grants.length, 20) } });
    grants = page.items;
    cursor = page.next_cursor;
    draw();
    return true;
  });
}

function parseIds(text) {
  return [...new Set(text.split(/[\s,;，；]+/).map((id) => id.trim()).filter(Boolean))];
}

async function newView(ctx) {
  mount(ctx.root, header(t('grants.new'), h('a.id-link', { href: '#/grants' }, t('ops.back'))), h('div.empty', t('ui.loading')));
  const templates = await loadTemplates(ctx.token, ['approved', 'active']);
  const select = templateSelect(templates, { selected: ctx.params[1] });
  let mode = 'csv';
  let file = null;
  const problem = h('p.failure.hidden', { role: 'alert', dataset: { problem: '' } });

  // CSV: a file input and a drop zone.
  const fileInput = h('input#grant-csv.visually-hidden', { type: 'file', accept: '.csv,text/csv,text/plain', dataset: { field: 'csv' } });
  const fileNote = h('p.muted', { dataset: { fileNote: '' } });
  const takeFile = async (chosen) => {
    if (!chosen) return;
    file = chosen;
    problem.classList.add('hidden');
    const text = await chosen.slice(0, 4 * 1024 * 1024).text();
    const lines = new Set(text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line && line !== 'user_id')).size;
    const estimate = chosen.size > 4 * 1024 * 1024 ? Math.round((lines * chosen.size) / (4 * 1024 * 1024)) : lines;
    fileNote.textContent = t('grants.file', { name: chosen.name, rows: number(estimate) });
  };
  fileInput.addEventListener('change', () => takeFile(fileInput.files[0]));
  const drop = h('div.drop', { dataset: { drop: '' } },
    h('div', h('strong', t('grants.drop')), ' ', h('label.file-button', {
      for: 'grant-csv', tabIndex: 0, role: 'button',
      onkeydown: (event) => {
        if (event.key === 'Enter' || event.key === ' ') {
          event.preventDefault();
          fileInput.click();
        }
      },
    }, t('grants.choose'))),
    fileInput, h('p.hint.muted', t('grants.csv_hint')), fileNote);
  drop.addEventListener('dragover', (event) => { event.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (event) => {
    event.preventDefault();
    drop.classList.remove('over');
    takeFile(event.dataTransfer.files[0]);
  });

  const paste = h('textarea', { rows: 6, dataset: { field: 'users' }, placeholder: 'u-1\nu-2' });
  const pasteCount = h('span', { dataset: { pasteCount: '' } });
  paste.addEventListener('input', () => { pasteCount.textContent = t('grants.paste_count', { n: number(parseIds(paste.value).length) }); });
  const segment = h('input', { dataset: { field: 'segment' }, placeholder: 'vip' });
  const panels = {
    csv: drop,
    paste: field(t('grants.paste'), paste, { hint: h('span', t('grants.paste_hint'), ' · ', pasteCount) }),
    segment: field(t('grants.segment'), segment, { hint: t('grants.segment_hint') }),
  };
  const tabs = h('div.tabs', { role: 'tablist' }, Object.keys(panels).map((key) => h('button', {
    type: 'button', role: 'tab', dataset: { mode: key }, 'aria-selected': key === mode ? 'true' : 'false',
    onclick: () => {
      mode = key;
      for (const tab of tabs.children) tab.setAttribute('aria-selected', tab.dataset.mode === key ? 'true' : 'false');
      for (const [name, panel] of Object.entries(panels)) panel.classList.toggle('hidden', name !== key);
    },
  }, t(`grants.mode.${key}`))));
  for (const [name, panel] of Object.entries(panels)) panel.classList.toggle('hidden', name !== mode);

  const reason = h('input', { dataset: { field: 'reason' }, maxlength: 200 });
  const submit = h('button.primary', { type: 'submit', dataset: { action: 'submit' } }, t('grants.submit'));
  const upload = h('div.hidden', progressBar(0, t('grants.uploading')));
  const fail = (message) => {
    problem.textContent = message;
    problem.classList.remove('hidden');
  };
  const form = h('form', {
    onsubmit: async (event) => {
      event.preventDefault();
      problem.classList.add('hidden');
      if (!select.value) return select.focus();
      const template = select.value;
      const why = reason.value.trim() || undefined;
      let request;
      if (mode === 'csv') {
        if (!file) return fail(t('grants.no_file'));
        request = () => sendCsv(ctx.token, template, why, file, upload);
      } else if (mode === 'paste') {
        const users = parseIds(paste.value);
        if (!users.length) return fail(t('grants.no_users'));
        request = () => api('POST', '/v1/grants', { token: ctx.token, body: { template, users, reason: why } });
      } else {
        const tag = segment.value.trim();
        if (!tag) return fail(t('grants.no_segment'));
        request = () => api('POST', '/v1/grants', { token: ctx.token, body: { template, segment: tag, reason: why } });
      }
      submit.disabled = true;
      try {
        const grant = await request();
        toast(t('grants.started'), 'ok');
        ctx.navigate(`#/grants/${encodeURIComponent(grant.id)}`);
      } catch (error) {
        fail(error.message);
      } finally {
        submit.disabled = false;
        upload.classList.add('hidden');
      }
    },
  },
  templates.length ? null : h('p.note.warn', t('ops.no_templates')),
  field(t('ops.template'), select),
  h('div.field', h('span.label', t('grants.recipients'))), tabs, Object.values(panels),
  field(t('grants.reason'), reason, { hint: t('grants.reason_hint') }),
  upload, problem,
  h('div.form-actions', submit, h('a.id-link', { href: '#/grants' }, t('ui.cancel'))));
  mount(ctx.root, header(t('grants.new'), h('a.id-link', { href: '#/grants' }, t('ops.back'))), card(null, form));
  select.focus();
}

// A CSV upload with its upload progress shown (fetch cannot report it).
function sendCsv(token, template, reason, file, upload) {
  return new Promise((resolve, reject) => {
    const url = new URL('/v1/grants', window.location.origin);
    url.searchParams.set('template', template);
    if (reason) url.searchParams.set('reason', reason);
    const request = new XMLHttpRequest();
    request.open('POST', url);
    request.setRequestHeader('Authorization', `Bearer ${token}`);
    request.setRequestHeader('Content-Type', 'text/csv');
    request.setRequestHeader('Accept', 'application/json');
    upload.classList.remove('hidden');
    request.upload.addEventListener('progress', (event) => {
      if (!event.lengthComputable) return;
      const percent = (event.loaded * 100) / event.total;
      upload.replaceChildren(progressBar(percent, `${t('grants.uploading')} ${Math.round(percent)}%`));
    });
    request.addEventListener('load', () => {
      // Answers go through the same reader as every other call, so a
      // refusal is a readable ApiProblem.
      let parsed = null;
      try {
        parsed = JSON.parse(request.responseText);
      } catch {
        parsed = null;
      }
      if (request.status >= 200 && request.status < 300 && parsed) resolve(parsed);
      else reject(new ApiProblem(request.status, parsed && typeof parsed === 'object' ? parsed : {}));
    });
    request.addEventListener('error', () => {
      reject(new ApiProblem(0, { code: 'NETWORK' }));
    });
    request.send(file);
  });
}

async function grantView(ctx, id) {
  const downloadButton = h('button.secondary', { dataset: { action: 'download' } }, t('grants.download'));
  mount(ctx.root, header(t('grants.grant', { id }), h('a.id-link', { href: '#/grants' }, t('ops.back'))), h('div.empty', t('ui.loading')));
  const names = new Map((await loadTemplates(ctx.token).catch(() => [])).map((tpl) => [tpl.id, tpl.name]));
  const summary = h('div');
  const results = h('div');
  const resultsCard = card(null, h('div.card-head', h('h2', t('grants.results')), downloadButton), results);
  resultsCard.classList.add('hidden');
  mount(ctx.root, header(t('grants.grant', { id }), h('a.id-link', { href: '#/grants' }, t('ops.back'))), card(null, summary), resultsCard);
  downloadButton.addEventListener('click', () => busy(downloadButton, () => downloadFile(ctx.token, `/v1/grants/${encodeURIComponent(id)}/results.csv`, `${id}.csv`)));

  const show = (grant) => {
    const s = grant.skipped || {};
    const bigBar = bar(grant);
    bigBar.classList.add('big');
    mount(summary, h('div', { dataset: { grantStatus: grant.status } },
      facts([
        [t('ops.status'), stateBadge(grant.status)],
        [t('ops.template'), h('a.id-link', { href: `#/templates/${encodeURIComponent(grant.template_id)}` }, names.get(grant.template_id) || grant.template_id)],
        [t('grants.source'), source(grant)],
        [t('grants.reason'), grant.reason || '—'],
        [t('ops.created_by'), grant.created_by],
        [t('ops.created_at'), dateTime(grant.created_at)],
        [t('ops.finished_at'), dateTime(grant.finished_at)],
      ]),
      bigBar,
      h('div.counts', { style: { marginTop: '16px' } },
        countChip(t('grants.total'), number(grant.total), { name: 'total' }),
        countChip(t('grants.issued'), number(grant.done), { tone: 'ok', name: 'issued' }),
        countChip(t('grants.limit_reached'), number(s.limit_reached), { tone: s.limit_reached ? 'bad' : null, name: 'limit_reached' }),
        countChip(t('grants.sold_out'), number(s.sold_out), { tone: s.sold_out ? 'bad' : null, name: 'sold_out' }),
        countChip(t('grants.budget_exhausted'), number(s.budget_exhausted), { tone: s.budget_exhausted ? 'bad' : null, name: 'budget_exhausted' }),
        countChip(t('grants.not_in_audience'), number(s.not_in_audience), { tone: s.not_in_audience ? 'bad' : null, name: 'not_in_audience' }),
        countChip(t('grants.failed'), number(grant.failed), { tone: grant.failed ? 'bad' : null, name: 'failed' }),
        countChip(t('grants.duplicates'), number(grant.duplicates), { name: 'duplicates' })),
      h('p.note', { style: { marginTop: '16px' } }, grant.status === 'done' ? t('grants.done_note') : t('grants.running_note'))));
    return grant.status !== 'done';
  };
  const showResults = async () => {
    resultsCard.classList.remove('hidden');
    let rows = [];
    let cursor = null;
    const more = h('button.secondary', { dataset: { action: 'more' } }, t('ui.more'));
    const draw = () => mount(results, table([
      { title: t('grants.position'), class: 'num', cell: (r) => r.position },
      { title: t('grants.user'), cell: (r) => h('span.mono', r.user_id) },
      { title: t('grants.outcome'), cell: (r) => (r.outcome ? stateBadge(r.outcome) : '—') },
      { title: t('grants.why'), cell: (r) => reasonText(r.reason) },
      { title: t('grants.coupon'), cell: (r) => (r.coupon_code ? h('span.mono', r.coupon_code) : '—') },
    ], rows), cursor ? h('div.form-actions', more) : null);
    const load = async () => {
      const page = await api('GET', `/v1/grants/${encodeURIComponent(id)}/results`, { token: ctx.token, query: { limit: 50, cursor } });
      rows = rows.concat(page.items);
      cursor = page.next_cursor;
      draw();
    };
    more.addEventListener('click', () => busy(more, load));
    await load();
  };
  const first = await api('GET', `/v1/grants/${encodeURIComponent(id)}`, { token: ctx.token });
  if (show(first)) {
    poll(summary, 400, async () => {
      const running = show(await api('GET', `/v1/grants/${encodeURIComponent(id)}`, { token: ctx.token }));
      if (!running) await showResults();
      return running;
    });
  } else {
    await showResults();
  }
}

export default {
  id: 'grants',
  roles: ['admin', 'operator', 'reviewer', 'finance'],
  async render(ctx) {
    useOpsStyles();
    const [id] = ctx.params;
    if (id === 'new') return newView(ctx);
    if (id) return grantView(ctx, id);
    return listView(ctx);
  },
};
