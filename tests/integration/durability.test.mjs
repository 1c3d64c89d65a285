// Acknowledged posts survive a crash and a drain (protocol §6, DESIGN §3.2).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cleanup, connectAs, gapError, readAll, startServer, uniqueEng, userToken,
} from './harness.mjs';

after(cleanup);

const fast = ['--post-rate', '100000', '--post-burst', '100000'];

describe('crash', () => {
  test('kill -9 during traffic: every acknowledged post survives, seq continues, epoch unchanged', async () => {
    const server = await startServer({ args: fast });
    const eng = uniqueEng();
    const ch = `eng:${eng}`;
    const tokens = [userToken('kd-client', 'client', [eng]), userToken('kd-expert', 'expert', [eng])];
    const posters = await Promise.all(tokens.map((t) => connectAs(server, t)));
    const { epoch } = await posters[0].call('join', { ch });

    // Each poster keeps a window of posts in flight; the server is killed
    // once enough were acknowledged, with more still in flight.
    const acked = new Map();  // cid -> seq
    const target = 300;
    let killed = false;
    let stopAll;
    const killedNow = new Promise((r) => { stopAll = r; });
    const runPoster = async (c, k) => {
      let n = 0;
      const inflight = new Set();
      while (!killed && c.isOpen) {
        while (inflight.size < 16 && !killed && c.isOpen) {
          const cid = `k${k}-${n++}`;
          const p = c.message(ch, `crash ${cid}`, { cid }).then((r) => {
            if (r.ok) acked.set(cid, r.seq);
            if (acked.size >= target) stopAll();
          }, () => {}).finally(() => inflight.delete(p));
          inflight.add(p);
        }
        await Promise.race([Promise.race(inflight), killedNow]);
      }
      await Promise.allSettled([...inflight]);
    };
    const running = posters.map(runPoster);
    await killedNow;
    killed = true;
    const ackedAtKill = new Map(acked);
    await server.kill();
    await Promise.all(running);
    assert.ok(ackedAtKill.size >= target);

    const revived = await server.restart();
    const reader = await connectAs(revived, tokens[0]);
    const j = await reader.call('join', { ch, limit: 1 });
    assert.equal(j.epoch, epoch, 'epoch unchanged across the crash');
    const stored = await readAll(reader, ch);
    assert.equal(gapError(stored, 1), null, 'stored seqs are gap-free from 1');
    assert.equal(stored.length, j.head);
    const bySeq = new Map(stored.map((e) => [e.seq, e]));
    for (const [cid, seq] of acked) {
      const e = bySeq.get(seq);
      assert.ok(e, `acknowledged seq ${seq} (cid ${cid}) is stored`);
      assert.equal(e.cid, cid, `seq ${seq} holds cid ${cid}`);
    }

    const next = await reader.message(ch, 'after the crash');
    assert.equal(next.ok, true, JSON.stringify(next));
    assert.equal(next.seq, j.head + 1, 'seq continues without a gap');

    // A post that raced the crash, retried with its cid, is not stored twice.
    const retryCid = [...acked.keys()].find((cid) => cid.startsWith('k0-'));
    const retry = await reader.message(ch, `crash ${retryCid}`, { cid: retryCid });
    assert.equal(retry.seq, acked.get(retryCid));
    await reader.close();
    assert.equal(await revived.stop(), 0);
  });
});

describe('drain', () => {
  test('SIGTERM closes members with 1001, exits 0, and keeps every acknowledged post', async () => {
    const server = await startServer({ args: fast });
    const eng = uniqueEng();
    const ch = `eng:${eng}`;
    const tok = userToken('dr-client', 'client', [eng]);
    const a = await connectAs(server, tok);
    const b = await connectAs(server, userToken('dr-expert', 'expert', [eng]));
    const { epoch } = await a.call('join', { ch });
    await b.call('join', { ch });
    const replies = await Promise.all(Array.from({ length: 40 }, (_, i) => a.message(ch, `d${i}`, { cid: `d${i}` })));
    for (const r of replies) assert.equal(r.ok, true);

    // Posts in flight while the drain starts either are acknowledged (and kept) or get no ok.
    const late = Array.from({ length: 20 }, (_, i) => b.message(ch, `late${i}`, { cid: `late${i}` }).catch(() => null));
    const code = await server.stop();
    const [ia, ib] = await Promise.all([a.waitClosed(), b.waitClosed()]);
    assert.equal(ia.code, 1001);
    assert.equal(ib.code, 1001);
    assert.equal(code, 0, `exit code after SIGTERM\n${server.logs().slice(-2000)}`);
    const lateAcked = (await Promise.all(late)).filter((r) => r && r.ok);

    const revived = await server.restart();
    const reader = await connectAs(revived, tok);
    const j = await reader.call('join', { ch, limit: 1 });
    assert.equal(j.epoch, epoch);
    const stored = await readAll(reader, ch);
    assert.equal(gapError(stored, 1), null);
    const bySeq = new Map(stored.map((e) => [e.seq, e]));
    for (const [i, r] of replies.entries()) assert.equal(bySeq.get(r.seq)?.body.text, `d${i}`, `acknowledged seq ${r.seq} is stored`);
    for (const r of lateAcked) assert.ok(bySeq.has(r.seq), `acknowledged seq ${r.seq} is stored`);
    await reader.close();
    assert.equal(await revived.stop(), 0);
  });
});
