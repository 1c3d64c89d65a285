// The client library's HTTP side against the real server: a bot's status
// posted over HTTP (once per cid, however often it is sent), uploads with
// progress (a Buffer and a stream), refusals with the protocol's codes, and
// the decision log read and checked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { userToken, uniqueEng, binaryAvailable, makeTempDir } from '../integration/harness.mjs';
import { clientFor, serverOnDemand, recordEvents, waitUntil } from './helpers.mjs';

const skip = !binaryAvailable() && 'the parley binary is not built';
const MAX_FILE = 256 * 1024;
const theServer = serverOnDemand({ args: ['--max-file-size', String(MAX_FILE)] });

test('a bot posts a status over HTTP; the same cid is stored once', { skip }, async () => {
  const srv = await theServer();
  const eng = uniqueEng('bot');
  const ch = `eng:${eng}`;
  const reader = clientFor(srv, userToken('alice', 'client', [eng]));
  const got = recordEvents(reader);
  await reader.connect();
  await reader.join(ch);

  const bot = clientFor(srv, userToken('ci', 'bot', [eng]));
  const first = await bot.postStatus(eng, 'build 41 passed', { progress: 100 });
  assert.ok(first.seq > 0 && typeof first.ts === 'number' && typeof first.cid === 'string');
  const again = await bot.postStatus(eng, 'build 41 passed', { progress: 100, cid: first.cid });
  assert.equal(again.seq, first.seq, 'the server answered the repeat with the first seq');
  assert.equal(bot.connectionState, 'idle', 'no WebSocket was needed');

  await waitUntil(() => got(ch).some((e) => e.seq === first.seq), 'the status at the reader');
  const statuses = got(ch).filter((e) => e.kind === 'status');
  assert.equal(statuses.length, 1);
  assert.deepEqual(statuses[0].body, { text: 'build 41 passed', progress: 100 });
  assert.equal(statuses[0].from.role, 'bot');

  // A bot may not propose: the refusal carries the protocol's code, and is not retried.
  await assert.rejects(bot.postHttp(ch, 'proposal', { topic: 'scope_change', text: 'x', terms: {} }),
    (err) => err.name === 'HttpError' && err.code === 'forbidden' && err.status === 403);
  const state = await bot.engagement(eng);
  assert.equal(state.phase, 'discovery');
});

test('uploads report their progress and answer the file\'s hash; refusals are HttpErrors', { skip }, async () => {
  const srv = await theServer();
  const eng = uniqueEng('up');
  const alice = clientFor(srv, userToken('alice', 'client', [eng]));
  await alice.postStatus(eng, 'the engagement exists');

  const bytes = Buffer.alloc(200 * 1024);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31) % 251;
  const sha = createHash('sha256').update(bytes).digest('hex');
  const progress = [];
  const res = await alice.upload(eng, bytes, { name: 'report 1.bin', type: 'application/octet-stream', onProgress: (l, t) => progress.push([l, t]) });
  assert.deepEqual(res, { sha256: sha, size: bytes.length, name: 'report 1.bin', type: 'application/octet-stream', existing: false });
  assert.ok(progress.length >= 3, `progress reported in steps (${progress.length})`);
  for (let i = 1; i < progress.length; i++) assert.ok(progress[i][0] >= progress[i - 1][0], 'never backwards');
  assert.deepEqual(progress.at(-1), [bytes.length, bytes.length]);
  assert.ok(progress.every(([, total]) => total === bytes.length));

  // The same bytes again, as a file stream: the server had them (200).
  const file = path.join(makeTempDir('parley-upload-'), 'copy.bin');
  fs.writeFileSync(file, bytes);
  const streamed = await alice.upload(eng, fs.createReadStream(file), { name: 'copy.bin', size: bytes.length });
  assert.equal(streamed.sha256, sha);
  assert.equal(streamed.existing, true);

  // Attached to a message, the file is known to the engagement.
  const posted = await alice.postHttp(`eng:${eng}`, 'message', { text: 'see the report', files: [{ sha256: sha, name: 'report 1.bin' }] });
  assert.ok(posted.seq > 0);

  // Above --max-file-size: too_large, before or while sending.
  await assert.rejects(alice.upload(eng, Buffer.alloc(MAX_FILE + 1), { name: 'big.bin', maxBytes: MAX_FILE }), (err) => err.code === 'too_large');
  await assert.rejects(alice.upload(eng, Buffer.alloc(MAX_FILE + 1), { name: 'big.bin' }), (err) => err.code === 'too_large' || err.code === 'network');
  // A name the protocol refuses, and an engagement the token does not list.
  await assert.rejects(alice.upload(eng, Buffer.from('x'), { name: 'a/b' }), (err) => err.code === 'bad_request' && err.status === 400);
  await assert.rejects(alice.upload(uniqueEng('other'), Buffer.from('x'), { name: 'x' }), (err) => err.code === 'forbidden');
  // Cancelled by its signal.
  const ctl = new AbortController();
  ctl.abort();
  await assert.rejects(alice.upload(eng, Buffer.from('y'), { name: 'y', signal: ctl.signal }), (err) => err.code === 'cancelled');
});

test('the decision log is read over the socket and its chain and signatures checked', { skip }, async () => {
  const srv = await theServer();
  const eng = uniqueEng('log');
  const ch = `eng:${eng}`;
  const alice = clientFor(srv, userToken('alice', 'client', [eng]));
  const bob = clientFor(srv, userToken('bob', 'expert', [eng]));
  await Promise.all([alice.connect(), bob.connect()]);
  const proposal = await alice.post(ch, 'proposal', { topic: 'phase', text: 'on to the agreement', terms: { to: 'agreement' } });
  await bob.post(ch, 'decision', { proposal: proposal.seq, verdict: 'accepted' });
  const { records, chain, signatures } = await alice.verifiedDecisions(eng);
  assert.equal(records.length, 1);
  assert.equal(records[0].topic, 'phase');
  assert.equal(chain.ok, true);
  assert.equal(signatures.state, 'verified');
});
