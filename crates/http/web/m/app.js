// The user pages' shell: the sign-in (the mall's token hand-off, or the demo
// mall's user picker), the hash router, the bottom tab bar and the language
// switch. Each page is a module in pages/ exporting { id, title, tab, render(ctx) }.
import { api, ApiProblem } from '/web/api.js';
import { t, lang, setLang } from '/web/i18n.js';
import './strings.js';
import { h, mount, toast, loading, failure, icon } from './ui.js';
import centre from './pages/centre.js';
import wallet from './pages/wallet.js';
import product from './pages/product.js';
import checkout from './pages/checkout.js';
import inbox from './pages/inbox.js';

const TOKEN_KEY = 'couponflow.m.token';
const RETURN_KEY = 'couponflow.m.return_url';
const PAGES = [centre, wallet, product, checkout, inbox];
const TABS = [
  { id: 'centre', hash: '#/', icon: 'ticket', label: 'm.tab.centre' },
  { id: 'wallet', hash: '#/wallet', icon: 'wallet', label: 'm.tab.wallet' },
  { id: 'inbox', hash: '#/inbox', icon: 'bell', label: 'm.tab.inbox' },
];

const root = document.getElementById('app');
const title = document.querySelector('[data-title]');
const tabbar = document.querySelector('[data-tabbar]');
const back = document.querySelector('[data-action=back]');
const langButton = document.querySelector('[data-action=lang]');
let session = null; // { token, user }
let catalogue; // undefined: not asked; null: no demo mall; else the catalogue
let renderCount = 0;

// The mall's hand-off: /m/?return_url=…#token=u1.… (the token leaves the URL at once).
function takeHandOff() {
  const hash = window.location.hash;
  const query = new URLSearchParams(window.location.search);
  if (query.get('return_url')) sessionStorage.setItem(RETURN_KEY, query.get('return_url'));
  // The mall may pass the shopper's language: ?lang=en or ?lang=zh.
  if (query.get('lang') === 'en' || query.get('lang') === 'zh') setLang(query.get('lang'));
  if (hash.startsWith('#token=')) {
    const params = new URLSearchParams(hash.slice(1));
    sessionStorage.setItem(TOKEN_KEY, params.get('token') || '');
    const next = params.get('next') || '/';
    history.replaceState(null, '', `${window.location.pathname}${window.location.search}#${next}`);
  }
}

async function demoCatalogue() {
  if (catalogue !== undefined) return catalogue;
  try {
    catalogue = await api('GET', '/m/api/catalogue');
  } catch (problem) {
    if (problem instanceof ApiProblem && problem.status === 404) catalogue = null;
    else throw problem;
  }
  return catalogue;
}

function parseHash() {
  const raw = window.location.hash.replace(/^#\/?/, '');
  const [path, search = ''] = raw.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { id: parts[0] || 'centre', params: parts.slice(1), query: new URLSearchParams(search) };
}

function navigate(hash) {
  if (window.location.hash === hash) render();
  else window.location.hash = hash;
}

function setTitle(text) {
  title.textContent = text;
  document.title = text;
}

function drawTabs(active) {
  mount(tabbar, TABS.map((tab) => h(`a.tab${tab.id === active ? '.active' : ''}`,
    { href: tab.hash, dataset: { tab: tab.id }, 'aria-current': tab.id === active ? 'page' : null },
    h('span.tab-icon', icon(tab.icon)), h('span.tab-label', t(tab.label)))));
}

function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  session = null;
  navigate('#/');
}

async function signIn(userId) {
  const answer = await api('POST', '/m/api/session', { body: { user_id: userId } });
  sessionStorage.setItem(TOKEN_KEY, answer.token);
  session = null;
  navigate('#/');
}

async function signInPage() {
  setTitle(t('m.title.signin'));
  tabbar.classList.add('hidden');
  back.classList.add('hidden');
  const demo = await demoCatalogue();
  if (!demo) {
    mount(root, h('section.signin', h('div.signin-logo', icon('ticket', 40)), h('p.signin-lead', t('m.signin.nodemo'))));
    return;
  }
  const error = h('p.signin-error', { role: 'alert', dataset: { signinError: '' } });
  const attempt = async (userId) => {
    error.textContent = '';
    try {
      await signIn(userId);
    } catch (problem) {
      error.textContent = problem.message;
    }
  };
  const field = h('input#signin-user', { type: 'text', placeholder: t('m.signin.placeholder'), autocomplete: 'username', dataset: { field: 'user' }, required: true });
  const form = h('form.signin-form', {
    onsubmit: (event) => { event.preventDefault(); attempt(field.value.trim()); },
  }, h('label', { for: 'signin-user' }, t('m.signin.other')), h('div.signin-row', field,
    h('button.primary', { type: 'submit', dataset: { action: 'signin' } }, t('m.signin.submit'))), error);
  mount(root, h('section.signin',
    h('div.signin-logo', icon('ticket', 40)),
    h('p.signin-lead', t('m.signin.lead')),
    h('h2', t('m.signin.demo')),
    h('div.demo-users', demo.users.map((user) => h('button.demo-user', {
      type: 'button', dataset: { demoUser: user }, onclick: () => attempt(user),
    }, h('span.avatar', user.slice(-2)), user))),
    form));
}

async function whoAmI(token) {
  const me = await api('GET', '/v1/me', { token });
  if (me.kind !== 'user') throw new ApiProblem(401, { code: 'UNAUTHORIZED' });
  return { token, user: me.user_id };
}

async function render() {
  const mine = ++renderCount;
  langButton.textContent = t('m.lang.other');
  document.documentElement.lang = lang() === 'en' ? 'en' : 'zh-CN';
  const token = sessionStorage.getItem(TOKEN_KEY);
  try {
    if (!token) {
      await signInPage();
      return;
    }
    if (!session || session.token !== token) {
      mount(root, loading(t('m.loading')));
      session = await whoAmI(token);
    }
  } catch (problem) {
    if (problem.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      session = null;
      toast(t('m.signin.expired'), 'error');
      await signInPage();
      return;
    }
    mount(root, failure(problem.message, render, t('m.retry')));
    return;
  }
  const { id, params, query } = parseHash();
  const page = PAGES.find((candidate) => candidate.id === id) || centre;
  setTitle(t(page.title));
  tabbar.classList.toggle('hidden', !page.tab);
  back.classList.toggle('hidden', Boolean(page.tab));
  drawTabs(page.tab);
  document.body.dataset.route = page.id;
  mount(root, loading(t('m.loading')));
  const ctx = {
    root, token: session.token, user: session.user, params, query,
    catalogue: await demoCatalogue().catch(() => null),
    navigate, refresh: render, setTitle, signOut,
    stale: () => mine !== renderCount,
  };
  try {
    await page.render(ctx);
  } catch (problem) {
    if (mine !== renderCount) return;
    mount(root, failure(problem.message || String(problem), render, t('m.retry')));
  }
}

langButton.addEventListener('click', () => {
  setLang(lang() === 'en' ? 'zh' : 'en');
  render();
});
back.addEventListener('click', () => {
  if (history.length > 1) history.back();
  else navigate('#/');
});
window.addEventListener('hashchange', () => {
  takeHandOff();
  render();
});
takeHandOff();
render();
