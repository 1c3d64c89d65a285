// The invitation of an engagement created by the platform (protocol §9.1):
// its card (title, project details, draft terms, requirements, the named
// parties; Accept and Decline for the expert, "waiting" for everyone else),
// the compact entry it becomes once answered, the declined banner, and the
// phase chip of the engagement lists.
import { h, humanize, formatDateTime } from '../dom.js';
import { engagementOf } from '../model.js';
import { linkedText } from './entries.js';
import { termsView } from './terms_view.js';
import { dialog, FieldError } from './dialogs.js';
import { toast } from './shell.js';
import { requirementsOf, sideName, readerSide, isOutsider, nameWithSide, SIDES } from '../obligations.js';

const MAX_TEXT = 16384;

// The names the engagement's own events give each side, for engagements
// without named parties (made on first use).
export function namesSeen(s, engId) {
  const eng = s.engagements.get(engId);
  const seen = {};
  if (eng && eng.state && eng.state.parties) return seen;
  const c = s.channels.get(`eng:${engId}`);
  if (!c) return seen;
  for (const ev of c.events.values()) {
    const f = ev.from;
    if (f && SIDES.includes(f.role) && !seen[f.role] && f.name) seen[f.role] = f.name;
    if (seen.client && seen.expert) break;
  }
  return seen;
}

// The chip beside an engagement in the lists: "Invitation" while invited.
export function phaseChip(phase) {
  if (!phase) return null;
  const text = phase === 'invited' ? 'Invitation' : humanize(phase);
  return h('span', { class: `phase-chip phase-${phase}`, testid: 'phase-chip', dataset: { phase } }, text);
}

// The invitation's answer as the timeline knows it; the phase in the
// server's state settles it when the decision is not loaded.
function invitationStatus(s, p) {
  const info = engagementOf(p.ch);
  const eng = info ? s.engagements.get(info.id) : null;
  const st = eng ? eng.proposalStatus(p) : { status: 'open' };
  const phase = eng && eng.state ? eng.state.phase : null;
  if (st.status === 'open' && phase === 'declined') return { ...st, status: 'rejected' };
  if (st.status === 'open' && phase && phase !== 'invited' && !eng.openProposal(p.ch, p.ev.seq)) return { ...st, status: 'accepted' };
  return st;
}

function partiesLine(state) {
  if (!state || !state.parties) return null;
  return h('p', { class: 'invitation-parties', testid: 'invitation-parties' },
    h('span', null, 'Client: ', h('strong', null, sideName(state, 'client'))),
    h('span', { 'aria-hidden': 'true' }, ' · '),
    h('span', null, 'Expert: ', h('strong', null, sideName(state, 'expert'))));
}

function requirementsList(state) {
  const reqs = requirementsOf(state);
  if (!reqs.length) return null;
  return [h('h3', { class: 'invitation-h' }, 'Requirements'),
    h('ul', { class: 'invitation-reqs', testid: 'invitation-requirements' }, reqs.map((r) => h('li', { dataset: { key: r.key } },
      h('strong', null, r.title), ` — to be acknowledged by ${r.sides.map((x) => x.name).join(' and ')}`)))];
}

// Title, project details, draft terms and requirements: the invitation itself.
function invitationBody(state, b) {
  const terms = b.terms && typeof b.terms === 'object' ? b.terms : {};
  const details = typeof terms.details === 'string' ? terms.details : (state && typeof state.details === 'string' ? state.details : '');
  const draft = termsView(terms.terms);
  return [
    h('h2', { class: 'invitation-title', testid: 'invitation-title' }, String(b.text || (state && state.title) || 'Invitation')),
    partiesLine(state),
    details ? [h('h3', { class: 'invitation-h' }, 'Project details'),
      h('p', { class: 'invitation-details', testid: 'invitation-details' }, linkedText(details))] : null,
    h('h3', { class: 'invitation-h' }, 'Draft terms'),
    draft || h('p', { class: 'muted' }, 'No draft terms.'),
    requirementsList(state),
  ];
}

function decisionOf(p, verdict) {
  return [...(p.decisions || [])].sort((a, b) => a.seq - b.seq).find((d) => d.body && d.body.verdict === verdict) || null;
}

function timeNode(ts, prefix) {
  return ts ? h('time', { datetime: new Date(ts).toISOString() }, `${prefix}${formatDateTime(ts)}`) : null;
}

// The card of the invitation proposal `p`: {children, status, label, cls},
// wrapped by the timeline (full) or the details panel (compact).
export function invitationCard(s, p, { compact = false } = {}) {
  const info = engagementOf(p.ch);
  const eng = info ? s.engagements.get(info.id) : null;
  const state = eng ? eng.state : null;
  const b = p.ev.body || {};
  const st = invitationStatus(s, p);
  const expert = sideName(state, 'expert');
  const title = String(b.text || (state && state.title) || 'the invitation');

  if (st.status === 'accepted' || st.status === 'rejected') {
    const accepted = st.status === 'accepted';
    const d = decisionOf(p, accepted ? 'accepted' : 'rejected');
    const reason = d && d.body && typeof d.body.text === 'string' ? d.body.text : '';
    const who = d && d.from ? (d.from.name || d.from.id) : expert;
    return {
      status: st.status,
      cls: 'invitation-answered',
      label: `Invitation ${accepted ? 'accepted' : 'declined'}`,
      children: [
        h('div', { class: 'card-kind' },
          h('span', { class: 'kind-icon', 'aria-hidden': 'true' }, accepted ? '✓' : '✕'),
          h('span', { testid: 'invitation-outcome' }, `Invitation ${accepted ? 'accepted' : 'declined'}`),
          timeNode(d ? d.ts : null, ''),
          st.record ? h('span', { class: 'pill record', testid: 'decision-record', title: `hash ${st.record.hash}` }, `Log record #${st.record.n}`) : null),
        h('p', { class: 'text', testid: 'invitation-answer' }, h('strong', null, who), accepted ? ' accepted the invitation ' : ' declined the invitation ',
          `“${title}”`, reason ? h('span', { class: 'outcome-reason', testid: 'decision-reason' }, `: “${reason}”`) : null),
        compact ? null : h('details', { class: 'invitation-more' }, h('summary', null, 'The invitation'), invitationBody(state, b)),
      ],
    };
  }

  // An invitation left unanswered past the proposal TTL (protocol §9.4): the server declined it.
  if (st.status === 'expired') {
    return {
      status: st.status,
      cls: 'invitation-answered',
      label: 'Invitation expired',
      children: [
        h('div', { class: 'card-kind' },
          h('span', { class: 'kind-icon', 'aria-hidden': 'true' }, '⌛'),
          h('span', { testid: 'invitation-outcome' }, 'Invitation expired')),
        h('p', { class: 'text', testid: 'invitation-answer' }, `“${title}” expired without an answer from ${expert}.`),
        compact ? null : h('details', { class: 'invitation-more' }, h('summary', null, 'The invitation'), invitationBody(state, b)),
      ],
    };
  }

  const decide = eng && s.actions(info.id).has(`decide:${p.ev.seq}`);
  const me = readerSide(state, s.me);
  const actions = decide
    ? h('div', { class: 'card-actions' },
      h('button', { type: 'button', class: 'btn primary', testid: 'invitation-accept', onclick: (e) => acceptInvitation(s, p, e.currentTarget) }, 'Accept invitation'),
      h('button', { type: 'button', class: 'btn danger', testid: 'invitation-decline', onclick: (e) => openDeclineDialog(s, p, e.currentTarget) }, 'Decline…'))
    : me === 'expert' ? null
      : h('p', { class: 'invitation-waiting', testid: 'invitation-waiting' },
        `Waiting for ${expert} to answer the invitation`, p.ev.ts ? ' · ' : '', timeNode(p.ev.ts, 'sent '));
  const children = [
    h('div', { class: 'card-kind' },
      h('span', { class: 'kind-icon', 'aria-hidden': 'true' }, '✉'),
      h('span', null, 'Invitation'),
      h('span', { class: 'pill outcome-open', testid: 'invitation-status' }, decide ? 'Your answer is awaited' : `Awaiting ${expert}’s answer`)),
    compact ? h('p', { class: 'text' }, h('strong', null, title)) : invitationBody(state, b),
    actions,
  ];
  return { status: 'open', cls: 'invitation-open', label: `Invitation: ${title}`, children };
}

async function acceptInvitation(s, p, btn) {
  if (btn) btn.disabled = true;
  try {
    await s.send(p.ch, 'decision', { proposal: p.ev.seq, verdict: 'accepted' });
    toast(s, 'You accepted the invitation. The engagement is now in discovery.');
  } catch {
    if (btn) btn.disabled = false;
  }
}

// Declining is final (the engagement becomes read-only): confirmed, with an
// optional reason the client reads with the answer.
export function openDeclineDialog(s, p, opener) {
  const b = p.ev.body || {};
  const reason = h('textarea', { id: 'dlg-decline-reason', rows: '3', testid: 'decline-reason-input', 'aria-describedby': 'dlg-decline-hint' });
  dialog(s, {
    title: 'Decline this invitation?',
    submit: 'Decline invitation',
    danger: true,
    testid: 'decline-dialog',
    opener,
    fields: [
      b.text ? h('p', { class: 'quoted-proposal' }, String(b.text)) : null,
      h('p', { class: 'hint' }, 'Once declined, the engagement ends: nobody can post in it any more.'),
      h('label', { for: 'dlg-decline-reason' }, 'Reason (optional)'), reason,
      h('p', { class: 'hint', id: 'dlg-decline-hint' }, 'The client sees the reason with your answer.')],
    post: () => {
      if (reason.value.trim().length > MAX_TEXT) throw new FieldError(reason, `The reason is too long: at most ${MAX_TEXT.toLocaleString('en-GB')} characters.`);
      const body = { proposal: p.ev.seq, verdict: 'rejected' };
      if (reason.value.trim()) body.text = reason.value.trim();
      return { ch: p.ch, kind: 'decision', body };
    },
    done: () => toast(s, 'You declined the invitation.'),
  });
}

// Above the timeline of a declined engagement, or of one the reader may only
// read because the platform named someone else for their side.
export function engagementBanner(s, engId) {
  const eng = s.engagements.get(engId);
  const state = eng ? eng.state : null;
  if (!state) return null;
  if (state.phase === 'declined') {
    return h('div', { class: 'eng-banner declined', role: 'status', testid: 'declined-banner' },
      h('strong', null, `${sideName(state, 'expert')} declined this invitation.`),
      h('span', null, ' The engagement is closed: you can read it, nobody can post in it.'));
  }
  if (isOutsider(state, s.me)) {
    return h('div', { class: 'eng-banner outsider', role: 'status', testid: 'outsider-banner' },
      h('strong', null, 'You can read this engagement but not take part in it.'),
      h('span', null, ` Only ${nameWithSide(sideName(state, 'client'), 'client')} and ${nameWithSide(sideName(state, 'expert'), 'expert')} post here.`));
  }
  return null;
}

// What the timeline and the details panel call (through the timeline context).
export function invitationHooks(s) {
  return {
    invitationCard: (p, opts) => invitationCard(s, p, opts),
    // A requirement's title by its key, from the server's state.
    requirementTitle: (ch, key) => {
      const info = engagementOf(ch);
      const eng = info ? s.engagements.get(info.id) : null;
      const r = eng && eng.state ? requirementsOf(eng.state).find((x) => x.key === key) : null;
      return r ? r.title : String(key);
    },
  };
}
