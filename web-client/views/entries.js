// Renders one timeline entry per event kind. Every entry is built from DOM
// nodes with text set as text.
import { h, formatTime, formatDateTime, initials, hueFor, humanize } from '../dom.js';
import { isParty } from '../model.js';
import { splitLinks } from '../linkify.js';

function who(from) {
  return (from && (from.name || from.id)) || 'Someone';
}

function roleBadge(role) {
  if (!role) return null;
  return h('span', { class: `role role-${role}`, testid: 'role' }, humanize(role));
}

function avatar(from) {
  const el = h('span', { class: 'avatar', 'aria-hidden': 'true' }, initials(who(from)));
  el.style.setProperty('--hue', String(hueFor(from && from.id)));
  return el;
}

function timeEl(ts) {
  if (!ts) return null;
  return h('time', { class: 'ts', datetime: new Date(ts).toISOString(), title: formatDateTime(ts) }, formatTime(ts));
}

// Message text with its https links clickable; everything else stays text.
export function linkedText(text) {
  return splitLinks(text).map((part) => (part.href
    ? h('a', { href: part.href, target: '_blank', rel: 'noopener noreferrer', class: 'text-link', testid: 'message-link' }, part.text)
    : part.text));
}

function excerpt(text, n = 120) {
  const s = String(text || '').replace(/\s+/g, ' ').trim();
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

function shell(ev, kindClass, label, ...content) {
  return h('li', {
    class: `entry ${kindClass}`,
    testid: `event-${ev.kind}`,
    dataset: { seq: String(ev.seq), kind: ev.kind, from: (ev.from && ev.from.id) || '' },
    'aria-label': label,
    id: `ev-${ev.ch.replace(/[^A-Za-z0-9_-]/g, '_')}-${ev.seq}`,
  }, ...content);
}

function header(ev, extra) {
  return h('div', { class: 'entry-head' },
    h('span', { class: 'sender', testid: 'sender' }, who(ev.from)),
    roleBadge(ev.from && ev.from.role),
    timeEl(ev.ts),
    extra);
}

const FLAG_LABEL = { delay: 'Delay', scope_change: 'Scope change', dispute: 'Dispute', risk: 'Risk', blocker: 'Blocker' };
const TOPIC_LABEL = {
  agreement: 'Agreement', scope_change: 'Scope change', timeline: 'Timeline', compensation: 'Compensation',
  phase: 'Phase change', resolution: 'Dispute resolution', invitation: 'Invitation', acknowledgement: 'Acknowledgement',
};
TOPIC_LABEL.call = 'Call';
export const flagLabel = (t) => FLAG_LABEL[t] || humanize(t);
export const topicLabel = (t) => TOPIC_LABEL[t] || humanize(t);

function renderMessage(ev, ctx) {
  const b = ev.body || {};
  let quote = null;
  if (typeof b.reply_to === 'number') {
    const target = ctx.lookup(ev.ch, b.reply_to);
    quote = h('button', {
      type: 'button', class: 'quote', testid: 'reply-quote',
      onclick: () => ctx.jumpTo(ev.ch, b.reply_to),
    },
    h('span', { class: 'visually-hidden' }, 'In reply to '),
    h('span', { class: 'quote-who' }, target ? who(target.from) : `#${b.reply_to}`),
    h('span', { class: 'quote-text' }, target ? excerpt(target.body && target.body.text) : 'Earlier message'));
  }
  const mine = ctx.me && ev.from && ev.from.id === ctx.me.id;
  const actions = ctx.canMessage(ev.ch)
    ? h('span', { class: 'entry-actions' },
      h('button', { type: 'button', class: 'link-btn', testid: 'reply-button', 'aria-label': `Reply to ${who(ev.from)}`, onclick: () => ctx.reply(ev) }, '↩ Reply'))
    : null;
  const node = shell(ev, `message${mine ? ' mine' : ''}${ev.from && ev.from.role === 'support' ? ' from-support' : ''}`,
    `Message from ${who(ev.from)}`,
    avatar(ev.from),
    h('div', { class: 'bubble' },
      header(ev, actions),
      quote,
      // A message carrying files may have no text (protocol §9.6).
      b.text || !Array.isArray(b.files) ? h('p', { class: 'text', testid: 'message-text' }, linkedText(b.text)) : null,
      Array.isArray(b.files) && ctx.fileChips ? ctx.fileChips(ev) : null));
  return node;
}

function renderStatus(ev) {
  const b = ev.body || {};
  const hasProgress = typeof b.progress === 'number';
  const pct = hasProgress ? Math.max(0, Math.min(100, b.progress)) : null;
  return shell(ev, 'card status', `Status update from ${who(ev.from)}`,
    h('div', { class: 'card-kind' }, h('span', { class: 'kind-icon', 'aria-hidden': 'true' }, '◔'), 'Status update'),
    header(ev),
    h('p', { class: 'text', testid: 'status-text' }, String(b.text ?? '')),
    hasProgress ? h('div', { class: 'progress-row' },
      h('progress', { max: '100', value: String(pct), testid: 'status-progress', 'aria-label': `Progress ${pct} percent` }),
      h('span', { class: 'pct' }, `${pct}%`)) : null);
}

function renderFlag(ev, ctx) {
  const b = ev.body || {};
  const state = ctx.flagState(ev.ch, ev.seq);
  const buttons = [];
  if (state === 'open' && ctx.canAcknowledgeFlag(ev)) {
    buttons.push(h('button', { type: 'button', class: 'btn small', testid: 'flag-ack', onclick: () => ctx.updateFlag(ev, 'acknowledged') }, 'Acknowledge'));
  }
  if (state !== 'resolved' && ctx.canResolveFlag(ev)) {
    buttons.push(h('button', { type: 'button', class: 'btn small', testid: 'flag-resolve', onclick: () => ctx.updateFlag(ev, 'resolved') }, 'Resolve'));
  }
  if (b.type === 'dispute' && ctx.mediationOpen(ev.ch)) {
    buttons.push(h('button', { type: 'button', class: 'btn small', testid: 'open-mediation', onclick: () => ctx.openMediation(ev.ch) }, 'Open mediation room'));
  }
  return shell(ev, `card flag flag-${b.type || 'other'} state-${state}`, `${flagLabel(b.type)} flag from ${who(ev.from)}, ${state}`,
    h('div', { class: 'card-kind' },
      h('span', { class: 'kind-icon', 'aria-hidden': 'true' }, '⚑'),
      h('span', { testid: 'flag-type' }, `${flagLabel(b.type)} flag`),
      h('span', { class: `pill state-${state}`, testid: 'flag-state' }, humanize(state)),
      h('span', { class: 'ref' }, `#${ev.seq}`)),
    header(ev),
    h('p', { class: 'text', testid: 'flag-text' }, String(b.text ?? '')),
    buttons.length ? h('div', { class: 'card-actions' }, buttons) : null);
}

function renderFlagUpdate(ev, ctx) {
  const b = ev.body || {};
  const flag = ctx.lookup(ev.ch, b.flag);
  const what = flag ? `${flagLabel(flag.body && flag.body.type)} flag #${b.flag}` : `flag #${b.flag}`;
  return shell(ev, 'line flag-update', `${who(ev.from)} marked ${what} ${b.state}`,
    h('span', { class: 'line-icon', 'aria-hidden': 'true' }, '⚑'),
    h('span', { class: 'line-text' },
      h('strong', null, who(ev.from)), ` marked ${what} `, h('strong', null, String(b.state || '')),
      b.text ? h('span', { class: 'line-note' }, ` — ${b.text}`) : null),
    timeEl(ev.ts));
}

export function proposalCard(p, ctx, { compact = false } = {}) {
  const ev = p.ev;
  const b = ev.body || {};
  const st = ctx.proposalStatus(p);
  // An expired proposal offers nothing, even before the state push says so.
  const decide = st.status !== 'expired' && ctx.canDecide(p);
  const isCall = b.topic === 'call' && ctx.callDetails;
  const statusText = {
    open: 'Awaiting decision',
    partial: `Accepted by ${[...st.sides].map(humanize).join(' and ')}; awaiting the other party`,
    accepted: st.record ? `Accepted · log record #${st.record.n}` : 'Accepted',
    rejected: `Rejected${st.rejectedBy ? ` by ${who(st.rejectedBy)}` : ''}`,
    expired: 'Expired',
  }[st.status];
  const target = b.topic === 'phase' && b.terms && b.terms.to ? ` → ${humanize(b.terms.to)}` : '';
  const children = [
    h('div', { class: 'card-kind' },
      h('span', { class: 'kind-icon', 'aria-hidden': 'true' }, '✎'),
      h('span', { testid: 'proposal-topic' }, `${topicLabel(b.topic)} proposal${target}`),
      h('span', { class: `pill outcome-${st.status}`, testid: 'proposal-status', dataset: { status: st.status } }, statusText),
      h('span', { class: 'ref' }, `#${ev.seq}`)),
    compact ? h('div', { class: 'entry-head' }, h('span', { class: 'sender' }, who(ev.from)), roleBadge(ev.from && ev.from.role)) : header(ev),
    b.text ? h('p', { class: 'text', testid: 'proposal-text' }, String(b.text)) : null,
    isCall ? ctx.callDetails(p, st) : ctx.proposalDetails(p, st),
    st.status === 'expired' ? expiredLine(st.expired) : null,
  ];
  if (!compact) children.push(...proposalOutcome(p, ctx));
  const counter = st.status !== 'expired' && ctx.canCounterPropose(p);
  if (decide || counter) {
    children.push(h('div', { class: 'card-actions' },
      decide ? h('button', { type: 'button', class: 'btn primary small', testid: 'proposal-accept', 'aria-label': isCall ? `Accept this time for call proposal ${ev.seq}` : `Accept ${topicLabel(b.topic)} proposal ${ev.seq}`, onclick: (e) => (isCall ? ctx.acceptCall(p, e.currentTarget) : ctx.decide(p, 'accepted', e.currentTarget)) }, isCall ? 'Accept this time' : 'Accept') : null,
      decide ? h('button', { type: 'button', class: 'btn danger small', testid: 'proposal-reject', 'aria-label': `Reject ${topicLabel(b.topic)} proposal ${ev.seq}`, onclick: (e) => ctx.reject(p, e.currentTarget) }, 'Reject…') : null,
      counter ? h('button', { type: 'button', class: 'btn small', testid: 'proposal-counter', 'aria-label': `Counter-propose to ${topicLabel(b.topic)} proposal ${ev.seq}`, onclick: (e) => ctx.counterPropose(p, e.currentTarget) }, 'Counter-propose…') : null));
  }
  return { children, status: st.status, label: `${topicLabel(b.topic)} proposal from ${who(ev.from)}: ${st.status}` };
}

// Under an expired proposal: when it lapsed (protocol §9.4).
function expiredLine(ev) {
  return h('p', { class: 'proposal-expired', testid: 'proposal-expired' },
    h('span', { 'aria-hidden': 'true' }, '◷ '), 'Expired without a decision', ev && ev.ts ? ` · ${formatDateTime(ev.ts)}` : '');
}

function renderProposal(ev, ctx) {
  const p = ctx.proposal(ev.ch, ev.seq) || { ev, ch: ev.ch, decisions: [] };
  if (ev.body && ev.body.topic === 'invitation' && ctx.invitationCard) {
    const inv = ctx.invitationCard(p);
    return shell(ev, `card invitation ${inv.cls} outcome-${inv.status}`, inv.label, ...inv.children);
  }
  const { children, status, label } = proposalCard(p, ctx);
  const node = shell(ev, `card proposal outcome-${status}`, label, ...children);
  return node;
}

// The phase change an accepted phase proposal caused: the server stores it
// right after the decision that accepted it, in the same channel.
function phaseChangeOf(decision, ctx) {
  const next = ctx.lookup(decision.ch, decision.seq + 1);
  return next && next.kind === 'phase' ? next : null;
}

const sortedDecisions = (p) => [...(p.decisions || [])].sort((a, b) => a.seq - b.seq);

// Under a decided proposal: who decided and why, the log record, the phase
// it moved to; the decision and phase-change events themselves on demand.
function proposalOutcome(p, ctx) {
  const decisions = sortedDecisions(p);
  if (!decisions.length) return [];
  const details = [];
  const lines = [];
  for (const d of decisions) {
    const b = d.body || {};
    const accepted = b.verdict === 'accepted';
    lines.push(h('li', { class: `outcome-line verdict-${accepted ? 'accepted' : 'rejected'}` },
      h('span', { class: 'kind-icon', 'aria-hidden': 'true' }, accepted ? '✓' : '✕'),
      h('span', null, `${accepted ? 'Accepted' : 'Rejected'} by `, h('strong', null, who(d.from)),
        b.text ? h('span', { class: 'outcome-reason', testid: 'decision-reason' }, `: “${String(b.text)}”`) : null),
      b.record ? h('span', { class: 'pill record', testid: 'decision-record', title: `hash ${b.record.hash}` }, `Log record #${b.record.n}`) : null));
    details.push(decisionDetail(d));
    const phase = accepted ? phaseChangeOf(d, ctx) : null;
    if (phase) {
      const pb = phase.body || {};
      lines.push(h('li', { class: 'outcome-line phase' },
        h('span', { class: 'kind-icon', 'aria-hidden': 'true' }, '◆'),
        h('span', null, 'Phase: ', humanize(pb.from), ' → ', h('strong', null, humanize(pb.to)))));
      details.push(h('div', { class: 'folded-entry', testid: 'event-phase', dataset: { seq: String(phase.seq) } },
        `#${phase.seq} · Phase changed from ${humanize(pb.from)} to ${humanize(pb.to)}`, phase.ts ? ` · ${formatDateTime(phase.ts)}` : ''));
    }
  }
  return [
    h('ul', { class: 'proposal-outcome', testid: 'proposal-outcome' }, lines),
    h('details', { class: 'proposal-details', testid: 'proposal-details' },
      h('summary', null, details.length === 1 ? 'Details: 1 event' : `Details: ${details.length} events`),
      details),
  ];
}

function decisionDetail(d) {
  const b = d.body || {};
  return h('div', { class: 'folded-entry', testid: 'event-decision', dataset: { seq: String(d.seq) } },
    `#${d.seq} · ${who(d.from)}${d.from && d.from.role ? ` (${humanize(d.from.role)})` : ''} ${b.verdict === 'accepted' ? 'accepted' : 'rejected'}`,
    d.ts ? ` · ${formatDateTime(d.ts)}` : '',
    b.text ? ` · “${String(b.text)}”` : '',
    b.record ? ` · decision log record #${b.record.n}, hash ${String(b.record.hash).slice(0, 12)}…` : '');
}

// A decision or phase change shown inside its proposal's card: kept in the
// list (hidden) so its seq stays addressable and jumps land on the card.
function folded(ev, proposalSeq) {
  return h('li', {
    class: 'entry folded', hidden: true,
    dataset: { seq: String(ev.seq), kind: ev.kind, foldedInto: String(proposalSeq) },
    id: `ev-${ev.ch.replace(/[^A-Za-z0-9_-]/g, '_')}-${ev.seq}`,
  });
}

function renderDecision(ev, ctx) {
  const b = ev.body || {};
  if (ctx.proposal(ev.ch, b.proposal)) return folded(ev, b.proposal);
  return renderDeliveryKinds(ev, ctx) || renderLoneDecision(ev, ctx);
}

// A delivery, a revision request, a review-window warning or a delivery's
// acceptance (protocol §9.6): drawn by views/deliverables.js through the
// context; null when it is not about a delivery.
function renderDeliveryKinds(ev, ctx) {
  const d = ctx.deliveryEntry ? ctx.deliveryEntry(ev, ctx, { header, timeEl }) : null;
  return d ? shell(ev, d.cls, d.label, ...d.children) : null;
}

// A decision whose proposal is not loaded: drawn on its own.
function renderLoneDecision(ev, ctx) {
  const b = ev.body || {};
  const prop = ctx.lookup(ev.ch, b.proposal);
  const what = prop ? `${topicLabel(prop.body && prop.body.topic)} proposal #${b.proposal}` : `proposal #${b.proposal}`;
  const accepted = b.verdict === 'accepted';
  return shell(ev, `card decision verdict-${b.verdict}`, `${who(ev.from)} ${b.verdict} ${what}`,
    h('div', { class: 'card-kind' },
      h('span', { class: 'kind-icon', 'aria-hidden': 'true' }, accepted ? '✓' : '✕'),
      h('span', null, 'Decision'),
      b.record ? h('span', { class: 'pill record', testid: 'decision-record', title: `hash ${b.record.hash}` }, `Log record #${b.record.n}`) : null),
    h('p', { class: 'text' }, h('strong', null, who(ev.from)), ` ${accepted ? 'accepted' : 'rejected'} ${what}`, b.text ? ` — ${b.text}` : ''),
    h('div', { class: 'entry-head' }, roleBadge(ev.from && ev.from.role), timeEl(ev.ts)));
}

function renderPhase(ev, ctx) {
  const b = ev.body || {};
  const decision = b.from ? ctx.lookup(ev.ch, ev.seq - 1) : null;
  const proposalSeq = decision && decision.kind === 'decision' && decision.body ? decision.body.proposal : null;
  if (proposalSeq && ctx.proposal(ev.ch, proposalSeq)) return folded(ev, proposalSeq);
  const label = b.from ? `Phase changed from ${b.from} to ${b.to}` : `Engagement opened in ${b.to}`;
  return shell(ev, 'divider phase-change', label,
    h('span', { class: 'divider-text' },
      h('span', { 'aria-hidden': 'true' }, '◆ '),
      b.from ? ['Phase: ', humanize(b.from), ' → ', h('strong', null, humanize(b.to))] : ['Engagement opened · ', h('strong', null, humanize(b.to))]),
    timeEl(ev.ts));
}

function renderMediation(ev, ctx) {
  const b = ev.body || {};
  const open = b.state !== 'closed';
  return shell(ev, `notice mediation-notice ${open ? 'open' : 'closed'}`, open ? 'Mediation room opened' : 'Mediation room closed',
    h('span', { class: 'notice-icon', 'aria-hidden': 'true' }, '⚖'),
    h('div', { class: 'notice-body' },
      h('strong', null, open ? 'Mediation room opened' : 'Mediation closed'),
      h('span', null, open ? ' Support staff will help both parties reach a resolution.' : ' The dispute has been resolved.'),
      open && ctx.canJoinMediation() && ctx.mediationOpen(ev.ch) ? h('button', { type: 'button', class: 'btn small', testid: 'open-mediation', onclick: () => ctx.openMediation(ev.ch) }, 'Go to mediation room') : null),
    timeEl(ev.ts));
}

const SLA_TEXT = {
  reply_overdue: (b) => `Reply overdue: the ${b.side || 'other party'} has not answered for ${b.hours ? `${b.hours} h` : 'too long'}.`,
  status_overdue: () => 'Status overdue: no status update has been posted for a while during the active phase.',
  phase_overdue: (b) => `Phase overdue: ${humanize(b.phase || 'the phase')} has outlasted its expected length.`,
};

function renderSla(ev) {
  const b = ev.body || {};
  const text = (SLA_TEXT[b.type] || (() => `Service level missed: ${humanize(b.type)}`))(b);
  return shell(ev, 'notice sla', text,
    h('span', { class: 'notice-icon', 'aria-hidden': 'true' }, '◷'),
    h('div', { class: 'notice-body' }, h('strong', { testid: 'sla-type' }, 'Service level'), ' ', h('span', null, text), b.text ? h('span', null, ` ${b.text}`) : null),
    timeEl(ev.ts));
}

// What a notice is about, by its type and the flag's state now.
const NOTICE_TITLE = {
  dispute: { open: 'Dispute raised', acknowledged: 'Dispute acknowledged', resolved: 'Dispute resolved' },
  scope_change: { open: 'Scope change flagged', acknowledged: 'Scope change acknowledged', resolved: 'Scope change resolved' },
  phase_overdue: {},
};
const NOTICE_DEFAULT = { dispute: 'Dispute raised', scope_change: 'Scope change flagged', phase_overdue: 'Phase overdue' };

// The state of the flag a notice is about: the server's state of its
// engagement lists open flags; a flag it no longer lists is resolved. Null
// while that state is unknown.
function noticeFlagState(b, ctx) {
  if (typeof b.flag !== 'number' || typeof b.eng !== 'string' || !ctx.engagementState) return null;
  const state = ctx.engagementState(b.eng);
  if (!state || !Array.isArray(state.open_flags)) return null;
  const listed = state.open_flags.find((f) => f && f.seq === b.flag);
  return listed ? (listed.state || 'open') : 'resolved';
}

function renderNotice(ev, ctx) {
  const b = ev.body || {};
  const eng = typeof b.eng === 'string' ? b.eng : '';
  const state = noticeFlagState(b, ctx);
  const title = (state && NOTICE_TITLE[b.type] && NOTICE_TITLE[b.type][state]) || NOTICE_DEFAULT[b.type] || humanize(b.type);
  const resolved = state === 'resolved';
  const buttons = [];
  if (eng && b.type === 'dispute' && !resolved) {
    buttons.push(h('button', { type: 'button', class: 'btn primary small', testid: 'notice-open-mediation', 'aria-label': `Open mediation room of engagement ${eng}`, onclick: () => ctx.navigate(`#/eng/${encodeURIComponent(eng)}/mediation`) }, 'Open mediation room'));
  }
  if (eng) {
    buttons.push(h('button', { type: 'button', class: 'btn small', testid: 'notice-open-engagement', 'aria-label': `Open engagement ${eng}`, onclick: () => ctx.navigate(`#/eng/${encodeURIComponent(eng)}`) }, 'Open engagement'));
  }
  // "flag #21 in Engagement 42", a link to the engagement at that flag.
  const engHash = `#/eng/${encodeURIComponent(eng)}`;
  const where = !eng ? null : typeof b.flag === 'number'
    ? h('a', {
      href: engHash, class: 'notice-link', testid: 'notice-flag-link',
      onclick: (e) => { e.preventDefault(); ctx.openEvent(`eng:${eng}`, b.flag); },
    }, `flag #${b.flag} in Engagement ${eng}`)
    : h('a', { href: engHash, class: 'notice-link', testid: 'notice-flag-link' }, `Engagement ${eng}`);
  const claim = eng && b.type === 'dispute' && !resolved && typeof b.flag === 'number' ? ctx.claimControls(eng, b.flag) : [];
  return shell(ev, `card support-notice notice-${b.type || 'other'}${state ? ` state-${state}` : ''}`, `${title}: ${typeof b.flag === 'number' ? `flag #${b.flag} in ` : ''}engagement ${eng}`,
    h('div', { class: 'card-kind' },
      h('span', { class: 'kind-icon', 'aria-hidden': 'true' }, b.type === 'dispute' ? '⚖' : b.type === 'phase_overdue' ? '◷' : '⚑'),
      h('span', { testid: 'notice-type' }, title),
      state ? h('span', { class: `pill state-${state}`, testid: 'notice-state' }, humanize(state)) : null),
    where ? h('p', { class: 'notice-where' }, where) : null,
    b.text ? h('p', { class: 'text' }, String(b.text)) : null,
    h('div', { class: 'entry-head' }, timeEl(ev.ts)),
    buttons.length || claim.some(Boolean) ? h('div', { class: 'card-actions' }, ...claim, ...buttons) : null);
}

// A party's acknowledgement of a requirement (protocol §9.2): a decision-log record.
function renderAcknowledgement(ev, ctx) {
  const b = ev.body || {};
  const title = ctx.requirementTitle ? ctx.requirementTitle(ev.ch, b.key) : String(b.key ?? '');
  return shell(ev, 'card decision acknowledgement', `${who(ev.from)} acknowledged ${title}`,
    h('div', { class: 'card-kind' },
      h('span', { class: 'kind-icon', 'aria-hidden': 'true' }, '✓'),
      h('span', null, 'Requirement acknowledged'),
      b.record ? h('span', { class: 'pill record', testid: 'decision-record', title: `hash ${b.record.hash}` }, `Log record #${b.record.n}`) : null),
    h('p', { class: 'text', testid: 'acknowledgement-text' }, h('strong', null, who(ev.from)), ' acknowledged ', h('strong', null, title),
      typeof b.text === 'string' && b.text ? ` — ${b.text}` : ''),
    h('div', { class: 'entry-head' }, roleBadge(ev.from && ev.from.role), timeEl(ev.ts)));
}

function renderOther(ev) {
  return shell(ev, 'line other', `${humanize(ev.kind)} event`,
    h('span', { class: 'line-text' }, h('strong', null, who(ev.from)), ` · ${humanize(ev.kind)}`),
    timeEl(ev.ts));
}

// `proposal_expired {proposal}`: folded into its proposal's card, else a line.
function renderProposalExpired(ev, ctx) {
  const b = ev.body || {};
  if (ctx.proposal(ev.ch, b.proposal)) return folded(ev, b.proposal);
  return shell(ev, 'line proposal-expired-line', `Proposal #${b.proposal} expired`,
    h('span', { class: 'line-icon', 'aria-hidden': 'true' }, '◷'),
    h('span', { class: 'line-text' }, `Proposal #${b.proposal} expired without a decision`),
    timeEl(ev.ts));
}

// `reminder {call, start}`: the call starts in 15 minutes (protocol §9.5).
function renderReminder(ev, ctx) {
  const text = ctx.reminderText ? ctx.reminderText(ev) : 'A call starts soon';
  return shell(ev, 'notice call-reminder', text,
    h('span', { class: 'notice-icon', 'aria-hidden': 'true' }, '☎'),
    h('div', { class: 'notice-body' }, h('strong', { testid: 'reminder-text' }, text)),
    timeEl(ev.ts));
}

const RENDERERS = {
  message: renderMessage, status: renderStatus, flag: renderFlag, flag_update: renderFlagUpdate,
  proposal: renderProposal, decision: renderDecision, phase: renderPhase, mediation: renderMediation,
  sla: renderSla, notice: renderNotice, acknowledgement: renderAcknowledgement,
};
RENDERERS.proposal_expired = renderProposalExpired;
RENDERERS.reminder = renderReminder;
RENDERERS.delivery = RENDERERS.revision_request = RENDERERS.review_due_soon = (ev, ctx) => renderDeliveryKinds(ev, ctx) || renderOther(ev);

// A sealed review and the reveal (protocol §9.7), drawn by views/reviews.js.
function renderReview(ev, ctx) {
  const r = ctx.reviewEntry(ev);
  return shell(ev, r.cls, r.label, ...r.children);
}
RENDERERS.review = renderReview;
RENDERERS.reviews = renderReview;

export function renderEvent(ev, ctx) {
  const fn = RENDERERS[ev.kind] || renderOther;
  try {
    return fn(ev, ctx);
  } catch {
    return renderOther(ev);
  }
}

// A post still waiting for the server's answer.
export function renderPending(item, ctx) {
  const b = item.body || {};
  const text = item.kind === 'message' ? String(b.text ?? '') : `${humanize(item.kind)}: ${b.text ?? ''}`;
  return h('li', { class: 'entry message mine pending', testid: 'pending-post', dataset: { cid: item.cid }, 'aria-label': 'Message not yet sent' },
    avatar(ctx.me),
    h('div', { class: 'bubble' },
      h('div', { class: 'entry-head' }, h('span', { class: 'sender' }, who(ctx.me)), h('span', { class: 'sending' }, ctx.online ? 'Sending…' : 'Waiting for connection…')),
      h('p', { class: 'text' }, text)));
}

export { isParty };
