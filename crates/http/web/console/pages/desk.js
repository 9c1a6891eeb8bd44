// The verification desk (核销台, SPEC §9): a clerk types or pastes a code,
// sees what the coupon is and whether it can be spent here, and confirms.
import { api } from '/web/api.js';
import { dateTime, register, t } from '/web/i18n.js';
import { field, h, header, mount } from '../ui.js';
import { facts, stateBadge, useOpsStyles } from './codes-common.js';

register({
  'desk.code': ['券码', 'Coupon code'],
  'desk.code_hint': ['输入或粘贴券码，空格、横线与大小写不影响', 'Type or paste the code; spaces, hyphens and case do not matter'],
  'desk.store': ['门店编号', 'Store'],
  'desk.store_hint': ['核销所在的门店，会记录在券的核销记录中', 'The store you are at; kept with the redemption'],
  'desk.staff': ['店员工号', 'Staff id'],
  'desk.staff_hint': ['确认核销的店员', 'Who confirms the redemption'],
  'desk.preview': ['查询', 'Look up'],
  'desk.confirm': ['确认核销', 'Confirm redemption'],
  'desk.again': ['核销下一张', 'Next coupon'],
  'desk.need_code': ['请输入券码', 'Enter a code'],
  'desk.need_store': ['请输入门店编号', 'Enter the store'],
  'desk.need_staff': ['请输入店员工号', 'Enter your staff id'],
  'desk.usable': ['可以核销', 'Can be redeemed here'],
  'desk.unusable': ['不可核销：{reason}', 'Cannot be redeemed: {reason}'],
  'desk.done': ['✓ 核销成功', '✓ Redeemed'],
  'desk.done_detail': ['门店 {store} · 店员 {staff} · {at}', 'Store {store} · staff {staff} · {at}'],
  'desk.valid': ['有效期', 'Valid'],
  'desk.user': ['持券用户', 'Holder'],
  'desk.state': ['券状态', 'State'],
  'desk.template': ['券模板', 'Template'],
  'desk.intro': ['扫码枪扫描或手动输入券码后按回车查询。', 'Scan or type the code, then press Enter.'],
  'desk.reason.NOT_STARTED': ['尚未到可用时间', 'not valid yet'],
  'desk.reason.EXPIRED': ['券已过期', 'the coupon has expired'],
  'desk.reason.NOT_AVAILABLE': ['该券已使用、冻结或作废', 'it is used, held by an order or voided'],
  'desk.reason.CHANNEL': ['该券不能在门店核销', 'it cannot be spent at a counter'],
  'desk.used_again': ['该券已核销，不能重复使用', 'This coupon is already redeemed; it cannot be used twice'],
  'desk.not_here': ['券码不存在，或不属于本门店可核销的范围', 'No such code, or this store may not redeem it'],
  'desk.malformed': ['券码有误（校验位不符），请核对后重新输入', 'The code is mistyped (its check character is wrong); check it'],
});

const STORE_KEY = 'couponflow.desk.store';
const STAFF_KEY = 'couponflow.desk.staff';

// What the person typed, as the API reads it: no spaces or hyphens, upper case.
export function normaliseCode(text) {
  return String(text).replace(/[\s\u3000\-–—_]+/g, '').toUpperCase();
}

function readable(error) {
  if (error.code === 'COUPON_NOT_FOUND') return t('desk.not_here');
  if (error.code === 'COUPON_STATE') return t('desk.used_again');
  if (error.code === 'VALIDATION_FAILED' && /code/i.test(JSON.stringify(error.problem?.errors || error.problem?.field || error.problem?.detail || ''))) {
    return t('desk.malformed');
  }
  return error.message;
}

function reasonText(reason) {
  const key = `desk.reason.${reason}`;
  const text = t(key);
  return text === key ? reason : text;
}

function benefitLine(view) {
  return view.item || t(`kind.${view.benefit_kind}`);
}

export default {
  id: 'desk',
  roles: ['admin', 'operator', 'merchant', 'partner'],
  async render(ctx) {
    useOpsStyles();
    const shops = ctx.me.shops || [];
    const code = h('input', { name: 'code', autocomplete: 'off', spellcheck: false, placeholder: 'XXXX XXXX XXXX', dataset: { field: 'code' }, 'aria-label': t('desk.code') });
    const store = h('input', { name: 'store', list: 'desk-shops', dataset: { field: 'store' }, value: localStorage.getItem(STORE_KEY) || shops[0] || '' });
    const staff = h('input', { name: 'staff', dataset: { field: 'staff' }, value: localStorage.getItem(STAFF_KEY) || '' });
    const lookup = h('button.primary', { type: 'submit', dataset: { action: 'preview' } }, t('desk.preview'));
    const result = h('div.desk-result', { 'aria-live': 'polite', dataset: { result: '' } });
    let current = null;

    const showProblem = (message) => mount(result, h('div.verdict.bad', { role: 'alert', dataset: { verdict: 'error' } }, message));

    const showCoupon = (view, { done } = {}) => {
      const usable = view.usable && !done;
      const holder = h('span', '—');
      const confirm = h('button.primary', { type: 'button', dataset: { action: 'confirm' }, disabled: !usable }, t('desk.confirm'));
      const next = h('button.secondary', { type: 'button', dataset: { action: 'next' } }, t('desk.again'));
      next.addEventListener('click', () => {
        mount(result);
        code.value = '';
        current = null;
        code.focus();
      });
      confirm.addEventListener('click', () => confirmCoupon(view.code, confirm));
      let verdict;
      if (done) {
        verdict = h('div.verdict.done', { dataset: { verdict: 'done' } }, h('div', t('desk.done')),
          h('div', { style: { fontSize: '13px', fontWeight: 400, marginTop: '4px' } },
            t('desk.done_detail', { store: view.store_id || store.value, staff: view.staff_id || staff.value, at: dateTime(new Date().toISOString()) })));
      } else if (view.usable) {
        verdict = h('div.verdict.ok', { dataset: { verdict: 'usable' } }, t('desk.usable'));
      } else {
        verdict = h('div.verdict.bad', { dataset: { verdict: 'unusable' } }, t('desk.unusable', { reason: reasonText(view.reason) }));
      }
      mount(result, h(`div.coupon-ticket${view.usable || done ? '' : '.unusable'}`, { dataset: { coupon: view.code } },
        h('div.stub', h('span.kind', t(`kind.${view.benefit_kind}`)), h('span.item', benefitLine(view))),
        h('div.body',
          h('h3', view.template_name),
          h('p.muted', { style: { margin: '0 0 14px' } }, view.description || ''),
          facts([
            [t('desk.code'), h('span.mono', view.code)],
            [t('desk.state'), stateBadge(done ? 'redeemed' : view.state)],
            [t('desk.user'), holder],
            [t('desk.valid'), `${dateTime(view.valid_from)} – ${dateTime(view.valid_until)}`],
          ]),
          verdict,
          h('div.desk-actions', done ? null : confirm, next))));
      // The holder is on the coupon itself, which not every verifier may read.
      api('GET', `/v1/coupons/${encodeURIComponent(view.code)}`, { token: ctx.token })
        .then((coupon) => { holder.textContent = coupon.user_id || '—'; })
        .catch(() => {});
      if (usable) confirm.focus();
    };

    const confirmCoupon = async (couponCode, button) => {
      if (!staff.value.trim()) {
        staff.focus();
        return showProblem(t('desk.need_staff'));
      }
      button.disabled = true;
      try {
        const spent = await api('POST', `/v1/verifications/${encodeURIComponent(couponCode)}/confirm`, {
          token: ctx.token, body: { store: store.value.trim(), staff: staff.value.trim() },
        });
        localStorage.setItem(STAFF_KEY, staff.value.trim());
        current = spent;
        showCoupon(spent, { done: true });
      } catch (error) {
        button.disabled = false;
        const box = result.querySelector('.verdict');
        const message = readable(error);
        if (box) {
          box.className = 'verdict bad';
          box.dataset.verdict = 'error';
          box.setAttribute('role', 'alert');
          box.textContent = message;
        } else {
          showProblem(message);
        }
      }
    };

    const form = h('form.card.desk', {
      onsubmit: async (event) => {
        event.preventDefault();
        const typed = normaliseCode(code.value);
        if (!typed) {
          code.focus();
          return showProblem(t('desk.need_code'));
        }
        if (!store.value.trim()) {
          store.focus();
          return showProblem(t('desk.need_store'));
        }
        localStorage.setItem(STORE_KEY, store.value.trim());
        lookup.disabled = true;
        mount(result, h('div.empty', t('ui.loading')));
        try {
          current = await api('POST', '/v1/verifications', { token: ctx.token, body: { code: typed, store: store.value.trim() } });
          showCoupon(current);
        } catch (error) {
          current = null;
          showProblem(readable(error));
        } finally {
          lookup.disabled = false;
        }
      },
    },
    h('p.muted', { style: { marginTop: 0 } }, t('desk.intro')),
    h('div.desk-code', field(t('desk.code'), code, { hint: t('desk.code_hint') })),
    h('div.form-row',
      field(t('desk.store'), store, { hint: t('desk.store_hint') }),
      field(t('desk.staff'), staff, { hint: t('desk.staff_hint') }),
      lookup),
    h('datalist#desk-shops', shops.map((shop) => h('option', { value: shop }))));
    mount(ctx.root, header(t('nav.desk')), form, h('div.desk', result));
    code.focus();
    void current;
  },
};
