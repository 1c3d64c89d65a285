// A delivery's decision-log record (protocol §9.6, topic `delivery`): which
// deliverable and version was accepted, by whom or automatically, and the
// files approved, each by name, size and SHA-256 (abbreviated, the full hash
// in its tooltip and copied by its button).
import { h } from '../dom.js';
import { formatSize, shortHash } from '../deliverables_text.js';

// accepted_by is ["system"] when the review window lapsed.
export function acceptedAutomatically(r) {
  return Array.isArray(r.accepted_by) && r.accepted_by.length === 1 && r.accepted_by[0] === 'system';
}

// Copies the full hash; where the clipboard is refused, selects it instead.
async function copyHash(button, hash, code) {
  try {
    await navigator.clipboard.writeText(hash);
    button.textContent = 'Copied';
  } catch {
    code.textContent = hash;
    getSelection().selectAllChildren(code);
    button.textContent = 'Selected';
  }
  setTimeout(() => { button.textContent = 'Copy'; }, 1500);
}

function fileRow(f) {
  const name = String(f.name ?? '');
  const hash = typeof f.sha256 === 'string' ? f.sha256 : '';
  const code = h('code', { class: 'file-hash', testid: 'approved-file-hash', title: `SHA-256 ${hash}`, dataset: { sha256: hash } },
    shortHash(hash));
  const copy = h('button', {
    type: 'button', class: 'link-btn copy-hash', testid: 'approved-file-copy', 'aria-label': `Copy the SHA-256 of ${name}`,
    onclick: (e) => copyHash(e.currentTarget, hash, code),
  }, 'Copy');
  return h('li', { class: 'approved-file', testid: 'approved-file', dataset: { name } },
    h('span', { class: 'file-name' }, name),
    h('span', { class: 'file-size' }, formatSize(f.size)),
    h('span', { class: 'file-hash-row' }, code, copy));
}

// The record as a sentence and its files (who accepted it is the log's meta line).
export function deliveryRecordView(r) {
  const t = r.terms && typeof r.terms === 'object' ? r.terms : {};
  const files = Array.isArray(t.files) ? t.files.slice(0, 20).filter((f) => f && typeof f === 'object') : [];
  const auto = acceptedAutomatically(r);
  return [
    h('p', { class: 'log-text', testid: 'log-sentence' },
      'Accepted ', h('strong', null, String(t.deliverable ?? 'a deliverable')), ` v${t.version ?? '?'}`, t.final ? ' (final)' : '',
      auto ? h('span', { class: 'log-auto', testid: 'log-accepted-automatically' }, ' · accepted automatically') : ''),
    files.length ? h('ul', { class: 'approved-files', testid: 'approved-files', 'aria-label': 'Approved files' }, files.map(fileRow)) : null,
  ];
}
