// Below the timeline: the actions bar, the reply chip, the message composer,
// the typing line and the posts not yet sent.
import { h, clear, replaceChildren, setText, excerpt } from '../dom.js';
import { renderConnection } from './shell.js';
import { openStatusDialog, openFlagDialog, openProposalDialog, openResolutionDialog } from './dialogs.js';
import { openCallDialog } from './call_dialog.js';
import { composerAttachments, attachmentArea } from './attachments.js';
import { engagementOf } from '../model.js';

// The message box grows with its text, up to 200 px.
export function fitComposer(input) {
  input.style.height = 'auto';
  input.style.height = `${Math.min(input.scrollHeight, 200)}px`;
}

export function composer(s, ch) {
  const e = s.el;
  if (!s.canMessage(ch)) {
    e.input = null;
    return h('div', { class: 'composer readonly' }, e.actions, h('p', { class: 'hint' }, 'You can read this channel but not post messages in it.'));
  }
  const input = h('textarea', {
    class: 'composer-input', rows: '1', testid: 'composer-input', id: 'composer-input',
    'aria-label': ch === 'support' ? 'Note to support staff' : 'Message',
    placeholder: ch === 'support' ? 'Write a note for support staff…' : 'Write a message…',
    'aria-describedby': 'composer-hint',
  });
  e.input = input;
  let lastTyping = 0;
  const autosize = () => fitComposer(input);
  input.addEventListener('input', () => {
    autosize();
    const now = Date.now();
    if (input.value && now - lastTyping > 2500 && s.conn.connectionState === 'online') {
      lastTyping = now;
      s.conn.typing(ch);
    }
  });
  // Files ride on messages of an engagement's rooms (protocol §9.6); Send
  // waits for their uploads.
  const info = engagementOf(ch);
  const sendBtn = h('button', { type: 'submit', class: 'btn primary send', testid: 'send-button', 'aria-label': 'Send message' }, 'Send');
  let files = null;
  const submit = () => {
    const text = input.value;
    if (files && files.busy()) return;
    const attached = files ? files.files() : [];
    // A message carrying files may say nothing more (its text is then empty).
    if (!text.trim() && !attached.length) return;
    const body = { text: text.trim() ? text : '' };
    if (s.replyTo && s.replyTo.ch === ch) body.reply_to = s.replyTo.seq;
    if (attached.length) body.files = attached;
    input.value = '';
    if (files) files.clear();
    autosize();
    s.replyTo = null;
    renderReplyChip(s);
    lastTyping = 0;
    s.send(ch, 'message', body).catch(() => {});
  };
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); submit(); }
    if (ev.key === 'Escape' && s.replyTo) { s.replyTo = null; renderReplyChip(s); }
  });
  const form = h('form', { class: 'composer', testid: 'composer', 'aria-label': 'Send a message', onsubmit: (ev) => { ev.preventDefault(); submit(); } });
  if (info) files = composerAttachments(s, info.id, { form, onChange: () => { sendBtn.disabled = files.busy(); } });
  form.append(...[
    e.actions,
    e.replyChip,
    files ? attachmentArea(files) : null,
    h('div', { class: 'composer-row' },
      files ? [files.button, files.input] : null,
      input,
      sendBtn),
    h('p', { id: 'composer-hint', class: 'hint composer-hint' }, 'Enter to send · Shift+Enter for a new line')].flat().filter(Boolean));
  return form;
}

export function renderActions(s) {
  const e = s.el;
  const cur = s.current;
  if (!e.actions || !cur) return;
  const buttons = [];
  const can = cur.kind === 'eng' ? s.actions(cur.eng) : new Set();
  const topics = cur.kind === 'eng' ? s.proposableTopics(cur.eng) : [];
  if (cur.kind === 'eng' && cur.room === 'main') {
    if (can.has('status')) buttons.push(h('button', { type: 'button', class: 'btn ghost small', testid: 'action-status', onclick: () => openStatusDialog(s) }, '◔ Status update'));
    if (can.has('flag')) buttons.push(h('button', { type: 'button', class: 'btn ghost small', testid: 'action-flag', onclick: () => openFlagDialog(s) }, '⚑ Raise flag'));
    if (topics.some((t) => t !== 'resolution' && t !== 'call')) buttons.push(h('button', { type: 'button', class: 'btn ghost small', testid: 'action-propose', onclick: () => openProposalDialog(s) }, '✎ Propose'));
    if (topics.includes('call')) buttons.push(h('button', { type: 'button', class: 'btn ghost small', testid: 'action-call', onclick: (ev) => openCallDialog(s, ev.currentTarget) }, '☎ Propose a call'));
  }
  if (cur.kind === 'eng' && cur.room === 'mediation' && topics.includes('resolution')) {
    buttons.push(h('button', { type: 'button', class: 'btn ghost small', testid: 'action-resolution', onclick: () => openResolutionDialog(s) }, '⚖ Propose resolution'));
  }
  const focused = e.actions.contains(document.activeElement) ? document.activeElement.dataset.testid : null;
  replaceChildren(e.actions, buttons);
  e.actions.hidden = !buttons.length;
  // A redraw keeps the keyboard's place on the action bar.
  const again = focused ? e.actions.querySelector(`[data-testid="${focused}"]`) : null;
  if (again) again.focus();
}

export function renderReplyChip(s) {
  const chip = s.el.replyChip;
  if (!chip) return;
  const r = s.replyTo;
  chip.hidden = !r;
  if (!r) { clear(chip); return; }
  replaceChildren(chip,
    h('span', { class: 'reply-label' }, 'Replying to ', h('strong', null, (r.from && (r.from.name || r.from.id)) || ''), ': ',
      h('span', { class: 'reply-excerpt' }, excerpt(r.body && r.body.text, 80))),
    h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Cancel reply', testid: 'cancel-reply', onclick: () => { s.replyTo = null; renderReplyChip(s); } }, '×'));
}

export function renderTyping(s) {
  const el = s.el.typing;
  if (!el || !s.current) return;
  const c = s.channels.get(s.current.ch);
  const now = Date.now();
  const names = [];
  if (c) for (const [id, t] of c.typing) { if (t.until > now) names.push(t.user.name || t.user.id); else c.typing.delete(id); }
  const text = !names.length ? '' : names.length === 1 ? `${names[0]} is typing…` : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]} are typing…`;
  setText(el, text);
  el.classList.toggle('on', !!text);
}

export function renderPendingPosts(s) {
  renderConnection(s);
  if (s.view) s.view.renderPending(s.conn.pendingPosts(s.view.ch));
}
