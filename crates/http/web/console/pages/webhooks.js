// Webhooks (SPEC §6.3): the URLs told of events, made and deleted here,
// and each one's delivery log. #/webhooks, #/webhooks/<id> (deliveries).
import { api } from '/web/api.js';
import { dateTime, register, t } from '/web/i18n.js';
import { busy, card, dialog, field, h, header, mount, table, toast } from '../ui.js';
import { stateBadge, useOpsStyles } from './codes-common.js';

register({
  'hooks.new': ['新建 Webhook', 'New webhook'],
  'hooks.url': ['接收地址', 'URL'],
  'hooks.url_hint': ['http 或 https 地址，事件以 JSON POST 过去', 'An http or https URL; events are POSTed to it as JSON'],
  'hooks.url_bad': ['请输入 http:// 或 https:// 开头的地址', 'Enter a URL starting with http:// or https://'],
  'hooks.events': ['订阅事件', 'Events'],
  'hooks.events_hint': ['可选整个类别（如 coupon.*）或全部（*）', 'Pick whole families (such as coupon.*) or everything (*)'],
  'hooks.events_none': ['请至少选择一个事件', 'Choose at least one event'],
  'hooks.secret': ['签名密钥（可选）', 'Signing secret (optional)'],
  'hooks.secret_hint': ['16–256 个字符；留空则自动生成', '16 to 256 characters; left empty, one is made for you'],
  'hooks.secret_bad': ['密钥长度需为 16–256 个字符', 'The secret must be 16 to 256 characters'],
  'hooks.create': ['创建', 'Create'],
  'hooks.created': ['Webhook 已创建', 'Webhook created'],
  'hooks.secret_once': ['签名密钥只显示这一次，请妥善保存：', 'The signing secret is shown this once; keep it safe:'],
  'hooks.list': ['已注册的 Webhook', 'Webhooks'],
  'hooks.empty': ['还没有 Webhook', 'No webhook yet'],
  'hooks.delete': ['删除', 'Delete'],
  'hooks.delete_title': ['删除 Webhook', 'Delete the webhook'],
  'hooks.delete_confirm': ['确定删除发往 {url} 的 Webhook？未送达的推送将被取消。', 'Delete the webhook to {url}? Pending deliveries are cancelled.'],
  'hooks.deleted': ['Webhook 已删除', 'Webhook deleted'],
  'hooks.deliveries': ['推送记录', 'Deliveries'],
  'hooks.deliveries_of': ['推送记录 · {url}', 'Deliveries · {url}'],
  'hooks.deliveries_empty': ['还没有推送记录', 'No delivery yet'],
  'hooks.event': ['事件', 'Event'],
  'hooks.attempts': ['尝试次数', 'Attempts'],
  'hooks.last_status': ['最后响应', 'Last answer'],
  'hooks.last_error': ['错误', 'Error'],
  'hooks.next': ['下次重试', 'Next attempt'],
  'hooks.delivered_at': ['送达时间', 'Delivered'],
  'hooks.retrying': ['待重试', 'Retrying'],
  'hooks.queued': ['待发送', 'Queued'],
  'hooks.all': ['全部事件 (*)', 'Every event (*)'],
  'hooks.family': ['{family}.* 全部', 'All {family}.*'],
});

const FAMILIES = {
  coupon: ['granted', 'claimed', 'locked', 'redeemed', 'returned', 'expiring', 'expired', 'voided'],
  template: ['created', 'changed', 'submitted', 'approved', 'rejected', 'activated', 'paused', 'resumed', 'ended'],
  campaign: ['created', 'changed', 'scheduled', 'paused', 'resumed', 'ended'],
  risk: ['alert'],
};

// A delivery's state in words: waiting for its first attempt or a retry,
// delivered, or given up on.
function deliveryBadge(delivery) {
  if (delivery.status === 'pending') {
    const key = delivery.attempts > 0 ? 'hooks.retrying' : 'hooks.queued';
    return h('span.badge.state-pending', { dataset: { state: 'pending' } }, t(key));
  }
  return stateBadge(delivery.status);
}

function createForm(ctx, onCreated) {
  const url = h('input', { type: 'url', dataset: { field: 'url' }, placeholder: 'https://mall.example/couponflow', required: true });
  const secret = h('input', { dataset: { field: 'secret' }, autocomplete: 'off', minlength: 16, maxlength: 256 });
  const boxes = [];
  const box = (value, label) => {
    const input = h('input', { type: 'checkbox', value, dataset: { event: value } });
    boxes.push(input);
    return h('label', input, label);
  };
  const events = h('div.event-boxes', box('*', t('hooks.all')),
    Object.entries(FAMILIES).flatMap(([family, names]) => [
      box(`${family}.*`, t('hooks.family', { family })),
      ...(names.length > 1 ? names.map((name) => box(`${family}.${name}`, `${family}.${name}`)) : []),
    ]));
  const urlField = field(t('hooks.url'), url, { hint: t('hooks.url_hint') });
  const eventsField = field(t('hooks.events'), events, { hint: t('hooks.events_hint') });
  const secretField = field(t('hooks.secret'), secret, { hint: t('hooks.secret_hint') });
  const mark = (which, message) => {
    which.classList.toggle('invalid', Boolean(message));
    which.querySelector('.field-error').textContent = message || '';
  };
  const submit = h('button.primary', { type: 'submit', dataset: { action: 'create' } }, t('hooks.create'));
  const form = h('form', {
    onsubmit: async (event) => {
      event.preventDefault();
      const chosen = boxes.filter((input) => input.checked).map((input) => input.value);
      const okUrl = /^https?:\/\/\S+$/i.test(url.value.trim());
      const okSecret = !secret.value || (secret.value.length >= 16 && secret.value.length <= 256);
      mark(urlField, okUrl ? '' : t('hooks.url_bad'));
      mark(eventsField, chosen.length ? '' : t('hooks.events_none'));
      mark(secretField, okSecret ? '' : t('hooks.secret_bad'));
      if (!okUrl || !chosen.length || !okSecret) return;
      const created = await busy(submit, () => api('POST', '/v1/webhooks', {
        token: ctx.token, body: { url: url.value.trim(), events: chosen, secret: secret.value || undefined },
      }));
      if (!created) return;
      form.reset();
      toast(t('hooks.created'), 'ok');
      const shown = dialog(t('hooks.created'), h('p', t('hooks.secret_once')), h('div.secret-box', { dataset: { secret: '' } }, created.secret),
        h('div.form-actions', h('button.primary', { type: 'button', dataset: { action: 'close' }, onclick: () => shown.close() }, t('ui.close'))));
      onCreated();
    },
  }, urlField, eventsField, secretField, h('div.form-actions', submit));
  return form;
}

async function listView(ctx) {
  const list = h('div', h('div.empty', t('ui.loading')));
  const load = async () => {
    const page = await api('GET', '/v1/webhooks', { token: ctx.token, query: { limit: 100 } });
    mount(list, table([
      { title: t('hooks.url'), cell: (w) => h('a.id-link.mono', { href: `#/webhooks/${encodeURIComponent(w.id)}`, dataset: { webhook: w.id } }, w.url) },
      { title: t('hooks.events'), cell: (w) => w.events.map((e) => h('span.badge', { style: { marginRight: '4px' } }, e)) },
      { title: t('ops.created_by'), cell: (w) => h('span.mono', w.created_by) },
      { title: t('ops.created_at'), cell: (w) => dateTime(w.created_at) },
      {
        title: t('ops.actions'),
        cell: (w) => h('div.actions',
          h('a.id-link', { href: `#/webhooks/${encodeURIComponent(w.id)}` }, t('hooks.deliveries')),
          h('button.danger', { type: 'button', dataset: { action: 'delete', webhook: w.id }, onclick: () => confirmDelete(w) }, t('hooks.delete'))),
      },
    ], page.items, { empty: t('hooks.empty') }));
  };
  const confirmDelete = (webhook) => {
    const yes = h('button.danger', { type: 'button', dataset: { action: 'confirm-delete' } }, t('hooks.delete'));
    const shown = dialog(t('hooks.delete_title'), h('p', t('hooks.delete_confirm', { url: webhook.url })),
      h('div.form-actions', yes, h('button.secondary', { type: 'button', onclick: () => shown.close() }, t('ui.cancel'))));
    yes.addEventListener('click', async () => {
      const done = await busy(yes, async () => {
        await api('DELETE', `/v1/webhooks/${encodeURIComponent(webhook.id)}`, { token: ctx.token });
        return true;
      });
      if (!done) return;
      shown.close();
      toast(t('hooks.deleted'), 'ok');
      await load();
    });
    yes.focus();
  };
  mount(ctx.root, header(t('nav.webhooks')),
    card(t('hooks.list'), list), card(t('hooks.new'), createForm(ctx, () => load())));
  await load();
}

async function deliveriesView(ctx, id) {
  const hooks = await api('GET', '/v1/webhooks', { token: ctx.token, query: { limit: 100 } });
  const hook = hooks.items.find((w) => w.id === id);
  const body = h('div', h('div.empty', t('ui.loading')));
  let rows = [];
  let cursor = null;
  const more = h('button.secondary', t('ui.more'));
  const load = async () => {
    const page = await api('GET', `/v1/webhooks/${encodeURIComponent(id)}/deliveries`, { token: ctx.token, query: { limit: 50, cursor } });
    rows = rows.concat(page.items);
    cursor = page.next_cursor;
    mount(body, table([
      { title: t('hooks.event'), cell: (d) => h('span.mono', d.event_type) },
      { title: t('ops.status'), cell: deliveryBadge },
      { title: t('hooks.attempts'), class: 'num', cell: (d) => d.attempts },
      { title: t('hooks.last_status'), cell: (d) => d.last_status ?? '—' },
      { title: t('hooks.last_error'), cell: (d) => d.last_error || '—' },
      { title: t('hooks.next'), cell: (d) => dateTime(d.next_attempt_at) },
      { title: t('hooks.delivered_at'), cell: (d) => dateTime(d.delivered_at) },
      { title: t('ops.created_at'), cell: (d) => dateTime(d.created_at) },
    ], rows, { empty: t('hooks.deliveries_empty') }), cursor ? h('div.form-actions', more) : null);
  };
  more.addEventListener('click', () => busy(more, load));
  mount(ctx.root, header(t('hooks.deliveries_of', { url: hook ? hook.url : id }), h('a.id-link', { href: '#/webhooks' }, t('ops.back'))), card(null, body));
  await load();
}

export default {
  id: 'webhooks',
  roles: ['admin'],
  async render(ctx) {
    useOpsStyles();
    const [id] = ctx.params;
    if (id) return deliveriesView(ctx, id);
    return listView(ctx);
  },
};
