// 消息: the user's messages, newest first; unread marked; a tap reads it.
import { api } from '/web/api.js';
import { t, lang } from '/web/i18n.js';
import { h, mount, empty, toast, icon } from '../ui.js';
import { minute } from '../coupon.js';

export default {
  id: 'inbox',
  title: 'm.title.inbox',
  tab: 'inbox',
  async render(ctx) {
    const page = await api('GET', `/v1/users/${encodeURIComponent(ctx.user)}/messages`, { token: ctx.token, query: { limit: 100 } });
    if (ctx.stale()) return;
    const english = lang() === 'en';
    const items = page.items || [];
    const unread = h('p.inbox-unread', { dataset: { unread: String(page.unread) } }, page.unread ? t('m.inbox.unread', { n: page.unread }) : '');
    const kind = (type) => (type.includes('expir') ? 'clock' : type.includes('redeem') ? 'check' : type.includes('refund') ? 'back' : 'gift');
    const row = (message) => {
      const element = h(`article.message${message.read_at ? '' : '.unread'}`, {
        dataset: { message: message.id, read: String(Boolean(message.read_at)) }, tabindex: '0', role: 'button',
      },
      h(`div.message-icon.kind-${kind(message.event_type)}`, icon(kind(message.event_type))),
      h('div.message-main',
        h('div.message-head', h('strong', english ? message.title_en : message.title_zh),
          message.read_at ? null : h('span.dot', { 'aria-label': t('m.inbox.new') })),
        h('p', english ? message.body_en : message.body_zh),
        h('time.soft', minute(message.created_at))));
      const read = async () => {
        if (message.read_at) return;
        try {
          const done = await api('POST', `/v1/users/${encodeURIComponent(ctx.user)}/messages/${encodeURIComponent(message.id)}/read`, { token: ctx.token });
          message.read_at = done.read_at || new Date().toISOString();
          element.classList.remove('unread');
          element.dataset.read = 'true';
          element.querySelector('.dot')?.remove();
          page.unread = Math.max(0, page.unread - 1);
          unread.textContent = page.unread ? t('m.inbox.unread', { n: page.unread }) : '';
          unread.dataset.unread = String(page.unread);
        } catch (problem) {
          toast(problem.message, 'error');
        }
      };
      element.addEventListener('click', read);
      element.addEventListener('keydown', (event) => { if (event.key === 'Enter') read(); });
      return element;
    };
    mount(ctx.root, unread, items.length ? h('div.messages', items.map(row)) : empty(t('m.inbox.empty')));
  },
};
