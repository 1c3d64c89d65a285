// The web client's terms module without a browser: the merge the server
// makes, what a proposal changes, the agreement's versions from the decision
// log, and terms as text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  mergeTerms, diffTerms, proposalChanges, agreementVersions, formatTermValue, endOfDay, isAgreementTopic,
} from '../../web-client/terms.js';

test('a merge replaces the proposal\'s keys and keeps the others', () => {
  assert.deepEqual(mergeTerms({ scope: 'a', fee: 1 }, { fee: 2, due: 3 }), { scope: 'a', fee: 2, due: 3 });
  assert.deepEqual(mergeTerms(null, { a: 1 }), { a: 1 });
  assert.deepEqual(mergeTerms({ a: 1 }, [1, 2]), { a: 1 }, 'an array is not terms');
  assert.deepEqual(mergeTerms('x', 'y'), {});
});

test('a diff lists added, changed and removed keys, and same ones only when asked', () => {
  const before = { scope: 'Nordics', compensation: { amount: 4800, currency: 'EUR' }, weeks: 3 };
  const after = { scope: 'Nordics and Baltics', compensation: { currency: 'EUR', amount: 4800 }, deliverables: ['Report'] };
  assert.deepEqual(diffTerms(before, after), [
    { key: 'scope', change: 'changed', before: 'Nordics', after: 'Nordics and Baltics' },
    { key: 'deliverables', change: 'added', before: undefined, after: ['Report'] },
    { key: 'weeks', change: 'removed', before: 3, after: undefined },
  ]);
  assert.deepEqual(diffTerms(before, after, { same: true }).map((c) => [c.key, c.change]),
    [['scope', 'changed'], ['compensation', 'same'], ['deliverables', 'added'], ['weeks', 'removed']],
    'objects with the same keys in another order are the same');
  assert.deepEqual(diffTerms({ a: [1, 2] }, { a: [2, 1] }).map((c) => c.change), ['changed'], 'array order matters');
  assert.deepEqual(diffTerms({ a: null }, { a: 0 }).map((c) => c.change), ['changed']);
  assert.deepEqual(diffTerms(undefined, 'junk'), []);
});

test('a proposal\'s changes are its own keys against the current agreement', () => {
  const current = { scope: 'Nordics', timeline: { start: '2026-12-01', end: '2026-12-20' } };
  assert.deepEqual(proposalChanges(current, { timeline: { start: '2026-12-01', end: '2027-01-10' }, scope: 'Nordics', fee: 1 }), [
    { key: 'scope', change: 'same', before: 'Nordics', after: 'Nordics' },
    { key: 'timeline', change: 'changed', before: current.timeline, after: { start: '2026-12-01', end: '2027-01-10' } },
    { key: 'fee', change: 'added', before: undefined, after: 1 },
  ]);
  assert.deepEqual(proposalChanges(null, { a: 1 }), [{ key: 'a', change: 'added', before: undefined, after: 1 }]);
  assert.deepEqual(proposalChanges(current, null), []);
});

test('the versions are the agreement-type records in order, each merged over the last', () => {
  const records = [
    { n: 4, topic: 'compensation', terms: { compensation: { amount: 5200, currency: 'EUR' } }, ts: 4, proposed_by: 'e' },
    { n: 1, topic: 'phase', terms: { to: 'agreement' }, ts: 1 },
    { n: 2, topic: 'agreement', terms: { scope: 'Nordics', compensation: { amount: 4800, currency: 'EUR' } }, ts: 2 },
    { n: 3, topic: 'phase', terms: { to: 'active' }, ts: 3 },
    { n: 5, topic: 'resolution', terms: { flag: 9 } },
    null,
    { n: 6, topic: 'scope_change', terms: 'not an object' },
  ];
  const v = agreementVersions(records);
  assert.deepEqual(v.map((x) => [x.version, x.record.n, x.topic]), [[1, 2, 'agreement'], [2, 4, 'compensation'], [3, 6, 'scope_change']]);
  assert.deepEqual(v[0].changes.map((c) => [c.key, c.change]), [['scope', 'added'], ['compensation', 'added']]);
  assert.deepEqual(v[1].terms, { scope: 'Nordics', compensation: { amount: 5200, currency: 'EUR' } });
  assert.deepEqual(v[1].changes, [{ key: 'compensation', change: 'changed', before: { amount: 4800, currency: 'EUR' }, after: { amount: 5200, currency: 'EUR' } }]);
  assert.deepEqual(v[2].changes, [], 'terms that are not an object change nothing');
  assert.deepEqual(agreementVersions('junk'), []);
  assert.ok(isAgreementTopic('timeline') && !isAgreementTopic('phase') && !isAgreementTopic('resolution'));
});

test('terms read as text: the client\'s shapes naturally, anything else as JSON', () => {
  assert.equal(formatTermValue('scope', 'Interviews'), 'Interviews');
  assert.equal(formatTermValue('deliverables', ['Report', 'Slides']), 'Report; Slides');
  assert.equal(formatTermValue('timeline', { start: '2026-12-01', end: '2026-12-20' }), '1 Dec 2026 → 20 Dec 2026');
  assert.equal(formatTermValue('timeline', { end: '2026-12-20' }), '… → 20 Dec 2026');
  assert.equal(formatTermValue('compensation', { amount: 4800, currency: 'EUR' }), '4,800 EUR');
  assert.equal(formatTermValue('due', Date.UTC(2026, 11, 20, 23, 59)), '20 Dec 2026');
  assert.equal(formatTermValue('fee', 4800), '4800');
  assert.equal(formatTermValue('timeline', { start: '2026-12-01', extra: '<b>' }), '{"start":"2026-12-01","extra":"<b>"}');
  assert.equal(formatTermValue('compensation', { amount: 1, currency: { x: 1 } }), '{"amount":1,"currency":{"x":1}}');
  assert.equal(formatTermValue('deliverables', ['a', 1]), '["a",1]');
  assert.equal(formatTermValue('x', null), 'null');
  assert.equal(endOfDay('2026-12-20'), Date.UTC(2026, 11, 20, 23, 59, 59, 999));
  assert.equal(endOfDay('20/12/2026'), null);
});
