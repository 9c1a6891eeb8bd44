// Small building blocks for the user pages. Elements are built with `h`,
// never from HTML strings, so text from the API cannot become markup.

import { h, mount } from '/web/dom.js';

export { h, mount };

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
  return h('div.state.empty', { dataset: { state: 'empty' } }, h('div.empty-art', icon('ticket', 44)), h('p', text), action || null);
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

// Line icons drawn as SVG (no icon font, no emoji font needed).
const ICONS = {
  ticket: 'M3 7a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2v2.5a2.5 2.5 0 0 0 0 5V17a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2v-2.5a2.5 2.5 0 0 0 0-5Z M9 5v14',
  wallet: 'M3 7a2 2 0 0 1 2-2h12v4 M3 7v10a2 2 0 0 0 2 2h14V9H5a2 2 0 0 1-2-2Z M16 14h.01',
  bell: 'M6 16V11a6 6 0 0 1 12 0v5l2 2H4Z M10 20a2 2 0 0 0 4 0',
  gift: 'M4 11h16v9H4Z M3 7h18v4H3Z M12 7v13 M12 7c-2-4-6-3-5 0 M12 7c2-4 6-3 5 0',
  clock: 'M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18Z M12 7v5l3 2',
  check: 'M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18Z M8 12l3 3 5-6',
  back: 'M9 4 3 10l6 6 M3 10h12a6 6 0 0 1 0 12h-2',
};

export function icon(name, size = 22) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('width', String(size));
  svg.setAttribute('height', String(size));
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'icon');
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', ICONS[name] || ICONS.ticket);
  path.setAttribute('fill', 'none');
  path.setAttribute('stroke', 'currentColor');
  path.setAttribute('stroke-width', '1.8');
  path.setAttribute('stroke-linecap', 'round');
  path.setAttribute('stroke-linejoin', 'round');
  svg.append(path);
  return svg;
}
