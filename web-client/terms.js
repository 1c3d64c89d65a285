// An agreement's terms without DOM: the topics that amend the agreement, how
// accepted terms merge (as the server merges them, protocol §1), what a
// proposal changes, the versions replayed from the decision log, and terms as
// plain text. Terms come from any client, so every function takes arbitrary
// JSON. Imports nothing, so Node's test runner loads it as it is.

export const AGREEMENT_TOPICS = ['agreement', 'scope_change', 'timeline', 'compensation'];

export const CURRENCIES = ['EUR', 'USD', 'GBP', 'CHF'];

export function isAgreementTopic(topic) {
  return AGREEMENT_TOPICS.includes(topic);
}

export function isTermsObject(terms) {
  return !!terms && typeof terms === 'object' && !Array.isArray(terms);
}

// The terms after `proposed` is accepted over `current`: key by key, the
// proposal's value replaces the current one (the server's merge).
export function mergeTerms(current, proposed) {
  return { ...(isTermsObject(current) ? current : {}), ...(isTermsObject(proposed) ? proposed : {}) };
}

// JSON with object keys sorted, so that two values compare equal whatever
// order their keys were written in.
function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

export function sameValue(a, b) {
  return canonical(a) === canonical(b);
}

// What changes from `before` to `after`, key by key, in the order of `after`
// then the keys only `before` has: [{key, change, before, after}] where change
// is 'added', 'removed', 'changed' or (with `same`) 'same'.
export function diffTerms(before, after, { same = false } = {}) {
  const b = isTermsObject(before) ? before : {};
  const a = isTermsObject(after) ? after : {};
  const out = [];
  for (const key of Object.keys(a)) {
    if (!Object.hasOwn(b, key)) out.push({ key, change: 'added', before: undefined, after: a[key] });
    else if (!sameValue(b[key], a[key])) out.push({ key, change: 'changed', before: b[key], after: a[key] });
    else if (same) out.push({ key, change: 'same', before: b[key], after: a[key] });
  }
  for (const key of Object.keys(b)) {
    if (!Object.hasOwn(a, key)) out.push({ key, change: 'removed', before: b[key], after: undefined });
  }
  return out;
}

// What a proposal would change in the current agreement: each of its keys,
// marked added, changed or same (a merge removes nothing).
export function proposalChanges(current, proposed) {
  const cur = isTermsObject(current) ? current : {};
  const keys = Object.keys(isTermsObject(proposed) ? proposed : {});
  return diffTerms(cur, mergeTerms(cur, proposed), { same: true }).filter((c) => keys.includes(c.key));
}

// The agreement's versions replayed from decision-log records: version n is
// the n-th accepted agreement-type record, its terms merged over version
// n − 1's, with what it changed. Records out of order or malformed are
// tolerated: they are sorted by `n` and non-object terms count as none.
export function agreementVersions(records) {
  const list = (Array.isArray(records) ? records : [])
    .filter((r) => r && typeof r === 'object' && isAgreementTopic(r.topic))
    .slice()
    .sort((x, y) => (Number(x.n) || 0) - (Number(y.n) || 0));
  const versions = [];
  let terms = {};
  for (const r of list) {
    const next = mergeTerms(terms, r.terms);
    versions.push({
      version: versions.length + 1,
      record: r,
      topic: r.topic,
      ts: typeof r.ts === 'number' ? r.ts : null,
      terms: next,
      changes: diffTerms(terms, next),
    });
    terms = next;
  }
  return versions;
}

const LABELS = { scope: 'Scope', deliverables: 'Deliverables', timeline: 'Timeline', compensation: 'Compensation', due: 'Due date' };

export function termLabel(key) {
  if (Object.hasOwn(LABELS, key)) return LABELS[key];
  const s = String(key).replace(/_/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

// A calendar date "YYYY-MM-DD" as "1 Dec 2026" (UTC, so it reads the same
// everywhere); anything else as it came.
export function formatDate(value) {
  if (typeof value !== 'string' || !DATE.test(value)) return String(value ?? '');
  const d = new Date(`${value}T00:00:00Z`);
  if (Number.isNaN(d.getTime())) return value;
  return d.toLocaleDateString('en-GB', { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' });
}

function formatAmount(amount, currency) {
  const n = typeof amount === 'number' ? amount : Number(amount);
  const num = Number.isFinite(n) ? n.toLocaleString('en-GB', { maximumFractionDigits: 2 }) : String(amount ?? '');
  return currency ? `${num} ${currency}` : num;
}

// One term's value as a line of text. The shapes this client writes (see
// web-client/README.md) read naturally; anything else is shown as JSON.
export function formatTermValue(key, value) {
  if (value === undefined) return '';
  if (typeof value === 'string') return value;
  if (key === 'deliverables' && Array.isArray(value) && value.every((v) => typeof v === 'string')) return value.join('; ');
  if (key === 'timeline' && isTermsObject(value) && Object.keys(value).every((k) => k === 'start' || k === 'end')) {
    return `${value.start ? formatDate(value.start) : '…'} → ${value.end ? formatDate(value.end) : '…'}`;
  }
  if (key === 'compensation' && isTermsObject(value) && Object.keys(value).every((k) => k === 'amount' || k === 'currency')
    && (typeof value.currency === 'string' || value.currency === undefined)) {
    return formatAmount(value.amount, value.currency);
  }
  if (key === 'due' && typeof value === 'number' && Number.isFinite(value)) {
    const d = new Date(value);
    if (!Number.isNaN(d.getTime())) return formatDate(d.toISOString().slice(0, 10));
  }
  return JSON.stringify(value);
}

// The end of a calendar day in UTC, in ms: the `due` an end date sets.
export function endOfDay(date) {
  if (typeof date !== 'string' || !DATE.test(date)) return null;
  const t = Date.parse(`${date}T23:59:59.999Z`);
  return Number.isNaN(t) ? null : t;
}
