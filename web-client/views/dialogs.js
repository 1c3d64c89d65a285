// Modal dialogs: the builder, and the flag, flag update, status, proposal,
// counter-proposal, rejection and resolution forms. A dialog stays open until
// the server has stored what it sends: a refusal is shown inside it, with
// everything typed kept.
import { h, replaceChildren, setText, humanize, excerpt, explain } from '../dom.js';
import { PHASES, FLAG_TYPES, engagementOf } from '../model.js';
import { flagLabel, topicLabel } from './entries.js';
import { toast } from './shell.js';
import { AGREEMENT_TOPICS, isAgreementTopic, isTermsObject } from '../terms.js';
import { agreementForm, termsEditor } from './agreement_form.js';
import { termsView, proposalChangesView } from './terms_view.js';

// The server's bound on a text (protocol §3), checked before sending.
const MAX_TEXT = 16384;

// A field that keeps the dialog from being sent, and why.
export class FieldError extends Error {
  constructor(field, message) {
    super(message);
    this.field = field;
  }
}

let dialogCount = 0;

// `post()` returns the event to send, {ch, kind, body}, or throws a
// FieldError; `done(reply)` runs once the server has stored it. The focus
// returns to `opener` (else the element focused when it opened). `send(req)`,
// when given, sends what `post()` returned instead (a request other than a post).
export function dialog(s, { title, fields, submit, post, send, done, testid, opener, danger = false }) {
  dialogCount += 1;
  const titleId = `dlg-title-${dialogCount}`;
  const errId = `dlg-error-${dialogCount}`;
  const err = h('p', { id: errId, class: 'form-error', role: 'alert', testid: 'dialog-error', hidden: true });
  const submitBtn = h('button', { type: 'submit', class: `btn ${danger ? 'danger' : 'primary'}`, testid: 'dialog-submit' }, submit);
  const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': titleId, testid: testid || 'dialog' });
  const back = returnPoint(opener || document.activeElement);
  let sending = null; // the event on its way, until the server answers

  const invalid = () => [...form.querySelectorAll('[aria-invalid="true"]')];
  const clearError = () => {
    err.hidden = true;
    setText(err, '');
    for (const f of invalid()) { f.removeAttribute('aria-invalid'); describe(f, errId, false); }
  };
  const showError = (message, field) => {
    setText(err, message);
    err.hidden = false;
    if (field) { field.setAttribute('aria-invalid', 'true'); describe(field, errId, true); field.focus(); }
  };
  const setBusy = (busy) => {
    submitBtn.disabled = busy;
    form.setAttribute('aria-busy', busy ? 'true' : 'false');
    setText(submitBtn, busy ? 'Sending…' : submit);
  };

  const form = h('form', {
    novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      if (sending) return;
      clearError();
      let req;
      try {
        req = post();
      } catch (ex) {
        showError(ex.message, ex instanceof FieldError ? ex.field : null);
        return;
      }
      if (s.conn.connectionState !== 'online') {
        showError('Not connected to the server, so nothing was sent. What you typed stays here: send it again once the connection is back.');
        return;
      }
      sending = req;
      setBusy(true);
      try {
        const reply = await (send ? send(req) : s.send(req.ch, req.kind, req.body, { quiet: true }));
        if (!dlg.open) return;
        sending = null;
        dlg.close();
        if (done) done(reply);
      } catch (ex) {
        if (!dlg.open) return;
        sending = null;
        setBusy(false);
        showError(explain(ex));
        submitBtn.focus();
      }
    },
  },
  h('h2', { id: titleId }, title),
  h('div', { class: 'fields' }, fields),
  err,
  h('div', { class: 'dialog-actions' },
    h('button', { type: 'button', class: 'btn ghost', testid: 'dialog-cancel', onclick: () => dlg.close() }, 'Cancel'),
    submitBtn));
  form.setAttribute('aria-describedby', errId);

  // Enter in a one-line field moves on to the next field and never sends the
  // form; Ctrl+Enter (Cmd+Enter) sends it from anywhere.
  form.addEventListener('keydown', (e) => {
    if (e.key !== 'Enter' || e.isComposing) return;
    if (e.ctrlKey || e.metaKey) { e.preventDefault(); form.requestSubmit(submitBtn); return; }
    const t = e.target;
    if (t.tagName === 'INPUT' && !['button', 'submit', 'reset'].includes(t.type)) {
      e.preventDefault();
      focusNextField(form, t, submitBtn);
    }
  });

  // Tab and Shift+Tab go round inside the dialog.
  dlg.addEventListener('keydown', (e) => {
    if (e.key !== 'Tab') return;
    const all = [...dlg.querySelectorAll('button, input, select, textarea, a[href]')]
      .filter((el) => !el.disabled && el.getClientRects().length > 0);
    if (!all.length) return;
    const edge = e.shiftKey ? all[0] : all[all.length - 1];
    if (document.activeElement === edge) {
      e.preventDefault();
      (e.shiftKey ? all[all.length - 1] : all[0]).focus();
    }
  });

  dlg.appendChild(form);
  dlg.addEventListener('close', () => {
    // Closed while the server had not answered: the post is withdrawn.
    if (sending && !send) withdraw(s, sending);
    dlg.remove();
    const target = back();
    if (target) target.focus();
    else if (s.el && s.el.input) s.el.input.focus();
  });
  document.body.appendChild(dlg);
  dlg.showModal();
  const first = form.querySelector('.fields select, .fields textarea, .fields input');
  if (first) first.focus();
  return dlg;
}

// Adds or removes `id` in the element's aria-describedby.
function describe(el, id, on) {
  const ids = new Set((el.getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean));
  if (on) ids.add(id); else ids.delete(id);
  if (ids.size) el.setAttribute('aria-describedby', [...ids].join(' '));
  else el.removeAttribute('aria-describedby');
}

function focusNextField(form, from, fallback) {
  const fields = [...form.querySelectorAll('input, select, textarea')]
    .filter((el) => !el.disabled && el.getClientRects().length > 0);
  const next = fields[fields.indexOf(from) + 1] || fallback;
  next.focus();
}

// Where the focus goes when a dialog closes: its opener, or, when a redraw
// replaced the opener meanwhile, the button with the same test id in the same
// entry (or anywhere, for the action bar).
function returnPoint(opener) {
  if (!opener || opener === document.body || !opener.focus) return () => null;
  const testid = opener.dataset ? opener.dataset.testid : null;
  const scope = opener.closest ? opener.closest('[id]') : null;
  const scopeId = scope ? scope.id : null;
  return () => {
    if (opener.isConnected) return opener;
    if (!testid) return null;
    const root = scopeId ? document.getElementById(scopeId) : document;
    return root ? root.querySelector(`[data-testid="${CSS.escape(testid)}"]`) : null;
  };
}

// Takes back a post still waiting in the outbox (the dialog was closed).
function withdraw(s, req) {
  for (const p of s.conn.pendingPosts(req.ch)) if (p.body === req.body) s.conn.discard(p.cid);
}

function textTooLong(field) {
  if (field.value.trim().length > MAX_TEXT) throw new FieldError(field, `The text is too long: at most ${MAX_TEXT.toLocaleString('en-GB')} characters.`);
}

function required(field, message) {
  textTooLong(field);
  if (!field.value.trim()) throw new FieldError(field, message);
}

export function updateFlag(s, ev, state, opener) {
  const input = h('textarea', { id: 'dlg-flag-note', rows: '3', testid: 'flag-update-text', required: true });
  input.value = state === 'acknowledged' ? 'Acknowledged, looking into it.' : 'Resolved.';
  dialog(s, {
    title: `${state === 'acknowledged' ? 'Acknowledge' : 'Resolve'} ${flagLabel(ev.body.type)} flag #${ev.seq}`,
    submit: state === 'acknowledged' ? 'Acknowledge' : 'Resolve',
    opener,
    fields: [h('label', { for: 'dlg-flag-note' }, 'Note'), input],
    post: () => {
      textTooLong(input);
      return { ch: ev.ch, kind: 'flag_update', body: { flag: ev.seq, state, text: input.value.trim() || humanize(state) } };
    },
  });
}

export function openFlagDialog(s) {
  // `can` lists `flag` without its types: a bot may raise only these three.
  const types = s.role === 'bot' ? ['delay', 'risk', 'blocker'] : FLAG_TYPES;
  const type = h('select', { id: 'dlg-flag-type', testid: 'flag-type-select' }, types.map((t) => h('option', { value: t }, flagLabel(t))));
  const text = h('textarea', { id: 'dlg-flag-text', rows: '4', required: true, testid: 'flag-text-input', placeholder: 'What is the problem?' });
  const hint = h('p', { class: 'hint', id: 'dlg-flag-hint' }, '');
  const updateHint = () => setText(hint, type.value === 'dispute'
    ? 'A dispute opens a mediation room with support staff. It is resolved only by a resolution both parties accept.'
    : type.value === 'scope_change' ? 'Support staff are notified of scope changes.' : '');
  type.addEventListener('change', updateHint);
  type.setAttribute('aria-describedby', 'dlg-flag-hint');
  updateHint();
  const ch = `eng:${s.current.eng}`;
  dialog(s, {
    title: 'Raise a flag', submit: 'Raise flag', testid: 'flag-dialog',
    fields: [h('label', { for: 'dlg-flag-type' }, 'Type'), type, hint, h('label', { for: 'dlg-flag-text' }, 'Description'), text],
    post: () => {
      required(text, 'Describe the problem.');
      return { ch, kind: 'flag', body: { type: type.value, text: text.value.trim() } };
    },
  });
}

export function openStatusDialog(s) {
  const text = h('textarea', { id: 'dlg-status-text', rows: '3', required: true, testid: 'status-text-input', placeholder: 'What has been done, what is next?' });
  const progress = h('input', { id: 'dlg-status-progress', type: 'range', min: '0', max: '100', step: '5', value: '50', testid: 'status-progress-input' });
  const out = h('output', { for: 'dlg-status-progress', class: 'range-out' }, '50%');
  const include = h('input', { id: 'dlg-status-include', type: 'checkbox', checked: true });
  progress.addEventListener('input', () => setText(out, `${progress.value}%`));
  const ch = `eng:${s.current.eng}`;
  dialog(s, {
    title: 'Post a status update', submit: 'Post update', testid: 'status-dialog',
    fields: [h('label', { for: 'dlg-status-text' }, 'Update'), text,
      h('div', { class: 'check-row' }, include, h('label', { for: 'dlg-status-include' }, 'Include progress')),
      h('label', { for: 'dlg-status-progress' }, 'Progress'), h('div', { class: 'row' }, progress, out)],
    post: () => {
      required(text, 'Write what has been done.');
      const body = { text: text.value.trim() };
      if (include.checked) body.progress = Number(progress.value);
      return { ch, kind: 'status', body };
    },
  });
}

// The phase change first: it is the proposal every engagement makes most.
const TOPIC_ORDER = ['phase', ...AGREEMENT_TOPICS];

// The proposal form. `prefill` ({topic, text, terms, counterTo}) fills it
// from an earlier proposal for a counter-proposal.
export function openProposalDialog(s, prefill = {}, opener = null) {
  const engId = prefill.eng || s.current.eng;
  const eng = s.engagements.get(engId);
  const phase = eng ? eng.phaseInfo().phase : null;
  // `propose:phase` means a move to the next phase after the server's: the only one offered.
  const next = phase ? PHASES[PHASES.indexOf(phase) + 1] : undefined;
  const allowed = s.proposableTopics(engId);
  const topics = TOPIC_ORDER.filter((t) => allowed.includes(t));
  const start = topics.includes(prefill.topic) ? prefill.topic : topics[0];
  const topic = h('select', { id: 'dlg-prop-topic', testid: 'proposal-topic-select' },
    topics.map((t) => h('option', { value: t, selected: t === start }, topicLabel(t))));
  const to = h('select', { id: 'dlg-prop-to', testid: 'proposal-phase-select', disabled: true }, next ? [h('option', { value: next, selected: true }, humanize(next))] : []);
  const text = h('textarea', { id: 'dlg-prop-text', rows: '3', testid: 'proposal-text-input', placeholder: 'Describe what you propose' });
  text.value = typeof prefill.text === 'string' ? prefill.text : '';
  const phaseRow = h('div', { class: 'field-group' }, h('label', { for: 'dlg-prop-to' }, 'Move to phase'), to);
  const formWrap = h('div', { class: 'field-group' });
  const preview = h('section', { class: 'changes-preview', testid: 'dialog-changes', 'aria-live': 'polite' });

  // One form per topic, kept while the dialog is open, so that switching the
  // topic back and forth loses nothing typed.
  const forms = new Map();
  const formFor = (t) => {
    if (!forms.has(t)) forms.set(t, agreementForm(t, t === prefill.topic && isTermsObject(prefill.terms) ? prefill.terms : {}));
    return forms.get(t);
  };
  let autoText = '';
  const refreshPreview = () => {
    const t = topic.value;
    preview.hidden = !isAgreementTopic(t);
    if (preview.hidden) return;
    const agreement = eng && eng.state && eng.state.agreement;
    const view = proposalChangesView(agreement && agreement.terms, formFor(t).read());
    replaceChildren(preview,
      h('h3', null, agreement ? `Changes to the agreement (version ${agreement.version})` : 'No agreement yet: every term is new'),
      view || h('p', { class: 'muted' }, 'No terms filled in yet.'));
  };
  let queued = false;
  const queuePreview = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; refreshPreview(); });
  };
  for (const type of ['input', 'change', 'click']) formWrap.addEventListener(type, queuePreview);

  const update = () => {
    const t = topic.value;
    phaseRow.hidden = t !== 'phase';
    formWrap.hidden = !isAgreementTopic(t);
    replaceChildren(formWrap, isAgreementTopic(t) ? [h('span', { class: 'label' }, 'Terms'), formFor(t).el] : null);
    if (text.value === autoText) text.value = '';
    autoText = t === 'phase' && !text.value && next ? `Move the engagement to ${next}.` : '';
    if (autoText) text.value = autoText;
    refreshPreview();
  };
  topic.addEventListener('change', update);
  update();
  const counter = Number.isInteger(prefill.counterTo) ? prefill.counterTo : null;
  dialog(s, {
    title: counter ? `Counter-propose to #${counter}` : 'Make a proposal',
    submit: counter ? 'Send counter-proposal' : 'Send proposal',
    testid: 'proposal-dialog',
    opener,
    fields: [h('label', { for: 'dlg-prop-topic' }, 'Topic'), topic, phaseRow, h('label', { for: 'dlg-prop-text' }, 'Text'), text, formWrap, preview],
    post: () => {
      const t = topic.value;
      if (!t) throw new FieldError(topic, 'There is nothing you may propose now.');
      textTooLong(text);
      let terms;
      if (t === 'phase') {
        if (!to.value) throw new FieldError(topic, 'There is no next phase to propose.');
        terms = { to: to.value };
      } else {
        const form = formFor(t);
        const problem = form.check();
        if (problem) throw new FieldError(problem.field, problem.message);
        terms = form.read();
      }
      return { ch: `eng:${engId}`, kind: 'proposal', body: { topic: t, text: text.value.trim() || topicLabel(t), terms } };
    },
  });
}

// Rejecting a proposal, with an optional reason (the decision's `text`).
export function openRejectDialog(s, p, opener) {
  const b = p.ev.body || {};
  const reason = h('textarea', { id: 'dlg-reject-reason', rows: '3', testid: 'reject-reason-input', placeholder: 'What would you accept instead?', 'aria-describedby': 'dlg-reject-hint' });
  dialog(s, {
    title: `Reject ${topicLabel(b.topic).toLowerCase()} proposal #${p.ev.seq}`,
    submit: 'Reject proposal',
    danger: true,
    testid: 'reject-dialog',
    opener,
    fields: [
      b.text ? h('p', { class: 'quoted-proposal' }, excerpt(b.text, 200)) : null,
      h('label', { for: 'dlg-reject-reason' }, 'Reason (optional)'), reason,
      h('p', { class: 'hint', id: 'dlg-reject-hint' }, 'Everyone in the engagement sees the reason with your decision.')],
    post: () => {
      textTooLong(reason);
      const body = { proposal: p.ev.seq, verdict: 'rejected' };
      if (reason.value.trim()) body.text = reason.value.trim();
      return { ch: p.ch, kind: 'decision', body };
    },
    done: () => toast(s, `You rejected proposal #${p.ev.seq}.`),
  });
}

export function openResolutionDialog(s) {
  const eng = s.engagements.get(s.current.eng);
  // The disputes the server's state lists as open; a seq typed in by hand otherwise.
  const choices = eng ? eng.openFlags().filter((f) => f.ev.body.type === 'dispute') : [];
  const flag = h('select', { id: 'dlg-res-flag', testid: 'resolution-flag-select', required: true },
    choices.map((f) => h('option', { value: String(f.ev.seq) }, `#${f.ev.seq} — ${excerpt(f.ev.body.text, 60)}`)));
  const manual = h('input', { id: 'dlg-res-flag-manual', type: 'number', min: '1', testid: 'resolution-flag-seq', hidden: choices.length > 0 });
  const text = h('textarea', { id: 'dlg-res-text', rows: '3', required: true, testid: 'resolution-text-input', placeholder: 'The resolution both parties are asked to accept' });
  const editor = termsEditor([['refund', '']]);
  const ch = `eng:${s.current.eng}:mediation`;
  dialog(s, {
    title: 'Propose a resolution', submit: 'Propose resolution', testid: 'resolution-dialog',
    fields: [
      h('label', { for: choices.length ? 'dlg-res-flag' : 'dlg-res-flag-manual' }, 'Dispute flag'),
      choices.length ? flag : manual,
      h('label', { for: 'dlg-res-text' }, 'Resolution'), text,
      h('span', { class: 'label' }, 'Terms'), editor.el],
    post: () => {
      const seq = Number(choices.length ? flag.value : manual.value);
      if (!Number.isInteger(seq) || seq < 1) throw new FieldError(choices.length ? flag : manual, 'Choose the dispute flag this resolves.');
      required(text, 'Describe the resolution.');
      const problem = editor.check(['flag']);
      if (problem) throw new FieldError(problem.field, problem.message);
      return { ch, kind: 'proposal', body: { topic: 'resolution', text: text.value.trim(), terms: { ...editor.read(), flag: seq } } };
    },
  });
}

// A counter-proposal is offered on an agreement-type proposal that was
// rejected, or that is open and comes from the other side, when the reader
// may propose that topic now.
export function canCounterPropose(s, p) {
  const b = p.ev.body || {};
  const info = engagementOf(p.ch);
  if (!info || info.room !== 'main' || !isAgreementTopic(b.topic)) return false;
  if (!s.proposableTopics(info.id).includes(b.topic)) return false;
  const eng = s.engagements.get(info.id);
  const status = eng ? eng.proposalStatus(p).status : 'open';
  const from = p.ev.from || {};
  if (status === 'rejected') return true;
  return status === 'open' && from.id !== s.me.id && from.role !== s.role;
}

export function openCounterProposal(s, p, opener) {
  const b = p.ev.body || {};
  const info = engagementOf(p.ch);
  openProposalDialog(s, { eng: info.id, topic: b.topic, text: typeof b.text === 'string' ? b.text : '', terms: b.terms, counterTo: p.ev.seq }, opener);
}

// Below a proposal's text: its terms; an open agreement-type proposal shows
// them against the current agreement. (A rejection's reason is in the card's outcome.)
export function proposalDetails(s, p, st) {
  const b = p.ev.body || {};
  const out = [];
  if (b.topic === 'phase') return out;
  const info = engagementOf(p.ch);
  const eng = info ? s.engagements.get(info.id) : null;
  const agreement = eng && eng.state && eng.state.agreement;
  if (st && st.status === 'open' && isAgreementTopic(b.topic) && isTermsObject(b.terms)) {
    out.push(h('p', { class: 'changes-caption muted' }, agreement ? `Against the agreement, version ${agreement.version}:` : 'No agreement yet: every term is new.'),
      proposalChangesView(agreement && agreement.terms, b.terms));
  } else {
    out.push(termsView(b.terms));
  }
  return out;
}

// What the timeline's proposal cards call (through the timeline context).
export function dialogHooks(s) {
  return {
    reject: (p, btn) => openRejectDialog(s, p, btn),
    canCounterPropose: (p) => canCounterPropose(s, p),
    counterPropose: (p, btn) => openCounterProposal(s, p, btn),
    proposalDetails: (p, st) => proposalDetails(s, p, st),
  };
}
