// Telling the reader about what arrives while they look elsewhere: the unread
// count in the page title and on the favicon, opt-in desktop notifications and
// a short sound. The two preferences stay in this browser (localStorage).
import { excerpt, humanize } from './dom.js';
import { engagementOf, isParty } from './model.js';

const PREF_DESKTOP = 'parley.notify.desktop';
const PREF_SOUND = 'parley.notify.sound';
const DUE_SEEN = 'parley.notify.due-seen';
const DAY_MS = 24 * 3600 * 1000;
// A burst (a resume after a reconnect, a busy support inbox) becomes one
// summary notification rather than a pile of them.
const MAX_PER_BATCH = 3;
const TITLE_PREFIX = /^\(\d+\+?\) /;

const SLA_LABEL = {
  reply_overdue: 'A reply is overdue',
  status_overdue: 'A status update is overdue',
  phase_overdue: 'The phase is overdue',
};
const NOTICE_LABEL = {
  dispute: 'Dispute raised',
  scope_change: 'Scope change flagged',
  phase_overdue: 'Phase overdue',
};

function readPref(key) {
  try { return localStorage.getItem(key) === '1'; } catch { return false; }
}

function writePref(key, on) {
  try { localStorage.setItem(key, on ? '1' : '0'); } catch { /* private mode: the choice lasts this page */ }
}

// Where the page shows channel `ch`.
export function hashFor(ch) {
  if (ch === 'support') return '#/support';
  const info = engagementOf(ch);
  if (!info) return '#/';
  return `#/eng/${encodeURIComponent(info.id)}${info.room === 'mediation' ? '/mediation' : ''}`;
}

function sender(ev) {
  return (ev.from && (ev.from.name || ev.from.id)) || 'Someone';
}

// What to tell reader `me` about event `ev` in channel `ch`, or null when it
// is not addressed to them: in an engagement, a message from the other party
// (or, in a mediation room, from anyone else) and a missed service level; for
// support staff, what reaches the support inbox and the mediation rooms.
// Never the reader's own events.
export function noteForEvent(ch, ev, me) {
  if (!ev || !ev.body || (ev.from && ev.from.id === me.id)) return null;
  const b = ev.body;
  if (ch === 'support') {
    if (me.role !== 'support') return null;
    if (ev.kind === 'notice') return { title: `${NOTICE_LABEL[b.type] || humanize(b.type)} · Engagement ${b.eng}`, body: excerpt(b.text, 160) };
    if (ev.kind === 'message') return { title: `${sender(ev)} in the support inbox`, body: excerpt(b.text, 160) };
    return null;
  }
  const info = engagementOf(ch);
  if (!info) return null;
  const where = info.room === 'mediation' ? `mediation of engagement ${info.id}` : `engagement ${info.id}`;
  if (ev.kind === 'message') {
    const fromOtherParty = isParty(me.role) && ev.from && isParty(ev.from.role) && ev.from.role !== me.role;
    const inMediation = info.room === 'mediation' && (isParty(me.role) || me.role === 'support');
    if (!fromOtherParty && !inMediation) return null;
    return { title: `${sender(ev)} in ${where}`, body: excerpt(b.text, 160) };
  }
  if (ev.kind === 'sla' && isParty(me.role)) {
    return { title: `${SLA_LABEL[b.type] || 'A service level was missed'} · Engagement ${info.id}`, body: excerpt(b.text || '', 160) };
  }
  return null;
}

export class Notifier {
  // `s` is the session: its channels (unread counts), engagements, reader and navigation.
  constructor(s) {
    this.s = s;
    this.count = 0;
    this.iconLink = document.querySelector('link[rel="icon"]');
    this.baseIcon = this.iconLink ? this.iconLink.getAttribute('href') : 'favicon.svg';
    this.iconGen = 0;
    this.audio = null;
    this.lastBeep = 0;
    this.dueSeen = this.loadDueSeen();
    // Views set the title as they open; the observer puts the count back in front.
    const titleEl = document.querySelector('title');
    this.titleObserver = titleEl ? new MutationObserver(() => this.applyTitle()) : null;
    if (this.titleObserver) this.titleObserver.observe(titleEl, { childList: true, characterData: true, subtree: true });
    this.dueTimer = setInterval(() => this.checkDeadlines(), 10 * 60 * 1000);
  }

  destroy() {
    clearInterval(this.dueTimer);
    if (this.titleObserver) this.titleObserver.disconnect();
    this.count = 0;
    this.applyTitle();
    this.drawIcon();
    if (this.audio) this.audio.close().catch(() => {});
  }

  // ------------------------------------------------------------ unread

  // The unread count across the reader's channels, in the title and on the favicon.
  refresh() {
    let total = 0;
    for (const c of this.s.channels.values()) total += c.unread || 0;
    if (total === this.count) return;
    this.count = total;
    this.applyTitle();
    this.drawIcon();
  }

  applyTitle() {
    const base = document.title.replace(TITLE_PREFIX, '');
    const want = this.count ? `(${this.count > 99 ? '99+' : this.count}) ${base}` : base;
    if (document.title !== want) document.title = want;
  }

  // The favicon with a red badge, drawn on a canvas into a data: URL (the
  // page's CSP allows `img-src data:`); the plain icon when nothing is unread.
  async drawIcon() {
    const link = this.iconLink;
    if (!link) return;
    const gen = ++this.iconGen;
    if (!this.count) {
      link.setAttribute('type', 'image/svg+xml');
      link.setAttribute('href', this.baseIcon);
      return;
    }
    const img = await this.iconImage();
    if (gen !== this.iconGen) return;
    const canvas = document.createElement('canvas');
    canvas.width = 64;
    canvas.height = 64;
    const g = canvas.getContext('2d');
    if (img) g.drawImage(img, 0, 0, 64, 64);
    else { g.fillStyle = '#3b5bdb'; g.fillRect(0, 0, 64, 64); }
    g.beginPath();
    g.arc(44, 20, 19, 0, 2 * Math.PI);
    g.fillStyle = '#e03131';
    g.fill();
    g.lineWidth = 3;
    g.strokeStyle = '#fff';
    g.stroke();
    g.fillStyle = '#fff';
    g.font = 'bold 26px sans-serif';
    g.textAlign = 'center';
    g.textBaseline = 'middle';
    g.fillText(this.count > 9 ? '9+' : String(this.count), 44, 21);
    link.setAttribute('type', 'image/png');
    link.setAttribute('href', canvas.toDataURL('image/png'));
  }

  iconImage() {
    if (!this.iconPromise) {
      this.iconPromise = new Promise((resolve) => {
        const img = new Image();
        img.onload = () => resolve(img);
        img.onerror = () => resolve(null);
        img.src = this.baseIcon;
      });
    }
    return this.iconPromise;
  }

  // ------------------------------------------------------------ preferences

  get desktopSupported() { return typeof window.Notification === 'function'; }
  get desktopPermission() { return this.desktopSupported ? window.Notification.permission : 'unsupported'; }
  get desktopOn() { return readPref(PREF_DESKTOP) && this.desktopPermission === 'granted'; }
  get soundOn() { return readPref(PREF_SOUND); }

  // Turns desktop notifications on or off. The browser asks for permission
  // only here, from the reader's click. Resolves to whether they are on.
  async setDesktop(on) {
    if (!on) { writePref(PREF_DESKTOP, false); return false; }
    if (!this.desktopSupported) return false;
    let perm = window.Notification.permission;
    if (perm === 'default') {
      try { perm = await window.Notification.requestPermission(); } catch { perm = 'denied'; }
    }
    writePref(PREF_DESKTOP, perm === 'granted');
    return perm === 'granted';
  }

  // The sound is off by default. Turning it on happens in a click, which is
  // also when the browser lets the page start its audio.
  setSound(on) {
    writePref(PREF_SOUND, on);
    if (on) { this.ensureAudio(); this.beep(true); }
  }

  ensureAudio() {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return null;
    if (!this.audio) this.audio = new Ctx();
    if (this.audio.state === 'suspended') this.audio.resume().catch(() => {});
    return this.audio;
  }

  // A short two-tone beep from an oscillator: no sound file to load.
  beep(force = false) {
    // At most one beep every 2 s for the triggers; the one confirming the toggle always plays.
    const now = Date.now();
    if (!force) {
      if (now - this.lastBeep < 2000) return;
      this.lastBeep = now;
    }
    const ac = this.ensureAudio();
    if (!ac) return;
    const t = ac.currentTime;
    const osc = ac.createOscillator();
    const gain = ac.createGain();
    osc.type = 'sine';
    osc.frequency.setValueAtTime(880, t);
    osc.frequency.setValueAtTime(1175, t + 0.08);
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(0.15, t + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.2);
    osc.connect(gain).connect(ac.destination);
    osc.start(t);
    osc.stop(t + 0.22);
  }

  // ------------------------------------------------------------ triggers

  // Whether the reader is looking at channel `ch` right now.
  watching(ch) {
    return document.visibilityState === 'visible' && !!this.s.current && this.s.current.ch === ch;
  }

  // New events arrived in `ch` (already without duplicates).
  eventsArrived(ch, events) {
    if (this.watching(ch)) return;
    const notes = [];
    for (const ev of events) {
      const note = noteForEvent(ch, ev, this.s.me);
      if (note) notes.push({ ...note, ch, seq: ev.seq });
    }
    if (notes.length > MAX_PER_BATCH) {
      const last = notes[notes.length - 1];
      const info = engagementOf(ch);
      const where = ch === 'support' ? 'the support inbox' : info.room === 'mediation' ? `mediation of engagement ${info.id}` : `engagement ${info.id}`;
      this.tell({ title: `${notes.length} new in ${where}`, body: last.body, ch, seq: notes[0].seq });
    } else {
      for (const n of notes) this.tell(n);
    }
  }

  // The server's state of engagement `id` was applied; `before` is the set
  // of actions the previous state allowed (null for the first state, which
  // sets the baseline: proposals already open at load are not announced).
  stateApplied(id, before) {
    const eng = this.s.engagements.get(id);
    if (!eng || !eng.state) return;
    if (before) {
      for (const action of this.s.actions(id)) {
        if (!action.startsWith('decide:') || before.has(action)) continue;
        const seq = Number(action.slice('decide:'.length));
        // The proposal's event where loaded (it names the proposer), else the state's entry.
        const p = eng.openProposals().find((x) => x.ev.seq === seq);
        const ch = p && engagementOf(p.ch) ? p.ch : `eng:${id}`;
        if (this.watching(ch)) continue;
        const by = p ? sender(p.ev) : '';
        this.tell({
          title: `${p ? humanize(p.ev.body.topic) : 'A'} proposal #${seq} awaits your decision · Engagement ${id}`,
          body: excerpt(`${by ? `${by}: ` : ''}${(p && p.ev.body.text) || ''}`, 160),
          ch, seq,
        });
      }
    }
    this.checkDeadlines(id);
  }

  // A phase due within 24 h, told once per phase and due date (remembered in
  // this browser, so a reload does not repeat it). For the parties: support
  // staff get the overdue notices in their inbox.
  checkDeadlines(onlyId) {
    if (!isParty(this.s.me.role)) return;
    const now = Date.now();
    for (const eng of this.s.engagements.values()) {
      if (onlyId && eng.id !== onlyId) continue;
      const { phase, due } = eng.phaseInfo();
      if (!phase || typeof due !== 'number' || due <= now || due - now > DAY_MS) continue;
      const key = `${eng.id}|${phase}|${due}`;
      if (this.dueSeen.includes(key)) continue;
      this.dueSeen.push(key);
      this.saveDueSeen();
      const ch = `eng:${eng.id}`;
      if (this.watching(ch)) continue;
      const hours = Math.max(1, Math.round((due - now) / 3600000));
      this.tell({ title: `${humanize(phase)} is due in ${hours} h · Engagement ${eng.id}`, body: 'The phase reaches its upper bound within a day.', ch, seq: null });
    }
  }

  loadDueSeen() {
    try {
      const list = JSON.parse(localStorage.getItem(DUE_SEEN) || '[]');
      return Array.isArray(list) ? list.filter((k) => typeof k === 'string').slice(-100) : [];
    } catch { return []; }
  }

  saveDueSeen() {
    this.dueSeen = this.dueSeen.slice(-100);
    try { localStorage.setItem(DUE_SEEN, JSON.stringify(this.dueSeen)); } catch { /* remembered for this page only */ }
  }

  // One notification: the desktop one if enabled and allowed, the sound if on.
  // A click focuses the tab and opens the event.
  tell({ title, body, ch, seq }) {
    if (this.soundOn) this.beep();
    if (!this.desktopOn) return;
    let n;
    try {
      n = new window.Notification(title, { body, tag: `parley:${ch}`, lang: 'en' });
    } catch { return; }
    n.addEventListener('click', () => {
      window.focus();
      n.close();
      this.open(ch, seq);
    });
  }

  open(ch, seq) {
    const s = this.s;
    const hash = hashFor(ch);
    const jump = () => { if (seq && s.view && s.view.ch === ch) s.view.jumpTo(seq); };
    if (location.hash === hash) {
      if (!s.current || s.current.ch !== ch) s.route();
      jump();
    } else {
      window.addEventListener('hashchange', () => setTimeout(jump, 0), { once: true });
      location.hash = hash;
    }
  }
}
