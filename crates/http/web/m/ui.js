// Small building blocks for the user pages. Elements are built with `h`,
// never from HTML strings, so text from the API cannot become markup.

// h('button.primary#save', {onclick}, 'text', child…)
export function h(spec, attrs = {}, ...children) {
  if (attrs === null || typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs)) {
    children.unshift(attrs);
    attrs = {};
  }
  const [, tag = 'div', rest = ''] = /^([a-z0-9-]*)(.*)$/i.exec(spec);
  const element = document.createElement(tag || 'div');
  for (const part of rest.match(/[.#][^.#]+/g) || []) {
    if (part[0] === '.') element.classList.add(part.slice(1));
    else element.id = part.slice(1);
  }
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === 'dataset') {
      Object.assign(element.dataset, value);
    } else if (name === 'style' && typeof value === 'object') {
      Object.assign(element.style, value);
    } else if (name === 'class') {
      element.className = value;
    } else if (name in element && typeof value !== 'string') {
      element[name] = value;
    } else {
      element.setAttribute(name, value === true ? '' : value);
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function mount(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

// A passing note in the middle of the screen: kind 'ok' | 'error' | 'info'.
export function toast(message, kind = 'info') {
  const box = document.getElementById('toasts');
  const note = h(`div.toast.${kind}`, { role: kind === 'error' ? 'alert' : 'status', dataset: { toast: kind } }, message);
  box.append(note);
  setTimeout(() => note.remove(), kind === 'error' ? 5000 : 2500);
}

export function loading(text) {
  return h('div.state.loading', { dataset: { state: 'loading' } }, h('span.spinner'), text);
}

export function empty(text, action) {
  return h('div.state.empty', { dataset: { state: 'empty' } }, h('div.empty-art', '🎫'), h('p', text), action || null);
}

export function failure(message, retry, retryText) {
  return h('div.state.failure', { role: 'alert', dataset: { state: 'error' } },
    h('p', message),
    retry ? h('button.ghost', { type: 'button', onclick: retry, dataset: { action: 'retry' } }, retryText) : null);
}

// A bottom sheet; answers {close, body}. Escape and the backdrop close it.
export function sheet(title, ...children) {
  const body = h('div.sheet-body', children);
  const closeButton = h('button.sheet-close', { type: 'button', 'aria-label': '×', dataset: { action: 'close-sheet' } }, '×');
  const panel = h('section.sheet', { role: 'dialog', 'aria-modal': 'true', 'aria-label': title, tabindex: '-1' },
    h('header.sheet-head', h('h2', title), closeButton), body);
  const backdrop = h('div.backdrop', { dataset: { sheet: '' } }, panel);
  const close = () => {
    backdrop.remove();
    document.removeEventListener('keydown', onKey);
  };
  const onKey = (event) => { if (event.key === 'Escape') close(); };
  closeButton.addEventListener('click', close);
  backdrop.addEventListener('click', (event) => { if (event.target === backdrop) close(); });
  document.addEventListener('keydown', onKey);
  document.body.append(backdrop);
  panel.focus();
  return { close, body, panel };
}

// A random id for idempotent requests.
export function requestId(prefix) {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return `${prefix}-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}
