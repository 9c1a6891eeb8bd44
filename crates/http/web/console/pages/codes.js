// Code batches (券码批次, SPEC §5.1): unbound codes of an approved template,
// made in the background with a progress bar, then exported as CSV.
// #/codes lists this browser's recent batches; #/codes/<batch id> shows one.
import { api } from '/web/api.js';
import { dateTime, register, t } from '/web/i18n.js';
import { busy, card, downloadFile, field, h, header, mount, poll, progressBar, table, toast } from '../ui.js';
import { facts, loadTemplates, number, stateBadge, templateSelect, useOpsStyles } from './codes-common.js';

register({
  'codes.new': ['生成券码', 'Generate codes'],
  'codes.count': ['数量', 'How many'],
  'codes.count_hint': ['1 至 10,000,000 个；受券模板总量限制', '1 to 10,000,000; within the template\u2019s total limit'],
  'codes.count_bad': ['请输入 1 至 10,000,000 之间的整数', 'Enter a whole number from 1 to 10,000,000'],
  'codes.generate': ['开始生成', 'Generate'],
  'codes.started': ['已开始生成券码', 'Generating the codes'],
  'codes.intro': ['券码生成后未绑定用户，可用于印刷、合作方分发或作为兑换码；生成在后台进行。', 'Codes are made unbound — for printing, partners or as redemption codes — in the background.'],
  'codes.recent': ['最近的批次', 'Recent batches'],
  'codes.recent_empty': ['本浏览器还没有生成过批次', 'No batch made in this browser yet'],
  'codes.open': ['按批次号查看', 'Open a batch by id'],
  'codes.batch_id': ['批次号', 'Batch id'],
  'codes.open_button': ['查看', 'Open'],
  'codes.batch': ['批次 {id}', 'Batch {id}'],
  'codes.requested': ['计划数量', 'Requested'],
  'codes.generated': ['已生成', 'Generated'],
  'codes.progress': ['已生成 {done} / {total}', '{done} of {total} made'],
  'codes.running_note': ['正在生成，页面会自动刷新进度…', 'Being made; the progress updates by itself…'],
  'codes.done_note': ['生成完成，可以下载券码文件。', 'Done: the codes are ready to download.'],
  'codes.failed_note': ['批次中止：券模板已结束，已生成的券码仍可导出。', 'Stopped: the template ended; the codes made so far can be exported.'],
  'codes.partner_note': ['合作方账号可按批次号下载共享给您的券模板的券码。', 'A partner key downloads the codes of batches of templates shared with it, by batch id.'],
  'codes.sample': ['文件前 {n} 行', 'The file\u2019s first {n} rows'],
  'codes.download': ['下载券码 CSV', 'Download codes (CSV)'],
});

const RECENT_KEY = 'couponflow.console.code-batches';

function recent() {
  try {
    return JSON.parse(localStorage.getItem(RECENT_KEY) || '[]');
  } catch {
    return [];
  }
}

function remember(batch, templateName) {
  const list = recent().filter((item) => item.id !== batch.id);
  list.unshift({ id: batch.id, template_id: batch.template_id, template_name: templateName, requested: batch.requested, created_at: batch.created_at });
  localStorage.setItem(RECENT_KEY, JSON.stringify(list.slice(0, 20)));
}

function bigBar(percent, label) {
  const bar = progressBar(percent, label);
  bar.classList.add('big');
  return bar;
}

function canMake(role) {
  return role === 'admin' || role === 'operator';
}

async function listView(ctx) {
  const openInput = h('input', { name: 'batch', placeholder: 'cb_…', dataset: { field: 'batch-id' } });
  const openForm = h('form.form-row', {
    onsubmit: (event) => {
      event.preventDefault();
      const id = openInput.value.trim();
      if (id) ctx.navigate(`#/codes/${encodeURIComponent(id)}`);
    },
  }, field(t('codes.batch_id'), openInput), h('button.secondary', { type: 'submit' }, t('codes.open_button')));

  if (!canMake(ctx.role)) {
    mount(ctx.root, header(t('nav.codes')), card(t('codes.open'), h('p.muted', t('codes.partner_note')), openForm));
    return;
  }
  mount(ctx.root, header(t('nav.codes')), h('div.empty', t('ui.loading')));
  const templates = await loadTemplates(ctx.token, ['approved', 'active', 'paused']);
  const select = templateSelect(templates, { selected: ctx.params[1] });
  const count = h('input', { type: 'number', name: 'count', min: '1', max: '10000000', step: '1', value: '1000', required: true, dataset: { field: 'count' } });
  const countField = field(t('codes.count'), count, { hint: t('codes.count_hint'), name: 'count' });
  countField.classList.add('narrow');
  const button = h('button.primary', { type: 'submit', dataset: { action: 'generate' } }, t('codes.generate'));
  const check = () => {
    const value = Number(count.value);
    const ok = Number.isInteger(value) && value >= 1 && value <= 10000000;
    countField.classList.toggle('invalid', !ok);
    countField.querySelector('.field-error').textContent = ok ? '' : t('codes.count_bad');
    return ok;
  };
  count.addEventListener('input', check);
  const form = h('form', {
    onsubmit: async (event) => {
      event.preventDefault();
      if (!select.value || !check()) {
        (select.value ? count : select).focus();
        return;
      }
      const batch = await busy(button, () => api('POST', `/v1/templates/${encodeURIComponent(select.value)}/code-batches`, {
        token: ctx.token, body: { count: Number(count.value) },
      }));
      if (!batch) return;
      remember(batch, templates.find((tpl) => tpl.id === select.value)?.name);
      toast(t('codes.started'), 'ok');
      ctx.navigate(`#/codes/${encodeURIComponent(batch.id)}`);
    },
  },
  h('p.muted', t('codes.intro')),
  templates.length ? null : h('p.note.warn', t('ops.no_templates')),
  h('div.form-row', field(t('ops.template'), select), countField, button));

  const rows = recent();
  mount(ctx.root, header(t('nav.codes')),
    card(t('codes.new'), form),
    card(t('codes.recent'), table([
      { title: t('codes.batch_id'), cell: (row) => h('a.id-link.mono', { href: `#/codes/${encodeURIComponent(row.id)}`, dataset: { batch: row.id } }, row.id) },
      { title: t('ops.template'), cell: (row) => row.template_name || row.template_id },
      { title: t('codes.requested'), class: 'num', cell: (row) => number(row.requested) },
      { title: t('ops.created_at'), cell: (row) => dateTime(row.created_at) },
    ], rows, { empty: t('codes.recent_empty') })),
    card(t('codes.open'), openForm));
  select.focus();
}

async function batchView(ctx, id) {
  const head = header(t('codes.batch', { id }), h('a.id-link', { href: '#/codes' }, t('ops.back')));
  const body = h('div', h('div.empty', t('ui.loading')));
  const box = card(null, body);
  mount(ctx.root, head, box);
  const name = recent().find((item) => item.id === id)?.template_name;
  const downloadButton = h('button.primary', { dataset: { action: 'download' } }, t('codes.download'));
  const downloaded = h('span.muted', { dataset: { downloaded: '' } });
  const sample = h('div');
  downloadButton.addEventListener('click', () => busy(downloadButton, async () => {
    const text = await downloadFile(ctx.token, `/v1/code-batches/${encodeURIComponent(id)}/codes.csv`, `${id}.csv`);
    const rows = text.split('\n').filter((line) => line.trim()).length - 1;
    downloaded.dataset.rows = String(rows);
    downloaded.textContent = t('ops.downloaded', { rows: number(rows) });
    // The file's first rows, to check before handing it on.
    const [head, ...lines] = text.split('\n').filter((line) => line.trim());
    const names = head.split(',');
    mount(sample, h('h2', { style: { fontSize: '15px', margin: '20px 0 10px' } }, t('codes.sample', { n: Math.min(lines.length, 8) })),
      table(names.map((name, i) => ({ title: name, cell: (cells) => h(i === 0 ? 'span.mono' : 'span', i === 3 ? t(`state.${cells[i]}`) : cells[i]) })),
        lines.slice(0, 8).map((line) => line.split(','))));
  }));

  if (!canMake(ctx.role)) {
    mount(body, h('p.muted', t('codes.partner_note')), h('div.form-actions', downloadButton, downloaded));
    return;
  }
  const show = (batch) => {
    const percent = batch.requested ? (batch.generated * 100) / batch.requested : 0;
    const running = batch.status === 'running';
    mount(body,
      h('div', { dataset: { batchStatus: batch.status } },
        facts([
          [t('ops.status'), stateBadge(batch.status)],
          [t('ops.template'), h('a.id-link', { href: `#/templates/${encodeURIComponent(batch.template_id)}` }, name || batch.template_id)],
          [t('codes.requested'), number(batch.requested), { big: true }],
          [t('codes.generated'), number(batch.generated), { big: true, name: 'generated' }],
          [t('ops.created_by'), batch.created_by],
          [t('ops.created_at'), dateTime(batch.created_at)],
          [t('ops.finished_at'), dateTime(batch.finished_at)],
        ]),
        bigBar(percent, t('codes.progress', { done: number(batch.generated), total: number(batch.requested) })),
        h('p', { class: batch.status === 'failed' ? 'note warn' : 'note' },
          running ? t('codes.running_note') : batch.status === 'failed' ? t('codes.failed_note') : t('codes.done_note')),
        running ? null : h('div.form-actions', downloadButton, downloaded), sample));
    return running;
  };
  const first = await api('GET', `/v1/code-batches/${encodeURIComponent(id)}`, { token: ctx.token });
  if (show(first)) {
    poll(body, 400, async () => show(await api('GET', `/v1/code-batches/${encodeURIComponent(id)}`, { token: ctx.token })));
  }
}

export default {
  id: 'codes',
  roles: ['admin', 'operator', 'partner'],
  async render(ctx) {
    useOpsStyles();
    const [id] = ctx.params;
    if (id && id !== 'new') return batchView(ctx, id);
    return listView(ctx);
  },
};
