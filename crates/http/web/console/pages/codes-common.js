// What the operations pages (code batches, grants, desk, statistics,
// alerts, audit log, webhooks) share: their stylesheet, their words, the
// template picker and a small "facts" list.
import { apiAll } from '/web/api.js';
import { register, t } from '/web/i18n.js';
import { h, useStyles } from '../ui.js';

register({
  'ops.template': ['券模板', 'Template'],
  'ops.template_pick': ['请选择券模板', 'Choose a template'],
  'ops.no_templates': ['没有可用的券模板（需已审核通过且未结束）', 'No usable template (it must be approved and not ended)'],
  'ops.created_at': ['创建时间', 'Created'],
  'ops.created_by': ['创建人', 'Created by'],
  'ops.finished_at': ['完成时间', 'Finished'],
  'ops.status': ['状态', 'Status'],
  'ops.back': ['← 返回列表', '← Back to the list'],
  'ops.download_csv': ['下载 CSV', 'Download CSV'],
  'ops.downloaded': ['已下载 {rows} 行', 'Downloaded {rows} rows'],
  'ops.refresh': ['刷新', 'Refresh'],
  'ops.id': ['编号', 'ID'],
  'ops.actions': ['操作', 'Actions'],
  'ops.yes': ['是', 'Yes'],
  'ops.no': ['否', 'No'],
  'state.completed': ['已完成', 'Completed'],
  'state.failed': ['失败', 'Failed'],
  'state.pending': ['排队中', 'Queued'],
  'state.done': ['已完成', 'Done'],
  'state.granted': ['已发放', 'Issued'],
  'state.skipped': ['未发放', 'Skipped'],
  'state.delivered': ['已送达', 'Delivered'],
  'state.approved': ['已通过', 'Approved'],
  'state.redeemed': ['已核销', 'Redeemed'],
  'state.unbound': ['未领取', 'Unbound'],
  'state.deleted': ['已删除', 'Deleted'],
  'kind.cash': ['现金券', 'Cash'],
  'kind.threshold': ['满减券', 'Threshold'],
  'kind.every': ['每满减', 'Every-N off'],
  'kind.percent': ['折扣券', 'Percent off'],
  'kind.fixed_price': ['特价券', 'Fixed price'],
  'kind.add_on': ['换购券', 'Add-on'],
  'kind.shipping': ['运费券', 'Shipping'],
  'kind.cashback': ['满返券', 'Cashback'],
  'kind.gift': ['礼品券', 'Gift'],
  'kind.trial': ['体验券', 'Trial'],
});

export function useOpsStyles() {
  useStyles('codes-ops');
}

// Templates of `statuses` (all when empty), newest first, read once per page.
export async function loadTemplates(token, statuses = []) {
  const all = await apiAll('/v1/templates', { token, max: 1000 });
  return statuses.length ? all.filter((tpl) => statuses.includes(tpl.status)) : all;
}

// A <select> of templates, its value the template id.
export function templateSelect(templates, { selected, name = 'template', placeholder = true } = {}) {
  return h('select', { name, dataset: { field: name }, required: true },
    placeholder ? h('option', { value: '' }, t('ops.template_pick')) : null,
    templates.map((tpl) => h('option', { value: tpl.id, selected: tpl.id === selected },
      `${tpl.name} · ${t(`kind.${tpl.benefit?.kind}`)} · ${t(`state.${tpl.status}`)}`)));
}

// A definition list of [label, value, {big, name}] rows.
export function facts(rows) {
  return h('dl.facts', rows.filter(Boolean).map(([label, value, opts = {}]) => h('div', { dataset: opts.name ? { fact: opts.name } : {} },
    h('dt', label), h(opts.big ? 'dd.big' : 'dd', value ?? '—'))));
}

// A number with its label, coloured by `tone` ('ok' | 'bad').
export function countChip(label, value, { tone, name } = {}) {
  return h(`div.count-chip${tone ? `.${tone}` : ''}`, { dataset: name ? { count: name } : {} },
    h('span.n', String(value ?? 0)), h('span.l', label));
}

// A badge for any state-like word the pages show.
export function stateBadge(state) {
  return h(`span.badge.state-${state}`, { dataset: { state } }, t(`state.${state}`));
}

export function number(value) {
  if (value === null || value === undefined) return '—';
  return Number(value).toLocaleString('zh-CN');
}
