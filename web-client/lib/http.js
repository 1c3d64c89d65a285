// Parley's HTTP API (protocol §7) with `fetch`: the server's address from the
// WebSocket's, requests with the bearer token, refusals as errors carrying
// the protocol's code, and posting an event over HTTP with a `cid` (so that
// retries after a lost answer store it once). No DOM.
import { backoffDelay } from './backoff.js';
import { newCid } from './connection.js';

// A refused or failed HTTP request: `code` is the protocol's error code
// (`too_large`, `rate_limited`, `forbidden`, …), `cancelled` when the caller
// stopped it, `network` when the request never got an answer; `status` the
// HTTP status (0 without one).
export class HttpError extends Error {
  constructor(code, message, status = 0) {
    super(message);
    this.name = 'HttpError';
    this.code = code;
    this.status = status;
  }
}

const CODE_OF_STATUS = {
  400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 409: 'conflict',
  413: 'too_large', 429: 'rate_limited', 503: 'unavailable',
};

// The error a refusal's body names, else one made from its status.
export function refusal(status, text) {
  let body = null;
  try { body = JSON.parse(text); } catch { /* not JSON: the status speaks */ }
  const e = body && typeof body === 'object' && body.error && typeof body.error === 'object' ? body.error : null;
  const code = e && typeof e.code === 'string' ? e.code : CODE_OF_STATUS[status] || (status >= 500 ? 'internal' : 'bad_request');
  const message = e && typeof e.message === 'string' && e.message ? e.message : `the server answered ${status}`;
  return new HttpError(code, message, status);
}

// The HTTP origin of a WebSocket address: ws://host:port/ws → http://host:port.
export function httpBaseOf(wsUrl) {
  const u = new URL(wsUrl);
  u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
  return u.origin;
}

// A channel name in a path: `eng:42` → `eng%3A42`.
export function channelPath(ch) {
  return `/api/v1/channels/${encodeURIComponent(ch)}/events`;
}

// One request; resolves with {status, body} (body parsed when JSON) for a
// 2xx answer, rejects with an HttpError otherwise.
export async function httpJson({ base = '', method = 'GET', path, token, body, fetch: fetchImpl = globalThis.fetch, signal }) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetchImpl(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal, cache: 'no-store' });
  } catch (err) {
    if (err && err.name === 'AbortError') throw new HttpError('cancelled', 'the request was cancelled', 0);
    throw new HttpError('network', `the request did not reach the server: ${err && err.message}`, 0);
  }
  const text = await res.text();
  if (res.status < 200 || res.status > 299) throw refusal(res.status, text);
  let parsed = null;
  try { parsed = text ? JSON.parse(text) : null; } catch { parsed = text; }
  return { status: res.status, body: parsed };
}

// Whether a failed post may be sent again: nothing was stored, or the same
// cid makes the server store it once.
function retriable(err) {
  return err.code === 'network' || err.code === 'rate_limited' || err.code === 'unavailable' || err.status >= 500;
}

// Posts an event over HTTP (protocol §7): `POST /api/v1/channels/<ch>/events`
// with `{kind, body, cid}`, tried up to `retries` more times on a network
// failure, 429 or 5xx, always with the same cid. Resolves with {seq, ts, cid}.
export async function postEventHttp({ base = '', ch, kind, body, cid = newCid(), token, fetch: fetchImpl, retries = 3,
  backoff = {}, signal }) {
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await httpJson({ base, method: 'POST', path: channelPath(ch), token, body: { kind, body, cid }, fetch: fetchImpl, signal });
      return { ...res.body, cid };
    } catch (err) {
      if (attempt >= retries || !retriable(err)) throw err;
      await new Promise((r) => setTimeout(r, backoffDelay(attempt, backoff)));
    }
  }
}
