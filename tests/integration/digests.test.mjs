// Offline digests (protocol §9.8 `notify.digest`), against a receiver
// process: a party who is not connected and has had unread events for
// --digest-after gets exactly one digest saying what it owes; one who reads
// in time or stays joined gets none; at most one per party and engagement
// every --digest-every, also across a restart; and none again for what a
// digest already told.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { cleanup, connectAs, makeTempDir, sleep, startServer, uniqueEng, userToken } from './harness.mjs';
import { expectOk, pollUntil } from './engagement_helpers.mjs';
import { startReceiver } from './webhook_receiver.mjs';

// Short enough for a test, long enough for a client to read "in time" on a slow machine.
const DIGEST_AFTER_MS = 2000;
// Long enough that a digest made right after a restart would come too early
// if the last digest were forgotten.
const DIGEST_EVERY_MS = 10000;
// Generous bound for a digest to be made and sent (slow machines).
const ARRIVES_WITHIN_MS = 30000;
// The default --reply-sla: a digest's next_due for an owed reply.
const REPLY_WINDOW_MS = 24 * 3600 * 1000;

let server;
let rx;

before(async () => {
  rx = await startReceiver();
  const secretFile = path.join(makeTempDir('parley-digest-secret-'), 'webhook-secret');
  fs.writeFileSync(secretFile, `whsec-${randomBytes(16).toString('hex')}\n`, { mode: 0o600 });
  server = await startServer({
    args: [
      '--webhook-url', rx.url, '--webhook-secret-file', secretFile,
      '--digest-after', `${DIGEST_AFTER_MS}ms`, '--digest-every', `${DIGEST_EVERY_MS}ms`,
    ],
  });
});
after(async () => {
  if (rx) await rx.kill();
  await cleanup();
});

// The digests the receiver accepted for engagement `eng`, oldest first.
async function digestsOf(eng) {
  const hooks = (await rx.accepted()).map((r) => JSON.parse(r.body.toString('utf8')));
  const seen = new Map();  // a retried delivery arrives again with the same id
  for (const h of hooks) if (h.type === 'notify.digest' && h.eng === eng && !seen.has(h.id)) seen.set(h.id, h);
  return [...seen.values()];
}

function waitForDigests(eng, count) {
  return pollUntil(async () => {
    const found = await digestsOf(eng);
    return found.length >= count ? found : undefined;
  }, ARRIVES_WITHIN_MS, `${count} digest(s) of eng:${eng}`);
}

// An engagement where `away` (the expert) spoke, then left, and `here` (the
// client) answered and stays joined: the expert owes the reply.
async function conversation(prefix) {
  const eng = uniqueEng(prefix);
  const ch = `eng:${eng}`;
  const awayToken = userToken(`${prefix}-expert`, 'expert', [eng], { name: 'Eve' });
  const away = await connectAs(server, awayToken);
  const first = expectOk(await away.message(ch, 'here is my plan'), 'expert message');
  await away.close();
  const here = await connectAs(server, userToken(`${prefix}-client`, 'client', [eng], { name: 'Carla' }));
  expectOk(await here.join(ch), 'client join');
  const answer = expectOk(await here.message(ch, 'looks good, one question'), 'client message');
  return { eng, ch, awayId: `${prefix}-expert`, awayToken, here, first, answer };
}

describe('offline digests', () => {
  test('a party away with an unread message gets exactly one digest, saying what it owes; then at most one per window, also after a restart', async () => {
    const c = await conversation('dg1');
    const [digest] = await waitForDigests(c.eng, 1);
    assert.match(digest.id, /^wh_[0-9a-f]{32}$/);
    assert.equal(typeof digest.ts, 'number');
    assert.deepEqual(digest.data, {
      user: c.awayId,
      unread: 1,
      owed_reply: true,
      next_due: c.answer.ts + REPLY_WINDOW_MS,
    });

    // Nothing new: no second digest for the same message, and none for the client, who wrote last.
    await sleep(2 * DIGEST_AFTER_MS);
    assert.equal((await digestsOf(c.eng)).length, 1, 'one digest for one stretch of unread events');

    // The last digest outlives a restart: something new right after it gets
    // the next digest, but not within --digest-every of the first.
    await c.here.close();
    server = await server.restart();
    const here = await connectAs(server, userToken('dg1-client', 'client', [c.eng], { name: 'Carla' }));
    expectOk(await here.join(c.ch), 'client join');
    expectOk(await here.message(c.ch, 'are you there?'), 'client message');
    const [, second] = await waitForDigests(c.eng, 2);
    assert.notEqual(second.id, digest.id);
    assert.ok(second.ts >= digest.ts + DIGEST_EVERY_MS,
      `the second digest (${second.ts}) comes at least --digest-every after the first (${digest.ts})`);
    assert.deepEqual(second.data, { user: c.awayId, unread: 2, owed_reply: true, next_due: c.answer.ts + REPLY_WINDOW_MS });
    await here.close();
  });

  test('no digest for a party who reads in time, or who stays joined', async () => {
    // Reads the client's answer at once, without joining, and leaves.
    const read = await conversation('dg2');
    const reader = await connectAs(server, read.awayToken);
    await reader.read(read.ch, read.answer.seq);
    await reader.close();

    // Stays joined while the client answers.
    const eng = uniqueEng('dg3');
    const ch = `eng:${eng}`;
    const stays = await connectAs(server, userToken('dg3-expert', 'expert', [eng]));
    expectOk(await stays.join(ch), 'expert join');
    expectOk(await stays.message(ch, 'here is my plan'), 'expert message');
    const client = await connectAs(server, userToken('dg3-client', 'client', [eng]));
    expectOk(await client.message(ch, 'looks good'), 'client message');

    // One made after both, which must get its digest: once it is in, the
    // looks at the two others (due earlier) have been made.
    const control = await conversation('dg4');
    await waitForDigests(control.eng, 1);
    await sleep(DIGEST_AFTER_MS);
    assert.deepEqual(await digestsOf(read.eng), [], 'a party who read in time gets no digest');
    assert.deepEqual(await digestsOf(eng), [], 'a party who stays joined gets no digest');
    await Promise.all([stays.close(), client.close(), read.here.close(), control.here.close()]);
  });
});
