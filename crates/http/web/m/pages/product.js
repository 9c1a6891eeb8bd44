// 商品详情页 widget: price, 券后价 after the best coupons, the coupons to
// claim for this product, and 立即购买 into checkout.
import { api } from '/web/api.js';
import { t, yuan, lang } from '/web/i18n.js';
import { h, mount, toast, requestId, empty } from '../ui.js';
import { CHANNEL, art } from './centre.js';
import { setCart } from './checkout.js';

// The product: from the demo catalogue, or described by the mall in the
// hash (#/product/<sku>?price=19900&name=…&shop=…&categories=a,b&brand=…).
export function findProduct(ctx, sku) {
  const listed = ctx.catalogue?.products?.find((item) => item.sku === sku);
  if (listed) return listed;
  const price = Number(ctx.query.get('price'));
  if (!Number.isSafeInteger(price) || price < 0 || !ctx.query.get('price')) return null;
  return {
    sku,
    product: ctx.query.get('product') || sku,
    name: ctx.query.get('name') || sku,
    name_en: ctx.query.get('name') || sku,
    categories: (ctx.query.get('categories') || '').split(',').filter(Boolean),
    brand: ctx.query.get('brand') || undefined,
    shop: ctx.query.get('shop') || undefined,
    shop_name: ctx.query.get('shop_name') || ctx.query.get('shop') || '',
    price,
  };
}

export default {
  id: 'product',
  title: 'm.title.product',
  tab: null,
  async render(ctx) {
    const sku = ctx.params[0];
    const item = findProduct(ctx, sku);
    if (!item) {
      mount(ctx.root, empty(t('m.product.unknown')));
      return;
    }
    const offers = await api('GET', `/v1/products/${encodeURIComponent(item.product)}/coupons`, {
      token: ctx.token,
      query: {
        user: ctx.user, sku: item.sku, unit_price: item.price, quantity: 1, channel: CHANNEL,
        shop: item.shop, brand: item.brand, categories: (item.categories || []).join(','),
      },
    });
    if (ctx.stale()) return;
    const saved = offers.price - offers.price_after_best;
    const claimRow = (offer) => {
      const button = h('button.claim.small', { type: 'button', dataset: { action: 'claim', template: offer.template_id } }, t('m.product.claim'));
      button.addEventListener('click', async () => {
        button.disabled = true;
        try {
          await api('POST', `/v1/templates/${encodeURIComponent(offer.template_id)}/claims`, {
            token: ctx.token, body: { user: { id: ctx.user, channel: CHANNEL }, request_id: requestId('m') },
          });
          toast(t('m.claimed.toast'), 'ok');
          ctx.refresh();
        } catch (problem) {
          button.disabled = false;
          toast(problem.message, 'error');
        }
      });
      return h('li.offer', { dataset: { offer: offer.template_id } },
        h('span.offer-name', offer.name), h('span.offer-off', t('m.product.off', { amount: yuan(offer.discount) })),
        offers.best_templates.includes(offer.template_id) ? h('span.tag.best', t('m.checkout.recommended')) : null, button);
    };
    let quantity = 1;
    const qty = h('output.qty-value', { dataset: { field: 'quantity' } }, '1');
    const step = (delta) => {
      quantity = Math.min(99, Math.max(1, quantity + delta));
      qty.textContent = String(quantity);
    };
    const buy = h('button.primary.buy', { type: 'button', dataset: { action: 'buy' } }, t('m.product.buy'));
    buy.addEventListener('click', () => {
      setCart([{ ...item, quantity }]);
      ctx.navigate('#/checkout');
    });
    mount(ctx.root,
      h('section.product', { dataset: { productPage: item.sku } },
        h('div.product-hero', { 'aria-hidden': 'true' }, art(item, 'hero')),
        h('div.product-card',
          h('div.price-row',
            offers.price_after_best < offers.price
              ? [h('span.after-label', t('m.product.after')), h('span.after-price', { dataset: { afterPrice: '' } }, yuan(offers.price_after_best)),
                h('span.list-price', { dataset: { price: '' } }, yuan(offers.price))]
              : h('span.after-price', { dataset: { price: '' } }, yuan(offers.price))),
          saved > 0 ? h('div.saved', { dataset: { saved: '' } }, t('m.product.saved', { amount: yuan(saved) })) : null,
          h('h2.product-title', lang() === 'en' ? item.name_en : item.name),
          item.shop_name ? h('div.soft', item.shop_name) : null)),
      h('section.panel',
        h('h3', t('m.product.held')),
        offers.held.length
          ? h('ul.offers', offers.held.map((offer) => h('li.offer', { dataset: { held: offer.code } },
            h('span.offer-name', offer.name),
            h('span.offer-off', t('m.product.off', { amount: yuan(offer.discount) })),
            offers.best_codes.includes(offer.code) ? h('span.tag.best', t('m.checkout.recommended')) : null)))
          : h('p.soft', t('m.product.nocoupon'))),
      offers.claimable.length ? h('section.panel', h('h3', t('m.product.claimable')), h('ul.offers', offers.claimable.map(claimRow))) : null,
      h('div.buybar',
        h('div.qty', h('span', t('m.product.qty')),
          h('button.step', { type: 'button', 'aria-label': '-', dataset: { action: 'less' }, onclick: () => step(-1) }, '−'), qty,
          h('button.step', { type: 'button', 'aria-label': '+', dataset: { action: 'more' }, onclick: () => step(1) }, '+')),
        buy));
  },
};
