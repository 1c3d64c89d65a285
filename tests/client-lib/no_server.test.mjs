// The client library without a server: the reconnect delay (exponential,
// capped, jittered downwards only) and the bound on posts waiting to be sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay, DEFAULT_BACKOFF } from '../../web-client/lib/index.js';

test('the delay doubles from the base up to the cap, and jitter only shortens it', () => {
  const opts = { baseMs: 500, maxMs: 15000, jitter: 0.4 };
  const ceilings = [500, 1000, 2000, 4000, 8000, 15000, 15000];
  ceilings.forEach((ceiling, attempt) => {
    assert.equal(backoffDelay(attempt, { ...opts, random: () => 0 }), ceiling, `attempt ${attempt} without jitter`);
    assert.equal(backoffDelay(attempt, { ...opts, random: () => 0.999999 }), Math.round(ceiling * (1 - 0.4 * 0.999999)));
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(attempt, opts);
      assert.ok(d >= Math.floor(ceiling * 0.6) && d <= ceiling, `attempt ${attempt}: ${d} outside [${ceiling * 0.6}, ${ceiling}]`);
    }
  });
});

test('jitter spreads clients dropped at the same moment', () => {
  const seen = new Set();
  for (let i = 0; i < 50; i++) seen.add(backoffDelay(3));
  assert.ok(seen.size > 10, `only ${seen.size} distinct delays`);
});

test('absurd attempts and options stay bounded', () => {
  assert.equal(backoffDelay(1e9, { random: () => 0 }), DEFAULT_BACKOFF.maxMs);
  assert.equal(backoffDelay(-5, { random: () => 0 }), DEFAULT_BACKOFF.baseMs);
  assert.equal(backoffDelay(Number.NaN, { random: () => 0 }), DEFAULT_BACKOFF.baseMs);
  assert.equal(backoffDelay(2, { baseMs: 100, maxMs: 10000, jitter: 5, random: () => 1 }), 0);
  assert.equal(backoffDelay(2, { baseMs: 100, maxMs: 10000, jitter: -1, random: () => 1 }), 400);
});

test('the outbox of a client that is not online is bounded: past maxOutbox a post is refused at once', async () => {
  const { createClient } = await import('../../web-client/lib/index.js');
  const NoSocket = function () { throw new Error('never connected in this test'); };
  const client = createClient({ url: 'ws://127.0.0.1:9/ws', token: 't', WebSocket: NoSocket, maxOutbox: 2 });
  const waiting = [client.post('eng:x', 'message', { text: '1' }), client.post('eng:x', 'message', { text: '2' })];
  await assert.rejects(client.post('eng:x', 'message', { text: '3' }), (e) => e.code === 'outbox_full');
  assert.equal(client.pendingPosts().length, 2);
  client.close();
  for (const p of waiting) await assert.rejects(p);
});
