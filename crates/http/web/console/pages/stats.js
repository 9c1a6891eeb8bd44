// Statistics (数据统计, SPEC §10): the figures of a template, a campaign or
// an issuer over a range, as KPI cards, charts over time, the funnel
// claimed → used, and the claim and use records behind them, with CSV.
// #/stats/<template|campaign|issuer>/<id>
import { api, apiAll } from '/web/api.js';
import { dateTime, lang, register, t, yuan } from '/web/i18n.js';
import { busy, card, downloadFile, field, h, header, mount, table } from '../ui.js';
import { funnel, timeChart } from './chart.js';
import { loadTemplates, number, stateBadge, useOpsStyles } from './codes-common.js';

register({
  'stats.scope': ['统计对象', 'Scope'],
  'stats.scope.template': ['券模板', 'Template'],
  'stats.scope.campaign': ['活动', 'Campaign'],
  'stats.scope.issuer': ['发放主体', 'Issuer'],
  'stats.target': ['选择', 'Which'],
  'stats.platform': ['平台', 'Platform'],
  'stats.shop': ['店铺 {shop}', 'Shop {shop}'],
  'stats.range': ['时间范围', 'Range'],
  'stats.range.today': ['今天', 'Today'],
  'stats.range.7d': ['近7天', '7 days'],
  'stats.range.30d': ['近30天', '30 days'],
  'stats.range.custom': ['自定义', 'Custom'],
  'stats.from': ['开始日期', 'From'],
  'stats.until': ['结束日期', 'Until'],
  'stats.granularity': ['粒度', 'Granularity'],
  'stats.day': ['按天', 'By day'],
  'stats.hour': ['按小时', 'By hour'],
  'stats.apply': ['查询', 'Show'],
  'stats.bad_range': ['开始日期需早于结束日期', 'The start must be before the end'],
  'stats.nothing': ['请先选择要统计的对象', 'Choose what to show first'],
  'kpi.generated': ['生成券码', 'Codes generated'],
  'kpi.claimed': ['领取量', 'Claimed'],
  'kpi.claimed_sub': ['另有人工/规则发放 {n}', 'plus {n} granted by staff or rules'],
  'kpi.claim_rate': ['领取率', 'Claim rate'],
  'kpi.claim_rate_sub': ['（领取+发放）/ 发行量 {n}', '(claimed + granted) / {n} offered'],
  'kpi.used': ['使用量', 'Used'],
  'kpi.used_sub': ['退回 {n}', '{n} returned'],
  'kpi.use_rate': ['使用率', 'Use rate'],
  'kpi.expired': ['已过期', 'Expired'],
  'kpi.expired_sub': ['作废 {n}', '{n} voided'],
  'kpi.discount': ['优惠总金额', 'Total discount'],
  'kpi.sales': ['用券总成交额', 'Sales with coupons'],
  'kpi.orders': ['用券订单量', 'Orders with coupons'],
  'kpi.aov': ['用券笔单价', 'Average order value'],
  'kpi.cost_ratio': ['费效比', 'Cost ratio'],
  'kpi.cost_ratio_sub': ['优惠金额 / 用券成交额', 'discount / sales'],
  'kpi.new_users': ['拉新数', 'New users'],
  'stats.trend': ['领取与使用趋势', 'Claims and uses over time'],
  'stats.money': ['优惠金额与成交额', 'Discount and sales'],
  'stats.funnel': ['转化漏斗', 'Funnel'],
  'stats.ratio': ['费效比趋势', 'Cost ratio over time'],
  'stats.f.claimed': ['领取/发放', 'Issued'],
  'stats.f.used': ['已使用', 'Used'],
  'stats.f.orders': ['用券订单', 'Orders'],
  's.claimed': ['领取', 'Claimed'],
  's.granted': ['发放', 'Granted'],
  's.used': ['使用', 'Used'],
  's.discount': ['优惠金额', 'Discount'],
  's.sales': ['成交额', 'Sales'],
  's.ratio': ['费效比', 'Cost ratio'],
  'stats.claims': ['领取明细', 'Who claimed'],
  'stats.uses': ['使用明细', 'Each use'],
  'stats.records_note': ['领取与使用明细按券模板提供，包含的券模板：', 'The records are kept per template; the templates counted here:'],
  'stats.series_csv': ['导出趋势 CSV', 'Export series (CSV)'],
  'stats.claims_csv': ['导出领取明细', 'Export claims (CSV)'],
  'stats.uses_csv': ['导出使用明细', 'Export uses (CSV)'],
  'r.code': ['券码', 'Code'],
  'r.user': ['用户', 'User'],
  'r.phone': ['手机号', 'Phone'],
  'r.source': ['来源', 'Source'],
  'r.campaign': ['活动', 'Campaign'],
  'r.claimed_at': ['领取时间', 'Claimed'],
  'r.state': ['当前状态', 'State now'],
  'r.order': ['订单', 'Order'],
  'r.store': ['门店', 'Store'],
  'r.used_at': ['使用时间', 'Used'],
  'r.amount': ['订单金额', 'Order amount'],
  'r.discount': ['优惠', 'Discount'],
  'r.items': ['商品', 'Items'],
  'source.claim': ['用户领取', 'Claim'],
  'source.campaign': ['活动领取', 'Campaign'],
  'source.grant': ['人工发放', 'Staff grant'],
  'source.rule': ['规则发放', 'Rule'],
  'source.code': ['兑换码', 'Code'],
  'source.exchange': ['积分兑换', 'Points'],
  'stats.updated': ['数据按小时汇总，可能有几秒延迟。', 'Rolled up hourly; may trail by a few seconds.'],
});

// The page's choices survive moving between pages.
const choice = { range: '7d', granularity: 'day', from: '', until: '' };

function percent(rate) {
  if (rate === null || rate === undefined) return '—';
  return `${(rate * 100).toFixed(2)}%`;
}

function dayStart(daysAgo) {
  const date = new Date();
  date.setHours(0, 0, 0, 0);
  date.setDate(date.getDate() - daysAgo);
  return date;
}

// Whole hours, as the API keeps its roll-ups.
function hourIso(date) {
  return new Date(Math.floor(date.getTime() / 3600000) * 3600000).toISOString().replace('.000Z', 'Z');
}

function rangeQuery() {
  const query = { granularity: choice.granularity };
  if (choice.range === 'today') query.from = hourIso(dayStart(0));
  if (choice.range === '7d') query.from = hourIso(dayStart(6));
  if (choice.range === '30d') query.from = hourIso(dayStart(29));
  if (choice.range === 'custom') {
    if (choice.from) query.from = hourIso(new Date(`${choice.from}T00:00:00`));
    if (choice.until) {
      const end = new Date(`${choice.until}T00:00:00`);
      end.setDate(end.getDate() + 1);
      query.until = hourIso(end);
    }
  }
  return query;
}

// A day starts at midnight in the deployment's time zone, which the
// browser's may not be: its middle names the right calendar day anywhere.
function periodDate(iso, granularity) {
  const date = new Date(iso);
  return granularity === 'hour' ? date : new Date(date.getTime() + 12 * 3600000);
}

function periodLabel(iso, granularity) {
  const date = periodDate(iso, granularity);
  const two = (n) => String(n).padStart(2, '0');
  if (granularity === 'hour') return `${two(date.getHours())}:00`;
  return `${two(date.getMonth() + 1)}-${two(date.getDate())}`;
}

function periodTip(iso, granularity) {
  const date = periodDate(iso, granularity);
  const options = granularity === 'hour'
    ? { month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false }
    : { year: 'numeric', month: '2-digit', day: '2-digit' };
  return date.toLocaleString(lang() === 'en' ? 'en-GB' : 'zh-CN', options);
}

function compactYuan(fen) {
  const value = fen / 100;
  if (value >= 10000) {
    return lang() === 'en' ? `¥${Math.round(value / 1000)}k` : `¥${(value / 10000).toFixed(value >= 100000 ? 0 : 1)}万`;
  }
  return `¥${Math.round(value)}`;
}

function kpi(label, value, { sub, name } = {}) {
  return h('div.kpi', { dataset: { kpi: name } }, h('div.kpi-label', label), h('div.kpi-value', value), sub ? h('div.kpi-sub', sub) : null);
}

function kpis(f) {
  return h('div.kpis.dense', { dataset: { kpis: '' } },
    kpi(t('kpi.generated'), number(f.generated), { name: 'generated' }),
    kpi(t('kpi.claimed'), number(f.claimed), { name: 'claimed', sub: t('kpi.claimed_sub', { n: number(f.granted) }) }),
    kpi(t('kpi.claim_rate'), percent(f.claim_rate), { name: 'claim_rate', sub: f.offered ? t('kpi.claim_rate_sub', { n: number(f.offered) }) : null }),
    kpi(t('kpi.used'), number(f.used), { name: 'used', sub: t('kpi.used_sub', { n: number(f.returned) }) }),
    kpi(t('kpi.use_rate'), percent(f.use_rate), { name: 'use_rate' }),
    kpi(t('kpi.expired'), number(f.expired), { name: 'expired', sub: t('kpi.expired_sub', { n: number(f.voided) }) }),
    kpi(t('kpi.discount'), yuan(f.discount), { name: 'discount' }),
    kpi(t('kpi.sales'), yuan(f.sales), { name: 'sales' }),
    kpi(t('kpi.orders'), number(f.orders), { name: 'orders' }),
    kpi(t('kpi.aov'), yuan(f.average_order_value), { name: 'average_order_value' }),
    kpi(t('kpi.cost_ratio'), percent(f.cost_ratio), { name: 'cost_ratio', sub: t('kpi.cost_ratio_sub') }),
    kpi(t('kpi.new_users'), number(f.new_users), { name: 'new_users' }));
}

const EMPTY = { generated: 0, claimed: 0, granted: 0, new_users: 0, used: 0, returned: 0, expired: 0, voided: 0, discount: 0, sales: 0, orders: 0 };

// The series lists the periods that saw something; the chart shows every
// period of the range, the quiet ones at zero, stepping from a known start.
export function fillPeriods(report, now = Date.now()) {
  const step = report.granularity === 'hour' ? 3600000 : 86400000;
  const known = new Map(report.series.map((p) => [new Date(p.start).getTime(), p]));
  const starts = [...known.keys()].sort((a, b) => a - b);
  const from = report.from ? new Date(report.from).getTime() : null;
  const end = report.until ? new Date(report.until).getTime() : now;
  let anchor = starts.length ? starts[0] : from;
  if (anchor === null) return [];
  // Back to the period holding `from` (it may start before it).
  if (from !== null) while (anchor > from) anchor -= step;
  const out = [];
  for (let at = anchor; at < end && out.length < 2000; at += step) {
    out.push(known.get(at) || { ...EMPTY, start: new Date(at).toISOString() });
  }
  // A period the stepping missed (a clock change) is still shown.
  for (const [at, p] of known) if (!out.some((q) => new Date(q.start).getTime() === at)) out.push(p);
  return out.sort((a, b) => new Date(a.start) - new Date(b.start));
}

function charts(report) {
  const g = report.granularity;
  const periods = fillPeriods(report).map((p) => ({
    label: periodLabel(p.start, g),
    tip: periodTip(p.start, g),
    values: { ...p, ratio: p.sales ? Math.round((p.discount * 10000) / p.sales) : 0 },
  }));
  const f = report.figures;
  const money = (v) => compactYuan(v);
  const ratio = (v) => `${(v / 100).toFixed(v % 100 ? 1 : 0)}%`;
  return [
    h('div.two-cols',
      card(t('stats.trend'), timeChart(periods, [
        { key: 'claimed', label: t('s.claimed'), color: '#e4393c' },
        { key: 'granted', label: t('s.granted'), color: '#ed7b2f' },
        { key: 'used', label: t('s.used'), color: '#3b5bdb' },
      ], { name: 'trend', width: 640 })),
      card(t('stats.funnel'), funnel([
        { label: t('stats.f.claimed'), value: f.claimed + f.granted, color: '#e4393c' },
        { label: t('stats.f.used'), value: f.used, color: '#f76560' },
        { label: t('stats.f.orders'), value: f.orders, color: '#fbaca3' },
      ], { format: number }))),
    h('div.two-cols',
      card(t('stats.money'), timeChart(periods, [
        { key: 'sales', label: t('s.sales'), color: '#3b5bdb', format: money },
        { key: 'discount', label: t('s.discount'), color: '#e4393c', format: money },
      ], { kind: 'bar', name: 'money', width: 640 })),
      card(t('stats.ratio'), timeChart(periods, [
        { key: 'ratio', label: t('s.ratio'), color: '#00a870', format: ratio },
      ], { name: 'ratio', width: 440, height: 250 }))),
  ];
}

function records(ctx, templateId, query) {
  const from = query.from;
  const until = query.until;
  const section = (kind, columns) => {
    const body = h('div', h('div.empty', t('ui.loading')));
    const csv = h('button.secondary', { dataset: { action: `${kind}-csv` } }, t(`stats.${kind}_csv`));
    csv.addEventListener('click', () => busy(csv, () => downloadFile(ctx.token, `/v1/stats/templates/${encodeURIComponent(templateId)}/${kind}.csv`, `${kind}-${templateId}.csv`, { query: { from, until } })));
    let rows = [];
    let cursor = null;
    const more = h('button.secondary', t('ui.more'));
    const load = async () => {
      const page = await api('GET', `/v1/stats/templates/${encodeURIComponent(templateId)}/${kind}`, { token: ctx.token, query: { from, until, limit: 20, cursor } });
      rows = rows.concat(page.items);
      cursor = page.next_cursor;
      mount(body, table(columns, rows), cursor ? h('div.form-actions', more) : null);
    };
    more.addEventListener('click', () => busy(more, load));
    load().catch((error) => mount(body, h('div.failure', error.message)));
    return h('section.card', { dataset: { records: kind } }, h('div.card-head', h('h2', t(`stats.${kind}`)), csv), body);
  };
  const sourceText = (source) => {
    const text = t(`source.${source}`);
    return text === `source.${source}` ? source : text;
  };
  return [
    section('claims', [
      { title: t('r.code'), cell: (r) => h('span.mono', r.code) },
      { title: t('r.user'), cell: (r) => r.user_id || '—' },
      { title: t('r.phone'), cell: (r) => r.phone_masked || '—' },
      { title: t('r.source'), cell: (r) => sourceText(r.source) },
      { title: t('r.campaign'), cell: (r) => r.campaign_id || '—' },
      { title: t('r.claimed_at'), cell: (r) => dateTime(r.claimed_at) },
      { title: t('r.state'), cell: (r) => stateBadge(r.state) },
    ]),
    section('uses', [
      { title: t('r.code'), cell: (r) => h('span.mono', r.code) },
      { title: t('r.user'), cell: (r) => r.user_id || '—' },
      { title: t('r.order'), cell: (r) => r.order_id || '—' },
      { title: t('r.store'), cell: (r) => r.store_id || '—' },
      { title: t('r.used_at'), cell: (r) => dateTime(r.used_at) },
      { title: t('r.amount'), class: 'num', cell: (r) => yuan(r.order_amount) },
      { title: t('r.discount'), class: 'num', cell: (r) => yuan(r.discount) },
      { title: t('r.items'), cell: (r) => (r.items || []).join('、') || '—' },
    ]),
  ];
}

export default {
  id: 'stats',
  roles: ['admin', 'operator', 'reviewer', 'finance'],
  async render(ctx) {
    useOpsStyles();
    mount(ctx.root, header(t('nav.stats')), h('div.empty', t('ui.loading')));
    const [templates, campaigns] = await Promise.all([
      loadTemplates(ctx.token),
      apiAll('/v1/campaigns', { token: ctx.token, max: 500 }).catch(() => []),
    ]);
    const names = new Map(templates.map((tpl) => [tpl.id, tpl.name]));
    const shops = [...new Set(templates.map((tpl) => tpl.issuer?.shop).filter(Boolean))].sort();
    const options = {
      template: templates.map((tpl) => [tpl.id, tpl.name]),
      campaign: campaigns.map((c) => [c.id, c.name]),
      issuer: [['platform', t('stats.platform')], ...shops.map((shop) => [shop, t('stats.shop', { shop })])],
    };
    let [scope = 'template', target] = ctx.params;
    if (!options[scope]) scope = 'template';
    if (!target) {
      const active = scope === 'template' ? templates.find((tpl) => tpl.status === 'active') : null;
      target = active ? active.id : options[scope][0]?.[0];
    }

    const scopeSelect = h('select', { dataset: { field: 'scope' } },
      Object.keys(options).map((key) => h('option', { value: key, selected: key === scope }, t(`stats.scope.${key}`))));
    const targetSelect = h('select', { dataset: { field: 'target' } },
      options[scope].map(([id, name]) => h('option', { value: id, selected: id === target }, name)));
    scopeSelect.addEventListener('change', () => ctx.navigate(`#/stats/${scopeSelect.value}`));
    targetSelect.addEventListener('change', () => ctx.navigate(`#/stats/${scope}/${encodeURIComponent(targetSelect.value)}`));

    const out = h('div', { dataset: { stats: '' } });
    const fromInput = h('input', { type: 'date', value: choice.from, dataset: { field: 'from' } });
    const untilInput = h('input', { type: 'date', value: choice.until, dataset: { field: 'until' } });
    const custom = h('div.filters', field(t('stats.from'), fromInput), field(t('stats.until'), untilInput));
    const rangeButtons = h('div.seg', ['today', '7d', '30d', 'custom'].map((key) => h('button', {
      type: 'button', dataset: { range: key }, 'aria-pressed': String(choice.range === key),
      onclick: () => {
        choice.range = key;
        for (const button of rangeButtons.children) button.setAttribute('aria-pressed', String(button.dataset.range === key));
        custom.classList.toggle('hidden', key !== 'custom');
        if (key !== 'custom') load();
      },
    }, t(`stats.range.${key}`))));
    custom.classList.toggle('hidden', choice.range !== 'custom');
    const granularity = h('div.seg', ['day', 'hour'].map((key) => h('button', {
      type: 'button', dataset: { granularity: key }, 'aria-pressed': String(choice.granularity === key),
      onclick: () => {
        choice.granularity = key;
        for (const button of granularity.children) button.setAttribute('aria-pressed', String(button.dataset.granularity === key));
        load();
      },
    }, t(`stats.${key}`))));
    const apply = h('button.primary', { type: 'button', dataset: { action: 'apply' } }, t('stats.apply'));
    apply.addEventListener('click', () => {
      choice.from = fromInput.value;
      choice.until = untilInput.value;
      load();
    });
    custom.append(apply);

    const seriesCsv = h('button.secondary', { dataset: { action: 'series-csv' }, disabled: scope !== 'template' || !target }, t('stats.series_csv'));
    seriesCsv.addEventListener('click', () => busy(seriesCsv, () => downloadFile(ctx.token, `/v1/stats/templates/${encodeURIComponent(target)}/series.csv`, `stats-${target}.csv`, { query: rangeQuery() })));

    let generation = 0;
    async function load() {
      if (!target) return mount(out, h('div.empty', t('stats.nothing')));
      const query = rangeQuery();
      if (query.from && query.until && query.from >= query.until) return mount(out, h('div.failure', t('stats.bad_range')));
      const mine = ++generation;
      mount(out, h('div.empty', t('ui.loading')));
      const path = scope === 'template' ? `/v1/stats/templates/${encodeURIComponent(target)}`
        : scope === 'campaign' ? `/v1/stats/campaigns/${encodeURIComponent(target)}`
          : `/v1/stats/issuers/${encodeURIComponent(target)}`;
      try {
        const report = await api('GET', path, { token: ctx.token, query });
        if (mine !== generation) return;
        mount(out, kpis(report.figures), charts(report),
          scope === 'template' ? records(ctx, target, query) : h('p.note', { dataset: { covered: '' } }, t('stats.records_note'), ' ',
            report.templates.map((id, i) => [i ? '、' : '', h('a.id-link', { href: `#/stats/template/${encodeURIComponent(id)}` }, names.get(id) || id)])));
      } catch (error) {
        if (mine === generation) mount(out, h('div.failure', { role: 'alert' }, error.message));
      }
    }

    mount(ctx.root,
      header(t('nav.stats'), seriesCsv),
      h('section.card', h('div.filters',
        field(t('stats.scope'), scopeSelect),
        h('div', { style: { flex: '1 1 260px' } }, field(t('stats.target'), targetSelect)),
        h('div.field', h('span.label', t('stats.range')), rangeButtons),
        h('div.field', h('span.label', t('stats.granularity')), granularity)),
      custom, h('p.muted', { style: { margin: '12px 0 0', fontSize: '12px' } }, t('stats.updated'))),
      out);
    await load();
  },
};
