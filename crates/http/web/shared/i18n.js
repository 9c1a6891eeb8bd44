// Simplified Chinese first, English on a switch that is remembered. Pages
// call `t(key, values)`; `register` adds a page's own strings.
const LANG_KEY = 'couponflow.lang';
const strings = { zh: {}, en: {} };

export function lang() {
  const chosen = localStorage.getItem(LANG_KEY);
  return chosen === 'en' ? 'en' : 'zh';
}

export function setLang(value) {
  localStorage.setItem(LANG_KEY, value === 'en' ? 'en' : 'zh');
  document.documentElement.lang = value === 'en' ? 'en' : 'zh-CN';
}

export function register(table) {
  for (const [key, [zh, en]] of Object.entries(table)) {
    strings.zh[key] = zh;
    strings.en[key] = en;
  }
}

export function t(key, values = {}) {
  const text = strings[lang()][key] ?? strings.zh[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (values[name] ?? `{${name}}`));
}

// Amounts are integer fen; shown as yuan with two decimals, no floats kept.
export function yuan(fen) {
  if (fen === null || fen === undefined) return '—';
  const negative = fen < 0;
  const whole = Math.abs(Math.trunc(fen));
  const text = `${Math.floor(whole / 100)}.${String(whole % 100).padStart(2, '0')}`;
  return `${negative ? '-' : ''}¥${text}`;
}

// Yuan typed by a person ("12.5") → integer fen, or null when it is not money.
export function parseYuan(text) {
  const match = /^\s*(\d{1,9})(?:\.(\d{1,2}))?\s*$/.exec(String(text));
  if (!match) return null;
  return Number(match[1]) * 100 + Number((match[2] || '').padEnd(2, '0'));
}

export function dateTime(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  return date.toLocaleString(lang() === 'en' ? 'en-GB' : 'zh-CN', { hour12: false });
}

register({
  'error.unreadable': ['服务器返回了无法识别的内容', 'The server sent an answer that could not be read'],
  'error.network': ['无法连接服务器，请检查网络', 'Cannot reach the server; check the connection'],
  'error.generic': ['操作失败（{status}）', 'The request failed ({status})'],
});

// A readable message for a problem+json answer: the code's own text where
// the pages know it, else the server's detail, else the status.
export function problemMessage(problem, status) {
  if (problem.code === 'NETWORK') return t('error.network');
  const known = strings[lang()][`code.${problem.code}`];
  if (known) return problem.detail && lang() === 'en' ? `${known} (${problem.detail})` : known;
  return problem.detail || problem.title || t('error.generic', { status });
}

register({
  'code.UNAUTHORIZED': ['请先登录，或登录已失效', 'Please sign in; the key or token is missing or no longer valid'],
  'code.FORBIDDEN': ['当前账号没有权限执行此操作', 'This account may not do that'],
  'code.NOT_FOUND': ['找不到该内容', 'Not found'],
  'code.VALIDATION_FAILED': ['输入有误，请检查', 'Some input is not valid'],
  'code.BAD_REQUEST': ['请求格式有误', 'The request is malformed'],
  'code.INVALID_TEMPLATE': ['券模板设置有误', 'The template has problems'],
  'code.INVALID_CAMPAIGN': ['活动设置有误', 'The campaign has problems'],
  'code.SELF_REVIEW': ['不能审核自己创建的券模板', 'You cannot review a template you created'],
  'code.TEMPLATE_STATE': ['券模板当前状态不允许此操作', 'The template\u2019s state does not allow this'],
  'code.TEMPLATE_NOT_FOUND': ['券模板不存在', 'No such template'],
  'code.TEMPLATE_NOT_ACTIVE': ['该券暂不可领取', 'This coupon cannot be claimed now'],
  'code.CLAIM_NOT_STARTED': ['领取尚未开始', 'Claiming has not started'],
  'code.CLAIM_ENDED': ['领取已结束', 'Claiming has ended'],
  'code.SOLD_OUT': ['已抢光', 'All gone'],
  'code.TOTAL_LIMIT': ['已抢光', 'All gone'],
  'code.BUDGET_EXHAUSTED': ['预算已用完', 'The budget is used up'],
  'code.PER_USER_LIMIT': ['您已领取过，达到每人限领数量', 'You already hold as many as allowed'],
  'code.PER_DAY_LIMIT': ['今日领取次数已达上限', 'You reached today\u2019s limit'],
  'code.NOT_IN_AUDIENCE': ['您不在本券的发放范围内', 'This coupon is not offered to you'],
  'code.NOT_IN_ROLLOUT': ['活动暂未向您开放', 'This campaign is not open to you yet'],
  'code.CHANNEL': ['当前渠道不可领取', 'Not available in this channel'],
  'code.RISK_LIMIT': ['操作过于频繁或存在风险，请稍后再试', 'Refused by risk control; try later'],
  'code.CAPTCHA_FAILED': ['验证未通过', 'The captcha check failed'],
  'code.INSUFFICIENT_POINTS': ['积分不足', 'Not enough points'],
  'code.CAMPAIGN_NOT_RUNNING': ['活动未在进行中', 'The campaign is not running'],
  'code.CAMPAIGN_NOT_FOUND': ['活动不存在', 'No such campaign'],
  'code.CAMPAIGN_STATE': ['活动当前状态不允许此操作', 'The campaign\u2019s state does not allow this'],
  'code.COUPON_NOT_FOUND': ['券码不存在', 'No such coupon'],
  'code.COUPON_STATE': ['该券当前状态不可用', 'The coupon\u2019s state does not allow this'],
  'code.CODE_MALFORMED': ['券码格式不正确，请核对', 'That is not a valid code; check it'],
  'code.CODE_NOT_FOUND': ['券码不存在', 'No such code'],
  'code.CODE_ALREADY_USED': ['券码已被使用', 'The code is already used'],
  'code.CODE_ATTEMPTS_EXCEEDED': ['尝试次数过多，请15分钟后再试', 'Too many attempts; try again in 15 minutes'],
  'code.ORDER_STATE': ['订单当前状态不允许此操作', 'The order\u2019s state does not allow this'],
  'code.ORDER_NOT_FOUND': ['订单不存在', 'No such order'],
  'code.IDEMPOTENCY_CONFLICT': ['该编号已被另一次不同的请求使用', 'That id was used by a different request'],
  'code.CANNOT_SELECT': ['所选的券不能同时使用', 'The chosen coupons cannot be used together'],
  'code.EXPIRED': ['券已过期', 'The coupon has expired'],
  'code.NOT_STARTED': ['券尚未到可用时间', 'The coupon is not valid yet'],
  'code.PAYLOAD_TOO_LARGE': ['文件过大', 'The upload is too large'],
  'code.RATE_LIMITED': ['请求过于频繁，请稍后再试', 'Too many requests; try later'],
  'code.INTERNAL': ['服务器内部错误，请稍后再试', 'Internal error; try again later'],
  'code.UNAVAILABLE': ['服务暂时不可用', 'The service is unavailable'],
});
