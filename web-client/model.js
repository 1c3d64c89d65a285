// Client-side models: a channel's events, presence, typing and unread count;
// an engagement's flags and proposals as events, the server's state of it,
// and its decision log. The phase, due dates, open flags and open proposals
// come only from the server's state (protocol §4, §9.9): none is derived here.

export const ENG_ID = /^[A-Za-z0-9_-]{1,64}$/;

export const PHASES = ['discovery', 'agreement', 'active', 'completion', 'closed'];

export const FLAG_TYPES = ['delay', 'scope_change', 'dispute', 'risk', 'blocker'];
export const PROPOSAL_TOPICS = ['agreement', 'scope_change', 'timeline', 'compensation', 'phase'];

// Members not connected that a channel remembers (join `absent`, left pushes).
const MAX_ABSENT = 200;

export function engagementOf(ch) {
  const m = /^eng:([A-Za-z0-9_-]{1,64})(:mediation)?$/.exec(ch);
  return m ? { id: m[1], room: m[2] ? 'mediation' : 'main' } : null;
}

export function isParty(role) {
  return role === 'client' || role === 'expert';
}

export class ChannelModel {
  constructor(ch) {
    this.ch = ch;
    this.events = new Map(); // seq -> event
    this.order = []; // ascending seqs
    this.head = 0;
    this.epoch = null;
    this.joined = false;
    this.presence = new Map(); // user id -> presence entry: user, availability, last_seen (protocol §9.3)
    this.absent = new Map(); // user id -> the same, for members not connected now
    this.typing = new Map(); // user id -> {user, until}
    this.readBy = new Map(); // user id -> {user, seq}
    this.myRead = 0; // the reader's own stored read marker (join reply)
    this.unread = 0;
    this.lastReadSent = 0;
    this.byCid = new Map(); // cid -> seq
  }

  get minSeq() { return this.order.length ? this.order[0] : 0; }
  get maxSeq() { return this.order.length ? this.order[this.order.length - 1] : 0; }
  get hasOlder() { return this.minSeq > 1; }

  reset(events) {
    this.events.clear();
    this.order = [];
    this.byCid.clear();
    return this.add(events);
  }

  // Adds events, ignoring any seq already held. Returns the ones that were new, ascending.
  add(events) {
    const added = [];
    for (const ev of events) {
      if (typeof ev.seq !== 'number' || this.events.has(ev.seq)) continue;
      this.events.set(ev.seq, ev);
      if (ev.cid) this.byCid.set(`${ev.from && ev.from.id}|${ev.cid}`, ev.seq);
      added.push(ev);
    }
    if (added.length) {
      added.sort((a, b) => a.seq - b.seq);
      const last = this.order.length ? this.order[this.order.length - 1] : 0;
      if (added[0].seq > last) for (const ev of added) this.order.push(ev.seq);
      else this.order = [...this.events.keys()].sort((a, b) => a - b);
      if (this.maxSeq > this.head) this.head = this.maxSeq;
    }
    return added;
  }

  list() { return this.order.map((s) => this.events.get(s)); }

  // Who is here and which members are not (join reply `presence`, `absent`).
  loadPresence(join) {
    this.presence.clear();
    this.absent.clear();
    for (const u of join.presence || []) if (u && typeof u.id === 'string') this.presence.set(u.id, u);
    for (const a of Array.isArray(join.absent) ? join.absent.slice(0, MAX_ABSENT) : []) {
      const id = a && a.user && typeof a.user.id === 'string' ? a.user.id : null;
      if (id && !this.presence.has(id)) this.absent.set(id, { ...a.user, availability: a.availability ?? null, last_seen: a.last_seen ?? null });
    }
  }

  // A presence push: who joined, who left (now absent, last seen at `now`
  // at the latest), whose availability changed (`updated`).
  applyPresence(frame, now) {
    for (const u of frame.joined || []) if (u && typeof u.id === 'string') { this.absent.delete(u.id); this.presence.set(u.id, u); }
    for (const u of frame.left || []) {
      if (!u || typeof u.id !== 'string') continue;
      const known = this.presence.get(u.id);
      this.presence.delete(u.id);
      this.absent.delete(u.id);
      if (this.absent.size >= MAX_ABSENT) this.absent.delete(this.absent.keys().next().value);
      this.absent.set(u.id, { ...known, ...u, last_seen: Math.max(Number(u.last_seen) || 0, now) });
    }
    for (const u of frame.updated || []) {
      if (!u || typeof u.id !== 'string') continue;
      const into = this.absent.has(u.id) && !this.presence.has(u.id) ? this.absent : this.presence;
      into.set(u.id, { ...into.get(u.id), ...u });
    }
  }

  // The read markers the server stores (join reply `reads`, protocol §3):
  // the reader's own, and everyone else's for "Seen by". A marker never moves back.
  loadReads(reads, meId) {
    if (!Array.isArray(reads)) return;
    for (const r of reads.slice(0, 200)) {
      const id = r && r.user && typeof r.user.id === 'string' ? r.user.id : null;
      if (!id || !Number.isInteger(r.seq) || r.seq < 0) continue;
      if (id === meId) { this.myRead = Math.max(this.myRead, r.seq); continue; }
      const known = this.readBy.get(id);
      if (!known || known.seq < r.seq) this.readBy.set(id, { user: known ? known.user : { id }, seq: r.seq });
    }
  }

  // What is unread once a join has filled the channel: the events others
  // posted past the reader's read marker (stored, or sent since). A channel
  // the reader never read has no marker: its history is not news.
  unreadAfterJoin(meId) {
    const read = Math.max(this.myRead, this.lastReadSent);
    if (!read) return 0;
    return this.list().filter((ev) => ev.seq > read && (!ev.from || ev.from.id !== meId)).length;
  }
}

export class EngagementModel {
  constructor(id) {
    this.id = id;
    this.state = null; // §4 state from the server; null until it arrives
    this.stateVersion = 0; // how many states have been applied
    this.flags = new Map(); // `${ch}#${seq}` -> {ev, ch, state, updates: []}
    this.proposals = new Map(); // `${ch}#${seq}` -> {ev, ch, decisions: []}
    this.earlyDecisions = new Map(); // `${ch}#${proposal seq}` -> decisions seen before their proposal
    this.expired = new Map(); // `${ch}#${proposal seq}` -> its `proposal_expired` event (§9.4)
    this.mediation = 'unknown'; // unknown | open | closed | none
    this.log = { records: [], verify: null, status: 'idle', error: null };
  }

  // The server's state (join reply, HTTP or a `state` push).
  // Keeps the newer of two states by their `revision`: an HTTP read answered
  // after a push can carry an older one. A join reply (`fresh`) is always
  // taken: it follows every earlier push on its connection, and after the
  // loss of Redis data the revisions may start lower. False when dropped.
  applyState(state, { fresh = false } = {}) {
    const known = this.state && this.state.revision;
    if (!fresh && Number.isInteger(known) && Number.isInteger(state.revision) && state.revision < known) return false;
    this.state = state;
    this.stateVersion += 1;
    return true;
  }

  // Feeds events from eng:<id> or eng:<id>:mediation into the cards drawn from them.
  ingest(ch, events) {
    for (const ev of events) {
      const b = ev.body || {};
      const key = (seq) => `${ch}#${seq}`;
      switch (ev.kind) {
        case 'flag':
          // `stateVersion`: a state applied later than this takes the flag into account.
          if (!this.flags.has(key(ev.seq))) this.flags.set(key(ev.seq), { ev, ch, state: 'open', updates: [], stateVersion: this.stateVersion });
          break;
        case 'flag_update': {
          const f = this.flags.get(key(b.flag));
          if (f && !f.updates.some((u) => u.seq === ev.seq)) {
            f.updates.push(ev);
            f.updates.sort((x, y) => x.seq - y.seq);
            f.state = f.updates[f.updates.length - 1].body.state || f.state;
          }
          break;
        }
        case 'proposal':
          if (!this.proposals.has(key(ev.seq))) {
            // Decisions loaded before their proposal (history pages arrive newest first).
            const early = this.earlyDecisions.get(key(ev.seq)) || [];
            this.earlyDecisions.delete(key(ev.seq));
            this.proposals.set(key(ev.seq), { ev, ch, decisions: early });
          }
          break;
        case 'decision': {
          const p = this.proposals.get(key(b.proposal));
          if (p && !p.decisions.some((d) => d.seq === ev.seq)) p.decisions.push(ev);
          else if (!p && Number.isInteger(b.proposal) && b.proposal < ev.seq) {
            const early = this.earlyDecisions.get(key(b.proposal)) || [];
            if (!early.some((d) => d.seq === ev.seq)) early.push(ev);
            this.earlyDecisions.set(key(b.proposal), early);
          }
          break;
        }
        case 'proposal_expired':
          if (Number.isInteger(b.proposal)) this.expired.set(key(b.proposal), ev);
          break;
        case 'mediation':
          this.mediation = b.state === 'closed' ? 'closed' : 'open';
          break;
        default:
          break;
      }
    }
  }

  // {status: open|partial|accepted|rejected|expired, sides: Set, record, expired: its event}
  proposalStatus(p) {
    const topic = p.ev.body.topic;
    const sides = new Set();
    let record = null;
    let rejectedBy = null;
    for (const d of p.decisions) {
      const verdict = d.body.verdict;
      if (verdict === 'rejected') rejectedBy = d.from;
      if (verdict === 'accepted') sides.add(d.from.role);
      if (d.body.record) record = d.body.record;
    }
    const openInState = this.openProposal(p.ch, p.ev.seq);
    if (openInState && Array.isArray(openInState.accepted_by)) {
      for (const a of openInState.accepted_by) if (a && typeof a === 'object' && a.role) sides.add(a.role);
    }
    if (rejectedBy) return { status: 'rejected', sides, record, rejectedBy };
    if (record) return { status: 'accepted', sides, record };
    // Lapsed undecided (a resolution may lapse half accepted).
    const expired = this.expired.get(`${p.ch}#${p.ev.seq}`);
    if (expired && (topic === 'resolution' || !sides.size)) return { status: 'expired', sides, record, expired };
    if (topic === 'resolution') {
      if (sides.has('client') && sides.has('expert')) return { status: 'accepted', sides, record };
      if (sides.size) return { status: 'partial', sides, record };
      return { status: 'open', sides, record };
    }
    if (sides.size) return { status: 'accepted', sides, record };
    return { status: 'open', sides, record };
  }

  openProposal(ch, seq) {
    const list = this.state && Array.isArray(this.state.open_proposals) ? this.state.open_proposals : null;
    if (!list) return null;
    return list.find((p) => p.seq === seq && (!p.ch || p.ch === ch)) || null;
  }

  // A flag's state for its card: the server's while it lists the flag; once a
  // state that knows the flag no longer lists it, the flag left the state,
  // i.e. it is resolved; before any such state, what its updates say.
  flagState(ch, seq) {
    const f = this.flags.get(`${ch}#${seq}`);
    const listed = this.listedFlag(ch, seq);
    if (listed) return listed.state || 'open';
    if (f && this.state && f.stateVersion < this.stateVersion && ch === `eng:${this.id}`) return 'resolved';
    return f ? f.state : 'open';
  }

  listedFlag(ch, seq) {
    const list = this.state && Array.isArray(this.state.open_flags) ? this.state.open_flags : null;
    return list && ch === `eng:${this.id}` ? list.find((x) => x.seq === seq) || null : null;
  }

  // The phase as the server reports it; all null until its state arrives.
  phaseInfo() {
    const s = this.state;
    if (!s || typeof s.phase !== 'string') return { phase: null, since: null, due: null };
    return { phase: s.phase, since: s.phase_since ?? null, due: s.phase_due ?? null };
  }

  // The open proposals the server's state lists, with their events where loaded.
  openProposals() {
    const list = this.state && Array.isArray(this.state.open_proposals) ? this.state.open_proposals : [];
    return list.filter((sp) => sp && Number.isInteger(sp.seq)).map((sp) => {
      const ch = sp.ch || `eng:${this.id}`;
      const known = this.proposals.get(`${ch}#${sp.seq}`);
      if (known) return known;
      const by = typeof sp.by === 'object' && sp.by ? sp.by : { id: String(sp.by || ''), name: String(sp.by || ''), role: '' };
      return { ev: { seq: sp.seq, ch, kind: 'proposal', from: by, ts: null, body: { topic: sp.topic, text: sp.text, terms: sp.terms } }, ch, decisions: [], fromState: true };
    }).sort((a, b) => a.ev.seq - b.ev.seq);
  }

  // The open flags the server's state lists, with their events where loaded.
  openFlags() {
    const list = this.state && Array.isArray(this.state.open_flags) ? this.state.open_flags : [];
    const ch = `eng:${this.id}`;
    return list.filter((sf) => sf && Number.isInteger(sf.seq)).map((sf) => {
      const known = this.flags.get(`${ch}#${sf.seq}`);
      if (known) return { ...known, state: sf.state || 'open' };
      const by = typeof sf.by === 'object' && sf.by ? sf.by : { id: String(sf.by || ''), name: String(sf.by || ''), role: '' };
      return { ev: { seq: sf.seq, ch, kind: 'flag', from: by, body: { type: sf.type, text: sf.text } }, ch, state: sf.state || 'open', updates: [] };
    }).sort((a, b) => a.ev.seq - b.ev.seq);
  }
}
