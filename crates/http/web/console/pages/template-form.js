// The template form: every kind, scope, audience, validity, claim window,
// limits, stacking, issuer and return policy of SPEC §4, with live
// validation. Typing is debounced (300 ms) and sent to
// POST /v1/templates/preview; each problem shows next to its field and the
// plain-language summary shows in a preview card. Money is typed in yuan
// and sent in fen (parseYuan: no floats).
import { api } from '/web/api.js';
import { lang, parseYuan, register, t } from '/web/i18n.js';
import { busy, card, h, header, mount, toast, useStyles } from '../ui.js';

register({
  'tf.new': ['新建券模板', 'New template'],
  'tf.edit': ['编辑券模板', 'Edit template'],
  'tf.basic': ['基本信息', 'Basics'],
  'tf.name': ['模板名称', 'Name'],
  'tf.name_hint': ['用户在领券中心看到的名称，如“满300减50”', 'What users see in the claim centre, e.g. “¥50 off ¥300”'],
  'tf.description': ['使用说明', 'Description'],
  'tf.kind': ['券类型', 'Kind'],
  'tf.benefit': ['优惠规则', 'Benefit'],
  'kind.cash': ['现金券 / 无门槛券', 'Cash (no minimum)'],
  'kind.threshold': ['满减券 / 阶梯满减', 'Threshold (spend X, get Y off)'],
  'kind.every': ['每满减', 'Every (Y off every X)'],
  'kind.percent': ['折扣券', 'Percent off'],
  'kind.fixed_price': ['特价券', 'Fixed price'],
  'kind.add_on': ['换购券', 'Add-on purchase'],
  'kind.shipping': ['包邮券 / 运费券', 'Shipping'],
  'kind.cashback': ['满返券', 'Cashback'],
  'kind.gift': ['礼品券', 'Gift'],
  'kind.trial': ['体验券', 'Trial'],
  'tf.amount': ['减免金额（元）', 'Amount off (¥)'],
  'tf.min_payable': ['最低实付（元，可选）', 'Least left to pay (¥, optional)'],
  'tf.min_payable_hint': ['立减券“至少支付1元”填 1', '“Must pay at least ¥1” is 1'],
  'tf.tiers': ['阶梯', 'Tiers'],
  'tf.tier_min': ['满（元）', 'Spend at least (¥)'],
  'tf.tier_off': ['减（元）', 'Get off (¥)'],
  'tf.tier_back': ['返（元）', 'Get back (¥)'],
  'tf.tier_qty': ['满件数（可选）', 'At least items (optional)'],
  'tf.tier_amount': ['满金额（元，可选）', 'At least (¥, optional)'],
  'tf.tier_rate': ['折扣（折）', 'Rate (折)'],
  'tf.tier_rate_hint': ['8.5 表示 8.5 折（付 85%）', '8.5 means pay 85%'],
  'tf.add_tier': ['+ 添加阶梯', '+ Add a tier'],
  'tf.remove': ['删除', 'Remove'],
  'tf.allow_free': ['允许 0 元订单（优惠可等于门槛）', 'Allow free orders (off may reach the threshold)'],
  'tf.step': ['每满（元）', 'For every (¥)'],
  'tf.off': ['减（元）', 'Get off (¥)'],
  'tf.max_times': ['最多次数（可选）', 'At most times (optional)'],
  'tf.cap': ['最高优惠（元，可选）', 'Cap (¥, optional)'],
  'tf.price': ['特价（元）', 'Price (¥)'],
  'tf.max_units': ['最多件数（可选）', 'At most units (optional)'],
  'tf.sku': ['换购商品 SKU', 'Add-on SKU'],
  'tf.addon_price': ['换购价（元）', 'Add-on price (¥)'],
  'tf.min_amount': ['门槛金额（元，可选）', 'Minimum spend (¥, optional)'],
  'tf.max_off': ['运费最高减（元）', 'Shipping off at most (¥)'],
  'tf.to': ['返到', 'Credit to'],
  'tf.to_points': ['积分', 'Points'],
  'tf.to_wallet': ['钱包', 'Wallet'],
  'tf.item': ['礼品 / 体验内容', 'Item'],
  'tf.scope': ['使用范围', 'Scope'],
  'tf.include_all': ['全场通用', 'Storewide'],
  'tf.include': ['适用', 'Include'],
  'tf.exclude': ['排除', 'Exclude'],
  'tf.skus': ['SKU', 'SKUs'],
  'tf.products': ['商品（SPU）', 'Products'],
  'tf.categories': ['品类', 'Categories'],
  'tf.brands': ['品牌', 'Brands'],
  'tf.shops': ['店铺', 'Shops'],
  'tf.venues': ['会场', 'Venues'],
  'tf.list_hint': ['多个用逗号或空格分隔', 'Separate with commas or spaces'],
  'tf.audience': ['领取人群与渠道', 'Audience and channels'],
  'tf.tags_any': ['任一标签', 'Any of tags'],
  'tf.tags_all': ['全部标签', 'All of tags'],
  'tf.regions': ['地区编码（前缀匹配）', 'Region codes (prefix)'],
  'tf.new_users_only': ['仅限新用户', 'New users only'],
  'tf.inactive_days': ['至少未活跃天数（可选）', 'Inactive at least days (optional)'],
  'tf.channels': ['渠道（空为全部）', 'Channels (empty: all)'],
  'tf.channels_hint': ['如 app、mini_program、web、pos', 'e.g. app, mini_program, web, pos'],
  'tf.validity': ['有效期与领取时间', 'Validity and claim window'],
  'tf.relative': ['领取后 N 天内有效', 'N days after claiming'],
  'tf.absolute': ['固定时间段', 'Fixed dates'],
  'tf.days': ['有效天数', 'Days valid'],
  'tf.start_after': ['领取后第几天起生效', 'Starts after days'],
  'tf.valid_from': ['生效时间', 'Valid from'],
  'tf.valid_until': ['失效时间', 'Valid until'],
  'tf.claim_from': ['开始领取（可选）', 'Claimable from (optional)'],
  'tf.claim_until': ['结束领取（可选）', 'Claimable until (optional)'],
  'tf.limits': ['发放限制', 'Limits'],
  'tf.total': ['发放总量（张）', 'Total coupons'],
  'tf.per_user': ['每人限领', 'Per user'],
  'tf.per_user_per_day': ['每人每天限领', 'Per user per day'],
  'tf.budget': ['预算（元）', 'Budget (¥)'],
  'tf.optional': ['可选，不填为不限', 'Optional; empty is no limit'],
  'tf.stacking': ['叠加与优先级', 'Stacking and priority'],
  'tf.stackable': ['可与其他券叠加', 'Stacks with other coupons'],
  'tf.group': ['叠加组（可选）', 'Stacking group (optional)'],
  'tf.priority': ['优先级（越小越先）', 'Priority (smaller first)'],
  'tf.with_promotions': ['可与促销同享', 'Combines with promotions'],
  'tf.issuer': ['发放主体与成本', 'Issuer and cost'],
  'tf.issuer_platform': ['平台', 'Platform'],
  'tf.issuer_shop': ['店铺', 'Shop'],
  'tf.issuer_shared': ['平台与店铺分摊', 'Shared'],
  'tf.issuer_shop_id': ['店铺 ID', 'Shop id'],
  'tf.platform_share': ['平台承担比例（%）', 'Platform share (%)'],
  'tf.returns': ['退款规则', 'Returns'],
  'tf.on_cancel': ['订单取消时', 'On cancel'],
  'tf.on_full_refund': ['全额退款时', 'On full refund'],
  'tf.on_partial_refund': ['部分退款时', 'On partial refund'],
  'tf.return': ['退还优惠券', 'Give the coupon back'],
  'tf.keep': ['不退还', 'Keep it spent'],
  'tf.cash_partial': ['现金券部分退款', 'Cash coupon, partial refund'],
  'tf.proportional': ['按比例返还新券', 'A new coupon pro rata'],
  'tf.none': ['不返还', 'Nothing'],
  'tf.preview': ['效果预览', 'Preview'],
  'tf.checking': ['正在校验…', 'Checking…'],
  'tf.valid': ['设置有效', 'Valid'],
  'tf.invalid': ['有 {count} 处需要修改', '{count} problem(s) to fix'],
  'tf.fix_first': ['请先修正标记的字段', 'Fix the marked fields first'],
  'tf.save': ['保存草稿', 'Save draft'],
  'tf.save_submit': ['保存并提交审核', 'Save and submit'],
  'tf.saved': ['已保存', 'Saved'],
  'tf.submitted': ['已提交审核', 'Submitted for review'],
  'tf.required': ['必填', 'Required'],
  'tf.not_money': ['请输入金额，最多两位小数，如 12.50', 'Enter an amount with at most 2 decimals, e.g. 12.50'],
  'tf.not_count': ['请输入整数', 'Enter a whole number'],
  'tf.not_rate': ['请输入 0.1–9.999 之间的折扣，如 8.5', 'Enter a rate between 0.1 and 9.999, e.g. 8.5'],
  'tf.not_time': ['请选择时间', 'Pick a time'],
  'tf.percent_share': ['请输入 0–100 的比例，最多两位小数', 'Enter 0 to 100 with at most 2 decimals'],
  'tf.other_problems': ['其他问题', 'Other problems'],
});

const KINDS = ['threshold', 'cash', 'every', 'percent', 'fixed_price', 'add_on', 'shipping', 'cashback', 'gift', 'trial'];
const SCOPE_LISTS = ['skus', 'products', 'categories', 'brands', 'shops', 'venues'];
// The server's reasons (English) in Chinese: [pattern, (match) => text].
const REASONS = [
  [/^must be positive$/, () => '必须大于 0'],
  [/^must not be empty$|^must not be blank$/, () => '不能为空'],
  [/^must not be negative$/, () => '不能为负数'],
  [/^must be at least 1/, () => '至少为 1（不限请留空）'],
  [/^is not less than \w+, so an order could cost nothing/, () => '优惠不能达到门槛，否则订单可能 0 元；确需如此请勾选“允许 0 元订单”'],
  [/^must be greater than tiers\[(\d+)\]/, (m) => `必须大于第 ${Number(m[1]) + 1} 档：各档须逐级递增`],
  [/^must not be smaller than tiers\[(\d+)\]/, (m) => `不能小于第 ${Number(m[1]) + 1} 档`],
  [/^must be after claim_window\.from$/, () => '必须晚于开始领取时间'],
  [/^must be after validity\.from$/, () => '必须晚于生效时间'],
  [/^validity ends before the claim window opens$/, () => '有效期在开始领取前就已结束'],
  [/^a percent template with a budget needs a cap$/, () => '设置了预算的折扣券必须设置最高优惠'],
  [/^an every template with a budget needs max_times/, () => '设置了预算的每满减券必须设置最多次数'],
  [/no face value for a budget to count/, () => '此类券没有面额，不能设置预算，请用发放总量限制'],
  [/^must not be more than limits\.total$/, () => '不能超过发放总量'],
  [/^must not be more than limits\.per_user$/, () => '不能超过每人限领'],
  [/^must not be empty: name `all`/, () => '请选择全场通用，或至少填写一项商品、品类、品牌、店铺或会场'],
  [/^a coupon that does not stack/, () => '不可叠加的券不能设置叠加组'],
  [/^gift and trial coupons .* never stack$/, () => '礼品券和体验券到店核销，不参与叠加'],
  [/^is also in scope\.include/, () => '不能同时出现在适用和排除范围中'],
  [/^would exclude every line$/, () => '排除了全部商品'],
  [/^must have at least one tier$/, () => '至少需要一档'],
  [/^must be in 1\.\.=9999 basis points$/, () => '折扣须在 0.001–9.999 折之间'],
  [/^must be at most (\d+) characters$/, (m) => `最多 ${m[1]} 个字`],
  [/^is smaller than the face value of one coupon/, () => '预算小于一张券的面额'],
  [/^must be a region code/, () => '地区编码须为数字，如 4403'],
  [/^cannot go with new_users_only/, () => '不能与“仅限新用户”同时设置'],
  [/^duplicates /, () => '与前面的条目重复'],
  [/^may hold only letters/, () => '只能包含字母、数字和 _ . : -'],
  [/^must be in (\d+)\.\.=(\d+)$/, (m) => `须在 ${m[1]}–${m[2]} 之间`],
];

// The server's reasons are English; the common ones read in Chinese too.
function reasonText(reason) {
  if (lang() === 'en') return reason;
  for (const [pattern, text] of REASONS) {
    const match = pattern.exec(reason);
    if (match) return text(match);
  }
  return reason;
}

// A text input whose value the form reads back by its path.
function input(path, attrs = {}) {
  return h('input', { name: path, dataset: { path }, autocomplete: 'off', ...attrs });
}

function checkbox(path, label) {
  return h('label.check', h('input', { type: 'checkbox', name: path, dataset: { path } }), h('span', label));
}

function select(path, options) {
  return h('select', { name: path, dataset: { path } },
    options.map(([value, label]) => h('option', { value }, label)));
}

// An ISO instant as a datetime-local value in the browser's time zone.
function localTime(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

// Fen as yuan for an input ("300", "12.50").
function yuanText(fen) {
  if (fen === null || fen === undefined) return '';
  const whole = Math.floor(fen / 100);
  const cents = fen % 100;
  return cents ? `${whole}.${String(cents).padStart(2, '0')}` : String(whole);
}

// Basis points as 折 ("8.5" for 8500).
function rateText(bp) {
  return String(bp / 1000).replace(/\.?0+$/, (m) => (m.includes('.') ? '' : m));
}

// "8.5" 折 → 8500 bp, exactly, or null.
function parseRate(text) {
  const match = /^\s*(\d)(?:\.(\d{1,3}))?\s*$/.exec(text);
  if (!match) return null;
  const bp = Number(match[1]) * 1000 + Number((match[2] || '').padEnd(3, '0'));
  return bp >= 1 && bp <= 9999 ? bp : null;
}

// "60" or "60.5" % → 6000 / 6050 bp, or null.
function parsePercent(text) {
  const match = /^\s*(\d{1,3})(?:\.(\d{1,2}))?\s*$/.exec(text);
  if (!match) return null;
  const bp = Number(match[1]) * 100 + Number((match[2] || '').padEnd(2, '0'));
  return bp <= 10000 ? bp : null;
}

export function templateForm(ctx, existing) {
  useStyles('template-form');
  const root = ctx.root;
  const editing = Boolean(existing);
  const fields = new Map(); // path → the .field element that shows its error
  const tierLists = {}; // kind → container of tier rows

  // A labelled field whose errors show under it; registered by path.
  const field = (path, label, control, { hint, wide } = {}) => {
    const box = h(`label.field${wide ? '.wide' : ''}`, { dataset: { field: path } },
      h('span.label', label), control, hint ? h('span.hint', hint) : null, h('span.field-error'));
    fields.set(path, box);
    return box;
  };

  const kindSelect = select('benefit.kind', KINDS.map((kind) => [kind, t(`kind.${kind}`)]));

  // Tier rows for threshold, percent and cashback.
  const tierRow = (kind, tier = {}) => {
    const row = h('div.tier-row', { dataset: { tier: kind } });
    const index = () => [...tierLists[kind].children].indexOf(row);
    const cell = (name, label, value, attrs = {}) => {
      const control = h('input', { dataset: { tierField: name }, value: value ?? '', autocomplete: 'off', ...attrs });
      const box = h('label.field', { dataset: { tierCell: name } }, h('span.label', label), control, h('span.field-error'));
      return box;
    };
    if (kind === 'threshold') {
      row.append(cell('min_amount', t('tf.tier_min'), yuanText(tier.min_amount), { inputMode: 'decimal' }),
        cell('off', t('tf.tier_off'), yuanText(tier.off), { inputMode: 'decimal' }));
    } else if (kind === 'cashback') {
      row.append(cell('min_amount', t('tf.tier_min'), yuanText(tier.min_amount), { inputMode: 'decimal' }),
        cell('back', t('tf.tier_back'), yuanText(tier.back), { inputMode: 'decimal' }));
    } else {
      row.append(cell('min_quantity', t('tf.tier_qty'), tier.min_quantity || '', { inputMode: 'numeric' }),
        cell('min_amount', t('tf.tier_amount'), tier.min_amount ? yuanText(tier.min_amount) : '', { inputMode: 'decimal' }),
        cell('rate_bp', t('tf.tier_rate'), tier.rate_bp ? rateText(tier.rate_bp) : '', { inputMode: 'decimal', placeholder: '8.5' }));
    }
    row.append(h('button.link.remove', {
      type: 'button',
      dataset: { action: 'remove-tier' },
      onclick: () => {
        if (tierLists[kind].children.length > 1) {
          row.remove();
          changed();
        }
      },
    }, t('tf.remove')));
    row.index = index;
    return row;
  };
  const tiers = (kind) => {
    tierLists[kind] = h('div.tiers', { dataset: { tiers: kind } });
    return h('div.tier-block', { dataset: { field: 'benefit.tiers' } },
      h('span.label', t('tf.tiers')), tierLists[kind],
      h('span.field-error'),
      h('button.link', { type: 'button', dataset: { action: 'add-tier' }, onclick: () => { tierLists[kind].append(tierRow(kind)); changed(); } }, t('tf.add_tier')));
  };

  const money = (path, label, hint) => field(path, label, input(path, { inputMode: 'decimal', placeholder: '0.00' }), { hint });
  const count = (path, label, hint) => field(path, label, input(path, { inputMode: 'numeric' }), { hint });

  // One panel of settings per kind; only the chosen one shows.
  const panels = {
    cash: [money('benefit.amount', t('tf.amount')), money('benefit.min_payable', t('tf.min_payable'), t('tf.min_payable_hint'))],
    threshold: [tiers('threshold'), checkbox('benefit.allow_free_orders', t('tf.allow_free'))],
    every: [money('benefit.step', t('tf.step')), money('benefit.off', t('tf.off')), count('benefit.max_times', t('tf.max_times')),
      checkbox('benefit.allow_free_orders', t('tf.allow_free'))],
    percent: [tiers('percent'), money('benefit.cap', t('tf.cap'))],
    fixed_price: [money('benefit.price', t('tf.price')), count('benefit.max_units', t('tf.max_units'))],
    add_on: [field('benefit.sku', t('tf.sku'), input('benefit.sku')), money('benefit.price', t('tf.addon_price')), money('benefit.min_amount', t('tf.min_amount'))],
    shipping: [money('benefit.max_off', t('tf.max_off')), money('benefit.min_amount', t('tf.min_amount'))],
    cashback: [tiers('cashback'), field('benefit.to', t('tf.to'), select('benefit.to', [['points', t('tf.to_points')], ['wallet', t('tf.to_wallet')]]))],
    gift: [field('benefit.item', t('tf.item'), input('benefit.item', { placeholder: '一杯咖啡' }))],
    trial: [field('benefit.item', t('tf.item'), input('benefit.item', { placeholder: '免费体验课一节' }))],
  };
  // Paths that several kinds share each need one field per panel: the
  // registry keeps the last; errors go to the visible one (see `target`).
  const panelBoxes = Object.fromEntries(Object.entries(panels).map(([kind, children]) => [kind, h('div.grid2.panel', { dataset: { panel: kind } }, children)]));

  const scopeSide = (side) => h('div.grid3', SCOPE_LISTS.map((list) => field(`scope.${side}.${list}`, t(`tf.${list}`),
    input(`scope.${side}.${list}`, { placeholder: t('tf.list_hint') }))));
  const includeAll = checkbox('scope.include.all', t('tf.include_all'));
  const includeLists = h('div.include-lists', scopeSide('include'));

  const validityType = h('div.segmented', { dataset: { field: 'validity' } },
    h('label.check', h('input', { type: 'radio', name: 'validity.type', value: 'relative', checked: true }), h('span', t('tf.relative'))),
    h('label.check', h('input', { type: 'radio', name: 'validity.type', value: 'absolute' }), h('span', t('tf.absolute'))),
    h('span.field-error'));
  const relativeBox = h('div.grid2', count('validity.days', t('tf.days')), count('validity.start_after_days', t('tf.start_after')));
  const absoluteBox = h('div.grid2', field('validity.from', t('tf.valid_from'), input('validity.from', { type: 'datetime-local' })),
    field('validity.until', t('tf.valid_until'), input('validity.until', { type: 'datetime-local' })));
  fields.set('validity', validityType);

  const issuerType = select('issuer.type', [['platform', t('tf.issuer_platform')], ['shop', t('tf.issuer_shop')], ['shared', t('tf.issuer_shared')]]);
  const issuerShop = h('div.grid2', field('issuer.shop', t('tf.issuer_shop_id'), input('issuer.shop')),
    field('issuer.platform_bp', t('tf.platform_share'), input('issuer.platform_bp', { inputMode: 'decimal', placeholder: '60' })));

  const returnChoice = (path) => field(path, t(`tf.${path.split('.')[1]}`), select(path, [['return', t('tf.return')], ['keep', t('tf.keep')]]));
  const stackingCard = card(t('tf.stacking'),
    h('div.checks', checkbox('stacking.stackable', t('tf.stackable')), checkbox('stacking.with_promotions', t('tf.with_promotions'))),
    h('div.grid2', field('stacking.group', t('tf.group'), input('stacking.group')), count('stacking.priority', t('tf.priority'))));

  const summaryText = h('p.summary-text', { dataset: { preview: 'summary' } }, '—');
  const summaryState = h('div.summary-state', { dataset: { preview: 'state' } }, '');
  const otherProblems = h('ul.other-problems', { dataset: { preview: 'problems' } });
  const saveButton = h('button.secondary', { type: 'submit', dataset: { action: 'save' } }, t('tf.save'));
  const submitButton = h('button.primary', { type: 'button', dataset: { action: 'save-submit' } }, t('tf.save_submit'));

  const form = h('form.template-form', { novalidate: true, dataset: { form: 'template' } },
    h('div.form-main',
      card(t('tf.basic'), h('div.grid2',
        field('name', t('tf.name'), input('name', { maxLength: 200, required: true }), { hint: t('tf.name_hint') }),
        field('benefit.kind', t('tf.kind'), kindSelect)),
      field('description', t('tf.description'), h('textarea', { name: 'description', dataset: { path: 'description' }, rows: 2 }), { wide: true })),
      card(t('tf.benefit'), Object.values(panelBoxes)),
      card(t('tf.scope'), h('div.checks', includeAll),
        h('fieldset.scope-side', h('legend', t('tf.include')), includeLists),
        h('fieldset.scope-side', h('legend', t('tf.exclude')), scopeSide('exclude'))),
      card(t('tf.audience'), h('div.grid3',
        field('audience.tags_any', t('tf.tags_any'), input('audience.tags_any', { placeholder: t('tf.list_hint') })),
        field('audience.tags_all', t('tf.tags_all'), input('audience.tags_all', { placeholder: t('tf.list_hint') })),
        field('audience.regions', t('tf.regions'), input('audience.regions', { placeholder: '4403' })),
        count('audience.inactive_days_min', t('tf.inactive_days')),
        field('channels', t('tf.channels'), input('channels'), { hint: t('tf.channels_hint') })),
      h('div.checks', checkbox('audience.new_users_only', t('tf.new_users_only')))),
      card(t('tf.validity'), validityType, relativeBox, absoluteBox,
        h('div.grid2', field('claim_window.from', t('tf.claim_from'), input('claim_window.from', { type: 'datetime-local' })),
          field('claim_window.until', t('tf.claim_until'), input('claim_window.until', { type: 'datetime-local' })))),
      card(t('tf.limits'), h('div.grid4',
        count('limits.total', t('tf.total'), t('tf.optional')), count('limits.per_user', t('tf.per_user'), t('tf.optional')),
        count('limits.per_user_per_day', t('tf.per_user_per_day'), t('tf.optional')), money('limits.budget', t('tf.budget'), t('tf.optional')))),
      stackingCard,
      card(t('tf.issuer'), field('issuer.type', t('tf.issuer'), issuerType), issuerShop),
      card(t('tf.returns'), h('div.grid4', returnChoice('return_policy.on_cancel'), returnChoice('return_policy.on_full_refund'),
        returnChoice('return_policy.on_partial_refund'),
        field('return_policy.cash_partial', t('tf.cash_partial'), select('return_policy.cash_partial', [['proportional', t('tf.proportional')], ['none', t('tf.none')]]))))),
    h('aside.form-side',
      h('section.card.preview-card',
        h('h2', t('tf.preview')),
        h('div.coupon-face', h('div.coupon-name', { dataset: { preview: 'name' } }, '—'), summaryText),
        summaryState, otherProblems,
        h('div.form-buttons', saveButton, submitButton))));

  mount(root, header(editing ? t('tf.edit') : t('tf.new'),
    h('a.button.secondary', { href: editing ? `#/templates/${encodeURIComponent(existing.id)}` : '#/templates' }, t('ui.cancel'))), form);

  const byPath = (path) => form.querySelector(`[data-path="${CSS.escape(path)}"]:not([disabled])`)
    || form.querySelector(`[data-path="${CSS.escape(path)}"]`);
  // The controls of the visible kind panel win over hidden ones.
  const control = (path) => {
    const visible = [...form.querySelectorAll(`[data-path="${CSS.escape(path)}"]`)].filter((el) => !el.closest('.hidden'));
    return visible[0] || byPath(path);
  };
  const setValue = (path, value) => {
    for (const el of form.querySelectorAll(`[data-path="${CSS.escape(path)}"]`)) {
      if (el.type === 'checkbox') el.checked = Boolean(value);
      else el.value = value ?? '';
    }
  };

  // ---- filling the form from a template ----
  const fill = (tpl) => {
    const b = tpl.benefit || { kind: 'threshold' };
    kindSelect.value = b.kind;
    setValue('name', tpl.name);
    setValue('description', tpl.description);
    for (const kind of ['threshold', 'percent', 'cashback']) {
      mount(tierLists[kind]);
      const list = b.kind === kind && b.tiers && b.tiers.length ? b.tiers : [{}];
      for (const tier of list) tierLists[kind].append(tierRow(kind, tier));
    }
    for (const key of ['amount', 'min_payable', 'step', 'off', 'cap', 'price', 'min_amount', 'max_off']) {
      if (b[key] !== undefined) setValue(`benefit.${key}`, b[key] ? yuanText(b[key]) : (key === 'price' ? '0' : ''));
    }
    for (const key of ['max_times', 'max_units', 'sku', 'item', 'to']) if (b[key] !== undefined) setValue(`benefit.${key}`, b[key]);
    setValue('benefit.allow_free_orders', b.allow_free_orders);
    const scope = tpl.scope || { include: { all: true } };
    setValue('scope.include.all', scope.include && scope.include.all);
    for (const side of ['include', 'exclude']) {
      for (const list of SCOPE_LISTS) setValue(`scope.${side}.${list}`, ((scope[side] || {})[list] || []).join(', '));
    }
    const audience = tpl.audience || {};
    for (const key of ['tags_any', 'tags_all', 'regions']) setValue(`audience.${key}`, (audience[key] || []).join(', '));
    setValue('audience.new_users_only', audience.new_users_only);
    setValue('audience.inactive_days_min', audience.inactive_days_min ?? '');
    setValue('channels', (tpl.channels || []).join(', '));
    const validity = tpl.validity || { type: 'relative', days: 30 };
    form.querySelector(`input[name="validity.type"][value="${validity.type}"]`).checked = true;
    setValue('validity.days', validity.days ?? '');
    setValue('validity.start_after_days', validity.start_after_days || '');
    setValue('validity.from', localTime(validity.from));
    setValue('validity.until', localTime(validity.until));
    setValue('claim_window.from', localTime(tpl.claim_window && tpl.claim_window.from));
    setValue('claim_window.until', localTime(tpl.claim_window && tpl.claim_window.until));
    const limits = tpl.limits || {};
    for (const key of ['total', 'per_user', 'per_user_per_day']) setValue(`limits.${key}`, limits[key] ?? '');
    setValue('limits.budget', limits.budget === undefined ? '' : yuanText(limits.budget));
    const stacking = tpl.stacking || {};
    setValue('stacking.stackable', stacking.stackable);
    setValue('stacking.with_promotions', stacking.with_promotions !== false);
    setValue('stacking.group', stacking.group || '');
    setValue('stacking.priority', stacking.priority ?? 100);
    const issuer = tpl.issuer || { type: 'platform' };
    issuerType.value = issuer.type;
    setValue('issuer.shop', issuer.shop || '');
    setValue('issuer.platform_bp', issuer.platform_bp === undefined ? '' : String(issuer.platform_bp / 100));
    const returns = tpl.return_policy || {};
    setValue('return_policy.on_cancel', returns.on_cancel || 'return');
    setValue('return_policy.on_full_refund', returns.on_full_refund || 'return');
    setValue('return_policy.on_partial_refund', returns.on_partial_refund || 'keep');
    setValue('return_policy.cash_partial', returns.cash_partial || 'proportional');
  };

  // ---- reading the form into a template ----
  const read = () => {
    const local = new Map(); // path → reason found before asking the server
    const text = (path) => (control(path) ? control(path).value.trim() : '');
    const flag = (path) => Boolean(control(path) && control(path).checked);
    const list = (path) => text(path).split(/[\s,，、;；]+/).filter(Boolean);
    const moneyOf = (path, required, raw = text(path)) => {
      if (!raw) {
        if (required) local.set(path, t('tf.required'));
        return undefined;
      }
      const fen = parseYuan(raw);
      if (fen === null) local.set(path, t('tf.not_money'));
      return fen ?? undefined;
    };
    const countOf = (path, required, raw = text(path)) => {
      if (!raw) {
        if (required) local.set(path, t('tf.required'));
        return undefined;
      }
      if (!/^\d{1,12}$/.test(raw)) {
        local.set(path, t('tf.not_count'));
        return undefined;
      }
      return Number(raw);
    };
    const timeOf = (path, required) => {
      const raw = text(path);
      if (!raw) {
        if (required) local.set(path, t('tf.not_time'));
        return undefined;
      }
      const date = new Date(raw);
      if (Number.isNaN(date.getTime())) {
        local.set(path, t('tf.not_time'));
        return undefined;
      }
      return date.toISOString().replace('.000Z', 'Z');
    };
    const kind = kindSelect.value;
    const benefit = { kind };
    const tierValues = () => [...tierLists[kind].children].map((row, index) => {
      const value = (name) => row.querySelector(`[data-tier-field="${name}"]`).value.trim();
      const at = (name) => `benefit.tiers[${index}].${name}`;
      if (kind === 'percent') {
        const tier = {};
        const quantity = countOf(at('min_quantity'), false, value('min_quantity'));
        if (quantity) tier.min_quantity = quantity;
        const amount = moneyOf(at('min_amount'), false, value('min_amount'));
        if (amount) tier.min_amount = amount;
        const rate = value('rate_bp');
        if (!rate) local.set(at('rate_bp'), t('tf.required'));
        else if (parseRate(rate) === null) local.set(at('rate_bp'), t('tf.not_rate'));
        else tier.rate_bp = parseRate(rate);
        return tier;
      }
      const second = kind === 'threshold' ? 'off' : 'back';
      return { min_amount: moneyOf(at('min_amount'), true, value('min_amount')), [second]: moneyOf(at(second), true, value(second)) };
    });
    const optional = (key, value) => { if (value !== undefined) benefit[key] = value; };
    switch (kind) {
      case 'cash':
        benefit.amount = moneyOf('benefit.amount', true);
        optional('min_payable', moneyOf('benefit.min_payable', false));
        break;
      case 'threshold':
        benefit.tiers = tierValues();
        if (flag('benefit.allow_free_orders')) benefit.allow_free_orders = true;
        break;
      case 'every':
        benefit.step = moneyOf('benefit.step', true);
        benefit.off = moneyOf('benefit.off', true);
        optional('max_times', countOf('benefit.max_times', false));
        if (flag('benefit.allow_free_orders')) benefit.allow_free_orders = true;
        break;
      case 'percent':
        benefit.tiers = tierValues();
        optional('cap', moneyOf('benefit.cap', false));
        break;
      case 'fixed_price':
        benefit.price = moneyOf('benefit.price', true);
        optional('max_units', countOf('benefit.max_units', false));
        break;
      case 'add_on':
        benefit.sku = text('benefit.sku');
        benefit.price = moneyOf('benefit.price', true);
        optional('min_amount', moneyOf('benefit.min_amount', false));
        break;
      case 'shipping':
        benefit.max_off = moneyOf('benefit.max_off', true);
        optional('min_amount', moneyOf('benefit.min_amount', false));
        break;
      case 'cashback':
        benefit.tiers = tierValues();
        benefit.to = text('benefit.to') || 'points';
        break;
      default:
        benefit.item = text('benefit.item');
    }
    const side = (name) => {
      const set = {};
      if (name === 'include' && flag('scope.include.all')) return { all: true };
      for (const key of SCOPE_LISTS) {
        const values = list(`scope.${name}.${key}`);
        if (values.length) set[key] = values;
      }
      return set;
    };
    const template = {
      name: text('name'),
      description: text('description'),
      benefit,
      scope: { include: side('include'), exclude: side('exclude') },
      audience: {},
      channels: list('channels'),
    };
    if (editing) template.labels = existing.labels || {};
    for (const key of ['tags_any', 'tags_all', 'regions']) {
      const values = list(`audience.${key}`);
      if (values.length) template.audience[key] = values;
    }
    if (flag('audience.new_users_only')) template.audience.new_users_only = true;
    const inactive = countOf('audience.inactive_days_min', false);
    if (inactive !== undefined) template.audience.inactive_days_min = inactive;
    const type = form.querySelector('input[name="validity.type"]:checked').value;
    if (type === 'relative') {
      template.validity = { type, days: countOf('validity.days', true) };
      const after = countOf('validity.start_after_days', false);
      if (after) template.validity.start_after_days = after;
    } else {
      template.validity = { type, from: timeOf('validity.from', true), until: timeOf('validity.until', true) };
    }
    const window = { from: timeOf('claim_window.from', false), until: timeOf('claim_window.until', false) };
    if (window.from || window.until) template.claim_window = window;
    template.limits = {};
    for (const key of ['total', 'per_user', 'per_user_per_day']) {
      const value = countOf(`limits.${key}`, false);
      if (value !== undefined) template.limits[key] = value;
    }
    const budget = moneyOf('limits.budget', false);
    if (budget !== undefined) template.limits.budget = budget;
    if (kind !== 'gift' && kind !== 'trial') {
      const group = text('stacking.group');
      template.stacking = {
        stackable: flag('stacking.stackable'),
        group: group || null,
        priority: countOf('stacking.priority', false) ?? 100,
        with_promotions: flag('stacking.with_promotions'),
      };
    }
    const issuer = issuerType.value;
    template.issuer = { type: issuer };
    if (issuer !== 'platform') template.issuer.shop = text('issuer.shop');
    if (issuer === 'shared') {
      const share = parsePercent(text('issuer.platform_bp'));
      if (share === null) local.set('issuer.platform_bp', t('tf.percent_share'));
      else template.issuer.platform_bp = share;
    }
    template.return_policy = {
      on_cancel: text('return_policy.on_cancel'),
      on_full_refund: text('return_policy.on_full_refund'),
      on_partial_refund: text('return_policy.on_partial_refund'),
      cash_partial: text('return_policy.cash_partial'),
    };
    if (editing && existing.risk) template.risk = existing.risk;
    return { template, local };
  };

  // ---- showing problems next to their fields ----
  const tierCell = (path) => {
    const match = /^benefit\.tiers\[(\d+)\](?:\.(\w+))?/.exec(path);
    if (!match) return null;
    const row = tierLists[kindSelect.value] && tierLists[kindSelect.value].children[Number(match[1])];
    if (!row) return null;
    return (match[2] && row.querySelector(`[data-tier-cell="${match[2]}"]`)) || row.querySelector('[data-tier-cell]');
  };
  // The field that shows a problem at `path`: itself, else its nearest
  // shown parent path (`validity.until` → `validity`).
  const target = (path) => {
    const cell = tierCell(path);
    if (cell) return cell;
    for (let at = path; at; at = at.replace(/(\.[^.[\]]+|\[\d+\])$/, '') || '') {
      const shown = [...form.querySelectorAll(`[data-field="${CSS.escape(at)}"]`)].find((el) => !el.closest('.hidden'));
      if (shown) return shown;
      if (!/[.[]/.test(at)) break;
    }
    return null;
  };
  const clearProblems = () => {
    for (const box of form.querySelectorAll('.invalid')) box.classList.remove('invalid');
    for (const slot of form.querySelectorAll('.field-error')) slot.textContent = '';
    otherProblems.replaceChildren();
  };
  const showProblems = (problems) => {
    clearProblems();
    for (const { field: path, reason } of problems) {
      const box = target(path);
      if (box) {
        box.classList.add('invalid');
        const slot = box.querySelector(':scope > .field-error');
        slot.textContent = slot.textContent ? `${slot.textContent}；${reasonText(reason)}` : reasonText(reason);
      } else {
        otherProblems.append(h('li', path ? `${path}: ${reasonText(reason)}` : reasonText(reason)));
      }
    }
  };

  // ---- live validation ----
  let timer = null;
  let asked = 0;
  let lastValid = false;
  const check = async () => {
    const { template, local } = read();
    form.querySelector('[data-preview=name]').textContent = template.name || '—';
    if (local.size) {
      lastValid = false;
      showProblems([...local].map(([path, reason]) => ({ field: path, reason })));
      summaryText.textContent = t('tf.fix_first');
      summaryState.className = 'summary-state bad';
      summaryState.textContent = t('tf.invalid', { count: local.size });
      return { ok: false, template };
    }
    const mine = ++asked;
    summaryState.className = 'summary-state';
    summaryState.textContent = t('tf.checking');
    let answer;
    try {
      answer = await api('POST', '/v1/templates/preview', { token: ctx.token, body: template });
    } catch (error) {
      if (mine === asked) {
        summaryState.className = 'summary-state bad';
        summaryState.textContent = error.message;
      }
      return { ok: false, template };
    }
    if (mine !== asked) return { ok: false, template, stale: true };
    lastValid = answer.valid;
    showProblems(answer.errors);
    if (answer.valid) {
      summaryText.textContent = answer.summary[lang() === 'en' ? 'en' : 'zh'];
      summaryState.className = 'summary-state ok';
      summaryState.textContent = t('tf.valid');
    } else {
      summaryText.textContent = t('tf.fix_first');
      summaryState.className = 'summary-state bad';
      summaryState.textContent = t('tf.invalid', { count: answer.errors.length });
    }
    return { ok: answer.valid, template };
  };
  const changed = () => {
    clearTimeout(timer);
    timer = setTimeout(check, 300);
  };

  // Shows the panels and blocks the choices call for.
  const arrange = () => {
    const kind = kindSelect.value;
    for (const [name, box] of Object.entries(panelBoxes)) box.classList.toggle('hidden', name !== kind);
    const forCheckout = kind !== 'gift' && kind !== 'trial';
    stackingCard.classList.toggle('hidden', !forCheckout);
    includeLists.classList.toggle('hidden', flag('scope.include.all'));
    const type = form.querySelector('input[name="validity.type"]:checked').value;
    relativeBox.classList.toggle('hidden', type !== 'relative');
    absoluteBox.classList.toggle('hidden', type !== 'absolute');
    issuerShop.classList.toggle('hidden', issuerType.value === 'platform');
    fields.get('issuer.platform_bp').classList.toggle('hidden', issuerType.value !== 'shared');
  };
  const flag = (path) => Boolean(control(path) && control(path).checked);

  form.addEventListener('input', () => { arrange(); changed(); });
  form.addEventListener('change', () => { arrange(); changed(); });

  const save = async (andSubmit) => {
    clearTimeout(timer);
    const result = await check();
    if (!result.ok) {
      toast(t('tf.fix_first'), 'error');
      const first = form.querySelector('.invalid input, .invalid select, .invalid textarea');
      if (first) first.focus();
      return;
    }
    const button = andSubmit ? submitButton : saveButton;
    const saved = await busy(button, async () => {
      const record = editing
        ? await api('PATCH', `/v1/templates/${encodeURIComponent(existing.id)}`, { token: ctx.token, body: result.template })
        : await api('POST', '/v1/templates', { token: ctx.token, body: result.template });
      if (andSubmit) await api('POST', `/v1/templates/${encodeURIComponent(record.id)}/submit`, { token: ctx.token });
      return record;
    });
    if (!saved) return;
    toast(andSubmit ? t('tf.submitted') : t('tf.saved'), 'ok');
    ctx.navigate(`#/templates/${encodeURIComponent(saved.id)}`);
  };
  form.addEventListener('submit', (event) => { event.preventDefault(); save(false); });
  submitButton.addEventListener('click', () => save(true));

  fill(existing || {
    benefit: { kind: 'threshold', tiers: [{}] },
    scope: { include: { all: true } },
    validity: { type: 'relative', days: 30 },
    stacking: { priority: 100, with_promotions: true },
  });
  if (!existing) setValue('validity.days', '30');
  arrange();
  if (existing) check();
  form.querySelector('[data-path=name]').focus();
  return { form, lastValid: () => lastValid };
}
