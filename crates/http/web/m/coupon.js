// What a coupon says: its big amount, its condition, scope and validity in
// plain words, from the template's public face. Money stays integer fen.
import { t, lang } from '/web/i18n.js';
import { h } from './ui.js';

// 30000 → "300", 9950 → "99.5", 990 → "9.9": yuan without trailing zeros.
export function plainYuan(fen) {
  const whole = Math.abs(Math.trunc(fen));
  const cents = whole % 100;
  const head = `${fen < 0 ? '-' : ''}${Math.floor(whole / 100)}`;
  if (cents === 0) return head;
  return cents % 10 === 0 ? `${head}.${cents / 10}` : `${head}.${String(cents).padStart(2, '0')}`;
}

// 12345 → "123.45": yuan with two decimals, no sign.
export function fixedYuan(fen) {
  const whole = Math.abs(Math.trunc(fen));
  return `${Math.floor(whole / 100)}.${String(whole % 100).padStart(2, '0')}`;
}

// rate_bp 8000 → "8", 8500 → "8.5", 8850 → "8.85" (折).
function zhe(rateBp) {
  const tenths = rateBp / 1000;
  return String(Math.round(tenths * 100) / 100);
}

// { big, unit, cond } of a benefit: "¥" "50" "满300可用".
export function describe(benefit) {
  if (!benefit) return { big: '', unit: '', cond: '' };
  const y = plainYuan;
  switch (benefit.kind) {
    case 'threshold': {
      const tiers = benefit.tiers || [];
      const top = tiers.reduce((best, tier) => (tier.off > (best?.off ?? -1) ? tier : best), null) || { off: 0, min_amount: 0 };
      const first = tiers[0] || top;
      const cond = first.min_amount > 0 ? t('m.benefit.threshold', { min: y(first.min_amount) }) : t('m.benefit.none');
      const detail = tiers.length > 1
        ? tiers.map((tier) => t('m.benefit.tiers', { min: y(tier.min_amount), off: y(tier.off) })).join(' / ')
        : null;
      return { unit: '¥', big: y(top.off), cond, detail };
    }
    case 'every': {
      let cond = t('m.benefit.every', { step: y(benefit.step), off: y(benefit.off) });
      if (benefit.max_times) cond += `，${t('m.benefit.every.max', { max: y(benefit.off * benefit.max_times) })}`;
      return { unit: '¥', big: y(benefit.off), cond };
    }
    case 'percent': {
      const tiers = benefit.tiers || [];
      const best = tiers.reduce((low, tier) => (tier.rate_bp < (low?.rate_bp ?? Infinity) ? tier : low), null) || { rate_bp: 10000 };
      const parts = tiers.map((tier) => {
        const values = { rate: zhe(tier.rate_bp), percent: 100 - tier.rate_bp / 100, n: tier.min_quantity, min: y(tier.min_amount || 0) };
        if (tier.min_quantity) return t('m.benefit.rate.minq', values);
        if (tier.min_amount) return t('m.benefit.rate.mina', values);
        return t('m.benefit.none');
      });
      let cond = parts.join(' / ');
      if (benefit.cap) cond += `，${t('m.benefit.cap', { cap: y(benefit.cap) })}`;
      const big = lang() === 'en' ? `${100 - best.rate_bp / 100}%` : zhe(best.rate_bp);
      return { unit: '', big, suffix: lang() === 'en' ? ' off' : '折', cond };
    }
    case 'cash':
      return { unit: '¥', big: y(benefit.amount), cond: t('m.benefit.none') };
    case 'fixed_price':
      return { unit: '¥', big: y(benefit.price), cond: t('m.benefit.fixed.desc', { price: y(benefit.price) }), tag: t('m.benefit.fixed') };
    case 'add_on':
      return { unit: '¥', big: y(benefit.price), cond: t('m.benefit.addon.desc', { min: y(benefit.min_amount), price: y(benefit.price) }), tag: t('m.benefit.addon') };
    case 'shipping':
      return { unit: '', big: t('m.benefit.shipping'), cond: t('m.benefit.shipping.desc', { max: y(benefit.max_off || 0) }), word: true };
    case 'cashback': {
      const tier = (benefit.tiers || [])[0] || { min_amount: 0, back: 0 };
      if (benefit.to === 'points') {
        return { unit: '', big: String(tier.back), suffix: lang() === 'en' ? ' pts' : '积分', cond: t('m.benefit.cashback.points', { min: y(tier.min_amount), back: tier.back }) };
      }
      return { unit: '¥', big: y(tier.back), cond: t('m.benefit.cashback.desc', { min: y(tier.min_amount), back: y(tier.back) }) };
    }
    case 'gift':
      return { unit: '', big: t('m.benefit.gift'), cond: benefit.item || t('m.benefit.offline'), word: true };
    case 'trial':
      return { unit: '', big: t('m.benefit.trial'), cond: benefit.item || t('m.benefit.offline'), word: true };
    default:
      return { unit: '', big: '', cond: '' };
  }
}

export function scopeText(scope) {
  const include = scope?.include || {};
  if (include.all) return t('m.scope.all');
  if (include.skus?.length || include.products?.length) return t('m.scope.skus');
  if (include.shops?.length) return t('m.scope.shops');
  if (include.categories?.length) return t('m.scope.categories');
  if (include.venues?.length) return t('m.scope.venues');
  return t('m.scope.limited');
}

export function day(iso) {
  const date = new Date(iso);
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}.${pad(date.getMonth() + 1)}.${pad(date.getDate())}`;
}

export function minute(iso) {
  const date = new Date(iso);
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

export function templateValidity(validity) {
  if (!validity) return '';
  if (validity.type === 'relative') {
    return validity.start_after_days
      ? t('m.validity.relative.later', { days: validity.days, after: validity.start_after_days })
      : t('m.validity.relative', { days: validity.days });
  }
  return t('m.validity.absolute', { from: day(validity.from), until: day(validity.until) });
}

// Whether a coupon's validity ends within three days from now.
export function expiringSoon(coupon) {
  if (!coupon.valid_until) return false;
  const left = new Date(coupon.valid_until).getTime() - Date.now();
  return left >= 0 && left <= 3 * 24 * 3600 * 1000;
}

// The coupon card: a red ticket with a notched edge. `side` is the right
// part (buttons, stamp), `extra` lines go under the name.
export function card({ face, name, lines = [], side, muted = false, dataset = {}, onclick }) {
  const said = describe(face?.benefit);
  const amount = h('div.amount',
    said.unit ? h('span.unit', said.unit) : null,
    h(`span.big${said.word ? '.word' : ''}`, said.big || '—'),
    said.suffix ? h('span.suffix', said.suffix) : null);
  const left = h('div.ticket-left', amount, h('div.cond', { dataset: { cond: '' } }, said.cond));
  const middle = h('div.ticket-main',
    h('div.ticket-name', { dataset: { name: '' } }, said.tag ? h('span.tag.tag-kind', said.tag) : null, name || face?.name || ''),
    lines.filter(Boolean).map((line) => (line instanceof Node ? line : h('div.ticket-line', line))));
  const attrs = { class: `ticket${muted ? ' muted' : ''}`, dataset };
  if (onclick) {
    attrs.onclick = onclick;
    attrs.tabindex = '0';
    attrs.role = 'button';
    attrs.onkeydown = (event) => { if (event.key === 'Enter' || event.key === ' ') { event.preventDefault(); onclick(event); } };
  }
  return h('article', attrs, left, middle, side ? h('div.ticket-side', side) : null);
}

// Faces of the given templates by id, from /m/api/templates; missing ones
// are left out (callers fall back to the name they have).
export async function faces(api, token, ids) {
  const unique = [...new Set(ids)].filter(Boolean);
  if (!unique.length) return new Map();
  const answer = await api('GET', '/m/api/templates', { token, query: { ids: unique.join(',') } });
  return new Map((answer.items || []).map((face) => [face.id, face]));
}
