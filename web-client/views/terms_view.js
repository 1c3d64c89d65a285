// Terms as DOM: a list of terms, and the before/after of what a proposal or
// an agreement version changes. Keys and values are set as text only.
import { h } from '../dom.js';
import { isTermsObject, termLabel, formatTermValue, proposalChanges } from '../terms.js';

function valueNode(key, value) {
  if (key === 'deliverables' && Array.isArray(value) && value.length && value.every((v) => typeof v === 'string')) {
    return h('ul', { class: 'deliverables' }, value.map((v) => h('li', null, v)));
  }
  return formatTermValue(key, value);
}

// The terms as a definition list, or null when there are none.
export function termsView(terms) {
  if (!isTermsObject(terms)) return null;
  const keys = Object.keys(terms);
  if (!keys.length) return null;
  return h('dl', { class: 'terms', testid: 'terms' },
    keys.map((k) => [h('dt', null, termLabel(k)), h('dd', null, valueNode(k, terms[k]))]));
}

const CHANGE_TEXT = { added: 'New', changed: 'Changed', removed: 'Removed', same: 'Unchanged' };

// Changes [{key, change, before, after}] (terms.js) as old → new rows.
export function changesView(changes, { testid = 'terms-changes' } = {}) {
  if (!changes.length) return null;
  return h('dl', { class: 'terms terms-changes', testid },
    changes.map((c) => [
      h('dt', { dataset: { key: c.key, change: c.change } },
        termLabel(c.key), ' ', h('span', { class: `change-tag change-${c.change}` }, CHANGE_TEXT[c.change])),
      h('dd', { testid: 'term-change', dataset: { key: c.key, change: c.change } },
        c.change === 'changed' ? [
          h('del', { testid: 'term-before' }, formatTermValue(c.key, c.before)),
          h('span', { class: 'change-arrow', 'aria-hidden': 'true' }, ' → '),
          h('span', { class: 'visually-hidden' }, ' becomes '),
          h('ins', { testid: 'term-after' }, formatTermValue(c.key, c.after))]
          : c.change === 'removed' ? h('del', { testid: 'term-before' }, formatTermValue(c.key, c.before))
            : h('span', { testid: 'term-after' }, valueNode(c.key, c.after))),
    ]));
}

// A proposal's terms against the current agreement: each of its keys, old → new.
// Shown as `terms` so that it takes the place of the plain list.
export function proposalChangesView(currentTerms, proposedTerms) {
  return changesView(proposalChanges(currentTerms, proposedTerms), { testid: 'terms' });
}
