// "Seen by" survives a reload: the join reply carries the channel's stored
// read markers, named from presence or from the reader's own events.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  serverAndBrowser, openClient, token, uniqueEng, waitOnline, send,
} from './harness.mjs';

const suite = serverAndBrowser();
const { skip } = suite;

test('"Seen by" is shown again after the sender reloads', { skip }, async () => {
  const eng = uniqueEng('receipts');
  const aliceTok = token({ sub: 'u-alice', name: 'Alice Moreau', role: 'client', eng: [eng] });
  const alice = await openClient(suite.browser, suite.server, aliceTok);
  const bob = await openClient(suite.browser, suite.server, token({ sub: 'u-bob', name: 'Bob Lindqvist', role: 'expert', eng: [eng] }));
  await Promise.all([waitOnline(alice), waitOnline(bob)]);

  await send(bob, 'Morning, the draft is up.');
  await alice.locator('[data-testid="message-text"]', { hasText: 'the draft is up' }).waitFor();
  await send(alice, 'Thanks, reading it now.');
  await bob.locator('[data-testid="message-text"]', { hasText: 'reading it now' }).waitFor();
  await alice.locator('[data-testid="read-receipt"]', { hasText: 'Seen by Bob Lindqvist' }).waitFor();

  // Bob leaves; Alice reloads: the stored marker brings the receipt back,
  // named from Bob's message since he is no longer present
  await bob.context().close();
  await alice.reload();
  await waitOnline(alice);
  await alice.locator('[data-testid="message-text"]', { hasText: 'reading it now' }).waitFor();
  await alice.locator('[data-testid="read-receipt"]', { hasText: 'Seen by Bob Lindqvist' }).waitFor();
  assert.equal(await alice.getByTestId('read-receipt').textContent(), 'Seen by Bob Lindqvist');

  // a newer message of Alice's is not seen yet: the receipt goes
  await send(alice, 'One more question.');
  await alice.locator('[data-testid="timeline"] [data-testid="message-text"]', { hasText: 'One more question' }).waitFor();
  await alice.locator('[data-testid="read-receipt"]:text-is("")').waitFor({ state: 'attached' });
  assert.deepEqual(alice.problems, []);
  await alice.context().close();
});
