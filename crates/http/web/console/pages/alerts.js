// Risk alerts (风控预警, SPEC §11): every breaker and code-guessing alert,
// newest first, with the template it concerns and, for a template a
// breaker paused, the way to resume it.
import { api } from '/web/api.js';
import { dateTime, register, t } from '/web/i18n.js';
import { busy, card, h, header, mount, toast } from '../ui.js';
import { loadTemplates, number, stateBadge, useOpsStyles } from './codes-common.js';

register({
  'alerts.at': ['时间', 'When'],
  'alerts.level': ['级别', 'Level'],
  'alerts.rule': ['规则', 'Rule'],
  'alerts.template': ['券模板', 'Template'],
  'alerts.value': ['触发值 / 阈值', 'Value / threshold'],
  'alerts.subject': ['对象', 'Subject'],
  'alerts.detail': ['详情', 'Detail'],
  'alerts.empty': ['暂无风控预警，一切正常', 'No risk alert: all is well'],
  'alerts.level.alert': ['预警', 'Alert'],
  'alerts.level.pause': ['已熔断暂停', 'Paused'],
  'alerts.rule.claims_per_minute': ['每分钟领取量', 'Claims per minute'],
  'alerts.rule.redemptions_per_minute': ['每分钟核销量', 'Redemptions per minute'],
  'alerts.rule.budget_used': ['预算使用比例', 'Budget used'],
  'alerts.rule.code_guessing': ['券码猜测', 'Code guessing'],
  'alerts.resume': ['恢复券模板', 'Resume the template'],
  'alerts.resumed': ['券模板已恢复', 'The template is resumed'],
  'alerts.filter': ['按券模板筛选', 'Filter by template'],
  'alerts.all': ['全部券模板', 'All templates'],
  'alerts.now': ['当前：', 'Now: '],
  'alerts.intro': ['熔断暂停的券模板需人工确认后恢复。', 'A template a breaker paused stays paused until staff resume it.'],
});

function ruleText(rule) {
  const text = t(`alerts.rule.${rule}`);
  return text === `alerts.rule.${rule}` ? rule : text;
}

function levelBadge(level) {
  return h(`span.badge.state-${level}`, { dataset: { level } }, t(`alerts.level.${level}`));
}

function valueText(alert) {
  const unit = alert.rule === 'budget_used' ? '%' : '';
  if (alert.value === null || alert.value === undefined) return '—';
  return `${number(alert.value)}${unit} / ${alert.threshold === null || alert.threshold === undefined ? '—' : `${number(alert.threshold)}${unit}`}`;
}

function detailText(alert) {
  if (alert.detail) return String(alert.detail);
  const data = alert.data || {};
  const skip = new Set(['rule', 'level', 'template_id', 'value', 'threshold', 'subject']);
  const parts = Object.entries(data).filter(([key, value]) => !skip.has(key) && value !== null && typeof value !== 'object')
    .map(([key, value]) => `${key}: ${value}`);
  return parts.join(' · ') || '—';
}

export default {
  id: 'alerts',
  roles: ['admin', 'operator', 'reviewer', 'finance'],
  async render(ctx) {
    useOpsStyles();
    mount(ctx.root, header(t('nav.alerts')), h('div.empty', t('ui.loading')));
    const templates = await loadTemplates(ctx.token).catch(() => []);
    const byId = new Map(templates.map((tpl) => [tpl.id, tpl]));
    const canResume = ctx.role === 'admin' || ctx.role === 'operator';
    const [only] = ctx.params;
    const filter = h('select', { dataset: { field: 'template' } },
      h('option', { value: '' }, t('alerts.all')),
      templates.map((tpl) => h('option', { value: tpl.id, selected: tpl.id === only }, tpl.name)));
    filter.addEventListener('change', () => ctx.navigate(filter.value ? `#/alerts/${encodeURIComponent(filter.value)}` : '#/alerts'));
    const list = h('div', { dataset: { alerts: '' } }, h('div.empty', t('ui.loading')));
    const more = h('button.secondary', { dataset: { action: 'more' } }, t('ui.more'));
    const tbody = h('tbody');
    let cursor = null;
    let count = 0;

    const resumeButton = (tpl) => {
      const button = h('button.primary', { type: 'button', dataset: { action: 'resume', template: tpl.id } }, t('alerts.resume'));
      button.addEventListener('click', () => busy(button, async () => {
        const resumed = await api('POST', `/v1/templates/${encodeURIComponent(tpl.id)}/resume`, { token: ctx.token });
        byId.set(tpl.id, { ...tpl, ...resumed });
        toast(t('alerts.resumed'), 'ok');
        for (const other of tbody.querySelectorAll(`[data-template-state="${CSS.escape(tpl.id)}"]`)) {
          other.replaceChildren(t('alerts.now'), stateBadge(resumed.status || 'active'));
        }
        for (const other of tbody.querySelectorAll(`button[data-action=resume][data-template="${CSS.escape(tpl.id)}"]`)) other.remove();
      }));
      return button;
    };

    const row = (alert) => {
      const tpl = alert.template_id ? byId.get(alert.template_id) : null;
      const templateCell = alert.template_id
        ? h('div', h('a.id-link', { href: `#/templates/${encodeURIComponent(alert.template_id)}` }, tpl ? tpl.name : alert.template_id),
          tpl ? h('div.muted', { style: { fontSize: '12px', marginTop: '4px' }, dataset: { templateState: alert.template_id } }, t('alerts.now'), stateBadge(tpl.status)) : null)
        : '—';
      const action = alert.level === 'pause' && tpl && tpl.status === 'paused' && canResume ? resumeButton(tpl) : null;
      return h('tr', { dataset: { alert: alert.id } },
        h('td', dateTime(alert.at)),
        h('td', levelBadge(alert.level)),
        h('td', ruleText(alert.rule)),
        h('td', templateCell),
        h('td.num', valueText(alert)),
        h('td', alert.subject ? h('span.mono', alert.subject) : '—'),
        h('td', detailText(alert)),
        h('td', action));
    };

    const load = async () => {
      const page = await api('GET', '/v1/risk/alerts', { token: ctx.token, query: { template: only, limit: 50, cursor } });
      for (const alert of page.items) tbody.append(row(alert));
      count += page.items.length;
      cursor = page.next_cursor;
      mount(list, count
        ? h('table.grid', h('thead', h('tr', [t('alerts.at'), t('alerts.level'), t('alerts.rule'), t('alerts.template'), t('alerts.value'), t('alerts.subject'), t('alerts.detail'), ''].map((title, i) => h('th', { class: i === 4 ? 'num' : null }, title)))), tbody)
        : h('div.empty', { dataset: { empty: '' } }, t('alerts.empty')),
      cursor ? h('div.form-actions', more) : null);
    };
    more.addEventListener('click', () => busy(more, load));
    mount(ctx.root, header(t('nav.alerts'), h('label.field', { style: { margin: 0, minWidth: '240px' } }, h('span.label', t('alerts.filter')), filter)),
      h('p.muted', t('alerts.intro')), card(null, list));
    await load();
  },
};
