// Hostile rates (protocol §9.10, protocol/README "Rate limits"): every op is
// limited per user, across connections; HTTP answers 429 with Retry-After;
// floods of read markers and typing cost members a bounded number of pushes;
// and in cluster mode a Redis that could lose acknowledged data, or that
// wants a password, is handled as documented. Each case ends with a normal
// client being served.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  ENGINE, PARLEY_BIN, cleanup, connectAs, httpFor, makeTempDir, redisFor, sleep, startServer, uniqueEng, userToken,
} from './harness.mjs';

after(cleanup);

// A client of another user posts and reads as usual.
async function servesNormally(server, eng) {
  const c = await connectAs(server, userToken(`normal-${Math.random().toString(36).slice(2, 8)}`, 'expert', [eng]));
  const ch = `eng:${eng}`;
  const j = await c.join(ch);
  assert.equal(j.ok, true, JSON.stringify(j));
  const p = await c.message(ch, 'still served');
  assert.equal(p.ok, true, JSON.stringify(p));
  await c.close();
}

// Sends `n` requests without waiting; resolves to the replies that came (a
// closed connection leaves the rest unanswered).
async function fire(client, n, make) {
  const replies = [];
  const pending = [];
  for (let i = 0; i < n && client.isOpen; i++) pending.push(make(i).then((r) => replies.push(r), () => {}));
  await Promise.all(pending);
  return replies;
}

describe('per-user rate limits', () => {
  test('two connections of one user share one post bucket; other users are not affected', async () => {
    const server = await startServer({ args: ['--post-rate', '2', '--post-burst', '6'] });
    const eng = uniqueEng();
    const ch = `eng:${eng}`;
    const tok = userToken('rate-twin', 'client', [eng]);
    const a = await connectAs(server, tok);
    const b = await connectAs(server, tok);
    const replies = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).message(ch, `m${i}`)));
    const ok = replies.filter((r) => r.ok);
    const limited = replies.filter((r) => !r.ok);
    // One burst for the user, not one per connection (each connection alone
    // would have been given its 6): a token may refill meanwhile.
    assert.ok(ok.length >= 6 && ok.length <= 7, `admitted ${ok.length} of 12`);
    for (const r of limited) assert.equal(r.error.code, 'rate_limited', JSON.stringify(r));
    assert.equal(a.isOpen && b.isOpen, true, 'a few refusals do not close');
    await servesNormally(server, eng);
    await Promise.all([a.close(), b.close()]);
    assert.equal(await server.stop(), 0);
  });

  test('join and history beyond their bucket are answered rate_limited', async () => {
    const server = await startServer({ args: ['--request-rate', '1', '--request-burst', '5'] });
    const eng = uniqueEng();
    const ch = `eng:${eng}`;
    const c = await connectAs(server, userToken('rate-joiner', 'client', [eng]));
    const replies = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? c.join(ch) : c.history(ch, { after: 0 }))));
    const limited = replies.filter((r) => !r.ok);
    assert.ok(limited.length >= 2, JSON.stringify(replies.map((r) => r.ok)));
    for (const r of limited) assert.equal(r.error.code, 'rate_limited');
    await servesNormally(server, eng);
    await c.close();
    assert.equal(await server.stop(), 0);
  });

  test('a read-marker flood at full speed is closed with 4008 and members get a bounded number of read pushes', async () => {
    const server = await startServer();
    const eng = uniqueEng();
    const ch = `eng:${eng}`;
    const member = await connectAs(server, userToken('rm-member', 'expert', [eng]));
    assert.equal((await member.join(ch)).ok, true);
    const flooder = await connectAs(server, userToken('rm-flooder', 'client', [eng]));
    const replies = await fire(flooder, 10000, (i) => flooder.read(ch, i + 1));
    const info = await flooder.waitClosed(10000);
    assert.equal(info.code, 4008);
    const limited = replies.filter((r) => !r.ok);
    assert.ok(limited.length > 0);
    for (const r of limited) assert.equal(r.error.code, 'rate_limited');
    await sleep(300);
    const reads = member.pushes.filter((p) => p.ev === 'read');
    assert.ok(reads.length <= 11, `${reads.length} read pushes`);
    await servesNormally(server, eng);
    await member.close();
    assert.equal(await server.stop(), 0);
  });

  test('10 000 read markers within the limit are all answered, and only forward moves are pushed', async () => {
    const server = await startServer({ args: ['--ephemeral-rate', '1000000', '--ephemeral-burst', '1000000'] });
    const eng = uniqueEng();
    const ch = `eng:${eng}`;
    const member = await connectAs(server, userToken('rf-member', 'expert', [eng]));
    assert.equal((await member.join(ch)).ok, true);
    const reader = await connectAs(server, userToken('rf-reader', 'client', [eng]));
    let answered = 0;
    for (let round = 0; round < 10; round++) {
      // Seqs 1..3 again and again: repeated and lower markers are neither stored nor pushed.
      const replies = await fire(reader, 1000, (i) => reader.read(ch, (i % 3) + 1));
      for (const r of replies) assert.equal(r.ok, true, JSON.stringify(r));
      answered += replies.length;
    }
    assert.equal(answered, 10000);
    await sleep(300);
    const reads = member.pushes.filter((p) => p.ev === 'read' && p.user.id === 'rf-reader');
    assert.deepEqual(reads.map((p) => p.seq), [1, 2, 3]);
    await servesNormally(server, eng);
    await Promise.all([member.close(), reader.close()]);
    assert.equal(await server.stop(), 0);
  });

  test('a typing flood costs members at most one push a second and closes the flooder with 4008', async () => {
    const server = await startServer();
    const eng = uniqueEng();
    const ch = `eng:${eng}`;
    const member = await connectAs(server, userToken('ty-member', 'expert', [eng]));
    assert.equal((await member.join(ch)).ok, true);
    const flooder = await connectAs(server, userToken('ty-flooder', 'client', [eng]));
    assert.equal((await flooder.join(ch)).ok, true);
    const started = Date.now();
    for (let i = 0; i < 2000 && flooder.isOpen; i++) {
      flooder.typing(ch);
      if (i % 100 === 99) await sleep(5);
    }
    const info = await flooder.waitClosed(10000);
    assert.equal(info.code, 4008);
    await sleep(300);
    const typing = member.pushes.filter((p) => p.ev === 'typing');
    const seconds = Math.ceil((Date.now() - started) / 1000);
    assert.ok(typing.length >= 1 && typing.length <= seconds + 1, `${typing.length} typing pushes in ${seconds} s`);
    await servesNormally(server, eng);
    await member.close();
    assert.equal(await server.stop(), 0);
  });

  test('HTTP requests beyond the token subject\'s bucket get 429 rate_limited with Retry-After', async () => {
    const server = await startServer({ args: ['--http-rate', '1', '--http-burst', '3'] });
    const http = httpFor(server);
    const eng = uniqueEng();
    const path = `/api/v1/channels/eng%3A${eng}/events`;
    const tok = userToken('http-busy', 'client', [eng]);
    const statuses = [];
    let limited;
    for (let i = 0; i < 6; i++) {
      const r = await http('GET', path, { token: tok });
      statuses.push(r.status);
      if (r.status === 429) limited = r;
    }
    assert.ok(limited, `statuses ${statuses}`);
    assert.equal(limited.json.error.code, 'rate_limited');
    const retry = Number(limited.headers['retry-after']);
    assert.ok(Number.isInteger(retry) && retry >= 1, `Retry-After ${limited.headers['retry-after']}`);
    // Another subject is not affected; this one is served again after waiting as told.
    const other = await http('GET', path, { token: userToken('http-calm', 'expert', [eng]) });
    assert.equal(other.status, 200);
    await sleep(retry * 1000);
    assert.equal((await http('GET', path, { token: tok })).status, 200);
    assert.equal((await http('GET', '/healthz')).status, 200);
    await servesNormally(server, eng);
    assert.equal(await server.stop(), 0);
  });
});

describe('Redis configuration', () => {
  test('a Redis off loopback without credentials is refused at start with one clear line', () => {
    const r = spawnSync(PARLEY_BIN, ['--redis', 'redis://10.255.255.1:6379', '--listen', '127.0.0.1:0',
      '--data-dir', makeTempDir('parley-data-')], { encoding: 'utf8', timeout: 10000 });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /not on loopback and the URL has no credentials/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    const withPassword = spawnSync(PARLEY_BIN, ['--redis', 'redis://app:Sup3r-secret@10.255.255.1:0'],
      { encoding: 'utf8', timeout: 10000 });
    assert.notEqual(withPassword.status, 0);
    assert.doesNotMatch(withPassword.stderr, /Sup3r-secret/);
  });

  test('redis: with appendonly no the instance is not ready and posts are unavailable', { skip: ENGINE !== 'redis' }, async () => {
    const redis = await redisFor(makeTempDir('parley-redis-aof-'), { args: ['--appendonly', 'no'] });
    const server = await startServer({ redis });
    const http = httpFor(server);
    await sleep(500);
    assert.equal((await http('GET', '/readyz')).status, 503);
    const eng = uniqueEng();
    const c = await connectAs(server, userToken('aof-client', 'client', [eng]));
    const p = await c.message(`eng:${eng}`, 'not durable');
    assert.equal(p.ok, false);
    assert.equal(p.error.code, 'unavailable');
    const h = await http('POST', `/api/v1/channels/eng%3A${eng}/events`,
      { token: userToken('aof-client', 'client', [eng]), body: { kind: 'message', body: { text: 'x' } } });
    assert.equal(h.status, 503);
    assert.match(server.logs(), /event=redis_not_durable/);
    assert.equal((await http('GET', '/healthz')).status, 200, 'the process still serves');
    await c.close();
    assert.equal(await server.stop(), 0);
  });

  test('redis: with a password, the server given the right URL works and a wrong one is not ready', { skip: ENGINE !== 'redis' }, async () => {
    const redis = await redisFor(makeTempDir('parley-redis-auth-'), { args: ['--requirepass', 'p@ss word'] });
    const wrong = await startServer({ redis: { url: `redis://:nope@127.0.0.1:${redis.port}` } });
    await sleep(500);
    assert.equal((await httpFor(wrong)('GET', '/readyz')).status, 503);
    assert.doesNotMatch(wrong.logs(), /nope/);
    assert.equal(await wrong.stop(), 0);

    const server = await startServer({ redis: { url: `redis://:p%40ss%20word@127.0.0.1:${redis.port}` } });
    const http = httpFor(server);
    let ready = 503;
    for (let i = 0; i < 50 && ready !== 200; i++) {
      ready = (await http('GET', '/readyz')).status;
      if (ready !== 200) await sleep(100);
    }
    assert.equal(ready, 200);
    assert.doesNotMatch(server.logs(), /p%40ss|p@ss word/);
    await servesNormally(server, uniqueEng());
    assert.equal(await server.stop(), 0);
  });
});
