// 领券中心: the running campaigns and their coupons, claimed on the card.
import { api } from '/web/api.js';
import { t, yuan, lang } from '/web/i18n.js';
import { h, mount, toast, empty, requestId } from '../ui.js';
import { card, faces, templateValidity, scopeText, day } from '../coupon.js';

export const CHANNEL = 'web';

function claimButton(ctx, campaign, entry, slot) {
  const label = entry.points ? t('m.claim.points', { points: entry.points }) : t('m.claim');
  const button = h('button.claim', { type: 'button', dataset: { action: 'claim', template: entry.template_id } }, label);
  button.addEventListener('click', async (event) => {
    event.stopPropagation();
    button.disabled = true;
    button.textContent = t('m.claiming');
    try {
      await api('POST', `/v1/campaigns/${encodeURIComponent(campaign.id)}/claims`, {
        token: ctx.token,
        body: { template: entry.template_id, user: { id: ctx.user, channel: CHANNEL }, request_id: requestId('m') },
      });
      entry.held += 1;
      if (entry.may_claim !== null) entry.may_claim -= 1;
      toast(t('m.claimed.toast'), 'ok');
      mount(slot, sideFor(ctx, campaign, entry, slot));
    } catch (problem) {
      toast(problem.message, 'error');
      mount(slot, h('span.stamp.refused', { dataset: { refusal: problem.code } }, problem.message));
      slot.closest('.ticket')?.classList.add('muted');
    }
  });
  return button;
}

// The right side of a card: claim, claimed, or why not.
function sideFor(ctx, campaign, entry, slot) {
  const claimable = !entry.refusal && (entry.may_claim === null || entry.may_claim > 0);
  if (entry.held > 0 && !claimable) {
    return [h('span.stamp.claimed', { dataset: { claimed: '' } }, t('m.claimed')),
      h('a.use', { href: '#/wallet', dataset: { action: 'use' } }, t('m.use'))];
  }
  if (entry.held > 0 && claimable) {
    return [h('span.stamp.claimed', { dataset: { claimed: '' } }, t('m.claimed')), claimButton(ctx, campaign, { ...entry }, slot)];
  }
  if (!claimable) {
    const key = `code.${entry.refusal}`;
    const said = t(key);
    return h('span.stamp.refused', { dataset: { refusal: entry.refusal || 'LIMIT' } }, said === key ? t('m.claim.unavailable') : said);
  }
  return claimButton(ctx, campaign, entry, slot);
}

function entryCard(ctx, campaign, entry, face) {
  const slot = h('div.claim-slot');
  const left = entry.remaining !== null && entry.remaining > 0 && entry.remaining <= 50
    ? h('span.tag.hot', t('m.centre.left', { n: entry.remaining })) : null;
  const ticket = card({
    face,
    name: entry.name,
    lines: [
      h('div.ticket-line', face ? scopeText(face.scope) : null, left),
      face?.validity ? h('div.ticket-line.soft', templateValidity(face.validity)) : null,
    ],
    side: slot,
    muted: Boolean(entry.refusal) && entry.held === 0,
    dataset: { entry: entry.template_id },
  });
  mount(slot, sideFor(ctx, campaign, entry, slot));
  return ticket;
}

function shelf(ctx) {
  const products = ctx.catalogue?.products || [];
  if (!products.length) return null;
  return h('section.shelf', h('h2.section-title', t('m.centre.shop')),
    h('div.products', products.map((item) => h('a.product-tile', {
      href: `#/product/${encodeURIComponent(item.sku)}`, dataset: { product: item.sku },
    }, h('div.product-art', { 'aria-hidden': 'true' }, art(item)),
    h('div.product-name', lang() === 'en' ? item.name_en : item.name),
    h('div.product-price', yuan(item.price))))));
}

// A product's picture in the demo: a coloured tile with its kind.
const KINDS = {
  'c-men-shirts': ['衬衫', 'Shirt', '#5b8def'], 'c-men-pants': ['牛仔', 'Jeans', '#3f5fa8'],
  'c-women-dresses': ['连衣裙', 'Dress', '#e86a9a'], 'c-unisex': ['T恤', 'Tee', '#f0a030'],
  'c-accessories': ['袜子', 'Socks', '#8f7ad8'], 'c-kitchen': ['马克杯', 'Mug', '#3fb28f'],
  'c-books-scifi': ['科幻', 'Sci-fi', '#4a5568'], 'c-books-literature': ['文学', 'Novel', '#b07a4a'],
  'c-coffee': ['咖啡', 'Coffee', '#8b5a3c'], 'c-audio': ['耳机', 'Audio', '#2d3748'],
};

export function art(item, size = 'small') {
  const found = (item.categories || []).slice().reverse().find((category) => KINDS[category]);
  const [zh, en, colour] = KINDS[found] || ['好物', 'Item', '#e4393c'];
  return h(`div.art.art-${size}`, { style: { background: `linear-gradient(135deg, ${colour}, ${colour}cc)` } },
    h('span', lang() === 'en' ? en : zh));
}

export default {
  id: 'centre',
  title: 'm.title.centre',
  tab: 'centre',
  async render(ctx) {
    const centre = await api('GET', `/v1/users/${encodeURIComponent(ctx.user)}/claim-centre`, { token: ctx.token, query: { channel: CHANNEL } });
    const ids = centre.campaigns.flatMap((campaign) => campaign.templates.map((entry) => entry.template_id));
    const known = await faces(api, ctx.token, ids).catch(() => new Map());
    if (ctx.stale()) return;
    const who = h('div.who', h('span', t('m.user', { id: ctx.user })),
      ctx.catalogue ? h('button.link', { type: 'button', dataset: { action: 'signout' }, onclick: ctx.signOut }, t('m.signout')) : null);
    const campaigns = centre.campaigns.map((campaign) => h('section.campaign', { dataset: { campaign: campaign.id } },
      h('div.banner',
        h('h2', campaign.name),
        h('p.banner-until', t('m.centre.until', { date: day(campaign.ends_at) }))),
      h('div.tickets', campaign.templates.map((entry) => entryCard(ctx, campaign, entry, known.get(entry.template_id)))),
      campaign.description ? h('details.rules', h('summary', t('m.centre.rules')), h('p', campaign.description)) : null));
    mount(ctx.root, who,
      campaigns.length ? campaigns : empty(t('m.centre.empty')),
      shelf(ctx));
  },
};
