// Modal dialogs: the generic builder, and the flag, flag update, status,
// proposal and resolution forms with their terms editor.
import { h, replaceChildren, setText, humanize, excerpt } from './dom.js';
import { PHASES, FLAG_TYPES, PROPOSAL_TOPICS } from './model.js';
import { flagLabel, topicLabel } from './views/entries.js';

export function dialog(s, { title, fields, submit, onSubmit, testid }) {
  const err = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const titleId = `dlg-title-${Math.random().toString(36).slice(2)}`;
  const submitBtn = h('button', { type: 'submit', class: 'btn primary', testid: 'dialog-submit' }, submit);
  const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': titleId, testid: testid || 'dialog' });
  const form = h('form', {
    onsubmit: async (e) => {
      e.preventDefault();
      submitBtn.disabled = true;
      err.hidden = true;
      try {
        const p = onSubmit();
        dlg.close();
        await p;
      } catch (ex) {
        if (dlg.open) { err.hidden = false; err.textContent = ex.message; }
      } finally {
        submitBtn.disabled = false;
      }
    },
  },
  h('h2', { id: titleId }, title),
  h('div', { class: 'fields' }, fields),
  err,
  h('div', { class: 'dialog-actions' },
    h('button', { type: 'button', class: 'btn ghost', testid: 'dialog-cancel', onclick: () => dlg.close() }, 'Cancel'),
    submitBtn));
  dlg.appendChild(form);
  dlg.addEventListener('close', () => { dlg.remove(); if (s.el.input) s.el.input.focus(); });
  document.body.appendChild(dlg);
  dlg.showModal();
  const first = form.querySelector('select, textarea, input');
  if (first) first.focus();
}

export function updateFlag(s, ev, state) {
  const input = h('textarea', { id: 'dlg-flag-note', rows: '3', testid: 'flag-update-text', required: true });
  input.value = state === 'acknowledged' ? 'Acknowledged, looking into it.' : 'Resolved.';
  dialog(s, {
    title: `${state === 'acknowledged' ? 'Acknowledge' : 'Resolve'} ${flagLabel(ev.body.type)} flag #${ev.seq}`,
    submit: state === 'acknowledged' ? 'Acknowledge' : 'Resolve',
    fields: [h('label', { for: 'dlg-flag-note' }, 'Note'), input],
    onSubmit: () => s.send(ev.ch, 'flag_update', { flag: ev.seq, state, text: input.value.trim() || humanize(state) }),
  });
}

export function openFlagDialog(s) {
  // `can` lists `flag` without its types: a bot may raise only these three.
  const types = s.role === 'bot' ? ['delay', 'risk', 'blocker'] : FLAG_TYPES;
  const type = h('select', { id: 'dlg-flag-type', testid: 'flag-type-select' }, types.map((t) => h('option', { value: t }, flagLabel(t))));
  const text = h('textarea', { id: 'dlg-flag-text', rows: '4', required: true, testid: 'flag-text-input', placeholder: 'What is the problem?' });
  const hint = h('p', { class: 'hint' }, '');
  const updateHint = () => setText(hint, type.value === 'dispute'
    ? 'A dispute opens a mediation room with support staff. It is resolved only by a resolution both parties accept.'
    : type.value === 'scope_change' ? 'Support staff are notified of scope changes.' : '');
  type.addEventListener('change', updateHint);
  updateHint();
  dialog(s, {
    title: 'Raise a flag', submit: 'Raise flag', testid: 'flag-dialog',
    fields: [h('label', { for: 'dlg-flag-type' }, 'Type'), type, hint, h('label', { for: 'dlg-flag-text' }, 'Description'), text],
    onSubmit: () => s.send(`eng:${s.current.eng}`, 'flag', { type: type.value, text: text.value.trim() }),
  });
}

export function openStatusDialog(s) {
  const text = h('textarea', { id: 'dlg-status-text', rows: '3', required: true, testid: 'status-text-input', placeholder: 'What has been done, what is next?' });
  const progress = h('input', { id: 'dlg-status-progress', type: 'range', min: '0', max: '100', step: '5', value: '50', testid: 'status-progress-input' });
  const out = h('output', { for: 'dlg-status-progress', class: 'range-out' }, '50%');
  const include = h('input', { id: 'dlg-status-include', type: 'checkbox', checked: true });
  progress.addEventListener('input', () => setText(out, `${progress.value}%`));
  dialog(s, {
    title: 'Post a status update', submit: 'Post update', testid: 'status-dialog',
    fields: [h('label', { for: 'dlg-status-text' }, 'Update'), text,
      h('div', { class: 'check-row' }, include, h('label', { for: 'dlg-status-include' }, 'Include progress')),
      h('label', { for: 'dlg-status-progress' }, 'Progress'), h('div', { class: 'row' }, progress, out)],
    onSubmit: () => {
      const body = { text: text.value.trim() };
      if (include.checked) body.progress = Number(progress.value);
      return s.send(`eng:${s.current.eng}`, 'status', body);
    },
  });
}

export function termsEditor(initial) {
  const rows = h('div', { class: 'terms-rows', testid: 'terms-rows' });
  let n = 0;
  const addRow = (k = '', v = '') => {
    n += 1;
    const key = h('input', { type: 'text', value: k, 'aria-label': `Term ${n} name`, class: 'term-key', testid: 'term-key', placeholder: 'e.g. fee' });
    const val = h('input', { type: 'text', value: v, 'aria-label': `Term ${n} value`, class: 'term-value', testid: 'term-value', placeholder: 'e.g. 4800' });
    const row = h('div', { class: 'term-row' }, key, val,
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': `Remove term ${n}`, onclick: () => row.remove() }, '×'));
    rows.appendChild(row);
    return key;
  };
  for (const [k, v] of initial) addRow(k, v);
  const add = h('button', { type: 'button', class: 'btn ghost small', testid: 'add-term', onclick: () => addRow().focus() }, '+ Add term');
  const read = () => {
    const terms = {};
    for (const row of rows.querySelectorAll('.term-row')) {
      const k = row.querySelector('.term-key').value.trim();
      const v = row.querySelector('.term-value').value.trim();
      if (k) terms[k] = parseValue(v);
    }
    return terms;
  };
  return { el: h('div', { class: 'terms-editor' }, rows, add), read };
}

export function openProposalDialog(s) {
  const eng = s.engagements.get(s.current.eng);
  const phase = eng ? eng.phaseInfo().phase : null;
  // `propose:phase` means a move to the next phase after the server's: the only one offered.
  const next = phase ? PHASES[PHASES.indexOf(phase) + 1] : undefined;
  const allowed = s.proposableTopics(s.current.eng);
  const topics = PROPOSAL_TOPICS.filter((t) => allowed.includes(t));
  const topic = h('select', { id: 'dlg-prop-topic', testid: 'proposal-topic-select' }, topics.map((t) => h('option', { value: t }, topicLabel(t))));
  const to = h('select', { id: 'dlg-prop-to', testid: 'proposal-phase-select', disabled: true }, next ? [h('option', { value: next, selected: true }, humanize(next))] : []);
  const text = h('textarea', { id: 'dlg-prop-text', rows: '3', testid: 'proposal-text-input', placeholder: 'Describe what you propose' });
  const termsByTopic = {
    agreement: [['scope', ''], ['timeline', ''], ['compensation', '']],
    scope_change: [['scope', '']], timeline: [['deadline', '']], compensation: [['fee', '']],
  };
  const phaseRow = h('div', { class: 'field-group' }, h('label', { for: 'dlg-prop-to' }, 'Move to phase'), to);
  const termsWrap = h('div', { class: 'field-group' });
  let editor = null;
  const update = () => {
    const t = topic.value;
    phaseRow.hidden = t !== 'phase';
    editor = t === 'phase' ? null : termsEditor(termsByTopic[t] || []);
    replaceChildren(termsWrap, t === 'phase' ? null : [h('span', { class: 'label' }, 'Terms'), editor.el]);
    termsWrap.hidden = t === 'phase';
    if (t === 'phase' && !text.value) text.value = next ? `Move the engagement to ${next}.` : '';
  };
  topic.addEventListener('change', update);
  update();
  dialog(s, {
    title: 'Make a proposal', submit: 'Send proposal', testid: 'proposal-dialog',
    fields: [h('label', { for: 'dlg-prop-topic' }, 'Topic'), topic, phaseRow, h('label', { for: 'dlg-prop-text' }, 'Text'), text, termsWrap],
    onSubmit: () => {
      const t = topic.value;
      const terms = t === 'phase' ? { to: to.value } : editor.read();
      return s.send(`eng:${s.current.eng}`, 'proposal', { topic: t, text: text.value.trim() || topicLabel(t), terms });
    },
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
  dialog(s, {
    title: 'Propose a resolution', submit: 'Propose resolution', testid: 'resolution-dialog',
    fields: [
      h('label', { for: choices.length ? 'dlg-res-flag' : 'dlg-res-flag-manual' }, 'Dispute flag'),
      choices.length ? flag : manual,
      h('label', { for: 'dlg-res-text' }, 'Resolution'), text,
      h('span', { class: 'label' }, 'Terms'), editor.el],
    onSubmit: () => {
      const seq = Number(choices.length ? flag.value : manual.value);
      if (!Number.isInteger(seq) || seq < 1) throw new Error('Choose the dispute flag this resolves.');
      return s.send(`eng:${s.current.eng}:mediation`, 'proposal', { topic: 'resolution', text: text.value.trim(), terms: { ...editor.read(), flag: seq } });
    },
  });
}

function parseValue(v) {
  if (/^-?\d+(\.\d+)?$/.test(v) && v.length < 16) return Number(v);
  if (v === 'true') return true;
  if (v === 'false') return false;
  return v;
}
