// Campaigns (活动, SPEC §6.1): the list, a form to create or change one
// (name, rules, schedule window, channels, rollout, the templates it offers
// with their own claim window and points), and a detail with its life
// cycle: schedule, pause, resume, end.
//   #/campaigns, #/campaigns/new, #/campaigns/<id>, #/campaigns/<id>/edit
import { api, apiAll } from '/web/api.js';
import { dateTime, register, t } from '/web/i18n.js';
import { badge, busy, card, closeOnEscape, dialog, h, header, mount, table, toast, useStyles } from '../ui.js';
import { summaryOf } from './templates.js';

register({
  'cp.new': ['新建活动', 'New campaign'],
  'cp.edit': ['编辑活动', 'Edit campaign'],
  'cp.name': ['活动名称', 'Name'],
  'cp.description': ['活动规则', 'Rules'],
  'cp.image': ['活动图片地址（可选）', 'Image URL (optional)'],
  'cp.starts_at': ['开始时间', 'Starts'],
  'cp.ends_at': ['结束时间', 'Ends'],
  'cp.window': ['活动时间', 'When'],
  'cp.channels': ['渠道（空为全部）', 'Channels (empty: all)'],
  'cp.channels_label': ['渠道', 'Channels'],
  'cp.rollout': ['灰度发布', 'Rollout'],
  'cp.rollout_all': ['全部用户', 'Everyone'],
  'cp.rollout_percent': ['按比例', 'A share of users'],
  'cp.rollout_tags': ['按用户标签', 'Users with tags'],
  'cp.percent': ['比例（%）', 'Share (%)'],
  'cp.tags': ['用户标签', 'Tags'],
  'cp.share': ['分享设置', 'Share card'],
  'cp.share_title': ['分享标题', 'Title'],
  'cp.share_text': ['分享文案', 'Text'],
  'cp.templates': ['活动券', 'Coupons offered'],
  'cp.templates_hint': ['只能选择已通过审核的券模板；可为每张券单独设置领取时间和积分兑换价', 'Only approved templates; each may have its own claim window and points price'],
  'cp.no_templates': ['还没有已通过审核的券模板', 'No approved templates yet'],
  'cp.points': ['积分（可选）', 'Points (optional)'],
  'cp.entry_from': ['单独开始领取', 'Own claim start'],
  'cp.entry_until': ['单独结束领取', 'Own claim end'],
  'cp.save': ['保存', 'Save'],
  'cp.saved': ['活动已保存', 'Campaign saved'],
  'cp.none': ['还没有活动，点击“新建活动”开始', 'No campaigns yet: start with “New campaign”'],
  'cp.count': ['券数', 'Coupons'],
  'cp.status': ['状态', 'Status'],
  'cp.schedule': ['发布（排期）', 'Schedule'],
  'cp.pause': ['暂停', 'Pause'],
  'cp.resume': ['恢复', 'Resume'],
  'cp.end': ['结束活动', 'End'],
  'cp.end_text': ['结束后活动下架且无法恢复，已领取的券不受影响。', 'The campaign closes for good; coupons already claimed stay valid.'],
  'cp.done.schedule': ['活动已排期', 'Scheduled'],
  'cp.done.pause': ['活动已暂停', 'Paused'],
  'cp.done.resume': ['活动已恢复', 'Resumed'],
  'cp.done.end': ['活动已结束', 'Ended'],
  'cp.details': ['活动信息', 'Details'],
  'cp.everyone': ['全部用户', 'Everyone'],
  'cp.percent_of': ['{percent}% 的用户', '{percent}% of users'],
  'cp.tags_of': ['带有标签 {tags} 的用户', 'Users tagged {tags}'],
  'cp.all_channels': ['全部渠道', 'All channels'],
  'cp.free': ['免费领取', 'Free'],
  'cp.points_of': ['{points} 积分', '{points} points'],
  'cp.template': ['券模板', 'Template'],
  'cp.price': ['领取方式', 'Price'],
  'cp.entry_window': ['领取时间', 'Claim window'],
  'cp.follow': ['同活动时间', 'As the campaign'],
  'cp.missing': ['（模板不存在）', '(unknown template)'],
  'cp.required': ['必填', 'Required'],
  'cp.bad_percent': ['请输入 0–100 的整数', 'Enter a whole number from 0 to 100'],
  'cp.bad_points': ['请输入正整数', 'Enter a positive whole number'],
  'cp.other_problems': ['请修改：', 'Please fix:'],
});

const EDITORS = ['admin', 'operator'];

function localTime(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function isoOf(value) {
  if (!value) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString().replace('.000Z', 'Z');
}

function words(text) {
  return text.split(/[\s,，、;；]+/).filter(Boolean);
}

function rolloutText(rollout) {
  if (!rollout) return t('cp.everyone');
  if (rollout.percent !== undefined) return t('cp.percent_of', { percent: rollout.percent });
  return t('cp.tags_of', { tags: rollout.tags.join('、') });
}

async function list(ctx) {
  const items = await apiAll('/v1/campaigns', { token: ctx.token });
  items.sort((a, b) => b.created_at.localeCompare(a.created_at));
  mount(ctx.root,
    header(t('nav.campaigns'), EDITORS.includes(ctx.role)
      ? h('a.button.primary', { href: '#/campaigns/new', dataset: { action: 'new-campaign' } }, t('cp.new')) : null),
    h('section.card', table([
      { title: t('cp.name'), cell: (row) => h('a', { href: `#/campaigns/${encodeURIComponent(row.id)}`, dataset: { campaign: row.id } }, row.name) },
      { title: t('cp.status'), cell: (row) => badge(row.status) },
      { title: t('cp.window'), cell: (row) => `${dateTime(row.starts_at)} – ${dateTime(row.ends_at)}` },
      { title: t('cp.rollout'), cell: (row) => rolloutText(row.rollout) },
      { title: t('cp.count'), class: 'num', cell: (row) => String(row.templates.length) },
    ], items, { empty: t('cp.none') })));
}

async function form(ctx, existing) {
  const templates = (await apiAll('/v1/templates', { token: ctx.token }))
    .filter((tpl) => ['approved', 'active'].includes(tpl.status)
      || (existing && existing.templates.some((entry) => entry.template === tpl.id)));
  const fieldBoxes = new Map();
  const field = (path, label, control, hint) => {
    const box = h('label.field', { dataset: { field: path } }, h('span.label', label), control, hint ? h('span.hint', hint) : null, h('span.field-error'));
    fieldBoxes.set(path, box);
    return box;
  };
  const input = (path, attrs = {}) => h('input', { dataset: { path }, autocomplete: 'off', ...attrs });
  const now = new Date();
  const inAWeek = new Date(now.getTime() + 7 * 86400000);
  const c = existing || { name: '', description: '', starts_at: now.toISOString(), ends_at: inAWeek.toISOString(), channels: [], templates: [], share: {} };
  const name = input('name', { value: c.name, maxLength: 200 });
  const description = h('textarea', { dataset: { path: 'description' }, rows: 3, value: c.description });
  const image = input('image', { value: c.image || '' });
  const starts = input('starts_at', { type: 'datetime-local', value: localTime(c.starts_at) });
  const ends = input('ends_at', { type: 'datetime-local', value: localTime(c.ends_at) });
  const channels = input('channels', { value: c.channels.join(', '), placeholder: 'app, mini_program' });
  const rolloutKind = h('select', { dataset: { path: 'rollout.kind' } },
    h('option', { value: '' }, t('cp.rollout_all')), h('option', { value: 'percent' }, t('cp.rollout_percent')), h('option', { value: 'tags' }, t('cp.rollout_tags')));
  rolloutKind.value = !c.rollout ? '' : c.rollout.percent !== undefined ? 'percent' : 'tags';
  const percent = input('rollout.percent', { inputMode: 'numeric', value: c.rollout && c.rollout.percent !== undefined ? String(c.rollout.percent) : '' });
  const tags = input('rollout.tags', { value: c.rollout && c.rollout.tags ? c.rollout.tags.join(', ') : '' });
  const percentBox = field('rollout.percent', t('cp.percent'), percent);
  const tagsBox = field('rollout.tags', t('cp.tags'), tags);
  const shareTitle = input('share.title', { value: (c.share && c.share.title) || '' });
  const shareText = input('share.text', { value: (c.share && c.share.text) || '' });
  const arrange = () => {
    percentBox.classList.toggle('hidden', rolloutKind.value !== 'percent');
    tagsBox.classList.toggle('hidden', rolloutKind.value !== 'tags');
  };
  rolloutKind.addEventListener('change', arrange);

  const rows = templates.map((tpl, index) => {
    const entry = c.templates.find((e) => e.template === tpl.id);
    const chosen = h('input', { type: 'checkbox', checked: Boolean(entry), dataset: { choose: tpl.id }, 'aria-label': tpl.name });
    const points = h('input', { inputMode: 'numeric', value: entry && entry.points ? String(entry.points) : '', dataset: { entryField: 'points' } });
    const from = h('input', { type: 'datetime-local', value: localTime(entry && entry.claim_window && entry.claim_window.from), dataset: { entryField: 'from' } });
    const until = h('input', { type: 'datetime-local', value: localTime(entry && entry.claim_window && entry.claim_window.until), dataset: { entryField: 'until' } });
    const row = h('div.campaign-template', { dataset: { entry: tpl.id } },
      chosen,
      h('div', h('div.tpl-name', tpl.name, ' ', badge(tpl.status)), h('div.tpl-summary', summaryOf(tpl))),
      h('label.field', h('span.label', t('cp.points')), points, h('span.field-error')),
      h('label.field', h('span.label', t('cp.entry_from')), from),
      h('label.field', h('span.label', t('cp.entry_until')), until));
    const mark = () => row.classList.toggle('chosen', chosen.checked);
    chosen.addEventListener('change', mark);
    mark();
    return { tpl, row, chosen, points, from, until, index };
  });
  const problems = h('div.failure.hidden', { role: 'alert', dataset: { form: 'problems' } });
  const save = h('button.primary', { type: 'submit', dataset: { action: 'save-campaign' } }, t('cp.save'));
  const formEl = h('form', { novalidate: true, dataset: { form: 'campaign' } },
    card(t('cp.details'), h('div.grid2', field('name', t('cp.name'), name), field('image', t('cp.image'), image)),
      field('description', t('cp.description'), description),
      h('div.grid3', field('starts_at', t('cp.starts_at'), starts), field('ends_at', t('cp.ends_at'), ends),
        field('channels', t('cp.channels'), channels))),
    card(t('cp.rollout'), h('div.grid3', field('rollout', t('cp.rollout'), rolloutKind), percentBox, tagsBox)),
    card(t('cp.templates'), h('p.muted', t('cp.templates_hint')),
      rows.length ? h('div.campaign-templates', { dataset: { field: 'templates' } }, rows.map((r) => r.row)) : h('div.empty', t('cp.no_templates'))),
    card(t('cp.share'), h('div.grid2', field('share.title', t('cp.share_title'), shareTitle), field('share.text', t('cp.share_text'), shareText))),
    problems,
    h('div.actions', save,
      h('a.button.secondary', { href: existing ? `#/campaigns/${encodeURIComponent(existing.id)}` : '#/campaigns' }, t('ui.cancel'))));
  mount(ctx.root, header(existing ? t('cp.edit') : t('cp.new')), formEl);
  arrange();
  name.focus();

  const clear = () => {
    for (const box of formEl.querySelectorAll('.invalid')) box.classList.remove('invalid');
    for (const slot of formEl.querySelectorAll('.field-error')) slot.textContent = '';
    problems.classList.add('hidden');
    problems.replaceChildren();
  };
  const show = (list) => {
    const loose = [];
    for (const { field: path, reason } of list) {
      let box = null;
      const entry = /^templates\[(\d+)\]/.exec(path);
      const chosenRows = rows.filter((r) => r.chosen.checked);
      if (entry && chosenRows[Number(entry[1])]) box = chosenRows[Number(entry[1])].row.querySelector('.field');
      for (let at = path; !box && at; at = at.includes('.') ? at.replace(/\.[^.]+$/, '') : '') box = fieldBoxes.get(at) || null;
      if (box) {
        box.classList.add('invalid');
        box.querySelector('.field-error').textContent = reason;
      } else {
        loose.push(path ? `${path}: ${reason}` : reason);
      }
    }
    if (loose.length) {
      problems.classList.remove('hidden');
      mount(problems, h('strong', t('cp.other_problems')), h('ul', loose.map((text) => h('li', text))));
    }
  };
  formEl.addEventListener('submit', async (event) => {
    event.preventDefault();
    clear();
    const local = [];
    if (!name.value.trim()) local.push({ field: 'name', reason: t('cp.required') });
    if (!isoOf(starts.value)) local.push({ field: 'starts_at', reason: t('cp.required') });
    if (!isoOf(ends.value)) local.push({ field: 'ends_at', reason: t('cp.required') });
    const body = {
      name: name.value.trim(),
      description: description.value.trim(),
      starts_at: isoOf(starts.value),
      ends_at: isoOf(ends.value),
      channels: words(channels.value),
      share: {},
      audience: existing ? existing.audience : {},
      templates: [],
    };
    if (image.value.trim()) body.image = image.value.trim();
    if (shareTitle.value.trim()) body.share.title = shareTitle.value.trim();
    if (shareText.value.trim()) body.share.text = shareText.value.trim();
    if (existing && existing.share && existing.share.image) body.share.image = existing.share.image;
    if (rolloutKind.value === 'percent') {
      if (!/^\d{1,3}$/.test(percent.value.trim()) || Number(percent.value) > 100) local.push({ field: 'rollout.percent', reason: t('cp.bad_percent') });
      else body.rollout = { percent: Number(percent.value) };
    } else if (rolloutKind.value === 'tags') {
      body.rollout = { tags: words(tags.value) };
    }
    for (const r of rows.filter((row) => row.chosen.checked)) {
      const entry = { template: r.tpl.id };
      const p = r.points.value.trim();
      if (p) {
        if (!/^[1-9]\d{0,9}$/.test(p)) {
          r.points.closest('.field').classList.add('invalid');
          r.points.closest('.field').querySelector('.field-error').textContent = t('cp.bad_points');
          local.push({ field: '', reason: `${r.tpl.name}: ${t('cp.bad_points')}` });
        } else {
          entry.points = Number(p);
        }
      }
      const window = { from: isoOf(r.from.value), until: isoOf(r.until.value) };
      if (window.from || window.until) entry.claim_window = window;
      body.templates.push(entry);
    }
    if (local.length) {
      show(local.filter((problem) => problem.field));
      if (local.some((problem) => !problem.field)) toast(local.find((problem) => !problem.field).reason, 'error');
      return;
    }
    save.disabled = true;
    try {
      const saved = existing
        ? await api('PATCH', `/v1/campaigns/${encodeURIComponent(existing.id)}`, { token: ctx.token, body })
        : await api('POST', '/v1/campaigns', { token: ctx.token, body });
      toast(t('cp.saved'), 'ok');
      ctx.navigate(`#/campaigns/${encodeURIComponent(saved.id)}`);
    } catch (problem) {
      toast(problem.message, 'error');
      const errors = (problem.problem && problem.problem.errors) || [];
      show(errors.length ? errors : [{ field: '', reason: problem.message }]);
    } finally {
      save.disabled = false;
    }
  });
}

async function step(ctx, id, action, button) {
  const done = await busy(button, () => api('POST', `/v1/campaigns/${encodeURIComponent(id)}/${action}`, { token: ctx.token }));
  if (done) {
    toast(t(`cp.done.${action}`), 'ok');
    ctx.refresh();
  }
}

async function detail(ctx, id) {
  const campaign = await api('GET', `/v1/campaigns/${encodeURIComponent(id)}`, { token: ctx.token });
  const known = new Map();
  await Promise.all(campaign.templates.map(async (entry) => {
    try {
      known.set(entry.template, await api('GET', `/v1/templates/${encodeURIComponent(entry.template)}`, { token: ctx.token }));
    } catch {
      known.set(entry.template, null);
    }
  }));
  const editor = EDITORS.includes(ctx.role);
  const actions = [];
  const button = (action, kind = 'secondary') => h(`button.${kind}`, { dataset: { action }, onclick: (event) => step(ctx, id, action, event.currentTarget) }, t(`cp.${action}`));
  if (editor && campaign.status !== 'ended') {
    actions.push(h('a.button.secondary', { href: `#/campaigns/${encodeURIComponent(id)}/edit`, dataset: { action: 'edit' } }, t('tpl.edit')));
  }
  if (editor && campaign.status === 'draft') actions.push(button('schedule', 'primary'));
  if (editor && ['scheduled', 'running'].includes(campaign.status)) actions.push(button('pause'));
  if (editor && campaign.status === 'paused') actions.push(button('resume', 'primary'));
  if (editor && campaign.status !== 'ended') {
    actions.push(h('button.danger', {
      dataset: { action: 'end' },
      onclick: () => {
        const confirm = h('button.danger', { dataset: { action: 'confirm-end' } }, t('cp.end'));
        const { close } = dialog(t('cp.end'), h('p', t('cp.end_text')),
          h('div.dialog-buttons', h('button.secondary', { onclick: () => close() }, t('ui.cancel')), confirm));
        confirm.addEventListener('click', async () => { await step(ctx, id, 'end', confirm); close(); });
        closeOnEscape(close);
        confirm.focus();
      },
    }, t('cp.end')));
  }
  const facts = [
    ['cp.window', `${dateTime(campaign.starts_at)} – ${dateTime(campaign.ends_at)}`],
    ['cp.rollout', rolloutText(campaign.rollout)],
    ['cp.channels_label', campaign.channels.length ? campaign.channels.join('、') : t('cp.all_channels')],
    ['cp.description', campaign.description || '—'],
    ['cp.share_title', (campaign.share && campaign.share.title) || '—'],
    ['tpl.created_by', campaign.created_by],
    ['tpl.version', String(campaign.version)],
  ];
  mount(ctx.root,
    h('div', h('a.muted', { href: '#/campaigns' }, `← ${t('nav.campaigns')}`)),
    header(h('span', campaign.name, ' ', h('span', { dataset: { status: campaign.status } }, badge(campaign.status))), actions),
    card(t('cp.details'), h('dl.settings', facts.map(([label, value]) => [h('dt', t(label)), h('dd', value)]))),
    card(t('cp.templates'), table([
      { title: t('cp.template'), cell: (entry) => {
        const tpl = known.get(entry.template);
        return tpl
          ? h('div', h('a', { href: `#/templates/${encodeURIComponent(tpl.id)}`, dataset: { entryTemplate: tpl.id } }, tpl.name), ' ', badge(tpl.status),
            h('div.summary-cell', summaryOf(tpl)))
          : `${entry.template} ${t('cp.missing')}`;
      } },
      { title: t('cp.price'), cell: (entry) => (entry.points ? t('cp.points_of', { points: entry.points }) : t('cp.free')) },
      { title: t('cp.entry_window'), cell: (entry) => (entry.claim_window
        ? `${entry.claim_window.from ? dateTime(entry.claim_window.from) : '…'} – ${entry.claim_window.until ? dateTime(entry.claim_window.until) : '…'}`
        : t('cp.follow')) },
    ], campaign.templates)));
}

export default {
  id: 'campaigns',
  roles: ['admin', 'operator'],
  async render(ctx) {
    useStyles('template-form');
    const [id, sub] = ctx.params;
    if (id === 'new') return form(ctx, null);
    if (id && sub === 'edit') {
      return form(ctx, await api('GET', `/v1/campaigns/${encodeURIComponent(id)}`, { token: ctx.token }));
    }
    if (id) return detail(ctx, id);
    return list(ctx);
  },
};
