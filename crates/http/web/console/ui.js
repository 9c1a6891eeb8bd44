// Small building blocks for the console's pages. Elements are built with
// `h`, never from HTML strings, so text from the API cannot become markup.
import { t } from '/web/i18n.js';
import { h, mount } from '/web/dom.js';

export { h, mount };

// A passing note in the corner: kind 'ok' | 'error' | 'info'.
export function toast(message, kind = 'info') {
  const box = document.getElementById('toasts');
  const note = h(`div.toast.${kind}`, { role: kind === 'error' ? 'alert' : 'status' }, message);
  box.append(note);
  setTimeout(() => note.remove(), kind === 'error' ? 8000 : 4000);
}

// A table: columns [{ title, cell: row => node|text, class? }].
export function table(columns, rows, { empty } = {}) {
  if (!rows.length) return h('div.empty', empty || t('ui.empty'));
  return h('table.grid',
    h('thead', h('tr', columns.map((column) => h('th', { class: column.class || null }, column.title)))),
    h('tbody', rows.map((row) => h('tr', columns.map((column) => h('td', { class: column.class || null }, column.cell(row)))))));
}

// A page heading with actions on the right.
export function header(title, ...actions) {
  return h('div.page-head', h('h1', title), h('div.actions', actions));
}

export function card(title, ...children) {
  return h('section.card', title ? h('h2', title) : null, children);
}

// A labelled form field around `control`; `hint` shows under it, and
// `error` (an element the caller fills) shows problems.
export function field(label, control, { hint, name } = {}) {
  return h('label.field', { dataset: name ? { field: name } : {} },
    h('span.label', label), control, hint ? h('span.hint', hint) : null, h('span.field-error'));
}

// A coloured label for a state such as `active`, `pending_review`.
export function badge(state) {
  return h(`span.badge.state-${state}`, t(`state.${state}`));
}

// Runs `work` with `button` disabled, showing errors as a toast (the
// error's message is already readable); answers work's value or undefined.
export async function busy(button, work) {
  if (button) button.disabled = true;
  try {
    return await work();
  } catch (error) {
    toast(error.message, 'error');
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

// A modal dialog; answers { close, body }.
export function dialog(title, ...children) {
  const body = h('div.dialog-body', children);
  const shade = h('div.shade', h('div.dialog', { role: 'dialog', 'aria-label': title },
    h('div.dialog-head', h('h2', title), h('button.icon', { onclick: () => close(), 'aria-label': t('ui.close') }, '×')),
    body));
  const close = () => shade.remove();
  document.body.append(shade);
  return { close, body };
}

// Loads a page's own stylesheet (`/console/pages/<name>.css`) once.
export function useStyles(name) {
  const href = `/console/pages/${name}.css`;
  if (!document.querySelector(`link[href="${href}"]`)) {
    document.head.append(h('link', { rel: 'stylesheet', href }));
  }
}

// A page's failure to load, in place of its content.
export function failure(error) {
  return h('div.failure', { role: 'alert' }, error.message || String(error));
}

// ---- Added for code batches, grants, statistics and the audit log ----
// (An import may stand anywhere at a module's top level.)
import { api as callApi } from '/web/api.js';

// A progress bar for `percent` (0–100) with a readable label beside it.
export function progressBar(percent, label) {
  const value = Math.max(0, Math.min(100, Math.round(percent || 0)));
  return h('div.progress-line', { dataset: { progress: String(value) } },
    h('div.progress', { role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': String(value) },
      h('span', { style: { width: `${value}%` } })),
    h('span.progress-label', label === undefined ? `${value}%` : label));
}

// Downloads `path` (a CSV route) with the key sent, as the file `filename`;
// answers the text downloaded so callers can count its rows.
export async function downloadFile(token, path, filename, { query } = {}) {
  const response = await callApi('GET', path, { token, query, raw: true });
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const link = h('a', { href: url, download: filename, style: { display: 'none' } });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  return blob.text();
}

// Calls `tick` every `ms` while `element` stays on the page and `tick`
// answers true (keep going).
export function poll(element, ms, tick) {
  const step = async () => {
    if (!element.isConnected) return;
    let again = false;
    try {
      again = await tick();
    } catch (error) {
      toast(error.message, 'error');
      again = false;
    }
    if (again && element.isConnected) setTimeout(step, ms);
  };
  setTimeout(step, ms);
}

// Closes a dialog (the `close` of `dialog`) when Escape is pressed; a
// second close of a closed dialog does nothing.
export function closeOnEscape(close) {
  const onKey = (event) => {
    if (event.key !== 'Escape') return;
    document.removeEventListener('keydown', onKey);
    close();
  };
  document.addEventListener('keydown', onKey);
}
