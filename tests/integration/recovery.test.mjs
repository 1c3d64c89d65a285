// Resuming a channel after a disconnect (join with since/epoch) and paging
// through history (protocol §3 "join", "history").
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanup, connectAs, startServer, uniqueEng, userToken } from './harness.mjs';

let server;

before(async () => {
  server = await startServer({ args: ['--post-rate', '100000', '--post-burst', '100000'] });
});
after(cleanup);

// A channel with `n` messages posted by a client; resolves to {ch, eng, poster, epoch, s}
// where s(i) is the seq of the i-th message (the server may open a log with events of its own).
async function channelWith(n, prefix) {
  const eng = uniqueEng(prefix);
  const ch = `eng:${eng}`;
  const poster = await connectAs(server, userToken(`${prefix}-client`, 'client', [eng]));
  const j = await poster.call('join', { ch });
  const s = (i) => j.head + i;
  for (let i = 1; i <= n; i++) {
    const r = await poster.message(ch, `m${i}`);
    assert.equal(r.seq, s(i));
  }
  return { ch, eng, poster, epoch: j.epoch, s };
}

const seqs = (events) => events.map((e) => e.seq);

describe('recovery with since', () => {
  test('a reconnecting member gets exactly the missed events, recovered=true, then live events', async () => {
    const { ch, eng, poster, epoch, s } = await channelWith(3, 'rec');
    const expertToken = userToken('rec-expert', 'expert', [eng]);
    const first = await connectAs(server, expertToken);
    const j1 = await first.call('join', { ch });
    assert.deepEqual(seqs(j1.events).slice(-3), [s(1), s(2), s(3)]);
    assert.equal(j1.epoch, epoch);
    await first.terminate();

    for (let i = 4; i <= 8; i++) assert.equal((await poster.message(ch, `m${i}`)).seq, s(i));

    const second = await connectAs(server, expertToken);
    const j2 = await second.call('join', { ch, since: s(3), epoch });
    assert.equal(j2.recovered, true, JSON.stringify(j2));
    assert.equal(j2.head, s(8));
    assert.equal(j2.epoch, epoch);
    assert.deepEqual(seqs(j2.events), [s(4), s(5), s(6), s(7), s(8)]);
    assert.deepEqual(j2.events.map((e) => e.body.text), ['m4', 'm5', 'm6', 'm7', 'm8']);

    assert.equal((await poster.message(ch, 'm9')).seq, s(9));
    const live = await second.waitForEvents(ch, 1);
    assert.deepEqual(seqs(live), [s(9)], 'live pushes continue right after the recovered events');

    const j3 = await second.call('join', { ch, since: s(9), epoch });
    assert.equal(j3.recovered, true, 'nothing missed is still recovered');
    assert.deepEqual(j3.events, []);
    await Promise.all([poster.close(), second.close()]);
  });

  test('more missed events than limit: recovered=false, the first limit events after since, rest by history', async () => {
    const { ch, eng, poster, epoch, s } = await channelWith(10, 'lim');
    const c = await connectAs(server, userToken('lim-expert', 'expert', [eng]));
    const j = await c.call('join', { ch, since: s(3), epoch, limit: 2 });
    assert.equal(j.recovered, false, JSON.stringify(j));
    assert.equal(j.head, s(10));
    assert.deepEqual(seqs(j.events), [s(4), s(5)]);
    const h = await c.call('history', { ch, after: s(5), limit: 100 });
    assert.deepEqual(seqs(h.events), [s(6), s(7), s(8), s(9), s(10)]);
    await Promise.all([poster.close(), c.close()]);
  });

  test('a wrong epoch is never recovered', async () => {
    const { ch, eng, poster, epoch, s } = await channelWith(4, 'ep');
    const c = await connectAs(server, userToken('ep-expert', 'expert', [eng]));
    const j = await c.call('join', { ch, since: s(2), epoch: `${epoch}-other` });
    assert.equal(j.recovered, false, JSON.stringify(j));
    assert.equal(j.epoch, epoch);
    assert.equal(j.head, s(4));
    await Promise.all([poster.close(), c.close()]);
  });

  test('a join without since is not a recovery and holds the last limit events', async () => {
    const { ch, eng, poster, s } = await channelWith(7, 'nos');
    const c = await connectAs(server, userToken('nos-expert', 'expert', [eng]));
    const j = await c.call('join', { ch, limit: 3 });
    assert.equal(j.recovered, false);
    assert.deepEqual(seqs(j.events), [s(5), s(6), s(7)]);
    await Promise.all([poster.close(), c.close()]);
  });
});

describe('history paging', () => {
  test('before and after page through the log in ascending order', async () => {
    const { ch, poster, s } = await channelWith(25, 'pg');
    const range = (a, b) => Array.from({ length: b - a + 1 }, (_, i) => s(a + i));
    const h = async (q) => seqs((await poster.call('history', { ch, ...q })).events);

    assert.deepEqual(await h({ before: s(26), limit: 10 }), range(16, 25));
    assert.deepEqual(await h({ before: s(16), limit: 10 }), range(6, 15));
    assert.deepEqual(await h({ before: s(6), limit: 5 }), range(1, 5));
    assert.deepEqual(await h({ before: 1, limit: 10 }), []);
    assert.deepEqual(await h({ after: s(0), limit: 10 }), range(1, 10));
    assert.deepEqual(await h({ after: s(10), limit: 10 }), range(11, 20));
    assert.deepEqual(await h({ after: s(20), limit: 10 }), range(21, 25));
    assert.deepEqual(await h({ after: s(25), limit: 10 }), []);

    const full = (await poster.call('history', { ch, after: 0, limit: 500 })).events;
    assert.deepEqual(seqs(full), Array.from({ length: s(25) }, (_, i) => i + 1), 'the whole log is gap-free from 1');
    assert.deepEqual(full.slice(-25).map((e) => e.body.text), Array.from({ length: 25 }, (_, i) => `m${i + 1}`));
    await poster.close();
  });

  test('history of a channel the token does not list is forbidden', async () => {
    const { ch, poster } = await channelWith(1, 'hf');
    const stranger = await connectAs(server, userToken('hf-stranger', 'client', [uniqueEng('other')]));
    const r = await stranger.history(ch, { after: 0 });
    assert.equal(r.ok, false);
    assert.equal(r.error.code, 'forbidden');
    await Promise.all([poster.close(), stranger.close()]);
  });
});
