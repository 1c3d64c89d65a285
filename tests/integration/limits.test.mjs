// Post rate limit and the slow-consumer rule (protocol §8, DESIGN §3.1).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cleanup, connectAs, gapError, sleep, startServer, uniqueEng, userToken,
} from './harness.mjs';

after(cleanup);

describe('post rate limit', () => {
  test('rapid posts get rate_limited, continued abuse closes 4008, other connections are unaffected', async () => {
    const server = await startServer({ args: ['--post-rate', '5', '--post-burst', '5'] });
    const eng = uniqueEng();
    const ch = `eng:${eng}`;
    const abuser = await connectAs(server, userToken('rl-abuser', 'client', [eng]));
    const calm = await connectAs(server, userToken('rl-calm', 'expert', [eng]));

    // A burst far over the limit, then more until the server gives up on the
    // connection (bounded). Replies that never come (the connection closed) are fine.
    const replies = [];
    const fire = (n) => {
      for (let i = 0; i < n && abuser.isOpen; i++) {
        abuser.message(ch, `abuse ${replies.length}-${i}`).then((r) => replies.push(r), () => {});
      }
    };
    // The burst is allowed.
    const burst = await Promise.all(Array.from({ length: 5 }, (_, i) => abuser.message(ch, `burst ${i}`)));
    for (const r of burst) assert.equal(r.ok, true, JSON.stringify(r));
    fire(30);
    const calmReply = await calm.message(ch, 'calm');
    assert.equal(calmReply.ok, true, JSON.stringify(calmReply));
    const deadline = Date.now() + 20000;
    let sent = 30;
    while (abuser.isOpen && Date.now() < deadline && sent < 20000) {
      fire(20);
      sent += 20;
      await sleep(20);
    }
    const info = await abuser.waitClosed(10000);
    assert.equal(info.code, 4008);
    const limited = replies.filter((r) => !r.ok);
    assert.ok(limited.length > 0, 'posts over the rate are answered rate_limited before the close');
    for (const r of limited) assert.equal(r.error.code, 'rate_limited', JSON.stringify(r));

    assert.equal(calm.isOpen, true);
    const after = await calm.message(ch, 'still fine');
    assert.equal(after.ok, true, JSON.stringify(after));
    await calm.close();
    assert.equal(await server.stop(), 0);
  });
});

describe('slow consumer', () => {
  test('a member that stops reading is closed with 4001 while a healthy member receives every event in order', async () => {
    const maxQueue = 262144;
    const server = await startServer({
      args: ['--max-queue', String(maxQueue), '--write-timeout', '120', '--post-rate', '100000', '--post-burst', '100000'],
    });
    const eng = uniqueEng();
    const ch = `eng:${eng}`;
    const slow = await connectAs(server, userToken('sc-slow', 'client', [eng]));
    const healthy = await connectAs(server, userToken('sc-healthy', 'expert', [eng]));
    const poster = await connectAs(server, userToken('sc-poster', 'client', [eng]));
    // The poster does not join: posting needs no join, and it only reads replies.
    const joins = [await slow.join(ch), await healthy.join(ch)];
    for (const j of joins) assert.equal(j.ok, true, JSON.stringify(j));
    const base = joins[1].head;
    assert.equal(joins[0].head, base);

    slow.ws._socket.pause();

    // Flood until the server drops the slow member (its leave shows in
    // presence) or an upper bound of data far beyond any socket buffers plus
    // the queue limit. The posts in flight, and how far the healthy member
    // may fall behind (this process reads for it, and may be descheduled on
    // a loaded machine), stay well under the queue limit, so a member that
    // keeps reading is never over it.
    const text = 'z'.repeat(2000);
    const maxPosts = 5000;
    const window = 8;
    let posted = 0;
    let acked = 0;
    let slowGone = false;
    healthy.onPush((p) => {
      if (p.ev === 'presence' && (p.left ?? []).some((u) => u.id === 'sc-slow')) slowGone = true;
    });
    const inflight = new Set();
    const maxBehind = 32;
    while (posted < maxPosts && !slowGone) {
      if (acked - healthy.events(ch).length > maxBehind) {
        await sleep(2);
        continue;
      }
      while (inflight.size < window && posted < maxPosts) {
        const p = poster.message(ch, text).then((r) => {
          assert.equal(r.ok, true, JSON.stringify(r));
          acked++;
          inflight.delete(p);
        }, (err) => {
          throw new Error(`${err.message}; after ${acked} acks: poster ${JSON.stringify(poster.closeInfo)}, healthy ${JSON.stringify(healthy.closeInfo)} with ${healthy.events(ch).length} events`);
        });
        inflight.add(p);
        posted++;
      }
      await Promise.race(inflight);
    }
    await Promise.all(inflight);
    // A few more events after the drop: the healthy member keeps receiving.
    assert.equal(healthy.closeInfo, null, 'the healthy member is still connected');
    assert.equal(poster.closeInfo, null, 'the poster is still connected');
    for (let i = 0; i < 5; i++) assert.equal((await poster.message(ch, `after ${i}`)).ok, true);
    const total = acked + 5;

    const seen = await healthy.waitForEvents(ch, total, 60000);
    assert.equal(seen.length, total);
    assert.equal(gapError(seen, base + 1), null, 'the healthy member sees every event in order');

    slow.ws._socket.resume();
    const info = await slow.waitClosed(60000);
    assert.equal(info.code, 4001, `slow member closed with ${JSON.stringify(info)} after ${posted} posts`);
    const got = slow.events(ch);
    assert.ok(got.length < total, 'the slow member did not get everything');
    assert.equal(gapError(got, base + 1), null, 'what the slow member got is a gap-free prefix');

    // It recovers by since, as the close code asks.
    const back = await connectAs(server, userToken('sc-slow', 'client', [eng]));
    const lastSeen = got.length ? got[got.length - 1].seq : base;
    const j = await back.call('join', { ch, since: lastSeen, limit: 20 });
    assert.equal(j.head, base + total);
    assert.equal(j.events[0]?.seq, lastSeen + 1);
    await Promise.all([back.close(), healthy.close(), poster.close()]);
    assert.equal(await server.stop(), 0);
  });
});

describe('large replies', () => {
  test('a join or history reply larger than --max-queue is trimmed (more: true), not taken for a slow consumer', async () => {
    const server = await startServer({ args: ['--max-queue', '65536', '--post-rate', '100000', '--post-burst', '100000'] });
    const eng = uniqueEng();
    const ch = `eng:${eng}`;
    const c = await connectAs(server, userToken('lr-client', 'client', [eng]));
    const text = 'q'.repeat(2000);
    for (let i = 0; i < 60; i++) assert.equal((await c.message(ch, text)).ok, true);
    const reader = await connectAs(server, userToken('lr-expert', 'expert', [eng]));
    const j = await reader.request('join', { ch, limit: 60 });
    assert.equal(j.ok, true, JSON.stringify(j).slice(0, 300));
    assert.equal(j.more, true);
    assert.ok(j.events.length > 0 && j.events.length < 60);
    const h = await reader.request('history', { ch, after: 0, limit: 60 });
    assert.equal(h.ok, true, JSON.stringify(h).slice(0, 300));
    assert.equal(h.more, true);
    assert.equal(h.events[0].seq, 1);
    assert.equal(reader.closeInfo, null);
    await Promise.all([c.close(), reader.close()]);
    assert.equal(await server.stop(), 0);
  });
});
