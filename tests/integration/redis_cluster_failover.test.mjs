// Cluster mode on a real Redis Cluster (redis_cluster.mjs: six nodes, three
// masters with a replica each): instances given `--redis redis://h:p,h:p,...`
// route each engagement's keys to the master of its slot; with
// `--redis-wait-replicas 1` a kill -9 of a master, whose replica takes over,
// loses nothing that was acknowledged, and neither does the migration of an
// engagement's slot to another master under live traffic. Run by the redis-cluster pass
// (PARLEY_ENGINE=redis-cluster).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ENGINE, cleanup, connectAs, gapError, readAll, sharedRedisCluster, sleep, startServer, uniqueEng, userToken,
} from './harness.mjs';
import { assertChain, httpDecisions } from './engagement_helpers.mjs';
import { startRedisCluster } from './redis_cluster.mjs';

const skip = ENGINE === 'redis-cluster' ? false : 'needs a Redis Cluster (PARLEY_ENGINE=redis-cluster)';
const FAST = ['--post-rate', '100000', '--post-burst', '100000'];

after(cleanup);

// A key of engagement `eng`: every key of an engagement carries the hash tag
// {eng:<id>} (storage/redis_keys.cpp), so they all live in this key's slot.
function engKey(eng) {
  return `parley:{eng:${eng}}:log`;
}

// Fresh engagement ids, `perMaster` of them on each master: Map port -> [eng].
async function engagementsByMaster(cluster, perMaster, prefix, masters) {
  const wanted = masters ?? await cluster.masters();
  const byMaster = new Map(wanted.map((port) => [port, []]));
  const full = () => [...byMaster.values()].every((list) => list.length >= perMaster);
  for (let tries = 0; tries < 500 && !full(); tries++) {
    const eng = uniqueEng(prefix);
    const list = byMaster.get(await cluster.masterOf(engKey(eng)));
    if (list && list.length < perMaster) list.push(eng);
  }
  assert.ok(full(), `found ${perMaster} engagement(s) on each of the masters ${wanted.join(', ')}`);
  return byMaster;
}

function seqs(events) {
  return events.map((e) => e.seq);
}

// Two members, one on each instance, of engagement `eng`, posting in a loop
// while the cluster changes under them. A request answered `unavailable`, or
// not answered in time, is sent again (a post with the same cid) until it is
// acknowledged, as a client is told to; any other refusal fails the test.
// Every acknowledged {cid, seq, user} is kept. Bounded.
async function postingPair(a, b, eng) {
  const ch = `eng:${eng}`;
  const clientTok = userToken(`${eng}-client`, 'client', [eng]);
  const expertTok = userToken(`${eng}-expert`, 'expert', [eng]);
  const alice = await connectAs(a, clientTok);
  const bob = await connectAs(b, expertTok);
  const serverLogs = () => `\n--- instance a:\n${a.logs().slice(-3000)}\n--- instance b:\n${b.logs().slice(-3000)}`;
  const REQUEST_MS = 5000;
  const RETRY_FOR_MS = 30000;
  const pair = {
    ch, eng, a, b, alice, bob, clientTok, expertTok, serverLogs,
    stats: { retries: 0, timeouts: 0 },
    acked: [],  // { cid, seq, user }
    ackedDecisions: [],
    failure: null,
    stopPosting: false,
    work: null,
  };
  async function acknowledged(c, op, fields, what) {
    const deadline = Date.now() + RETRY_FOR_MS;
    for (;;) {
      let reply = null;
      try {
        reply = await c.request(op, fields, { timeoutMs: REQUEST_MS });
      } catch (err) {
        if (!/^no reply to /.test(err.message)) throw new Error(`${what}: ${err.message}${serverLogs()}`);
        pair.stats.timeouts++;
      }
      if (reply?.ok) return reply;
      if (reply && reply.error?.code !== 'unavailable') throw new Error(`${what}: refused ${JSON.stringify(reply)}${serverLogs()}`);
      if (Date.now() > deadline) throw new Error(`${what}: not acknowledged within ${RETRY_FOR_MS} ms; last ${JSON.stringify(reply)}${serverLogs()}`);
      pair.stats.retries++;
      await sleep(50);
    }
  }
  const post = (c, kind, body, cid) => acknowledged(c, 'post', { ch, kind, body, cid }, `post ${cid}`);
  // A proposal and its acceptance: a decision-log record.
  pair.agree = async (n) => {
    const p = await post(alice, 'proposal', { topic: 'timeline', text: `plan ${n}`, terms: { n } }, `p-${n}`);
    const d = await post(bob, 'decision', { proposal: p.seq, verdict: 'accepted' }, `d-${n}`);
    pair.ackedDecisions.push(d.seq);
  };
  pair.start = () => {
    const poster = async (c, name, user) => {
      for (let n = 0; !pair.stopPosting; n++) {
        const cid = `${name}-${n}`;
        const r = await post(c, 'message', { text: `${name} ${n}` }, cid);
        pair.acked.push({ cid, seq: r.seq, user });
      }
    };
    pair.work = Promise.all([poster(alice, 'a', `${eng}-client`), poster(bob, 'b', `${eng}-expert`)]).catch((err) => {
      pair.failure = err;
      pair.stopPosting = true;
    });
  };
  pair.waitUntil = async (done, timeoutMs, what) => {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (pair.failure) throw pair.failure;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${serverLogs()}`);
      await sleep(20);
    }
  };
  pair.stop = async () => {
    pair.stopPosting = true;
    await pair.work;
    if (pair.failure) throw pair.failure;
  };
  // Joining opens the engagement (an append).
  await acknowledged(alice, 'join', { ch }, 'alice joins');
  await acknowledged(bob, 'join', { ch }, 'bob joins');
  return pair;
}

// Nothing acknowledged was lost: every acknowledged post is stored once, at
// the seq it was acknowledged with; the channel is gap-free; both instances
// read one history; what each member was pushed live (through the change and
// the re-subscription that followed it) is that history from its join on,
// once, in order; the decision log's chain is intact, the same through both
// instances, with a record for each acknowledged accepting decision.
async function assertNothingLost(pair) {
  const { ch, eng, a, b, alice, bob, acked } = pair;
  const [fromA, fromB] = await Promise.all([readAll(alice, ch), readAll(bob, ch)]);
  assert.equal(gapError(fromA, 1), null, 'stored seqs are 1..N without gaps');
  const ackedSeqs = new Set();
  for (const { cid, seq, user } of acked) {
    assert.ok(!ackedSeqs.has(seq), `seq ${seq} acknowledged once (again for ${cid})`);
    ackedSeqs.add(seq);
    const stored = fromA.filter((e) => e.cid === cid && e.from?.id === user);
    assert.equal(stored.length, 1, `acknowledged ${cid} (seq ${seq}) is stored exactly once: ${JSON.stringify(stored.map((e) => e.seq))}`);
    assert.equal(stored[0].seq, seq, `${cid} is stored at its acknowledged seq`);
  }
  assert.deepEqual(fromB.map((e) => [e.seq, e.cid ?? null]), fromA.map((e) => [e.seq, e.cid ?? null]),
    'both members read one history');
  const head = fromA[fromA.length - 1].seq;
  for (const [who, c] of [['alice', alice], ['bob', bob]]) {
    const live = await c.until(() => {
      const got = c.events(ch);
      return got.length && got[got.length - 1].seq >= head ? got : undefined;
    }, 20000, `${who} is pushed every event up to seq ${head}`);
    assert.equal(gapError(live, live[0].seq), null, `${who} was pushed every event once, in order`);
    assert.deepEqual(live.map((e) => [e.seq, e.cid ?? null]), fromA.slice(live[0].seq - 1).map((e) => [e.seq, e.cid ?? null]),
      `${who}'s live events are the stored history`);
  }
  const [recordsA, recordsB] = await Promise.all([httpDecisions(a, pair.clientTok, eng), httpDecisions(b, pair.expertTok, eng)]);
  assertChain(recordsA);
  assert.deepEqual(recordsB, recordsA);
  const bySeq = new Map(fromA.map((e) => [e.seq, e]));
  for (const seq of pair.ackedDecisions) {
    const record = recordsA.find((r) => r.decision_seq === seq);
    assert.ok(record, `the record of decision ${seq} is in the log`);
    assert.equal(bySeq.get(seq)?.body.record?.hash, record.hash, `decision ${seq} carries its record`);
  }
}

describe('instances on a Redis Cluster', { skip }, () => {
  test('two instances on a Redis Cluster: members on different instances chat with one order', { timeout: 60000 }, async () => {
    const cluster = await sharedRedisCluster();
    const a = await startServer({ redisCluster: cluster, args: FAST });
    const b = await startServer({ redisCluster: cluster, args: FAST });
    // Two engagements on each master: their channels are served by three masters.
    const engs = [...(await engagementsByMaster(cluster, 2, 'rc')).values()].flat();
    assert.equal(engs.length, 6);
    const alice = await connectAs(a, userToken('rc-alice', 'client', engs, { name: 'Alice' }));
    const bob = await connectAs(b, userToken('rc-bob', 'expert', engs, { name: 'Bob' }));

    const channels = [];
    for (const eng of engs) {
      const ch = `eng:${eng}`;
      const ja = await alice.call('join', { ch });
      const jb = await bob.call('join', { ch });
      assert.ok(jb.presence.some((u) => u.id === 'rc-alice'), `${ch}: bob's join lists alice: ${JSON.stringify(jb.presence)}`);
      await alice.waitFor((p) => p.ev === 'presence' && p.ch === ch && (p.joined ?? []).some((u) => u.id === 'rc-bob'));
      channels.push({ ch, ja, jb, base: Math.max(ja.head, jb.head) });
    }

    // Both members post on every channel at once: each channel one order.
    const perMember = 10;
    await Promise.all(channels.flatMap(({ ch }) => [alice, bob].map(async (c, who) => {
      for (let n = 0; n < perMember; n++) {
        await c.call('post', { ch, kind: 'message', body: { text: `${who ? 'bob' : 'alice'} ${n}` }, cid: `${who}-${n}` });
      }
    })));
    const total = 2 * perMember;
    for (const { ch, ja, jb, base } of channels) {
      const [ea, eb] = await Promise.all([
        alice.waitForEvents(ch, base + total - ja.head, 20000), bob.waitForEvents(ch, base + total - jb.head, 20000),
      ]);
      const mineA = ea.filter((e) => e.seq > base);
      const mineB = eb.filter((e) => e.seq > base);
      assert.equal(mineA.length, total, `${ch}: alice saw every message`);
      assert.equal(gapError(mineA, base + 1), null, `${ch}: alice saw a gap`);
      assert.equal(gapError(mineB, base + 1), null, `${ch}: bob saw a gap`);
      assert.deepEqual(seqs(mineB), seqs(mineA), `${ch}: one order`);
      assert.deepEqual(mineB.map((e) => e.body.text), mineA.map((e) => e.body.text), `${ch}: one order`);
      // The stored history, read through either instance, is that order too.
      const [ha, hb] = await Promise.all([readAll(alice, ch), readAll(bob, ch)]);
      assert.equal(gapError(ha, 1), null, `${ch}: stored seqs are gap-free`);
      assert.deepEqual(ha.filter((e) => e.seq > base).map((e) => e.body.text), mineA.map((e) => e.body.text));
      assert.deepEqual(hb.map((e) => [e.seq, e.cid ?? null]), ha.map((e) => [e.seq, e.cid ?? null]), `${ch}: both instances read one history`);
    }

    // Typing and presence cross the instances on every master's channels.
    for (const { ch } of channels) {
      await bob.call('typing', { ch });
      const typing = await alice.waitFor((p) => p.ev === 'typing' && p.ch === ch);
      assert.equal(typing.user.id, 'rc-bob');
    }
    await bob.close();
    for (const { ch } of channels) {
      await alice.waitFor((p) => p.ev === 'presence' && p.ch === ch && (p.left ?? []).some((u) => u.id === 'rc-bob'));
    }
    await alice.close();
  });

  test('kill -9 of a master during concurrent posting with --redis-wait-replicas 1 loses nothing acknowledged', { timeout: 80000 }, async (t) => {
    const cluster = await startRedisCluster();
    // The master to kill: the first one the URL names (a seed the instances may well have asked first).
    const masters = await cluster.masters();
    assert.equal(masters.length, 3, `three masters: ${masters}`);
    const target = cluster.nodes.map((n) => n.port).find((port) => masters.includes(port));
    const [eng] = (await engagementsByMaster(cluster, 1, 'fo', [target])).get(target);
    const args = ['--redis-wait-replicas', '1', ...FAST];
    const a = await startServer({ redisCluster: cluster, args });
    const b = await startServer({ redisCluster: cluster, args });
    const pair = await postingPair(a, b, eng);
    await pair.agree(1);  // a decision-log record before the fault, and one after it
    pair.start();
    await pair.waitUntil(() => pair.acked.length >= 50, 20000, '50 acknowledged posts');
    const beforeKill = pair.acked.length;
    await cluster.kill(target);
    const killedAt = Date.now();
    await cluster.waitForFailover(target);
    const failoverMs = Date.now() - killedAt;
    assert.notEqual(await cluster.masterOf(engKey(eng)), target, 'the replica took over the engagement\'s slot');
    // The new master has no replica: its appends are stored but cannot be
    // acknowledged (WAIT 1) until the killed node is back, as its replica.
    await sleep(1000);
    await cluster.restart(target);
    await cluster.waitUntilOk();
    const afterRejoin = pair.acked.length;
    await pair.waitUntil(() => pair.acked.length >= afterRejoin + 50, 40000, '50 acknowledged posts after the failover');
    await pair.stop();
    await pair.agree(2);
    await assertNothingLost(pair);
    t.diagnostic(`${pair.acked.length} acknowledged (${beforeKill} before the kill), failover ${failoverMs} ms, `
      + `${pair.stats.retries} retries, ${pair.stats.timeouts} timed out`);
    await Promise.all([pair.alice.close(), pair.bob.close()]);
  });

  test('an engagement\'s slot migrated to another master during concurrent posting loses nothing acknowledged', { timeout: 80000 }, async (t) => {
    const cluster = await startRedisCluster();
    const masters = await cluster.masters();
    const [from, to] = masters;
    const [eng] = (await engagementsByMaster(cluster, 1, 'mig', [from])).get(from);
    const a = await startServer({ redisCluster: cluster, args: FAST });
    const b = await startServer({ redisCluster: cluster, args: FAST });
    const pair = await postingPair(a, b, eng);
    await pair.agree(1);
    pair.start();
    await pair.waitUntil(() => pair.acked.length >= 50, 20000, '50 acknowledged posts');
    const before = pair.acked.length;
    // Key by key, with a pause after each, so that appends meet the slot half
    // moved (ASK, and TRYAGAIN for scripts whose keys are split).
    const slot = await cluster.slotOf(engKey(eng));
    const moved = await cluster.migrateSlot(slot, from, to, { pauseMs: 50 });
    assert.equal(await cluster.masterOf(engKey(eng)), to, 'the slot is served by the other master');
    const afterMove = pair.acked.length;
    await pair.waitUntil(() => pair.acked.length >= afterMove + 50, 20000, '50 acknowledged posts after the migration');
    await pair.stop();
    await pair.agree(2);
    await assertNothingLost(pair);
    t.diagnostic(`${pair.acked.length} acknowledged (${before} before the migration of ${moved} keys, `
      + `${afterMove - before} during it), ${pair.stats.retries} retries, ${pair.stats.timeouts} timed out`);
    await Promise.all([pair.alice.close(), pair.bob.close()]);
  });
});
