// One room on screen: its head (title, room tabs, presence, phase track), the
// timeline and the composer.
import { h, replaceChildren, setText } from '../dom.js';
import { TimelineView } from './timeline.js';
import { composer, fitComposer, renderActions, renderTyping, renderPendingPosts } from './composer.js';
import { renderPhaseTrack } from './details.js';
import { engagementBanner } from './invitation.js';
import { requirementsCallout } from './requirements.js';
import { renderOwedReply } from './owed_reply.js';
import { presenceChip, renderPeople } from './people.js';
import { reviewCallout } from './reviews.js';

// The room's name: an engagement created by the platform goes by its title
// (state.title), any other by its id.
function channelTitle(s) {
  const cur = s.current;
  if (cur.ch === 'support') return 'Support inbox';
  const state = s.engagements.get(cur.eng)?.state;
  const name = state && typeof state.title === 'string' && state.title ? state.title : `Engagement ${cur.eng}`;
  return cur.room === 'mediation' ? `Mediation · ${name}` : name;
}

// The title once the engagement's state names it (it may arrive after the frame is drawn).
function renderChannelTitle(s) {
  const e = s.el;
  if (!e.channelTitle || !s.current || !s.current.ch) return;
  const title = channelTitle(s);
  if (e.channelTitle.textContent === title) return;
  setText(e.channelTitle, title);
  setText(e.topTitle, title);
  const section = e.channelTitle.closest('section');
  if (section) section.setAttribute('aria-label', title);
  // keeps the unread count the title starts with (notify.js)
  const unread = /^\(\d+\+?\) /.exec(document.title);
  document.title = `${unread ? unread[0] : ''}${title} · Parley`;
}

function keepDraft(e, ch) {
  const input = e.input;
  if (!input || e.composerCh !== ch || !input.isConnected) return null;
  return { text: input.value, focused: document.activeElement === input, start: input.selectionStart, end: input.selectionEnd };
}

function restoreDraft(e, draft) {
  if (!draft || !e.input) return;
  e.input.value = draft.text;
  fitComposer(e.input);
  if (draft.focused) {
    e.input.focus();
    e.input.setSelectionRange(draft.start, draft.end);
  }
}

export function renderChannelFrame(s) {
  const cur = s.current;
  if (!cur || !cur.ch) return;
  const ch = cur.ch;
  const c = s.channel(ch);
  const isEng = cur.kind === 'eng';
  const title = channelTitle(s);
  document.title = `${title} · Parley`;
  setText(s.el.topTitle, title);
  const e = s.el;
  // Redrawn for the same channel (its join completing, a rejoin after a
  // reconnect): what the reader is typing stays, with the caret.
  const draft = keepDraft(e, ch);
  e.phaseTrack = isEng ? h('div', { class: 'phase-wrap', testid: 'phase-wrap' }) : null;
  e.presence = h('ul', { class: 'presence', testid: 'presence', 'aria-label': 'People here now' });
  e.banner = h('div', { class: 'banner-area', testid: 'banner-area' });
  // Drawn on the phase track's due line (renderPhaseTrack places it), so that it costs no height.
  e.owedReply = isEng ? h('p', { class: 'owed-reply', testid: 'owed-reply', hidden: true }) : null;
  e.timelineScroll = h('div', { class: 'timeline-scroll', testid: 'timeline-scroll' });
  e.typing = h('div', { class: 'typing', testid: 'typing-indicator', 'aria-live': 'polite' });
  e.actions = h('div', { class: 'actions', role: 'toolbar', 'aria-label': 'Actions' });
  e.replyChip = h('div', { class: 'reply-chip', testid: 'reply-chip', hidden: true });
  const subtitle = ch === 'support'
    ? 'Notices about scope changes, disputes and overdue phases across all engagements.'
    : cur.room === 'mediation' ? 'A private room for the parties and support staff to resolve a dispute.' : null;
  const tabs = isEng ? h('div', { class: 'room-tabs', role: 'navigation', 'aria-label': 'Rooms' },
    h('a', { href: `#/eng/${encodeURIComponent(cur.eng)}`, class: `tab${cur.room === 'main' ? ' active' : ''}`, 'aria-current': cur.room === 'main' ? 'page' : null, testid: 'tab-main' }, 'Conversation'),
    (s.channels.get(`eng:${cur.eng}:mediation`)?.head > 0 || ['open', 'closed'].includes(s.engagements.get(cur.eng)?.mediation) || cur.room === 'mediation')
      ? h('a', { href: `#/eng/${encodeURIComponent(cur.eng)}/mediation`, class: `tab${cur.room === 'mediation' ? ' active' : ''}`, 'aria-current': cur.room === 'mediation' ? 'page' : null, testid: 'tab-mediation' }, '⚖ Mediation')
      : null) : null;

  let body;
  if (c.missing && !c.joined) {
    body = h('div', { class: 'empty-state', testid: 'channel-missing' },
      h('h2', null, cur.room === 'mediation' ? 'No mediation room' : 'Not found'),
      h('p', null, cur.room === 'mediation' ? 'A mediation room opens when a party raises a dispute flag.' : 'This channel does not exist.'),
      isEng ? h('a', { class: 'btn', href: `#/eng/${encodeURIComponent(cur.eng)}` }, 'Back to the conversation') : null);
  } else if (c.forbidden) {
    body = h('div', { class: 'empty-state' }, h('h2', null, 'No access'), h('p', null, 'Your access token does not allow this channel.'));
  } else {
    body = e.timelineScroll;
  }
  replaceChildren(e.main, h('section', { class: `channel room-${cur.room}`, testid: 'channel', dataset: { ch }, 'aria-label': title },
    h('div', { class: 'channel-head' },
      h('div', { class: 'channel-title' },
        e.channelTitle = h('h1', { testid: 'channel-title' }, title),
        tabs,
        e.presence),
      subtitle ? h('p', { class: 'channel-sub' }, subtitle) : null,
      e.phaseTrack),
    e.banner,
    body,
    e.typing,
    e.composer = composer(s, ch)));
  e.composerCh = ch;
  restoreDraft(e, draft);
  s.view = body === e.timelineScroll ? new TimelineView(s, ch, e.timelineScroll) : null;
  if (s.view) s.view.renderAll();
  renderPhaseTrack(s);
  renderEngagementNotes(s);
  renderPresence(s);
  renderTyping(s);
  renderActions(s);
  renderPendingPosts(s);
  s.markRead();
}

// Above the timeline: the declined or read-only banner and the requirements
// the reader has yet to acknowledge; in the head, who owes a reply.
export function renderEngagementNotes(s) {
  const e = s.el;
  const cur = s.current;
  if (!e || !e.banner || !cur) return;
  renderChannelTitle(s);
  renderOwedReply(s);
  const notes = cur.kind === 'eng' && cur.room === 'main' ? [engagementBanner(s, cur.eng), requirementsCallout(s, cur.eng), reviewCallout(s, cur.eng)].filter(Boolean) : [];
  // Redrawn only when its content changes, so that a focused button keeps the focus.
  const key = notes.map((n) => n.textContent).join('|');
  if (e.banner.dataset.key === key) return;
  e.banner.dataset.key = key;
  const focused = e.banner.contains(document.activeElement) ? document.activeElement.dataset.key : null;
  replaceChildren(e.banner, notes);
  const again = focused ? e.banner.querySelector(`[data-testid="requirement-acknowledge"][data-key="${CSS.escape(focused)}"]`) : null;
  if (again) again.focus();
}

export function renderPresence(s) {
  const el = s.el.presence;
  if (!el || !s.current) return;
  const c = s.channels.get(s.current.ch);
  const people = c ? [...c.presence.values()] : [];
  people.sort((a, b) => (a.id === s.me.id) - (b.id === s.me.id) || String(a.name).localeCompare(String(b.name)));
  replaceChildren(el, people.slice(0, 8).map((u) => presenceChip(s, u)));
  renderPeople(s);
}
