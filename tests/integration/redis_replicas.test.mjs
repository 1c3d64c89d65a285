// --redis-wait-replicas (cluster mode): an append is acknowledged only once
// the replicas have it, so a failover of the master cannot lose it. With the
// replica away, a post is stored but answered `unavailable` after
// --redis-wait-timeout; its retry with the same cid, once the replica is
// back, is acknowledged with the same seq, and nothing is stored twice.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  ENGINE, cleanup, connectAs, killRedis, makeTempDir, redisFor, restartRedis, sleep, startServer, uniqueEng, userToken,
} from './harness.mjs';

after(cleanup);

const skip = ENGINE === 'redis' ? false : 'replicas are of the Redis engine (PARLEY_ENGINE=redis)';

// The number of replicas the master sees connected and in sync (INFO replication).
function connectedReplicas(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let reply = '';
    sock.setTimeout(2000, () => { sock.destroy(); reject(new Error('INFO timed out')); });
    sock.on('connect', () => sock.write('INFO replication\r\n'));
    sock.on('data', (d) => {
      reply += d;
      const m = /connected_slaves:(\d+)/.exec(reply);
      if (m && reply.endsWith('\r\n')) { sock.end(); resolve((reply.match(/state=online/g) ?? []).length); }
    });
    sock.on('error', reject);
  });
}

// A post retried with its cid while it is answered `unavailable`, as a client
// is told to: on a loaded machine a replica's acknowledgement can miss one
// short wait even while it is connected.
async function postUntilAcknowledged(poster, ch, text, cid, attempts = 10) {
  let r;
  for (let i = 0; i < attempts; i++) {
    r = await poster.request('post', { ch, kind: 'message', body: { text }, cid });
    if (r.ok || r.error?.code !== 'unavailable') return r;
  }
  return r;
}

async function replicaCount(port, wanted) {
  const deadline = Date.now() + 20000;
  while ((await connectedReplicas(port)) !== wanted) {
    if (Date.now() > deadline) throw new Error(`the master never saw ${wanted} replicas`);
    await sleep(100);
  }
}

describe('appends wait for replicas (--redis-wait-replicas)', { skip }, () => {
  test('acknowledged once a replica has it; without the replica, stored but unavailable, and the retry is the same event', async () => {
    const master = await redisFor(makeTempDir('parley-master-'));
    const replica = await redisFor(makeTempDir('parley-replica-'), { args: ['--replicaof', '127.0.0.1', String(master.port)] });
    await replicaCount(master.port, 1);
    const server = await startServer({
      redis: master, args: ['--redis-wait-replicas', '1', '--redis-wait-timeout', '300ms', '--post-rate', '1000', '--post-burst', '1000'],
    });
    const eng = uniqueEng('replicated');
    const ch = `eng:${eng}`;
    const poster = await connectAs(server, userToken('rep-client', 'client', [eng]));
    await poster.call('join', { ch });
    const acked = [];
    for (let i = 0; i < 20; i++) {
      const r = await postUntilAcknowledged(poster, ch, `replicated ${i}`, `r-${i}`);
      assert.equal(r.ok, true, JSON.stringify(r));
      acked.push(r.seq);
    }

    await killRedis(replica);
    await replicaCount(master.port, 0);
    const started = Date.now();
    const refused = await poster.request('post', { ch, kind: 'message', body: { text: 'not replicated' }, cid: 'r-lonely' });
    assert.equal(refused.ok, false, JSON.stringify(refused));
    assert.equal(refused.error.code, 'unavailable');
    assert.match(refused.error.message, /0 of 1 replicas/);
    assert.ok(Date.now() - started >= 250, 'answered after the wait timeout');
    // Stored on the master all the same: the retry finds it by its cid, and
    // it is still not acknowledged while no replica has it.
    const again = await poster.request('post', { ch, kind: 'message', body: { text: 'not replicated' }, cid: 'r-lonely' });
    assert.equal(again.error?.code, 'unavailable', JSON.stringify(again));

    await restartRedis(replica);
    await replicaCount(master.port, 1);
    const retried = await postUntilAcknowledged(poster, ch, 'not replicated', 'r-lonely');
    assert.equal(retried.ok, true, JSON.stringify(retried));
    assert.equal(retried.seq, acked.at(-1) + 1, 'the retry answers the event stored the first time');
    const history = await poster.call('history', { ch, limit: 100 });
    const texts = history.events.filter((e) => e.kind === 'message').map((e) => e.body.text);
    assert.equal(texts.filter((t) => t === 'not replicated').length, 1, 'stored once');
    assert.equal(texts.length, 21, 'every retry found the event its cid stored');
    await poster.close();
  });

  test('many posts in flight while the replica is away are all answered within a few wait timeouts', async () => {
    const master = await redisFor(makeTempDir('parley-master-'));
    const replica = await redisFor(makeTempDir('parley-replica-'), { args: ['--replicaof', '127.0.0.1', String(master.port)] });
    await replicaCount(master.port, 1);
    const server = await startServer({
      redis: master, args: ['--redis-wait-replicas', '1', '--redis-wait-timeout', '200ms', '--post-rate', '1000', '--post-burst', '1000'],
    });
    const eng = uniqueEng('unreplicated');
    const ch = `eng:${eng}`;
    const poster = await connectAs(server, userToken('unrep-client', 'client', [eng]));
    // The join opens the engagement (an append, replicated), retried as a client would.
    for (let i = 0; i < 10; i++) {
      const joined = await poster.request('join', { ch });
      if (joined.ok || joined.error?.code !== 'unavailable') break;
    }
    await killRedis(replica);
    await replicaCount(master.port, 0);
    const started = Date.now();
    // One WAIT at a time serves all of them: the connection is never blocked long enough to be dropped.
    const replies = await Promise.all(Array.from({ length: 100 }, (_, i) =>
      poster.request('post', { ch, kind: 'message', body: { text: `burst ${i}` }, cid: `b-${i}` })));
    assert.ok(replies.every((r) => r.error?.code === 'unavailable'), JSON.stringify(replies.find((r) => r.ok)));
    // One WAIT after another would take 100 × 200 ms, and block the connection past its 3 s command deadline.
    assert.ok(Date.now() - started < 8000, `answered in ${Date.now() - started} ms`);
    assert.doesNotMatch(server.logs(), /event=redis_link[^\n]*state=down/, 'the connection to Redis was never dropped');
    // Reads still work on the same connection to Redis.
    const history = await poster.call('history', { ch, limit: 200 });
    assert.equal(history.events.filter((e) => e.kind === 'message').length, 100);
    await poster.close();
  });
});
