// 我的券: 待使用 / 已使用 / 已过期, in the order the API gives (usable
// first, soonest expiring first), with a detail sheet and hiding.
import { api } from '/web/api.js';
import { t } from '/web/i18n.js';
import { h, mount, toast, empty, sheet } from '../ui.js';
import { card, faces, describe, scopeText, minute, expiringSoon } from '../coupon.js';

const TABS = [
  { id: 'available', states: ['available', 'locked'] },
  { id: 'used', states: ['redeemed'] },
  { id: 'expired', states: ['expired', 'voided'] },
];

function detail(ctx, coupon, face) {
  const said = describe(face?.benefit);
  const rows = [
    [t('m.detail.code'), h('span.code', { dataset: { detailCode: '' } }, coupon.code)],
    [t('m.detail.rules'), h('div', h('div', said.detail || said.cond), face ? h('div', scopeText(face.scope)) : null, face?.description ? h('div.soft', face.description) : null)],
    [t('m.detail.validity'), `${coupon.valid_from ? minute(coupon.valid_from) : '—'} ~ ${coupon.valid_until ? minute(coupon.valid_until) : '—'}`],
    [t('m.detail.state'), t(`m.state.${coupon.state}`)],
    coupon.order_id ? [t('m.detail.order'), coupon.order_id] : null,
  ].filter(Boolean);
  const actions = [];
  if (navigator.clipboard) {
    actions.push(h('button.ghost', { type: 'button', onclick: () => navigator.clipboard.writeText(coupon.code).then(() => toast(t('m.detail.copied'), 'ok')) }, t('m.detail.copy')));
  }
  const opened = sheet(t('m.detail.title'),
    h('div.detail-name', face?.name || coupon.template_id),
    h('dl.detail', rows.map(([name, value]) => [h('dt', name), h('dd', value)])),
    h('div.sheet-actions', actions));
  if (coupon.state !== 'available' && coupon.state !== 'locked') {
    opened.body.querySelector('.sheet-actions').append(h('button.danger', {
      type: 'button', dataset: { action: 'hide' },
      onclick: async () => {
        try {
          await api('DELETE', `/v1/users/${encodeURIComponent(ctx.user)}/coupons/${encodeURIComponent(coupon.code)}`, { token: ctx.token });
          toast(t('m.detail.hidden'), 'ok');
          opened.close();
          ctx.refresh();
        } catch (problem) {
          toast(problem.message, 'error');
        }
      },
    }, t('m.detail.hide')));
  }
}

function couponCard(ctx, coupon, face) {
  const usable = coupon.state === 'available';
  const soon = usable && expiringSoon(coupon);
  const validity = coupon.valid_from && new Date(coupon.valid_from) > new Date()
    ? t('m.validity.from', { date: minute(coupon.valid_from) })
    : coupon.valid_until ? t('m.validity.until', { date: minute(coupon.valid_until) }) : '';
  const side = usable
    ? h('a.use', { href: '#/', dataset: { action: 'use' }, onclick: (event) => event.stopPropagation() }, t('m.use'))
    : h(`span.stamp.state-${coupon.state}`, t(`m.state.${coupon.state}`));
  return card({
    face,
    name: face?.name || coupon.template_id,
    lines: [
      h('div.ticket-line', soon ? h('span.tag.soon', { dataset: { expiring: '' } }, t('m.expiring')) : null, face ? scopeText(face.scope) : null),
      h('div.ticket-line.soft', validity),
    ],
    side,
    muted: !usable,
    dataset: { coupon: coupon.code, state: coupon.state },
    onclick: () => detail(ctx, coupon, face),
  });
}

export default {
  id: 'wallet',
  title: 'm.title.wallet',
  tab: 'wallet',
  async render(ctx) {
    const active = TABS.find((tab) => tab.id === ctx.params[0]) || TABS[0];
    const page = await api('GET', `/v1/users/${encodeURIComponent(ctx.user)}/coupons`, { token: ctx.token });
    const coupons = page.items || [];
    const known = await faces(api, ctx.token, coupons.map((coupon) => coupon.template_id)).catch(() => new Map());
    if (ctx.stale()) return;
    const count = (tab) => coupons.filter((coupon) => tab.states.includes(coupon.state)).length;
    const shown = coupons.filter((coupon) => active.states.includes(coupon.state));
    const tabs = h('nav.segments', { role: 'tablist' }, TABS.map((tab) => h(`a.segment${tab === active ? '.active' : ''}`, {
      href: `#/wallet/${tab.id}`, role: 'tab', 'aria-selected': String(tab === active), dataset: { walletTab: tab.id },
    }, t(`m.wallet.${tab.id}`), h('span.count', String(count(tab))))));
    mount(ctx.root, tabs,
      shown.length
        ? h('div.tickets', { dataset: { wallet: active.id } }, shown.map((coupon) => couponCard(ctx, coupon, known.get(coupon.template_id))))
        : empty(t(`m.wallet.empty.${active.id}`), active.id === 'available' ? h('a.primary.button', { href: '#/' }, t('m.wallet.go')) : null));
  },
};
