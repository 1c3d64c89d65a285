// The WebSocket connection to Parley: hello, requests and replies, reconnect
// with backoff, resuming every joined channel by `since` and `epoch`, and an
// outbox of posts that are resent with the same `cid` after a reconnect.
//
// Events dispatched (all CustomEvent, details in `detail`):
//   state    {state, retryAt, attempt}   connecting | online | waiting | refused | closed
//   hello    {user, server}
//   reset    {ch, join, events}           the channel's history starts over with `events`
//   events   {ch, events}                 new events, in seq order, each seen once
//   joined   {ch, join, resumed}          a (re)join reply: state, presence, head
//   push     {frame}                      presence, typing and read pushes
//   outbox   {}                           the outbox changed
//   refused  {message}                    the token was refused; no more reconnects

const RESUME_LIMIT = 500;

export class RequestError extends Error {
  constructor(code, message, local = false) {
    super(message || code);
    this.code = code;
    this.local = local;
  }
}

export class Connection extends EventTarget {
  constructor({ url, token, initialLimit = 200 }) {
    super();
    this.url = url;
    this.token = token;
    this.initialLimit = initialLimit;
    this.ws = null;
    this.state = 'idle';
    this.user = null;
    this.server = null;
    this.nextId = 1;
    this.pending = new Map(); // id -> {resolve, reject, op}
    this.subs = new Map(); // ch -> {ch, epoch, lastSeq, syncing, buffered, wanted}
    this.outbox = new Map(); // cid -> {cid, ch, kind, body, waiters, sentOn}
    this.attempt = 0;
    this.timer = null;
    this.stopped = false;
    this.generation = 0;
    this.onOnline = () => { if (this.state === 'waiting') this.connectNow(); };
    window.addEventListener('online', this.onOnline);
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  setState(state, extra = {}) {
    this.state = state;
    this.emit('state', { state, attempt: this.attempt, ...extra });
  }

  start() {
    this.stopped = false;
    this.connectNow();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    window.removeEventListener('online', this.onOnline);
    if (this.ws) {
      try { this.ws.close(1000, 'bye'); } catch { /* already closed */ }
    }
    this.ws = null;
    this.failPending(new RequestError('unavailable', 'signed out', true));
    this.setState('closed');
  }

  connectNow() {
    clearTimeout(this.timer);
    if (this.stopped) return;
    const gen = ++this.generation;
    this.setState('connecting');
    let ws;
    try {
      ws = new WebSocket(this.url, 'parley.v1');
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
      for (const line of msg.data.split('\n')) {
        if (!line.trim()) continue;
        let frame;
        try { frame = JSON.parse(line); } catch { continue; }
        this.onFrame(frame);
      }
    };
    ws.onclose = (ev) => {
      if (gen !== this.generation) return;
      this.ws = null;
      this.failPending(new RequestError('unavailable', 'connection lost', true));
      for (const sub of this.subs.values()) { sub.syncing = false; sub.buffered = []; }
      if (this.stopped || this.state === 'refused') return;
      if (ev.code === 4003) {
        this.refuse('The server refused your access token. It may have expired.');
        return;
      }
      this.scheduleReconnect(ev.code === 4008 ? 5000 : 0);
    };
    ws.onerror = () => { /* onclose follows */ };
  }

  refuse(message) {
    this.setState('refused');
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) { try { this.ws.close(); } catch { /* ignore */ } }
    this.emit('refused', { message });
  }

  scheduleReconnect(minDelay = 0) {
    if (this.stopped) return;
    const base = Math.min(15000, 500 * 2 ** this.attempt);
    const delay = Math.max(minDelay, Math.round(base * (0.6 + Math.random() * 0.4)));
    this.attempt += 1;
    const retryAt = Date.now() + delay;
    this.lastRetryAt = retryAt;
    this.setState('waiting', { retryAt });
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connectNow(), delay);
  }

  failPending(err) {
    const pending = this.pending;
    this.pending = new Map();
    for (const p of pending.values()) p.reject(err);
  }

  send(obj) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(obj));
    return true;
  }

  // Sends a request and resolves with its reply; rejects with RequestError.
  request(op, fields = {}) {
    return new Promise((resolve, reject) => {
      if (this.state !== 'online' && op !== 'hello') {
        reject(new RequestError('unavailable', 'not connected', true));
        return;
      }
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject, op });
      if (!this.send({ id, op, ...fields })) {
        this.pending.delete(id);
        reject(new RequestError('unavailable', 'not connected', true));
      }
    });
  }

  async handshake(gen) {
    let reply;
    try {
      reply = await this.request('hello', { token: this.token });
    } catch (err) {
      if (err.code === 'unauthorized' || err.code === 'forbidden') {
        this.refuse(err.code === 'unauthorized' && /expired/i.test(err.message)
          ? 'Your access token has expired. Ask the platform for a new sign-in link.'
          : `The server refused your access token: ${err.message}`);
      }
      return;
    }
    if (gen !== this.generation) return;
    this.user = reply.user;
    this.server = reply.server;
    this.attempt = 0;
    this.setState('online');
    this.emit('hello', { user: reply.user, server: reply.server });
    await Promise.all([...this.subs.values()].filter((s) => s.wanted).map((s) => this.resume(s, gen)));
    if (gen !== this.generation) return;
    this.flushOutbox();
  }

  onFrame(frame) {
    if (frame.id !== undefined && frame.ok !== undefined) {
      const p = this.pending.get(frame.id);
      if (!p) return;
      this.pending.delete(frame.id);
      if (frame.ok) p.resolve(frame);
      else p.reject(new RequestError(frame.error?.code || 'internal', frame.error?.message));
      return;
    }
    if (frame.ev === 'event') this.onLiveEvent(frame);
    else if (frame.ev) this.emit('push', { frame });
  }

  // --- channels -----------------------------------------------------------

  // Joins a channel and keeps it joined across reconnects. Resolves with the join reply.
  async subscribe(ch) {
    let sub = this.subs.get(ch);
    if (sub && sub.wanted && sub.epoch !== null) return sub.lastJoin;
    if (!sub) {
      sub = { ch, epoch: null, lastSeq: 0, syncing: false, buffered: [], wanted: true, lastJoin: null };
      this.subs.set(ch, sub);
    }
    sub.wanted = true;
    try {
      return await this.freshJoin(sub);
    } catch (err) {
      if (!err.local) this.subs.delete(ch);
      throw err;
    }
  }

  unsubscribe(ch) {
    const sub = this.subs.get(ch);
    if (!sub) return;
    this.subs.delete(ch);
    if (this.state === 'online') this.request('leave', { ch }).catch(() => {});
  }

  isSubscribed(ch) {
    const sub = this.subs.get(ch);
    return !!(sub && sub.wanted && sub.epoch !== null);
  }

  async freshJoin(sub) {
    sub.syncing = true;
    sub.buffered = [];
    try {
      const join = await this.request('join', { ch: sub.ch, limit: this.initialLimit });
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
      if (join.more) await this.catchUp(sub, head);
      this.emit('joined', { ch: sub.ch, join, resumed: false });
      this.drain(sub);
      return join;
    } finally {
      sub.syncing = false;
    }
  }

  async resume(sub, gen) {
    if (sub.epoch === null) {
      try { await this.freshJoin(sub); } catch { /* retried on the next reconnect */ }
      return;
    }
    sub.syncing = true;
    sub.buffered = [];
    try {
      const join = await this.request('join', { ch: sub.ch, since: sub.lastSeq, epoch: sub.epoch, limit: RESUME_LIMIT });
      if (gen !== this.generation) return;
      if (!join.recovered || join.epoch !== sub.epoch) {
        sub.syncing = false;
        await this.freshJoin(sub);
        return;
      }
      sub.lastJoin = join;
      this.accept(sub, join.events || []);
      await this.catchUp(sub, join.head || 0);
      this.emit('joined', { ch: sub.ch, join, resumed: true });
    } catch (err) {
      if (err.code === 'forbidden' || err.code === 'not_found') { sub.wanted = false; this.subs.delete(sub.ch); }
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
    if (fresh.length) this.emit('events', { ch: sub.ch, events: fresh });
  }

  onLiveEvent(ev) {
    const sub = this.subs.get(ev.ch);
    if (!sub || !sub.wanted) return;
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

  static newCid() {
    const bytes = crypto.getRandomValues(new Uint8Array(9));
    return 'c-' + Array.from(bytes, (b) => b.toString(36).padStart(2, '0')).join('').slice(0, 16);
  }

  // Posts an event. The post waits in the outbox while disconnected and is sent
  // again, with the same cid, after each reconnect until the server answers.
  post(ch, kind, body, cid = Connection.newCid()) {
    return new Promise((resolve, reject) => {
      const item = { cid, ch, kind, body, createdAt: Date.now(), resolve, reject, inFlight: false };
      this.outbox.set(cid, item);
      this.emit('outbox', {});
      if (this.state === 'online') this.sendPost(item);
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
        item.resolve(reply);
      })
      .catch((err) => {
        item.inFlight = false;
        if (err.local) return; // sent again after the reconnect
        if (err.code === 'rate_limited' || err.code === 'unavailable') {
          setTimeout(() => { if (this.state === 'online' && gen === this.generation) this.sendPost(item); }, 1500);
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
    return [...this.outbox.values()].filter((p) => p.ch === ch);
  }

  discard(cid) {
    const item = this.outbox.get(cid);
    if (!item) return;
    this.outbox.delete(cid);
    this.emit('outbox', {});
    item.reject(new RequestError('cancelled', 'discarded'));
  }
}
