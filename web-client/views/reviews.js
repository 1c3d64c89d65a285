// Ratings and reviews (protocol §9.7) on screen: the review form (offered
// exactly when `can` lists `review`), the sealed card of each `review` event,
// the reader's own review before the reveal (from GET …/reviews), the
// revealed reviews with their commitments checked in this browser, the
// details panel's "Reviews" and the callout above the timeline.
import { h, formatDateTime, formatTime, humanize } from '../dom.js';
import { dialog, FieldError } from './dialogs.js';
import { toast } from './shell.js';
import {
  RATING_KEYS, RATING_NAMES, TEXT_MAX, starsLabel, ratingWord, counterText, reviewProblems, reviewBody,
  verifyCommitment, reviewPeriod, textLength, ratingsText, sealedNote, sealedCardText, periodCountdown, revealedReviews, isRating,
} from '../reviews_text.js';

// Per engagement model: what GET …/reviews answered, the commitments of sealed
// events read on demand, and each revealed review's check. At most a few
// entries each: an engagement has two parties.
const stores = new WeakMap();

function storeOf(eng) {
  let st = stores.get(eng);
  if (!st) {
    st = { fetchKey: null, fetched: null, sealed: new Map(), asked: new Set(), checks: new Map(), redraw: 0 };
    stores.set(eng, st);
  }
  return st;
}

const mainCh = (eng) => `eng:${eng.id}`;

// The engagement's events of one kind in its main channel, as loaded.
function eventsOf(s, eng, kind) {
  const c = s.channels.get(mainCh(eng));
  return c ? c.list().filter((ev) => ev.kind === kind) : [];
}

// A user's name: the reader's own, the state's parties, else any loaded event
// of theirs; the role otherwise.
function nameOf(s, eng, id, role) {
  if (id && id === s.me.id) return s.me.name || 'You';
  const parties = eng.state && eng.state.parties;
  for (const p of parties ? [parties.client, parties.expert] : []) if (p && p.id === id && p.name) return p.name;
  const c = s.channels.get(mainCh(eng));
  const ev = c && id ? c.list().find((e) => e.from && e.from.id === id && e.from.name) : null;
  if (ev) return ev.from.name;
  return role ? humanize(role) : String(id ?? 'Someone');
}

// Redraws what shows reviews once something read or checked in the
// background has arrived: the details panel and the review entries.
function redraw(s, eng) {
  const st = storeOf(eng);
  if (st.redraw) return;
  st.redraw = requestAnimationFrame(() => {
    st.redraw = 0;
    if (!s.current || s.current.eng !== eng.id) return;
    s.engagementChanged(eng.id);
    const view = s.view;
    if (!view || view.ch !== mainCh(eng)) return;
    for (const [seq, node] of view.nodes) if (node.dataset.kind === 'review' || node.dataset.kind === 'reviews') view.refreshSeq(seq);
  });
}

// GET …/reviews, once per change of the state's review facts: a party's own
// review before the reveal, support's view of all, everyone's once revealed.
function fetchedReviews(s, eng) {
  const st = storeOf(eng);
  const period = reviewPeriod(eng.state);
  if (!period) return st.fetched;
  const key = `${period.submittedBy.join(',')}|${period.revealed}`;
  if (st.fetchKey !== key) {
    st.fetchKey = key;
    fetch(`/api/v1/engagements/${encodeURIComponent(eng.id)}/reviews`, { headers: { Authorization: `Bearer ${s.token}` }, cache: 'no-store' })
      .then((res) => (res.ok ? res.json() : null))
      .then((body) => {
        const list = Array.isArray(body) ? body : body && Array.isArray(body.reviews) ? body.reviews : null;
        if (list && st.fetchKey === key) st.fetched = { list: list.slice(0, 10), revealed: !!(body && body.revealed) };
        redraw(s, eng);
      }, () => {});
  }
  return st.fetched;
}

// The fetched entry of a review's seq that holds its text (own, support, revealed).
function readableEntry(s, eng, seq) {
  const got = fetchedReviews(s, eng);
  const e = got ? got.list.find((r) => r && r.seq === seq) : null;
  return e && typeof e.text === 'string' && e.ratings ? e : null;
}

// The commitment a sealed review was posted with: its event when loaded,
// else read with `history` (once per seq), else what GET …/reviews says.
function commitmentOf(s, eng, seq) {
  const st = storeOf(eng);
  const ev = s.channels.get(mainCh(eng))?.events.get(seq);
  if (ev && ev.kind === 'review' && ev.body) return ev.body.commitment;
  if (st.sealed.has(seq)) return st.sealed.get(seq);
  if (!st.asked.has(seq) && Number.isInteger(seq) && seq > 0) {
    st.asked.add(seq);
    s.conn.request('history', { ch: mainCh(eng), after: seq - 1, limit: 1 }).then((page) => {
      const found = (page && Array.isArray(page.events) ? page.events : []).find((e) => e.seq === seq && e.kind === 'review');
      st.sealed.set(seq, found && found.body ? found.body.commitment : null);
      redraw(s, eng);
    }, () => { st.sealed.set(seq, null); redraw(s, eng); });
    return undefined;
  }
  const listed = fetchedReviews(s, eng)?.list.find((r) => r && r.seq === seq);
  return listed && typeof listed.commitment === 'string' ? listed.commitment : st.sealed.get(seq);
}

// {state: checking|ok|bad|unchecked}: the revealed review against the
// commitment of its sealed event, computed here (Web Crypto).
function checkOf(s, eng, review) {
  const st = storeOf(eng);
  const commitment = commitmentOf(s, eng, review.seq);
  if (commitment === undefined) return { state: 'checking' };
  if (commitment === null) return { state: 'unchecked' };
  // Keyed by what is checked: the timeline, the panel and the log may hold
  // different copies of one review (a tampered one among them).
  const key = JSON.stringify([review.seq, review.ratings, review.text, review.salt, commitment]);
  let check = st.checks.get(key);
  if (check) return check;
  check = { state: 'checking', commitment };
  if (st.checks.size >= 32) st.checks.delete(st.checks.keys().next().value);
  st.checks.set(key, check);
  verifyCommitment(review, commitment).then((ok) => { check.state = ok ? 'ok' : 'bad'; redraw(s, eng); });
  return check;
}

function checkMark(check) {
  const base = { testid: 'commitment-check', dataset: { state: check.state } };
  if (check.state === 'ok') return h('p', { ...base, class: 'commit-check ok', title: `commitment ${check.commitment}` }, '✓ commitment verified');
  if (check.state === 'bad') return h('p', { ...base, class: 'commit-check bad', role: 'alert', title: `commitment ${check.commitment}` }, '✕ commitment does NOT match: this review is not the one that was sealed');
  if (check.state === 'unchecked') return h('p', { ...base, class: 'commit-check unchecked' }, 'Commitment not checked: the sealed review is not available');
  return h('p', { ...base, class: 'commit-check checking' }, 'Checking the commitment…');
}

// A rating shown: "Quality ★★★★☆ Very good", named "4 of 5 stars".
function ratingsView(ratings) {
  return h('dl', { class: 'review-ratings', testid: 'review-ratings' }, RATING_KEYS.map((k) => {
    const n = ratings && isRating(ratings[k]) ? ratings[k] : 0;
    return h('div', { class: 'review-rating', dataset: { key: k, value: String(n) } },
      h('dt', null, RATING_NAMES[k]),
      h('dd', null,
        h('span', { class: 'stars-shown', role: 'img', 'aria-label': n ? starsLabel(n) : 'not rated' }, '★'.repeat(n), h('span', { class: 'star-off' }, '★'.repeat(5 - n))),
        h('span', { class: 'rating-word' }, ratingWord(n))));
  }));
}

function reviewBox(review, note) {
  return h('div', { class: 'review-box', testid: 'review-content' },
    ratingsView(review.ratings),
    h('p', { class: 'review-text', testid: 'review-text' }, String(review.text)),
    note ? h('p', { class: 'review-note', testid: 'review-note' }, note) : null);
}

function timeOf(ev) {
  return ev.ts ? h('time', { class: 'ts', datetime: new Date(ev.ts).toISOString(), title: formatDateTime(ev.ts) }, formatTime(ev.ts)) : null;
}

// The reveal's list: from the loaded `reviews` event, else GET …/reviews.
function revealedList(s, eng) {
  const ev = eventsOf(s, eng, 'reviews').pop();
  if (ev) return revealedReviews(ev.body && ev.body.reviews);
  const got = fetchedReviews(s, eng);
  return got && (got.revealed || reviewPeriod(eng.state)?.revealed) ? revealedReviews(got.list) : null;
}

// The note under a review the reader may see before the reveal.
function privateNote(s) {
  return s.role === 'support'
    ? 'Sealed to the parties until the reveal: support sees it.'
    : 'Only you and support can see this until the reveal.';
}

// One `review` event: sealed (the commitment only), the reader's own review
// under it, or "revealed" with its check once the reviews are out.
function sealedEntry(s, eng, ev) {
  const period = reviewPeriod(eng.state);
  const revealed = (period && period.revealed) || eventsOf(s, eng, 'reviews').length > 0;
  const mine = ev.from && ev.from.id === s.me.id;
  const name = mine ? 'You' : nameOf(s, eng, ev.from && ev.from.id, ev.from && ev.from.role);
  const commitment = ev.body && typeof ev.body.commitment === 'string' ? ev.body.commitment : '';
  const readable = revealed ? null : readableEntry(s, eng, ev.seq);
  const revealedEntry = revealed ? (revealedList(s, eng) || []).find((r) => r.seq === ev.seq) : null;
  const children = [
    h('div', { class: 'card-kind' },
      h('span', { class: 'kind-icon', 'aria-hidden': 'true' }, '★'),
      h('span', null, 'Review'),
      h('span', { class: `pill ${revealed ? 'revealed' : 'sealed'}`, testid: 'review-state' }, revealed ? 'Revealed' : 'Sealed'),
      h('span', { class: 'ref' }, `#${ev.seq}`)),
    h('p', { class: 'text', testid: 'sealed-text' }, revealed
      ? `${name} ${mine ? 'have' : 'has'} reviewed — revealed`
      : mine ? `You have reviewed — ${sealedNote(period && period.due).replace(/^sealed —/, 'sealed,')}` : sealedCardText(name, period && period.due)),
    readable ? reviewBox(readable, privateNote(s)) : null,
    revealedEntry ? checkMark(checkOf(s, eng, revealedEntry)) : null,
    h('div', { class: 'entry-head' },
      commitment ? h('span', { class: 'commitment', title: `commitment (SHA-256) ${commitment}` }, `commitment ${commitment.slice(0, 12)}…`) : null,
      timeOf(ev)),
  ];
  return { cls: `card review-sealed${revealed ? ' revealed' : ''}`, label: `${name} reviewed, ${revealed ? 'revealed' : 'sealed'}`, children };
}

// The reveal: each party's ratings and text, and its commitment checked.
function revealEntry(s, eng, ev) {
  const list = revealedReviews(ev.body && ev.body.reviews);
  const children = [
    h('div', { class: 'card-kind' },
      h('span', { class: 'kind-icon', 'aria-hidden': 'true' }, '★'),
      h('span', null, 'Reviews revealed'),
      ev.body && ev.body.record ? h('span', { class: 'pill record', testid: 'decision-record' }, `Log record #${ev.body.record.n}`) : null),
    list.length ? revealedItems(s, eng, list) : h('p', { class: 'text muted' }, 'The review period ended without reviews.'),
    h('div', { class: 'entry-head' }, timeOf(ev)),
  ];
  return { cls: 'card reviews-revealed', label: `Reviews revealed: ${list.length}`, children };
}

function revealedItems(s, eng, list) {
  return h('ul', { class: 'revealed-list' }, list.map((r) => h('li', { class: 'revealed-review', testid: 'revealed-review', dataset: { seq: String(r.seq), role: String(r.role || '') } },
    h('p', { class: 'review-by' }, h('strong', null, nameOf(s, eng, r.by, r.role)), r.role ? h('span', { class: `role role-${r.role}` }, humanize(r.role)) : null),
    reviewBox(r, null),
    checkMark(checkOf(s, eng, r)))));
}

// The decision-log record of the reveal (topic `reviews`, its terms the
// revealed list): who reviewed, their ratings, each commitment checked.
export function reviewsRecordView(s, r) {
  const engId = typeof r.eng === 'string' ? r.eng : (/^eng:([A-Za-z0-9_-]{1,64})/.exec(String(r.ch)) || [])[1];
  const eng = engId ? s.engagements.get(engId) : null;
  const list = revealedReviews(Array.isArray(r.terms) ? r.terms : r.terms && r.terms.reviews);
  return [
    h('p', { class: 'log-text', testid: 'log-sentence' }, 'Reviews revealed', list.length ? '' : ': none were written'),
    list.length ? h('ul', { class: 'log-reviews', testid: 'log-reviews' }, list.map((x) => h('li', { dataset: { seq: String(x.seq) } },
      h('strong', null, eng ? nameOf(s, eng, x.by, x.role) : humanize(x.role)), x.role ? ` (${humanize(x.role)})` : '', `: ${ratingsText(x.ratings)}`,
      eng ? checkMark(checkOf(s, eng, x)) : null))) : null,
  ];
}

// The timeline's hooks (views/entries.js draws `review` and `reviews` with them).
export function reviewHooks(s) {
  return {
    reviewEntry: (ev) => {
      const info = /^eng:([A-Za-z0-9_-]{1,64})$/.exec(ev.ch);
      const eng = info ? s.engagements.get(info[1]) : null;
      if (!eng) throw new Error('review outside an engagement');
      return ev.kind === 'reviews' ? revealEntry(s, eng, ev) : sealedEntry(s, eng, ev);
    },
  };
}

function writeButton(s, eng, { small = true } = {}) {
  if (!s.actions(eng.id).has('review')) return null;
  return h('button', {
    type: 'button', class: `btn primary${small ? ' small' : ''}`, testid: 'review-write',
    onclick: (e) => openReviewDialog(s, eng.id, e.currentTarget),
  }, '★ Write a review…');
}

// A countdown that the session's clock keeps current (tickReviewPeriodCountdowns).
function countdown(due) {
  return h('span', { class: 'review-countdown', testid: 'review-countdown', dataset: { due: String(due) } }, periodCountdown(due, Date.now()));
}

export function tickReviewPeriodCountdowns() {
  const now = Date.now();
  for (const el of document.querySelectorAll('.review-countdown[data-due]')) {
    const text = periodCountdown(Number(el.dataset.due), now);
    if (el.textContent !== text) el.textContent = text;
  }
}

// Above the timeline while the reader may review.
export function reviewCallout(s, engId) {
  const eng = s.engagements.get(engId);
  if (!eng || !s.actions(engId).has('review')) return null;
  const period = reviewPeriod(eng.state);
  return h('div', { class: 'eng-banner review-callout', testid: 'review-callout', role: 'region', 'aria-label': 'Review this engagement' },
    h('strong', null, 'The engagement is closed: how did it go?'),
    h('span', null, `Your review stays ${sealedNote(period && period.due)}.`),
    writeButton(s, eng));
}

// The details panel's "Reviews": the period, who has reviewed (sealed), the
// reader's own or (support) every review before the reveal, then the reveal.
export function reviewsPanel(s, eng) {
  const period = reviewPeriod(eng.state);
  const sealedEvents = eventsOf(s, eng, 'review');
  if (!period && !sealedEvents.length) return null;
  const revealed = (period && period.revealed) || eventsOf(s, eng, 'reviews').length > 0;
  const body = [];
  if (revealed) {
    const list = revealedList(s, eng);
    if (!list) body.push(h('p', { class: 'muted' }, 'Reading the reviews…'));
    else if (!list.length) body.push(h('p', { class: 'muted' }, 'The review period ended without reviews.'));
    else body.push(revealedItems(s, eng, list));
  } else {
    if (period && Number.isFinite(period.due)) {
      body.push(h('p', { class: 'review-period', testid: 'review-period' }, `The review period ends ${formatDateTime(period.due)} · `, countdown(period.due)));
    }
    const ids = period ? period.submittedBy : sealedEvents.map((ev) => ev.from && ev.from.id).filter(Boolean);
    const got = fetchedReviews(s, eng);
    body.push(ids.length
      ? h('ul', { class: 'mini-list review-sealed-list' }, ids.map((id) => {
        const ev = sealedEvents.find((e) => e.from && e.from.id === id);
        const readable = ev ? readableEntry(s, eng, ev.seq) : got && got.list.find((r) => r && r.by === id && typeof r.text === 'string' && r.ratings);
        const name = id === s.me.id ? 'You' : nameOf(s, eng, id, ev && ev.from && ev.from.role);
        return h('li', { class: 'review-sealed-item', testid: 'review-sealed-item', dataset: { by: id } },
          h('p', null, id === s.me.id ? `You have reviewed — ${sealedNote(period && period.due).replace(/^sealed —/, 'sealed,')}` : sealedCardText(name, period && period.due)),
          readable ? reviewBox(readable, privateNote(s)) : null);
      }))
      : h('p', { class: 'muted' }, 'No reviews yet.'));
  }
  return h('section', { class: 'panel', 'aria-labelledby': 'd-reviews', testid: 'reviews-panel', dataset: { revealed: revealed ? 'true' : 'false' } },
    h('h2', { id: 'd-reviews' }, 'Reviews'),
    body,
    revealed ? null : writeButton(s, eng));
}

// Three 1–5 star ratings as radio groups (arrow keys move and choose; each
// star is named "4 of 5 stars"), the text with its counter; sent as `review`.
export function openReviewDialog(s, engId, opener) {
  const eng = s.engagements.get(engId);
  const period = eng ? reviewPeriod(eng.state) : null;
  const groups = RATING_KEYS.map((k) => starGroup(k));
  const text = h('textarea', { id: 'dlg-review-text', rows: '5', maxlength: String(TEXT_MAX * 2), testid: 'review-text-input', 'aria-describedby': 'dlg-review-count dlg-review-hint' });
  const count = h('p', { class: 'field-hint', id: 'dlg-review-count', testid: 'review-counter', 'aria-live': 'polite' }, counterText(''));
  text.addEventListener('input', () => {
    count.textContent = counterText(text.value);
    count.classList.toggle('over', textLength(text.value.trim()) > TEXT_MAX);
  });
  dialog(s, {
    title: 'Review this engagement',
    submit: 'Send',
    testid: 'review-dialog',
    opener,
    fields: [
      h('p', null, `Your review is ${sealedNote(period && period.due)}. Once sent it cannot be changed.`),
      groups.map((g) => g.node),
      h('label', { for: 'dlg-review-text' }, 'Your review'), text, count,
      h('p', { class: 'hint', id: 'dlg-review-hint' }, 'Between 10 and 4000 characters. Both parties and support see it after the reveal.')],
    post: () => {
      const ratings = Object.fromEntries(groups.map((g) => [g.key, g.value()]));
      const problem = reviewProblems({ ratings, text: text.value })[0];
      if (problem) throw new FieldError(problem.field === 'text' ? text : groups.find((g) => g.key === problem.field).first, problem.message);
      return { ch: `eng:${engId}`, kind: 'review', body: reviewBody({ ratings, text: text.value }) };
    },
    done: () => toast(s, 'Your review is sealed. It is revealed when both have reviewed or when the review period ends.'),
  });
}

function starGroup(key) {
  const name = `review-${key}`;
  const word = h('span', { class: 'star-word', 'aria-hidden': 'true' }, '');
  const inputs = [1, 2, 3, 4, 5].map((n) => h('input', {
    type: 'radio', name, value: String(n), class: 'star-input', id: `${name}-${n}`, testid: `star-${key}-${n}`, 'aria-label': starsLabel(n),
  }));
  const labels = inputs.map((input, i) => h('label', { class: 'star', for: input.id, title: `${starsLabel(i + 1)} · ${ratingWord(i + 1)}` },
    input, h('span', { class: 'star-glyph', 'aria-hidden': 'true' }, '★')));
  const value = () => {
    const on = inputs.find((x) => x.checked);
    return on ? Number(on.value) : null;
  };
  const paint = () => {
    const v = value() || 0;
    labels.forEach((l, i) => l.classList.toggle('on', i < v));
    word.textContent = v ? ratingWord(v) : 'Not rated';
  };
  for (const input of inputs) input.addEventListener('change', paint);
  paint();
  const node = h('fieldset', { class: 'star-group', testid: `rating-${key}` },
    h('legend', null, RATING_NAMES[key]),
    h('div', { class: 'stars' }, labels, word));
  return { key, node, first: inputs[0], value };
}
