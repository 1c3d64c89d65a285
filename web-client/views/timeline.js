// The timeline of one room: drawn in chunks, older events loaded on scroll,
// live events appended once per frame, pending posts and read receipts.
import { h, clear, replaceChildren, setText, explain } from '../dom.js';
import { engagementOf } from '../model.js';
import { renderEvent, renderPending } from './entries.js';
import { toast } from './shell.js';

const RENDER_CHUNK = 60;

export class TimelineView {
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
      toast(this.s, explain(err), 'error');
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
