// "Propose a call" (protocol §9.5): up to five times, each a date, a start
// and a length in the reader's own zone, and an optional https meeting link,
// checked here before the proposal is sent with the reader's zone as `tz`.
import { h, replaceChildren } from '../dom.js';
import { dialog, FieldError } from './dialogs.js';
import { toast } from './shell.js';
import { localZone, zoneCaption, readSlots, linkProblem, MAX_SLOTS, MIN_MINUTES, MAX_MINUTES } from '../calls_text.js';

const MAX_TEXT = 16384;

// "YYYY-MM-DD" of a local date.
function isoDate(d) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

let rowCount = 0;

// A row for one time; a new row starts a day after the one before it
// (tomorrow for the first), at the same start and length.
function slotRow(onRemove, before) {
  rowCount += 1;
  const id = (what) => `dlg-call-${what}-${rowCount}`;
  const prev = before ? /^(\d{4})-(\d{2})-(\d{2})$/.exec(before.fields.date.value) : null;
  const day = prev ? new Date(Number(prev[1]), Number(prev[2]) - 1, Number(prev[3]) + 1) : new Date(Date.now() + 86400000);
  const date = h('input', { id: id('date'), type: 'date', value: isoDate(day), min: isoDate(new Date()), testid: 'call-slot-date', required: true });
  const time = h('input', { id: id('time'), type: 'time', value: (before && before.fields.time.value) || '10:00', step: '300', testid: 'call-slot-time', required: true });
  const minutes = h('input', { id: id('minutes'), type: 'number', value: (before && before.fields.minutes.value) || '30', min: String(MIN_MINUTES), max: String(MAX_MINUTES), step: '5', inputmode: 'numeric', testid: 'call-slot-minutes', required: true });
  const legend = h('legend', null, '');
  const remove = h('button', { type: 'button', class: 'btn ghost small', testid: 'call-slot-remove', onclick: () => onRemove(row) }, 'Remove');
  const el = h('fieldset', { class: 'call-slot-row', testid: 'call-slot-row' },
    legend,
    h('div', { class: 'call-slot-fields' },
      h('span', { class: 'call-field' }, h('label', { for: id('date') }, 'Date'), date),
      h('span', { class: 'call-field' }, h('label', { for: id('time') }, 'Start'), time),
      h('span', { class: 'call-field' }, h('label', { for: id('minutes') }, 'Minutes'), minutes)),
    remove);
  const row = { el, legend, remove, fields: { date, time, minutes } };
  return row;
}

export function openCallDialog(s, opener = null) {
  const engId = s.current.eng;
  const tz = localZone();
  const rows = [];
  const list = h('div', { class: 'call-slot-rows', testid: 'call-slot-rows' });
  const add = h('button', { type: 'button', class: 'btn ghost small', testid: 'call-add-slot' }, '+ Add another time');
  const redraw = () => {
    rows.forEach((r, i) => {
      r.legend.textContent = `Time ${i + 1}`;
      r.remove.hidden = rows.length === 1;
      r.remove.setAttribute('aria-label', `Remove time ${i + 1}`);
    });
    replaceChildren(list, rows.map((r) => r.el));
    add.hidden = rows.length >= MAX_SLOTS;
  };
  const removeRow = (row) => {
    const i = rows.indexOf(row);
    if (i < 0 || rows.length === 1) return;
    rows.splice(i, 1);
    redraw();
    (rows[Math.min(i, rows.length - 1)].fields.date).focus();
  };
  const addRow = () => {
    if (rows.length >= MAX_SLOTS) return null;
    const row = slotRow(removeRow, rows[rows.length - 1]);
    rows.push(row);
    redraw();
    return row;
  };
  add.addEventListener('click', () => { const row = addRow(); if (row) row.fields.date.focus(); });
  addRow();

  const link = h('input', { id: 'dlg-call-link', type: 'url', testid: 'call-link-input', placeholder: 'https://meet.example.com/…', 'aria-describedby': 'dlg-call-link-hint', autocomplete: 'url' });
  const text = h('textarea', { id: 'dlg-call-text', rows: '2', testid: 'call-text-input', placeholder: 'What would you like to talk about?' });
  dialog(s, {
    title: 'Propose a call',
    submit: 'Propose call',
    testid: 'call-dialog',
    opener,
    fields: [
      h('p', { class: 'hint call-zone-caption', testid: 'call-zone-caption' }, `${zoneCaption(tz)}. Offer up to ${MAX_SLOTS} times; the other party picks one.`),
      list, add,
      h('label', { for: 'dlg-call-link' }, 'Meeting link (optional)'), link,
      h('p', { class: 'hint', id: 'dlg-call-link-hint' }, 'An https:// address, e.g. of a video meeting.'),
      h('label', { for: 'dlg-call-text' }, 'Note (optional)'), text],
    post: () => {
      const read = readSlots(rows.map((r) => ({ date: r.fields.date.value, time: r.fields.time.value, minutes: r.fields.minutes.value })), tz, Date.now());
      if (read.problem) {
        const row = rows[read.problem.index];
        throw new FieldError(row && read.problem.field ? row.fields[read.problem.field] : add, read.problem.message);
      }
      const problem = linkProblem(link.value);
      if (problem) throw new FieldError(link, problem);
      if (text.value.trim().length > MAX_TEXT) throw new FieldError(text, `The note is too long: at most ${MAX_TEXT.toLocaleString('en-GB')} characters.`);
      const terms = { slots: read.slots, tz };
      if (link.value.trim()) terms.link = link.value.trim();
      return { ch: `eng:${engId}`, kind: 'proposal', body: { topic: 'call', text: text.value.trim() || 'Introductory call', terms } };
    },
    done: () => toast(s, rows.length === 1 ? 'You proposed a call.' : `You proposed a call at ${rows.length} possible times.`),
  });
}
