// Introductory calls (protocol §9.5) without DOM: a call's slots typed in a
// time zone and checked before sending, slots and reminders as text in a
// reader's zone, and the countdown to the next scheduled call. Every time on
// the wire is UTC ms; a zone is an IANA name used for display only. Terms and
// states come from any client, so every function takes arbitrary JSON.
// Imports nothing, so Node's test runner loads it as it is.

export const MAX_SLOTS = 5;
export const MIN_MINUTES = 15;
export const MAX_MINUTES = 240;
export const MAX_LINK = 2000;
// The reminder comes this long before a call (protocol §9.5).
export const REMINDER_LEAD_MS = 15 * 60 * 1000;

// Times are written the same way everywhere in the client (terms.js too).
const LOCALE = 'en-GB';

// The reader's own zone, e.g. "Europe/Berlin" (UTC when the browser has none).
export function localZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

// A zone Intl knows, or null: a zone from another client may be any string.
export function knownZone(tz) {
  if (typeof tz !== 'string' || !tz || tz.length > 64) return null;
  try {
    new Intl.DateTimeFormat(LOCALE, { timeZone: tz });
    return tz;
  } catch {
    return null;
  }
}

// The wall-clock fields of `ms` in zone `tz`.
function wallClock(ms, tz) {
  const parts = new Intl.DateTimeFormat(LOCALE, {
    timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
  }).formatToParts(new Date(ms));
  const get = (type) => Number(parts.find((p) => p.type === type).value);
  return { year: get('year'), month: get('month'), day: get('day'), hour: get('hour'), minute: get('minute') };
}

// How far zone `tz` is ahead of UTC at `ms`, in ms (whole minutes).
function zoneOffset(ms, tz) {
  const w = wallClock(ms, tz);
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute) - Math.floor(ms / 60000) * 60000;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME = /^(\d{2}):(\d{2})$/;

// `date` "YYYY-MM-DD" and `time` "HH:MM" read in zone `tz`, as UTC ms; null
// when either is malformed or the time does not exist there (the hour the
// clocks skip when summer time begins).
export function zonedToUtc(date, time, tz) {
  const d = DATE.exec(String(date || ''));
  const t = TIME.exec(String(time || ''));
  if (!d || !t) return null;
  const [year, month, day, hour, minute] = [d[1], d[2], d[3], t[1], t[2]].map(Number);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59) return null;
  const asUtc = Date.UTC(year, month - 1, day, hour, minute);
  // The zone's offsets a day either side: near a change of the clocks the
  // wall time exists once, twice (the earlier is taken) or not at all.
  const matches = [asUtc - zoneOffset(asUtc - 86400000, tz), asUtc - zoneOffset(asUtc + 86400000, tz)].filter((ms) => {
    const w = wallClock(ms, tz);
    return w.year === year && w.month === month && w.day === day && w.hour === hour && w.minute === minute;
  });
  return matches.length ? Math.min(...matches) : null;
}

// A problem with the slots of a call to propose at `now`, or null.
// `rows` are [{date, time, minutes}] as typed (strings); the answer names the
// row and the field: {index, field: 'date'|'time'|'minutes'|null, message}.
// Otherwise {slots: [{start, minutes}]} ready to send.
export function readSlots(rows, tz, now) {
  if (!Array.isArray(rows) || rows.length < 1) return { problem: { index: 0, field: null, message: 'Offer at least one time for the call.' } };
  if (rows.length > MAX_SLOTS) return { problem: { index: MAX_SLOTS, field: null, message: `Offer at most ${MAX_SLOTS} times.` } };
  const slots = [];
  const seen = new Map();
  for (const [index, row] of rows.entries()) {
    const n = index + 1;
    if (!DATE.test(String(row.date || ''))) return { problem: { index, field: 'date', message: `Choose the date of time ${n}.` } };
    if (!TIME.test(String(row.time || ''))) return { problem: { index, field: 'time', message: `Choose the start time of time ${n}.` } };
    const start = zonedToUtc(row.date, row.time, tz);
    if (start === null) return { problem: { index, field: 'time', message: `Time ${n} does not exist in ${tz} (the clocks change then).` } };
    if (start <= now) return { problem: { index, field: 'date', message: `Time ${n} is in the past: offer a time still to come.` } };
    const minutes = Number(String(row.minutes ?? '').trim());
    if (!Number.isInteger(minutes) || minutes < MIN_MINUTES || minutes > MAX_MINUTES) {
      return { problem: { index, field: 'minutes', message: `The length of time ${n} must be ${MIN_MINUTES} to ${MAX_MINUTES} minutes.` } };
    }
    if (seen.has(start)) return { problem: { index, field: 'time', message: `Time ${n} starts when time ${seen.get(start)} does.` } };
    seen.set(start, n);
    slots.push({ start, minutes });
  }
  return { slots };
}

// A meeting link: empty (none) or a plain https URL, as the server accepts
// it (no user name before the host, no spaces). Returns a message or null.
export function linkProblem(text) {
  const link = String(text ?? '').trim();
  if (!link) return null;
  if (link.length > MAX_LINK) return `The link is too long: at most ${MAX_LINK.toLocaleString(LOCALE)} characters.`;
  if (!/^https:\/\/[\x21-\x7e]+$/.test(link)) return 'The meeting link must be an https:// address without spaces.';
  let url;
  try {
    url = new URL(link);
  } catch {
    return 'The meeting link is not a valid address.';
  }
  if (url.username || url.password || link.slice(8).split(/[/?#]/)[0].includes('@')) return 'The meeting link must not hold a user name before its host.';
  if (!url.hostname) return 'The meeting link has no host.';
  return null;
}

// A link of a stored call that may be opened: https only (another client may
// have written anything).
export function safeLink(link) {
  return typeof link === 'string' && link.length <= MAX_LINK && /^https:\/\/[\x21-\x7e]+$/.test(link) ? link : null;
}

// A slot from a proposal's terms, or null when it is not one.
export function asSlot(v) {
  if (!v || typeof v !== 'object') return null;
  const { start, minutes } = v;
  if (!Number.isSafeInteger(start) || start <= 0 || !Number.isInteger(minutes) || minutes <= 0 || minutes > 24 * 60) return null;
  return { start, minutes };
}

// The slots of a call proposal's terms, at most MAX_SLOTS, each with its index
// in the terms (a decision names it); [] when the terms hold none.
export function callSlots(terms) {
  const slots = terms && Array.isArray(terms.slots) ? terms.slots.slice(0, MAX_SLOTS) : [];
  return slots.map((v, index) => ({ ...asSlot(v), index, valid: !!asSlot(v) })).filter((x) => x.valid).map(({ valid, ...x }) => x);
}

function fmt(ms, tz, options) {
  return new Intl.DateTimeFormat(LOCALE, { timeZone: tz, hourCycle: 'h23', ...options }).format(new Date(ms));
}

// "Tue 1 Dec 2026" (with the year) or "Tue 1 Dec", assembled from parts so
// that every engine writes it alike.
function dayText(ms, tz, withYear = true) {
  const parts = new Intl.DateTimeFormat(LOCALE, { timeZone: tz, weekday: 'short', day: 'numeric', month: 'short', year: 'numeric' }).formatToParts(new Date(ms));
  const get = (type) => parts.find((p) => p.type === type).value;
  return `${get('weekday')} ${get('day')} ${get('month')}${withYear ? ` ${get('year')}` : ''}`;
}

const timeText = (ms, tz) => fmt(ms, tz, { hour: '2-digit', minute: '2-digit' });

// "Tue 1 Dec 2026, 14:00–14:30" in zone `tz`; a call that ends on another
// day says so: "Tue 1 Dec 2026, 23:30 – Wed 2 Dec 2026, 00:30".
export function slotText(slot, tz) {
  const zone = knownZone(tz) || 'UTC';
  const end = slot.start + slot.minutes * 60000;
  const first = dayText(slot.start, zone);
  if (first === dayText(end - 1, zone)) return `${first}, ${timeText(slot.start, zone)}–${timeText(end, zone)}`;
  return `${first}, ${timeText(slot.start, zone)} – ${dayText(end, zone)}, ${timeText(end, zone)}`;
}

// A slot for a reader in `readerTz`, and, when the proposer wrote in another
// zone (a known one) where the slot reads differently, there too:
// {text, other: "08:00–08:30 in America/New_York" | null}.
export function slotTexts(slot, readerTz, proposerTz) {
  const text = slotText(slot, readerTz);
  const theirs = knownZone(proposerTz);
  if (!theirs || theirs === knownZone(readerTz)) return { text, other: null };
  const there = slotText(slot, theirs);
  return { text, other: there === text ? null : `${there} in ${theirs}` };
}

// "Times in Europe/Berlin".
export function zoneCaption(tz) {
  return `Times in ${knownZone(tz) || 'UTC'}`;
}

// "in 2 d 3 h", "in 3 h 20 min", "in 14 min" (minutes rounded up).
function inText(ms) {
  const total = Math.max(1, Math.ceil(ms / 60000));
  const d = Math.floor(total / 1440);
  const hr = Math.floor((total % 1440) / 60);
  const min = total % 60;
  if (d > 0) return hr ? `in ${d} d ${hr} h` : `in ${d} d`;
  if (hr > 0) return min ? `in ${hr} h ${min} min` : `in ${hr} h`;
  return `in ${min} min`;
}

// The countdown to a call at `now`: "Call in 2 d 3 h", "Call in 14 min",
// "Call now" while it runs, "Call ended" after.
export function countdownText(call, now) {
  const end = call.start + call.minutes * 60000;
  if (now >= end) return 'Call ended';
  if (now >= call.start) return 'Call now';
  return `Call ${inText(call.start - now)}`;
}

// The calls of a state (`state.calls`) that are well-formed, by start.
export function scheduledCalls(state) {
  const list = state && Array.isArray(state.calls) ? state.calls : [];
  return list.map((c) => {
    const slot = asSlot(c);
    return slot && Number.isSafeInteger(c.proposal) ? { ...slot, proposal: c.proposal, link: safeLink(c.link), tz: typeof c.tz === 'string' ? c.tz : null } : null;
  }).filter(Boolean).sort((a, b) => a.start - b.start || a.proposal - b.proposal);
}

// The call to show: the first one that has not ended at `now`, or null.
export function nextCall(state, now) {
  return scheduledCalls(state).find((c) => c.start + c.minutes * 60000 > now) || null;
}

// A reminder (`reminder {call, start}`, posted at `ts`) as a sentence:
// "Call with Bob starts at 14:00 — in 15 minutes". `who` is the other party's
// name (null when unknown); the time is in the reader's zone `tz`.
export function reminderText({ who, start, ts, tz }) {
  const zone = knownZone(tz) || 'UTC';
  const at = Number.isSafeInteger(ts) && dayText(start, zone) !== dayText(ts, zone)
    ? `${dayText(start, zone, false)}, ${timeText(start, zone)}`
    : timeText(start, zone);
  const head = `Call${who ? ` with ${who}` : ''}`;
  if (!Number.isSafeInteger(ts)) return `${head} starts at ${at}`;
  const mins = Math.round((start - ts) / 60000);
  if (mins > 0) return `${head} starts at ${at} — in ${mins} minute${mins === 1 ? '' : 's'}`;
  if (mins === 0) return `${head} starts now (${at})`;
  return `${head} started at ${at} — ${-mins} minute${mins === -1 ? '' : 's'} ago`;
}

// The agreed due date (`state.due`, ms) as text in zone `tz`: "Mon 21 Dec 2026, 23:59".
export function dueText(due, tz) {
  if (!Number.isSafeInteger(due) || due <= 0) return null;
  const zone = knownZone(tz) || 'UTC';
  return `${dayText(due, zone)}, ${timeText(due, zone)}`;
}

// A value safe to use as a file name: the engagement id (protocol ids are
// [A-Za-z0-9_-]), anything else replaced.
export function calendarFileName(eng) {
  return `${String(eng).replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64) || 'calls'}.ics`;
}
