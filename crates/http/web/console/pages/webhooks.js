// Placeholder: this page is being built.
import { t } from '/web/i18n.js';
import { header, mount } from '../ui.js';

export default {
  id: 'webhooks',
  roles: ['admin'],
  async render(ctx) {
    mount(ctx.root, header(t('nav.webhooks')));
  },
};
