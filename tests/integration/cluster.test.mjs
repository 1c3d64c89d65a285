// Cluster mode (the Redis engine): several instances on one Redis give their
// clients one order, one presence, and survive Redis faults. Run by the redis
// pass of the suite (PARLEY_ENGINE=redis); the embedded engine has no cluster.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ENGINE, cleanup, connectAs, gapError, httpRequest, killRedis, makeTempDir, readAll, redisFor, restartRedis, sleep,
  startServer, uniqueEng, userToken,
} from './harness.mjs';
import { startPubsubHoldProxy } from './pubsub_hold_proxy.mjs';

const skip = ENGINE === 'redis' ? false : 'cluster mode needs the redis engine (PARLEY_ENGINE=redis)';
const FAST = ['--post-rate', '100000', '--post-burst', '100000'];
// An instance's presence entries expire 15 s after its last refresh; sweeps run every 5 s.
const GHOST_GONE_MS = 40000;

after(cleanup);

async function twoInstances(args = FAST) {
  const redis = await redisFor(makeTempDir('parley-cluster-'));
  const a = await startServer({ redis, args });
  const b = await startServer({ redis, args });
  return { redis, a, b };
}

function seqs(events) {
  return events.map((e) => e.seq);
}

describe('two instances on one Redis', { skip }, () => {
  test('members on different instances chat with one order and see each other present', async () => {
    const { a, b } = await twoInstances();
    const eng = uniqueEng('cl');
    const ch = `eng:${eng}`;
    const alice = await connectAs(a, userToken('cl-alice', 'client', [eng], { name: 'Alice' }));
    const bob = await connectAs(b, userToken('cl-bob', 'expert', [eng], { name: 'Bob' }));
    const ja = await alice.call('join', { ch });
    const jb = await bob.call('join', { ch });
    assert.ok(jb.presence.some((u) => u.id === 'cl-alice'), `bob's join lists alice: ${JSON.stringify(jb.presence)}`);
    await alice.waitFor((p) => p.ev === 'presence' && p.ch === ch && (p.joined ?? []).some((u) => u.id === 'cl-bob'));

    await alice.call('post', { ch, kind: 'message', body: { text: 'from instance a' } });
    await bob.call('post', { ch, kind: 'message', body: { text: 'from instance b' } });
    const total = ja.head + 2;
    const [ea, eb] = await Promise.all([alice.waitForEvents(ch, 2), bob.waitForEvents(ch, 2)]);
    assert.deepEqual(seqs(ea), [ja.head + 1, total]);
    assert.deepEqual(ea.map((e) => e.body.text), eb.map((e) => e.body.text));
    assert.deepEqual(seqs(eb), seqs(ea));

    await bob.call('typing', { ch });
    const typing = await alice.waitFor((p) => p.ev === 'typing' && p.ch === ch);
    assert.equal(typing.user.id, 'cl-bob');
    await bob.close();
    await alice.waitFor((p) => p.ev === 'presence' && p.ch === ch && (p.left ?? []).some((u) => u.id === 'cl-bob'));
    await alice.close();
  });

  test('concurrent posters on both instances produce one gap-free order that every member sees', async () => {
    const { a, b } = await twoInstances();
    const eng = uniqueEng('cl');
    const ch = `eng:${eng}`;
    const readers = [];
    for (const [i, s] of [a, b, a, b].entries()) {
      const c = await connectAs(s, userToken(`cl-r${i}`, i % 2 ? 'expert' : 'client', [eng]));
      readers.push({ c, join: await c.call('join', { ch }) });
    }
    const base = Math.max(...readers.map((r) => r.join.head));
    const posters = [];
    for (const [i, s] of [a, b, a, b].entries()) posters.push(await connectAs(s, userToken(`cl-p${i}`, 'client', [eng])));
    const perPoster = 40;
    await Promise.all(posters.map(async (p, i) => {
      for (let n = 0; n < perPoster; n++) await p.call('post', { ch, kind: 'message', body: { text: `p${i}-${n}` } });
    }));
    const total = perPoster * posters.length;
    const views = await Promise.all(readers.map((r) => r.c.waitForEvents(ch, base + total - r.join.head, 30000)));
    const reference = (await readAll(readers[0].c, ch)).filter((e) => e.seq > base);
    assert.equal(reference.length, total);
    assert.equal(gapError(reference, base + 1), null);
    for (const [i, v] of views.entries()) {
      const mine = v.filter((e) => e.seq > base);
      assert.equal(gapError(mine, base + 1), null, `reader ${i} saw a gap`);
      assert.deepEqual(mine.map((e) => e.body.text), reference.map((e) => e.body.text), `reader ${i} saw another order`);
    }
    await Promise.all([...readers.map((r) => r.c.close()), ...posters.map((p) => p.close())]);
  });

  test('an instance killed with kill -9 leaves no ghost presence after the expiry', async () => {
    const { a, b } = await twoInstances();
    const eng = uniqueEng('cl');
    const ch = `eng:${eng}`;
    const ghost = await connectAs(b, userToken('cl-ghost', 'expert', [eng]));
    await ghost.call('join', { ch });
    const alice = await connectAs(a, userToken('cl-stay', 'client', [eng]));
    const j = await alice.call('join', { ch });
    assert.ok(j.presence.some((u) => u.id === 'cl-ghost'));
    await b.kill();
    const left = await alice.waitFor(
      (p) => p.ev === 'presence' && p.ch === ch && (p.left ?? []).some((u) => u.id === 'cl-ghost'), GHOST_GONE_MS);
    assert.ok(left);
    const again = await connectAs(a, userToken('cl-late', 'client', [eng]));
    const j2 = await again.call('join', { ch });
    assert.deepEqual(j2.presence.map((u) => u.id).sort(), ['cl-late', 'cl-stay']);
    await Promise.all([alice.close(), again.close()]);
  });

  test('a decision on one instance about a proposal just stored through another is checked against it, however late pub/sub brings it', async () => {
    const redis = await redisFor(makeTempDir('parley-cluster-'));
    const proxy = await startPubsubHoldProxy(redis);
    const a = await startServer({ redis, args: FAST });
    const b = await startServer({ redis: proxy, args: FAST });
    const eng = uniqueEng('lag');
    const ch = `eng:${eng}`;
    const alice = await connectAs(a, userToken('lag-alice', 'client', [eng]));
    const bob = await connectAs(b, userToken('lag-bob', 'expert', [eng]));
    await alice.call('join', { ch });
    const joined = await bob.call('join', { ch });  // b holds the engagement's state from here on
    proxy.hold();
    const p = await alice.call('post', { ch, kind: 'proposal', body: { topic: 'timeline', text: 'two weeks', terms: { weeks: 2 } } });
    // b has not been told of the proposal, and is asked to accept it.
    assert.equal(bob.events(ch).filter((e) => e.seq === p.seq).length, 0, 'b was held back');
    const d = await bob.call('post', { ch, kind: 'decision', body: { proposal: p.seq, verdict: 'accepted' } });
    const unknown = await bob.request('post', { ch, kind: 'decision', body: { proposal: p.seq + 100, verdict: 'accepted' } });
    assert.equal(unknown.error?.code, 'not_found', `a proposal stored nowhere is still unknown: ${JSON.stringify(unknown)}`);
    proxy.release();
    // What b was held back from reaches bob once, in order, with his decision after it.
    const events = await bob.waitForEvents(ch, d.seq - joined.head);
    assert.deepEqual(events.map((e) => e.seq), Array.from({ length: d.seq - joined.head }, (_, i) => joined.head + 1 + i));
    assert.deepEqual(events.slice(-2).map((e) => e.kind), ['proposal', 'decision']);
    await Promise.all([alice.close(), bob.close(), proxy.close()]);
  });
});

describe('Redis faults', { skip }, () => {
  test('Redis killed and restarted from its AOF mid-traffic: nothing acknowledged is lost, fan-out resumes', async () => {
    const { redis, a, b } = await twoInstances();
    const eng = uniqueEng('cl');
    const ch = `eng:${eng}`;
    const reader = await connectAs(b, userToken('cl-reader', 'expert', [eng]));
    const rj = await reader.call('join', { ch });
    const poster = await connectAs(a, userToken('cl-writer', 'client', [eng]));
    const acked = new Set();
    let refused = 0;
    const post = async (text) => {
      const r = await poster.request('post', { ch, kind: 'message', body: { text } });
      if (r.ok) acked.add(r.seq);
      else {
        assert.equal(r.error.code, 'unavailable', JSON.stringify(r));
        refused++;
      }
    };
    for (let i = 0; i < 20; i++) await post(`before ${i}`);
    await killRedis(redis);
    // While Redis is away: posts are answered unavailable in bounded time, readiness says so.
    for (let i = 0; i < 3; i++) await post(`during ${i}`);
    assert.equal((await httpRequest(a, 'GET', '/readyz')).status, 503);
    await restartRedis(redis);
    // The instances reconnect by themselves; posting works again.
    const deadline = Date.now() + 30000;
    let after = 0;
    while (after < 20 && Date.now() < deadline) {
      const before = acked.size;
      await post(`after ${after}`);
      if (acked.size > before) after++;
      else await sleep(200);
    }
    assert.equal(after, 20, 'posting resumed after Redis came back');
    assert.ok(refused >= 3, 'posts during the outage were refused, not acknowledged');
    assert.equal((await httpRequest(a, 'GET', '/readyz')).status, 200);

    const history = (await readAll(poster, ch)).filter((e) => e.seq > rj.head);
    assert.equal(gapError(history, rj.head + 1), null);
    for (const seq of acked) assert.ok(history.some((e) => e.seq === seq), `acknowledged seq ${seq} is stored`);
    // The member on the other instance ends with every event, in order, without gaps.
    const seen = await reader.waitForEvents(ch, history.length, 30000);
    assert.deepEqual(seqs(seen), seqs(history));
    await Promise.all([reader.close(), poster.close()]);
  });

  test('Redis restarted empty: clients see a new epoch and recovered false', async () => {
    const { redis, a } = await twoInstances();
    const eng = uniqueEng('cl');
    const ch = `eng:${eng}`;
    const c = await connectAs(a, userToken('cl-epoch', 'client', [eng]));
    const j = await c.call('join', { ch });
    await c.call('post', { ch, kind: 'message', body: { text: 'soon forgotten' } });
    await c.close();
    await restartRedis(redis, { empty: true });
    const deadline = Date.now() + 30000;
    let rejoin;
    while (Date.now() < deadline) {
      const back = await connectAs(a, userToken('cl-epoch', 'client', [eng]));
      rejoin = await back.request('join', { ch, since: j.head + 1, epoch: j.epoch });
      await back.close();
      if (rejoin.ok) break;
      await sleep(300);
    }
    assert.equal(rejoin.ok, true, JSON.stringify(rejoin));
    assert.notEqual(rejoin.epoch, j.epoch);
    assert.equal(rejoin.recovered, false);
  });
});
