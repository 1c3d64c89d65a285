// The structured terms of an agreement-type proposal (scope, deliverables,
// timeline, compensation) and the free key/value editor for any other term.
// The key names it writes are documented in web-client/README.md.
import { h } from '../dom.js';
import { CURRENCIES, isTermsObject, endOfDay } from '../terms.js';

// Which structured fields each agreement-type topic offers.
const SECTIONS = {
  agreement: ['scope', 'deliverables', 'timeline', 'compensation'],
  scope_change: ['scope', 'deliverables'],
  timeline: ['timeline'],
  compensation: ['compensation'],
};

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const MAX_AMOUNT = 1e12;

let formCount = 0;

// A text value as the editor shows it, and back: numbers, booleans and JSON
// objects or arrays typed in are sent as such, anything else as a string.
function valueText(v) {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export function parseValue(v) {
  if (/^-?\d+(\.\d+)?$/.test(v) && v.length < 16) return Number(v);
  if (v === 'true') return true;
  if (v === 'false') return false;
  if (/^[[{]/.test(v)) {
    try { return JSON.parse(v); } catch { /* a string after all */ }
  }
  return v;
}

// Free terms as name/value rows. `initial` is a list of [name, value].
export function termsEditor(initial, { addLabel = '+ Add term' } = {}) {
  const rows = h('div', { class: 'terms-rows', testid: 'terms-rows' });
  let n = 0;
  const addRow = (k = '', v = '') => {
    n += 1;
    const key = h('input', { type: 'text', value: k, 'aria-label': `Term ${n} name`, class: 'term-key', testid: 'term-key', placeholder: 'e.g. fee', maxlength: '200' });
    const val = h('input', { type: 'text', value: valueText(v), 'aria-label': `Term ${n} value`, class: 'term-value', testid: 'term-value', placeholder: 'e.g. 4800' });
    const row = h('div', { class: 'term-row' }, key, val,
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': `Remove term ${n}`, onclick: () => { focusAfterRemoval(row, add); row.remove(); } }, '×'));
    rows.appendChild(row);
    return key;
  };
  for (const [k, v] of initial) addRow(k, v);
  const add = h('button', { type: 'button', class: 'btn ghost small', testid: 'add-term', onclick: () => addRow().focus() }, addLabel);
  const entries = () => [...rows.querySelectorAll('.term-row')].map((row) => ({
    keyEl: row.querySelector('.term-key'), key: row.querySelector('.term-key').value.trim(), value: row.querySelector('.term-value').value.trim(),
  }));
  const read = () => {
    const terms = {};
    for (const { key, value } of entries()) if (key) terms[key] = parseValue(value);
    return terms;
  };
  // A value without a name, or a name twice (or taken by a field above), is
  // refused before anything is sent.
  const check = (taken = []) => {
    const seen = new Set(taken);
    for (const { keyEl, key, value } of entries()) {
      if (!key && value) return { field: keyEl, message: 'Give this term a name.' };
      if (key && seen.has(key)) return { field: keyEl, message: `The term “${key}” is given twice.` };
      if (key) seen.add(key);
    }
    return null;
  };
  return { el: h('div', { class: 'terms-editor' }, rows, add), read, check };
}

// When a row is removed, the focus goes to the next row's first field, else
// to the add button, so that the keyboard does not lose its place.
function focusAfterRemoval(row, fallback) {
  const next = row.nextElementSibling || row.previousElementSibling;
  const target = next ? next.querySelector('input') : fallback;
  if (target) target.focus();
}

// The structured form for `topic`, filled from `initial` terms. What the form
// has no field for stays editable under "Other terms".
export function agreementForm(topic, initial) {
  formCount += 1;
  const id = (name) => `agr${formCount}-${name}`;
  const sections = SECTIONS[topic] || [];
  const rest = { ...(isTermsObject(initial) ? initial : {}) };
  const take = (key, ok) => {
    if (!sections.includes(key) || !Object.hasOwn(rest, key) || !ok(rest[key])) return undefined;
    const v = rest[key];
    delete rest[key];
    return v;
  };
  const parts = [];
  const fields = {};

  const scope = take('scope', (v) => typeof v === 'string');
  if (sections.includes('scope')) {
    fields.scope = h('textarea', { id: id('scope'), rows: '3', testid: 'terms-scope', placeholder: 'What the work covers' });
    fields.scope.value = scope ?? '';
    parts.push(h('label', { for: id('scope') }, topic === 'scope_change' ? 'New scope' : 'Scope'), fields.scope);
  }

  const deliverables = take('deliverables', (v) => Array.isArray(v) && v.every((x) => typeof x === 'string'));
  if (sections.includes('deliverables')) {
    const list = h('ol', { class: 'deliverable-rows', testid: 'deliverable-rows' });
    let n = 0;
    const addRow = (text = '') => {
      n += 1;
      const input = h('input', { type: 'text', id: id(`deliverable-${n}`), value: text, class: 'deliverable-input', testid: 'deliverable-input', placeholder: 'e.g. Final report (PDF)' });
      const row = h('li', { class: 'deliverable-row' },
        h('label', { for: id(`deliverable-${n}`), class: 'visually-hidden' }, `Deliverable ${n}`), input,
        h('button', { type: 'button', class: 'icon-btn', testid: 'remove-deliverable', 'aria-label': `Remove deliverable ${n}`, onclick: () => { focusAfterRemoval(row, add); row.remove(); } }, '×'));
      list.appendChild(row);
      return input;
    };
    const add = h('button', { type: 'button', class: 'btn ghost small', testid: 'add-deliverable', onclick: () => addRow().focus() }, '+ Add deliverable');
    for (const d of deliverables && deliverables.length ? deliverables : ['']) addRow(d);
    fields.deliverables = list;
    parts.push(h('fieldset', { class: 'field-set' }, h('legend', null, 'Deliverables'), list, add));
  }

  const timeline = take('timeline', (v) => isTermsObject(v) && Object.keys(v).every((k) => (k === 'start' || k === 'end') && DATE.test(v[k])));
  if (sections.includes('timeline')) {
    fields.start = h('input', { type: 'date', id: id('start'), testid: 'terms-start', value: (timeline && timeline.start) || '' });
    fields.end = h('input', { type: 'date', id: id('end'), testid: 'terms-end', value: (timeline && timeline.end) || '' });
    // `due` is derived from the end date: it is not an extra term to edit.
    if (Object.hasOwn(rest, 'due') && timeline && timeline.end && rest.due === endOfDay(timeline.end)) delete rest.due;
    parts.push(h('fieldset', { class: 'field-set' }, h('legend', null, 'Timeline'),
      h('div', { class: 'field-row' },
        h('div', { class: 'field-group' }, h('label', { for: id('start') }, 'Start'), fields.start),
        h('div', { class: 'field-group' }, h('label', { for: id('end') }, 'End (due date)'), fields.end))));
  }

  const compensation = take('compensation', (v) => isTermsObject(v) && typeof v.amount === 'number' && typeof v.currency === 'string'
    && Object.keys(v).length === 2);
  if (sections.includes('compensation')) {
    fields.amount = h('input', { type: 'number', id: id('amount'), testid: 'terms-amount', min: '0', step: '0.01', inputmode: 'decimal', value: compensation ? String(compensation.amount) : '' });
    const currencies = compensation && !CURRENCIES.includes(compensation.currency) ? [...CURRENCIES, compensation.currency] : CURRENCIES;
    fields.currency = h('select', { id: id('currency'), testid: 'terms-currency' },
      currencies.map((c) => h('option', { value: c, selected: compensation ? c === compensation.currency : c === CURRENCIES[0] }, c)));
    parts.push(h('fieldset', { class: 'field-set' }, h('legend', null, 'Compensation'),
      h('div', { class: 'field-row' },
        h('div', { class: 'field-group grow' }, h('label', { for: id('amount') }, 'Amount'), fields.amount),
        h('div', { class: 'field-group' }, h('label', { for: id('currency') }, 'Currency'), fields.currency))));
  }

  const other = termsEditor(Object.entries(rest), { addLabel: '+ Add other term' });
  parts.push(h('fieldset', { class: 'field-set' }, h('legend', null, 'Other terms'), other.el));

  const deliverableInputs = () => (fields.deliverables ? [...fields.deliverables.querySelectorAll('input')] : []);

  const readStructured = () => {
    const terms = {};
    if (fields.scope && fields.scope.value.trim()) terms.scope = fields.scope.value.trim();
    const items = deliverableInputs().map((i) => i.value.trim()).filter(Boolean);
    if (items.length) terms.deliverables = items;
    if (fields.start && (fields.start.value || fields.end.value)) {
      terms.timeline = {};
      if (fields.start.value) terms.timeline.start = fields.start.value;
      if (fields.end.value) {
        terms.timeline.end = fields.end.value;
        terms.due = endOfDay(fields.end.value);
      }
    }
    if (fields.amount && fields.amount.value !== '') terms.compensation = { amount: Number(fields.amount.value), currency: fields.currency.value };
    return terms;
  };
  const read = () => ({ ...other.read(), ...readStructured() });

  // The first field that keeps the form from being sent: {field, message}.
  const check = () => {
    const t = read();
    if (topic === 'agreement' && !t.scope) return { field: fields.scope, message: 'Describe the scope of the work.' };
    if (topic === 'scope_change' && !t.scope && !t.deliverables) return { field: fields.scope, message: 'Describe the new scope or list a deliverable.' };
    if (fields.start) {
      for (const f of [fields.start, fields.end]) if (f.validity.badInput) return { field: f, message: 'Enter a complete date.' };
      if (topic === 'timeline' && !t.timeline) return { field: fields.start, message: 'Give a start or an end date.' };
      if (t.timeline && t.timeline.start && t.timeline.end && t.timeline.end < t.timeline.start) return { field: fields.end, message: 'The end date is before the start date.' };
    }
    if (fields.amount) {
      if (fields.amount.validity.badInput) return { field: fields.amount, message: 'Enter the amount as a number.' };
      if (topic === 'compensation' && !t.compensation) return { field: fields.amount, message: 'Enter the amount.' };
      if (t.compensation && !(Number.isFinite(t.compensation.amount) && t.compensation.amount >= 0 && t.compensation.amount < MAX_AMOUNT)) {
        return { field: fields.amount, message: 'Enter an amount of 0 or more.' };
      }
    }
    return other.check(Object.keys(readStructured()));
  };

  const el = h('div', { class: 'agreement-form', testid: `agreement-form-${topic}` }, parts);
  return { el, read, check, first: () => el.querySelector('input, textarea, select') };
}
