// Availability and presence as words (protocol §9.3), without DOM: "Away
// until Tue 09:00", "Usually replies within 4 h", "Mon–Fri 09:00–17:00
// Europe/Berlin", "Last seen 2 h ago". Every function takes the time `now`
// and the reader's `{locale, timeZone}` (undefined: the browser's), so that
// the same input gives the same words in a test.

export const STATUSES = ['available', 'busy', 'away'];
export const MAX_NOTE = 200;
export const MAX_REPLY_WITHIN_H = 168;

const MINUTE = 60000;
const DAY = 24 * 60 * MINUTE;

// The status that holds at `now`: a busy or away period whose `until` has
// passed is over, so its owner counts as available again; null when the user
// never said (or said something this client does not know).
export function statusAt(availability, now) {
  const a = availability;
  if (!a || typeof a !== 'object' || !STATUSES.includes(a.status)) return null;
  if (a.status !== 'available' && Number.isFinite(a.until) && a.until <= now) return 'available';
  return a.status;
}

export function statusLabel(status) {
  return status === 'busy' ? 'Busy' : status === 'away' ? 'Away' : 'Available';
}

// "3 min ago", "2 h ago", "yesterday", "5 days ago"; a time ahead of `now`
// (clocks differ a little) counts as now.
export function relativeAgo(ms, now) {
  const min = Math.floor(Math.max(0, now - ms) / MINUTE);
  if (min < 1) return 'less than a minute ago';
  if (min < 60) return `${min} min ago`;
  const hours = Math.floor(min / 60);
  if (hours < 24) return `${hours} h ago`;
  const days = Math.floor(hours / 24);
  if (days === 1) return 'yesterday';
  if (days < 365) return `${days} days ago`;
  return 'over a year ago';
}

export function lastSeenText(lastSeen, now) {
  return Number.isFinite(lastSeen) && lastSeen > 0 ? `Last seen ${relativeAgo(lastSeen, now)}` : null;
}

// The calendar date of `ms` in zone `timeZone`: {year, day}, where `day`
// grows by one per day (for "today" and "within the coming week").
function zonedDate(ms, timeZone) {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: 'numeric', day: 'numeric' }).formatToParts(new Date(ms));
  const get = (t) => Number(parts.find((p) => p.type === t).value);
  return { year: get('year'), day: Math.round(Date.UTC(get('year'), get('month') - 1, get('day')) / DAY) };
}

// When a period ends, as short as is clear: "17:30" today, "Tue 09:00"
// within the coming week, "12 Dec 09:00" later (with the year when it is
// another year), all in the reader's locale and zone.
export function untilText(until, now, opts = {}) {
  const { locale, timeZone } = opts;
  const then = zonedDate(until, timeZone);
  const today = zonedDate(now, timeZone);
  const ahead = then.day - today.day;
  const time = { hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone };
  let fmt;
  if (ahead === 0) fmt = time;
  else if (ahead > 0 && ahead < 7) fmt = { ...time, weekday: 'short' };
  else {
    fmt = { ...time, day: 'numeric', month: 'short', year: then.year === today.year ? undefined : 'numeric' };
  }
  return new Intl.DateTimeFormat(locale, fmt).format(new Date(until)).replace(/,(?=\s)/g, '');
}

// The full date and time, with the zone: for tooltips and screen readers.
export function exactTime(ms, { locale, timeZone } = {}) {
  return new Intl.DateTimeFormat(locale, {
    weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone, timeZoneName: 'short',
  }).format(new Date(ms));
}

// "Away until Tue 09:00", "Busy", "Available"; null when never set.
export function statusText(availability, now, opts = {}) {
  const status = statusAt(availability, now);
  if (!status) return null;
  const label = statusLabel(status);
  if (status !== 'available' && Number.isFinite(availability.until)) return `${label} until ${untilText(availability.until, now, opts)}`;
  return label;
}

// "Usually replies within 4 h" (whole days read as days: 48 → "2 days").
export function replyText(hours) {
  if (!Number.isInteger(hours) || hours < 1 || hours > MAX_REPLY_WITHIN_H) return null;
  if (hours >= 24 && hours % 24 === 0) return `Usually replies within ${hours / 24} day${hours === 24 ? '' : 's'}`;
  return `Usually replies within ${hours} h`;
}

// Short weekday names in the locale, Monday = 1 (1 Jan 2024 was a Monday).
export function weekdayNames(locale) {
  const fmt = new Intl.DateTimeFormat(locale, { weekday: 'short', timeZone: 'UTC' });
  const names = [null];
  for (let d = 1; d <= 7; d += 1) names.push(fmt.format(new Date(Date.UTC(2024, 0, d))));
  return names;
}

// Days 1..7 as runs: [1,2,3,4,5] → "Mon–Fri", [1,3,5] → "Mon, Wed, Fri",
// [6,7] → "Sat, Sun".
export function daysText(days, locale) {
  const names = weekdayNames(locale);
  const sorted = [...new Set(days)].filter((d) => Number.isInteger(d) && d >= 1 && d <= 7).sort((a, b) => a - b);
  const runs = [];
  for (const d of sorted) {
    const last = runs[runs.length - 1];
    if (last && d === last[1] + 1) last[1] = d;
    else runs.push([d, d]);
  }
  return runs.map(([a, b]) => {
    if (a === b) return names[a];
    if (b === a + 1) return `${names[a]}, ${names[b]}`;
    return `${names[a]}–${names[b]}`;
  }).join(', ');
}

// "Mon–Fri 09:00–17:00 Europe/Berlin"; null without working hours.
export function hoursText(hours, locale) {
  if (!hours || typeof hours !== 'object' || !Array.isArray(hours.days)) return null;
  const days = daysText(hours.days, locale);
  if (!days || typeof hours.from !== 'string' || typeof hours.to !== 'string') return null;
  return `${days} ${hours.from}–${hours.to}${typeof hours.tz === 'string' && hours.tz ? ` ${hours.tz}` : ''}`;
}

// Everything said about a person, in the order it is shown: status (when
// busy or away), note, reply time, working hours, and "last seen" for
// someone not connected.
// Each part is {key, text, title?}; `title` holds the exact time.
export function personFacts(entry, { present, now, locale, timeZone }) {
  const opts = { locale, timeZone };
  const a = entry && entry.availability && typeof entry.availability === 'object' ? entry.availability : null;
  const facts = [];
  const status = statusText(a, now, opts);
  if (status && statusAt(a, now) !== 'available') {
    facts.push({ key: 'status', status: statusAt(a, now), text: status, title: Number.isFinite(a.until) ? `Until ${exactTime(a.until, opts)}` : null });
  }
  // A busy or away period that is over takes its note with it ("back on Thursday").
  const over = a && a.status !== 'available' && statusAt(a, now) === 'available';
  if (a && typeof a.note === 'string' && a.note.trim() && !over) facts.push({ key: 'note', text: a.note.trim() });
  const reply = a ? replyText(a.reply_within_h) : null;
  if (reply) facts.push({ key: 'reply', text: reply });
  const hours = a ? hoursText(a.hours, locale) : null;
  if (hours) facts.push({ key: 'hours', text: `Works ${hours}` });
  if (!present) {
    const seen = lastSeenText(entry && entry.last_seen, now);
    if (seen) facts.push({ key: 'last-seen', text: seen, title: exactTime(entry.last_seen, opts), at: entry.last_seen });
  }
  return facts;
}

// A value for <input type="datetime-local"> ("2026-12-01T09:00") in the
// browser's own zone, and back to ms (NaN when empty or malformed).
export function toLocalInput(ms) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function fromLocalInput(value) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(String(value || ''));
  if (!m) return NaN;
  return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5])).getTime();
}
