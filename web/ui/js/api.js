// The API client: every call carries the credential from the session (header `X-Auth-Token` for
// the admin token, `St2-Api-Key` for an API key); server-sent events are read with a streaming
// fetch so the credential stays in a header and never appears in a URL.

const STORAGE_KEY = 'nerve.credential';

/** An API error: `status`, the server's `faultstring` as `message`, and diagnostics `details`. */
export class ApiError extends Error {
  constructor(status, message, details) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.details = details || [];
  }
}

/** The stored credential `{header, value}`, or null. */
export function credential() {
  try {
    const stored = localStorage.getItem(STORAGE_KEY);
    return stored ? JSON.parse(stored) : null;
  } catch {
    return null;
  }
}

/** Keeps the credential for this browser (survives reloads) until logout. */
export function saveCredential(header, value) {
  localStorage.setItem(STORAGE_KEY, JSON.stringify({ header, value }));
}

/** Forgets the credential. */
export function clearCredential() {
  localStorage.removeItem(STORAGE_KEY);
}

let onUnauthorized = () => {};

/** Called when the server refuses the stored credential (expired or revoked). */
export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

function headers(extra) {
  const result = { Accept: 'application/json', ...extra };
  const cred = credential();
  if (cred) result[cred.header] = cred.value;
  return result;
}

/** `/api/v1` + path, with `query` (an object; empty values dropped) appended. */
export function url(path, query) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  }
  const text = params.toString();
  return `/api/v1${path}${text ? (path.includes('?') ? '&' : '?') + text : ''}`;
}

async function fail(response) {
  let message = `${response.status} ${response.statusText}`;
  let details = [];
  try {
    const body = await response.json();
    if (body && body.faultstring) message = body.faultstring;
    if (body && Array.isArray(body.details)) details = body.details;
  } catch {
    // Not JSON: keep the status line.
  }
  if (response.status === 401) onUnauthorized(message);
  throw new ApiError(response.status, message, details);
}

/**
 * Sends a request. `body` is JSON unless `contentType` says otherwise. Returns
 * `{data, total, headers}` (`total` from `X-Total-Count` on lists).
 */
export async function request(method, path, { query, body, contentType, signal, raw } = {}) {
  const init = { method, headers: headers(), signal };
  if (body !== undefined) {
    init.headers['Content-Type'] = contentType || 'application/json';
    init.body = contentType ? body : JSON.stringify(body);
  }
  const response = await fetch(url(path, query), init);
  if (!response.ok) await fail(response);
  if (raw) return response;
  const total = response.headers.get('X-Total-Count');
  let data = null;
  if (response.status !== 204) {
    const text = await response.text();
    data = text ? JSON.parse(text) : null;
  }
  return { data, total: total === null ? null : Number(total), headers: response.headers };
}

export const get = (path, query, signal) => request('GET', path, { query, signal });
export const post = (path, body, options) => request('POST', path, { body, ...options });
export const put = (path, body, options) => request('PUT', path, { body, ...options });
export const del = (path, options) => request('DELETE', path, options);

/** Whether an error is an abort (navigation away, cleanup): never shown or logged. */
export function isAbort(error) {
  return error && (error.name === 'AbortError' || (signalReason(error) === 'aborted'));
}

function signalReason(error) {
  return error && error.message === 'aborted' ? 'aborted' : null;
}

/**
 * Reads an SSE endpoint until `signal` aborts or the server ends it, calling
 * `onEvent(name, data)` with parsed JSON data. Resolves when the stream ends; rejects on HTTP
 * errors (never on abort).
 */
export async function stream(path, query, onEvent, signal) {
  let response;
  try {
    response = await fetch(url(path, query), {
      headers: headers({ Accept: 'text/event-stream' }),
      signal,
      cache: 'no-store',
    });
  } catch (error) {
    if (isAbort(error) || (signal && signal.aborted)) return;
    throw error;
  }
  if (!response.ok) await fail(response);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let boundary;
      while ((boundary = buffer.search(/\r?\n\r?\n/)) >= 0) {
        const frame = buffer.slice(0, boundary);
        buffer = buffer.slice(boundary).replace(/^\r?\n\r?\n/, '');
        dispatch(frame, onEvent);
      }
    }
  } catch (error) {
    if (isAbort(error) || (signal && signal.aborted)) return;
    throw error;
  }
}

function dispatch(frame, onEvent) {
  let name = 'message';
  const data = [];
  for (const line of frame.split(/\r?\n/)) {
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') name = value;
    else if (field === 'data') data.push(value);
  }
  if (!data.length) return;
  let parsed;
  try {
    parsed = JSON.parse(data.join('\n'));
  } catch {
    parsed = data.join('\n');
  }
  onEvent(name, parsed);
}
