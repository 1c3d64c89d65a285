// The details panel: the phase track, the agreement, open proposals and
// flags, and the decision log with its check and download.
import { h, clear, replaceChildren, formatDuration, formatDateTime, humanize, excerpt } from '../dom.js';
import { PHASES } from '../model.js';
import { proposalCard, flagLabel, topicLabel } from './entries.js';
import { termsView, changesView } from './terms_view.js';
import { agreementVersions } from '../terms.js';
import { closePanels } from './shell.js';
import { requirementsPanel } from './requirements.js';
import { missingAcknowledgements } from '../obligations.js';
import { namesSeen } from './invitation.js';
import { nextCallBar, nextCallKey, callsPanel, callRecordView } from './calls.js';
import { peoplePanel } from './people.js';
import { reviewsPanel, reviewsRecordView } from './reviews.js';
import { deliveryRecordView, acceptedAutomatically } from './approved_files.js';
import { deliverablesPanel } from './deliverables.js';

// The steps the track shows: an invitation comes before discovery while it
// is open, and a declined one ends there.
function trackPhases(phase) {
  if (phase === 'invited') return ['invited', ...PHASES];
  if (phase === 'declined') return ['invited', 'declined'];
  return PHASES;
}

export function renderPhaseTrack(s) {
  const wrap = s.el && s.el.phaseTrack;
  const cur = s.current;
  if (!wrap || !cur || cur.kind !== 'eng') return;
  const eng = s.engagements.get(cur.eng);
  if (!eng) return;
  const info = eng.phaseInfo();
  // Nothing to show until the server's state names the phase.
  if (!info.phase) { clear(wrap); delete wrap.dataset.key; return; }
  const steps = trackPhases(info.phase);
  const idx = steps.indexOf(info.phase);
  const now = Date.now();
  const overdue = info.due && now > info.due && info.phase !== 'closed';
  // `active` is blocked while a requirement lacks an acknowledgement (protocol §9.2).
  const needs = idx < steps.indexOf('active') ? missingAcknowledgements(eng.state, namesSeen(s, eng.id)) : [];
  const key = `${info.phase}|${info.due}|${overdue}|${Math.floor(now / 60000)}|${needs.join(';')}|${nextCallKey(eng)}`;
  if (wrap.dataset.key === key) return;
  wrap.dataset.key = key;
  let dueText = '';
  if (info.phase === 'closed') dueText = 'Engagement closed';
  else if (info.phase === 'declined') dueText = 'Invitation declined';
  else if (info.due) dueText = overdue ? `Overdue by ${formatDuration(now - info.due)}` : `Due in ${formatDuration(info.due - now)}`;
  replaceChildren(wrap,
    h('ol', { class: 'phase-track', testid: 'phase-track', dataset: { phase: info.phase }, 'aria-label': `Phase: ${humanize(info.phase)}` },
      steps.map((p, i) => {
        const blocked = p === 'active' && needs.length > 0;
        return h('li', {
          class: `step ${i < idx ? 'done' : i === idx ? 'current' : 'todo'}${i === idx && overdue ? ' overdue' : ''}${blocked ? ' blocked' : ''}`,
          dataset: blocked ? { phase: p, blocked: 'true' } : { phase: p }, testid: `phase-step-${p}`, 'aria-current': i === idx ? 'step' : null,
          title: blocked ? `Needs: ${needs.join('; ')}` : null,
        }, h('span', { class: 'step-dot', 'aria-hidden': 'true' }, i < idx ? '✓' : blocked ? '⊘' : String(i + 1)), h('span', { class: 'step-label' }, humanize(p)),
        blocked ? h('span', { class: 'visually-hidden' }, ', blocked') : null);
      })),
    needs.length ? h('p', { class: 'phase-needs', testid: 'phase-needs' }, h('strong', null, 'Active needs: '), needs.join('; ')) : null,
    dueText ? h('p', {
      class: `phase-due${overdue ? ' overdue' : ''}`, testid: 'phase-due', dataset: { overdue: overdue ? 'true' : 'false' },
      title: info.due ? `Due ${formatDateTime(info.due)}` : null,
    }, overdue ? h('span', { class: 'overdue-mark', 'aria-hidden': 'true' }, '! ') : null, dueText,
    info.since ? h('span', { class: 'muted' }, ` · in ${humanize(info.phase).toLowerCase()} since ${formatDateTime(info.since)}`) : null) : null,
    s.el.owedReply,
    nextCallBar(s, eng));
}

export function renderDetails(s) {
  const cur = s.current;
  const el = s.el.details;
  if (!cur || cur.kind !== 'eng') { clear(el); return; }
  const eng = s.engagements.get(cur.eng);
  if (!eng) return;
  const ctx = s.timelineCtx();
  const sections = [];
  const info = eng.phaseInfo();
  const agreement = eng.state && eng.state.agreement;
  sections.push(h('section', { class: 'panel', 'aria-labelledby': 'd-agreement' },
    h('h2', { id: 'd-agreement' }, 'Agreement'),
    agreement && agreement.terms
      ? [h('p', { class: 'muted', testid: 'agreement-version' }, `Version ${agreement.version}`), termsView(agreement.terms) || h('p', { class: 'muted' }, 'No terms yet.')]
      : h('p', { class: 'muted', testid: 'agreement-none' }, !info.phase || info.phase === 'discovery' || info.phase === 'agreement' ? 'No agreement accepted yet.' : 'No agreement terms recorded.')));

  sections.push(requirementsPanel(s, eng));
  sections.push(deliverablesPanel(s, eng));

  const props = eng.openProposals();
  sections.push(h('section', { class: 'panel', 'aria-labelledby': 'd-proposals', testid: 'open-proposals' },
    h('h2', { id: 'd-proposals' }, 'Open proposals', props.length ? h('span', { class: 'count' }, String(props.length)) : null),
    props.length
      ? h('ul', { class: 'mini-list' }, props.map((p) => {
        const invitation = p.ev.body && p.ev.body.topic === 'invitation';
        const { children, status } = invitation ? ctx.invitationCard(p, { compact: true }) : proposalCard(p, ctx, { compact: true });
        return h('li', { class: `mini-card proposal${invitation ? ' invitation' : ''} outcome-${status}`, testid: 'open-proposal', dataset: { seq: String(p.ev.seq), ch: p.ch } },
          p.ch.endsWith(':mediation') ? h('span', { class: 'chan-tag' }, 'Mediation') : null, children);
      }))
      : h('p', { class: 'muted' }, 'Nothing awaits a decision.')));

  const flags = eng.openFlags();
  sections.push(h('section', { class: 'panel', 'aria-labelledby': 'd-flags', testid: 'open-flags' },
    h('h2', { id: 'd-flags' }, 'Open flags', flags.length ? h('span', { class: 'count warn' }, String(flags.length)) : null),
    flags.length
      ? h('ul', { class: 'mini-list' }, flags.map((f) => h('li', { class: `mini-flag flag-${f.ev.body.type}`, testid: 'open-flag', dataset: { seq: String(f.ev.seq) } },
        h('span', { class: 'mini-flag-type' }, `${flagLabel(f.ev.body.type)} #${f.ev.seq}`),
        h('span', { class: `pill state-${f.state}` }, humanize(f.state)),
        h('span', { class: 'mini-flag-text' }, excerpt(f.ev.body.text, 90)))))
      : h('p', { class: 'muted' }, 'No open flags.')));

  sections.push(reviewsPanel(s, eng));
  sections.push(callsPanel(s, eng));
  sections.push(peoplePanel(s));
  sections.push(agreementHistory(s, eng));
  sections.push(decisionLogPanel(s, eng));
  replaceChildren(el, h('button', { type: 'button', class: 'icon-btn close-details', 'aria-label': 'Close details', onclick: () => closePanels(s) }, '×'), sections);
}

// The agreement's versions, newest first, replayed from the decision log:
// when each was accepted, who proposed and accepted it, and what it changed.
function agreementHistory(s, eng) {
  const versions = eng.log.status === 'ready' ? agreementVersions(eng.log.records) : [];
  if (!versions.length) return null;
  return h('section', { class: 'panel', 'aria-labelledby': 'd-history', testid: 'agreement-history' },
    h('h2', { id: 'd-history' }, 'Agreement history'),
    h('ol', { class: 'history-list' }, versions.slice().reverse().map((v) => {
      const r = v.record;
      const accepted = (Array.isArray(r.accepted_by) ? r.accepted_by : []).map((id) => nameOf(s, r, id));
      return h('li', { class: 'history-version', testid: 'agreement-history-version', dataset: { version: String(v.version) } },
        h('div', { class: 'log-head' },
          h('span', { class: 'history-n' }, `Version ${v.version}`),
          h('span', { class: 'log-topic' }, topicLabel(v.topic)),
          v.ts ? h('time', { class: 'muted', datetime: new Date(v.ts).toISOString() }, formatDateTime(v.ts)) : null),
        h('p', { class: 'log-meta' }, `Proposed by ${nameOf(s, r, r.proposed_by)}${accepted.length ? ` · accepted by ${accepted.join(', ')}` : ''} · log record #${r.n}`),
        changesView(v.changes, { testid: 'history-changes' }) || h('p', { class: 'muted' }, 'No change to the terms.'));
    })));
}

// A user id of a log record as a name: the reader's own, else the name its
// proposal or decision event carries, else any loaded event of that user in
// the record's channel; the id otherwise.
function nameOf(s, r, id) {
  if (id === 'system') return 'Parley';
  if (id === s.me.id && s.me.name) return s.me.name;
  const info = typeof r.ch === 'string' ? /^eng:([^:]+)/.exec(r.ch) : null;
  const parties = info && s.engagements.get(info[1])?.state?.parties;
  for (const p of parties ? [parties.client, parties.expert] : []) if (p && p.id === id && p.name) return p.name;
  const c = typeof r.ch === 'string' ? s.channels.get(r.ch) : null;
  if (!c) return String(id ?? 'someone');
  for (const seq of [r.proposal_seq, r.decision_seq]) {
    const ev = c.events.get(seq);
    if (ev && ev.from && ev.from.id === id && ev.from.name) return ev.from.name;
  }
  const any = c.list().find((ev) => ev.from && ev.from.id === id && ev.from.name);
  return any ? any.from.name : String(id ?? 'someone');
}

export function decisionLogPanel(s, eng) {
  const log = eng.log;
  let badge;
  if (log.status === 'ready' && log.verify) {
    if (!log.records.length) badge = h('span', { class: 'chain empty', testid: 'chain-status', dataset: { state: 'empty' } }, 'No records yet');
    else if (log.verify.ok) badge = h('span', { class: 'chain ok', testid: 'chain-status', dataset: { state: 'verified' } }, `✓ Chain verified · ${log.records.length} record${log.records.length === 1 ? '' : 's'}`);
    else badge = h('span', { class: 'chain bad', testid: 'chain-status', dataset: { state: 'broken' }, role: 'alert' }, `✕ Chain broken at record ${log.verify.firstBad.n ?? log.verify.firstBad.index + 1}: ${log.verify.firstBad.reason}`);
  } else if (log.status === 'unavailable') {
    badge = h('span', { class: 'chain empty', testid: 'chain-status', dataset: { state: 'unavailable' } }, log.error);
  } else {
    badge = h('span', { class: 'chain empty', testid: 'chain-status', dataset: { state: 'checking' } }, 'Checking…');
  }
  const sigBadge = log.status === 'ready' && log.sigs ? signatureBadge(log.sigs) : null;
  const results = log.verify ? log.verify.results : [];
  const sigResults = log.sigs ? log.sigs.results : [];
  const list = log.records.length ? h('ol', { class: 'log-list', testid: 'decision-log-records' }, log.records.slice().reverse().map((r) => {
    const i = r.n - 1;
    // A record is verified when it chains and, where this browser can tell, its signature holds.
    const ok = results[i] ? results[i].ok && (sigResults[i] ? sigResults[i].ok : true) : null;
    return h('li', { class: `log-rec${ok === false ? ' bad' : ''}`, testid: 'decision-log-record', dataset: { n: String(r.n), verified: ok ? 'true' : 'false' } },
      h('div', { class: 'log-head' },
        h('span', { class: 'log-n' }, `#${r.n}`),
        h('span', { class: 'log-topic' }, topicLabel(r.topic)),
        h('span', { class: ok ? 'mark ok' : 'mark bad', 'aria-label': ok ? 'verified' : 'not verified' }, ok ? '✓' : '✕')),
      recordSentence(s, r) || [r.text ? h('p', { class: 'log-text' }, String(r.text)) : null,
        (r.topic === 'call' ? callRecordView(r.terms) : null) || termsView(r.topic === 'phase' ? null : r.terms) || (r.topic === 'phase' && r.terms ? h('p', { class: 'log-text' }, `→ ${humanize(r.terms.to)}`) : null)],
      h('p', { class: 'log-meta' }, `Proposed by ${nameOf(s, r, r.proposed_by)} · ${acceptedAutomatically(r) ? 'accepted automatically' : `accepted by ${(Array.isArray(r.accepted_by) ? r.accepted_by : []).map((id) => nameOf(s, r, id)).join(', ')}`}${r.ts ? ` · ${formatDateTime(r.ts)}` : ''}`),
      h('p', { class: 'log-hash', title: String(r.hash) }, `${String(r.hash).slice(0, 16)}…`));
  })) : null;
  return h('section', { class: 'panel log-panel', 'aria-labelledby': 'd-log', testid: 'decision-log' },
    h('h2', { id: 'd-log' }, 'Decision log'),
    h('div', { class: 'log-bar' }, badge,
      h('button', { type: 'button', class: 'btn ghost small', testid: 'decision-log-download', 'aria-label': 'Download the decision log as JSONL', onclick: () => downloadLog(s, eng) }, '⇩ JSONL'),
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Check the decision log again', testid: 'decision-log-refresh', onclick: () => s.loadLog(eng.id) }, '↻')),
    sigBadge,
    list);
}

// The records of an invitation's acceptance and of an acknowledgement, as a
// sentence ("Bob accepted the invitation", "Alice acknowledged Mutual NDA").
function recordSentence(s, r) {
  const by = (Array.isArray(r.accepted_by) ? r.accepted_by : []).map((id) => nameOf(s, r, id)).join(', ') || 'Someone';
  if (r.topic === 'invitation') {
    return h('p', { class: 'log-text', testid: 'log-sentence' }, h('strong', null, by), ' accepted the invitation', r.text ? ` “${String(r.text)}”` : '');
  }
  // A delivery's approved files (§9.6) and the reveal of reviews (§9.7).
  if (r.topic === 'delivery') return deliveryRecordView(r);
  if (r.topic === 'reviews') return reviewsRecordView(s, r);
  if (r.topic === 'acknowledgement') {
    const title = r.terms && typeof r.terms.title === 'string' ? r.terms.title : String((r.terms && r.terms.key) ?? 'a requirement');
    return h('p', { class: 'log-text', testid: 'log-sentence' }, h('strong', null, by), ' acknowledged ', h('strong', null, title));
  }
  return null;
}

export async function downloadLog(s, eng) {
  let text = null;
  try {
    let all = '';
    for (let after = 0; ;) {
      const res = await fetch(`/api/v1/engagements/${encodeURIComponent(eng.id)}/decisions?format=jsonl&after=${after}`, { headers: { Authorization: `Bearer ${s.token}` }, cache: 'no-store' });
      if (!res.ok) throw new Error(`status ${res.status}`);
      all += await res.text();
      const next = res.headers.get('Parley-Next');
      if (next === null || Number(next) <= after) break;
      after = Number(next);
    }
    text = all;
  } catch { /* fall back to the records already loaded */ }
  if (text === null) text = eng.log.records.map((r) => JSON.stringify(r)).join('\n') + (eng.log.records.length ? '\n' : '');
  const url = URL.createObjectURL(new Blob([text], { type: 'application/x-ndjson' }));
  const a = h('a', { href: url, download: `parley-${eng.id}-decisions.jsonl`, hidden: true });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 5000);
}

// What the signature check of the decision log found, as one line.
function signatureBadge(sigs) {
  const base = { testid: 'signature-status', dataset: { state: sigs.state } };
  switch (sigs.state) {
    case 'verified':
      return h('p', { ...base, class: 'chain ok sig' }, `✓ Signatures verified · key ${sigs.kids.map((k) => k.slice(0, 8)).join(', ')}`);
    case 'broken':
      return h('p', { ...base, class: 'chain bad sig', role: 'alert' }, `✕ Signature invalid at record ${sigs.firstBad.n ?? sigs.firstBad.index + 1}: ${sigs.firstBad.reason}`);
    case 'unsupported':
      return h('p', { ...base, class: 'chain empty sig' }, 'Signatures not checked by this browser');
    default:
      return h('p', { ...base, class: 'chain empty sig' }, 'Signatures not checked: the signing keys are not available');
  }
}
