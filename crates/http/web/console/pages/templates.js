// Templates: the list (state filter, name search, load more), one
// template's detail with its history and the steps its state and the
// caller's role allow, and the create/edit form (template-form.js).
//   #/templates            the list
//   #/templates/new        a new template
//   #/templates/<id>       one template
//   #/templates/<id>/edit  its form
import { api } from '/web/api.js';
import { dateTime, lang, register, t, yuan } from '/web/i18n.js';
import { badge, busy, card, closeOnEscape, dialog, h, header, mount, table, toast, useStyles } from '../ui.js';
import { templateForm } from './template-form.js';

register({
  'tpl.new': ['新建券模板', 'New template'],
  'tpl.search': ['搜索模板名称', 'Search by name'],
  'tpl.all_states': ['全部状态', 'All states'],
  'tpl.name': ['名称', 'Name'],
  'tpl.summary': ['规则', 'Rule'],
  'tpl.status': ['状态', 'Status'],
  'tpl.issued': ['已发放', 'Issued'],
  'tpl.updated': ['更新时间', 'Updated'],
  'tpl.shown': ['已加载 {count} 个', '{count} loaded'],
  'tpl.none': ['还没有券模板，点击“新建券模板”开始', 'No templates yet: start with “New template”'],
  'tpl.none_match': ['没有符合条件的模板', 'No template matches'],
  'tpl.settings': ['全部设置', 'All settings'],
  'tpl.history': ['审核与操作记录', 'Review and history'],
  'tpl.figures': ['发放情况', 'Issuing'],
  'tpl.budget_used': ['已用预算', 'Budget used'],
  'tpl.generated': ['已生成券码', 'Codes generated'],
  'tpl.edit': ['编辑', 'Edit'],
  'tpl.submit': ['提交审核', 'Submit for review'],
  'tpl.pause': ['暂停发放', 'Pause'],
  'tpl.resume': ['恢复发放', 'Resume'],
  'tpl.end': ['结束', 'End'],
  'tpl.review': ['去审核', 'Review'],
  'tpl.end_title': ['结束券模板', 'End the template'],
  'tpl.end_text': ['结束后不能再领取或发放，且无法恢复。已发出的券不受影响。', 'No more claims or grants, ever. Coupons already issued stay valid.'],
  'tpl.done.submit': ['已提交审核', 'Submitted for review'],
  'tpl.done.pause': ['已暂停', 'Paused'],
  'tpl.done.resume': ['已恢复', 'Resumed'],
  'tpl.done.end': ['已结束', 'Ended'],
  'tpl.step': ['当前审核环节', 'Review step'],
  'tpl.step.operations': ['运营审核', 'Operations review'],
  'tpl.step.finance': ['财务复核', 'Finance review'],
  'tpl.created_by': ['创建人', 'Created by'],
  'tpl.created_at': ['创建时间', 'Created'],
  'tpl.version': ['版本', 'Version'],
  'tpl.id': ['模板 ID', 'Template id'],
  'ev.created': ['创建', 'Created'],
  'ev.changed': ['修改', 'Changed'],
  'ev.submitted': ['提交审核', 'Submitted'],
  'ev.approved': ['审核通过', 'Approved'],
  'ev.rejected': ['审核驳回', 'Rejected'],
  'ev.paused': ['暂停', 'Paused'],
  'ev.resumed': ['恢复', 'Resumed'],
  'ev.ended': ['结束', 'Ended'],
  'set.kind': ['券类型', 'Kind'],
  'set.benefit': ['优惠规则', 'Benefit'],
  'set.scope': ['使用范围', 'Scope'],
  'set.audience': ['领取人群', 'Audience'],
  'set.channels': ['渠道', 'Channels'],
  'set.validity': ['有效期', 'Validity'],
  'set.claim_window': ['领取时间', 'Claim window'],
  'set.limits': ['发放限制', 'Limits'],
  'set.stacking': ['叠加', 'Stacking'],
  'set.issuer': ['发放主体', 'Issuer'],
  'set.returns': ['退款规则', 'Returns'],
  'set.description': ['使用说明', 'Description'],
  'set.everyone': ['所有用户', 'Everyone'],
  'set.all_channels': ['全部渠道', 'All channels'],
  'set.no_limit': ['不限', 'No limit'],
  'set.open': ['不限', 'Open'],
  'set.alone': ['不可叠加（一单一券）', 'Used alone (one per order)'],
  'set.stackable': ['可叠加', 'Stackable'],
  'set.group': ['叠加组', 'group'],
  'set.priority': ['优先级', 'priority'],
  'set.no_promotions': ['不与促销同享', 'not with promotions'],
  'set.platform': ['平台', 'Platform'],
  'set.shop': ['店铺 {shop}', 'Shop {shop}'],
  'set.shared': ['店铺 {shop}，平台承担 {share}%', 'Shop {shop}, platform bears {share}%'],
  'set.total': ['总量 {n} 张', '{n} in total'],
  'set.per_user': ['每人 {n} 张', '{n} per user'],
  'set.per_user_per_day': ['每人每天 {n} 张', '{n} per user per day'],
  'set.budget': ['预算 {money}', 'budget {money}'],
  'set.relative': ['领取后 {days} 天内有效', '{days} days after claiming'],
  'set.relative_after': ['领取 {after} 天后生效，{days} 天内有效', '{days} days, from {after} days after claiming'],
  'set.absolute': ['{from} 至 {until}', '{from} to {until}'],
  'set.none': ['未设置', 'Not set'],
  'set.returns_text': ['取消：{cancel}；全额退款：{full}；部分退款：{partial}', 'cancel: {cancel}; full refund: {full}; partial refund: {partial}'],
  'set.return': ['退还', 'give back'],
  'set.keep': ['不退还', 'keep'],
  'state.approved': ['已通过', 'Approved'],
});

const STATES = ['draft', 'pending_review', 'rejected', 'approved', 'active', 'paused', 'ended'];
const EDITORS = ['admin', 'operator'];

// The summary in the page's language.
export function summaryOf(template) {
  return template.summary ? template.summary[lang() === 'en' ? 'en' : 'zh'] : '';
}

function kindTag(template) {
  return h('span.kind-tag', t(`kind.${template.benefit.kind}`));
}

async function list(ctx) {
  const state = { items: [], cursor: null, status: sessionStorage.getItem('couponflow.tpl.status') || '', search: '' };
  const search = h('input', { type: 'search', placeholder: t('tpl.search'), dataset: { filter: 'search' }, 'aria-label': t('tpl.search') });
  const status = h('select', { dataset: { filter: 'status' }, 'aria-label': t('tpl.status') },
    h('option', { value: '' }, t('tpl.all_states')), STATES.map((s) => h('option', { value: s }, t(`state.${s}`))));
  status.value = state.status;
  const count = h('span.count');
  const body = h('div', h('div.empty', t('ui.loading')));
  const more = h('div.more');
  const newButton = EDITORS.includes(ctx.role)
    ? h('a.button.primary', { href: '#/templates/new', dataset: { action: 'new-template' } }, t('tpl.new')) : null;
  mount(ctx.root, header(t('nav.templates'), newButton),
    h('section.card', h('div.toolbar', search, status, count), body, more));

  const draw = () => {
    const needle = state.search.trim().toLowerCase();
    const rows = needle ? state.items.filter((item) => item.name.toLowerCase().includes(needle)) : state.items;
    count.textContent = t('tpl.shown', { count: state.items.length });
    mount(body, table([
      { title: t('tpl.name'), cell: (row) => h('div', h('a', { href: `#/templates/${encodeURIComponent(row.id)}`, dataset: { template: row.id } }, row.name), kindTag(row)) },
      { title: t('tpl.summary'), cell: (row) => h('div.summary-cell', summaryOf(row)) },
      { title: t('tpl.status'), cell: (row) => badge(row.status) },
      { title: t('tpl.issued'), class: 'num', cell: (row) => (row.limits.total ? `${row.issued} / ${row.limits.total}` : String(row.issued)) },
      { title: t('tpl.updated'), cell: (row) => dateTime(row.updated_at) },
    ], rows, { empty: state.items.length ? t('tpl.none_match') : t('tpl.none') }));
    mount(more, state.cursor ? h('button.secondary', { dataset: { action: 'more' }, onclick: (event) => load(event.target) }, t('ui.more')) : null);
  };
  const load = async (button) => {
    const page = await busy(button, () => api('GET', '/v1/templates', {
      token: ctx.token, query: { status: state.status, cursor: state.cursor, limit: 50 },
    }));
    if (!page) return;
    state.items.push(...page.items);
    state.cursor = page.next_cursor;
    draw();
  };
  search.addEventListener('input', () => { state.search = search.value; draw(); });
  status.addEventListener('change', () => {
    state.status = status.value;
    sessionStorage.setItem('couponflow.tpl.status', state.status);
    state.items = [];
    state.cursor = null;
    load();
  });
  const first = await api('GET', '/v1/templates', { token: ctx.token, query: { status: state.status, limit: 50 } });
  state.items = first.items;
  state.cursor = first.next_cursor;
  draw();
}

function listText(values, empty) {
  return values && values.length ? values.join('、') : empty;
}

function settings(tpl) {
  const returns = tpl.return_policy;
  const audience = tpl.audience || {};
  const audienceParts = [];
  if (audience.new_users_only) audienceParts.push(t('tf.new_users_only'));
  if (audience.tags_any && audience.tags_any.length) audienceParts.push(`${t('tf.tags_any')}: ${audience.tags_any.join(', ')}`);
  if (audience.tags_all && audience.tags_all.length) audienceParts.push(`${t('tf.tags_all')}: ${audience.tags_all.join(', ')}`);
  if (audience.regions && audience.regions.length) audienceParts.push(`${t('tf.regions')}: ${audience.regions.join(', ')}`);
  if (audience.inactive_days_min) audienceParts.push(`${t('tf.inactive_days')}: ${audience.inactive_days_min}`);
  const scopeText = (set) => {
    if (!set) return '';
    if (set.all) return t('tf.include_all');
    return ['skus', 'products', 'categories', 'brands', 'shops', 'venues']
      .filter((key) => set[key] && set[key].length).map((key) => `${t(`tf.${key}`)}: ${set[key].join(', ')}`).join('；');
  };
  const v = tpl.validity;
  const validity = !v ? t('set.none')
    : v.type === 'relative'
      ? (v.start_after_days ? t('set.relative_after', { days: v.days, after: v.start_after_days }) : t('set.relative', { days: v.days }))
      : t('set.absolute', { from: dateTime(v.from), until: dateTime(v.until) });
  const window = tpl.claim_window
    ? t('set.absolute', { from: tpl.claim_window.from ? dateTime(tpl.claim_window.from) : t('set.open'), until: tpl.claim_window.until ? dateTime(tpl.claim_window.until) : t('set.open') })
    : t('set.open');
  const limits = [];
  const l = tpl.limits || {};
  if (l.total !== undefined) limits.push(t('set.total', { n: l.total }));
  if (l.per_user !== undefined) limits.push(t('set.per_user', { n: l.per_user }));
  if (l.per_user_per_day !== undefined) limits.push(t('set.per_user_per_day', { n: l.per_user_per_day }));
  if (l.budget !== undefined) limits.push(t('set.budget', { money: yuan(l.budget) }));
  const s = tpl.stacking;
  let stacking = '—';
  if (s) {
    stacking = s.stackable ? t('set.stackable') : t('set.alone');
    if (s.group) stacking += `，${t('set.group')} ${s.group}`;
    stacking += `，${t('set.priority')} ${s.priority}`;
    if (!s.with_promotions) stacking += `，${t('set.no_promotions')}`;
  }
  const issuer = tpl.issuer.type === 'platform' ? t('set.platform')
    : tpl.issuer.type === 'shop' ? t('set.shop', { shop: tpl.issuer.shop })
      : t('set.shared', { shop: tpl.issuer.shop, share: tpl.issuer.platform_bp / 100 });
  const word = (action) => t(`set.${action}`);
  const rows = [
    ['tpl.id', tpl.id],
    ['set.kind', t(`kind.${tpl.benefit.kind}`)],
    ['set.scope', [scopeText(tpl.scope.include), tpl.scope.exclude && scopeText(tpl.scope.exclude) ? `${t('tf.exclude')}: ${scopeText(tpl.scope.exclude)}` : ''].filter(Boolean).join(' · ')],
    ['set.audience', audienceParts.length ? audienceParts.join('；') : t('set.everyone')],
    ['set.channels', listText(tpl.channels, t('set.all_channels'))],
    ['set.validity', validity],
    ['set.claim_window', window],
    ['set.limits', limits.length ? limits.join('，') : t('set.no_limit')],
    ['set.stacking', stacking],
    ['set.issuer', issuer],
    ['set.returns', t('set.returns_text', { cancel: word(returns.on_cancel), full: word(returns.on_full_refund), partial: word(returns.on_partial_refund) })],
    ['set.description', tpl.description || '—'],
    ['tpl.created_by', tpl.created_by],
    ['tpl.created_at', dateTime(tpl.created_at)],
    ['tpl.version', String(tpl.version)],
  ];
  return h('dl.settings', rows.map(([label, value]) => [h('dt', t(label)), h('dd', { dataset: { setting: label } }, value)]));
}

function timeline(events) {
  if (!events.length) return h('div.empty', t('ui.empty'));
  return h('ol.timeline', { dataset: { list: 'events' } }, events.map((event) => h(`li.ev-${event.action}`, { dataset: { event: event.action } },
    h('div.ev-head', t(`ev.${event.action}`)),
    h('div.ev-meta', `${event.actor} · ${dateTime(event.at)}`),
    event.reason ? h('div.ev-reason', event.reason) : null)));
}

// Runs a life-cycle step and redraws the page.
async function step(ctx, id, action, button) {
  const done = await busy(button, () => api('POST', `/v1/templates/${encodeURIComponent(id)}/${action}`, { token: ctx.token }));
  if (done) {
    toast(t(`tpl.done.${action}`), 'ok');
    ctx.refresh();
  }
}

async function detail(ctx, id) {
  const path = `/v1/templates/${encodeURIComponent(id)}`;
  const [tpl, events] = await Promise.all([
    api('GET', path, { token: ctx.token }),
    api('GET', `${path}/events`, { token: ctx.token }),
  ]);
  const editor = EDITORS.includes(ctx.role);
  const actions = [];
  const button = (action, kind = 'secondary') => h(`button.${kind}`, { dataset: { action }, onclick: (event) => step(ctx, id, action, event.currentTarget) }, t(`tpl.${action}`));
  if (editor && ['draft', 'rejected'].includes(tpl.status)) {
    actions.push(h('a.button.secondary', { href: `#/templates/${encodeURIComponent(id)}/edit`, dataset: { action: 'edit' } }, t('tpl.edit')));
    actions.push(button('submit', 'primary'));
  }
  if (editor && ['approved', 'active'].includes(tpl.status)) actions.push(button('pause'));
  if (editor && tpl.status === 'paused') actions.push(button('resume', 'primary'));
  if (['admin', 'reviewer', 'finance'].includes(ctx.role) && tpl.status === 'pending_review') {
    actions.push(h('a.button.primary', { href: '#/reviews', dataset: { action: 'go-review' } }, t('tpl.review')));
  }
  if (editor && tpl.status !== 'ended') {
    actions.push(h('button.danger', {
      dataset: { action: 'end' },
      onclick: () => {
        const confirm = h('button.danger', { dataset: { action: 'confirm-end' } }, t('tpl.end'));
        const { close } = dialog(t('tpl.end_title'), h('p', t('tpl.end_text')),
          h('div.dialog-buttons', h('button.secondary', { onclick: () => close() }, t('ui.cancel')), confirm));
        confirm.addEventListener('click', async () => { await step(ctx, id, 'end', confirm); close(); });
        closeOnEscape(close);
        confirm.focus();
      },
    }, t('tpl.end')));
  }
  const title = h('span', tpl.name, ' ', h('span', { dataset: { status: tpl.status } }, badge(tpl.status)));
  const figures = h('div.figures',
    h('div.figure', h('div.figure-label', t('tpl.issued')), h('div.figure-value', String(tpl.issued))),
    h('div.figure', h('div.figure-label', t('tpl.generated')), h('div.figure-value', String(tpl.generated))),
    h('div.figure', h('div.figure-label', t('tpl.budget_used')), h('div.figure-value', yuan(tpl.budget_used))));
  mount(ctx.root,
    h('div', h('a.muted', { href: '#/templates' }, `← ${t('nav.templates')}`)),
    header(title, actions),
    h('div.detail-grid',
      h('div',
        card(null, h('p.detail-summary', { dataset: { detail: 'summary' } }, summaryOf(tpl)),
          tpl.review_step && tpl.status === 'pending_review' ? h('p.muted', `${t('tpl.step')}: ${t(`tpl.step.${tpl.review_step}`)}`) : null,
          figures),
        card(t('tpl.settings'), settings(tpl))),
      card(t('tpl.history'), timeline(events.items))));
}

export default {
  id: 'templates',
  roles: ['admin', 'operator', 'reviewer', 'finance'],
  async render(ctx) {
    useStyles('template-form');
    const [id, sub] = ctx.params;
    if (id === 'new') {
      templateForm(ctx, null);
    } else if (id && sub === 'edit') {
      const tpl = await api('GET', `/v1/templates/${encodeURIComponent(id)}`, { token: ctx.token });
      templateForm(ctx, tpl);
    } else if (id) {
      await detail(ctx, id);
    } else {
      await list(ctx);
    }
  },
};
