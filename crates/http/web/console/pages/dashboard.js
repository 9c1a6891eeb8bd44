// The dashboard: today's claims, redemptions, discount and sales over all
// templates (GET /v1/stats/overview), a 24-hour chart drawn in SVG, the
// templates waiting for review, and the latest risk alerts.
import { api, apiAll } from '/web/api.js';
import { dateTime, register, t, yuan } from '/web/i18n.js';
import { card, h, header, mount, useStyles } from '../ui.js';

register({
  'db.today': ['今日概况', 'Today'],
  'db.claimed': ['今日领取', 'Claimed today'],
  'db.used': ['今日核销', 'Redeemed today'],
  'db.discount': ['今日优惠金额', 'Discount today'],
  'db.sales': ['今日带动销售额', 'Sales today'],
  'db.granted': ['另有定向发放 {n} 张', 'plus {n} granted'],
  'db.orders': ['{n} 笔订单', '{n} orders'],
  'db.cost_ratio': ['成本占比 {ratio}', 'cost ratio {ratio}'],
  'db.use_rate': ['核销率 {rate}', 'use rate {rate}'],
  'db.chart': ['最近 24 小时', 'Last 24 hours'],
  'db.chart_claimed': ['领取', 'Claimed'],
  'db.chart_used': ['核销', 'Redeemed'],
  'db.chart_empty': ['最近 24 小时没有领取或核销', 'No claims or redemptions in the last 24 hours'],
  'db.pending': ['待审核券模板', 'Templates waiting for review'],
  'db.pending_go': ['去审核 →', 'Review →'],
  'db.pending_list': ['查看 →', 'View →'],
  'db.alerts': ['最新风控预警', 'Latest risk alerts'],
  'db.alerts_none': ['暂无预警', 'No alerts'],
  'db.alerts_all': ['全部预警 →', 'All alerts →'],
  'db.level.alert': ['预警', 'Alert'],
  'db.level.pause': ['已自动暂停', 'Auto-paused'],
  'db.alert_text': ['{rule}：{value}（阈值 {threshold}）', '{rule}: {value} (threshold {threshold})'],
  'db.updated': ['更新于 {at}', 'Updated {at}'],
  'db.refresh': ['刷新', 'Refresh'],
  'db.unavailable': ['暂时无法获取：{message}', 'Not available: {message}'],
});

function startOfToday() {
  const now = new Date();
  return new Date(now.getFullYear(), now.getMonth(), now.getDate());
}

function percent(ratio) {
  if (ratio === null || ratio === undefined) return '—';
  return `${(Math.round(ratio * 1000) / 10).toFixed(1)}%`;
}

function kpi(index, label, value, note, name) {
  return h(`div.kpi.k${index}`, { dataset: { kpi: name } },
    h('div.kpi-label', label), h('div.kpi-value', { dataset: { value: name } }, value), h('div.kpi-note', note || '\u00a0'));
}

// Hourly bars of claims and redemptions over the last 24 hours.
function chart(series, from) {
  const hours = [];
  for (let i = 0; i < 24; i += 1) hours.push({ start: new Date(from.getTime() + i * 3600000), claimed: 0, used: 0 });
  for (const point of series || []) {
    const at = new Date(point.start).getTime();
    const index = Math.floor((at - from.getTime()) / 3600000);
    if (index >= 0 && index < 24) {
      hours[index].claimed += point.claimed || 0;
      hours[index].used += point.used || 0;
    }
  }
  // A scale in whole steps: four gridlines, each a whole number.
  const most = Math.max(0, ...hours.map((hour) => Math.max(hour.claimed, hour.used)));
  const top = Math.max(4, Math.ceil(most / 4) * 4);
  const width = 720;
  const height = 200;
  const left = 36;
  const bottom = 24;
  const plot = height - bottom - 8;
  const slot = (width - left) / 24;
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', t('db.chart'));
  svg.dataset.chart = 'hours';
  const add = (tag, attrs, text) => {
    const el = document.createElementNS(ns, tag);
    for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, value);
    if (text !== undefined) el.textContent = text;
    svg.append(el);
    return el;
  };
  for (let i = 0; i <= 4; i += 1) {
    const y = 8 + plot - (plot * i) / 4;
    add('line', { x1: left, x2: width, y1: y, y2: y, stroke: '#eef0f3' });
    add('text', { x: left - 6, y: y + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#86909c' }, String(Math.round((top * i) / 4)));
  }
  hours.forEach((hour, i) => {
    const x = left + i * slot;
    const bar = (value, offset, colour, kind) => {
      const barHeight = (plot * value) / top;
      const rect = add('rect', { x: x + offset, y: 8 + plot - barHeight, width: slot * 0.34, height: Math.max(barHeight, value ? 1 : 0), rx: 2, fill: colour });
      rect.dataset[kind] = String(value);
      const title = document.createElementNS(ns, 'title');
      title.textContent = `${hour.start.getHours()}:00 ${t(kind === 'claimed' ? 'db.chart_claimed' : 'db.chart_used')} ${value}`;
      rect.append(title);
    };
    bar(hour.claimed, slot * 0.12, '#e4393c', 'claimed');
    bar(hour.used, slot * 0.5, '#00a870', 'used');
    if (i % 3 === 0) add('text', { x: x + slot / 2, y: height - 6, 'text-anchor': 'middle', 'font-size': 11, fill: '#86909c' }, `${String(hour.start.getHours()).padStart(2, '0')}:00`);
  });
  const empty = hours.every((hour) => !hour.claimed && !hour.used);
  return h('div.chart',
    h('div.legend', h('span', h('i', { style: { background: '#e4393c' } }), t('db.chart_claimed')),
      h('span', h('i', { style: { background: '#00a870' } }), t('db.chart_used'))),
    svg, empty ? h('p.muted', { style: { textAlign: 'center', margin: '8px 0 0' } }, t('db.chart_empty')) : null);
}

// Loads one part; a failure shows its readable message in place.
async function part(work) {
  try {
    return { value: await work() };
  } catch (error) {
    if (error.status === 401) throw error;
    return { error };
  }
}

export default {
  id: 'dashboard',
  roles: ['admin', 'operator', 'reviewer', 'finance'],
  async render(ctx) {
    useStyles('template-form');
    mount(ctx.root, header(t('nav.dashboard')), h('div.empty', t('ui.loading')));
    const now = new Date();
    const dayStart = startOfToday();
    const hourStart = new Date(Math.floor(now.getTime() / 3600000) * 3600000 - 23 * 3600000);
    const token = ctx.token;
    const [today, hours, pending, alerts] = await Promise.all([
      part(() => api('GET', '/v1/stats/overview', { token, query: { from: dayStart.toISOString(), granularity: 'hour' } })),
      part(() => api('GET', '/v1/stats/overview', { token, query: { from: hourStart.toISOString(), granularity: 'hour' } })),
      part(() => apiAll('/v1/templates', { token, query: { status: 'pending_review' } })),
      part(() => api('GET', '/v1/risk/alerts', { token, query: { limit: 5 } })),
    ]);
    const unavailable = (error) => h('div.failure', t('db.unavailable', { message: error.message }));

    let kpis;
    if (today.value) {
      const f = today.value.figures;
      kpis = h('div.kpis',
        kpi(1, t('db.claimed'), String(f.claimed), f.granted ? t('db.granted', { n: f.granted }) : t('db.use_rate', { rate: percent(f.use_rate) }), 'claimed'),
        kpi(2, t('db.used'), String(f.used), t('db.orders', { n: f.orders }), 'used'),
        kpi(3, t('db.discount'), yuan(f.discount), t('db.cost_ratio', { ratio: percent(f.cost_ratio) }), 'discount'),
        kpi(4, t('db.sales'), yuan(f.sales), null, 'sales'));
    } else {
      kpis = unavailable(today.error);
    }

    const reviewer = ['admin', 'reviewer', 'finance'].includes(ctx.role);
    const pendingCard = card(t('db.pending'), pending.value
      ? h('div.pending-box',
        h('span.pending-count', { dataset: { pending: 'count' } }, String(pending.value.length)),
        h('a', { href: reviewer ? '#/reviews' : '#/templates', dataset: { action: 'go-reviews' } }, reviewer ? t('db.pending_go') : t('db.pending_list')))
      : unavailable(pending.error));

    let alertBody;
    if (alerts.value) {
      const items = alerts.value.items || [];
      alertBody = items.length
        ? h('ul.alert-list', { dataset: { list: 'alerts' } }, items.map((alert) => h('li',
          h('span', { class: `level ${alert.level}` }, t(`db.level.${alert.level}`)),
          t('db.alert_text', { rule: alert.rule, value: alert.value, threshold: alert.threshold }),
          h('div.muted', `${alert.template_id || ''} · ${dateTime(alert.at)}`))))
        : h('div.empty', t('db.alerts_none'));
    } else {
      alertBody = unavailable(alerts.error);
    }

    mount(ctx.root,
      header(t('nav.dashboard'),
        h('span.muted', t('db.updated', { at: dateTime(now.toISOString()) })),
        h('button.secondary', { dataset: { action: 'refresh' }, onclick: () => ctx.refresh() }, t('db.refresh'))),
      kpis,
      h('div.dash-grid',
        card(t('db.chart'), hours.value ? chart(hours.value.series, hourStart) : unavailable(hours.error)),
        h('div', pendingCard,
          card(t('db.alerts'), alertBody, h('div.more', h('a', { href: '#/alerts' }, t('db.alerts_all')))))));
  },
};
