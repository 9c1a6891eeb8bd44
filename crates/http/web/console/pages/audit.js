// The audit log (操作日志): every staff action, newest first, filtered by
// actor and path, with each request and answer shown as readable fields.
import { api } from '/web/api.js';
import { dateTime, register, t } from '/web/i18n.js';
import { busy, card, field, h, header, mount } from '../ui.js';
import { useOpsStyles } from './codes-common.js';

register({
  'audit.actor': ['操作人', 'Actor'],
  'audit.actor_hint': ['如 key:key_…', 'For example key:key_…'],
  'audit.path': ['接口路径', 'Path'],
  'audit.path_hint': ['如 /v1/templates', 'For example /v1/templates'],
  'audit.filter': ['筛选', 'Filter'],
  'audit.clear': ['清除', 'Clear'],
  'audit.at': ['时间', 'When'],
  'audit.role': ['角色', 'Role'],
  'audit.action': ['操作', 'Action'],
  'audit.status': ['结果', 'Result'],
  'audit.empty': ['没有符合条件的操作记录', 'No entry matches'],
  'audit.before': ['操作前', 'Before'],
  'audit.request': ['请求内容', 'Request'],
  'audit.response': ['返回内容', 'Answer'],
  'audit.nothing': ['（无内容）', '(nothing)'],
  'audit.not_json': ['（非 JSON 内容）', '(not JSON)'],
  'audit.show': ['详情', 'Details'],
  'audit.hide': ['收起', 'Hide'],
  'audit.ok': ['成功', 'OK'],
  'audit.failed': ['失败', 'Failed'],
  'audit.masked': ['已隐藏，只显示开头', 'Hidden; only its start is shown'],
  'audit.nested': ['{n} 项', '{n} entries'],
});

// A readable view of a JSON text: top-level fields as a key/value list,
// nested values as indented text inside a <details>.
export function readableBody(text) {
  if (!text) return h('span.muted', t('audit.nothing'));
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    return h('div', h('span.muted', t('audit.not_json')), h('pre.mono', text.slice(0, 4000)));
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return nested(value);
  }
  const entries = Object.entries(value);
  if (!entries.length) return h('span.muted', t('audit.nothing'));
  return h('dl.kv', entries.map(([key, item]) => [h('dt', key), h('dd', SECRET.test(key) && typeof item === 'string' ? masked(item) : nested(item))]));
}

// Secrets and keys an answer carried are not shown again in full.
const SECRET = /secret|password|token|^key$/i;

function masked(text) {
  return h('span.mono', { title: t('audit.masked') }, `${text.slice(0, 6)}${'•'.repeat(8)}`);
}

function nested(item) {
  if (item === null || item === undefined) return '—';
  if (typeof item !== 'object') return String(item);
  if (Array.isArray(item) && item.length <= 20 && item.every((one) => one === null || typeof one !== 'object')) {
    return item.length ? item.join(', ') : '[]';
  }
  const size = Array.isArray(item) ? item.length : Object.keys(item).length;
  return h('details', h('summary', t('audit.nested', { n: size })), h('pre.mono', JSON.stringify(item, null, 2)));
}

export default {
  id: 'audit',
  roles: ['admin', 'finance'],
  async render(ctx) {
    useOpsStyles();
    const actor = h('input', { dataset: { field: 'actor' }, placeholder: 'key:key_…' });
    const path = h('input', { dataset: { field: 'path' }, placeholder: '/v1/templates' });
    const filter = h('button.primary', { type: 'submit', dataset: { action: 'filter' } }, t('audit.filter'));
    const clear = h('button.secondary', { type: 'button' }, t('audit.clear'));
    const body = h('tbody');
    const list = h('div', { dataset: { audit: '' } });
    const more = h('button.secondary', { dataset: { action: 'more' } }, t('ui.more'));
    let cursor = null;
    let shown = 0;

    const row = (entry) => {
      const detail = h('tr.detail-row.hidden', h('td', { colSpan: 6 },
        h('div.audit-detail',
          entry.before ? h('div', { dataset: { before: '' } }, h('h4', t('audit.before')), readableBody(entry.before)) : null,
          h('div', h('h4', t('audit.request')), readableBody(entry.request)),
          h('div', h('h4', t('audit.response')), readableBody(entry.response)))));
      const toggle = h('button.link', { type: 'button', 'aria-expanded': 'false', dataset: { action: 'details' } }, t('audit.show'));
      toggle.addEventListener('click', () => {
        const open = detail.classList.toggle('hidden') === false;
        toggle.setAttribute('aria-expanded', String(open));
        toggle.textContent = open ? t('audit.hide') : t('audit.show');
      });
      const ok = entry.status < 400;
      const roleText = t(`role.${entry.role}`);
      return [h('tr', { dataset: { entry: entry.id } },
        h('td', dateTime(entry.at)),
        h('td.mono', entry.actor),
        h('td', roleText === `role.${entry.role}` ? entry.role : roleText),
        h('td', h('span.badge.method', entry.method), ' ', h('span.mono', entry.path)),
        h('td', h(`span.${ok ? 'status-ok' : 'status-bad'}`, `${entry.status} ${ok ? t('audit.ok') : t('audit.failed')}`)),
        h('td', toggle)), detail];
    };

    const load = async (reset) => {
      if (reset) {
        cursor = null;
        shown = 0;
        body.replaceChildren();
      }
      const page = await api('GET', '/v1/audit-log', {
        token: ctx.token, query: { actor: actor.value.trim(), path: path.value.trim(), limit: 50, cursor },
      });
      for (const entry of page.items) body.append(...row(entry));
      shown += page.items.length;
      cursor = page.next_cursor;
      mount(list, shown
        ? h('table.grid', h('thead', h('tr', [t('audit.at'), t('audit.actor'), t('audit.role'), t('audit.action'), t('audit.status'), ''].map((title) => h('th', title)))), body)
        : h('div.empty', t('audit.empty')),
      cursor ? h('div.form-actions', more) : null);
    };
    more.addEventListener('click', () => busy(more, () => load(false)));
    clear.addEventListener('click', () => {
      actor.value = '';
      path.value = '';
      busy(filter, () => load(true));
    });
    const form = h('form.filters', {
      onsubmit: (event) => {
        event.preventDefault();
        busy(filter, () => load(true));
      },
    }, field(t('audit.actor'), actor, { hint: t('audit.actor_hint') }), field(t('audit.path'), path, { hint: t('audit.path_hint') }),
    h('div.field', h('span.label', '\u00a0'), h('div.actions', filter, clear)), h('div.field', h('span.hint', '\u00a0')));
    mount(ctx.root, header(t('nav.audit')), card(null, form), card(null, list));
    mount(list, h('div.empty', t('ui.loading')));
    await load(true);
  },
};
