// Parley web client: sign-in, engagements, support inbox and mediation.
import { h, clear, replaceChildren, setText, formatDuration, formatDateTime, humanize } from './dom.js';
import { decodeToken, isExpired, takeTokenFromLocation, loadToken, saveToken, forgetToken } from './token.js';
import { Connection } from './connection.js';
import { verifyChain } from './jcs.js';
import { loadKeySet, verifySignatures } from './signatures.js';
import {
  ChannelModel, EngagementModel, PHASES, FLAG_TYPES, PROPOSAL_TOPICS, engagementOf, isParty,
} from './model.js';
import { renderEvent, renderPending, proposalCard, termsList, flagLabel, topicLabel } from './timeline.js';

const ENG_ID = /^[A-Za-z0-9_-]{1,64}$/;
const RENDER_CHUNK = 60;

const root = document.getElementById('app');
root.classList.remove('boot');
let session = null;

// ---------------------------------------------------------------- sign-in

function showSignIn(message) {
  if (session) { session.destroy(); session = null; }
  document.title = 'Sign in · Parley';
  const input = h('textarea', {
    id: 'token-input', testid: 'token-input', rows: '4', required: true, spellcheck: 'false',
    autocomplete: 'off', 'aria-describedby': 'token-help', placeholder: 'eyJhbGciOiJIUzI1NiIs…',
  });
  const error = h('p', { class: 'form-error', role: 'alert', testid: 'signin-error', hidden: !message }, message || '');
  const form = h('form', {
    class: 'signin-form', 'aria-label': 'Sign in',
    onsubmit: (e) => {
      e.preventDefault();
      const token = input.value.trim();
      if (!token) { error.hidden = false; error.textContent = 'Paste your access token first.'; return; }
      start(token);
    },
  },
  h('label', { for: 'token-input' }, 'Access token'),
  input,
  h('p', { id: 'token-help', class: 'hint' }, 'Open the sign-in link from the platform, or paste the access token it gave you. The token stays in this browser tab.'),
  error,
  h('button', { type: 'submit', class: 'btn primary wide', testid: 'signin-submit' }, 'Sign in'));
  replaceChildren(root, h('main', { class: 'signin', testid: 'signin' },
    h('div', { class: 'signin-card' },
      h('div', { class: 'brand big' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, 'P'), h('span', null, 'Parley')),
      h('h1', null, 'Sign in'),
      h('p', { class: 'lede' }, 'Messages, decisions and agreements for your engagement, in one place.'),
      form)));
  if (!message) input.focus();
}

function start(token) {
  let claims;
  try {
    claims = decodeToken(token);
  } catch (err) {
    forgetToken();
    showSignIn(err.message);
    return;
  }
  if (isExpired(claims)) {
    forgetToken();
    showSignIn(`This access token expired${claims.exp ? ` on ${formatDateTime(claims.exp * 1000)}` : ''}. Ask the platform for a new sign-in link.`);
    return;
  }
  saveToken(token);
  if (session) session.destroy();
  session = new Session(token, claims);
  session.mount();
}

// ---------------------------------------------------------------- session

class Session {
  constructor(token, claims) {
    this.token = token;
    this.claims = claims;
    this.me = { id: claims.sub, name: claims.name, role: claims.role };
    this.allEngagements = claims.eng.includes('*');
    this.channels = new Map();
    this.engagements = new Map();
    this.current = null; // {kind: 'eng'|'support'|'home', eng, room, ch}
    this.view = null;
    this.replyTo = null;
    this.stateTimers = new Map();
    this.recentEngagements = [];
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    this.conn = new Connection({ url: `${proto}//${location.host}/ws`, token, initialLimit: 200 });
    this.onHash = () => this.route();
    this.onVisibility = () => { if (document.visibilityState === 'visible') this.markRead(); };
    this.tick = setInterval(() => { this.renderPhaseTrack(); this.renderConnection(); }, 1000);
  }

  get role() { return this.me.role; }

  destroy() {
    clearInterval(this.tick);
    window.removeEventListener('hashchange', this.onHash);
    document.removeEventListener('visibilitychange', this.onVisibility);
    this.conn.stop();
  }

  // -------------------------------------------------------------- layout

  mount() {
    this.el = {};
    const e = this.el;
    e.conn = h('span', { class: 'conn', testid: 'connection-state', role: 'status', 'aria-live': 'polite' }, 'Connecting…');
    e.menuBtn = h('button', { type: 'button', class: 'icon-btn menu-toggle', 'aria-label': 'Show channels', 'aria-controls': 'sidebar', 'aria-expanded': 'false', testid: 'menu-toggle', onclick: () => this.togglePanel('sidebar') }, '☰');
    e.detailsBtn = h('button', { type: 'button', class: 'icon-btn details-toggle', 'aria-label': 'Show engagement details', 'aria-controls': 'details', 'aria-expanded': 'false', testid: 'details-toggle', onclick: () => this.togglePanel('details') }, h('span', { class: 'info-glyph', 'aria-hidden': 'true' }, 'i'));
    e.topTitle = h('span', { class: 'top-title' }, '');
    const header = h('header', { class: 'topbar' },
      e.menuBtn,
      h('div', { class: 'brand' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, 'P'), h('span', { class: 'brand-name' }, 'Parley')),
      e.topTitle,
      h('div', { class: 'top-right' },
        e.conn,
        h('span', { class: 'me', testid: 'me' },
          h('span', { class: 'me-name' }, this.me.name),
          h('span', { class: `role role-${this.me.role}` }, humanize(this.me.role))),
        e.detailsBtn,
        h('button', { type: 'button', class: 'btn ghost small', testid: 'sign-out', onclick: () => { forgetToken(); showSignIn(); } }, 'Sign out')));
    e.sidebar = h('nav', { id: 'sidebar', class: 'sidebar', 'aria-label': 'Channels', testid: 'sidebar' });
    e.main = h('main', { class: 'main', id: 'main' });
    e.details = h('aside', { id: 'details', class: 'details', 'aria-label': 'Engagement details', testid: 'details' });
    e.scrim = h('div', { class: 'scrim', onclick: () => this.closePanels() });
    e.toasts = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite', testid: 'toasts' });
    replaceChildren(root, h('div', { class: 'app' }, header, h('div', { class: 'shell' }, e.sidebar, e.main, e.details, e.scrim), e.toasts));
    document.addEventListener('keydown', (ev) => { if (ev.key === 'Escape') this.closePanels(); });

    const c = this.conn;
    c.addEventListener('state', () => {
      this.renderConnection();
      if (c.state !== 'online') {
        for (const ch of this.channels.values()) { ch.presence.clear(); ch.typing.clear(); }
        this.renderPresence();
        this.renderTyping();
        this.renderPendingPosts();
      }
    });
    c.addEventListener('refused', (ev) => { forgetToken(); showSignIn(ev.detail.message); });
    c.addEventListener('hello', (ev) => { this.me = { ...this.me, ...ev.detail.user }; });
    c.addEventListener('reset', (ev) => this.onReset(ev.detail));
    c.addEventListener('events', (ev) => this.onEvents(ev.detail.ch, ev.detail.events));
    c.addEventListener('joined', (ev) => this.onJoined(ev.detail));
    c.addEventListener('push', (ev) => this.onPush(ev.detail.frame));
    c.addEventListener('outbox', () => this.renderPendingPosts());
    c.start();

    if (this.role === 'support') this.subscribe('support').catch(() => {});
    for (const id of this.listedEngagements().slice(0, 10)) this.ensureEngagement(id);

    window.addEventListener('hashchange', this.onHash);
    document.addEventListener('visibilitychange', this.onVisibility);
    this.route();
  }

  listedEngagements() {
    return this.claims.eng.filter((e) => e !== '*' && ENG_ID.test(e));
  }

  togglePanel(which) {
    const open = !document.body.classList.contains(`show-${which}`);
    this.closePanels();
    if (open) {
      document.body.classList.add(`show-${which}`);
      const btn = which === 'sidebar' ? this.el.menuBtn : this.el.detailsBtn;
      btn.setAttribute('aria-expanded', 'true');
      const panel = which === 'sidebar' ? this.el.sidebar : this.el.details;
      panel.setAttribute('tabindex', '-1');
      panel.focus();
    }
  }

  closePanels() {
    document.body.classList.remove('show-sidebar', 'show-details');
    this.el.menuBtn.setAttribute('aria-expanded', 'false');
    this.el.detailsBtn.setAttribute('aria-expanded', 'false');
  }

  toast(text, kind = 'info') {
    const t = h('div', { class: `toast ${kind}`, testid: 'toast' }, text);
    this.el.toasts.appendChild(t);
    setTimeout(() => t.remove(), 6000);
  }

  navigate(hash) {
    if (location.hash === hash) this.route();
    else location.hash = hash;
  }

  // -------------------------------------------------------------- routing

  route() {
    this.closePanels();
    const hash = location.hash.replace(/^#/, '');
    let m;
    if ((m = /^\/eng\/([^/]+)(\/mediation)?$/.exec(hash))) {
      const id = decodeURIComponent(m[1]);
      if (!ENG_ID.test(id) || (!this.allEngagements && !this.claims.eng.includes(id))) {
        this.showHome(`You do not have access to engagement “${id}”.`);
        return;
      }
      this.openChannel(m[2] ? `eng:${id}:mediation` : `eng:${id}`);
      return;
    }
    if (hash === '/support' && this.role === 'support') { this.openChannel('support'); return; }
    const listed = this.listedEngagements();
    if (this.role === 'support') { location.replace('#/support'); return; }
    if (listed.length === 1 && !this.allEngagements) { location.replace(`#/eng/${encodeURIComponent(listed[0])}`); return; }
    this.showHome();
  }

  showHome(problem) {
    this.current = { kind: 'home' };
    this.view = null;
    document.title = 'Parley';
    setText(this.el.topTitle, 'Engagements');
    document.body.classList.add('no-details');
    clear(this.el.details);
    const listed = this.listedEngagements();
    const content = [
      h('h1', null, 'Your engagements'),
      problem ? h('p', { class: 'form-error', role: 'alert' }, problem) : null,
    ];
    if (listed.length) {
      content.push(h('ul', { class: 'eng-list', testid: 'engagement-list' }, listed.map((id) => {
        const eng = this.engagements.get(id);
        const phase = eng ? eng.phaseInfo().phase : null;
        return h('li', null, h('a', { class: 'eng-card', href: `#/eng/${encodeURIComponent(id)}`, testid: `engagement-link-${id}` },
          h('span', { class: 'eng-card-title' }, `Engagement ${id}`),
          phase ? h('span', { class: `phase-chip phase-${phase}` }, humanize(phase)) : null,
          h('span', { class: 'eng-card-go', 'aria-hidden': 'true' }, '→')));
      })));
    } else if (!this.allEngagements) {
      content.push(h('p', { class: 'empty' }, 'This access token does not name any engagement.'));
    }
    if (this.allEngagements) content.push(this.openByIdForm());
    replaceChildren(this.el.main, h('div', { class: 'home', testid: 'home' }, content));
    this.renderSidebar();
  }

  openByIdForm() {
    const input = h('input', { id: 'open-eng-id', type: 'text', required: true, pattern: '[A-Za-z0-9_\\-]{1,64}', testid: 'open-engagement-id', autocomplete: 'off' });
    return h('form', {
      class: 'open-by-id', 'aria-label': 'Open an engagement',
      onsubmit: (e) => { e.preventDefault(); const id = input.value.trim(); if (ENG_ID.test(id)) this.navigate(`#/eng/${encodeURIComponent(id)}`); },
    }, h('label', { for: 'open-eng-id' }, 'Open engagement by id'), h('div', { class: 'row' }, input, h('button', { type: 'submit', class: 'btn small' }, 'Open')));
  }

  // -------------------------------------------------------------- channels

  channel(ch) {
    let c = this.channels.get(ch);
    if (!c) { c = new ChannelModel(ch); this.channels.set(ch, c); }
    return c;
  }

  subscribe(ch) {
    const c = this.channel(ch);
    return this.conn.subscribe(ch).then((join) => join, (err) => {
      if (err.code === 'not_found') c.missing = true;
      else if (err.code === 'forbidden') { c.forbidden = true; this.toast(`You cannot open ${ch}: ${err.message}`, 'error'); }
      this.renderSidebar();
      if (this.current && this.current.ch === ch) this.renderChannelFrame();
      throw err;
    });
  }

  ensureEngagement(id) {
    let eng = this.engagements.get(id);
    if (!eng) {
      eng = new EngagementModel(id);
      this.engagements.set(id, eng);
      if (!this.listedEngagements().includes(id)) this.recentEngagements.push(id);
      this.subscribe(`eng:${id}`).catch(() => {});
      if (isParty(this.role) || this.role === 'support') this.tryMediation(id);
      this.loadLog(id);
    }
    return eng;
  }

  tryMediation(id) {
    const ch = `eng:${id}:mediation`;
    if (this.conn.isSubscribed(ch)) return Promise.resolve();
    const c = this.channel(ch);
    c.missing = false;
    return this.subscribe(ch).then((join) => {
      const eng = this.engagements.get(id);
      if (eng && join && join.head > 0 && eng.mediation !== 'closed') eng.mediation = 'open';
      this.renderSidebar();
    }, () => {});
  }

  openChannel(ch) {
    const info = engagementOf(ch);
    const eng = info ? this.ensureEngagement(info.id) : null;
    if (ch === 'support') this.subscribe('support').catch(() => {});
    this.current = { kind: info ? 'eng' : 'support', eng: info ? info.id : null, room: info ? info.room : 'support', ch };
    this.replyTo = null;
    document.body.classList.toggle('no-details', !info);
    if (info && info.room === 'mediation') {
      const c = this.channel(ch);
      if (!this.conn.isSubscribed(ch)) { c.missing = false; this.tryMediation(info.id).then(() => this.renderChannelFrame()); }
    }
    this.renderChannelFrame();
    this.renderSidebar();
    if (eng) { this.renderDetails(); this.refreshState(info.id, 0); }
  }

  onReset({ ch, join, events }) {
    const c = this.channel(ch);
    c.epoch = join.epoch;
    c.head = join.head || 0;
    c.joined = true;
    c.missing = false;
    c.reset(events);
    const info = engagementOf(ch);
    if (info) {
      const eng = this.ensureEngagement(info.id);
      eng.ingest(ch, c.list());
      if (info.room === 'mediation' && eng.mediation === 'unknown' && c.head > 0) eng.mediation = 'open';
    }
    if (this.current && this.current.ch === ch) this.renderChannelFrame();
    else this.renderSidebar();
    if (info) this.engagementChanged(info.id);
  }

  onJoined({ ch, join }) {
    const c = this.channel(ch);
    c.presence.clear();
    for (const u of join.presence || []) if (u && u.id) c.presence.set(u.id, u);
    const info = engagementOf(ch);
    if (info && join.state && typeof join.state === 'object') this.applyState(info.id, join.state);
    if (this.current && this.current.ch === ch) { this.renderPresence(); this.markRead(); }
  }

  onEvents(ch, events) {
    const c = this.channel(ch);
    const added = c.add(events);
    if (!added.length) return;
    const viewing = this.current && this.current.ch === ch && document.visibilityState === 'visible';
    const fromOthers = added.filter((ev) => !ev.from || ev.from.id !== this.me.id);
    for (const ev of added) if (ev.from) c.typing.delete(ev.from.id);
    if (!viewing) c.unread += fromOthers.length;
    const info = engagementOf(ch);
    if (info) {
      const eng = this.ensureEngagement(info.id);
      eng.ingest(ch, added);
      let workflow = false;
      for (const ev of added) {
        if (ev.kind !== 'message' && ev.kind !== 'status') workflow = true;
        if (ev.kind === 'mediation' && ev.body && ev.body.state !== 'closed') this.tryMediation(info.id);
        if (ev.kind === 'decision' && ev.body && ev.body.record) this.loadLog(info.id);
        if (ev.kind === 'flag' && ev.body && ev.body.type === 'dispute') setTimeout(() => this.tryMediation(info.id), 300);
      }
      // The server pushes the state after every other event; a message or a
      // status update moves only the reply and status clocks, read again shortly.
      if (workflow) this.engagementChanged(info.id);
      else if (eng.state && eng.stateSource === 'server') this.refreshState(info.id, 1000);
    }
    if (this.view && this.view.ch === ch) {
      this.view.append(added);
      if (viewing) this.markRead();
      this.renderTyping();
    }
    this.renderSidebar();
  }

  onPush(frame) {
    if (frame.ev === 'state') { this.applyState(frame.eng, frame.state); return; }
    const c = this.channels.get(frame.ch);
    if (!c) return;
    if (frame.ev === 'presence') {
      for (const u of frame.joined || []) if (u && u.id) c.presence.set(u.id, u);
      for (const u of frame.left || []) if (u && u.id) c.presence.delete(u.id);
      if (this.current && this.current.ch === frame.ch) this.renderPresence();
    } else if (frame.ev === 'typing') {
      const u = frame.user;
      if (!u || u.id === this.me.id) return;
      c.typing.set(u.id, { user: u, until: Date.now() + 5000 });
      if (this.current && this.current.ch === frame.ch) this.renderTyping();
      setTimeout(() => { if (this.current && this.current.ch === frame.ch) this.renderTyping(); }, 5100);
    } else if (frame.ev === 'read') {
      const u = frame.user;
      if (!u || u.id === this.me.id) return;
      c.readBy.set(u.id, { user: u, seq: frame.seq });
      if (this.view && this.view.ch === frame.ch) this.view.renderReceipt();
    }
  }

  markRead() {
    if (!this.current || !this.current.ch || document.visibilityState !== 'visible') return;
    const c = this.channels.get(this.current.ch);
    if (!c) return;
    const hadUnread = c.unread;
    c.unread = 0;
    if (hadUnread) this.renderSidebar();
    const seq = c.maxSeq;
    if (seq > c.lastReadSent && this.conn.state === 'online') {
      c.lastReadSent = seq;
      this.conn.request('read', { ch: c.ch, seq }).catch(() => { c.lastReadSent = 0; });
    }
  }

  // -------------------------------------------------------------- engagement state

  refreshState(id, delay = 250) {
    clearTimeout(this.stateTimers.get(id));
    this.stateTimers.set(id, setTimeout(async () => {
      try {
        const res = await fetch(`/api/v1/engagements/${encodeURIComponent(id)}`, { headers: { Authorization: `Bearer ${this.token}` }, cache: 'no-store' });
        if (res.status === 401) { this.conn.refuse('The server refused your access token. It may have expired.'); return; }
        if (!res.ok) return;
        const body = await res.json();
        this.applyState(id, body && body.state && body.state.phase ? body.state : body);
      } catch { /* keep the derived view */ }
    }, delay));
  }

  // The server's state of engagement `id` (join reply, HTTP, or a `state` push).
  applyState(id, state) {
    if (!ENG_ID.test(String(id)) || !state || typeof state !== 'object' || typeof state.phase !== 'string') return;
    const eng = this.ensureEngagement(id);
    eng.state = state;
    eng.stateSource = 'server';
    this.engagementChanged(id);
  }

  async loadLog(id) {
    const eng = this.ensureEngagement(id);
    eng.log.status = 'loading';
    let records = null;
    // The log comes in pages: `next` is where the following one starts (null at the end).
    try {
      await this.waitOnline();
      const all = [];
      for (let after = 0; ;) {
        const reply = await this.conn.request('decisions', { eng: id, after });
        if (!Array.isArray(reply.records)) throw new Error('no records');
        all.push(...reply.records);
        if (reply.next == null || reply.next <= after) break;
        after = reply.next;
      }
      records = all;
    } catch {
      try {
        const all = [];
        for (let after = 0; ;) {
          const res = await fetch(`/api/v1/engagements/${encodeURIComponent(id)}/decisions?after=${after}`, { headers: { Authorization: `Bearer ${this.token}` }, cache: 'no-store' });
          if (!res.ok) throw new Error(`status ${res.status}`);
          const page = await res.json();
          all.push(...page.records);
          if (page.next == null || page.next <= after) break;
          after = page.next;
        }
        records = all;
      } catch { /* shown as unavailable */ }
    }
    if (!Array.isArray(records)) {
      eng.log = { records: [], verify: null, sigs: null, status: 'unavailable', error: 'The decision log is not available yet.' };
    } else {
      const verify = await verifyChain(records);
      const sigs = records.length ? await verifySignatures(records, await loadKeySet()) : null;
      eng.log = { records, verify, sigs, status: 'ready', error: null };
    }
    if (this.current && this.current.eng === id) this.renderDetails();
  }

  waitOnline() {
    if (this.conn.state === 'online') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => { this.conn.removeEventListener('state', on); reject(new Error('offline')); }, 10000);
      const on = () => { if (this.conn.state === 'online') { clearTimeout(t); this.conn.removeEventListener('state', on); resolve(); } };
      this.conn.addEventListener('state', on);
    });
  }

  engagementChanged(id) {
    if (!this.current || this.current.eng !== id) { this.renderSidebar(); return; }
    if (this.changeQueued) return;
    this.changeQueued = true;
    requestAnimationFrame(() => {
      this.changeQueued = false;
      this.renderPhaseTrack();
      this.renderDetails();
      this.renderSidebar();
      this.renderActions();
      this.refreshComposer();
      if (this.view) this.view.refreshLive();
    });
  }

  // The composer follows `can`: it opens when the reader may message, and
  // turns read-only once it may not (e.g. the engagement is declined).
  refreshComposer() {
    const e = this.el;
    if (!e || !e.composer || !this.current || !this.current.ch) return;
    if (this.canMessage(this.current.ch) === !!e.input) return;
    const fresh = this.composer(this.current.ch);
    e.composer.replaceWith(fresh);
    e.composer = fresh;
  }

  // -------------------------------------------------------------- permissions

  // The actions the server says this reader may take now in engagement `id`
  // (state.can, protocol §9.9): the page offers exactly these and derives none.
  actions(id) {
    const eng = id ? this.engagements.get(id) : null;
    const can = eng && eng.stateSource === 'server' && eng.state && Array.isArray(eng.state.can) ? eng.state.can : [];
    return new Set(can);
  }

  // The topics this reader may propose now, `resolution` included.
  proposableTopics(id) {
    return [...this.actions(id)].filter((a) => a.startsWith('propose:')).map((a) => a.slice('propose:'.length));
  }

  canMessage(ch) {
    if (ch === 'support') return this.role === 'support';
    const info = engagementOf(ch);
    return !!info && this.actions(info.id).has('message');
  }

  canDecide(p) {
    const info = engagementOf(p.ch);
    return !!info && this.actions(info.id).has(`decide:${p.ev.seq}`);
  }

  // Acknowledging a flag is not one of the actions `can` lists: it stays open
  // to whoever may update flags at all (the parties and support).
  canAcknowledgeFlag() { return isParty(this.role) || this.role === 'support'; }

  canResolveFlag(ev) {
    const info = engagementOf(ev.ch);
    return !!info && this.actions(info.id).has(`resolve:${ev.seq}`);
  }

  timelineCtx() {
    const s = this;
    const engOf = (ch) => { const i = engagementOf(ch); return i ? this.engagements.get(i.id) : null; };
    return {
      me: this.me,
      online: this.conn.state === 'online',
      lookup: (ch, seq) => { const c = s.channels.get(ch); return c ? c.events.get(seq) : null; },
      jumpTo: (ch, seq) => { if (s.view) s.view.jumpTo(seq); },
      canMessage: (ch) => s.canMessage(ch),
      reply: (ev) => s.setReply(ev),
      flagState: (ch, seq) => { const e = engOf(ch); return e ? e.flagState(ch, seq) : 'open'; },
      canAcknowledgeFlag: () => s.canAcknowledgeFlag(),
      canResolveFlag: (ev) => s.canResolveFlag(ev),
      updateFlag: (ev, state) => s.updateFlag(ev, state),
      mediationOpen: (ch) => { const e = engOf(ch); return !!e && e.mediation === 'open' && s.current && s.current.room === 'main'; },
      canJoinMediation: () => (isParty(s.role) || s.role === 'support') && s.current && s.current.room === 'main',
      openMediation: (ch) => { const i = engagementOf(ch); if (i) s.navigate(`#/eng/${encodeURIComponent(i.id)}/mediation`); },
      proposal: (ch, seq) => { const e = engOf(ch); return e ? e.proposals.get(`${ch}#${seq}`) : null; },
      proposalStatus: (p) => { const e = engOf(p.ch); return e ? e.proposalStatus(p) : { status: 'open', sides: new Set() }; },
      canDecide: (p) => s.canDecide(p),
      decide: (p, verdict, btn) => s.decide(p, verdict, btn),
      navigate: (hash) => s.navigate(hash),
    };
  }

  // -------------------------------------------------------------- actions

  async send(ch, kind, body, { quiet = false } = {}) {
    try {
      const reply = await this.conn.post(ch, kind, body);
      return reply;
    } catch (err) {
      if (err.code !== 'cancelled' && !quiet) this.toast(explain(err), 'error');
      throw err;
    }
  }

  setReply(ev) {
    this.replyTo = ev;
    this.renderReplyChip();
    if (this.el.input) this.el.input.focus();
  }

  updateFlag(ev, state) {
    const input = h('textarea', { id: 'dlg-flag-note', rows: '3', testid: 'flag-update-text', required: true });
    input.value = state === 'acknowledged' ? 'Acknowledged, looking into it.' : 'Resolved.';
    this.dialog({
      title: `${state === 'acknowledged' ? 'Acknowledge' : 'Resolve'} ${flagLabel(ev.body.type)} flag #${ev.seq}`,
      submit: state === 'acknowledged' ? 'Acknowledge' : 'Resolve',
      fields: [h('label', { for: 'dlg-flag-note' }, 'Note'), input],
      onSubmit: () => this.send(ev.ch, 'flag_update', { flag: ev.seq, state, text: input.value.trim() || humanize(state) }),
    });
  }

  async decide(p, verdict, btn) {
    if (btn) btn.disabled = true;
    try {
      await this.send(p.ch, 'decision', { proposal: p.ev.seq, verdict });
      this.toast(verdict === 'accepted' ? `You accepted ${topicLabel(p.ev.body.topic).toLowerCase()} proposal #${p.ev.seq}.` : `You rejected proposal #${p.ev.seq}.`);
    } catch {
      if (btn) btn.disabled = false;
    }
  }

  openFlagDialog() {
    const types = this.role === 'bot' ? ['delay', 'risk', 'blocker'] : FLAG_TYPES;
    const type = h('select', { id: 'dlg-flag-type', testid: 'flag-type-select' }, types.map((t) => h('option', { value: t }, flagLabel(t))));
    const text = h('textarea', { id: 'dlg-flag-text', rows: '4', required: true, testid: 'flag-text-input', placeholder: 'What is the problem?' });
    const hint = h('p', { class: 'hint' }, '');
    const updateHint = () => setText(hint, type.value === 'dispute'
      ? 'A dispute opens a mediation room with support staff. It is resolved only by a resolution both parties accept.'
      : type.value === 'scope_change' ? 'Support staff are notified of scope changes.' : '');
    type.addEventListener('change', updateHint);
    updateHint();
    this.dialog({
      title: 'Raise a flag', submit: 'Raise flag', testid: 'flag-dialog',
      fields: [h('label', { for: 'dlg-flag-type' }, 'Type'), type, hint, h('label', { for: 'dlg-flag-text' }, 'Description'), text],
      onSubmit: () => this.send(`eng:${this.current.eng}`, 'flag', { type: type.value, text: text.value.trim() }),
    });
  }

  openStatusDialog() {
    const text = h('textarea', { id: 'dlg-status-text', rows: '3', required: true, testid: 'status-text-input', placeholder: 'What has been done, what is next?' });
    const progress = h('input', { id: 'dlg-status-progress', type: 'range', min: '0', max: '100', step: '5', value: '50', testid: 'status-progress-input' });
    const out = h('output', { for: 'dlg-status-progress', class: 'range-out' }, '50%');
    const include = h('input', { id: 'dlg-status-include', type: 'checkbox', checked: true });
    progress.addEventListener('input', () => setText(out, `${progress.value}%`));
    this.dialog({
      title: 'Post a status update', submit: 'Post update', testid: 'status-dialog',
      fields: [h('label', { for: 'dlg-status-text' }, 'Update'), text,
        h('div', { class: 'check-row' }, include, h('label', { for: 'dlg-status-include' }, 'Include progress')),
        h('label', { for: 'dlg-status-progress' }, 'Progress'), h('div', { class: 'row' }, progress, out)],
      onSubmit: () => {
        const body = { text: text.value.trim() };
        if (include.checked) body.progress = Number(progress.value);
        return this.send(`eng:${this.current.eng}`, 'status', body);
      },
    });
  }

  termsEditor(initial) {
    const rows = h('div', { class: 'terms-rows', testid: 'terms-rows' });
    let n = 0;
    const addRow = (k = '', v = '') => {
      n += 1;
      const key = h('input', { type: 'text', value: k, 'aria-label': `Term ${n} name`, class: 'term-key', testid: 'term-key', placeholder: 'e.g. fee' });
      const val = h('input', { type: 'text', value: v, 'aria-label': `Term ${n} value`, class: 'term-value', testid: 'term-value', placeholder: 'e.g. 4800' });
      const row = h('div', { class: 'term-row' }, key, val,
        h('button', { type: 'button', class: 'icon-btn', 'aria-label': `Remove term ${n}`, onclick: () => row.remove() }, '×'));
      rows.appendChild(row);
      return key;
    };
    for (const [k, v] of initial) addRow(k, v);
    const add = h('button', { type: 'button', class: 'btn ghost small', testid: 'add-term', onclick: () => addRow().focus() }, '+ Add term');
    const read = () => {
      const terms = {};
      for (const row of rows.querySelectorAll('.term-row')) {
        const k = row.querySelector('.term-key').value.trim();
        const v = row.querySelector('.term-value').value.trim();
        if (k) terms[k] = parseValue(v);
      }
      return terms;
    };
    return { el: h('div', { class: 'terms-editor' }, rows, add), read };
  }

  openProposalDialog() {
    const eng = this.engagements.get(this.current.eng);
    const phase = eng ? eng.phaseInfo().phase : 'discovery';
    // `propose:phase` means a move to the next phase: the only one offered.
    const next = PHASES[PHASES.indexOf(phase) + 1];
    const allowed = this.proposableTopics(this.current.eng);
    const topics = PROPOSAL_TOPICS.filter((t) => allowed.includes(t));
    const topic = h('select', { id: 'dlg-prop-topic', testid: 'proposal-topic-select' }, topics.map((t) => h('option', { value: t }, topicLabel(t))));
    const to = h('select', { id: 'dlg-prop-to', testid: 'proposal-phase-select', disabled: true }, next ? [h('option', { value: next, selected: true }, humanize(next))] : []);
    const text = h('textarea', { id: 'dlg-prop-text', rows: '3', testid: 'proposal-text-input', placeholder: 'Describe what you propose' });
    const termsByTopic = {
      agreement: [['scope', ''], ['timeline', ''], ['compensation', '']],
      scope_change: [['scope', '']], timeline: [['deadline', '']], compensation: [['fee', '']],
    };
    const phaseRow = h('div', { class: 'field-group' }, h('label', { for: 'dlg-prop-to' }, 'Move to phase'), to);
    const termsWrap = h('div', { class: 'field-group' });
    let editor = null;
    const update = () => {
      const t = topic.value;
      phaseRow.hidden = t !== 'phase';
      editor = t === 'phase' ? null : this.termsEditor(termsByTopic[t] || []);
      replaceChildren(termsWrap, t === 'phase' ? null : [h('span', { class: 'label' }, 'Terms'), editor.el]);
      termsWrap.hidden = t === 'phase';
      if (t === 'phase' && !text.value) text.value = next ? `Move the engagement to ${next}.` : '';
    };
    topic.addEventListener('change', update);
    update();
    this.dialog({
      title: 'Make a proposal', submit: 'Send proposal', testid: 'proposal-dialog',
      fields: [h('label', { for: 'dlg-prop-topic' }, 'Topic'), topic, phaseRow, h('label', { for: 'dlg-prop-text' }, 'Text'), text, termsWrap],
      onSubmit: () => {
        const t = topic.value;
        const terms = t === 'phase' ? { to: to.value } : editor.read();
        return this.send(`eng:${this.current.eng}`, 'proposal', { topic: t, text: text.value.trim() || topicLabel(t), terms });
      },
    });
  }

  openResolutionDialog() {
    const eng = this.engagements.get(this.current.eng);
    const disputes = eng ? eng.openFlags().filter((f) => f.ev.body.type === 'dispute') : [];
    const all = eng ? [...eng.flags.values()].filter((f) => f.ev.body.type === 'dispute') : [];
    const choices = disputes.length ? disputes : all;
    const flag = h('select', { id: 'dlg-res-flag', testid: 'resolution-flag-select', required: true },
      choices.map((f) => h('option', { value: String(f.ev.seq) }, `#${f.ev.seq} — ${excerpt(f.ev.body.text, 60)}`)));
    const manual = h('input', { id: 'dlg-res-flag-manual', type: 'number', min: '1', testid: 'resolution-flag-seq', hidden: choices.length > 0 });
    const text = h('textarea', { id: 'dlg-res-text', rows: '3', required: true, testid: 'resolution-text-input', placeholder: 'The resolution both parties are asked to accept' });
    const editor = this.termsEditor([['refund', '']]);
    this.dialog({
      title: 'Propose a resolution', submit: 'Propose resolution', testid: 'resolution-dialog',
      fields: [
        h('label', { for: choices.length ? 'dlg-res-flag' : 'dlg-res-flag-manual' }, 'Dispute flag'),
        choices.length ? flag : manual,
        h('label', { for: 'dlg-res-text' }, 'Resolution'), text,
        h('span', { class: 'label' }, 'Terms'), editor.el],
      onSubmit: () => {
        const seq = Number(choices.length ? flag.value : manual.value);
        if (!Number.isInteger(seq) || seq < 1) throw new Error('Choose the dispute flag this resolves.');
        return this.send(`eng:${this.current.eng}:mediation`, 'proposal', { topic: 'resolution', text: text.value.trim(), terms: { ...editor.read(), flag: seq } });
      },
    });
  }

  dialog({ title, fields, submit, onSubmit, testid }) {
    const err = h('p', { class: 'form-error', role: 'alert', hidden: true });
    const titleId = `dlg-title-${Math.random().toString(36).slice(2)}`;
    const submitBtn = h('button', { type: 'submit', class: 'btn primary', testid: 'dialog-submit' }, submit);
    const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': titleId, testid: testid || 'dialog' });
    const form = h('form', {
      onsubmit: async (e) => {
        e.preventDefault();
        submitBtn.disabled = true;
        err.hidden = true;
        try {
          const p = onSubmit();
          dlg.close();
          await p;
        } catch (ex) {
          if (dlg.open) { err.hidden = false; err.textContent = ex.message; }
        } finally {
          submitBtn.disabled = false;
        }
      },
    },
    h('h2', { id: titleId }, title),
    h('div', { class: 'fields' }, fields),
    err,
    h('div', { class: 'dialog-actions' },
      h('button', { type: 'button', class: 'btn ghost', testid: 'dialog-cancel', onclick: () => dlg.close() }, 'Cancel'),
      submitBtn));
    dlg.appendChild(form);
    dlg.addEventListener('close', () => { dlg.remove(); if (this.el.input) this.el.input.focus(); });
    document.body.appendChild(dlg);
    dlg.showModal();
    const first = form.querySelector('select, textarea, input');
    if (first) first.focus();
  }

  // -------------------------------------------------------------- rendering

  renderConnection() {
    if (!this.el) return;
    const c = this.conn;
    const pending = c.outbox.size;
    let text;
    switch (c.state) {
      case 'online': text = pending ? `Connected · sending ${pending}` : 'Connected'; break;
      case 'connecting': text = 'Connecting…'; break;
      case 'waiting': {
        const left = Math.max(0, Math.ceil(((c.lastRetryAt || Date.now()) - Date.now()) / 1000));
        text = left > 0 ? `Offline · retrying in ${left}s` : 'Reconnecting…';
        break;
      }
      case 'refused': text = 'Signed out'; break;
      default: text = 'Offline';
    }
    this.el.conn.dataset.state = c.state;
    setText(this.el.conn, text);
  }

  renderSidebar() {
    if (!this.el) return;
    if (this.sidebarQueued) return;
    this.sidebarQueued = true;
    requestAnimationFrame(() => { this.sidebarQueued = false; this.drawSidebar(); });
  }

  drawSidebar() {
    const items = [];
    const cur = this.current && this.current.ch;
    const link = (ch, label, href, extra) => {
      const c = this.channels.get(ch);
      const unread = c ? c.unread : 0;
      return h('li', null, h('a', {
        href, class: `chan-link${cur === ch ? ' active' : ''}`, testid: `channel-link-${ch}`,
        'aria-current': cur === ch ? 'page' : null,
        'aria-label': `${label}${unread ? `, ${unread} unread` : ''}`,
      },
      h('span', { class: 'chan-label' }, label),
      extra,
      h('span', { class: 'badge', testid: `unread-${ch}`, hidden: !unread, 'aria-hidden': 'true' }, String(unread))));
    };
    if (this.role === 'support') {
      items.push(h('h2', { class: 'side-h' }, 'Support'));
      items.push(h('ul', { class: 'chan-list' }, link('support', 'Support inbox', '#/support')));
    }
    const engIds = [...new Set([...this.listedEngagements(), ...this.recentEngagements])];
    if (engIds.length) items.push(h('h2', { class: 'side-h' }, this.role === 'support' ? 'Engagements opened' : 'Engagements'));
    for (const id of engIds) {
      const eng = this.engagements.get(id);
      const phase = eng ? eng.phaseInfo().phase : null;
      const medCh = `eng:${id}:mediation`;
      const med = this.channels.get(medCh);
      const hasMed = (med && med.joined && med.head > 0) || (eng && (eng.mediation === 'open' || eng.mediation === 'closed'));
      items.push(h('div', { class: 'side-eng' },
        h('div', { class: 'side-eng-title', title: `Engagement ${id}` }, h('span', null, id), phase ? h('span', { class: `phase-chip phase-${phase}` }, humanize(phase)) : null),
        h('ul', { class: 'chan-list' },
          link(`eng:${id}`, 'Conversation', `#/eng/${encodeURIComponent(id)}`),
          hasMed ? link(medCh, 'Mediation room', `#/eng/${encodeURIComponent(id)}/mediation`, h('span', { class: 'chan-tag', 'aria-hidden': 'true' }, '⚖')) : null)));
    }
    if (this.allEngagements) items.push(this.openByIdForm());
    replaceChildren(this.el.sidebar, items);
  }

  renderChannelFrame() {
    const cur = this.current;
    if (!cur || !cur.ch) return;
    const ch = cur.ch;
    const c = this.channel(ch);
    const isEng = cur.kind === 'eng';
    const title = ch === 'support' ? 'Support inbox' : cur.room === 'mediation' ? `Mediation · Engagement ${cur.eng}` : `Engagement ${cur.eng}`;
    document.title = `${title} · Parley`;
    setText(this.el.topTitle, title);
    const e = this.el;
    e.phaseTrack = isEng ? h('div', { class: 'phase-wrap', testid: 'phase-wrap' }) : null;
    e.presence = h('ul', { class: 'presence', testid: 'presence', 'aria-label': 'People here now' });
    e.banner = h('div', { class: 'banner-area' });
    e.timelineScroll = h('div', { class: 'timeline-scroll', testid: 'timeline-scroll' });
    e.typing = h('div', { class: 'typing', testid: 'typing-indicator', 'aria-live': 'polite' });
    e.actions = h('div', { class: 'actions', role: 'toolbar', 'aria-label': 'Actions' });
    e.replyChip = h('div', { class: 'reply-chip', testid: 'reply-chip', hidden: true });
    const subtitle = ch === 'support'
      ? 'Notices about scope changes, disputes and overdue phases across all engagements.'
      : cur.room === 'mediation' ? 'A private room for the parties and support staff to resolve a dispute.' : null;
    const tabs = isEng ? h('div', { class: 'room-tabs', role: 'navigation', 'aria-label': 'Rooms' },
      h('a', { href: `#/eng/${encodeURIComponent(cur.eng)}`, class: `tab${cur.room === 'main' ? ' active' : ''}`, 'aria-current': cur.room === 'main' ? 'page' : null, testid: 'tab-main' }, 'Conversation'),
      (this.channels.get(`eng:${cur.eng}:mediation`)?.head > 0 || ['open', 'closed'].includes(this.engagements.get(cur.eng)?.mediation) || cur.room === 'mediation')
        ? h('a', { href: `#/eng/${encodeURIComponent(cur.eng)}/mediation`, class: `tab${cur.room === 'mediation' ? ' active' : ''}`, 'aria-current': cur.room === 'mediation' ? 'page' : null, testid: 'tab-mediation' }, '⚖ Mediation')
        : null) : null;

    let body;
    if (c.missing && !c.joined) {
      body = h('div', { class: 'empty-state', testid: 'channel-missing' },
        h('h2', null, cur.room === 'mediation' ? 'No mediation room' : 'Not found'),
        h('p', null, cur.room === 'mediation' ? 'A mediation room opens when a party raises a dispute flag.' : 'This channel does not exist.'),
        isEng ? h('a', { class: 'btn', href: `#/eng/${encodeURIComponent(cur.eng)}` }, 'Back to the conversation') : null);
    } else if (c.forbidden) {
      body = h('div', { class: 'empty-state' }, h('h2', null, 'No access'), h('p', null, 'Your access token does not allow this channel.'));
    } else {
      body = e.timelineScroll;
    }
    replaceChildren(e.main, h('section', { class: `channel room-${cur.room}`, testid: 'channel', dataset: { ch }, 'aria-label': title },
      h('div', { class: 'channel-head' },
        h('div', { class: 'channel-title' },
          h('h1', { testid: 'channel-title' }, title),
          tabs,
          e.presence),
        subtitle ? h('p', { class: 'channel-sub' }, subtitle) : null,
        e.phaseTrack),
      e.banner,
      body,
      e.typing,
      e.composer = this.composer(ch)));
    this.view = body === e.timelineScroll ? new TimelineView(this, ch, e.timelineScroll) : null;
    if (this.view) this.view.renderAll();
    this.renderPhaseTrack();
    this.renderPresence();
    this.renderTyping();
    this.renderActions();
    this.renderPendingPosts();
    this.markRead();
  }

  composer(ch) {
    const e = this.el;
    if (!this.canMessage(ch)) {
      e.input = null;
      return h('div', { class: 'composer readonly' }, e.actions, h('p', { class: 'hint' }, 'You can read this channel but not post messages in it.'));
    }
    const input = h('textarea', {
      class: 'composer-input', rows: '1', testid: 'composer-input', id: 'composer-input',
      'aria-label': ch === 'support' ? 'Note to support staff' : 'Message',
      placeholder: ch === 'support' ? 'Write a note for support staff…' : 'Write a message…',
      'aria-describedby': 'composer-hint',
    });
    e.input = input;
    let lastTyping = 0;
    const autosize = () => { input.style.height = 'auto'; input.style.height = `${Math.min(input.scrollHeight, 200)}px`; };
    input.addEventListener('input', () => {
      autosize();
      const now = Date.now();
      if (input.value && now - lastTyping > 2500 && this.conn.state === 'online') {
        lastTyping = now;
        this.conn.send({ op: 'typing', ch });
      }
    });
    const submit = () => {
      const text = input.value;
      if (!text.trim()) return;
      const body = { text };
      if (this.replyTo && this.replyTo.ch === ch) body.reply_to = this.replyTo.seq;
      input.value = '';
      autosize();
      this.replyTo = null;
      this.renderReplyChip();
      lastTyping = 0;
      this.send(ch, 'message', body).catch(() => {});
    };
    input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); submit(); }
      if (ev.key === 'Escape' && this.replyTo) { this.replyTo = null; this.renderReplyChip(); }
    });
    const form = h('form', { class: 'composer', testid: 'composer', 'aria-label': 'Send a message', onsubmit: (ev) => { ev.preventDefault(); submit(); } },
      e.actions,
      e.replyChip,
      h('div', { class: 'composer-row' },
        input,
        h('button', { type: 'submit', class: 'btn primary send', testid: 'send-button', 'aria-label': 'Send message' }, 'Send')),
      h('p', { id: 'composer-hint', class: 'hint composer-hint' }, 'Enter to send · Shift+Enter for a new line'));
    return form;
  }

  renderActions() {
    const e = this.el;
    const cur = this.current;
    if (!e.actions || !cur) return;
    const buttons = [];
    const can = cur.kind === 'eng' ? this.actions(cur.eng) : new Set();
    const topics = cur.kind === 'eng' ? this.proposableTopics(cur.eng) : [];
    if (cur.kind === 'eng' && cur.room === 'main') {
      if (can.has('status')) buttons.push(h('button', { type: 'button', class: 'btn ghost small', testid: 'action-status', onclick: () => this.openStatusDialog() }, '◔ Status update'));
      if (can.has('flag')) buttons.push(h('button', { type: 'button', class: 'btn ghost small', testid: 'action-flag', onclick: () => this.openFlagDialog() }, '⚑ Raise flag'));
      if (topics.some((t) => t !== 'resolution')) buttons.push(h('button', { type: 'button', class: 'btn ghost small', testid: 'action-propose', onclick: () => this.openProposalDialog() }, '✎ Propose'));
    }
    if (cur.kind === 'eng' && cur.room === 'mediation' && topics.includes('resolution')) {
      buttons.push(h('button', { type: 'button', class: 'btn ghost small', testid: 'action-resolution', onclick: () => this.openResolutionDialog() }, '⚖ Propose resolution'));
    }
    replaceChildren(e.actions, buttons);
    e.actions.hidden = !buttons.length;
  }

  renderReplyChip() {
    const chip = this.el.replyChip;
    if (!chip) return;
    const r = this.replyTo;
    chip.hidden = !r;
    if (!r) { clear(chip); return; }
    replaceChildren(chip,
      h('span', { class: 'reply-label' }, 'Replying to ', h('strong', null, (r.from && (r.from.name || r.from.id)) || ''), ': ',
        h('span', { class: 'reply-excerpt' }, excerpt(r.body && r.body.text, 80))),
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Cancel reply', testid: 'cancel-reply', onclick: () => { this.replyTo = null; this.renderReplyChip(); } }, '×'));
  }

  renderPresence() {
    const el = this.el.presence;
    if (!el || !this.current) return;
    const c = this.channels.get(this.current.ch);
    const people = c ? [...c.presence.values()] : [];
    people.sort((a, b) => (a.id === this.me.id) - (b.id === this.me.id) || String(a.name).localeCompare(String(b.name)));
    replaceChildren(el, people.slice(0, 8).map((u) => h('li', { class: 'person', dataset: { userId: u.id }, testid: 'presence-user', title: `${u.name || u.id} (${u.role})` },
      h('span', { class: 'dot', 'aria-hidden': 'true' }),
      h('span', { class: 'person-name' }, u.id === this.me.id ? 'You' : (u.name || u.id)),
      h('span', { class: 'visually-hidden' }, `, ${u.role}, online`))));
  }

  renderTyping() {
    const el = this.el.typing;
    if (!el || !this.current) return;
    const c = this.channels.get(this.current.ch);
    const now = Date.now();
    const names = [];
    if (c) for (const [id, t] of c.typing) { if (t.until > now) names.push(t.user.name || t.user.id); else c.typing.delete(id); }
    const text = !names.length ? '' : names.length === 1 ? `${names[0]} is typing…` : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]} are typing…`;
    setText(el, text);
    el.classList.toggle('on', !!text);
  }

  renderPendingPosts() {
    this.renderConnection();
    if (this.view) this.view.renderPending(this.conn.pendingPosts(this.view.ch));
  }

  renderPhaseTrack() {
    const wrap = this.el && this.el.phaseTrack;
    const cur = this.current;
    if (!wrap || !cur || cur.kind !== 'eng') return;
    const eng = this.engagements.get(cur.eng);
    if (!eng) return;
    const info = eng.phaseInfo();
    const idx = PHASES.indexOf(info.phase);
    const now = Date.now();
    const overdue = info.due && now > info.due && info.phase !== 'closed';
    const key = `${info.phase}|${info.due}|${overdue}|${Math.floor(now / 60000)}`;
    if (wrap.dataset.key === key) return;
    wrap.dataset.key = key;
    let dueText = '';
    if (info.phase === 'closed') dueText = 'Engagement closed';
    else if (info.due) dueText = overdue ? `Overdue by ${formatDuration(now - info.due)}` : `Due in ${formatDuration(info.due - now)}`;
    replaceChildren(wrap,
      h('ol', { class: 'phase-track', testid: 'phase-track', dataset: { phase: info.phase }, 'aria-label': `Phase: ${humanize(info.phase)}` },
        PHASES.map((p, i) => h('li', {
          class: `step ${i < idx ? 'done' : i === idx ? 'current' : 'todo'}${i === idx && overdue ? ' overdue' : ''}`,
          dataset: { phase: p }, testid: `phase-step-${p}`, 'aria-current': i === idx ? 'step' : null,
        }, h('span', { class: 'step-dot', 'aria-hidden': 'true' }, i < idx ? '✓' : String(i + 1)), h('span', { class: 'step-label' }, humanize(p))))),
      dueText ? h('p', {
        class: `phase-due${overdue ? ' overdue' : ''}`, testid: 'phase-due', dataset: { overdue: overdue ? 'true' : 'false' },
        title: info.due ? `Due ${formatDateTime(info.due)}` : null,
      }, overdue ? h('span', { class: 'overdue-mark', 'aria-hidden': 'true' }, '! ') : null, dueText,
      info.since ? h('span', { class: 'muted' }, ` · in ${humanize(info.phase).toLowerCase()} since ${formatDateTime(info.since)}`) : null) : null);
  }

  renderDetails() {
    const cur = this.current;
    const el = this.el.details;
    if (!cur || cur.kind !== 'eng') { clear(el); return; }
    const eng = this.engagements.get(cur.eng);
    if (!eng) return;
    const ctx = this.timelineCtx();
    const sections = [];
    const info = eng.phaseInfo();
    const agreement = eng.state && eng.state.agreement;
    sections.push(h('section', { class: 'panel', 'aria-labelledby': 'd-agreement' },
      h('h2', { id: 'd-agreement' }, 'Agreement'),
      agreement && agreement.terms
        ? [h('p', { class: 'muted', testid: 'agreement-version' }, `Version ${agreement.version}`), termsList(agreement.terms) || h('p', { class: 'muted' }, 'No terms yet.')]
        : h('p', { class: 'muted', testid: 'agreement-none' }, info.phase === 'discovery' || info.phase === 'agreement' ? 'No agreement accepted yet.' : 'No agreement terms recorded.')));

    const props = eng.openProposals();
    sections.push(h('section', { class: 'panel', 'aria-labelledby': 'd-proposals', testid: 'open-proposals' },
      h('h2', { id: 'd-proposals' }, 'Open proposals', props.length ? h('span', { class: 'count' }, String(props.length)) : null),
      props.length
        ? h('ul', { class: 'mini-list' }, props.map((p) => {
          const { children, status } = proposalCard(p, ctx, { compact: true });
          return h('li', { class: `mini-card proposal outcome-${status}`, testid: 'open-proposal', dataset: { seq: String(p.ev.seq), ch: p.ch } },
            p.ch.endsWith(':mediation') ? h('span', { class: 'chan-tag' }, 'Mediation') : null, children);
        }))
        : h('p', { class: 'muted' }, 'Nothing awaits a decision.')));

    const flags = eng.openFlags();
    sections.push(h('section', { class: 'panel', 'aria-labelledby': 'd-flags', testid: 'open-flags' },
      h('h2', { id: 'd-flags' }, 'Open flags', flags.length ? h('span', { class: 'count warn' }, String(flags.length)) : null),
      flags.length
        ? h('ul', { class: 'mini-list' }, flags.map((f) => h('li', { class: `mini-flag flag-${f.ev.body.type}`, testid: 'open-flag', dataset: { seq: String(f.ev.seq) } },
          h('span', { class: 'mini-flag-type' }, `${flagLabel(f.ev.body.type)} #${f.ev.seq}`),
          h('span', { class: `pill state-${f.state}` }, humanize(f.state)),
          h('span', { class: 'mini-flag-text' }, excerpt(f.ev.body.text, 90)))))
        : h('p', { class: 'muted' }, 'No open flags.')));

    sections.push(this.decisionLogPanel(eng));
    replaceChildren(el, h('button', { type: 'button', class: 'icon-btn close-details', 'aria-label': 'Close details', onclick: () => this.closePanels() }, '×'), sections);
  }

  decisionLogPanel(eng) {
    const log = eng.log;
    let badge;
    if (log.status === 'ready' && log.verify) {
      if (!log.records.length) badge = h('span', { class: 'chain empty', testid: 'chain-status', dataset: { state: 'empty' } }, 'No records yet');
      else if (log.verify.ok) badge = h('span', { class: 'chain ok', testid: 'chain-status', dataset: { state: 'verified' } }, `✓ Chain verified · ${log.records.length} record${log.records.length === 1 ? '' : 's'}`);
      else badge = h('span', { class: 'chain bad', testid: 'chain-status', dataset: { state: 'broken' }, role: 'alert' }, `✕ Chain broken at record ${log.verify.firstBad.n ?? log.verify.firstBad.index + 1}: ${log.verify.firstBad.reason}`);
    } else if (log.status === 'unavailable') {
      badge = h('span', { class: 'chain empty', testid: 'chain-status', dataset: { state: 'unavailable' } }, log.error);
    } else {
      badge = h('span', { class: 'chain empty', testid: 'chain-status', dataset: { state: 'checking' } }, 'Checking…');
    }
    const sigBadge = log.status === 'ready' && log.sigs ? signatureBadge(log.sigs) : null;
    const results = log.verify ? log.verify.results : [];
    const sigResults = log.sigs ? log.sigs.results : [];
    const list = log.records.length ? h('ol', { class: 'log-list', testid: 'decision-log-records' }, log.records.slice().reverse().map((r) => {
      const i = r.n - 1;
      // A record is verified when it chains and, where this browser can tell, its signature holds.
      const ok = results[i] ? results[i].ok && (sigResults[i] ? sigResults[i].ok : true) : null;
      return h('li', { class: `log-rec${ok === false ? ' bad' : ''}`, testid: 'decision-log-record', dataset: { n: String(r.n), verified: ok ? 'true' : 'false' } },
        h('div', { class: 'log-head' },
          h('span', { class: 'log-n' }, `#${r.n}`),
          h('span', { class: 'log-topic' }, topicLabel(r.topic)),
          h('span', { class: ok ? 'mark ok' : 'mark bad', 'aria-label': ok ? 'verified' : 'not verified' }, ok ? '✓' : '✕')),
        r.text ? h('p', { class: 'log-text' }, String(r.text)) : null,
        termsList(r.topic === 'phase' ? null : r.terms) || (r.topic === 'phase' && r.terms ? h('p', { class: 'log-text' }, `→ ${humanize(r.terms.to)}`) : null),
        h('p', { class: 'log-meta' }, `Proposed by ${r.proposed_by} · accepted by ${(r.accepted_by || []).join(', ')}${r.ts ? ` · ${formatDateTime(r.ts)}` : ''}`),
        h('p', { class: 'log-hash', title: String(r.hash) }, `${String(r.hash).slice(0, 16)}…`));
    })) : null;
    return h('section', { class: 'panel log-panel', 'aria-labelledby': 'd-log', testid: 'decision-log' },
      h('h2', { id: 'd-log' }, 'Decision log'),
      h('div', { class: 'log-bar' }, badge,
        h('button', { type: 'button', class: 'btn ghost small', testid: 'decision-log-download', 'aria-label': 'Download the decision log as JSONL', onclick: () => this.downloadLog(eng) }, '⇩ JSONL'),
        h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Check the decision log again', testid: 'decision-log-refresh', onclick: () => this.loadLog(eng.id) }, '↻')),
      sigBadge,
      list);
  }

  async downloadLog(eng) {
    let text = null;
    try {
      let all = '';
      for (let after = 0; ;) {
        const res = await fetch(`/api/v1/engagements/${encodeURIComponent(eng.id)}/decisions?format=jsonl&after=${after}`, { headers: { Authorization: `Bearer ${this.token}` }, cache: 'no-store' });
        if (!res.ok) throw new Error(`status ${res.status}`);
        all += await res.text();
        const next = res.headers.get('Parley-Next');
        if (next === null || Number(next) <= after) break;
        after = Number(next);
      }
      text = all;
    } catch { /* fall back to the records already loaded */ }
    if (text === null) text = eng.log.records.map((r) => JSON.stringify(r)).join('\n') + (eng.log.records.length ? '\n' : '');
    const url = URL.createObjectURL(new Blob([text], { type: 'application/x-ndjson' }));
    const a = h('a', { href: url, download: `parley-${eng.id}-decisions.jsonl`, hidden: true });
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 5000);
  }
}

// What the signature check of the decision log found, as one line.
function signatureBadge(sigs) {
  const base = { testid: 'signature-status', dataset: { state: sigs.state } };
  switch (sigs.state) {
    case 'verified':
      return h('p', { ...base, class: 'chain ok sig' }, `✓ Signatures verified · key ${sigs.kids.map((k) => k.slice(0, 8)).join(', ')}`);
    case 'broken':
      return h('p', { ...base, class: 'chain bad sig', role: 'alert' }, `✕ Signature invalid at record ${sigs.firstBad.n ?? sigs.firstBad.index + 1}: ${sigs.firstBad.reason}`);
    case 'unsupported':
      return h('p', { ...base, class: 'chain empty sig' }, 'Signatures not checked by this browser');
    default:
      return h('p', { ...base, class: 'chain empty sig' }, 'Signatures not checked: the signing keys are not available');
  }
}

// ---------------------------------------------------------------- timeline view

class TimelineView {
  constructor(session, ch, scroller) {
    this.s = session;
    this.ch = ch;
    this.scroller = scroller;
    this.nodes = new Map(); // seq -> li
    this.queue = [];
    this.loadingOlder = false;
    this.older = h('div', { class: 'older' });
    this.list = h('ol', { class: 'timeline', testid: 'timeline', role: 'log', 'aria-label': 'Conversation', 'aria-live': 'polite' });
    this.pendingList = h('ol', { class: 'timeline pending-list', 'aria-label': 'Not yet sent' });
    this.receipt = h('p', { class: 'receipt', testid: 'read-receipt', 'aria-live': 'off' });
    this.empty = h('div', { class: 'empty-state small', testid: 'timeline-empty' }, h('p', null, 'No messages yet. Say hello.'));
    replaceChildren(scroller, this.older, this.empty, this.list, this.pendingList, this.receipt);
    this.ctx = session.timelineCtx();
    this.renderToken = 0;
    // Scrolling up to the top loads earlier events.
    this.observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting) && this.list.dataset.rendered) this.loadOlder();
    }, { root: scroller, rootMargin: '200px 0px 0px 0px' });
    this.observer.observe(this.older);
  }

  nearBottom() {
    const el = this.scroller;
    return el.scrollHeight - el.scrollTop - el.clientHeight < 120;
  }

  scrollToBottom() { this.scroller.scrollTop = this.scroller.scrollHeight; }

  // Renders the whole channel in chunks, newest chunk first so the screen fills at once.
  renderAll() {
    const c = this.s.channel(this.ch);
    const events = c.list();
    const token = ++this.renderToken;
    this.ctx = this.s.timelineCtx();
    clear(this.list);
    delete this.list.dataset.rendered;
    this.nodes.clear();
    this.renderOlderButton();
    this.empty.hidden = events.length > 0 || !c.joined;
    if (!c.joined) this.empty.hidden = true;
    let end = events.length;
    const step = () => {
      if (token !== this.renderToken) return;
      const start = Math.max(0, end - RENDER_CHUNK);
      const frag = document.createDocumentFragment();
      for (let i = start; i < end; i++) {
        const node = renderEvent(events[i], this.ctx);
        this.nodes.set(events[i].seq, node);
        frag.appendChild(node);
      }
      const prevHeight = this.scroller.scrollHeight;
      const prevTop = this.scroller.scrollTop;
      const first = this.list.firstChild;
      this.list.insertBefore(frag, first);
      if (end === events.length) this.scrollToBottom();
      else this.scroller.scrollTop = prevTop + (this.scroller.scrollHeight - prevHeight);
      end = start;
      if (end > 0) requestAnimationFrame(step);
      else { this.list.dataset.rendered = String(events.length); this.renderReceipt(); }
    };
    if (events.length) step();
    else this.list.dataset.rendered = '0';
  }

  renderOlderButton() {
    const c = this.s.channel(this.ch);
    replaceChildren(this.older, c.hasOlder
      ? h('button', { type: 'button', class: 'btn ghost small', testid: 'load-older', onclick: () => this.loadOlder() }, this.loadingOlder ? 'Loading…' : 'Load earlier messages')
      : (c.joined && c.order.length ? h('p', { class: 'start-mark' }, this.ch === 'support' ? 'Start of the support inbox' : 'Start of the conversation') : null));
  }

  async loadOlder() {
    const c = this.s.channel(this.ch);
    if (this.loadingOlder || !c.hasOlder) return;
    this.loadingOlder = true;
    this.renderOlderButton();
    try {
      const page = await this.s.conn.request('history', { ch: this.ch, before: c.minSeq, limit: 200 });
      const added = c.add(page.events || []);
      const info = engagementOf(this.ch);
      if (info) this.s.ensureEngagement(info.id).ingest(this.ch, added);
      await this.prependChunked(added);
    } catch (err) {
      this.s.toast(explain(err), 'error');
    } finally {
      this.loadingOlder = false;
      this.renderOlderButton();
    }
  }

  // Draws older events above the current ones, a chunk per frame, keeping the view still.
  prependChunked(events) {
    return new Promise((resolve) => {
      let end = events.length;
      const token = this.renderToken;
      const step = () => {
        if (token !== this.renderToken || end <= 0) { resolve(); return; }
        const start = Math.max(0, end - RENDER_CHUNK);
        const frag = document.createDocumentFragment();
        for (let i = start; i < end; i++) {
          if (this.nodes.has(events[i].seq)) continue;
          const n = renderEvent(events[i], this.ctx);
          this.nodes.set(events[i].seq, n);
          frag.appendChild(n);
        }
        const prevHeight = this.scroller.scrollHeight;
        const prevTop = this.scroller.scrollTop;
        this.list.insertBefore(frag, this.list.firstChild);
        this.scroller.scrollTop = prevTop + (this.scroller.scrollHeight - prevHeight);
        this.list.dataset.rendered = String(this.list.children.length);
        end = start;
        requestAnimationFrame(step);
      };
      step();
    });
  }

  // Live events are queued and drawn once per frame.
  append(events) {
    this.queue.push(...events);
    if (this.queued) return;
    this.queued = true;
    requestAnimationFrame(() => {
      this.queued = false;
      const batch = this.queue.sort((a, b) => a.seq - b.seq);
      this.queue = [];
      const stick = this.nearBottom();
      this.ctx = this.s.timelineCtx();
      const frag = document.createDocumentFragment();
      const refresh = new Set();
      for (const ev of batch) {
        if (this.nodes.has(ev.seq)) continue;
        const node = renderEvent(ev, this.ctx);
        this.nodes.set(ev.seq, node);
        const last = this.list.lastElementChild;
        if (!last || Number(last.dataset.seq) < ev.seq) frag.appendChild(node);
        else {
          this.list.appendChild(frag);
          let after = null;
          for (const child of this.list.children) if (Number(child.dataset.seq) > ev.seq) { after = child; break; }
          this.list.insertBefore(node, after);
        }
        const b = ev.body || {};
        if (ev.kind === 'decision') refresh.add(b.proposal);
        if (ev.kind === 'flag_update') refresh.add(b.flag);
        if (ev.kind === 'message' && ev.from && ev.from.id === this.s.me.id && ev.cid) {
          const p = this.pendingList.querySelector(`[data-cid="${CSS.escape(ev.cid)}"]`);
          if (p) p.remove();
        }
      }
      this.list.appendChild(frag);
      this.empty.hidden = this.list.children.length > 0;
      this.list.dataset.rendered = String(this.list.children.length);
      for (const seq of refresh) this.refreshSeq(seq);
      this.renderOlderButton();
      if (stick || batch.some((ev) => ev.from && ev.from.id === this.s.me.id)) this.scrollToBottom();
      this.renderReceipt();
    });
  }

  refreshSeq(seq) {
    const old = this.nodes.get(seq);
    const ev = this.s.channel(this.ch).events.get(seq);
    if (!old || !ev) return;
    const hadFocus = old.contains(document.activeElement);
    const node = renderEvent(ev, this.ctx);
    old.replaceWith(node);
    this.nodes.set(seq, node);
    if (hadFocus) node.setAttribute('tabindex', '-1'), node.focus({ preventScroll: true });
  }

  // Re-draws the entries whose look depends on engagement state.
  refreshLive() {
    this.ctx = this.s.timelineCtx();
    for (const [seq, node] of this.nodes) {
      const k = node.dataset.kind;
      if (k === 'proposal' || k === 'flag' || k === 'mediation') this.refreshSeq(seq);
    }
  }

  renderPending(items) {
    const ctx = { me: this.s.me, online: this.s.conn.state === 'online' };
    const c = this.s.channel(this.ch);
    const stick = this.nearBottom();
    replaceChildren(this.pendingList, items
      .filter((it) => it.kind === 'message' && !c.byCid.has(`${this.s.me.id}|${it.cid}`))
      .map((it) => renderPending(it, ctx)));
    if (items.length) this.empty.hidden = true;
    if (stick) this.scrollToBottom();
  }

  renderReceipt() {
    const c = this.s.channel(this.ch);
    const me = this.s.me.id;
    let myLast = 0;
    for (let i = c.order.length - 1; i >= 0; i--) {
      const ev = c.events.get(c.order[i]);
      if (ev.from && ev.from.id === me) { myLast = ev.seq; break; }
    }
    const readers = myLast ? [...c.readBy.values()].filter((r) => r.seq >= myLast).map((r) => r.user.name || r.user.id) : [];
    setText(this.receipt, readers.length ? `Seen by ${readers.join(', ')}` : '');
  }

  jumpTo(seq) {
    const node = this.nodes.get(seq);
    if (!node) return;
    node.scrollIntoView({ block: 'center', behavior: 'smooth' });
    node.classList.add('flash');
    node.setAttribute('tabindex', '-1');
    node.focus({ preventScroll: true });
    setTimeout(() => node.classList.remove('flash'), 1500);
  }
}

// ---------------------------------------------------------------- helpers

function excerpt(text, n) {
  const s = String(text || '').replace(/\s+/g, ' ').trim();
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

function parseValue(v) {
  if (/^-?\d+(\.\d+)?$/.test(v) && v.length < 16) return Number(v);
  if (v === 'true') return true;
  if (v === 'false') return false;
  return v;
}

function explain(err) {
  const text = {
    forbidden: 'You are not allowed to do that here.',
    conflict: 'That is not possible right now.',
    not_found: 'That item no longer exists.',
    rate_limited: 'Slow down a little and try again.',
    too_large: 'That is too long.',
    bad_request: 'The server did not accept that.',
  }[err.code];
  return text ? `${text}${err.message && err.message !== err.code ? ` (${err.message})` : ''}` : (err.message || 'Something went wrong.');
}

// ---------------------------------------------------------------- boot

const fromLink = takeTokenFromLocation();
if (fromLink) saveToken(fromLink);
const saved = fromLink || loadToken();
if (saved) start(saved);
else showSignIn();
