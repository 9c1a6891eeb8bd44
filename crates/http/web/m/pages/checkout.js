// 确认订单: the cart, the recommended coupons (select "best"), switching
// between them, the unusable ones greyed with why, and paying: through the
// demo mall, or handing the codes back to the mall's return_url.
import { api } from '/web/api.js';
import { t, yuan, lang } from '/web/i18n.js';
import { h, mount, toast, empty, sheet } from '../ui.js';
import { faces, describe, fixedYuan } from '../coupon.js';
import { CHANNEL, art } from './centre.js';

const CART_KEY = 'couponflow.m.cart';
// Where the mall asked to be handed the chosen codes (app.js keeps it).
const returnUrl = () => sessionStorage.getItem('couponflow.m.return_url');

export function getCart() {
  try {
    const lines = JSON.parse(sessionStorage.getItem(CART_KEY) || '[]');
    return Array.isArray(lines) ? lines : [];
  } catch {
    return [];
  }
}

export function setCart(lines) {
  sessionStorage.setItem(CART_KEY, JSON.stringify(lines));
}

function cartLines(cart) {
  return cart.map((item) => ({
    line_id: item.sku,
    sku: item.sku,
    product: item.product,
    categories: item.categories || [],
    brand: item.brand,
    shop: item.shop,
    unit_price: item.price,
    quantity: item.quantity,
  }));
}

// Why a coupon does not apply, in words; amounts exact from fen.
export function reasonText(reason) {
  if (reason.code === 'BELOW_THRESHOLD' && reason.missing !== undefined) {
    return t('m.reason.BELOW_THRESHOLD', { amount: fixedYuan(reason.missing) });
  }
  if (reason.code === 'BELOW_QUANTITY' && reason.missing !== undefined) {
    return t('m.reason.BELOW_QUANTITY', { n: reason.missing });
  }
  const key = `m.reason.${reason.code}`;
  const said = t(key);
  return said === key ? t('m.reason.NOT_AVAILABLE') : said;
}

function paidView(ctx, order, names) {
  setCart([]);
  ctx.setTitle(t('m.title.paid'));
  mount(ctx.root, h('section.paid', { dataset: { paid: order.order_id } },
    h('div.paid-icon', { 'aria-hidden': 'true' }, '✓'),
    h('h2', t('m.paid.lead')),
    h('div.paid-amount', { dataset: { paidAmount: '' } }, yuan(order.paid)),
    h('dl.detail',
      h('dt', t('m.paid.order')), h('dd', { dataset: { orderId: '' } }, order.order_id),
      h('dt', t('m.paid.amount')), h('dd', yuan(order.amount)),
      h('dt', t('m.paid.discount')), h('dd.minus', { dataset: { paidDiscount: '' } }, `-${yuan(order.discount)}`),
      order.coupons.length ? [h('dt', t('m.paid.coupons')), h('dd', order.coupons.map((code) => h('div', names(code))))] : null),
    h('div.paid-actions',
      h('a.button.primary', { href: '#/wallet/used', dataset: { action: 'see-used' } }, t('m.paid.wallet')),
      h('a.button.ghost', { href: '#/' }, t('m.paid.more')))));
}

export default {
  id: 'checkout',
  title: 'm.title.checkout',
  tab: null,
  async render(ctx) {
    // The mall may hand its cart over in the hash: #/checkout?cart=<JSON list>.
    if (ctx.query.get('cart')) {
      try {
        const handed = JSON.parse(ctx.query.get('cart'));
        if (Array.isArray(handed)) setCart(handed.filter((item) => item && item.sku && Number.isSafeInteger(item.price) && Number.isSafeInteger(item.quantity)));
      } catch {
        // An unreadable cart is ignored; the page says the cart is empty.
      }
      history.replaceState(null, '', `${window.location.pathname}${window.location.search}#/checkout`);
    }
    const cart = getCart();
    if (!cart.length) {
      mount(ctx.root, empty(t('m.checkout.empty'), h('a.button.primary', { href: '#/' }, t('m.checkout.shop'))));
      return;
    }
    const lines = cartLines(cart);
    const user = { id: ctx.user, channel: CHANNEL };
    const quote = (select) => api('POST', '/v1/quote', { token: ctx.token, body: { user, lines, select } });
    const [first, held] = await Promise.all([
      quote('best'),
      api('GET', `/v1/users/${encodeURIComponent(ctx.user)}/coupons`, { token: ctx.token, query: { state: 'available' } }),
    ]);
    const byCode = new Map((held.items || []).map((coupon) => [coupon.code, coupon]));
    const known = await faces(api, ctx.token, [...byCode.values()].map((coupon) => coupon.template_id)).catch(() => new Map());
    if (ctx.stale()) return;
    const faceOf = (code) => known.get(byCode.get(code)?.template_id);
    const nameOf = (code) => faceOf(code)?.name || byCode.get(code)?.template_id || code;
    const best = first.selected.slice();
    let current = first;
    let busy = false;

    const couponRow = h('button.row.coupon-row', { type: 'button', dataset: { action: 'coupons' } });
    const summary = h('section.panel.summary');
    const hint = h('p.hint', { dataset: { chosenNames: '' } });
    const total = h('span.total-value', { dataset: { total: '' } });
    const savedNote = h('span.total-saved');
    const pay = h('button.primary.pay', { type: 'button', dataset: { action: 'pay' } }, t('m.checkout.pay'));

    const draw = () => {
      const usable = current.coupons.filter((coupon) => coupon.applicable).length;
      const chosen = current.selected;
      mount(couponRow,
        h('span.row-label', t('m.checkout.coupons')),
        h('span.row-value', { dataset: { chosen: chosen.join(',') } },
          chosen.length
            ? [h('span.tag.best', chosen.every((code) => best.includes(code)) && chosen.length === best.length ? t('m.checkout.recommended') : t('m.checkout.chosen', { n: chosen.length })),
              h('span.minus', { dataset: { couponDiscount: '' } }, `-${yuan(current.coupon_discount + current.shipping_discount)}`)]
            : h('span.soft', usable ? t('m.checkout.none') : t('m.checkout.noneavail'))),
        h('span.chevron', '›'));
      const isBest = chosen.length === best.length && chosen.every((code) => best.includes(code));
      const names = chosen.map(nameOf).join('、');
      hint.textContent = chosen.length ? (isBest ? `${t('m.checkout.best')}：${names}` : names) : '';
      const row = (label, value, data, minus) => h('div.sum-row', h('span', label), h(`span${minus ? '.minus' : ''}`, { dataset: { sum: data } }, value));
      mount(summary,
        row(t('m.checkout.subtotal'), yuan(current.subtotal), 'subtotal'),
        current.promo_discount ? row(t('m.checkout.promo'), `-${yuan(current.promo_discount)}`, 'promo', true) : null,
        row(t('m.checkout.discount'), `-${yuan(current.coupon_discount)}`, 'discount', true),
        row(t('m.checkout.shipping'), current.shipping_discount ? `${yuan(current.shipping_fee)} -${yuan(current.shipping_discount)}` : yuan(current.shipping_fee), 'shipping'),
        h('div.sum-row.total-row', h('span', t('m.checkout.total')), h('strong', { dataset: { sum: 'payable' } }, yuan(current.payable))));
      total.textContent = yuan(current.payable);
      const saved = current.promo_discount + current.coupon_discount + current.shipping_discount;
      savedNote.textContent = saved ? t('m.checkout.saved', { amount: yuan(saved) }) : '';
    };

    const choose = async (codes) => {
      if (busy) return false;
      busy = true;
      try {
        current = await quote(codes);
        draw();
        return true;
      } catch (problem) {
        toast(problem.message, 'error');
        return false;
      } finally {
        busy = false;
      }
    };

    const openList = () => {
      const body = h('div');
      const opened = sheet(t('m.checkout.pick'), body);
      const drawList = () => {
        const usable = current.coupons.filter((coupon) => coupon.applicable);
        const unusable = current.coupons.filter((coupon) => !coupon.applicable);
        const item = (coupon, enabled) => {
          const face = faceOf(coupon.id);
          const said = describe(face?.benefit);
          const selected = current.selected.includes(coupon.id);
          const reasons = coupon.reasons.map(reasonText);
          const attrs = {
            class: `pick${selected ? ' selected' : ''}${enabled ? '' : ' unusable'}`,
            dataset: { pick: coupon.id, applicable: String(enabled) },
            role: 'checkbox', 'aria-checked': String(selected), 'aria-disabled': String(!enabled),
            tabindex: enabled ? '0' : '-1',
          };
          const toggle = async () => {
            if (!enabled) return;
            const next = selected ? current.selected.filter((code) => code !== coupon.id) : [...current.selected, coupon.id];
            if (await choose(next)) drawList();
          };
          if (enabled) {
            attrs.onclick = toggle;
            attrs.onkeydown = (event) => { if (event.key === 'Enter' || event.key === ' ') { event.preventDefault(); toggle(); } };
          }
          return h('div', attrs,
            h('div.pick-amount', said.unit ? h('span.unit', said.unit) : null, h('span.big', said.big || '—'), said.suffix || null),
            h('div.pick-main',
              h('div.pick-name', face?.name || nameOf(coupon.id)),
              h('div.pick-cond', said.cond),
              enabled
                ? (coupon.discount ? h('div.pick-saves', t('m.checkout.saves', { amount: yuan(coupon.discount) })) : null)
                : h('div.pick-reason', { dataset: { reason: coupon.reasons.map((r) => r.code).join(',') } }, reasons.join('；'))),
            enabled ? h('span.check', { 'aria-hidden': 'true' }, selected ? '✓' : '') : null);
        };
        mount(body,
          h('h3.pick-head', t('m.checkout.usable', { n: usable.length })),
          usable.map((coupon) => item(coupon, true)),
          h('button.ghost.wide', { type: 'button', dataset: { action: 'no-coupon' }, onclick: async () => { if (await choose([])) drawList(); } }, t('m.checkout.none')),
          unusable.length ? h('h3.pick-head', t('m.checkout.unusable', { n: unusable.length })) : null,
          unusable.map((coupon) => item(coupon, false)),
          h('div.sheet-foot', h('span', t('m.checkout.totalshort'), ' ', h('strong', { dataset: { sheetTotal: '' } }, yuan(current.payable))),
            h('button.primary', { type: 'button', dataset: { action: 'confirm-coupons' }, onclick: opened.close }, t('m.checkout.confirm'))));
      };
      drawList();
    };
    couponRow.addEventListener('click', openList);

    pay.addEventListener('click', async () => {
      if (!ctx.catalogue) {
        const back = returnUrl();
        if (!back) {
          toast(t('m.checkout.noreturn'), 'error');
          return;
        }
        const url = new URL(back, window.location.href);
        url.searchParams.set('codes', current.selected.join(','));
        window.location.assign(url.toString());
        return;
      }
      pay.disabled = true;
      pay.textContent = t('m.checkout.paying');
      try {
        const order = await api('POST', '/m/api/orders', { token: ctx.token, body: { lines, codes: current.selected } });
        paidView(ctx, order, nameOf);
      } catch (problem) {
        toast(problem.message, 'error');
        pay.disabled = false;
        pay.textContent = t('m.checkout.pay');
      }
    });

    draw();
    mount(ctx.root,
      h('section.panel.cart', cart.map((item) => h('div.cart-line', { dataset: { line: item.sku } },
        h('div.cart-art', { 'aria-hidden': 'true' }, art(item)),
        h('div.cart-main', h('div.cart-name', lang() === 'en' ? item.name_en : item.name), h('div.soft', item.shop_name || '')),
        h('div.cart-side', h('div', yuan(item.price)), h('div.soft', `×${item.quantity}`))))),
      h('section.panel', couponRow, hint),
      summary,
      h('div.paybar', h('div.paybar-total', h('span', t('m.checkout.totalshort')), total, savedNote), pay));
  },
};
