// The session of one signed-in reader: the connection, the channel and
// engagement models it feeds, the server's state and `can`, and the glue that
// tells the views what to redraw. It builds no DOM beyond mounting the shell.
import { explain } from './dom.js';
import { forgetToken } from './lib/token.js';
import { createClient } from './lib/index.js';
import { loadDecisionLog } from './lib/decision_log.js';
import { ChannelModel, EngagementModel, ENG_ID, engagementOf, isParty } from './model.js';
import { topicLabel } from './views/entries.js';
import { mountShell, closePanels, toast, renderConnection } from './views/shell.js';
import { renderSidebar } from './views/sidebar.js';
import { renderChannelFrame, renderPresence, renderEngagementNotes } from './views/channel.js';
import { composer, renderActions, renderReplyChip, renderTyping, renderPendingPosts } from './views/composer.js';
import { renderPhaseTrack, renderDetails } from './views/details.js';
import { updateFlag, dialogHooks } from './views/dialogs.js';
import { Notifier } from './notify.js';
import { claimControls } from './views/claim.js';
import { invitationHooks } from './views/invitation.js';
import { renderHomeList } from './views/home.js';
import { renderOwedReply } from './views/owed_reply.js';
import { callHooks, tickCountdowns } from './views/calls.js';
import { mountAvailability, presenceArrived } from './views/availability.js';
import { reviewHooks, tickReviewPeriodCountdowns } from './views/reviews.js';
import { deliveryHooks, tickReviewWindowCountdowns } from './views/deliverables.js';

// What the sign-in screen says when the server refused the token.
function refusalText({ expired, message }) {
  if (expired) return 'Your access token has expired. Ask the platform for a new sign-in link.';
  return message ? `The server refused your access token: ${message}` : 'The server refused your access token. It may have expired.';
}

export class Session {
  // `root` is the element the page lives in; `route` shows the view the
  // location names; `signOut` goes back to the sign-in screen.
  constructor(token, claims, { root, route, signOut }) {
    this.root = root;
    this.route = () => route(this);
    this.signOut = signOut;
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
    this.pendingJump = null; // {ch, seq}: where the next timeline of ch opens
    this.peekedStates = new Map(); // engagement id -> {state, at, loading}: read for the support inbox
    this.peekRedraw = 0;
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    this.conn = createClient({ url: `${proto}//${location.host}/ws`, token, initialLimit: 200 });
    this.tick = setInterval(() => { renderPhaseTrack(this); renderOwedReply(this); renderConnection(this); tickCountdowns(); tickReviewPeriodCountdowns(); tickReviewWindowCountdowns(); }, 1000);
    this.notifier = new Notifier(this);
    // Every page-wide listener is added with this signal, so that signing out removes them all.
    this.listening = new AbortController();
  }

  get role() { return this.me.role; }

  destroy() {
    clearInterval(this.tick);
    this.notifier.destroy();
    this.listening.abort();
    this.conn.close();
  }

  mount() {
    this.el = mountShell(this, this.root, () => { forgetToken(); this.signOut(); });
    mountAvailability(this);
    document.addEventListener('keydown', (ev) => { if (ev.key === 'Escape') closePanels(this); }, { signal: this.listening.signal });

    const c = this.conn;
    c.addEventListener('connection', () => {
      renderConnection(this);
      if (c.connectionState !== 'online') {
        for (const ch of this.channels.values()) { ch.presence.clear(); ch.typing.clear(); }
        renderPresence(this);
        renderTyping(this);
        renderPendingPosts(this);
      }
    });
    c.addEventListener('refused', (ev) => { forgetToken(); this.signOut(refusalText(ev.detail)); });
    c.addEventListener('hello', (ev) => { this.me = { ...this.me, ...ev.detail.user }; });
    c.addEventListener('reset', (ev) => this.onReset(ev.detail));
    c.addEventListener('events', (ev) => this.onEvents(ev.detail.ch, ev.detail.events));
    c.addEventListener('joined', (ev) => this.onJoined(ev.detail));
    c.addEventListener('push', (ev) => this.onPush(ev.detail.frame));
    c.addEventListener('outbox', () => renderPendingPosts(this));
    c.connect().catch(() => { /* a refusal signs out; closing is signing out */ });

    if (this.role === 'support') this.subscribe('support').catch(() => {});
    for (const id of this.listedEngagements().slice(0, 10)) this.ensureEngagement(id);

    const { signal } = this.listening;
    window.addEventListener('hashchange', () => this.route(), { signal });
    document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') this.markRead(); }, { signal });
    this.route();
  }

  listedEngagements() {
    return this.claims.eng.filter((e) => e !== '*' && ENG_ID.test(e));
  }

  navigate(hash) {
    if (location.hash === hash) this.route();
    else location.hash = hash;
  }

  // -------------------------------------------------------------- channels

  channel(ch) {
    let c = this.channels.get(ch);
    if (!c) { c = new ChannelModel(ch); this.channels.set(ch, c); }
    return c;
  }

  subscribe(ch) {
    const c = this.channel(ch);
    return this.conn.join(ch).then((join) => join, (err) => {
      if (err.code === 'not_found') c.missing = true;
      else if (err.code === 'forbidden') { c.forbidden = true; toast(this, `You cannot open ${ch}: ${err.message}`, 'error'); }
      renderSidebar(this);
      if (this.current && this.current.ch === ch) renderChannelFrame(this);
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
    if (this.conn.isJoined(ch)) return Promise.resolve();
    const c = this.channel(ch);
    c.missing = false;
    return this.subscribe(ch).then((join) => {
      const eng = this.engagements.get(id);
      if (eng && join && join.head > 0 && eng.mediation !== 'closed') eng.mediation = 'open';
      renderSidebar(this);
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
      if (!this.conn.isJoined(ch)) { c.missing = false; this.tryMediation(info.id).then(() => renderChannelFrame(this)); }
    }
    renderChannelFrame(this);
    renderSidebar(this);
    if (eng) { renderDetails(this); this.refreshState(info.id, 0); }
  }

  onReset({ ch, join, events }) {
    const c = this.channel(ch);
    c.epoch = join.epoch;
    c.head = join.head || 0;
    c.joined = true;
    c.missing = false;
    c.reset(events);
    c.loadReads(join.reads, this.me.id);
    c.unread = c.unreadAfterJoin(this.me.id);  // the open channel's is cleared once joined (onJoined)
    const info = engagementOf(ch);
    if (info) {
      const eng = this.ensureEngagement(info.id);
      eng.ingest(ch, c.list());
      if (info.room === 'mediation' && eng.mediation === 'unknown' && c.head > 0) eng.mediation = 'open';
    }
    if (this.current && this.current.ch === ch) renderChannelFrame(this);
    else renderSidebar(this);
    if (info) this.engagementChanged(info.id);
  }

  onJoined({ ch, join }) {
    const c = this.channel(ch);
    c.loadPresence(join);
    presenceArrived(this, join.presence);
    const info = engagementOf(ch);
    if (info && join.state && typeof join.state === 'object') this.applyState(info.id, join.state, { fresh: true });
    if (this.current && this.current.ch === ch) { renderPresence(this); this.markRead(); }
    // Stored read markers are named from presence: redraw "Seen by".
    if (this.view && this.view.ch === ch) this.view.renderReceipt();
  }

  onEvents(ch, events) {
    const c = this.channel(ch);
    const added = c.add(events);
    if (!added.length) return;
    const viewing = this.current && this.current.ch === ch && document.visibilityState === 'visible';
    const fromOthers = added.filter((ev) => !ev.from || ev.from.id !== this.me.id);
    for (const ev of added) if (ev.from) c.typing.delete(ev.from.id);
    if (!viewing) c.unread += fromOthers.length;
    this.notifier.eventsArrived(ch, added);
    const info = engagementOf(ch);
    if (info) {
      const eng = this.ensureEngagement(info.id);
      eng.ingest(ch, added);
      let workflow = false;
      for (const ev of added) {
        if (ev.kind !== 'message' && ev.kind !== 'status') workflow = true;
        if (ev.kind === 'mediation' && ev.body && ev.body.state !== 'closed') this.tryMediation(info.id);
        // A decision or an acknowledgement that made a decision-log record.
        if ((ev.kind === 'decision' || ev.kind === 'acknowledgement') && ev.body && ev.body.record) this.loadLog(info.id);
        // The reveal of reviews made a record too (protocol §9.7).
        if (ev.kind === 'reviews') this.loadLog(info.id);
        if (ev.kind === 'flag' && ev.body && ev.body.type === 'dispute') setTimeout(() => this.tryMediation(info.id), 300);
      }
      // The server pushes the state after every other event; a message or a
      // status update moves only the reply and status clocks, read again shortly.
      if (workflow) this.engagementChanged(info.id);
      else if (eng.state) this.refreshState(info.id, 1000);
    }
    if (this.view && this.view.ch === ch) {
      this.view.append(added);
      if (viewing) this.markRead();
      renderTyping(this);
    }
    renderSidebar(this);
  }

  onPush(frame) {
    if (frame.ev === 'state') { this.applyState(frame.eng, frame.state); return; }
    const c = this.channels.get(frame.ch);
    if (!c) return;
    if (frame.ev === 'presence') {
      c.applyPresence(frame, Date.now());
      presenceArrived(this, frame.updated);
      if (this.current && this.current.ch === frame.ch) renderPresence(this);
    } else if (frame.ev === 'typing') {
      const u = frame.user;
      if (!u || u.id === this.me.id) return;
      c.typing.set(u.id, { user: u, until: Date.now() + 5000 });
      if (this.current && this.current.ch === frame.ch) renderTyping(this);
      setTimeout(() => { if (this.current && this.current.ch === frame.ch) renderTyping(this); }, 5100);
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
    if (hadUnread) renderSidebar(this);
    const seq = c.maxSeq;
    if (seq > c.lastReadSent && this.conn.connectionState === 'online') {
      c.lastReadSent = seq;
      this.conn.read(c.ch, seq).catch(() => { c.lastReadSent = 0; });
    }
  }

  // -------------------------------------------------------------- engagement state

  refreshState(id, delay = 250) {
    clearTimeout(this.stateTimers.get(id));
    this.stateTimers.set(id, setTimeout(async () => {
      try {
        const res = await fetch(`/api/v1/engagements/${encodeURIComponent(id)}`, { headers: { Authorization: `Bearer ${this.token}` }, cache: 'no-store' });
        if (res.status === 401) { this.conn.refuse('unauthorized', ''); return; }
        if (!res.ok) return;
        const body = await res.json();
        this.applyState(id, body && body.state && body.state.phase ? body.state : body);
      } catch { /* keep the last state; the next push or read brings a new one */ }
    }, delay));
  }

  // The server's state of engagement `id` (join reply, HTTP, or a `state` push).
  applyState(id, state, { fresh = false } = {}) {
    if (!ENG_ID.test(String(id)) || !state || typeof state !== 'object' || typeof state.phase !== 'string') return;
    const eng = this.ensureEngagement(id);
    const before = eng.state ? this.actions(id) : null;
    if (!eng.applyState(state, { fresh })) return;
    this.notifier.stateApplied(id, before);
    this.engagementChanged(id);
  }

  async loadLog(id) {
    const eng = this.ensureEngagement(id);
    eng.log.status = 'loading';
    eng.log = await loadDecisionLog(this.conn, this.token, id);
    if (this.current && this.current.eng === id) renderDetails(this);
  }

  engagementChanged(id) {
    if (!this.current || this.current.eng !== id) {
      renderSidebar(this);
      if (this.current && this.current.kind === 'home') renderHomeList(this);
      return;
    }
    if (this.changeQueued) return;
    this.changeQueued = true;
    requestAnimationFrame(() => {
      this.changeQueued = false;
      renderPhaseTrack(this);
      renderEngagementNotes(this);
      renderDetails(this);
      renderSidebar(this);
      renderActions(this);
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
    const fresh = composer(this, this.current.ch);
    e.composer.replaceWith(fresh);
    e.composer = fresh;
  }

  // -------------------------------------------------------------- permissions

  // The actions the server says this reader may take now in engagement `id`
  // (state.can, protocol §9.9): the page offers exactly these and derives none.
  actions(id) {
    const eng = id ? this.engagements.get(id) : null;
    const can = eng && eng.state && Array.isArray(eng.state.can) ? eng.state.can : [];
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

  // Acknowledging a flag is not one of the actions `can` lists: it is offered
  // to whoever may update flags at all (the parties and support), and only
  // while the server's state lists the flag as open.
  canAcknowledgeFlag(ev) {
    const info = engagementOf(ev.ch);
    const eng = info ? this.engagements.get(info.id) : null;
    const listed = eng ? eng.listedFlag(ev.ch, ev.seq) : null;
    return !!listed && (listed.state || 'open') === 'open' && (isParty(this.role) || this.role === 'support');
  }

  canResolveFlag(ev) {
    const info = engagementOf(ev.ch);
    return !!info && this.actions(info.id).has(`resolve:${ev.seq}`);
  }

  timelineCtx() {
    const s = this;
    const engOf = (ch) => { const i = engagementOf(ch); return i ? this.engagements.get(i.id) : null; };
    return {
      me: this.me,
      online: this.conn.connectionState === 'online',
      lookup: (ch, seq) => { const c = s.channels.get(ch); return c ? c.events.get(seq) : null; },
      jumpTo: (ch, seq) => { if (s.view) s.view.jumpTo(seq); },
      canMessage: (ch) => s.canMessage(ch),
      reply: (ev) => s.setReply(ev),
      flagState: (ch, seq) => { const e = engOf(ch); return e ? e.flagState(ch, seq) : 'open'; },
      canAcknowledgeFlag: (ev) => s.canAcknowledgeFlag(ev),
      canResolveFlag: (ev) => s.canResolveFlag(ev),
      updateFlag: (ev, state) => updateFlag(s, ev, state),
      mediationOpen: (ch) => { const e = engOf(ch); return !!e && e.mediation === 'open' && s.current && s.current.room === 'main'; },
      canJoinMediation: () => (isParty(s.role) || s.role === 'support') && s.current && s.current.room === 'main',
      openMediation: (ch) => { const i = engagementOf(ch); if (i) s.navigate(`#/eng/${encodeURIComponent(i.id)}/mediation`); },
      proposal: (ch, seq) => { const e = engOf(ch); return e ? e.proposals.get(`${ch}#${seq}`) : null; },
      proposalStatus: (p) => { const e = engOf(p.ch); return e ? e.proposalStatus(p) : { status: 'open', sides: new Set() }; },
      canDecide: (p) => s.canDecide(p),
      decide: (p, verdict, btn) => s.decide(p, verdict, btn),
      navigate: (hash) => s.navigate(hash),
      // Reject with a reason, counter-propose, and a proposal's terms against the agreement.
      ...dialogHooks(s),
      // Opens the room `ch` scrolled to event `seq` (the timeline jumps once drawn).
      openEvent: (ch, seq) => { const i = engagementOf(ch); if (i) { s.pendingJump = { ch, seq }; s.navigate(`#/eng/${encodeURIComponent(i.id)}`); } },
      engagementState: (id) => s.engagementState(id),
      claimControls: (eng, flag) => claimControls(s, eng, flag),
      // The invitation's card and the titles of requirements.
      ...invitationHooks(s),
      // A call proposal's slots and the pick that accepts one; the reminder's sentence.
      ...callHooks(s),
      // A sealed review and the reveal.
      ...reviewHooks(s),
      // Deliveries, revision requests, their decisions; files on messages.
      ...deliveryHooks(s),
    };
  }

  // The server's state of engagement `id` for the support inbox's notices:
  // the engagement's own when loaded, else read once over HTTP (kept for
  // 30 s, at most 200 engagements) without joining its channels.
  engagementState(id) {
    const eng = this.engagements.get(id);
    if (eng && eng.state) return eng.state;
    if (!ENG_ID.test(String(id))) return null;
    const known = this.peekedStates.get(id);
    if (!known || (!known.loading && Date.now() - known.at > 30000)) {
      if (!known && this.peekedStates.size >= 200) this.peekedStates.delete(this.peekedStates.keys().next().value);
      const entry = { state: known ? known.state : null, at: Date.now(), loading: true };
      this.peekedStates.set(id, entry);
      fetch(`/api/v1/engagements/${encodeURIComponent(id)}`, { headers: { Authorization: `Bearer ${this.token}` }, cache: 'no-store' })
        .then((res) => (res.ok ? res.json() : null))
        .then((body) => {
          const state = body && body.state && body.state.phase ? body.state : body;
          if (state && typeof state.phase === 'string') entry.state = state;
          // One redraw of the inbox per frame, however many answers arrive.
          if (this.peekRedraw) return;
          this.peekRedraw = requestAnimationFrame(() => {
            this.peekRedraw = 0;
            if (this.view && this.view.ch === 'support') this.view.refreshLive();
          });
        }, () => {})
        .finally(() => { entry.loading = false; entry.at = Date.now(); });
    }
    return known ? known.state : null;
  }

  // -------------------------------------------------------------- actions

  async send(ch, kind, body, { quiet = false } = {}) {
    try {
      const reply = await this.conn.post(ch, kind, body);
      return reply;
    } catch (err) {
      if (err.code !== 'cancelled' && !quiet) toast(this, explain(err), 'error');
      throw err;
    }
  }

  setReply(ev) {
    this.replyTo = ev;
    renderReplyChip(this);
    if (this.el.input) this.el.input.focus();
  }

  async decide(p, verdict, btn) {
    if (btn) btn.disabled = true;
    try {
      await this.send(p.ch, 'decision', { proposal: p.ev.seq, verdict });
      toast(this, verdict === 'accepted' ? `You accepted ${topicLabel(p.ev.body.topic).toLowerCase()} proposal #${p.ev.seq}.` : `You rejected proposal #${p.ev.seq}.`);
    } catch {
      if (btn) btn.disabled = false;
    }
  }

}
