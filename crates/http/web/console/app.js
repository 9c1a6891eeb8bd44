// The console's shell: staff sign-in with an API key, the navigation the
// key's role may use, the language switch and a hash router (#/page/arg…)
// that hands each page its own container.
import { api } from '/web/api.js';
import { lang, register, setLang, t } from '/web/i18n.js';
import { failure, h, mount } from './ui.js';
import './strings.js';
import dashboard from './pages/dashboard.js';
import templates from './pages/templates.js';
import reviews from './pages/reviews.js';
import campaigns from './pages/campaigns.js';
import codes from './pages/codes.js';
import grants from './pages/grants.js';
import desk from './pages/desk.js';
import stats from './pages/stats.js';
import alerts from './pages/alerts.js';
import audit from './pages/audit.js';
import webhooks from './pages/webhooks.js';

// In navigation order. Each page: { id, roles, render(ctx) } where ctx is
// { root, token, me, role, params, navigate(hash), refresh() }.
const PAGES = [dashboard, templates, reviews, campaigns, codes, grants, desk, stats, alerts, audit, webhooks];
const KEY_STORE = 'couponflow.console.key';

register({
  'shell.brand': ['Couponflow 运营后台', 'Couponflow Console'],
  'shell.sign_in': ['登录', 'Sign in'],
  'shell.sign_out': ['退出', 'Sign out'],
  'shell.key': ['API 密钥', 'API key'],
  'shell.key_hint': ['输入管理员为您创建的 API 密钥（cf_ 开头）', 'The API key an admin made for you (starts with cf_)'],
  'shell.welcome': ['欢迎使用 Couponflow', 'Welcome to Couponflow'],
  'shell.tagline': ['制券 → 发券 → 核销 → 统计，一站完成', 'Create, issue, redeem and analyse coupons in one place'],
  'shell.not_staff': ['此密钥不能登录控制台', 'This key cannot sign in to the console'],
  'shell.no_page': ['没有这个页面', 'No such page'],
});

const state = { token: sessionStorage.getItem(KEY_STORE), me: null };

function signOut() {
  sessionStorage.removeItem(KEY_STORE);
  state.token = null;
  state.me = null;
  window.location.hash = '';
  start();
}

function languageSwitch() {
  const other = lang() === 'zh' ? 'en' : 'zh';
  return h('button.lang', {
    dataset: { lang: other },
    onclick: () => { setLang(other); route(); },
  }, other === 'en' ? 'English' : '中文');
}

function loginPage(message) {
  const input = h('input#login-key', { type: 'password', autocomplete: 'current-password', placeholder: 'cf_…', required: true });
  const error = h('p.login-error', { role: 'alert' }, message || '');
  const form = h('form.login-card', {
    onsubmit: async (event) => {
      event.preventDefault();
      const button = form.querySelector('button[type=submit]');
      button.disabled = true;
      error.textContent = '';
      try {
        await signIn(input.value.trim());
      } catch (problem) {
        error.textContent = problem.message;
      } finally {
        button.disabled = false;
      }
    },
  },
  h('div.login-brand', h('span.logo', '券'), h('strong', t('shell.brand'))),
  h('h1', t('shell.welcome')), h('p.muted', t('shell.tagline')),
  h('label.field', h('span.label', t('shell.key')), input, h('span.hint', t('shell.key_hint'))),
  error,
  h('button.primary.wide', { type: 'submit' }, t('shell.sign_in')),
  h('div.login-foot', languageSwitch()));
  mount(document.getElementById('app'), h('div.login', form));
  document.getElementById('app').className = '';
  input.focus();
}

async function signIn(token) {
  const me = await api('GET', '/v1/me', { token });
  if (me.kind !== 'key' || !PAGES.some((page) => page.roles.includes(me.role))) {
    throw new Error(t('shell.not_staff'));
  }
  sessionStorage.setItem(KEY_STORE, token);
  state.token = token;
  state.me = me;
  route();
}

function allowed() {
  return PAGES.filter((page) => page.roles.includes(state.me.role));
}

async function route() {
  if (!state.me) return loginPage();
  document.documentElement.lang = lang() === 'en' ? 'en' : 'zh-CN';
  const [id, ...params] = window.location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const pages = allowed();
  const page = pages.find((candidate) => candidate.id === id) || (id ? null : pages[0]);
  const content = h('main.content', { dataset: { view: page ? page.id : 'none' } });
  const nav = h('nav.side', h('div.brand', h('span.logo', '券'), h('span', t('shell.brand'))),
    h('ul', pages.map((item) => h('li', h(`a${item === page ? '.current' : ''}`, {
      href: `#/${item.id}`, dataset: { nav: item.id },
    }, t(`nav.${item.id}`))))));
  const top = h('header.top',
    h('span.who', { 'data-who': '' }, `${state.me.label || state.me.id} · ${t(`role.${state.me.role}`)}`),
    languageSwitch(),
    h('button.link', { onclick: signOut, dataset: { action: 'sign-out' } }, t('shell.sign_out')));
  const app = document.getElementById('app');
  app.className = 'shell';
  mount(app, nav, h('div.main', top, content));
  if (!page) {
    mount(content, failure(new Error(t('shell.no_page'))));
    return;
  }
  document.title = `${t(`nav.${page.id}`)} · ${t('shell.brand')}`;
  const ctx = {
    root: content,
    token: state.token,
    me: state.me,
    role: state.me.role,
    params,
    navigate: (hash) => { window.location.hash = hash; },
    refresh: () => route(),
  };
  try {
    await page.render(ctx);
  } catch (error) {
    if (error.status === 401) return signOut();
    mount(content, failure(error));
  }
}

async function start() {
  if (!state.token) return loginPage();
  try {
    await signIn(state.token);
  } catch (error) {
    sessionStorage.removeItem(KEY_STORE);
    state.token = null;
    loginPage(error.message);
  }
}

window.addEventListener('hashchange', () => route());
start();
