// Placeholder: this page is being built.
import { t } from '/web/i18n.js';
import { header, mount } from '../ui.js';

export default {
  id: 'codes',
  roles: ['admin', 'operator', 'partner'],
  async render(ctx) {
    mount(ctx.root, header(t('nav.codes')));
  },
};
