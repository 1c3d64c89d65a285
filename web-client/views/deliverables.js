// Deliverables (protocol §9.6, §9.9): the details panel's section (each
// deliverable, its versions with their files and hashes, its status in
// words, the revisions used and allowed, the review deadline with a live
// countdown and the last day's warning), the actions the server's `can`
// lists (Accept, Request revision, Submit deliverable / new version) with
// their dialogs, and the timeline's delivery, revision, decision and
// review-window entries.
import { h, setText, formatDateTime, excerpt } from '../dom.js';
import { engagementOf } from '../model.js';
import {
  DELIVERABLE_KEY, deliverablesOf, statusWords, reviewCountdown, isLastDay, dueDate, lastDayWarning,
  revisionsText, versionLabel, cleanFiles, shortHash, formatSize,
} from '../deliverables_text.js';
import { fileChips } from './file_chips.js';
import { filePicker } from './attachments.js';
import { dialog, FieldError } from './dialogs.js';
import { toast, togglePanel } from './shell.js';

// A delivery's text is at most 4000 characters (the server keeps it in the
// state); a revision request's as long as a message.
const MAX_DELIVERY_TEXT = 4000;
const MAX_TEXT = 16384;

const who = (u) => (u && (u.name || u.id)) || 'Someone';

function deliverablesFor(s, eng) {
  const c = s.channels.get(`eng:${eng.id}`);
  return deliverablesOf(eng.state, c ? c.list() : []);
}

function revisionsAllowed(eng) {
  const v = eng.state && eng.state.settings ? eng.state.settings.revisions : undefined;
  return Number.isInteger(v) ? v : null;
}

// -------------------------------------------------------------- the panel

export function deliverablesPanel(s, eng) {
  if (!eng.state) return null;
  const can = s.actions(eng.id);
  const list = deliverablesFor(s, eng);
  if (!list.length && !can.has('deliver')) return null;
  return h('section', { class: 'panel deliverables-panel', id: 'd-deliverables-panel', 'aria-labelledby': 'd-deliverables', testid: 'deliverables-panel' },
    h('h2', { id: 'd-deliverables' }, 'Deliverables', list.length ? h('span', { class: 'count' }, String(list.length)) : null),
    can.has('deliver') ? h('div', { class: 'log-bar' },
      h('button', { type: 'button', class: 'btn primary small', testid: 'deliver-new', onclick: (e) => openDeliverDialog(s, eng, null, e.currentTarget) }, '⇪ Submit deliverable')) : null,
    list.length
      ? h('ul', { class: 'deliverable-list' }, list.map((d) => deliverableItem(s, eng, d, can)))
      : h('p', { class: 'muted', testid: 'deliverables-none' }, 'Nothing delivered yet.'));
}

// What a button acts on, read out after its visible text ("Accept: report v2").
const hiddenWhat = (what) => h('span', { class: 'visually-hidden' }, `: ${what}`);

function deliverableItem(s, eng, d, can) {
  const latest = d.versions.find((v) => v.seq === d.seq) || d.versions[0] || null;
  const deciding = Number.isInteger(d.seq) && can.has(`decide:${d.seq}`);
  const revising = Number.isInteger(d.seq) && can.has(`revise:${d.seq}`);
  const allowed = revisionsAllowed(eng);
  const revisions = revisionsText(d.revisions_used, allowed);
  const awaiting = d.status === 'submitted';
  const actions = [];
  if (deciding) {
    actions.push(h('button', { type: 'button', class: 'btn primary small', testid: 'deliverable-accept', onclick: (e) => openAcceptDialog(s, eng, d, latest, e.currentTarget) }, 'Accept', hiddenWhat(versionLabel(d.key, d.version, d.final))));
  }
  if (revising) {
    actions.push(h('button', { type: 'button', class: 'btn small', testid: 'deliverable-revise', onclick: (e) => openRevisionDialog(s, eng, d, e.currentTarget) }, 'Request revision…', hiddenWhat(versionLabel(d.key, d.version, false))));
  }
  if (can.has('deliver')) {
    actions.push(h('button', { type: 'button', class: 'btn small', testid: 'deliverable-new-version', onclick: (e) => openDeliverDialog(s, eng, d.key, e.currentTarget) }, 'Submit new version…', hiddenWhat(d.key)));
  }
  // The client may decide but has no revision left: the button is gone, the line says why.
  const noneLeft = deciding && !revising && allowed !== null && d.revisions_used >= allowed;
  return h('li', { class: `deliverable status-${d.status}`, testid: 'deliverable', dataset: { key: d.key, status: String(d.status), seq: String(d.seq ?? '') } },
    h('div', { class: 'deliverable-head' },
      h('span', { class: 'deliverable-key', testid: 'deliverable-key' }, d.key),
      h('span', { class: 'deliverable-version', testid: 'deliverable-version' }, `v${d.version ?? '?'}`),
      d.final ? h('span', { class: 'pill final', testid: 'deliverable-final' }, 'Final') : null,
      h('span', { class: `pill deliverable-status status-${d.status}`, testid: 'deliverable-status' }, statusWords(d.status))),
    awaiting && Number.isFinite(d.review_due) ? reviewDue(d.review_due, deciding) : null,
    revisions && d.status !== 'accepted' ? h('p', { class: `deliverable-revisions${noneLeft ? ' none-left' : ''}`, testid: 'deliverable-revisions' }, noneLeft ? `${revisions}: accept, or talk it over in the conversation.` : `Revisions: ${revisions}`) : null,
    actions.length ? h('div', { class: 'card-actions' }, actions) : null,
    d.versions.length
      ? h('ol', { class: 'deliverable-versions', 'aria-label': `Versions of ${d.key}` }, d.versions.map((v) => versionItem(s, eng, v)))
      : null,
    d.versions.length < (d.version || 0) ? h('p', { class: 'muted hint' }, 'Earlier versions are further up the conversation.') : null);
}

function versionItem(s, eng, v) {
  return h('li', { class: 'deliverable-v', testid: 'deliverable-v', dataset: { version: String(v.version ?? ''), seq: String(v.seq) } },
    h('div', { class: 'deliverable-v-head' },
      h('strong', null, `v${v.version ?? '?'}${v.final ? ' · final' : ''}`),
      v.ts ? h('time', { class: 'muted', datetime: new Date(v.ts).toISOString() }, formatDateTime(v.ts)) : null,
      h('span', { class: 'muted' }, `by ${who(v.from)}`)),
    v.text ? h('p', { class: 'deliverable-text' }, excerpt(v.text, 160)) : null,
    fileChips(s, eng.id, v.files));
}

// The review deadline: its date, a countdown the session's clock keeps
// current (tickReviewWindowCountdowns), and the last day's warning.
function reviewDue(due, deciding) {
  const now = Date.now();
  const last = isLastDay(due, now);
  return h('div', { class: `review-due${last ? ' last-day' : ''}`, testid: 'review-due', dataset: { due: String(due) } },
    h('p', null, 'Review by ', h('time', { datetime: new Date(due).toISOString(), testid: 'review-due-date' }, dueDate(due)), ' · ',
      h('span', { class: 'review-countdown', testid: 'review-countdown', dataset: { due: String(due) } }, reviewCountdown(due, now))),
    h('p', { class: 'review-warning', testid: 'review-warning', role: 'status', hidden: !last }, '⚠ ', lastDayWarning(due, { deciding })));
}

export function tickReviewWindowCountdowns() {
  const now = Date.now();
  for (const el of document.querySelectorAll('.review-due[data-due]')) {
    const due = Number(el.dataset.due);
    const last = isLastDay(due, now);
    el.classList.toggle('last-day', last);
    const cd = el.querySelector('.review-countdown');
    if (cd) setText(cd, reviewCountdown(due, now));
    const warn = el.querySelector('.review-warning');
    if (warn && warn.hidden === last) warn.hidden = !last;
  }
}

// -------------------------------------------------------------- dialogs

function fileSummary(files) {
  const list = cleanFiles(files);
  if (!list.length) return null;
  return h('ul', { class: 'dialog-files', testid: 'dialog-files' }, list.map((f) => h('li', null,
    h('strong', null, f.name), f.size !== null ? ` · ${formatSize(f.size)}` : '', ' · ',
    h('code', { title: f.sha256 }, shortHash(f.sha256)))));
}

function openAcceptDialog(s, eng, d, latest, opener) {
  const label = versionLabel(d.key, d.version, d.final);
  dialog(s, {
    title: `Accept ${label}`,
    submit: `Accept v${d.version}`,
    testid: 'accept-delivery-dialog',
    opener,
    fields: [
      h('p', null, `You accept version ${d.version} of `, h('strong', null, d.key), latest && latest.files.length ? ' with these files:' : '.'),
      latest ? fileSummary(latest.files) : null,
      h('p', { class: 'hint' }, 'The acceptance goes into the decision log with each file\'s name and SHA-256 hash.'),
      d.final ? h('p', { class: 'hint', testid: 'accept-final-note' }, 'This is the final delivery: accepted during completion, it closes the engagement.') : null],
    post: () => ({ ch: `eng:${eng.id}`, kind: 'decision', body: { proposal: d.seq, verdict: 'accepted' } }),
    done: () => toast(s, `You accepted ${label}.`),
  });
}

function openRevisionDialog(s, eng, d, opener) {
  const text = h('textarea', { id: 'dlg-revise-text', rows: '4', required: true, testid: 'revise-text-input', placeholder: 'What should change in the next version?', 'aria-describedby': 'dlg-revise-left' });
  const left = revisionsText(d.revisions_used, revisionsAllowed(eng));
  dialog(s, {
    title: `Request a revision of ${versionLabel(d.key, d.version, false)}`,
    submit: 'Request revision',
    testid: 'revise-dialog',
    opener,
    fields: [
      h('label', { for: 'dlg-revise-text' }, 'What should change'), text,
      h('p', { class: 'hint', id: 'dlg-revise-left', testid: 'revise-left' }, left ? `${left}; this request uses one.` : 'This request uses one of the revisions agreed.')],
    post: () => {
      const t = text.value.trim();
      if (!t) throw new FieldError(text, 'Say what should change.');
      if (t.length > MAX_TEXT) throw new FieldError(text, `The text is too long: at most ${MAX_TEXT.toLocaleString('en-GB')} characters.`);
      return { ch: `eng:${eng.id}`, kind: 'revision_request', body: { delivery: d.seq, text: t } };
    },
    done: () => toast(s, `You asked for a revision of ${d.key}.`),
  });
}

let deliverCount = 0;

// Submitting a deliverable: its key (an existing one offered, or a new one),
// a text, files uploaded in the dialog, and "Final delivery".
export function openDeliverDialog(s, eng, key, opener) {
  deliverCount += 1;
  const listId = `dlg-deliver-keys-${deliverCount}`;
  const known = deliverablesFor(s, eng).map((d) => d.key);
  const keyInput = h('input', {
    id: 'dlg-deliver-key', type: 'text', testid: 'deliver-key-input', list: listId, autocomplete: 'off', spellcheck: 'false',
    maxlength: '64', placeholder: 'e.g. final-report', 'aria-describedby': 'dlg-deliver-key-hint', value: key || '',
  });
  const keyList = h('datalist', { id: listId }, known.map((k) => h('option', { value: k })));
  const text = h('textarea', { id: 'dlg-deliver-text', rows: '3', testid: 'deliver-text-input', placeholder: 'What this version contains' });
  const final = h('input', { id: 'dlg-deliver-final', type: 'checkbox', testid: 'deliver-final', 'aria-describedby': 'dlg-deliver-final-hint' });
  const picker = filePicker(s, eng.id, { testid: 'deliver-files', onChange: () => {} });
  const fields = [
    h('label', { for: 'dlg-deliver-key' }, 'Deliverable'), keyInput, keyList,
    h('p', { class: 'hint', id: 'dlg-deliver-key-hint' }, known.length
      ? `A new version of ${known.slice(0, 3).join(', ')}${known.length > 3 ? ', …' : ''}, or a new name: lowercase letters, digits, - and _.`
      : 'A short name: lowercase letters, digits, - and _ (up to 64).'),
    h('label', { for: 'dlg-deliver-text' }, 'Description'), text,
    h('span', { class: 'label', id: 'dlg-deliver-files-label' }, 'Files (1 to 20)'),
    h('div', { class: 'deliver-files', testid: 'deliver-files', 'aria-labelledby': 'dlg-deliver-files-label', role: 'group' },
      h('div', { class: 'row' }, picker.button, picker.input, h('span', { class: 'hint' }, 'Choose files or drop them here.')),
      picker.list, picker.error),
    h('div', { class: 'check-row' }, final, h('label', { for: 'dlg-deliver-final' }, 'Final delivery')),
    h('p', { class: 'hint', id: 'dlg-deliver-final-hint' }, 'Mark the last delivery final: when the client accepts it during completion, the engagement closes.'),
  ];
  const dlg = dialog(s, {
    title: key ? `Submit a new version of ${key}` : 'Submit a deliverable',
    submit: 'Submit delivery',
    testid: 'deliver-dialog',
    opener,
    fields,
    post: () => {
      const k = keyInput.value.trim();
      if (!DELIVERABLE_KEY.test(k)) throw new FieldError(keyInput, 'Name the deliverable with 1 to 64 lowercase letters, digits, - or _.');
      const t = text.value.trim();
      if (!t) throw new FieldError(text, 'Describe what you deliver.');
      if (t.length > MAX_DELIVERY_TEXT) throw new FieldError(text, `The description is too long: at most ${MAX_DELIVERY_TEXT.toLocaleString('en-GB')} characters.`);
      if (picker.busy()) throw new FieldError(picker.button, 'Wait until every file has been uploaded.');
      const files = picker.files();
      if (!files.length) throw new FieldError(picker.button, 'Attach at least one file.');
      const body = { deliverable: k, text: t, files };
      if (final.checked) body.final = true;
      return { ch: `eng:${eng.id}`, kind: 'delivery', body };
    },
    done: () => toast(s, `You delivered ${keyInput.value.trim()}.`),
  });
  const abort = new AbortController();
  picker.bindDrop([dlg.querySelector('form')], abort.signal);
  dlg.addEventListener('close', () => { abort.abort(); picker.cancelAll(); });
}

// -------------------------------------------------------------- timeline entries

// "Show in Deliverables": the details panel opened (a drawer on narrow
// screens) at the deliverable.
function showInPanel(s, key) {
  const panel = s.el.details;
  if (!panel) return;
  if (getComputedStyle(panel).visibility === 'hidden' && !document.body.classList.contains('show-details')) togglePanel(s, 'details');
  requestAnimationFrame(() => {
    const item = panel.querySelector(`[data-testid="deliverable"][data-key="${CSS.escape(key)}"]`) || panel.querySelector('[data-testid="deliverables-panel"]');
    if (item) item.scrollIntoView({ block: 'start', behavior: 'smooth' });
  });
}

function deliveryEvent(ctx, ch, seq) {
  const ev = ctx.lookup(ch, seq);
  return ev && ev.kind === 'delivery' ? ev : null;
}

function labelOf(ev) {
  const b = (ev && ev.body) || {};
  return versionLabel(String(b.deliverable ?? 'deliverable'), b.version, b.final === true);
}

// One timeline entry: {cls, label, children}, or null when the event is not
// about a delivery (a decision on a proposal). `parts` are the timeline's
// header(ev) and timeEl(ts).
function deliveryEntry(s, ev, ctx, { header, timeEl }) {
  const b = ev.body || {};
  const info = engagementOf(ev.ch);
  switch (ev.kind) {
    case 'delivery': {
      const label = labelOf(ev);
      return {
        cls: `card delivery${b.final ? ' final' : ''}`,
        label: `${who(ev.from)} delivered ${label}`,
        children: [
          h('div', { class: 'card-kind' }, h('span', { class: 'kind-icon', 'aria-hidden': 'true' }, '⇪'), h('span', null, 'Delivery'),
            b.final ? h('span', { class: 'pill final' }, 'Final') : null, h('span', { class: 'ref' }, `#${ev.seq}`)),
          header(ev),
          h('p', { class: 'text delivery-line', testid: 'delivery-line' }, h('strong', null, who(ev.from)), ' delivered ', h('strong', null, label)),
          typeof b.text === 'string' && b.text ? h('p', { class: 'text', testid: 'delivery-text' }, b.text) : null,
          info ? fileChips(s, info.id, b.files) : null,
          info ? h('div', { class: 'card-actions' }, h('button', { type: 'button', class: 'btn ghost small', testid: 'delivery-show', onclick: () => showInPanel(s, String(b.deliverable)) }, 'Show in Deliverables')) : null,
        ],
      };
    }
    case 'revision_request': {
      const target = deliveryEvent(ctx, ev.ch, b.delivery);
      const what = target ? labelOf(target) : `delivery #${b.delivery}`;
      return {
        cls: 'card revision-request',
        label: `${who(ev.from)} requested a revision of ${what}`,
        children: [
          h('div', { class: 'card-kind' }, h('span', { class: 'kind-icon', 'aria-hidden': 'true' }, '↺'), h('span', null, 'Revision requested')),
          header(ev),
          h('p', { class: 'text', testid: 'revision-line' }, h('strong', null, who(ev.from)), ' requested a revision of ', h('strong', null, what)),
          typeof b.text === 'string' && b.text ? h('p', { class: 'text', testid: 'revision-text' }, b.text) : null,
        ],
      };
    }
    case 'review_due_soon': {
      const label = versionLabel(String(b.deliverable ?? 'deliverable'), b.version, false);
      const when = Number.isFinite(b.review_due) ? dueDate(b.review_due) : 'soon';
      const text = `The review window of ${label} ends ${Number.isFinite(b.review_due) ? `on ${when}` : 'soon'}: it is accepted automatically then unless the client accepts it or asks for a revision.`;
      return {
        cls: 'notice review-due-soon',
        label: text,
        children: [
          h('span', { class: 'notice-icon', 'aria-hidden': 'true' }, '◷'),
          h('div', { class: 'notice-body' }, h('strong', { testid: 'review-due-soon' }, 'Review window ends soon'), ' ', h('span', null, text)),
          timeEl(ev.ts),
        ],
      };
    }
    case 'decision': {
      const target = deliveryEvent(ctx, ev.ch, b.proposal);
      if (!target && b.auto !== true) return null;
      const what = target ? labelOf(target) : `delivery #${b.proposal}`;
      const auto = b.auto === true;
      const text = auto ? [h('strong', null, what), ' accepted automatically after the review window'] : [h('strong', null, who(ev.from)), ' accepted ', h('strong', null, what)];
      return {
        cls: `card decision verdict-accepted delivery-decision${auto ? ' auto' : ''}`,
        label: auto ? `${what} accepted automatically after the review window` : `${who(ev.from)} accepted ${what}`,
        children: [
          h('div', { class: 'card-kind' }, h('span', { class: 'kind-icon', 'aria-hidden': 'true' }, '✓'), h('span', null, auto ? 'Accepted automatically' : 'Delivery accepted'),
            b.record ? h('span', { class: 'pill record', testid: 'decision-record', title: `hash ${b.record.hash}` }, `Log record #${b.record.n}`) : null),
          h('p', { class: 'text', testid: 'delivery-decision' }, text),
          h('div', { class: 'entry-head' }, timeEl(ev.ts)),
        ],
      };
    }
    default:
      return null;
  }
}

// What the timeline's entries call (through the timeline context).
export function deliveryHooks(s) {
  return {
    deliveryEntry: (ev, ctx, parts) => deliveryEntry(s, ev, ctx, parts),
    fileChips: (ev) => { const i = engagementOf(ev.ch); return i ? fileChips(s, i.id, ev.body && ev.body.files) : null; },
  };
}
