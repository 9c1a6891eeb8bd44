// The one way the pages call the API: JSON in, JSON out, and every failure
// turned into an ApiProblem whose message a person can read (in the page's
// language), never raw JSON.
import { t, problemMessage } from './i18n.js';

export class ApiProblem extends Error {
  constructor(status, problem) {
    super(problemMessage(problem, status));
    this.status = status;
    this.code = problem.code || 'UNKNOWN';
    this.problem = problem;
  }
}

// `token` is an API key (`cf_…`) or a user token (`u1.…`); `query` an object
// of search parameters (empty values are left out).
export async function api(method, path, { token, body, query, raw } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== '') url.searchParams.set(name, value);
  }
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  let payload;
  if (body instanceof Blob || typeof body === 'string') {
    payload = body;
  } else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, { method, headers, body: payload });
  } catch (error) {
    throw new ApiProblem(0, { code: 'NETWORK', detail: String(error) });
  }
  if (raw && response.ok) return response;
  const text = await response.text();
  let parsed = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
  }
  if (!response.ok) {
    throw new ApiProblem(response.status, parsed && typeof parsed === 'object' ? parsed : { detail: t('error.unreadable') });
  }
  return parsed;
}

// Every page of a cursor-paginated list, up to `max` items.
export async function apiAll(path, { token, query, max = 2000 } = {}) {
  const items = [];
  let cursor;
  do {
    const page = await api('GET', path, { token, query: { ...query, limit: 500, cursor } });
    items.push(...(page.items || []));
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}
