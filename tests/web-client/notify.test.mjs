// Which events the page tells the reader about (web-client/notify.js):
// messages addressed to them, the support inbox for staff, missed service
// levels; never their own events.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noteForEvent } from '../../web-client/notify.js';

test('which events are addressed to the reader', () => {
  const client = { id: 'c1', name: 'Cleo', role: 'client' };
  const expert = { id: 'x1', name: 'Xavier', role: 'expert' };
  const support = { id: 's1', name: 'Sam', role: 'support' };
  const other = { id: 'c2', name: 'Colleague', role: 'client' };
  const bot = { id: 'b1', name: 'CI bot', role: 'bot' };
  const msg = (from, text = 'hello') => ({ seq: 4, kind: 'message', from, body: { text } });
  assert.deepEqual(noteForEvent('eng:e1', msg(expert), client), { title: 'Xavier in engagement e1', body: 'hello' });
  assert.equal(noteForEvent('eng:e1', msg(client), client), null, 'own message');
  assert.equal(noteForEvent('eng:e1', msg(other), client), null, 'same side');
  assert.equal(noteForEvent('eng:e1', msg(support), client), null, 'support in the main room');
  assert.equal(noteForEvent('eng:e1', { seq: 5, kind: 'status', from: bot, body: { text: 'build green' } }, client), null);
  assert.equal(noteForEvent('eng:e1', msg(client), support), null, 'support is not a party');
  assert.deepEqual(noteForEvent('eng:e1:mediation', msg(support), client), { title: 'Sam in mediation of engagement e1', body: 'hello' });
  assert.deepEqual(noteForEvent('eng:e1:mediation', msg(client), support), { title: 'Cleo in mediation of engagement e1', body: 'hello' });
  const notice = { seq: 9, kind: 'notice', from: { id: 'system', role: 'system' }, body: { type: 'dispute', eng: 'e1', flag: 3, text: 'A dispute was raised.' } };
  assert.deepEqual(noteForEvent('support', notice, support), { title: 'Dispute raised · Engagement e1', body: 'A dispute was raised.' });
  assert.equal(noteForEvent('support', notice, client), null);
  assert.equal(noteForEvent('support', msg(support), support), null, 'own note');
  const sla = { seq: 7, kind: 'sla', from: { id: 'system', role: 'system' }, body: { type: 'status_overdue' } };
  assert.equal(noteForEvent('eng:e1', sla, expert).title, 'A status update is overdue · Engagement e1');
  assert.equal(noteForEvent('eng:e1', { ...msg(expert), body: null }, client), null);
  assert.equal(noteForEvent('nonsense', msg(expert), client), null);
});
