// The requirements an engagement asks for before work starts (protocol
// §9.2): the checklist of the details panel, the callout above the timeline
// while the reader's side has one open, and the Acknowledge dialog. The
// Acknowledge button is offered exactly when `can` lists `acknowledge:<key>`.
import { h } from '../dom.js';
import { dialog, FieldError } from './dialogs.js';
import { toast } from './shell.js';
import { requirementsOf, openForReader, nameWithSide } from '../obligations.js';
import { namesSeen } from './invitation.js';

const MAX_TEXT = 16384;

function ackButton(s, engId, r, { small = true } = {}) {
  if (!s.actions(engId).has(`acknowledge:${r.key}`)) return null;
  return h('button', {
    type: 'button', class: `btn primary${small ? ' small' : ''}`, testid: 'requirement-acknowledge',
    dataset: { key: r.key }, 'aria-label': `Acknowledge ${r.title}`,
    onclick: (e) => openAcknowledgeDialog(s, engId, r, e.currentTarget),
  }, 'Acknowledge…');
}

// The checklist in the details panel, or null when the engagement asks for nothing.
export function requirementsPanel(s, eng) {
  const state = eng.state;
  // A declined invitation asks for nothing any more.
  const reqs = state && state.phase !== 'declined' ? requirementsOf(state, namesSeen(s, eng.id)) : [];
  if (!reqs.length) return null;
  const open = reqs.filter((r) => !r.done).length;
  return h('section', { class: 'panel', 'aria-labelledby': 'd-requirements', testid: 'requirements' },
    h('h2', { id: 'd-requirements' }, 'Requirements', open ? h('span', { class: 'count warn' }, String(open)) : null),
    h('ul', { class: 'req-list' }, reqs.map((r) => h('li', { class: `req-item${r.done ? ' done' : ''}`, testid: 'requirement', dataset: { key: r.key, done: r.done ? 'true' : 'false' } },
      h('div', { class: 'req-head' },
        h('span', { class: 'req-mark', 'aria-hidden': 'true' }, r.done ? '✓' : '○'),
        h('span', { class: 'req-title' }, r.title),
        h('span', { class: 'visually-hidden' }, r.done ? ', acknowledged by everyone' : ', open')),
      h('ul', { class: 'req-sides' }, r.sides.map((x) => h('li', { class: x.done ? 'done' : 'open', testid: 'requirement-side', dataset: { side: x.side, done: x.done ? 'true' : 'false' } },
        `${nameWithSide(x.name, x.side)}: `, h('span', { class: 'req-state' }, x.done ? 'acknowledged' : 'not yet')))),
      ackButton(s, eng.id, r)))));
}

// Above the timeline while the reader's side has a requirement to acknowledge
// (not while the invitation is unanswered, nor once the engagement is over).
export function requirementsCallout(s, engId) {
  const eng = s.engagements.get(engId);
  const state = eng ? eng.state : null;
  if (!state || ['invited', 'declined', 'closed'].includes(state.phase)) return null;
  const open = openForReader(state, s.me);
  if (!open.length) return null;
  return h('div', { class: 'eng-banner requirements-callout', testid: 'requirements-callout', role: 'region', 'aria-label': 'Requirements to acknowledge' },
    h('strong', null, open.length === 1 ? 'Before work starts, acknowledge this requirement:' : 'Before work starts, acknowledge these requirements:'),
    h('ul', { class: 'callout-reqs' }, open.map((r) => h('li', { dataset: { key: r.key } },
      h('span', { class: 'req-title' }, r.title), ackButton(s, engId, r)))));
}

// Confirms an acknowledgement, with an optional note, and posts it.
export function openAcknowledgeDialog(s, engId, r, opener) {
  const note = h('textarea', { id: 'dlg-ack-note', rows: '3', testid: 'acknowledge-note-input', 'aria-describedby': 'dlg-ack-hint' });
  dialog(s, {
    title: `Acknowledge ${r.title}`,
    submit: 'Acknowledge',
    testid: 'acknowledge-dialog',
    opener,
    fields: [
      h('p', null, `You confirm that you accept “${r.title}” for this engagement. The acknowledgement is recorded in the decision log and cannot be withdrawn.`),
      h('label', { for: 'dlg-ack-note' }, 'Note (optional)'), note,
      h('p', { class: 'hint', id: 'dlg-ack-hint' }, 'Everyone in the engagement sees the note.')],
    post: () => {
      if (note.value.trim().length > MAX_TEXT) throw new FieldError(note, `The note is too long: at most ${MAX_TEXT.toLocaleString('en-GB')} characters.`);
      const body = { key: r.key };
      if (note.value.trim()) body.text = note.value.trim();
      return { ch: `eng:${engId}`, kind: 'acknowledgement', body };
    },
    done: () => toast(s, `You acknowledged ${r.title}.`),
  });
}
