// Files and deliverables as words, without DOM (protocol §9.6, §9.9): sizes
// ("2.4 MB"), a file's family for its icon, abbreviated hashes, a
// deliverable's status, the review window's countdown and last-day warning,
// the revisions left, and the deliverables gathered from the server's state
// and the channel's `delivery` events. Imports nothing.

// What a deliverable's key may be (protocol §9.6), checked before sending.
export const DELIVERABLE_KEY = /^[a-z0-9_-]{1,64}$/;

// At most this many files ride on one message or delivery (protocol §9.6).
export const MAX_FILES = 20;

const DAY = 24 * 3600 * 1000;

// "0 B", "512 B", "1.5 KB", "2.4 MB", "12 MB", "1.1 GB" (binary units, one
// decimal below 10).
export function formatSize(bytes) {
  const n = Number(bytes);
  if (!Number.isFinite(n) || n < 0) return '';
  if (n < 1024) return `${Math.round(n)} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  // 9.96 would round up to "10.0": show it as 10 without a decimal.
  const text = v < 9.95 ? v.toFixed(1).replace(/\.0$/, '') : String(Math.round(v));
  return `${text} ${units[i]}`;
}

const ARCHIVE_TYPES = new Set([
  'application/zip', 'application/x-zip-compressed', 'application/gzip', 'application/x-gzip', 'application/x-tar',
  'application/x-7z-compressed', 'application/x-rar-compressed', 'application/vnd.rar', 'application/x-bzip2', 'application/x-xz',
  'application/zstd',
]);
const TEXT_TYPES = new Set(['application/json', 'application/xml', 'application/x-ndjson', 'application/csv', 'application/yaml']);
const ARCHIVE_EXT = /\.(zip|tar|tgz|gz|bz2|xz|7z|rar|zst)$/i;

// The family a file's icon shows: image, pdf, text, archive or other, by its
// MIME type (the server's), else by its name's extension.
export function fileFamily(type, name = '') {
  const t = String(type || '').toLowerCase().split(';')[0].trim();
  if (t.startsWith('image/')) return 'image';
  if (t === 'application/pdf') return 'pdf';
  if (ARCHIVE_TYPES.has(t)) return 'archive';
  if (t.startsWith('text/') || TEXT_TYPES.has(t)) return 'text';
  const n = String(name || '');
  if (/\.(png|jpe?g|gif|webp|svg|bmp|avif)$/i.test(n)) return 'image';
  if (/\.pdf$/i.test(n)) return 'pdf';
  if (ARCHIVE_EXT.test(n)) return 'archive';
  if (/\.(txt|md|csv|json|xml|ya?ml|log)$/i.test(n)) return 'text';
  return 'other';
}

// "3f2a9c1e…b04d": enough of a SHA-256 to tell files apart on screen; the
// whole hash goes in the tooltip and the copy button.
export function shortHash(sha256) {
  const s = String(sha256 || '');
  return s.length > 16 ? `${s.slice(0, 8)}…${s.slice(-4)}` : s;
}

const STATUS_ORDER = { submitted: 0, revision_requested: 1, accepted: 2 };

const STATUS_WORDS = {
  submitted: 'Awaiting client review',
  revision_requested: 'Revision requested',
  accepted: 'Accepted',
};

export function statusWords(status) {
  return STATUS_WORDS[status] || String(status || 'Unknown').replace(/_/g, ' ');
}

// "2 d 4 h", "5 h 12 min", "8 min", "less than a minute".
export function spanText(ms) {
  const m = Math.floor(Math.max(0, ms) / 60000);
  const d = Math.floor(m / 1440);
  const hrs = Math.floor((m % 1440) / 60);
  const mins = m % 60;
  if (d > 0) return hrs ? `${d} d ${hrs} h` : `${d} d`;
  if (hrs > 0) return mins ? `${hrs} h ${mins} min` : `${hrs} h`;
  if (mins > 0) return `${mins} min`;
  return 'less than a minute';
}

// The review window's countdown: "accepted automatically in 2 d 4 h", and
// once it has passed (the server accepts it at any moment)
// "accepted automatically any moment now". Empty without a due time.
export function reviewCountdown(due, now) {
  if (!Number.isFinite(due)) return '';
  if (due <= now) return 'accepted automatically any moment now';
  return `accepted automatically in ${spanText(due - now)}`;
}

// Within the last day of the review window (or past it).
export function isLastDay(due, now) {
  return Number.isFinite(due) && due - now <= DAY;
}

// "Mon 1 Dec, 09:00" in the reader's locale and zone (`tz` for tests).
export function dueDate(due, { locale, tz } = {}) {
  if (!Number.isFinite(due)) return '';
  const fmt = new Intl.DateTimeFormat(locale || undefined, {
    weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', ...(tz ? { timeZone: tz } : {}),
  });
  return fmt.format(new Date(due));
}

// The last-day warning: to the reader who decides, what happens unless they
// act; to everyone else, unless the client does.
export function lastDayWarning(due, { deciding, locale, tz } = {}) {
  const when = dueDate(due, { locale, tz });
  return deciding ? `Accepted automatically on ${when} unless you act` : `Accepted automatically on ${when} unless the client acts`;
}

// "1 of 2 revisions left", "No revisions left (2 of 2 used)". Null when the
// number allowed is unknown.
export function revisionsText(used, allowed) {
  const u = Number.isInteger(used) && used >= 0 ? used : 0;
  if (!Number.isInteger(allowed) || allowed < 0) return null;
  const left = Math.max(0, allowed - u);
  if (!left) return allowed === 0 ? 'No revisions in this engagement' : `No revisions left (${u} of ${allowed} used)`;
  return `${left} of ${allowed} revision${allowed === 1 ? '' : 's'} left`;
}

// "report v2 (final)"
export function versionLabel(deliverable, version, final) {
  return `${deliverable} v${Number.isInteger(version) ? version : '?'}${final ? ' (final)' : ''}`;
}

// A file entry as the server stores it: {sha256, name, size, type}; anything
// else is left out.
export function cleanFiles(files) {
  if (!Array.isArray(files)) return [];
  return files.slice(0, MAX_FILES).filter((f) => f && typeof f.sha256 === 'string' && /^[0-9a-f]{64}$/.test(f.sha256))
    .map((f) => ({ sha256: f.sha256, name: typeof f.name === 'string' && f.name ? f.name : f.sha256, size: Number.isFinite(f.size) ? f.size : null, type: typeof f.type === 'string' ? f.type : '' }));
}

// The deliverables to show: each key of `state.deliverables` (the server's
// word on version, status, review_due, revisions_used, final), with the
// versions its `delivery` events carry (newest first); a key seen only in
// events (its state not yet arrived) is listed as submitted. Those awaiting
// the client come first, then those sent back for revision, then the
// accepted ones; the latest delivery first within each.
export function deliverablesOf(state, events) {
  const byKey = new Map();
  const entry = (key) => {
    if (!byKey.has(key)) byKey.set(key, { key, version: null, seq: null, status: null, review_due: null, revisions_used: 0, final: false, versions: [] });
    return byKey.get(key);
  };
  for (const ev of Array.isArray(events) ? events : []) {
    if (!ev || ev.kind !== 'delivery' || !ev.body || typeof ev.body.deliverable !== 'string') continue;
    const b = ev.body;
    const d = entry(b.deliverable);
    if (d.versions.some((v) => v.seq === ev.seq)) continue;
    d.versions.push({
      seq: ev.seq, version: Number.isInteger(b.version) ? b.version : null, ts: ev.ts ?? null, from: ev.from || null,
      text: typeof b.text === 'string' ? b.text : '', files: cleanFiles(b.files), final: b.final === true,
    });
  }
  const listed = state && state.deliverables && typeof state.deliverables === 'object' ? state.deliverables : {};
  for (const [key, s] of Object.entries(listed)) {
    if (!s || typeof s !== 'object') continue;
    Object.assign(entry(key), {
      version: Number.isInteger(s.version) ? s.version : null,
      seq: Number.isInteger(s.seq) ? s.seq : null,
      status: typeof s.status === 'string' ? s.status : null,
      review_due: Number.isFinite(s.review_due) ? s.review_due : null,
      revisions_used: Number.isInteger(s.revisions_used) ? s.revisions_used : 0,
      final: s.final === true,
      listed: true,
    });
  }
  const out = [...byKey.values()];
  for (const d of out) {
    d.versions.sort((a, b) => b.seq - a.seq);
    if (!d.listed) {
      const latest = d.versions[0];
      Object.assign(d, { version: latest.version, seq: latest.seq, status: 'submitted', final: latest.final });
    }
  }
  const rank = (d) => STATUS_ORDER[d.status] ?? 3;
  return out.sort((a, b) => rank(a) - rank(b) || (b.seq ?? 0) - (a.seq ?? 0));
}

// "1048576 bytes" in a server's message as "1 MB".
const withSizes = (text) => String(text || '').replace(/(\d{4,}) bytes/g, (_, n) => formatSize(Number(n)));

// A refused upload (lib/upload.js's error: `code`, `message`) as a sentence
// for the reader: too large, the engagement's quota, the upload rate, …
export function uploadProblem(err) {
  const message = withSizes(err && err.message);
  switch (err && err.code) {
    case 'too_large':
      return /quota|engagement's files|would exceed/i.test(message)
        ? `The engagement's storage quota is used up: ${message}.`
        : `The file is too large: ${message}.`;
    case 'rate_limited': return 'Too many uploads in a short time: wait a moment and try again.';
    case 'forbidden': return 'You may not upload files to this engagement.';
    case 'unauthorized': return 'The server refused your access token. It may have expired.';
    case 'bad_request': return `The server refused the file: ${message}.`;
    case 'network': return `The upload failed: ${message}. Check the connection and try again.`;
    case 'cancelled': return 'Upload cancelled.';
    default: return `The upload failed: ${message || 'unknown error'}.`;
  }
}
