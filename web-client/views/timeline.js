// The timeline of one room: drawn in chunks, older events loaded on scroll,
// live events appended once per frame, pending posts and read receipts.
// While the reader is at the bottom the view stays pinned there, whatever
// grows (a ResizeObserver, not a guess per append); scrolled up, new events
// are counted in a "N new" button instead. A room opens at the reader's
// first unread event, under a "New" divider.
import { h, clear, replaceChildren, setText, explain } from '../dom.js';
import { engagementOf } from '../model.js';
import { renderEvent, renderPending } from './entries.js';
import { toast } from './shell.js';
import { parseClaim } from '../claims.js';

const RENDER_CHUNK = 60;
// Within this many pixels of the bottom the reader counts as at the bottom.
const STICK_PX = 48;

export class TimelineView {
  constructor(session, ch, scroller) {
    this.s = session;
    this.ch = ch;
    this.scroller = scroller;
    this.nodes = new Map(); // seq -> li
    this.queue = [];
    this.loadingOlder = false;
    this.stuck = true;
    this.lastTop = 0;
    this.newSeqs = []; // entries that arrived below the view while scrolled up
    this.older = h('div', { class: 'older' });
    this.list = h('ol', { class: 'timeline', testid: 'timeline' });
    this.pendingList = h('ol', { class: 'timeline pending-list', 'aria-label': 'Not yet sent' });
    this.receipt = h('p', { class: 'receipt', testid: 'read-receipt', 'aria-live': 'off' });
    this.empty = h('div', { class: 'empty-state small', testid: 'timeline-empty' }, h('p', null, 'No messages yet. Say hello.'));
    this.pill = h('button', { type: 'button', class: 'new-pill', testid: 'new-events-pill', hidden: true, onclick: () => this.jumpToNew() });
    this.pillStatus = h('span', { class: 'visually-hidden', testid: 'new-events-status', 'aria-live': 'polite' });
    this.divider = null;
    // The log role sits on a wrapper: on the <ol> it would stop its entries being list items.
    replaceChildren(scroller, this.older, this.empty,
      h('div', { class: 'timeline-log', role: 'log', 'aria-label': 'Conversation', 'aria-live': 'polite' }, this.list),
      this.pendingList, this.receipt,
      h('div', { class: 'new-pill-wrap' }, this.pill, this.pillStatus));
    this.ctx = session.timelineCtx();
    this.renderToken = 0;
    // Scrolling up to the top loads earlier events.
    this.observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting) && this.list.dataset.rendered) this.loadOlder();
    }, { root: scroller, rootMargin: '200px 0px 0px 0px' });
    this.observer.observe(this.older);
    scroller.addEventListener('scroll', () => this.onScroll(), { passive: true });
    // Whatever changes size (new entries, cards redrawn, fonts, the composer
    // growing, a phone keyboard) re-pins a reader who is at the bottom.
    this.resize = new ResizeObserver(() => this.keepPinned());
    for (const el of [this.list, this.pendingList, this.receipt, scroller]) this.resize.observe(el);
  }

  distanceFromBottom() {
    const el = this.scroller;
    return el.scrollHeight - el.scrollTop - el.clientHeight;
  }

  // Only the reader scrolling up unpins: content growing below never lowers
  // scrollTop, so it cannot be mistaken for leaving the bottom.
  onScroll() {
    const top = this.scroller.scrollTop;
    const atBottom = this.distanceFromBottom() < STICK_PX;
    if (atBottom) this.stuck = true;
    else if (top < this.lastTop - 1) this.stuck = false;
    this.lastTop = top;
    if (atBottom) this.clearNew();
  }

  keepPinned() {
    if (this.stuck) this.scrollToBottom();
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.lastTop = this.scroller.scrollTop;
  }

  // ---------------------------------------------------------- new events below

  noteNew(seqs) {
    if (!seqs.length) return;
    this.newSeqs.push(...seqs);
    this.renderPill();
  }

  clearNew() {
    if (!this.newSeqs.length) return;
    this.newSeqs = [];
    this.renderPill();
  }

  renderPill() {
    const n = this.newSeqs.length;
    this.pill.hidden = n === 0;
    setText(this.pill, n ? `${n} new ↓` : '');
    this.pill.setAttribute('aria-label', n === 1 ? '1 new event below: show it' : `${n} new events below: show the first`);
    setText(this.pillStatus, n ? `${n} new ${n === 1 ? 'event' : 'events'} below` : '');
  }

  // Brings the first new entry to the top of the view and gives it focus.
  jumpToNew() {
    const node = this.newSeqs.map((seq) => this.nodes.get(seq)).find((n) => n && n.isConnected);
    this.clearNew();
    if (!node) { this.stuck = true; this.scrollToBottom(); return; }
    this.scrollIntoTop(node);
    node.setAttribute('tabindex', '-1');
    node.focus({ preventScroll: true });
  }

  scrollIntoTop(node) {
    const delta = node.getBoundingClientRect().top - this.scroller.getBoundingClientRect().top - 8;
    this.scroller.scrollTop += delta;
    this.lastTop = this.scroller.scrollTop;
    this.stuck = this.distanceFromBottom() < STICK_PX;
  }

  // The seq after which events are unread: the reader's stored read marker
  // (join reply) or what this page has marked read since; 0 when none.
  readMark() {
    const c = this.s.channel(this.ch);
    return Math.max(Number(c.myRead) || 0, Number(c.lastReadSent) || 0);
  }

  // Whether an entry counts for the reader: shown, and not their own.
  countsAsNew(ev) {
    const node = this.nodes.get(ev.seq);
    return !!node && !node.hidden && !(ev.from && ev.from.id === this.s.me.id);
  }

  // Renders the whole channel in chunks, newest chunk first so the screen
  // fills at once; opens at the first unread event when there is one.
  renderAll() {
    const c = this.s.channel(this.ch);
    const events = c.list();
    const token = ++this.renderToken;
    this.ctx = this.s.timelineCtx();
    clear(this.list);
    delete this.list.dataset.rendered;
    this.nodes.clear();
    this.newSeqs = [];
    this.renderPill();
    this.renderOlderButton();
    this.empty.hidden = events.length > 0 || !c.joined;
    if (!c.joined) this.empty.hidden = true;
    const mark = this.readMark();
    let unread = [];
    let end = events.length;
    this.stuck = true;
    const step = () => {
      if (token !== this.renderToken) return;
      const start = Math.max(0, end - RENDER_CHUNK);
      const frag = this.fragmentOf(events, start, end);
      const prevHeight = this.scroller.scrollHeight;
      const prevTop = this.scroller.scrollTop;
      this.list.insertBefore(frag, this.list.firstChild);
      if (mark > 0) unread = events.slice(start, end).filter((ev) => ev.seq > mark && this.countsAsNew(ev)).concat(unread);
      // The first unread entry is known once every earlier event is read.
      const first = unread.length && (start === 0 || events[start - 1].seq <= mark) ? unread[0] : null;
      if (first) this.placeDivider(first, unread);
      else if (end === events.length) this.scrollToBottom();
      else this.scroller.scrollTop = prevTop + (this.scroller.scrollHeight - prevHeight);
      this.lastTop = this.scroller.scrollTop;
      end = start;
      if (end > 0 && !first) requestAnimationFrame(step);
      else if (end > 0) this.renderRest(events, end, token);
      else this.rendered(events.length);
    };
    if (events.length) step();
    else this.list.dataset.rendered = '0';
  }

  // Draws the events before `end` once the view is placed, keeping it still.
  renderRest(events, end, token) {
    this.prependChunked(events.slice(0, end)).then(() => {
      if (token === this.renderToken) this.rendered(events.length);
    });
  }

  // Every event is drawn: the receipt, and the jump a link asked for.
  rendered(count) {
    this.list.dataset.rendered = String(count);
    this.renderReceipt();
    const jump = this.s.pendingJump;
    if (jump && jump.ch === this.ch && this.s.channel(this.ch).joined) {
      this.s.pendingJump = null;
      if (this.nodes.has(jump.seq)) { this.stuck = false; this.jumpTo(jump.seq); }
    }
  }

  // The "New" divider above the first unread entry, scrolled to the top of
  // the view; the unread entries below it count as new until the bottom.
  placeDivider(first, unread) {
    const node = this.nodes.get(first.seq);
    if (!node) return;
    this.divider = h('li', { class: 'unread-divider', testid: 'unread-divider' },
      h('span', { class: 'unread-divider-text' }, 'New'), h('span', { class: 'visually-hidden' }, ' since your last visit'));
    node.before(this.divider);
    this.scrollIntoTop(this.divider);
    if (!this.stuck) this.noteNew(unread.map((ev) => ev.seq));
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
      this.refold(added);
    } catch (err) {
      toast(this.s, explain(err), 'error');
    } finally {
      this.loadingOlder = false;
      this.renderOlderButton();
    }
  }

  // The entries of events[start, end) not drawn yet, as one fragment.
  fragmentOf(events, start, end) {
    const frag = document.createDocumentFragment();
    for (let i = start; i < end; i++) {
      if (this.nodes.has(events[i].seq)) continue;
      const node = renderEvent(events[i], this.ctx);
      this.nodes.set(events[i].seq, node);
      frag.appendChild(node);
    }
    return frag;
  }

  // Draws older events above the current ones, a chunk per frame, keeping the view still.
  prependChunked(events) {
    return new Promise((resolve) => {
      let end = events.length;
      const token = this.renderToken;
      const step = () => {
        if (token !== this.renderToken || end <= 0) { resolve(); return; }
        const start = Math.max(0, end - RENDER_CHUNK);
        const frag = this.fragmentOf(events, start, end);
        const prevHeight = this.scroller.scrollHeight;
        const prevTop = this.scroller.scrollTop;
        this.list.insertBefore(frag, this.list.firstChild);
        this.scroller.scrollTop = prevTop + (this.scroller.scrollHeight - prevHeight);
        this.lastTop = this.scroller.scrollTop;
        this.list.dataset.rendered = String(this.nodes.size);
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
      this.ctx = this.s.timelineCtx();
      const frag = document.createDocumentFragment();
      const refresh = new Set();
      const drawn = [];
      for (const ev of batch) {
        if (this.nodes.has(ev.seq)) continue;
        const node = renderEvent(ev, this.ctx);
        this.nodes.set(ev.seq, node);
        drawn.push(ev);
        const last = this.list.lastElementChild;
        if (!last || Number(last.dataset.seq) < ev.seq) frag.appendChild(node);
        else {
          this.list.appendChild(frag);
          let after = null;
          for (const child of this.list.children) if (Number(child.dataset.seq) > ev.seq) { after = child; break; }
          this.list.insertBefore(node, after);
        }
        const b = ev.body || {};
        if (node.dataset.foldedInto) refresh.add(Number(node.dataset.foldedInto));
        if (ev.kind === 'decision') refresh.add(b.proposal);
        if (ev.kind === 'flag_update') refresh.add(b.flag);
        // A claim answers its dispute's notice: the notice shows who claimed it.
        if (ev.kind === 'message' && typeof b.reply_to === 'number' && parseClaim(b.text)) refresh.add(b.reply_to);
        if (ev.kind === 'message' && ev.from && ev.from.id === this.s.me.id && ev.cid) {
          const p = this.pendingList.querySelector(`[data-cid="${CSS.escape(ev.cid)}"]`);
          if (p) p.remove();
        }
      }
      this.list.appendChild(frag);
      this.empty.hidden = this.nodes.size > 0;
      this.list.dataset.rendered = String(this.nodes.size);
      for (const seq of refresh) this.refreshSeq(seq);
      this.renderOlderButton();
      // Posting brings the reader back to the bottom.
      if (batch.some((ev) => ev.from && ev.from.id === this.s.me.id)) { this.stuck = true; this.clearNew(); }
      if (this.stuck) this.scrollToBottom();
      else this.noteNew(drawn.filter((ev) => this.countsAsNew(ev)).map((ev) => ev.seq));
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
      if (k === 'proposal' || k === 'flag' || k === 'mediation' || k === 'notice' || k === 'acknowledgement' || k === 'review' || k === 'delivery') this.refreshSeq(seq);
    }
  }

  renderPending(items) {
    const ctx = { me: this.s.me, online: this.s.conn.connectionState === 'online' };
    const c = this.s.channel(this.ch);
    replaceChildren(this.pendingList, items
      .filter((it) => it.kind === 'message' && !c.byCid.has(`${this.s.me.id}|${it.cid}`))
      .map((it) => renderPending(it, ctx)));
    if (items.length) this.empty.hidden = true;
    // A new post of the reader's own brings the view back to the bottom.
    if (items.length > (this.pendingCount || 0)) { this.stuck = true; this.clearNew(); }
    this.pendingCount = items.length;
    this.keepPinned();
  }

  renderReceipt() {
    const c = this.s.channel(this.ch);
    const me = this.s.me.id;
    let myLast = 0;
    for (let i = c.order.length - 1; i >= 0; i--) {
      const ev = c.events.get(c.order[i]);
      if (ev.from && ev.from.id === me) { myLast = ev.seq; break; }
    }
    const readers = myLast ? [...c.readBy.values()].filter((r) => r.seq >= myLast).map((r) => this.nameOf(r.user)) : [];
    setText(this.receipt, readers.length ? `Seen by ${readers.join(', ')}` : '');
  }

  // A stored read marker carries only the user's id: the name comes from
  // presence or from an event the user sent, else the id is shown.
  nameOf(user) {
    if (user.name) return user.name;
    const c = this.s.channel(this.ch);
    const present = c.presence.get(user.id);
    if (present && present.name) return present.name;
    for (let i = c.order.length - 1; i >= 0; i--) {
      const from = c.events.get(c.order[i]).from;
      if (from && from.id === user.id && from.name) return from.name;
    }
    return user.id;
  }

  // Scrolls to the entry with `seq`; a decision or phase change folded into
  // its proposal's card lands on the card, its details open.
  jumpTo(seq) {
    let node = this.nodes.get(seq);
    if (node && node.dataset.foldedInto) {
      node = this.nodes.get(Number(node.dataset.foldedInto));
      const details = node && node.querySelector('details');
      if (details) details.open = true;
    }
    if (!node) return;
    node.scrollIntoView({ block: 'center', behavior: 'smooth' });
    node.classList.add('flash');
    node.setAttribute('tabindex', '-1');
    node.focus({ preventScroll: true });
    setTimeout(() => node.classList.remove('flash'), 1500);
  }

  // Older events just drawn may hold the proposal of a decision drawn on its
  // own so far: the decision and its phase change fold into the card now.
  refold(events) {
    for (const ev of events) {
      const p = ev.kind === 'proposal' ? this.ctx.proposal(this.ch, ev.seq) : null;
      for (const d of (p ? p.decisions : [])) {
        for (const seq of [d.seq, d.seq + 1]) {
          const node = this.nodes.get(seq);
          if (node && !node.dataset.foldedInto) this.refreshSeq(seq);
        }
      }
    }
  }
}
