// Reviews without a browser (web-client/reviews_text.js): the commitment
// check against a hash computed here independently with node:crypto, the
// form's checks, ratings as words, the sealed sentence and the countdown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import {
  verifyCommitment, commitmentOf, reviewProblems, reviewBody, ratingsText, ratingWord, starsLabel, counterText,
  textLength, sealedNote, sealedCardText, periodCountdown, reviewPeriod, revealedReviews,
} from '../../web-client/reviews_text.js';

const DAY = 24 * 3600 * 1000;
const NOW = Date.UTC(2026, 11, 1, 12, 0);
const fmt = (ms) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');

// The RFC 8785 form of this one shape written out by hand (keys in code-unit
// order: communication < quality < timeliness; ratings < salt < text) and
// hashed with node:crypto, so that the module's canonicaliser is not its own judge.
function independentCommitment({ ratings, text, salt }) {
  const r = `{"communication":${ratings.communication},"quality":${ratings.quality},"timeliness":${ratings.timeliness}}`;
  const json = `{"ratings":${r},"salt":${JSON.stringify(salt)},"text":${JSON.stringify(text)}}`;
  return crypto.createHash('sha256').update(json, 'utf8').digest('hex');
}

const review = {
  ratings: { quality: 5, communication: 4, timeliness: 3 },
  text: 'Clear report, “on time” — thanks! 👍\nLine two with a \\ and a "quote".',
  salt: '0123456789abcdef0123456789abcdef',
};

test('a revealed review verifies against a commitment computed independently', async () => {
  const expected = independentCommitment(review);
  assert.equal(await commitmentOf(review), expected);
  assert.equal(await verifyCommitment(review, expected), true);
  // The revealed entry carries more fields (by, role, seq): they are not hashed.
  assert.equal(await verifyCommitment({ ...review, by: 'u-1', role: 'client', seq: 9 }, expected), true);
  // Key order in the revealed object does not matter.
  const reordered = { salt: review.salt, text: review.text, ratings: { timeliness: 3, quality: 5, communication: 4 } };
  assert.equal(await verifyCommitment(reordered, expected), true);
});

test('a tampered review, salt or commitment does not verify', async () => {
  const commitment = independentCommitment(review);
  assert.equal(await verifyCommitment({ ...review, text: `${review.text}.` }, commitment), false, 'text changed');
  assert.equal(await verifyCommitment({ ...review, text: review.text.replace('report', 'Report') }, commitment), false);
  assert.equal(await verifyCommitment({ ...review, ratings: { ...review.ratings, quality: 4 } }, commitment), false, 'rating changed');
  assert.equal(await verifyCommitment({ ...review, salt: 'f'.repeat(32) }, commitment), false, 'salt changed');
  assert.equal(await verifyCommitment(review, commitment.replace(/^./, (c) => (c === '0' ? '1' : '0'))), false, 'commitment changed');
  assert.equal(await verifyCommitment(review, commitment.toUpperCase()), false, 'the protocol writes lowercase hex');
  // Malformed input is false, never an exception.
  assert.equal(await verifyCommitment(null, commitment), false);
  assert.equal(await verifyCommitment({ ratings: review.ratings, text: review.text }, commitment), false, 'no salt');
  assert.equal(await verifyCommitment({ ...review, ratings: { quality: Infinity } }, commitment), false);
  assert.equal(await verifyCommitment(review, 'abc'), false);
  assert.equal(await verifyCommitment(review, undefined), false);
});

test('the form is checked before sending: three ratings 1 to 5 and 10 to 4000 characters', () => {
  const ok = { ratings: { quality: 4, communication: 5, timeliness: 1 }, text: 'Good work overall.' };
  assert.deepEqual(reviewProblems(ok), []);
  assert.deepEqual(reviewProblems({ ...ok, ratings: { quality: 4, communication: 5 } }).map((p) => p.field), ['timeliness']);
  assert.deepEqual(reviewProblems({ ...ok, ratings: { quality: 0, communication: 6, timeliness: 2.5 } }).map((p) => p.field), ['quality', 'communication', 'timeliness']);
  assert.deepEqual(reviewProblems({ ...ok, text: 'Ten chars!' }), [], 'exactly 10');
  assert.deepEqual(reviewProblems({ ...ok, text: ' too short ' }).map((p) => p.field), ['text'], '9 once trimmed');
  assert.deepEqual(reviewProblems({ ...ok, text: '   short   ' }).map((p) => p.field), ['text'], 'spaces around do not count');
  assert.match(reviewProblems({ ...ok, text: 'short' })[0].message, /at least 10 characters \(5 so far\)/);
  assert.deepEqual(reviewProblems({ ...ok, text: 'x'.repeat(4000) }), []);
  assert.match(reviewProblems({ ...ok, text: 'x'.repeat(4001) })[0].message, /at most 4000/);
  // Characters, not UTF-16 units: 4000 emoji are 4000 characters.
  assert.deepEqual(reviewProblems({ ...ok, text: '👍'.repeat(4000) }), []);
  assert.equal(textLength('👍👍'), 2);
  assert.deepEqual(reviewBody({ ratings: { timeliness: 1, quality: 4, communication: 5, extra: 9 }, text: '  Good work overall. ' }),
    { ratings: { quality: 4, communication: 5, timeliness: 1 }, text: 'Good work overall.' });
});

test('ratings as words and stars, the counter', () => {
  assert.equal(starsLabel(4), '4 of 5 stars');
  assert.deepEqual([1, 2, 3, 4, 5].map(ratingWord), ['Poor', 'Fair', 'Good', 'Very good', 'Excellent']);
  assert.equal(ratingWord(7), 'Not rated');
  assert.equal(ratingsText({ quality: 5, communication: 4, timeliness: 3 }),
    'Quality 5 of 5 (Excellent) · Communication 4 of 5 (Very good) · Timeliness 3 of 5 (Good)');
  assert.equal(ratingsText({ quality: 5 }), 'Quality 5 of 5 (Excellent) · Communication not rated · Timeliness not rated');
  assert.equal(counterText('abc'), '3 / 4000 · at least 10');
  assert.equal(counterText('Good work overall.'), '18 / 4000');
});

test('the sealed sentence names the date the period ends, the countdown runs to it', () => {
  const due = NOW + 14 * DAY;
  assert.equal(sealedNote(due, fmt), 'sealed — revealed when both have reviewed or on 2026-12-15 12:00');
  assert.equal(sealedCardText('Bob', due, fmt), 'Bob has reviewed — sealed, revealed when both have reviewed or on 2026-12-15 12:00');
  assert.equal(sealedNote(null, fmt), 'sealed — revealed when both have reviewed or when the review period ends');
  assert.equal(periodCountdown(due, NOW), '14d left to review');
  assert.equal(periodCountdown(NOW + 3 * 3600 * 1000 + 20 * 60000, NOW), '3h 20m left to review');
  assert.equal(periodCountdown(due, due), 'The review period has ended');
  assert.equal(periodCountdown(null, NOW), null);
});

test('the state\'s review period and the revealed list are read defensively', () => {
  assert.equal(reviewPeriod({ phase: 'active' }), null);
  assert.deepEqual(reviewPeriod({ reviews: { due: 5, submitted_by: ['a', 3], revealed: true } }), { due: 5, submittedBy: ['a'], revealed: true });
  assert.deepEqual(reviewPeriod({ reviews: { due: 'soon' } }), { due: null, submittedBy: [], revealed: false });
  const good = { by: 'a', role: 'client', seq: 7, ratings: { quality: 5 }, text: 'Fine work here.', salt: 's' };
  assert.deepEqual(revealedReviews([good, null, { seq: 'x' }, { ...good, text: 5 }]), [good]);
  assert.deepEqual(revealedReviews('nope'), []);
  assert.equal(revealedReviews(Array(50).fill(good)).length, 10);
});
