// Ratings and reviews without DOM (protocol §9.7): the commitment check, the
// form's checks before sending, ratings as words, the sealed review's
// sentence and the review period's countdown. Reviews are double-blind: a
// sealed event holds only `commitment`, the hex SHA-256 of the RFC 8785 form
// of `{ratings, text, salt}`; once revealed, anyone can recompute it.
import { canonicalize, sha256Hex } from './lib/jcs.js';
import { formatDateTime, formatDuration } from './dom.js';

export const RATING_KEYS = ['quality', 'communication', 'timeliness'];
export const RATING_NAMES = { quality: 'Quality', communication: 'Communication', timeliness: 'Timeliness' };
export const TEXT_MIN = 10;
export const TEXT_MAX = 4000;
const WORDS = [null, 'Poor', 'Fair', 'Good', 'Very good', 'Excellent'];
const HEX64 = /^[0-9a-f]{64}$/;

export const isRating = (n) => Number.isInteger(n) && n >= 1 && n <= 5;

// "4 of 5 stars": the accessible name of a star and of a rating shown.
export const starsLabel = (n) => `${n} of 5 stars`;

export const ratingWord = (n) => (isRating(n) ? WORDS[n] : 'Not rated');

// "Quality 4 of 5 (Very good) · Communication 5 of 5 (Excellent) · …"
export function ratingsText(ratings) {
  const r = ratings && typeof ratings === 'object' ? ratings : {};
  return RATING_KEYS.map((k) => (isRating(r[k]) ? `${RATING_NAMES[k]} ${r[k]} of 5 (${WORDS[r[k]]})` : `${RATING_NAMES[k]} not rated`)).join(' · ');
}

// A text's length as the reader counts it: characters, not UTF-16 units
// (an emoji is one).
export const textLength = (text) => Array.from(String(text ?? '')).length;

// The counter under the text area: "12 / 4000", and what is missing.
export function counterText(text) {
  const n = textLength(String(text ?? '').trim());
  if (n < TEXT_MIN) return `${n} / ${TEXT_MAX} · at least ${TEXT_MIN}`;
  return `${n} / ${TEXT_MAX}`;
}

// What keeps a review from being sent: [{field: rating key | 'text', message}],
// checked before sending; the server checks again and its refusal is shown.
export function reviewProblems({ ratings, text } = {}) {
  const problems = [];
  for (const k of RATING_KEYS) {
    if (!isRating(ratings && ratings[k])) problems.push({ field: k, message: `Rate ${RATING_NAMES[k].toLowerCase()}: choose 1 to 5 stars.` });
  }
  const n = textLength(String(text ?? '').trim());
  if (n < TEXT_MIN) problems.push({ field: 'text', message: `Write at least ${TEXT_MIN} characters (${n} so far).` });
  else if (n > TEXT_MAX) problems.push({ field: 'text', message: `The review is too long: at most ${TEXT_MAX} characters (${n} now).` });
  return problems;
}

// The body of a `review` post from what the form holds.
export function reviewBody({ ratings, text }) {
  return { ratings: Object.fromEntries(RATING_KEYS.map((k) => [k, ratings[k]])), text: String(text).trim() };
}

// The commitment of a review: hex SHA-256 of the canonical `{ratings, text, salt}`.
export async function commitmentOf({ ratings, text, salt }) {
  return sha256Hex(canonicalize({ ratings, text, salt }));
}

// True when the revealed `{ratings, text, salt}` hashes to `commitment`.
// Anything malformed (no salt, a commitment that is not 64 hex digits, values
// JSON cannot hold) is false, never an exception.
export async function verifyCommitment(review, commitment) {
  if (!review || typeof review !== 'object' || typeof commitment !== 'string' || !HEX64.test(commitment)) return false;
  const { ratings, text, salt } = review;
  if (!ratings || typeof ratings !== 'object' || typeof text !== 'string' || typeof salt !== 'string') return false;
  try {
    return (await commitmentOf({ ratings, text, salt })) === commitment;
  } catch {
    return false;
  }
}

// The engagement's review period from its state (`reviews` once closed), or null.
export function reviewPeriod(state) {
  const r = state && state.reviews;
  if (!r || typeof r !== 'object') return null;
  return {
    due: Number.isFinite(r.due) ? r.due : null,
    submittedBy: Array.isArray(r.submitted_by) ? r.submitted_by.filter((id) => typeof id === 'string') : [],
    revealed: r.revealed === true,
  };
}

// "sealed — revealed when both have reviewed or on 14 Dec, 09:40"
export function sealedNote(due, format = formatDateTime) {
  return `sealed — revealed when both have reviewed or ${Number.isFinite(due) ? `on ${format(due)}` : 'when the review period ends'}`;
}

// The sealed card: "Bob has reviewed — sealed, revealed when both have reviewed or on <date>".
export function sealedCardText(name, due, format = formatDateTime) {
  return `${name} has reviewed — ${sealedNote(due, format).replace(/^sealed —/, 'sealed,')}`;
}

// "13d 23h left to review", or that the period is over.
export function periodCountdown(due, now) {
  if (!Number.isFinite(due)) return null;
  if (now >= due) return 'The review period has ended';
  return `${formatDuration(due - now)} left to review`;
}

// The reviews a `reviews` event (or GET …/reviews) reveals, each checked for
// shape; at most `max` (an engagement has two parties).
export function revealedReviews(list, max = 10) {
  if (!Array.isArray(list)) return [];
  return list.slice(0, max).filter((r) => r && typeof r === 'object' && Number.isInteger(r.seq) && typeof r.text === 'string'
    && r.ratings && typeof r.ratings === 'object');
}
