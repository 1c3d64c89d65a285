// Chat between the parties of an engagement: ordering, presence, typing,
// read markers, idempotent posts (protocol §3).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cleanup, connect, connectAs, gapError, readAll, startServer, uniqueEng, userToken,
} from './harness.mjs';

let server;

before(async () => {
  server = await startServer({ args: ['--post-rate', '100000', '--post-burst', '100000'] });
});
after(cleanup);

function isUser(u, id) {
  return u && u.id === id;
}

describe('chat between two parties', () => {
  test('hello answers the user from the token and the named instance, not the version', async () => {
    const eng = uniqueEng();
    const c = await connect(server.wsUrl);
    const r = await c.hello(userToken('hello-u1', 'client', [eng], { name: 'Hana' }));
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.deepEqual(r.user, { id: 'hello-u1', name: 'Hana', role: 'client' });
    assert.equal(typeof r.server, 'object');
    // The version is shown only with --expose-version (hardening: nothing to fingerprint).
    assert.equal(r.server.version, undefined);
    assert.equal(r.server.protocol, '1.1');
    assert.equal(r.server.instance, server.instance);
    await c.close();
  });

  test('client and expert see the same events in seq order, with presence, typing and read pushes', async () => {
    const eng = uniqueEng();
    const ch = `eng:${eng}`;
    const alice = await connectAs(server, userToken('alice', 'client', [eng], { name: 'Alice' }));
    const bob = await connectAs(server, userToken('bob', 'expert', [eng], { name: 'Bob' }));

    const ja = await alice.join(ch);
    assert.equal(ja.ok, true, JSON.stringify(ja));
    assert.equal(ja.ch, ch);
    assert.equal(typeof ja.epoch, 'string');
    assert.ok(ja.epoch.length > 0);
    assert.equal(typeof ja.head, 'number');
    assert.ok(Array.isArray(ja.events));
    assert.ok(Array.isArray(ja.presence));
    // The server may open the log with events of its own (from.role system).
    const base = ja.head;

    const jb = await bob.join(ch);
    assert.equal(jb.ok, true, JSON.stringify(jb));
    assert.equal(jb.epoch, ja.epoch);
    assert.ok(jb.presence.some((u) => isUser(u, 'alice')), `bob's join presence lists alice: ${JSON.stringify(jb.presence)}`);

    const joined = await alice.waitFor((p) => p.ev === 'presence' && p.ch === ch && (p.joined ?? []).some((u) => isUser(u, 'bob')));
    const bobUser = joined.joined.find((u) => isUser(u, 'bob'));
    assert.equal(bobUser.role, 'expert');
    assert.equal(bobUser.name, 'Bob');

    const r1 = await alice.message(ch, 'Hello Bob');
    const r2 = await bob.message(ch, 'Hi Alice, draft attached.');
    const r3 = await alice.message(ch, 'Thanks!');
    for (const r of [r1, r2, r3]) {
      assert.equal(r.ok, true, JSON.stringify(r));
      assert.equal(typeof r.ts, 'number');
    }
    assert.deepEqual([r1.seq, r2.seq, r3.seq], [base + 1, base + 2, base + 3]);

    const ea = await alice.waitForEvents(ch, 3);
    const eb = await bob.waitForEvents(ch, 3);
    assert.deepEqual(ea, eb, 'both parties see identical events');
    assert.deepEqual(ea.map((e) => e.seq), [base + 1, base + 2, base + 3]);
    assert.deepEqual(ea.map((e) => e.from.id), ['alice', 'bob', 'alice']);
    assert.deepEqual(ea[0].from, { id: 'alice', name: 'Alice', role: 'client' });
    assert.deepEqual(ea[1].from, { id: 'bob', name: 'Bob', role: 'expert' });
    assert.deepEqual(ea.map((e) => e.body.text), ['Hello Bob', 'Hi Alice, draft attached.', 'Thanks!']);
    for (const [i, e] of ea.entries()) {
      assert.equal(e.ev, 'event');
      assert.equal(e.ch, ch);
      assert.equal(e.kind, 'message');
      assert.equal(typeof e.ts, 'number');
      assert.equal(e.ts, [r1, r2, r3][i].ts, 'the pushed ts is the acknowledged ts');
    }
    const now = Date.now();
    assert.ok(Math.abs(ea[0].ts - now) < 10 * 60 * 1000, 'ts is milliseconds since epoch');

    bob.typing(ch);
    const typing = await alice.waitFor((p) => p.ev === 'typing' && p.ch === ch);
    assert.equal(typing.user.id, 'bob');

    const rr = await alice.read(ch, base + 3);
    assert.equal(rr.ok, true, JSON.stringify(rr));
    const read = await bob.waitFor((p) => p.ev === 'read' && p.ch === ch && isUser(p.user, 'alice'));
    assert.equal(read.seq, base + 3);

    const lv = await bob.leave(ch);
    assert.equal(lv.ok, true, JSON.stringify(lv));
    await alice.waitFor((p) => p.ev === 'presence' && p.ch === ch && (p.left ?? []).some((u) => isUser(u, 'bob')));

    // After leaving, bob gets no more events of that channel.
    const before = bob.events(ch).length;
    assert.equal((await alice.message(ch, 'still there?')).seq, base + 4);
    // The join reply comes after any push the server sent earlier on this connection.
    const rj = await bob.join(ch, { since: base + 3, epoch: ja.epoch });
    assert.equal(rj.ok, true);
    assert.deepEqual(rj.events.map((e) => e.seq), [base + 4]);
    assert.equal(bob.events(ch).length, before, 'no push of seq 4 reached bob while he had left');

    // Closing the connection is a leave too.
    await alice.waitFor((p) => p.ev === 'presence' && p.ch === ch && (p.joined ?? []).some((u) => isUser(u, 'bob')));
    await bob.close();
    await alice.waitFor((p) => p.ev === 'presence' && p.ch === ch && (p.left ?? []).some((u) => isUser(u, 'bob')));
    await alice.close();
  });

  test('posting needs no join; a member who joined later gets it in the join reply', async () => {
    const eng = uniqueEng();
    const ch = `eng:${eng}`;
    const poster = await connectAs(server, userToken('nojoin-c', 'client', [eng]));
    const r = await poster.message(ch, 'posted without join');
    assert.equal(r.ok, true, JSON.stringify(r));
    const reader = await connectAs(server, userToken('nojoin-e', 'expert', [eng]));
    const j = await reader.join(ch);
    assert.equal(j.ok, true);
    assert.equal(j.head, r.seq);
    assert.deepEqual(j.events.filter((e) => e.from.role !== 'system').map((e) => [e.seq, e.from.id, e.body.text]),
      [[r.seq, 'nojoin-c', 'posted without join']]);
    await poster.close();
    await reader.close();
  });

  test('a bot posts status; support posts a message; both reach the parties', async () => {
    const eng = uniqueEng();
    const ch = `eng:${eng}`;
    const party = await connectAs(server, userToken('st-c', 'client', [eng]));
    const { head: base } = await party.call('join', { ch });
    const bot = await connectAs(server, userToken('st-bot', 'bot', [eng]));
    const support = await connectAs(server, userToken('st-sup', 'support', ['*']));
    const rs = await bot.post(ch, 'status', { text: 'CI green', progress: 40 });
    assert.equal(rs.ok, true, JSON.stringify(rs));
    const rm = await support.message(ch, 'Support here.');
    assert.equal(rm.ok, true, JSON.stringify(rm));
    const evs = await party.waitForEvents(ch, 2);
    assert.deepEqual(evs.map((e) => [e.seq, e.kind, e.from.role]), [[base + 1, 'status', 'bot'], [base + 2, 'message', 'support']]);
    assert.deepEqual(evs[0].body, { text: 'CI green', progress: 40 });
    await Promise.all([party.close(), bot.close(), support.close()]);
  });
});

describe('ordering under concurrency', () => {
  test('4 connections x 50 pipelined posts: all acknowledged, every member sees one identical gap-free order', async () => {
    const eng = uniqueEng();
    const ch = `eng:${eng}`;
    const who = [['cc-1', 'client'], ['cc-2', 'expert'], ['cc-3', 'client'], ['cc-4', 'support']];
    const posters = await Promise.all(who.map(([sub, role]) => connectAs(server, userToken(sub, role, role === 'support' ? ['*'] : [eng]))));
    const watcher = await connectAs(server, userToken('cc-watch', 'bot', [eng]));
    let base;
    for (const c of [...posters, watcher]) {
      const j = await c.join(ch);
      assert.equal(j.ok, true);
      base ??= j.head;
      assert.equal(j.head, base);
    }

    const perConn = 50;
    const acks = await Promise.all(posters.map((c, k) => Promise.all(
      Array.from({ length: perConn }, (_, i) => c.message(ch, `p${k}-${i}`, { cid: `c${k}-${i}` })),
    )));
    const total = posters.length * perConn;
    const seqByCid = new Map();
    for (const [k, list] of acks.entries()) {
      for (const [i, r] of list.entries()) {
        assert.equal(r.ok, true, JSON.stringify(r));
        seqByCid.set(`c${k}-${i}`, r.seq);
      }
    }
    assert.deepEqual([...seqByCid.values()].sort((a, b) => a - b), Array.from({ length: total }, (_, i) => base + i + 1),
      'acknowledged seqs are exactly 1..N');

    const views = [];
    for (const c of [...posters, watcher]) {
      const evs = await c.waitForEvents(ch, total, 30000);
      assert.equal(evs.length, total, 'no duplicate pushes');
      assert.equal(gapError(evs, base + 1), null);
      views.push(evs.map((e) => `${e.seq}:${e.cid}`));
    }
    for (const v of views.slice(1)) assert.deepEqual(v, views[0]);
    for (const e of watcher.events(ch)) assert.equal(seqByCid.get(e.cid), e.seq, `cid ${e.cid}`);

    const stored = await readAll(watcher, ch);
    assert.equal(gapError(stored, 1), null);
    assert.deepEqual(stored.filter((e) => e.seq > base).map((e) => `${e.seq}:${e.cid}`), views[0], 'history holds the pushed order');
    await Promise.all([...posters, watcher].map((c) => c.close()));
  });
});

describe('idempotent posts', () => {
  test('the same cid twice returns the same seq and stores one event', async () => {
    const eng = uniqueEng();
    const ch = `eng:${eng}`;
    const a = await connectAs(server, userToken('idem-a', 'client', [eng]));
    const b = await connectAs(server, userToken('idem-b', 'expert', [eng]));
    const { head: base } = await b.call('join', { ch });

    const first = await a.message(ch, 'once', { cid: 'cid-1' });
    const again = await a.message(ch, 'once', { cid: 'cid-1' });
    assert.equal(first.ok, true, JSON.stringify(first));
    assert.equal(again.ok, true, JSON.stringify(again));
    assert.equal(again.seq, first.seq);

    // Concurrent duplicates resolve to one event as well.
    const [x, y] = await Promise.all([a.message(ch, 'twice', { cid: 'cid-2' }), a.message(ch, 'twice', { cid: 'cid-2' })]);
    assert.equal(x.ok && y.ok, true, JSON.stringify([x, y]));
    assert.equal(x.seq, y.seq);

    // The key is per sender: another sender's same cid is a new event.
    const other = await b.message(ch, 'mine', { cid: 'cid-1' });
    assert.equal(other.ok, true);
    assert.notEqual(other.seq, first.seq);

    const marker = await a.message(ch, 'marker', { cid: 'cid-3' });
    assert.equal(marker.seq, base + 4);
    const pushed = await b.waitForEvents(ch, 4);
    assert.deepEqual(pushed.map((e) => [e.seq, e.from.id, e.cid]),
      [[base + 1, 'idem-a', 'cid-1'], [base + 2, 'idem-a', 'cid-2'], [base + 3, 'idem-b', 'cid-1'], [base + 4, 'idem-a', 'cid-3']]);

    const h = await a.history(ch, { after: base, limit: 100 });
    assert.equal(h.ok, true);
    assert.deepEqual(h.events.map((e) => [e.seq, e.cid]), [[base + 1, 'cid-1'], [base + 2, 'cid-2'], [base + 3, 'cid-1'], [base + 4, 'cid-3']]);
    await Promise.all([a.close(), b.close()]);
  });
});
