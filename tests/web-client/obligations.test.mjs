// What each side still owes (web-client/obligations.js): party names,
// requirements per side, the `active` blockers, and who owes a reply by when.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  sideName, nameWithSide, readerSide, isOutsider, requirementsOf, missingAcknowledgements, openForReader, owedReplyInfo, dueWords,
} from '../../web-client/obligations.js';

const HOUR = 3600 * 1000;
const NOW = Date.UTC(2026, 10, 30, 12, 0, 0);
const alice = { id: 'alice', name: 'Alice', role: 'client' };
const bob = { id: 'bob', name: 'Bob', role: 'expert' };
const named = (extra = {}) => ({
  phase: 'discovery',
  parties: { client: { id: 'alice', name: 'Alice' }, expert: { id: 'bob', name: 'Bob' } },
  requirements: [
    { key: 'nda', title: 'Mutual NDA', by: ['client', 'expert'], acknowledged_by: ['alice'] },
    { key: 'sec', title: 'Security review', by: ['client'], acknowledged_by: [] },
  ],
  ...extra,
});

test('names come from the named parties, else from what was seen, else the role', () => {
  assert.equal(sideName(named(), 'expert'), 'Bob');
  assert.equal(sideName({ parties: { client: { id: 'c1' }, expert: { id: 'e1' } } }, 'client'), 'c1');
  assert.equal(sideName({ parties: null }, 'client', { client: 'Priya' }), 'Priya');
  assert.equal(sideName({ parties: null }, 'expert'), 'the expert');
  assert.equal(sideName(null, 'client'), 'the client');
  assert.equal(nameWithSide('Alice Client', 'client'), 'Alice Client (client)');
  assert.equal(nameWithSide('Bob (expert)', 'expert'), 'Bob (expert)');
});

test('only the named user acts for a side; another token of that role is an outsider', () => {
  assert.equal(readerSide(named(), alice), 'client');
  assert.equal(readerSide(named(), { id: 'mallory', role: 'expert' }), null);
  assert.equal(isOutsider(named(), { id: 'mallory', role: 'expert' }), true);
  assert.equal(isOutsider(named(), bob), false);
  assert.equal(isOutsider(named(), { id: 'sam', role: 'support' }), false);
  // First-use engagements name nobody: every token of a party role acts for its side.
  assert.equal(readerSide({ parties: null }, { id: 'x', role: 'expert' }), 'expert');
  assert.equal(readerSide(named(), { id: 'sam', role: 'support' }), null);
});

test('requirements per side, what blocks active, and what the reader still has to acknowledge', () => {
  const reqs = requirementsOf(named());
  assert.deepEqual(reqs.map((r) => [r.key, r.done, r.sides.map((x) => `${x.name}:${x.done}`)]), [
    ['nda', false, ['Alice:true', 'Bob:false']],
    ['sec', false, ['Alice:false']],
  ]);
  assert.deepEqual(missingAcknowledgements(named()), ['Mutual NDA — Bob', 'Security review — Alice']);
  assert.deepEqual(openForReader(named(), alice).map((r) => r.key), ['sec']);
  assert.deepEqual(openForReader(named(), bob).map((r) => r.key), ['nda']);
  assert.deepEqual(openForReader(named(), { id: 'sam', role: 'support' }), []);
  const done = named({ requirements: [{ key: 'nda', title: 'Mutual NDA', by: ['client', 'expert'], acknowledged_by: ['bob', 'alice'] }] });
  assert.deepEqual(missingAcknowledgements(done), []);
  // Another user's acknowledgement does not count for the named party.
  const other = named({ requirements: [{ key: 'nda', title: 'NDA', by: ['expert'], acknowledged_by: ['mallory'] }] });
  assert.deepEqual(missingAcknowledgements(other), ['NDA — Bob']);
  // Malformed entries are skipped, not thrown on.
  assert.deepEqual(requirementsOf({ requirements: [null, 7, { title: 'no key' }, { key: 'k', by: ['support', 'client'], acknowledged_by: 'x' }] })
    .map((r) => [r.key, r.title, r.by, r.acknowledgedBy]), [['k', 'k', ['client'], []]]);
  assert.deepEqual(requirementsOf({}), []);
});

test('who owes a reply, in the reader\'s words, with the server\'s due time', () => {
  const owed = (o) => named({ owed_reply: { side: 'expert', since_seq: 5, since_ts: NOW - HOUR, ...o } });
  assert.equal(owedReplyInfo(named({ owed_reply: null }), alice, { now: NOW }), null);
  assert.equal(owedReplyInfo(owed({ side: 'support' }), alice, { now: NOW }), null);

  const mine = owedReplyInfo(owed({ due: NOW + 3 * HOUR }), bob, { now: NOW });
  assert.equal(mine.text, 'You owe a reply — due in 3h');
  assert.equal(mine.mine, true);
  assert.equal(mine.overdue, false);
  assert.equal(owedReplyInfo(owed({ due: NOW + 3 * HOUR }), alice, { now: NOW }).text, 'Bob owes you a reply — due in 3h');
  const support = owedReplyInfo(owed({ due: NOW + 50 * HOUR }), { id: 'sam', role: 'support' }, { now: NOW });
  assert.match(support.text, /^Bob owes Alice a reply — due \S+ \d\d:\d\d/);
  const late = owedReplyInfo(owed({ due: NOW - 2 * HOUR }), bob, { now: NOW });
  assert.equal(late.text, 'You owe a reply — overdue by 2h');
  assert.equal(late.overdue, true);

  // Without `due`: no time is made up; the server's reply_overdue event for this debt marks it overdue.
  assert.equal(owedReplyInfo(owed(), bob, { now: NOW }).text, 'You owe a reply');
  const sla = { ts: NOW - HOUR, body: { type: 'reply_overdue', side: 'expert', since_seq: 5, due: NOW - HOUR } };
  const fromSla = owedReplyInfo(owed(), bob, { now: NOW, overdueEvent: sla });
  assert.equal(fromSla.text, 'You owe a reply — overdue by 1h');
  assert.equal(fromSla.overdue, true);
  const stale = { ...sla, body: { ...sla.body, since_seq: 3 } };
  assert.equal(owedReplyInfo(owed(), bob, { now: NOW, overdueEvent: stale }).overdue, false);

  // First-use engagements: names seen in the conversation, else the roles.
  const anon = { owed_reply: { side: 'client', since_seq: 2, since_ts: NOW }, parties: null };
  assert.equal(owedReplyInfo(anon, { id: 's', role: 'support' }, { now: NOW, seen: { client: 'Priya', expert: 'Tomás' } }).text, 'Priya owes Tomás a reply');
  assert.equal(owedReplyInfo(anon, { id: 's', role: 'support' }, { now: NOW }).text, 'The client owes the expert a reply');
});

test('due times in words', () => {
  assert.equal(dueWords(NOW + 90 * 60000, NOW), 'due in 1h 30m');
  assert.equal(dueWords(NOW, NOW), 'overdue by less than a minute');
  assert.match(dueWords(NOW + 3 * 24 * HOUR, NOW), /^due \S+ \d{1,2}:\d\d/);
});
