// Files and deliverables as words, without a browser: sizes, file families,
// hashes, statuses, the review window's countdown and last-day warning, the
// revisions left, and the deliverables gathered from state and events.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatSize, fileFamily, shortHash, statusWords, reviewCountdown, isLastDay, dueDate, lastDayWarning,
  revisionsText, versionLabel, deliverablesOf, cleanFiles, DELIVERABLE_KEY, spanText,
} from '../../web-client/deliverables_text.js';

const NOW = Date.UTC(2026, 11, 1, 12, 0);
const MIN = 60000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const SHA = 'ab'.repeat(32);

test('sizes read as people write them', () => {
  assert.equal(formatSize(0), '0 B');
  assert.equal(formatSize(512), '512 B');
  assert.equal(formatSize(1023), '1023 B');
  assert.equal(formatSize(1024), '1 KB');
  assert.equal(formatSize(1536), '1.5 KB');
  assert.equal(formatSize(2.4 * 1024 * 1024), '2.4 MB');
  assert.equal(formatSize(8 * 1024 * 1024), '8 MB');
  assert.equal(formatSize(12.4 * 1024 * 1024), '12 MB');
  assert.equal(formatSize(9.97 * 1024 * 1024), '10 MB', 'no "10.0"');
  assert.equal(formatSize(1.1 * 1024 ** 3), '1.1 GB');
  assert.equal(formatSize(100 * 1024 ** 2), '100 MB');
  assert.equal(formatSize(-1), '');
  assert.equal(formatSize('x'), '');
});

test('a file\'s family comes from its type, else its name', () => {
  assert.equal(fileFamily('image/png', 'a.bin'), 'image');
  assert.equal(fileFamily('application/pdf', ''), 'pdf');
  assert.equal(fileFamily('text/plain; charset=utf-8', ''), 'text');
  assert.equal(fileFamily('application/json', ''), 'text');
  assert.equal(fileFamily('application/zip', ''), 'archive');
  assert.equal(fileFamily('application/gzip', ''), 'archive');
  assert.equal(fileFamily('application/octet-stream', 'report.PDF'), 'pdf');
  assert.equal(fileFamily('', 'photo.jpeg'), 'image');
  assert.equal(fileFamily('', 'data.tar.gz'), 'archive');
  assert.equal(fileFamily('', 'notes.md'), 'text');
  assert.equal(fileFamily('application/octet-stream', 'model.bin'), 'other');
  assert.equal(fileFamily(undefined, undefined), 'other');
});

test('a hash is shortened for the eye and kept whole otherwise', () => {
  const sha = `0123456789abcdef${'0'.repeat(44)}beef`;
  assert.equal(shortHash(sha), '01234567…beef');
  assert.equal(shortHash('abc'), 'abc');
  assert.equal(shortHash(null), '');
});

test('statuses in words', () => {
  assert.equal(statusWords('submitted'), 'Awaiting client review');
  assert.equal(statusWords('revision_requested'), 'Revision requested');
  assert.equal(statusWords('accepted'), 'Accepted');
  assert.equal(statusWords('something_new'), 'something new');
});

test('the review window counts down and warns on its last day', () => {
  assert.equal(reviewCountdown(NOW + 2 * DAY + 4 * HOUR + 10 * MIN, NOW), 'accepted automatically in 2 d 4 h');
  assert.equal(reviewCountdown(NOW + 3 * DAY, NOW), 'accepted automatically in 3 d');
  assert.equal(reviewCountdown(NOW + 5 * HOUR + 12 * MIN + 30000, NOW), 'accepted automatically in 5 h 12 min');
  assert.equal(reviewCountdown(NOW + 8 * MIN, NOW), 'accepted automatically in 8 min');
  assert.equal(reviewCountdown(NOW + 20000, NOW), 'accepted automatically in less than a minute');
  assert.equal(reviewCountdown(NOW, NOW), 'accepted automatically any moment now');
  assert.equal(reviewCountdown(NOW - HOUR, NOW), 'accepted automatically any moment now');
  assert.equal(reviewCountdown(null, NOW), '');
  assert.equal(spanText(-5), 'less than a minute');

  assert.equal(isLastDay(NOW + DAY + MIN, NOW), false);
  assert.equal(isLastDay(NOW + DAY, NOW), true);
  assert.equal(isLastDay(NOW + HOUR, NOW), true);
  assert.equal(isLastDay(NOW - HOUR, NOW), true);
  assert.equal(isLastDay(null, NOW), false);
});

test('the deadline and the warning name the date in the reader\'s zone', () => {
  const due = Date.UTC(2026, 11, 3, 9, 30);
  assert.equal(dueDate(due, { locale: 'en-GB', tz: 'UTC' }), 'Thu 3 Dec, 09:30');
  assert.equal(dueDate(due, { locale: 'en-GB', tz: 'Europe/Berlin' }), 'Thu 3 Dec, 10:30');
  assert.equal(lastDayWarning(due, { deciding: true, locale: 'en-GB', tz: 'UTC' }), 'Accepted automatically on Thu 3 Dec, 09:30 unless you act');
  assert.equal(lastDayWarning(due, { deciding: false, locale: 'en-GB', tz: 'UTC' }), 'Accepted automatically on Thu 3 Dec, 09:30 unless the client acts');
  assert.equal(dueDate(undefined), '');
});

test('revisions left out of those allowed', () => {
  assert.equal(revisionsText(0, 2), '2 of 2 revisions left');
  assert.equal(revisionsText(1, 2), '1 of 2 revisions left');
  assert.equal(revisionsText(0, 1), '1 of 1 revision left');
  assert.equal(revisionsText(2, 2), 'No revisions left (2 of 2 used)');
  assert.equal(revisionsText(3, 2), 'No revisions left (3 of 2 used)');
  assert.equal(revisionsText(0, 0), 'No revisions in this engagement');
  assert.equal(revisionsText(1, undefined), null);
  assert.equal(versionLabel('report', 2, true), 'report v2 (final)');
  assert.equal(versionLabel('report', 1, false), 'report v1');
});

test('deliverable keys as the protocol allows them', () => {
  for (const k of ['report', 'final-report', 'a_b', '0', 'x'.repeat(64)]) assert.ok(DELIVERABLE_KEY.test(k), k);
  for (const k of ['', 'Report', 'a b', 'x'.repeat(65), 'ü', 'a/b', 'a.b']) assert.ok(!DELIVERABLE_KEY.test(k), k);
});

test('only well-formed file entries are shown, at most 20', () => {
  const files = cleanFiles([{ sha256: SHA, name: 'a.pdf', size: 10, type: 'application/pdf' }, { sha256: 'nothex', name: 'x' }, null, 'x', { sha256: SHA.toUpperCase(), name: 'y' }, { sha256: SHA }]);
  assert.deepEqual(files, [{ sha256: SHA, name: 'a.pdf', size: 10, type: 'application/pdf' }, { sha256: SHA, name: SHA, size: null, type: '' }]);
  assert.equal(cleanFiles(Array.from({ length: 30 }, () => ({ sha256: SHA, name: 'n' }))).length, 20);
  assert.deepEqual(cleanFiles('nope'), []);
});

test('deliverables come from the state, with the versions the events carry', () => {
  const ev = (seq, body, ts = NOW) => ({ seq, kind: 'delivery', ts, from: { id: 'u-expert', name: 'Tomás', role: 'expert' }, body });
  const events = [
    { seq: 1, kind: 'message', body: { text: 'hi' } },
    ev(2, { deliverable: 'report', version: 1, text: 'Draft', files: [{ sha256: SHA, name: 'r1.pdf', size: 5, type: 'application/pdf' }] }),
    ev(3, { deliverable: 'data', version: 1, text: 'Data', files: [] }),
    { seq: 4, kind: 'revision_request', body: { delivery: 2, text: 'More' } },
    ev(5, { deliverable: 'report', version: 2, text: 'Final', final: true, files: [{ sha256: SHA, name: 'r2.pdf', size: 6, type: 'application/pdf' }] }),
    ev(5, { deliverable: 'report', version: 2, text: 'dup', final: true }),
    ev(6, { deliverable: 'late', version: 1, text: 'not yet in the state' }),
  ];
  const state = {
    deliverables: {
      report: { version: 2, seq: 5, status: 'submitted', review_due: NOW + DAY, revisions_used: 1, final: true },
      data: { version: 1, seq: 3, status: 'accepted', review_due: null, revisions_used: 0, final: false },
      sent_back: { version: 1, seq: 2, status: 'revision_requested', review_due: null, revisions_used: 1, final: false },
      old: { version: 4, seq: 1, status: 'accepted', review_due: null, revisions_used: 2, final: true },
    },
  };
  const list = deliverablesOf(state, events);
  assert.deepEqual(list.map((d) => d.key), ['late', 'report', 'sent_back', 'data', 'old'], 'awaiting the client first, then the latest delivery first');
  const report = list[1];
  assert.equal(report.status, 'submitted');
  assert.equal(report.review_due, NOW + DAY);
  assert.equal(report.revisions_used, 1);
  assert.equal(report.final, true);
  assert.deepEqual(report.versions.map((v) => [v.version, v.seq, v.text, v.files.map((f) => f.name)]), [[2, 5, 'Final', ['r2.pdf']], [1, 2, 'Draft', ['r1.pdf']]]);
  assert.equal(list[0].status, 'submitted', 'a delivery the state does not list yet awaits review');
  assert.equal(list[0].version, 1);
  assert.deepEqual(list[4].versions, [], 'an old deliverable whose events are not loaded');
  assert.deepEqual(deliverablesOf(null, null), []);
  assert.deepEqual(deliverablesOf({ deliverables: { bad: null, x: 'y' } }, []), []);
});
