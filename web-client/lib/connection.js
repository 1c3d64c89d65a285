// The WebSocket connection to Parley (protocol §3): hello, requests and
// replies with timeouts, reconnect with backoff and jitter, every joined
// channel resumed by `since` and `epoch`, events delivered once per
// (channel, seq) and in order, and an outbox of posts sent again with the same
// `cid` after a reconnect until the server answers. No DOM: it runs in a
// browser and in Node (pass a WebSocket class, e.g. the `ws` package's).
//
// Events (CustomEvent, the payload in `detail`; `on(type, fn)` calls fn(detail)):
//   connection {state, attempt, retryAt}  connecting | online | waiting | refused | closed
//   hello      {user, server}
//   reset      {ch, join, events}         the channel's history starts over with `events`
//   events     {ch, events}               new events, in seq order, each seen once
//   event      event                      the same, one at a time; also `event:<kind>`
//   joined     {ch, join, resumed}        a (re)join reply: state, presence, head
//   state      {ev, eng, state}           the engagement's state pushed (§9.9)
//   presence, typing, read                those pushes, as the server sent them
//   push       {frame}                    every push other than `event`
//   outbox     {}                         the outbox changed
//   refused    {code, message, expired}   the token was refused; no more reconnects
import { backoffDelay } from './backoff.js';

const RESUME_LIMIT = 500;
const DEFAULT_TIMEOUT_MS = 15000;
const OPEN = 1; // WebSocket.OPEN, the same in every implementation
// Pushes that get an event of their own besides `push`.
const TYPED_PUSHES = new Set(['state', 'presence', 'typing', 'read']);

// A refused or failed request: `code` is the protocol's error code, or
// `unavailable` (not connected, connection lost), `timeout`, `cancelled`;
// `local` when the server never answered (the request may be tried again).
export class RequestError extends Error {
  constructor(code, message, local = false) {
    super(message || code);
    this.name = 'RequestError';
    this.code = code;
    this.local = local;
  }
}

// A client id for a post: 16 characters from 9 random bytes.
export function newCid() {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(9));
  return 'c-' + Array.from(bytes, (b) => b.toString(36).padStart(2, '0')).join('').slice(0, 16);
}

export class Connection extends EventTarget {
  constructor({ url, token, WebSocket: WebSocketImpl = globalThis.WebSocket, initialLimit = 50,
    requestTimeoutMs = DEFAULT_TIMEOUT_MS, backoff = {}, protocols = 'parley.v1', maxOutbox = 1000 } = {}) {
    super();
    if (typeof WebSocketImpl !== 'function') throw new TypeError('no WebSocket here: pass one, e.g. the `ws` package\'s');
    if (typeof url !== 'string' || !/^wss?:\/\//.test(url)) throw new TypeError('url must be a ws:// or wss:// address');
    this.url = url;
    this.token = token;
    this.WebSocketImpl = WebSocketImpl;
    this.protocols = protocols;
    this.initialLimit = initialLimit;
    this.requestTimeoutMs = requestTimeoutMs;
    this.maxOutbox = maxOutbox;
    this.backoff = backoff;
    this.ws = null;
    this.connectionState = 'idle';
    this.user = null;
    this.server = null;
    this.nextId = 1;
    this.pending = new Map(); // id -> {resolve, reject, timer}
    this.subs = new Map(); // ch -> {ch, epoch, lastSeq, syncing, buffered, lastJoin, waiters}
    this.outbox = new Map(); // cid -> {cid, ch, kind, body, createdAt, resolve, reject, inFlight}
    this.attempt = 0;
    this.lastRetryAt = 0;
    this.timer = null;
    this.stopped = true;
    this.generation = 0;
    this.sentToken = null; // the token of the last hello
    this.refusedToken = null; // a token the server refused (a token function gets one more try)
    // A browser that comes back online reconnects at once rather than at the next retry.
    this.onOnline = () => { if (this.connectionState === 'waiting') this.connectNow(); };
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  // Calls fn(detail) for each `type` event; returns the function that stops it.
  on(type, fn) {
    const listener = (ev) => fn(ev.detail);
    this.addEventListener(type, listener);
    return () => this.removeEventListener(type, listener);
  }

  // Calls fn(detail) for the next `type` event only.
  once(type, fn) {
    const off = this.on(type, (detail) => { off(); fn(detail); });
    return off;
  }

  setConnectionState(state, extra = {}) {
    this.connectionState = state;
    this.emit('connection', { state, attempt: this.attempt, ...extra });
  }

  // Connects (and keeps reconnecting). Resolves with {user, server} once
  // online; rejects when the token is refused or close() is called first.
  connect() {
    const ready = this.connectionState === 'online'
      ? Promise.resolve({ user: this.user, server: this.server })
      : new Promise((resolve, reject) => {
        const off = this.on('connection', ({ state }) => {
          if (state === 'online') { off(); resolve({ user: this.user, server: this.server }); }
          else if (state === 'refused' || state === 'closed') { off(); reject(new RequestError(state === 'refused' ? 'unauthorized' : 'cancelled', `connection ${state}`, true)); }
        });
      });
    if (this.stopped) {
      this.stopped = false;
      if (typeof globalThis.addEventListener === 'function') globalThis.addEventListener('online', this.onOnline);
      this.connectNow();
    }
    return ready;
  }

  // Closes the connection for good: pending requests, joins and posts are refused.
  close() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (typeof globalThis.removeEventListener === 'function') globalThis.removeEventListener('online', this.onOnline);
    this.generation += 1;
    if (this.ws) {
      try { this.ws.close(1000, 'bye'); } catch { /* already closed */ }
    }
    this.ws = null;
    const err = new RequestError('cancelled', 'the client was closed', true);
    this.failPending(err);
    for (const sub of this.subs.values()) this.settleWaiters(sub, null, err);
    this.subs.clear();
    for (const item of this.outbox.values()) item.reject(err);
    this.outbox.clear();
    this.setConnectionState('closed');
  }

  connectNow() {
    clearTimeout(this.timer);
    if (this.stopped) return;
    const gen = ++this.generation;
    this.setConnectionState('connecting');
    let ws;
    try {
      ws = new this.WebSocketImpl(this.url, this.protocols);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (gen !== this.generation) return;
      this.handshake(gen);
    };
    ws.onmessage = (msg) => {
      if (gen !== this.generation || typeof msg.data !== 'string') return;
      // A server frame may hold several JSON objects, one a line (§3).
      for (const line of msg.data.split('\n')) {
        if (!line.trim()) continue;
        let frame;
        try { frame = JSON.parse(line); } catch { continue; }
        if (frame && typeof frame === 'object') this.onFrame(frame);
      }
    };
    ws.onclose = (ev) => {
      if (gen !== this.generation) return;
      this.generation += 1; // what still runs for this socket stops here
      this.ws = null;
      this.failPending(new RequestError('unavailable', 'connection lost', true));
      for (const sub of this.subs.values()) { sub.syncing = false; sub.buffered = []; }
      if (this.stopped) return;
      if (ev.code === 4003) {
        this.authRefused('unauthorized', ev.reason || 'authentication failed');
        return;
      }
      // 4008: the server saw abuse; coming straight back would only repeat it.
      this.scheduleReconnect(ev.code === 4008 ? 5000 : 0);
    };
    ws.onerror = () => { /* onclose follows */ };
  }

  // A token function gets one more try with what it returns next; the same
  // token refused twice, or a fixed token, ends the connection.
  authRefused(code, message) {
    const canRetry = typeof this.token === 'function' && this.sentToken !== null && this.refusedToken !== this.sentToken;
    if (canRetry) {
      this.refusedToken = this.sentToken;
      this.dropSocket();
      this.scheduleReconnect();
      return;
    }
    this.refuse(code, message);
  }

  refuse(code, message) {
    this.stopped = true;
    clearTimeout(this.timer);
    this.dropSocket();
    this.failPending(new RequestError(code, message, true));
    this.setConnectionState('refused');
    this.emit('refused', { code, message, expired: /expired/i.test(message || '') });
  }

  dropSocket() {
    this.generation += 1;
    if (this.ws) { try { this.ws.close(); } catch { /* ignore */ } }
    this.ws = null;
  }

  scheduleReconnect(minDelay = 0) {
    if (this.stopped) return;
    const delay = Math.max(minDelay, backoffDelay(this.attempt, this.backoff));
    this.attempt += 1;
    const retryAt = Date.now() + delay;
    this.lastRetryAt = retryAt;
    this.setConnectionState('waiting', { retryAt });
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connectNow(), delay);
  }

  failPending(err) {
    const pending = this.pending;
    this.pending = new Map();
    for (const p of pending.values()) { clearTimeout(p.timer); p.reject(err); }
  }

  // Sends one frame as it is; false when not connected.
  send(obj) {
    if (!this.ws || this.ws.readyState !== OPEN) return false;
    this.ws.send(JSON.stringify(obj));
    return true;
  }

  // Sends a request and resolves with its reply; rejects with RequestError
  // (the server's refusal, `unavailable` when not online, `timeout`).
  request(op, fields = {}, { timeoutMs = this.requestTimeoutMs } = {}) {
    return new Promise((resolve, reject) => {
      if (this.connectionState !== 'online' && op !== 'hello') {
        reject(new RequestError('unavailable', 'not connected', true));
        return;
      }
      const id = this.nextId++;
      const timer = timeoutMs > 0 ? setTimeout(() => {
        if (this.pending.delete(id)) reject(new RequestError('timeout', `no reply to ${op} within ${timeoutMs} ms`, true));
      }, timeoutMs) : null;
      this.pending.set(id, { resolve, reject, timer });
      if (!this.send({ ...fields, id, op })) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new RequestError('unavailable', 'not connected', true));
      }
    });
  }

  // The token to use now: `token` itself, or what the token function returns.
  async currentToken() {
    const token = typeof this.token === 'function' ? await this.token() : this.token;
    return String(token || '');
  }

  async handshake(gen) {
    let reply;
    try {
      const token = await this.currentToken();
      if (gen !== this.generation) return;
      this.sentToken = token;
      reply = await this.request('hello', { token: this.sentToken });
    } catch (err) {
      if (gen !== this.generation) return;
      if (err.code === 'unauthorized' || err.code === 'forbidden') this.authRefused(err.code, err.message);
      else { this.dropSocket(); this.scheduleReconnect(); }
      return;
    }
    if (gen !== this.generation) return;
    this.user = reply.user;
    this.server = reply.server;
    this.attempt = 0;
    this.refusedToken = null;
    this.setConnectionState('online');
    this.emit('hello', { user: reply.user, server: reply.server });
    await Promise.all([...this.subs.values()].map((s) => this.resume(s, gen)));
    if (gen !== this.generation) return;
    this.flushOutbox();
  }

  onFrame(frame) {
    if (frame.id !== undefined && frame.ok !== undefined) {
      const p = this.pending.get(frame.id);
      if (!p) return;
      this.pending.delete(frame.id);
      clearTimeout(p.timer);
      if (frame.ok) p.resolve(frame);
      else p.reject(new RequestError(frame.error?.code || 'internal', frame.error?.message));
      return;
    }
    if (frame.ev === 'event') { this.onLiveEvent(frame); return; }
    if (typeof frame.ev !== 'string') return;
    if (TYPED_PUSHES.has(frame.ev)) this.emit(frame.ev, frame);
    this.emit('push', { frame });
  }

  // --- channels -----------------------------------------------------------

  // Joins a channel and keeps it joined across reconnects. Resolves with the
  // join reply, once online; rejects with the server's refusal (the channel
  // is then forgotten) or when the client is closed.
  join(ch) {
    let sub = this.subs.get(ch);
    if (sub && sub.epoch !== null && sub.lastJoin) return Promise.resolve(sub.lastJoin);
    if (!sub) {
      sub = { ch, epoch: null, lastSeq: 0, syncing: false, buffered: [], lastJoin: null, waiters: [] };
      this.subs.set(ch, sub);
    }
    const joined = new Promise((resolve, reject) => sub.waiters.push({ resolve, reject }));
    if (this.connectionState === 'online' && !sub.syncing) this.freshJoin(sub).catch(() => { /* settled through the waiters */ });
    return joined;
  }

  leave(ch) {
    const sub = this.subs.get(ch);
    if (!sub) return;
    this.subs.delete(ch);
    this.settleWaiters(sub, null, new RequestError('cancelled', `left ${ch}`, true));
    if (this.connectionState === 'online') this.request('leave', { ch }).catch(() => {});
  }

  isJoined(ch) {
    const sub = this.subs.get(ch);
    return !!(sub && sub.epoch !== null);
  }

  // The last seq delivered on `ch` (0 before the first join).
  lastSeq(ch) {
    const sub = this.subs.get(ch);
    return sub ? sub.lastSeq : 0;
  }

  settleWaiters(sub, join, err) {
    const waiters = sub.waiters;
    sub.waiters = [];
    for (const w of waiters) { if (err) w.reject(err); else w.resolve(join); }
  }

  // A join without `since`: the channel starts over from the reply's events.
  async freshJoin(sub) {
    sub.syncing = true;
    sub.buffered = [];
    try {
      const join = await this.request('join', { ch: sub.ch, limit: this.initialLimit });
      if (this.subs.get(sub.ch) !== sub) return join;
      sub.epoch = join.epoch;
      const events = (join.events || []).slice().sort((a, b) => a.seq - b.seq);
      const head = join.head || 0;
      if (join.more) {
        // The reply was cut to its byte bound: it holds the oldest events of
        // the window, and history carries on from the last of them.
        sub.lastSeq = events.length ? events[events.length - 1].seq : Math.max(0, head - this.initialLimit);
      } else {
        sub.lastSeq = Math.max(events.length ? events[events.length - 1].seq : 0, head);
      }
      sub.lastJoin = join;
      this.emit('reset', { ch: sub.ch, join, events });
      this.announce(sub.ch, events);
      if (join.more) await this.catchUp(sub, head);
      this.emit('joined', { ch: sub.ch, join, resumed: false });
      this.settleWaiters(sub, join, null);
      return join;
    } catch (err) {
      // A refusal by the server ends the join; a lost connection retries it.
      if (!err.local) { this.subs.delete(sub.ch); this.settleWaiters(sub, null, err); }
      throw err;
    } finally {
      sub.syncing = false;
      this.drain(sub);
    }
  }

  // After a reconnect: a join with `since` and `epoch`. The same epoch means
  // the same log, so what follows `since` is fetched (paging with `history`
  // when the reply does not hold all of it); another epoch means the log
  // started over and so does the channel (a `reset`).
  async resume(sub, gen) {
    if (sub.syncing) return; // a join made by a listener of `hello` is already on its way
    if (sub.epoch === null) {
      try { await this.freshJoin(sub); } catch { /* refused: settled; lost: retried on the next reconnect */ }
      return;
    }
    sub.syncing = true;
    sub.buffered = [];
    try {
      const join = await this.request('join', { ch: sub.ch, since: sub.lastSeq, epoch: sub.epoch, limit: RESUME_LIMIT });
      if (gen !== this.generation) return;
      // A head behind what was delivered cannot be the same log either.
      if (join.epoch !== sub.epoch || (join.head || 0) < sub.lastSeq) {
        sub.syncing = false;
        await this.freshJoin(sub);
        return;
      }
      sub.lastJoin = join;
      this.accept(sub, join.events || []);
      await this.catchUp(sub, join.head || 0);
      this.emit('joined', { ch: sub.ch, join, resumed: true });
    } catch (err) {
      if (err.code === 'forbidden' || err.code === 'not_found') this.subs.delete(sub.ch);
    } finally {
      sub.syncing = false;
    }
    this.drain(sub);
  }

  // Pages forward with `history` until the channel has every event up to `head`.
  async catchUp(sub, head) {
    while (sub.lastSeq < head) {
      const before = sub.lastSeq;
      const page = await this.request('history', { ch: sub.ch, after: sub.lastSeq, limit: RESUME_LIMIT });
      this.accept(sub, page.events || []);
      if (sub.lastSeq === before) break;
    }
  }

  // Delivers events that continue the channel without a gap; drops those already seen.
  accept(sub, events) {
    const fresh = [];
    for (const ev of events.slice().sort((a, b) => a.seq - b.seq)) {
      if (ev.seq <= sub.lastSeq) continue;
      if (ev.seq !== sub.lastSeq + 1) { sub.buffered.push(ev); continue; }
      sub.lastSeq = ev.seq;
      fresh.push(ev);
    }
    if (fresh.length) {
      this.emit('events', { ch: sub.ch, events: fresh });
      this.announce(sub.ch, fresh);
    }
  }

  // The one-at-a-time form of `events` and `reset`: `event` and `event:<kind>`.
  announce(ch, events) {
    for (const ev of events) {
      this.emit('event', ev);
      if (typeof ev.kind === 'string') this.emit(`event:${ev.kind}`, ev);
    }
  }

  onLiveEvent(ev) {
    const sub = this.subs.get(ev.ch);
    if (!sub || !Number.isSafeInteger(ev.seq)) return;
    if (sub.syncing) { sub.buffered.push(ev); return; }
    if (ev.seq <= sub.lastSeq) return;
    if (ev.seq === sub.lastSeq + 1) { this.accept(sub, [ev]); return; }
    // A gap: fetch what is missing, then deliver in order.
    sub.syncing = true;
    sub.buffered.push(ev);
    const gen = this.generation;
    this.catchUp(sub, ev.seq - 1)
      .catch(() => {})
      .finally(() => {
        if (gen !== this.generation) return;
        sub.syncing = false;
        this.drain(sub);
      });
  }

  drain(sub) {
    if (!sub.buffered.length) return;
    const buffered = sub.buffered;
    sub.buffered = [];
    const next = buffered.filter((e) => e.seq > sub.lastSeq).sort((a, b) => a.seq - b.seq);
    if (!next.length) return;
    if (next[0].seq === sub.lastSeq + 1) {
      this.accept(sub, next);
    } else {
      const last = next.pop();
      sub.buffered = next;
      this.onLiveEvent(last);
    }
  }

  // --- posting --------------------------------------------------------------

  // Posts an event. The post waits in the outbox while disconnected and is sent
  // again, with the same cid, after each reconnect until the server answers:
  // the server stores it once (§3). Resolves with the reply {seq, ts, cid}.
  post(ch, kind, body, { cid = newCid() } = {}) {
    return new Promise((resolve, reject) => {
      if (this.connectionState === 'closed' || this.connectionState === 'refused') {
        reject(new RequestError('unavailable', `the client is ${this.connectionState}`, true));
        return;
      }
      const known = this.outbox.get(cid);
      if (known) { known.waiters.push({ resolve, reject }); return; }
      // A client offline for long must not hold posts without bound.
      if (this.outbox.size >= this.maxOutbox) {
        reject(new RequestError('outbox_full', `${this.outbox.size} posts are waiting to be sent`, false));
        return;
      }
      const item = { cid, ch, kind, body, createdAt: Date.now(), waiters: [{ resolve, reject }], inFlight: false };
      item.resolve = (reply) => { for (const w of item.waiters) w.resolve(reply); };
      item.reject = (err) => { for (const w of item.waiters) w.reject(err); };
      this.outbox.set(cid, item);
      this.emit('outbox', {});
      if (this.connectionState === 'online') this.sendPost(item);
    });
  }

  sendPost(item) {
    if (item.inFlight) return;
    item.inFlight = true;
    const gen = this.generation;
    this.request('post', { ch: item.ch, kind: item.kind, body: item.body, cid: item.cid })
      .then((reply) => {
        this.outbox.delete(item.cid);
        this.emit('outbox', {});
        item.resolve({ ...reply, cid: item.cid });
      })
      .catch((err) => {
        item.inFlight = false;
        if (!this.outbox.has(item.cid)) return;
        // Not answered, or answered "try later": sent again with the same cid.
        if (err.code === 'unavailable' && err.local) return; // after the reconnect
        if (err.code === 'rate_limited' || err.code === 'unavailable' || err.code === 'timeout') {
          setTimeout(() => { if (this.connectionState === 'online' && gen === this.generation) this.sendPost(item); }, 1500);
          return;
        }
        this.outbox.delete(item.cid);
        this.emit('outbox', {});
        item.reject(err);
      });
  }

  flushOutbox() {
    for (const item of this.outbox.values()) this.sendPost(item);
  }

  pendingPosts(ch) {
    return [...this.outbox.values()].filter((p) => ch === undefined || p.ch === ch);
  }

  // Gives up on a post still waiting in the outbox (it may have been stored
  // already if it was in flight).
  discard(cid) {
    const item = this.outbox.get(cid);
    if (!item) return;
    this.outbox.delete(cid);
    this.emit('outbox', {});
    item.reject(new RequestError('cancelled', 'discarded'));
  }

  // --- small requests ---------------------------------------------------------

  history(ch, { before, after, limit } = {}) {
    return this.request('history', { ch, before, after, limit });
  }

  // Tells the channel the user is typing; no reply is awaited.
  typing(ch) {
    return this.send({ op: 'typing', ch });
  }

  read(ch, seq) {
    return this.request('read', { ch, seq });
  }

  // Every record of engagement `eng`'s decision log, page by page.
  async decisions(eng) {
    const all = [];
    for (let after = 0; ;) {
      const reply = await this.request('decisions', { eng, after });
      if (!Array.isArray(reply.records)) throw new RequestError('internal', 'no records in the reply');
      all.push(...reply.records);
      if (reply.next == null || reply.next <= after) break;
      after = reply.next;
    }
    return all;
  }
}
