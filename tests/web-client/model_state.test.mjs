// The engagement model keeps the newest state by `revision`, whatever order a
// join reply, a push and an HTTP read arrive in (protocol README "State pushes").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngagementModel } from '../../web-client/model.js';

const state = (revision, extra = {}) => ({ revision, phase: 'agreement', due: null, ...extra });

test('an older state arriving after a newer one is dropped', () => {
  const eng = new EngagementModel('e1');
  assert.equal(eng.applyState(state(3)), true);
  assert.equal(eng.applyState(state(5, { due: 1800000000000 })), true);
  // An HTTP read sent before the decision, answered after its push.
  assert.equal(eng.applyState(state(4)), false);
  assert.equal(eng.state.revision, 5);
  assert.equal(eng.state.due, 1800000000000);
  assert.equal(eng.stateVersion, 2);
});

test('a state with the same revision replaces the last one (time-derived fields move)', () => {
  const eng = new EngagementModel('e1');
  eng.applyState(state(7, { owed_reply: { side: 'expert', since_seq: 7, since_ts: 1, due: 100 } }));
  assert.equal(eng.applyState(state(7, { owed_reply: { side: 'expert', since_seq: 7, since_ts: 1, due: 200 } })), true);
  assert.equal(eng.state.owed_reply.due, 200);
});

test('a join reply is taken even when its revision is lower (a new epoch after the loss of Redis data)', () => {
  const eng = new EngagementModel('e1');
  eng.applyState(state(40));
  assert.equal(eng.applyState(state(2), { fresh: true }), true);
  assert.equal(eng.state.revision, 2);
  assert.equal(eng.applyState(state(3)), true);
});

test('a state without a revision is taken as it comes', () => {
  const eng = new EngagementModel('e1');
  eng.applyState(state(9));
  assert.equal(eng.applyState({ phase: 'active' }), true);
  assert.equal(eng.state.phase, 'active');
});
