// The service's /v1 API, same origin. A bearer token, when the service wants one, is typed by the
// person and kept in this tab only (sessionStorage); the service never sends a secret to the page.

const TOKEN_KEY = 'component-playground-token';

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.type = error.type || 'http_error';
    this.problems = Array.isArray(error.problems) ? error.problems : [];
    this.body = body;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export async function call(method, path, { body, query, signal } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== '') url.searchParams.set(key, String(value));
  }
  const headers = { Accept: 'application/json' };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const started = performance.now();
  const response = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { error: { type: 'http_error', message: text.slice(0, 500) } };
    }
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return { data, ms: performance.now() - started };
}

/** `$.a.b[0]` (the runtime's problem path) as rjsf's error schema `{a: {b: {0: {__errors: [...]}}}}`. */
export function errorSchema(problems) {
  const root = {};
  for (const problem of problems) {
    const parts = [];
    const re = /\.([^.[\]]+)|\[(\d+)\]|\['([^']*)'\]/g;
    let match;
    const path = String(problem.path || '$');
    while ((match = re.exec(path)) !== null) parts.push(match[1] ?? match[2] ?? match[3]);
    let node = root;
    for (const part of parts) node = node[part] = node[part] || {};
    node.__errors = [...(node.__errors || []), problem.message];
  }
  return root;
}
