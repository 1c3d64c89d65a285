// The reader's own availability (protocol §9.3): the control in the header
// (a coloured dot and the status) and the dialog that sets status, until,
// note, working hours and reply time with the `availability` op. The value
// is read at start (GET /api/v1/users/me/availability) and follows the
// `updated` presence pushes about the reader, from this tab or another.
import { h, replaceChildren, setText } from '../dom.js';
import { dialog, FieldError } from './dialogs.js';
import { renderPresence } from './channel.js';
import {
  STATUSES, MAX_NOTE, MAX_REPLY_WITHIN_H, statusAt, statusLabel, statusText, exactTime, weekdayNames, toLocalInput, fromLocalInput,
} from '../availability_text.js';

const DEFAULT_HOURS = { days: [1, 2, 3, 4, 5], from: '09:00', to: '17:00' };

export function localTimeZone() {
  try { return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'; } catch { return 'UTC'; }
}

// Fills the header's slot with the control, reads the stored value, and
// redraws relative times once a minute until the reader signs out.
export function mountAvailability(s) {
  s.myAvailability = s.myAvailability || { availability: null, loaded: false };
  s.el.availability = h('button', {
    type: 'button', class: 'avail-control', testid: 'availability-control', 'aria-haspopup': 'dialog',
    onclick: (ev) => openAvailabilityDialog(s, ev.currentTarget),
  });
  s.el.availabilitySlot.replaceWith(s.el.availability);
  renderMyAvailability(s);
  loadMyAvailability(s);
  const timer = setInterval(() => { renderMyAvailability(s); renderPresence(s); }, 60000);
  s.listening.signal.addEventListener('abort', () => clearInterval(timer));
}

async function loadMyAvailability(s) {
  try {
    const res = await fetch('/api/v1/users/me/availability', { headers: { Authorization: `Bearer ${s.token}` }, cache: 'no-store' });
    if (!res.ok) return;
    const body = await res.json();
    // A push that arrived meanwhile is newer than this answer.
    if (!s.myAvailability.loaded) setMine(s, body && typeof body === 'object' ? body.availability : null);
  } catch { /* the control keeps showing the default until a push or a save */ }
}

function setMine(s, availability) {
  s.myAvailability = { availability: availability && typeof availability === 'object' ? availability : null, loaded: true };
  renderMyAvailability(s);
  renderPresence(s);
}

// Presence entries from a join or a push: the reader's own carries their
// availability as the server has it now.
export function presenceArrived(s, entries) {
  for (const u of Array.isArray(entries) ? entries : []) {
    if (u && u.id === s.me.id && 'availability' in u) setMine(s, u.availability);
  }
}

export function renderMyAvailability(s) {
  const btn = s.el && s.el.availability;
  if (!btn) return;
  const now = Date.now();
  const a = s.myAvailability.availability;
  const status = statusAt(a, now) || 'available';
  const full = statusText(a, now) || statusLabel(status);
  btn.className = `avail-control status-${status}`;
  btn.dataset.status = status;
  btn.title = a && Number.isFinite(a.until) && status !== 'available' ? `${full} (${exactTime(a.until)})` : full;
  btn.setAttribute('aria-label', `Your availability: ${full}. Change`);
  replaceChildren(btn, h('span', { class: 'avail-dot', 'aria-hidden': 'true' }), h('span', { class: 'avail-word' }, statusLabel(status)));
}

let fieldCount = 0;

// The dialog: it closes only once the server has stored the availability,
// and shows the server's refusal inside, with everything typed kept.
export function openAvailabilityDialog(s, opener) {
  fieldCount += 1;
  const id = (name) => `av-${name}-${fieldCount}`;
  const cur = s.myAvailability.availability || { status: 'available' };

  const status = h('select', { id: id('status'), testid: 'availability-status' },
    STATUSES.map((st) => h('option', { value: st, selected: st === statusAt(cur, Date.now()) }, statusLabel(st))));
  const until = h('input', { type: 'datetime-local', id: id('until'), testid: 'availability-until', 'aria-describedby': id('until-hint') });
  if (Number.isFinite(cur.until) && cur.until > Date.now()) until.value = toLocalInput(cur.until);
  const untilHint = h('p', { class: 'field-hint', id: id('until-hint') }, `Your local time (${localTimeZone()}). Leave it empty when you do not know yet.`);
  const note = h('textarea', { id: id('note'), rows: '2', testid: 'availability-note', 'aria-describedby': id('note-count') });
  note.value = typeof cur.note === 'string' ? cur.note : '';
  const noteCount = h('p', { class: 'field-hint', id: id('note-count'), testid: 'availability-note-count' });
  const countNote = () => {
    const n = [...note.value.trim()].length;
    setText(noteCount, `${n} / ${MAX_NOTE} characters`);
    noteCount.classList.toggle('over', n > MAX_NOTE);
  };
  note.addEventListener('input', countNote);
  countNote();
  const followStatus = () => { until.disabled = status.value === 'available'; };
  status.addEventListener('change', followStatus);
  followStatus();

  const hours = cur.hours && typeof cur.hours === 'object' ? cur.hours : null;
  const hoursOn = h('input', { type: 'checkbox', id: id('hours-on'), testid: 'availability-hours-on', checked: !!hours });
  const tz = h('input', { type: 'text', id: id('tz'), testid: 'availability-tz', autocomplete: 'off', spellcheck: 'false', list: id('zones') });
  tz.value = hours && typeof hours.tz === 'string' ? hours.tz : localTimeZone();
  const zones = h('datalist', { id: id('zones') },
    (typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : []).map((z) => h('option', { value: z })));
  const names = weekdayNames();
  const dayBoxes = [1, 2, 3, 4, 5, 6, 7].map((d) => h('input', {
    type: 'checkbox', id: id(`day-${d}`), value: String(d), testid: `availability-day-${d}`,
    checked: (hours && Array.isArray(hours.days) ? hours.days : DEFAULT_HOURS.days).includes(d),
  }));
  const from = h('input', { type: 'time', id: id('from'), testid: 'availability-from', value: hours ? hours.from : DEFAULT_HOURS.from });
  const to = h('input', { type: 'time', id: id('to'), testid: 'availability-to', value: hours ? hours.to : DEFAULT_HOURS.to });
  const hoursSet = h('fieldset', { class: 'field-set avail-hours', testid: 'availability-hours' },
    h('legend', null, 'Working hours'),
    h('label', { for: id('tz') }, 'Time zone'), tz, zones,
    h('div', { class: 'avail-days', role: 'group', 'aria-label': 'Working days' },
      dayBoxes.map((box, i) => h('label', { class: 'avail-day', for: box.id }, box, h('span', null, names[i + 1])))),
    h('div', { class: 'avail-times' },
      h('span', { class: 'avail-time' }, h('label', { for: id('from') }, 'From'), from),
      h('span', { class: 'avail-time' }, h('label', { for: id('to') }, 'To'), to)));
  const followHours = () => { hoursSet.disabled = !hoursOn.checked; hoursSet.hidden = !hoursOn.checked; };
  hoursOn.addEventListener('change', followHours);
  followHours();

  const reply = h('input', { type: 'number', id: id('reply'), min: '1', max: String(MAX_REPLY_WITHIN_H), step: '1', inputmode: 'numeric', testid: 'availability-reply' });
  if (Number.isInteger(cur.reply_within_h)) reply.value = String(cur.reply_within_h);

  dialog(s, {
    title: 'Your availability',
    submit: 'Save',
    testid: 'availability-dialog',
    opener,
    fields: [
      h('label', { for: status.id }, 'Status'), status,
      h('label', { for: until.id }, 'Until'), until, untilHint,
      h('label', { for: note.id }, 'Note for the others (optional)'), note, noteCount,
      h('label', { class: 'avail-toggle', for: hoursOn.id }, hoursOn, h('span', null, 'I work set hours')), hoursSet,
      h('label', { for: reply.id }, 'Usually replies within (hours, 1–168, optional)'), reply,
    ],
    post: () => ({ body: availabilityBody({ status, until, note, hoursOn, tz, dayBoxes, from, to, reply }) }),
    send: (req) => s.conn.request('availability', req.body),
    done: (answer) => setMine(s, answer && answer.availability ? answer.availability : null),
  });
}

// The op's body from the form, or a FieldError for what cannot be right.
// The note's length is the server's to refuse: its answer names the limit.
function availabilityBody(f) {
  const body = { status: f.status.value };
  if (f.status.value !== 'available' && f.until.value) {
    const until = fromLocalInput(f.until.value);
    if (!Number.isFinite(until)) throw new FieldError(f.until, 'Give the date and time you will be back, or leave it empty.');
    if (until <= Date.now()) throw new FieldError(f.until, 'That time has passed: give a time in the future.');
    body.until = until;
  }
  if (f.note.value.trim()) body.note = f.note.value.trim();
  if (f.hoursOn.checked) {
    const days = f.dayBoxes.filter((b) => b.checked).map((b) => Number(b.value));
    if (!f.tz.value.trim()) throw new FieldError(f.tz, 'Name your time zone, e.g. Europe/Berlin.');
    if (!days.length) throw new FieldError(f.dayBoxes[0], 'Tick at least one working day.');
    if (!f.from.value) throw new FieldError(f.from, 'When does your working day start?');
    if (!f.to.value) throw new FieldError(f.to, 'When does your working day end?');
    body.hours = { tz: f.tz.value.trim(), days, from: f.from.value.slice(0, 5), to: f.to.value.slice(0, 5) };
  }
  if (f.reply.value.trim()) {
    const n = Number(f.reply.value);
    if (!Number.isInteger(n) || n < 1 || n > MAX_REPLY_WITHIN_H) throw new FieldError(f.reply, `Give the reply time as whole hours from 1 to ${MAX_REPLY_WITHIN_H}.`);
    body.reply_within_h = n;
  }
  return body;
}
