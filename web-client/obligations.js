// What the engagement's state says each side still owes (protocol §4,
// §9.1, §9.2): the parties' names, the requirements each side has yet to
// acknowledge, and who owes whom a reply by when. Pure: no DOM, no clock of
// its own (the caller passes `now`); the service levels are the server's,
// never computed here.
import { formatDuration } from './dom.js';

export const SIDES = ['client', 'expert'];

// The name of `side` ("client" | "expert"): the named party of an engagement
// created by the platform, else `seen[side]` (a name read from that side's
// events), else "the client" / "the expert".
export function sideName(state, side, seen = {}) {
  const p = state && state.parties && typeof state.parties === 'object' ? state.parties[side] : null;
  if (p && typeof p === 'object') {
    if (typeof p.name === 'string' && p.name) return p.name;
    if (typeof p.id === 'string' && p.id) return p.id;
  }
  if (typeof seen[side] === 'string' && seen[side]) return seen[side];
  return `the ${side}`;
}

// "Alice (client)": a name with its side, unless the name already says it.
export function nameWithSide(name, side) {
  return String(name).toLowerCase().includes(`(${side})`) ? String(name) : `${name} (${side})`;
}

// The side the reader acts for, or null (support, bots, service, and a
// client or expert token that is not the named user of its side).
export function readerSide(state, me) {
  if (!me || !SIDES.includes(me.role)) return null;
  const named = state && state.parties && typeof state.parties === 'object' ? state.parties[me.role] : null;
  if (named && typeof named === 'object' && named.id !== me.id) return null;
  return me.role;
}

// A party role's token that is not the named user of an engagement created
// by the platform: it may read, never post (protocol §9.1).
export function isOutsider(state, me) {
  return !!me && SIDES.includes(me.role) && readerSide(state, me) === null;
}

function cleanRequirement(r) {
  if (!r || typeof r !== 'object' || typeof r.key !== 'string') return null;
  return {
    key: r.key,
    title: typeof r.title === 'string' && r.title ? r.title : r.key,
    by: Array.isArray(r.by) ? r.by.filter((x) => SIDES.includes(x)) : [],
    acknowledgedBy: Array.isArray(r.acknowledged_by) ? r.acknowledged_by.filter((x) => typeof x === 'string') : [],
  };
}

// Whether `side` has acknowledged requirement `r`: the named user's id is
// among `acknowledged_by`. Without named parties (no engagement made on first
// use has requirements), an acknowledgement per listed side is counted.
function sideDone(state, r, side) {
  const named = state && state.parties && typeof state.parties === 'object' ? state.parties[side] : null;
  if (named && typeof named === 'object' && typeof named.id === 'string') return r.acknowledgedBy.includes(named.id);
  return r.acknowledgedBy.length >= r.by.length;
}

// The requirements of the state, each with every listed side done or not:
// [{key, title, by, acknowledgedBy, sides: [{side, name, done}], done}].
export function requirementsOf(state, seen = {}) {
  const list = state && Array.isArray(state.requirements) ? state.requirements : [];
  return list.map(cleanRequirement).filter(Boolean).map((r) => {
    const sides = r.by.map((side) => ({ side, name: sideName(state, side, seen), done: sideDone(state, r, side) }));
    return { ...r, sides, done: sides.every((x) => x.done) };
  });
}

// What still keeps the engagement from `active`: ["Mutual NDA — Bob", …].
export function missingAcknowledgements(state, seen = {}) {
  return requirementsOf(state, seen).filter((r) => !r.done)
    .map((r) => `${r.title} — ${r.sides.filter((x) => !x.done).map((x) => x.name).join(' and ')}`);
}

// The requirements the reader's side has yet to acknowledge.
export function openForReader(state, me, seen = {}) {
  const side = readerSide(state, me);
  if (!side) return [];
  return requirementsOf(state, seen).filter((r) => r.sides.some((x) => x.side === side && !x.done));
}

const weekdayTime = new Intl.DateTimeFormat(undefined, { weekday: 'short', hour: '2-digit', minute: '2-digit' });
const DAY = 24 * 3600 * 1000;

// When a reply is due, in words: "due in 3h 12m" within a day, else
// "due Tue 14:00"; "overdue by 2h" once past.
export function dueWords(due, now) {
  if (due <= now) return `overdue by ${formatDuration(now - due)}`;
  if (due - now < DAY) return `due in ${formatDuration(due - now)}`;
  return `due ${weekdayTime.format(new Date(due))}`;
}

// Who owes a reply and by when, or null when nobody does. The due time is
// `owed_reply.due` when the server sends it; else, when the server has
// posted a `reply_overdue` event for this debt (`overdueEvent`, its body and
// ts), the reply is overdue since then; else no due time is shown.
// → {side, mine, owedToMe, text, due, overdue}
export function owedReplyInfo(state, me, { now, overdueEvent = null, seen = {} } = {}) {
  const owed = state && state.owed_reply && typeof state.owed_reply === 'object' ? state.owed_reply : null;
  if (!owed || !SIDES.includes(owed.side)) return null;
  const side = owed.side;
  const other = side === 'client' ? 'expert' : 'client';
  const mySide = readerSide(state, me);
  const mine = mySide === side;
  const owedToMe = mySide === other;
  let due = typeof owed.due === 'number' && Number.isFinite(owed.due) ? owed.due : null;
  let overdue = due !== null && due <= now;
  if (due === null && overdueEvent && overdueEvent.body && overdueEvent.body.since_seq === owed.since_seq) {
    overdue = true;
    due = typeof overdueEvent.body.due === 'number' ? overdueEvent.body.due : (typeof overdueEvent.ts === 'number' ? overdueEvent.ts : null);
  }
  const who = mine ? 'You owe a reply'
    : owedToMe ? `${sideName(state, side, seen)} owes you a reply`
      : `${sideName(state, side, seen)} owes ${sideName(state, other, seen)} a reply`;
  let when;
  if (due !== null) when = overdue ? `overdue by ${formatDuration(Math.max(0, now - due))}` : dueWords(due, now);
  else if (overdue) when = 'overdue';
  else when = null;
  const text = when ? `${who} — ${when}` : who;
  return { side, mine, owedToMe, due, overdue, text: text.charAt(0).toUpperCase() + text.slice(1) };
}
