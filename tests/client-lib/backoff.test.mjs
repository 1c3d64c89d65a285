// The reconnect delay of the client library, without a server: exponential,
// capped, and jittered downwards only, so that it stays within its bounds.
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
