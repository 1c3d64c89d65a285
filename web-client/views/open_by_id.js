// A small form that opens any engagement by its id (for readers whose token
// lists every engagement): on the home view and in the sidebar.
import { h } from '../dom.js';
import { ENG_ID } from '../model.js';

export function openByIdForm(s) {
  const input = h('input', { id: 'open-eng-id', type: 'text', required: true, pattern: '[A-Za-z0-9_\\-]{1,64}', testid: 'open-engagement-id', autocomplete: 'off' });
  return h('form', {
    class: 'open-by-id', 'aria-label': 'Open an engagement',
    onsubmit: (e) => { e.preventDefault(); const id = input.value.trim(); if (ENG_ID.test(id)) s.navigate(`#/eng/${encodeURIComponent(id)}`); },
  }, h('label', { for: 'open-eng-id' }, 'Open engagement by id'), h('div', { class: 'row' }, input, h('button', { type: 'submit', class: 'btn small' }, 'Open')));
}
