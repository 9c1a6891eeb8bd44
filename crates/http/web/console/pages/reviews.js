// The review queue: templates waiting for review (pending_review), with who
// created them and their plain-language summary. A reviewer takes the
// operations step, finance the finance step, an admin either. Approve with
// an optional reason, reject with a required one; what the API refuses
// (SELF_REVIEW, another's step) shows as its readable message.
import { api, apiAll } from '/web/api.js';
import { dateTime, register, t, yuan } from '/web/i18n.js';
import { closeOnEscape, dialog, h, header, mount, toast, useStyles } from '../ui.js';
import { summaryOf } from './templates.js';

register({
  'rv.intro': ['以下券模板等待审核。创建人不能审核自己的模板。', 'These templates wait for review. Nobody reviews their own template.'],
  'rv.none': ['没有待审核的券模板', 'Nothing waits for review'],
  'rv.approve': ['通过', 'Approve'],
  'rv.reject': ['驳回', 'Reject'],
  'rv.approve_title': ['通过审核：{name}', 'Approve: {name}'],
  'rv.reject_title': ['驳回：{name}', 'Reject: {name}'],
  'rv.reason': ['审核意见', 'Reason'],
  'rv.reason_optional': ['可选，将记录在操作记录中', 'Optional; kept in the history'],
  'rv.reason_required': ['请填写驳回原因，创建人会看到', 'Say why; the creator will see it'],
  'rv.reason_missing': ['驳回时必须填写原因', 'A rejection needs a reason'],
  'rv.approved': ['已通过：{name}', 'Approved: {name}'],
  'rv.to_finance': ['已通过运营审核，等待财务复核：{name}', 'Approved; now waits for the finance review: {name}'],
  'rv.rejected': ['已驳回：{name}', 'Rejected: {name}'],
  'rv.created_by': ['创建人 {who}', 'By {who}'],
  'rv.submitted_at': ['提交于 {at}', 'Submitted {at}'],
  'rv.mine': ['（我创建的）', '(mine)'],
  'rv.budget': ['预算 {money}', 'Budget {money}'],
  'rv.total': ['总量 {n} 张', '{n} coupons'],
  'rv.view': ['查看详情', 'Details'],
  'rv.count': ['共 {count} 个待审核', '{count} waiting'],
});

// Which review steps the role takes.
function stepsFor(role) {
  if (role === 'admin') return ['operations', 'finance'];
  if (role === 'finance') return ['finance'];
  return ['operations'];
}

function reviewDialog(ctx, tpl, decision) {
  const reason = h('textarea', { rows: 3, maxLength: 1000, dataset: { field: 'reason' }, 'aria-label': t('rv.reason') });
  const error = h('p.dialog-error', { role: 'alert', dataset: { dialog: 'error' } });
  const confirm = h(`button.${decision === 'approve' ? 'primary' : 'danger'}`, { dataset: { action: 'confirm-review' } },
    t(decision === 'approve' ? 'rv.approve' : 'rv.reject'));
  const { close } = dialog(t(decision === 'approve' ? 'rv.approve_title' : 'rv.reject_title', { name: tpl.name }),
    h('label.field', h('span.label', t('rv.reason')), reason,
      h('span.hint', t(decision === 'approve' ? 'rv.reason_optional' : 'rv.reason_required'))),
    error,
    h('div.dialog-buttons', h('button.secondary', { onclick: () => close() }, t('ui.cancel')), confirm));
  confirm.addEventListener('click', async () => {
    const text = reason.value.trim();
    if (decision === 'reject' && !text) {
      error.textContent = t('rv.reason_missing');
      reason.focus();
      return;
    }
    error.textContent = '';
    confirm.disabled = true;
    try {
      const after = await api('POST', `/v1/templates/${encodeURIComponent(tpl.id)}/reviews`, {
        token: ctx.token, body: { decision, reason: text || null },
      });
      close();
      const key = decision === 'reject' ? 'rv.rejected' : after.status === 'pending_review' ? 'rv.to_finance' : 'rv.approved';
      toast(t(key, { name: tpl.name }), 'ok');
      ctx.refresh();
    } catch (problem) {
      error.textContent = problem.message;
      toast(problem.message, 'error');
    } finally {
      confirm.disabled = false;
    }
  });
  closeOnEscape(close);
  reason.focus();
}

export default {
  id: 'reviews',
  roles: ['admin', 'reviewer', 'finance'],
  async render(ctx) {
    useStyles('template-form');
    mount(ctx.root, header(t('nav.reviews')), h('div.empty', t('ui.loading')));
    const steps = stepsFor(ctx.role);
    const waiting = (await apiAll('/v1/templates', { token: ctx.token, query: { status: 'pending_review' } }))
      .filter((tpl) => steps.includes(tpl.review_step || 'operations'))
      .sort((a, b) => a.updated_at.localeCompare(b.updated_at));
    const me = `key:${ctx.me.id}`;
    const items = waiting.map((tpl) => {
      const step = tpl.review_step || 'operations';
      const facts = [];
      if (tpl.limits.budget !== undefined) facts.push(t('rv.budget', { money: yuan(tpl.limits.budget) }));
      if (tpl.limits.total !== undefined) facts.push(t('rv.total', { n: tpl.limits.total }));
      return h(`article.review-item${step === 'finance' ? '.finance' : ''}`, { dataset: { review: tpl.id } },
        h('div',
          h('h3', h('a', { href: `#/templates/${encodeURIComponent(tpl.id)}` }, tpl.name), ' ',
            h(`span.step-tag${step === 'finance' ? '.finance' : ''}`, t(`tpl.step.${step}`))),
          h('div.summary-cell', { dataset: { summary: tpl.id } }, summaryOf(tpl)),
          h('div.meta',
            h('span', t('rv.created_by', { who: tpl.created_by }), tpl.created_by === me ? t('rv.mine') : ''),
            h('span', t('rv.submitted_at', { at: dateTime(tpl.updated_at) })),
            facts.map((fact) => h('span', fact)))),
        h('div.actions',
          h('button.danger', { dataset: { action: 'reject' }, onclick: () => reviewDialog(ctx, tpl, 'reject') }, t('rv.reject')),
          h('button.primary', { dataset: { action: 'approve' }, onclick: () => reviewDialog(ctx, tpl, 'approve') }, t('rv.approve'))));
    });
    mount(ctx.root,
      header(t('nav.reviews'), h('span.muted', { dataset: { count: 'reviews' } }, t('rv.count', { count: waiting.length }))),
      h('p.muted', t('rv.intro')),
      items.length ? h('div.review-list', items) : h('section.card', h('div.empty', { dataset: { empty: 'reviews' } }, t('rv.none'))));

  },
};
