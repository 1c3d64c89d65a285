// Memory bounds against hostile clients (protocol §9.10, protocol/README
// "Memory bounds"): replies inside the connection's queue limit, pipelined
// heavy requests on a socket that never reads, capped open proposals and
// flags, no engagement made by a reader that cannot open one, and the
// engagement cache dropping and rebuilding states. Each case checks the
// documented answer and that a normal client is served afterwards.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { cleanup, connectAs, httpRequest, readAll, sleep, startServer, uniqueEng, userToken } from './harness.mjs';
import { countSla, expectOk, expectRefused, httpAllEvents, httpState, pollUntil } from './engagement_helpers.mjs';

after(cleanup);

// Lifted rate limits: these tests are about what requests cost, not how fast they may come.
const FAST = ['--post-rate', '100000', '--post-burst', '100000', '--request-rate', '100000', '--request-burst', '100000',
  '--http-rate', '100000', '--http-burst', '100000'];
const supportToken = userToken('mem-support', 'support', ['*'], { name: 'Memory desk' });

// A server that is ready: with Redis, its connection is up (readyz), so the
// first requests do not meet "unavailable".
async function startReady(args) {
  const server = await startServer({ args });
  await pollUntil(async () => (await httpRequest(server, 'GET', '/readyz')).status === 200, 15000, 'readyz', 50);
  return server;
}

// The bound a hostile reader may add to the server's memory. Under the
// sanitizers (PARLEY_SANITIZED, tests/sanitize/run.sh) freed memory is held in
// AddressSanitizer's quarantine, so RSS says nothing there: the bound is not
// asserted, and leaks are LeakSanitizer's business.
const RSS_BOUND_MIB = process.env.PARLEY_SANITIZED ? Infinity : 16;

function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]);
}

// Posts `count` messages of `size` characters, a few at a time.
async function seed(client, ch, count, size) {
  const text = 'm'.repeat(size);
  const window = 16;
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      expectOk(await client.message(ch, text), 'seed message');
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
}

// A normal client can still join, post and read on `server`.
async function servesNormally(server, what) {
  const eng = uniqueEng('ok');
  const c = await connectAs(server, userToken(`ok-${eng}`, 'client', [eng]));
  const j = expectOk(await c.join(`eng:${eng}`), `${what}: join`);
  assert.equal(j.state.phase, 'discovery');
  expectOk(await c.message(`eng:${eng}`, 'hello after the abuse'), `${what}: post`);
  const h = expectOk(await c.history(`eng:${eng}`, { after: 0 }), `${what}: history`);
  assert.equal(h.events.length, 2);
  await c.close();
}

describe('replies inside the memory bound', () => {
  test('32+ pipelined history requests on a socket that never reads keep the server within 16 MiB', async (t) => {
    const server = await startReady(FAST);
    const eng = uniqueEng('pipe');
    const ch = `eng:${eng}`;
    const writer = await connectAs(server, userToken('pipe-writer', 'client', [eng]));
    await seed(writer, ch, 600, 4000);
    // Warm the storage and allocator with the same reads from a reading client.
    const reader = await connectAs(server, userToken('pipe-reader', 'expert', [eng]));
    for (let i = 0; i < 3; i++) expectOk(await reader.history(ch, { after: 0, limit: 500 }), 'warm-up history');
    await sleep(300);

    const pid = server.proc.pid;
    const before = rssKiB(pid);
    const hostile = await connectAs(server, userToken('pipe-hostile', 'expert', [eng]));
    hostile.ws._socket.pause();
    const requests = 40;
    const replies = [];
    for (let i = 0; i < requests; i++) {
      replies.push(hostile.request('history', { ch, after: 0, limit: 500 }, { timeoutMs: 60000 }));
    }
    let peak = before;
    const until = Date.now() + 4000;
    while (Date.now() < until) {
      peak = Math.max(peak, rssKiB(pid));
      await sleep(50);
    }
    const growthMiB = (peak - before) / 1024;
    t.diagnostic(`VmRSS before ${before} kB, peak ${peak} kB: growth ${growthMiB.toFixed(2)} MiB for ${requests} pipelined history requests`);
    assert.ok(growthMiB < RSS_BOUND_MIB, `RSS grew by ${growthMiB.toFixed(2)} MiB`);

    // Nothing is lost: once the client reads, every request is answered.
    hostile.ws._socket.resume();
    const answered = await Promise.all(replies);
    for (const r of answered) {
      expectOk(r, 'pipelined history');
      // Replies made while the queue was full carry fewer (or no) events.
      if (r.events.length > 0) assert.equal(r.events[0].seq, 1);
      if (r.events.length < 500) assert.equal(r.more, true);
    }
    await servesNormally(server, 'after the pipelined reads');
    await Promise.all([writer.close(), reader.close(), hostile.close()]);
    assert.equal(await server.stop(), 0);
  });

  test('pipelined reads of a window of large events hold no more of it than a reply may carry', async (t) => {
    const server = await startReady(FAST);
    const eng = uniqueEng('wide');
    const ch = `eng:${eng}`;
    const writer = await connectAs(server, userToken('wide-writer', 'client', [eng]));
    // 300 events of about 48 KB (16000 three-byte characters): a 14 MB window.
    const text = '€'.repeat(16000);
    for (let i = 0; i < 300; i += 10) {
      await Promise.all(Array.from({ length: 10 }, () => writer.message(ch, text).then((r) => expectOk(r, 'seed'))));
    }
    const reader = await connectAs(server, userToken('wide-reader', 'expert', [eng]));
    for (let i = 0; i < 3; i++) expectOk(await reader.history(ch, { after: 0, limit: 500 }), 'warm-up history');
    await sleep(300);

    const pid = server.proc.pid;
    const before = rssKiB(pid);
    const hostile = await connectAs(server, userToken('wide-hostile', 'expert', [eng]));
    hostile.ws._socket.pause();
    const replies = [];
    for (let i = 0; i < 34; i++) {
      const op = i % 2 ? hostile.request('join', { ch, limit: 500 }, { timeoutMs: 60000 })
        : hostile.request('history', { ch, after: 0, limit: 500 }, { timeoutMs: 60000 });
      replies.push(op);
    }
    let peak = before;
    const until = Date.now() + 4000;
    while (Date.now() < until) {
      peak = Math.max(peak, rssKiB(pid));
      await sleep(50);
    }
    const growthMiB = (peak - before) / 1024;
    t.diagnostic(`VmRSS before ${before} kB, peak ${peak} kB: growth ${growthMiB.toFixed(2)} MiB for 34 pipelined reads of a 14 MB window`);
    assert.ok(growthMiB < RSS_BOUND_MIB, `RSS grew by ${growthMiB.toFixed(2)} MiB`);
    hostile.ws._socket.resume();
    for (const r of await Promise.all(replies)) {
      expectOk(r, 'pipelined read');
      assert.equal(r.more, true, 'a 14 MB window never comes whole');
    }
    await servesNormally(server, 'after pipelined reads of large events');
    await Promise.all([writer.close(), reader.close(), hostile.close()]);
    assert.equal(await server.stop(), 0);
  });

  test('a join or history window larger than the queue limit answers fewer events and more: true, and paging gets them all', async () => {
    const server = await startReady([...FAST, '--max-queue', '65536', '--max-reply', '65536']);
    const eng = uniqueEng('trim');
    const ch = `eng:${eng}`;
    const writer = await connectAs(server, userToken('trim-writer', 'client', [eng]));
    await seed(writer, ch, 60, 2000);
    const c = await connectAs(server, userToken('trim-reader', 'expert', [eng]));

    const j = expectOk(await c.join(ch, { limit: 60 }), 'join');
    assert.equal(j.head, 61);
    assert.equal(j.more, true);
    assert.ok(j.events.length > 0 && j.events.length < 60, `join carried ${j.events.length} events`);
    assert.ok(JSON.stringify(j).length <= 65536, 'the reply fits the queue limit');
    // The oldest of the window: seq 2 (the last 60 of 61) onwards, gap-free.
    j.events.forEach((e, i) => assert.equal(e.seq, 2 + i));
    const paged = [...j.events];
    while (paged[paged.length - 1].seq < j.head) {
      const h = expectOk(await c.history(ch, { after: paged[paged.length - 1].seq, limit: 500 }), 'page');
      assert.ok(h.events.length > 0);
      paged.push(...h.events);
    }
    assert.deepEqual(paged.map((e) => e.seq), Array.from({ length: 60 }, (_, i) => i + 2));

    const h = expectOk(await c.history(ch, { after: 0, limit: 500 }), 'history');
    assert.equal(h.more, true);
    assert.equal(h.events[0].seq, 1);
    assert.equal((await readAll(c, ch)).length, 61, 'readAll pages through trimmed replies');

    // A join with since that cannot carry everything is not recovered.
    const r = expectOk(await c.join(ch, { since: 1, epoch: j.epoch, limit: 500 }), 'join since');
    assert.equal(r.more, true);
    assert.equal(r.recovered, false);
    assert.equal(r.events[0].seq, 2);

    // HTTP answers are bounded by --max-reply the same way.
    const tok = userToken('trim-reader', 'expert', [eng]);
    const page = await httpRequest(server, 'GET', `/api/v1/channels/${encodeURIComponent(ch)}/events?after=0&limit=500`, { token: tok });
    assert.equal(page.status, 200);
    assert.ok(page.text.length <= 65536, `HTTP page of ${page.text.length} bytes`);
    assert.equal(page.json.more, true);
    assert.equal(page.json.events[0].seq, 1);
    assert.equal((await httpAllEvents(server, tok, ch)).length, 61, 'HTTP paging gets every event');

    // A small window is whole and says nothing of more.
    const small = expectOk(await c.history(ch, { after: 50, limit: 5 }), 'small history');
    assert.equal(small.events.length, 5);
    assert.equal(small.more, undefined);
    await servesNormally(server, 'after trimmed replies');
    await Promise.all([writer.close(), c.close()]);
    assert.equal(await server.stop(), 0);
  });

  test('decisions page over WebSocket and HTTP with after, limit and next', async () => {
    const server = await startReady(FAST);
    const eng = uniqueEng('dec');
    const ch = `eng:${eng}`;
    const client = await connectAs(server, userToken('dec-client', 'client', [eng]));
    const expert = await connectAs(server, userToken('dec-expert', 'expert', [eng]));
    for (let i = 1; i <= 5; i++) {
      const p = expectOk(await expert.post(ch, 'proposal', { topic: 'timeline', text: `t${i}`, terms: { weeks: i } }));
      expectOk(await client.post(ch, 'decision', { proposal: p.seq, verdict: 'accepted' }));
    }
    const ns = (r) => r.records.map((x) => x.n);

    const all = expectOk(await client.decisions(eng), 'decisions');
    assert.deepEqual(ns(all), [1, 2, 3, 4, 5]);
    assert.equal(all.next, null);
    const p1 = expectOk(await client.decisions(eng, { limit: 2 }));
    assert.deepEqual([ns(p1), p1.next], [[1, 2], 2]);
    const p2 = expectOk(await client.decisions(eng, { after: p1.next, limit: 2 }));
    assert.deepEqual([ns(p2), p2.next], [[3, 4], 4]);
    const p3 = expectOk(await client.decisions(eng, { after: p2.next, limit: 2 }));
    assert.deepEqual([ns(p3), p3.next], [[5], null]);
    assert.deepEqual([...p1.records, ...p2.records, ...p3.records], all.records);
    expectRefused(await client.decisions(eng, { limit: 1001 }), 'bad_request', 'limit over 1000');
    expectRefused(await client.decisions(eng, { limit: 0 }), 'bad_request', 'limit 0');
    expectRefused(await client.request('decisions', { eng, before: 3 }), 'bad_request', 'unknown field');

    const tok = userToken('dec-client', 'client', [eng]);
    const base = `/api/v1/engagements/${eng}/decisions`;
    const whole = await httpRequest(server, 'GET', base, { token: tok });
    assert.equal(whole.status, 200);
    assert.deepEqual(whole.json, { records: all.records, next: null });
    const mid = await httpRequest(server, 'GET', `${base}?after=1&limit=3`, { token: tok });
    assert.deepEqual([mid.json.records.map((x) => x.n), mid.json.next], [[2, 3, 4], 4]);
    const l1 = await httpRequest(server, 'GET', `${base}?format=jsonl&limit=2`, { token: tok });
    assert.equal(l1.status, 200);
    assert.deepEqual(l1.text.trim().split('\n').map((line) => JSON.parse(line).n), [1, 2]);
    assert.equal(l1.headers['parley-next'], '2');
    const l2 = await httpRequest(server, 'GET', `${base}?format=jsonl&after=4`, { token: tok });
    assert.deepEqual(l2.text.trim().split('\n').map((line) => JSON.parse(line).n), [5]);
    assert.equal(l2.headers['parley-next'], undefined);
    for (const q of ['limit=0', 'limit=1001', 'after=-1', 'after=x']) {
      const bad = await httpRequest(server, 'GET', `${base}?${q}`, { token: tok });
      assert.equal(bad.status, 400, `${q}: ${bad.text}`);
    }
    await servesNormally(server, 'after decisions paging');
    await Promise.all([client.close(), expert.close()]);
    assert.equal(await server.stop(), 0);
  });
});

describe('bounded engagement state', () => {
  test('a flood of 60 proposals: the 51st and later are conflict, nothing stored', async () => {
    const server = await startReady(FAST);
    const eng = uniqueEng('props');
    const ch = `eng:${eng}`;
    const expert = await connectAs(server, userToken('props-expert', 'expert', [eng]));
    const client = await connectAs(server, userToken('props-client', 'client', [eng]));
    const replies = await Promise.all(Array.from({ length: 60 }, (_, i) =>
      expert.post(ch, 'proposal', { topic: 'timeline', text: `flood ${i}`, terms: { weeks: i } })));
    assert.equal(replies.filter((r) => r.ok).length, 50);
    for (const r of replies.filter((x) => !x.ok)) expectRefused(r, 'conflict', '51st proposal');
    const state = await httpState(server, userToken('props-client', 'client', [eng]), eng);
    assert.equal(state.open_proposals.length, 50);
    const head = (await client.history(ch, { after: 0, limit: 500 })).events.length;
    assert.equal(head, 51, 'the opening event and 50 proposals');
    // Deciding one makes room again; the engagement works as before.
    expectOk(await client.post(ch, 'decision', { proposal: state.open_proposals[0].seq, verdict: 'rejected' }));
    expectOk(await expert.post(ch, 'proposal', { topic: 'timeline', text: 'one more', terms: { weeks: 1 } }));
    expectOk(await client.message(ch, 'still talking'));
    await servesNormally(server, 'after the proposal flood');
    await Promise.all([client.close(), expert.close()]);
    assert.equal(await server.stop(), 0);
  });

  test('a flood of 60 flags: the 51st and later are conflict, nothing stored', async () => {
    const server = await startReady(FAST);
    const eng = uniqueEng('flags');
    const ch = `eng:${eng}`;
    const client = await connectAs(server, userToken('flags-client', 'client', [eng]));
    const replies = await Promise.all(Array.from({ length: 60 }, (_, i) =>
      client.post(ch, 'flag', { type: 'risk', text: `risk ${i}` })));
    assert.equal(replies.filter((r) => r.ok).length, 50);
    for (const r of replies.filter((x) => !x.ok)) expectRefused(r, 'conflict', '51st flag');
    const state = await httpState(server, userToken('flags-client', 'client', [eng]), eng);
    assert.equal(state.open_flags.length, 50);
    const expert = await connectAs(server, userToken('flags-expert', 'expert', [eng]));
    expectOk(await expert.post(ch, 'flag_update', { flag: state.open_flags[0].seq, state: 'resolved', text: 'fixed' }));
    expectOk(await expert.post(ch, 'flag', { type: 'delay', text: 'room again' }));
    expectRefused(await expert.post(ch, 'flag_update', { flag: state.open_flags[0].seq, state: 'acknowledged', text: 'again' }),
      'conflict', 'a resolved flag updated again');
    expectRefused(await expert.post(ch, 'flag_update', { flag: 1, state: 'acknowledged', text: 'the opening event' }),
      'not_found', 'an event that is no flag');
    await servesNormally(server, 'after the flag flood');
    await Promise.all([client.close(), expert.close()]);
    assert.equal(await server.stop(), 0);
  });

  test('support reading an engagement that does not exist gets not_found and creates nothing; a party still opens it', async () => {
    const server = await startReady(FAST);
    const eng = uniqueEng('nope');
    const ch = `eng:${eng}`;
    const support = await connectAs(server, supportToken);
    expectRefused(await support.join(ch), 'not_found', 'support joins an unknown engagement');
    expectRefused(await support.history(ch, { after: 0 }), 'not_found', 'support history');
    expectRefused(await support.history(`${ch}:mediation`, { after: 0 }), 'not_found', 'support history of its mediation');
    expectRefused(await support.decisions(eng), 'not_found', 'support decisions');
    expectRefused(await support.message(ch, 'anyone?'), 'not_found', 'support posts');
    const service = userToken('mem-service', 'service', ['*']);
    for (const p of [`/api/v1/engagements/${eng}`, `/api/v1/engagements/${eng}/decisions`,
      `/api/v1/channels/${encodeURIComponent(ch)}/events`]) {
      for (const tok of [supportToken, service]) {
        const r = await httpRequest(server, 'GET', p, { token: tok });
        assert.equal(r.status, 404, `${p}: ${r.status} ${r.text}`);
        assert.equal(r.json.error.code, 'not_found');
      }
    }
    // Probing many ids costs nothing either.
    await Promise.all(Array.from({ length: 200 }, (_, i) => support.join(`eng:${eng}-probe${i}`)))
      .then((rs) => rs.forEach((r) => expectRefused(r, 'not_found', 'probe')));

    const client = await connectAs(server, userToken('nope-client', 'client', [eng]));
    const j = expectOk(await client.join(ch), 'the party opens it');
    assert.equal(j.state.phase, 'discovery');
    assert.equal(j.head, 1);
    assert.deepEqual(j.events.map((e) => [e.seq, e.kind, e.body.to]), [[1, 'phase', 'discovery']]);
    // Now support reads it.
    const sj = expectOk(await support.join(ch), 'support joins once it exists');
    assert.equal(sj.state.phase, 'discovery');
    expectOk(await support.message(ch, 'welcome'));
    expectOk(await support.history(`${ch}:mediation`, { after: 0 }), 'the mediation channel of an existing engagement');
    await servesNormally(server, 'after the probes');
    await Promise.all([support.close(), client.close()]);
    assert.equal(await server.stop(), 0);
  });

  test('with --engagement-cache 2, four engagements used in turn keep their states and service levels', async () => {
    const server = await startReady([...FAST, '--engagement-cache', '2', '--reply-sla', '3s']);
    const engs = Array.from({ length: 4 }, () => uniqueEng('lru'));
    const clients = {};
    const experts = {};
    for (const eng of engs) {
      clients[eng] = await connectAs(server, userToken(`lru-c-${eng}`, 'client', [eng]));
      experts[eng] = await connectAs(server, userToken(`lru-e-${eng}`, 'expert', [eng]));
    }
    const stateOf = (eng) => httpState(server, supportToken, eng);
    const before = {};
    for (const eng of engs) {
      const ch = `eng:${eng}`;
      const p = expectOk(await experts[eng].post(ch, 'proposal', { topic: 'phase', text: 'go', terms: { to: 'agreement' } }));
      expectOk(await clients[eng].post(ch, 'decision', { proposal: p.seq, verdict: 'accepted' }));
      expectOk(await clients[eng].post(ch, 'flag', { type: 'risk', text: `risk of ${eng}` }));
      expectOk(await experts[eng].post(ch, 'proposal', { topic: 'agreement', text: 'terms', terms: { price: 10 } }));
      // The client's message is owed a reply: reply_overdue after 3 s.
      expectOk(await clients[eng].message(ch, 'anyone there?'));
      before[eng] = await stateOf(eng);
    }
    // In turn again: each read reloads an engagement the others pushed out.
    for (let round = 0; round < 2; round++) {
      for (const eng of engs) {
        const s = await stateOf(eng);
        assert.deepEqual(s, before[eng], `state of ${eng} after reload`);
      }
    }
    // The rules still hold on a reloaded engagement.
    const first = engs[0];
    expectRefused(await clients[first].post(`eng:${first}`, 'decision', { proposal: 2, verdict: 'accepted' }),
      'conflict', 'a decided proposal decided again after reload');
    // Every engagement gets its reply_overdue once, evicted or not.
    for (const eng of engs) {
      await pollUntil(async () => {
        const events = await httpAllEvents(server, supportToken, `eng:${eng}`);
        return countSla(events).reply_overdue === 1;
      }, 20000, `reply_overdue of ${eng}`);
    }
    await sleep(1500);
    for (const eng of engs) {
      const events = await httpAllEvents(server, supportToken, `eng:${eng}`);
      assert.deepEqual(countSla(events), { reply_overdue: 1 }, `sla events of ${eng}`);
      const s = await stateOf(eng);
      assert.equal(s.phase, 'agreement');
      assert.equal(s.open_flags.length, 1);
      assert.equal(s.open_proposals.length, 1);
    }
    await servesNormally(server, 'with a small engagement cache');
    await Promise.all(engs.flatMap((eng) => [clients[eng].close(), experts[eng].close()]));
    assert.equal(await server.stop(), 0);
  });
});
