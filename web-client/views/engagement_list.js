// Support staff: every engagement, from `GET /api/v1/engagements` (protocol
// §9.1), page by page, with filters, and claiming a dispute so that two staff
// members do not both take it.
import { h, replaceChildren, setText, humanize, formatDuration, formatDateTime, explain } from '../dom.js';
import { ENG_ID, PHASES } from '../model.js';
import { claimsOf, claimControls } from './claim.js';
import { toast, enterPageView } from './shell.js';
import { renderSidebar } from './sidebar.js';

const PAGE = 50;
// "Load more" reads on until it found a page of rows that match the filters
// (the server's phase filter may answer short or empty pages that still have
// a `next`), but never more than this many pages per click.
const MAX_PAGES_PER_LOAD = 10;
const ALL_PHASES = ['invited', ...PHASES, 'declined'];

const FILTERS = [
  { key: 'dispute', label: 'Open disputes', test: (row) => disputes(row).length > 0 },
  { key: 'overdue', label: 'Overdue', test: (row) => typeof row.phase_due === 'number' && row.phase_due < Date.now() },
  { key: 'owed', label: 'Owed replies', test: (row) => !!row.owed_reply },
];

// One list state per session: the rows read so far survive leaving the view.
const lists = new WeakMap();

function listState(s) {
  let st = lists.get(s);
  if (!st) {
    st = { phase: '', filters: new Set(), rows: [], next: null, done: false, loading: false, error: null, gen: 0, started: false };
    lists.set(s, st);
    // Claims arrive as messages in `support`: redraw the claims when it grows.
    s.conn.addEventListener('events', (ev) => {
      if (ev.detail.ch === 'support' && s.current && s.current.kind === 'list') drawRows(s);
    });
    s.conn.addEventListener('reset', (ev) => {
      if (ev.detail.ch === 'support' && s.current && s.current.kind === 'list') drawRows(s);
    });
  }
  return st;
}

function disputes(row) {
  return row.open_flags.filter((f) => f.type === 'dispute');
}

// A row as the server sent it, kept only with the fields and types it should have.
function cleanRow(raw) {
  if (!raw || typeof raw !== 'object' || typeof raw.id !== 'string' || !ENG_ID.test(raw.id)) return null;
  const flags = Array.isArray(raw.open_flags) ? raw.open_flags : [];
  return {
    id: raw.id,
    title: typeof raw.title === 'string' && raw.title ? raw.title : null,
    phase: typeof raw.phase === 'string' ? raw.phase : null,
    phase_due: typeof raw.phase_due === 'number' ? raw.phase_due : null,
    open_flags: flags.filter((f) => f && typeof f === 'object' && Number.isInteger(f.seq) && f.seq > 0)
      .map((f) => ({ seq: f.seq, type: String(f.type || ''), state: String(f.state || 'open'), text: typeof f.text === 'string' ? f.text : '' })),
    owed_reply: raw.owed_reply && typeof raw.owed_reply === 'object' ? raw.owed_reply : null,
  };
}

function matches(st, row) {
  return FILTERS.every((f) => !st.filters.has(f.key) || f.test(row));
}

async function fetchPage(s, phase, after) {
  const q = new URLSearchParams({ limit: String(PAGE) });
  if (phase) q.set('phase', phase);
  if (after) q.set('after', after);
  const res = await fetch(`/api/v1/engagements?${q}`, { headers: { Authorization: `Bearer ${s.token}` }, cache: 'no-store' });
  if (res.status === 401) { s.conn.refuse('unauthorized', ''); throw new Error('Signed out.'); }
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new Error(body && body.error ? explain(body.error) : `The server answered ${res.status}.`);
  if (!body || !Array.isArray(body.engagements)) throw new Error('The server sent a list this page cannot read.');
  return body;
}

// Reads the next page (or, with a filter on, pages until a page of matches).
async function loadMore(s) {
  const st = listState(s);
  if (st.loading || st.done) return;
  const gen = st.gen;
  st.loading = true;
  st.error = null;
  drawRows(s);
  try {
    let found = 0;
    for (let pages = 0; pages < MAX_PAGES_PER_LOAD; pages++) {
      const after = st.next;
      const body = await fetchPage(s, st.phase, after);
      if (gen !== st.gen) return;
      const known = new Set(st.rows.map((r) => r.id));
      const rows = body.engagements.map(cleanRow).filter((r) => r && !known.has(r.id));
      st.rows.push(...rows);
      found += rows.filter((r) => matches(st, r)).length;
      const next = typeof body.next === 'string' && ENG_ID.test(body.next) && body.next !== after ? body.next : null;
      st.next = next;
      if (!next) { st.done = true; break; }
      // A page may hold fewer rows than asked for (a phase filter, the reply bound).
      if (found >= PAGE) break;
    }
  } catch (err) {
    if (gen === st.gen) st.error = err.message;
  }
  if (gen !== st.gen) return;
  st.loading = false;
  drawRows(s);
}

function restart(s) {
  const st = listState(s);
  st.gen += 1;
  st.rows = [];
  st.next = null;
  st.done = false;
  st.loading = false;
  st.error = null;
  loadMore(s);
}

export function showEngagementList(s) {
  const st = listState(s);
  enterPageView(s, 'list', 'All engagements · Parley', 'All engagements');

  const phaseSelect = h('select', { id: 'eng-list-phase', testid: 'eng-list-phase', onchange: () => { st.phase = phaseSelect.value; restart(s); } },
    h('option', { value: '' }, 'All phases'),
    ALL_PHASES.map((p) => h('option', { value: p, selected: st.phase === p }, humanize(p))));
  const filterButtons = FILTERS.map((f) => h('button', {
    type: 'button', class: 'btn small filter', testid: `eng-filter-${f.key}`, 'aria-pressed': String(st.filters.has(f.key)),
    onclick: (ev) => {
      if (st.filters.has(f.key)) st.filters.delete(f.key); else st.filters.add(f.key);
      ev.currentTarget.setAttribute('aria-pressed', String(st.filters.has(f.key)));
      drawRows(s);
      // Fewer than a page shown: read on, so the filter finds what exists.
      if (st.rows.filter((r) => matches(st, r)).length < PAGE && !st.done) loadMore(s);
    },
  }, f.label));
  s.el.list = {
    summary: h('p', { class: 'eng-list-summary', testid: 'eng-list-summary', 'aria-live': 'polite' }),
    rows: h('ul', { class: 'eng-rows', testid: 'eng-rows' }),
    more: h('button', { type: 'button', class: 'btn', testid: 'eng-list-more', onclick: () => loadMore(s) }, 'Load more'),
    error: h('p', { class: 'form-error', role: 'alert', testid: 'eng-list-error', hidden: true }),
  };
  replaceChildren(s.el.main, h('section', { class: 'eng-list-view', testid: 'eng-list', 'aria-labelledby': 'eng-list-h' },
    h('h1', { id: 'eng-list-h' }, 'All engagements'),
    h('div', { class: 'eng-list-filters', role: 'group', 'aria-label': 'Filters' },
      filterButtons,
      h('label', { for: 'eng-list-phase', class: 'eng-list-phase' }, 'Phase', phaseSelect)),
    s.el.list.summary,
    s.el.list.error,
    s.el.list.rows,
    h('div', { class: 'eng-list-foot' }, s.el.list.more)));
  renderSidebar(s);
  if (!st.started) { st.started = true; loadMore(s); } else drawRows(s);
}

function drawRows(s) {
  const st = listState(s);
  const el = s.el.list;
  if (!el || !el.rows.isConnected) return;
  const claims = claimsOf(s);
  const shown = st.rows.filter((r) => matches(st, r));
  replaceChildren(el.rows, shown.map((row) => drawRow(s, row, claims)));
  const read = `${st.rows.length} engagement${st.rows.length === 1 ? '' : 's'} read`;
  setText(el.summary, st.loading ? `Loading… ${read}.`
    : st.filters.size ? `${shown.length} match${shown.length === 1 ? '' : 'es'} of ${read}${st.done ? '' : ' so far'}.`
      : `${read}${st.done ? '' : ' so far'}.`);
  el.error.hidden = !st.error;
  setText(el.error, st.error ? `The engagements could not be read: ${st.error}` : '');
  el.more.hidden = st.done;
  el.more.disabled = st.loading;
}

function dueText(row) {
  if (row.phase_due === null) return null;
  const left = row.phase_due - Date.now();
  return left < 0
    ? h('span', { class: 'eng-due overdue', testid: 'eng-row-overdue', title: formatDateTime(row.phase_due) }, `Overdue by ${formatDuration(-left)}`)
    : h('span', { class: 'eng-due', title: formatDateTime(row.phase_due) }, `Due in ${formatDuration(left)}`);
}

function drawRow(s, row, claims) {
  const href = `#/eng/${encodeURIComponent(row.id)}`;
  const owed = row.owed_reply;
  const facts = [];
  if (row.open_flags.length) facts.push(h('span', { class: 'eng-fact', testid: 'eng-row-flags' }, `${row.open_flags.length} open flag${row.open_flags.length === 1 ? '' : 's'}`));
  if (owed) {
    const since = typeof owed.since_ts === 'number' ? ` for ${formatDuration(Date.now() - owed.since_ts)}` : '';
    facts.push(h('span', { class: 'eng-fact owed', testid: 'eng-row-owed' }, `${humanize(owed.side || 'a party')} owes a reply${since}`));
  }
  return h('li', { class: 'eng-row', testid: `eng-row-${row.id}`, dataset: { eng: row.id } },
    h('a', { class: 'eng-row-main', href, testid: 'eng-row-open' },
      h('span', { class: 'eng-row-title' }, row.title || `Engagement ${row.id}`),
      row.title ? h('span', { class: 'eng-row-id' }, row.id) : null,
      row.phase ? h('span', { class: `phase-chip phase-${row.phase}` }, humanize(row.phase)) : null,
      dueText(row)),
    facts.length ? h('div', { class: 'eng-row-facts' }, facts) : null,
    disputes(row).map((f) => disputeLine(s, row, f, claims)));
}

// One open dispute: who claimed it, and Claim while nobody else has.
function disputeLine(s, row, flag, claims) {
  return h('div', { class: 'eng-dispute', testid: `eng-dispute-${flag.seq}` },
    h('span', { class: 'flag-type dispute' }, `Dispute #${flag.seq}`),
    flag.text ? h('span', { class: 'eng-dispute-text' }, flag.text) : null,
    ...claimControls(s, row.id, flag.seq, claims));
}
