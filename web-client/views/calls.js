// Introductory calls on screen (protocol §9.5): a call proposal's slots with
// the pick that accepts one, the next scheduled call with its live countdown
// (channel head and details panel), "Add to calendar", the reminder's
// sentence, and the agreed due date (§9.4).
import { h, setText } from '../dom.js';
import { engagementOf } from '../model.js';
import {
  localZone, callSlots, slotTexts, zoneCaption, countdownText, scheduledCalls, nextCall, reminderText, dueText,
  calendarFileName, safeLink, asSlot, knownZone,
} from '../calls_text.js';
import { toast } from './shell.js';

// The slot the reader picked on each open call proposal ("ch#seq" → index),
// kept while cards are redrawn by state pushes. Per session.
const picks = new WeakMap();
function picksOf(s) {
  if (!picks.has(s)) picks.set(s, new Map());
  return picks.get(s);
}

let pickCount = 0;

const who = (u) => (u && (u.name || u.id)) || null;

// The accepting decision of a call proposal, if loaded.
function acceptance(p) {
  return (p.decisions || []).find((d) => d.body && d.body.verdict === 'accepted') || null;
}

// Below a call proposal's text: its slots in the reader's zone (and the
// proposer's), a radio per slot for the reader who may accept it, the chosen
// one once accepted, and the meeting link.
export function callDetails(s, p, st) {
  const b = p.ev.body || {};
  const terms = b.terms && typeof b.terms === 'object' ? b.terms : {};
  const slots = callSlots(terms);
  const tz = localZone();
  const key = `${p.ch}#${p.ev.seq}`;
  const choosing = st.status === 'open' && s.canDecide(p);
  const accepted = acceptance(p);
  const chosen = accepted && Number.isInteger(accepted.body.slot) ? accepted.body.slot : null;
  const now = Date.now();
  pickCount += 1;
  const name = `call-slot-${pickCount}`;
  const items = slots.map((slot) => {
    const { text, other } = slotTexts(slot, tz, terms.tz);
    const passed = slot.start <= now;
    // Separate spans, so that the parts read apart (a screen reader joins text nodes).
    const label = [h('span', { class: 'call-slot-text', testid: 'call-slot-text' }, text),
      other ? h('span', { class: 'call-slot-other muted' }, `(${other})`) : null,
      h('span', { class: 'call-slot-len' }, `· ${slot.minutes} min`),
      passed && st.status === 'open' ? h('span', { class: 'muted' }, '· passed') : null,
      slot.index === chosen ? h('span', { class: 'pill outcome-accepted', testid: 'call-slot-chosen' }, 'Chosen') : null];
    if (!choosing) {
      return h('li', { class: `call-slot${slot.index === chosen ? ' chosen' : ''}`, testid: 'call-slot', dataset: { index: String(slot.index) } }, label);
    }
    const id = `${name}-${slot.index}`;
    const radio = h('input', {
      type: 'radio', name, id, value: String(slot.index), testid: 'call-slot-radio', disabled: passed,
      checked: picksOf(s).get(key) === slot.index, dataset: { pick: key },
      onchange: () => { picksOf(s).set(key, slot.index); showPick(key, slot.index); },
    });
    return h('li', { class: 'call-slot choosing', testid: 'call-slot', dataset: { index: String(slot.index) } },
      radio, h('label', { for: id }, label));
  });
  const link = safeLink(terms.link);
  return [
    h('p', { class: 'call-zone muted', testid: 'call-zone' }, choosing ? `Pick one time · ${zoneCaption(tz)}` : zoneCaption(tz)),
    choosing
      ? h('fieldset', { class: 'call-pick' }, h('legend', { class: 'visually-hidden' }, `Times offered in proposal ${p.ev.seq}`),
        h('ul', { class: 'call-slots', testid: 'call-slots' }, items))
      : h('ul', { class: 'call-slots', testid: 'call-slots' }, items),
    link ? h('p', { class: 'call-link' }, 'Meeting link: ', h('a', { href: link, target: '_blank', rel: 'noopener noreferrer', class: 'text-link', testid: 'call-link' }, link)) : null,
    choosing ? h('p', { class: 'form-error', role: 'alert', testid: 'call-pick-error', hidden: true }) : null,
  ];
}

// The same proposal is drawn in the timeline and in the details panel's open
// proposals: a time picked in one is shown picked in the other.
function showPick(key, index) {
  for (const r of document.querySelectorAll('input[type=radio][data-pick]')) {
    if (r.dataset.pick === key && r.value === String(index)) r.checked = true;
  }
}

// Accepting a call sends the picked slot's index (protocol §9.5).
export async function acceptCall(s, p, btn) {
  const card = btn ? btn.closest('.card, .mini-card') : null;
  const error = card ? card.querySelector('[data-testid="call-pick-error"]') : null;
  const slot = picksOf(s).get(`${p.ch}#${p.ev.seq}`);
  if (!Number.isInteger(slot)) {
    if (error) { setText(error, 'Pick one of the times first.'); error.hidden = false; }
    const first = card ? card.querySelector('input[type=radio]:not(:disabled)') : null;
    if (first) first.focus();
    return;
  }
  if (error) error.hidden = true;
  if (btn) btn.disabled = true;
  try {
    await s.send(p.ch, 'decision', { proposal: p.ev.seq, verdict: 'accepted', slot }, { quiet: true });
    picksOf(s).delete(`${p.ch}#${p.ev.seq}`);
    toast(s, `You accepted the call, proposal #${p.ev.seq}.`);
  } catch (err) {
    if (btn && btn.isConnected) btn.disabled = false;
    const where = btn && btn.isConnected ? btn.closest('.card, .mini-card') : null;
    const shown = where ? where.querySelector('[data-testid="call-pick-error"]') : null;
    const text = err && err.code === 'conflict' ? 'That time can no longer be chosen: pick another, or reject the call.' : (err && err.message) || 'The call was not accepted.';
    if (shown) { setText(shown, text); shown.hidden = false; } else toast(s, text, 'error');
  }
}

// What the timeline's cards call (through the timeline context).
export function callHooks(s) {
  return {
    callDetails: (p, st) => callDetails(s, p, st),
    acceptCall: (p, btn) => acceptCall(s, p, btn),
    reminderText: (ev) => reminderSentence(s, ev),
  };
}

// The other party of call proposal `seq` for the reader: whoever of its
// proposer and its acceptor is not the reader (both, for support).
function otherParty(s, ch, seq) {
  const info = engagementOf(ch);
  const eng = info ? s.engagements.get(info.id) : null;
  const p = eng ? eng.proposals.get(`${ch}#${seq}`) : null;
  if (!p) return null;
  const people = [p.ev.from, acceptance(p) && acceptance(p).from].filter((u) => u && u.id);
  const others = people.filter((u) => u.id !== s.me.id);
  if (others.length === people.length && people.length === 2) return `${who(people[0])} and ${who(people[1])}`;
  return others.length ? who(others[0]) : null;
}

function reminderSentence(s, ev) {
  const b = ev.body || {};
  if (!Number.isSafeInteger(b.start)) return 'A call starts soon';
  return reminderText({ who: otherParty(s, ev.ch, b.call), start: b.start, ts: ev.ts, tz: localZone() });
}

// A countdown that the session's clock keeps current (tickCountdowns).
function countdown(call, extra = {}) {
  return h('span', {
    class: 'call-countdown', testid: 'call-countdown', ...extra,
    dataset: { start: String(call.start), minutes: String(call.minutes) },
  }, countdownText(call, Date.now()));
}

export function tickCountdowns() {
  const now = Date.now();
  for (const el of document.querySelectorAll('.call-countdown[data-start]')) {
    const text = countdownText({ start: Number(el.dataset.start), minutes: Number(el.dataset.minutes) }, now);
    setText(el, text);
    el.classList.toggle('now', text === 'Call now');
  }
}

function calendarButton(s, engId, testid = 'call-calendar') {
  return h('button', {
    type: 'button', class: 'btn ghost small', testid,
    'aria-label': 'Add to calendar: download the scheduled calls as an .ics file',
    onclick: (e) => downloadCalendar(s, engId, e.currentTarget),
  }, '⇩ Add to calendar');
}

// The engagement's calls as an RFC 5545 file, fetched with the reader's
// token and offered as a download.
export async function downloadCalendar(s, engId, btn) {
  if (btn) btn.disabled = true;
  try {
    const res = await fetch(`/api/v1/engagements/${encodeURIComponent(engId)}/calendar.ics`, { headers: { Authorization: `Bearer ${s.token}` }, cache: 'no-store' });
    if (!res.ok) throw new Error(`the server answered ${res.status}`);
    const url = URL.createObjectURL(new Blob([await res.text()], { type: 'text/calendar' }));
    const a = h('a', { href: url, download: calendarFileName(engId), hidden: true });
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 5000);
  } catch (err) {
    toast(s, `The calendar could not be downloaded: ${err.message}.`, 'error');
  } finally {
    if (btn) btn.disabled = false;
  }
}

// What identifies the channel head's call line: it is drawn again only when it changes.
export function nextCallKey(eng) {
  const c = nextCall(eng && eng.state, Date.now());
  return c ? `${c.proposal}|${c.start}|${c.minutes}|${c.link}` : '';
}

// The next scheduled call in the channel head: countdown, when, link, calendar.
export function nextCallBar(s, eng) {
  const call = nextCall(eng && eng.state, Date.now());
  if (!call) return null;
  const { text } = slotTexts(call, localZone(), null);
  return h('div', { class: 'next-call', testid: 'next-call', dataset: { proposal: String(call.proposal) } },
    h('span', { class: 'next-call-icon', 'aria-hidden': 'true' }, '☎'),
    countdown(call),
    h('span', { class: 'next-call-when' }, text),
    call.link ? h('a', { href: call.link, target: '_blank', rel: 'noopener noreferrer', class: 'next-call-link', testid: 'next-call-link' }, 'Join') : null,
    h('span', { class: 'next-call-actions' }, calendarButton(s, eng.id, 'next-call-calendar')));
}

// The details panel's section: the agreed due date and the scheduled calls
// (past ones too), with "Add to calendar". Null when there is neither.
export function callsPanel(s, eng) {
  const state = eng && eng.state;
  const calls = scheduledCalls(state);
  const tz = localZone();
  const due = dueText(state && state.due, tz);
  if (!calls.length && !due) return null;
  const now = Date.now();
  const next = nextCall(state, now);
  return h('section', { class: 'panel', 'aria-labelledby': 'd-calls', testid: 'calls-panel' },
    h('h2', { id: 'd-calls' }, calls.length ? 'Calls and dates' : 'Dates'),
    due ? h('p', { class: 'agreed-due', testid: 'agreed-due' }, 'Agreed due date: ', h('strong', null, due)) : null,
    calls.length ? [
      h('p', { class: 'muted' }, zoneCaption(tz)),
      h('ul', { class: 'mini-list call-list', testid: 'call-list' }, calls.map((c) => {
        const ended = c.start + c.minutes * 60000 <= now;
        return h('li', { class: `call-item${ended ? ' ended' : ''}${next && c.proposal === next.proposal ? ' next' : ''}`, testid: 'call-item', dataset: { proposal: String(c.proposal) } },
          h('span', { class: 'call-item-when' }, slotTexts(c, tz, null).text),
          ended ? h('span', { class: 'muted' }, 'Ended') : countdown(c),
          c.link && !ended ? h('a', { href: c.link, target: '_blank', rel: 'noopener noreferrer', class: 'text-link call-item-link', testid: 'call-item-link' }, c.link) : null);
      })),
      h('div', { class: 'log-bar' }, calendarButton(s, eng.id)),
    ] : null);
}

// A call's decision-log record (its `terms` are the chosen slot): when, in
// the reader's zone, and the link. Null when the terms are not a slot.
export function callRecordView(terms) {
  const slot = asSlot(terms);
  if (!slot) return null;
  const link = safeLink(terms.link);
  return h('p', { class: 'log-text', testid: 'call-record' }, `${slotTexts(slot, localZone(), null).text} (${knownZone(localZone()) || 'UTC'})`,
    link ? [h('br'), link] : null);
}
