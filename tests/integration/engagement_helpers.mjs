// Shared pieces of the engagement and service-level suites: assertions on
// replies, the HTTP views of an engagement (state, events, decision log), the
// decision log's hash chain (protocol §5) and `parley verify-log`.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';

import { PARLEY_BIN, httpRequest, sleep, withTimeout } from './harness.mjs';

export const GENESIS_PREV = '0'.repeat(64);
const DAY = 24 * 3600 * 1000;
// The server's default phase bounds (protocol §1 "expected length", upper end).
export const DEFAULT_PHASE_MS = { discovery: 2 * DAY, agreement: 3 * DAY, active: 28 * DAY, completion: 5 * DAY };

// HTTP status of each error code (protocol §7).
export const HTTP_STATUS = {
  bad_request: 400, unauthorized: 401, forbidden: 403, not_found: 404, conflict: 409, too_large: 413,
  rate_limited: 429, unavailable: 503,
};

// Asserts a WebSocket reply is ok; returns it.
export function expectOk(reply, what = 'request') {
  assert.equal(reply.ok, true, `${what}: expected ok, got ${JSON.stringify(reply)}`);
  return reply;
}

// Asserts a WebSocket reply is refused with `code`.
export function expectRefused(reply, code, what = 'request') {
  assert.equal(reply.ok, false, `${what}: expected ${code}, got ${JSON.stringify(reply)}`);
  assert.equal(reply.error?.code, code, `${what}: expected ${code}, got ${JSON.stringify(reply)}`);
  assert.equal(typeof reply.error.message, 'string', `${what}: an error carries a message`);
}

const enc = (ch) => encodeURIComponent(ch);

// POST /api/v1/channels/<ch>/events; resolves to the HTTP response.
export function httpPost(server, tok, ch, kind, body, cid) {
  const payload = { kind, body };
  if (cid !== undefined) payload.cid = cid;
  return httpRequest(server, 'POST', `/api/v1/channels/${enc(ch)}/events`, { token: tok, body: payload });
}

// GET /api/v1/engagements/<id>: the §4 state (asserts 200).
export async function httpState(server, tok, eng) {
  const r = await httpRequest(server, 'GET', `/api/v1/engagements/${eng}`, { token: tok });
  assert.equal(r.status, 200, `GET state of ${eng}: ${r.status} ${r.text}`);
  return r.json;
}

// GET /api/v1/engagements/<id>/decisions: every record, following `next`
// from page to page (asserts 200).
export async function httpDecisions(server, tok, eng) {
  const records = [];
  for (let after = 0; ;) {
    const r = await httpRequest(server, 'GET', `/api/v1/engagements/${eng}/decisions?after=${after}`, { token: tok });
    assert.equal(r.status, 200, `GET decisions of ${eng}: ${r.status} ${r.text}`);
    assert.ok(Array.isArray(r.json?.records), r.text);
    records.push(...r.json.records);
    if (r.json.next === null || r.json.next === undefined) return records;
    after = r.json.next;
  }
}

// GET /api/v1/engagements/<id>/decisions?format=jsonl: the whole log as JSONL
// text, following the Parley-Next header from page to page (asserts 200).
export async function httpDecisionsJsonl(server, tok, eng) {
  let text = '';
  for (let after = 0; ;) {
    const r = await httpRequest(server, 'GET', `/api/v1/engagements/${eng}/decisions?format=jsonl&after=${after}`, { token: tok });
    assert.equal(r.status, 200, `GET decisions jsonl of ${eng}: ${r.status} ${r.text}`);
    text += r.text;
    const next = r.headers['parley-next'];
    if (next === undefined) return text;
    after = Number(next);
  }
}

// The head of a channel through GET /api/v1/channels/<ch>/events (0 for an empty channel).
export async function httpHead(server, tok, ch) {
  const r = await httpRequest(server, 'GET', `/api/v1/channels/${enc(ch)}/events?limit=1`, { token: tok });
  assert.equal(r.status, 200, `GET events of ${ch}: ${r.status} ${r.text}`);
  return r.json.head ?? 0;
}

// Every event of a channel through the HTTP API, paging with `after`.
export async function httpAllEvents(server, tok, ch) {
  const all = [];
  let after = 0;
  for (;;) {
    const r = await httpRequest(server, 'GET', `/api/v1/channels/${enc(ch)}/events?after=${after}&limit=500`, { token: tok });
    assert.equal(r.status, 200, `GET events of ${ch}: ${r.status} ${r.text}`);
    all.push(...r.json.events);
    // A page cut to the reply bound says more: true (protocol §9.10).
    if (!r.json.more && r.json.events.length < 500) return all;
    after = r.json.events[r.json.events.length - 1].seq;
  }
}

// One stored event of a channel, read through WebSocket `history`.
export async function eventAt(client, ch, seq) {
  const r = expectOk(await client.history(ch, { after: seq - 1, limit: 1 }), `history ${ch} @${seq}`);
  assert.equal(r.events.length, 1, `event ${seq} of ${ch} exists`);
  assert.equal(r.events[0].seq, seq);
  return r.events[0];
}

// Re-checks `probe` (async) until it returns something other than undefined/false.
export async function pollUntil(probe, timeoutMs, what, intervalMs = 200) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await probe();
    if (last !== undefined && last !== false) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

// The JSON Canonicalization Scheme (RFC 8785) for the values a record holds:
// keys sorted by UTF-16 code units, no whitespace, ECMAScript number and string forms.
export function canonicalJson(v) {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(v).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`).join(',')}}`;
}

// SHA-256 (lowercase hex) of the record without `hash`, `kid` and `sig`, canonicalised.
export function recordHash(record) {
  const { hash, kid, sig, ...rest } = record;
  return createHash('sha256').update(canonicalJson(rest), 'utf8').digest('hex');
}

// Asserts records form an intact chain: n = 1.., prev links, and each hash recomputed.
export function assertChain(records) {
  let prev = GENESIS_PREV;
  for (const [i, r] of records.entries()) {
    assert.equal(r.n, i + 1, `record ${i + 1}: n`);
    assert.equal(r.prev, prev, `record ${i + 1}: prev`);
    assert.match(r.hash, /^[0-9a-f]{64}$/, `record ${i + 1}: hash form`);
    assert.equal(r.hash, recordHash(r), `record ${i + 1}: hash is SHA-256 of its canonical JSON`);
    prev = r.hash;
  }
}

// Runs `parley verify-log FILE [...args]`; resolves to {code, stdout, stderr}.
export function verifyLog(file, timeoutMs = 20000, args = []) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PARLEY_')));
  const proc = spawn(PARLEY_BIN, ['verify-log', file, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d) => { stdout += d; });
  proc.stderr.on('data', (d) => { stderr += d; });
  const done = new Promise((resolve) => {
    proc.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    proc.on('error', (err) => resolve({ code: null, signal: null, stdout, stderr: stderr + err.message }));
  });
  return withTimeout(done, timeoutMs, 'parley verify-log did not finish').catch((err) => {
    proc.kill('SIGKILL');
    throw err;
  });
}

// A state with its lists in a fixed order, for comparisons that do not depend on
// the order the server lists open flags and proposals in.
export function normaliseState(s) {
  if (s === null || s === undefined) return s;
  const out = { ...s };
  // `can` is the reader's own (protocol §9.9): compared apart from the shared model.
  delete out.can;
  // `revision` follows the channels' heads: compared with them apart (engagement.test.mjs).
  delete out.revision;
  // owed_reply.due depends on the reply window and the owing user's
  // availability (§9.3): the service-level and availability suites check it.
  if (out.owed_reply && typeof out.owed_reply === 'object') {
    out.owed_reply = { ...out.owed_reply };
    delete out.owed_reply.due;
  }
  if (Array.isArray(out.open_flags)) out.open_flags = [...out.open_flags].sort((a, b) => a.seq - b.seq);
  if (Array.isArray(out.open_proposals)) {
    out.open_proposals = [...out.open_proposals].sort((a, b) => (a.ch === b.ch ? a.seq - b.seq : a.ch < b.ch ? -1 : 1));
  }
  return out;
}

// Counts `sla` events of a channel's events by body.type (and, for phase_overdue, by phase).
export function countSla(events) {
  const counts = {};
  for (const e of events) {
    if (e.kind !== 'sla') continue;
    const key = e.body.type === 'phase_overdue' ? `phase_overdue:${e.body.phase}` : e.body.type;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}
