// Availability and response times (protocol §9.3): the `availability` op and
// PUT/GET /api/v1/users/me/availability, stored per user in both engines,
// carried in presence entries with last_seen, pushed as `updated` to the
// members of every channel the user has joined, and answered for readers who
// are not present (`absent`).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import {
  ENGINE, cleanup, connectAs, httpRequest, makeTempDir, redisFor, sleep, startServer, uniqueEng, userToken,
} from './harness.mjs';
import { expectOk, expectRefused, httpState } from './engagement_helpers.mjs';

after(cleanup);

const HOUR = 3600 * 1000;
const clusterSkip = ENGINE === 'redis' ? false : 'a second instance needs the redis engine (PARLEY_ENGINE=redis)';

function entryOf(list, id) {
  return (list || []).find((u) => (u.user ? u.user.id : u.id) === id);
}

const isUpdated = (ch, id) => (p) => p.ev === 'presence' && p.ch === ch && (p.updated ?? []).some((u) => u.id === id);

function getMine(server, tok) {
  return httpRequest(server, 'GET', '/api/v1/users/me/availability', { token: tok });
}

function putMine(server, tok, body) {
  return httpRequest(server, 'PUT', '/api/v1/users/me/availability', { token: tok, body });
}

function rssKiB(pid) {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
}

describe('availability on one server', () => {
  let server;
  before(async () => {
    server = await startServer();
  });

  test('set by the op and by PUT, read by GET; a refused change stores nothing', async () => {
    const eng = uniqueEng('av');
    const tok = userToken('av-alice', 'client', [eng], { name: 'Alice' });
    const fresh = await getMine(server, tok);
    assert.equal(fresh.status, 200, fresh.text);
    assert.deepEqual(fresh.json, { availability: null, set_at: null, last_seen: null });

    const alice = await connectAs(server, tok);
    const until = Date.now() + 2 * HOUR;
    const set = expectOk(await alice.request('availability', { status: 'away', until, note: 'Workshop in Lyon' }));
    assert.deepEqual(set.availability, { status: 'away', until, note: 'Workshop in Lyon' });
    assert.ok(set.set_at <= Date.now() && set.set_at > Date.now() - 60000);
    let got = await getMine(server, tok);
    assert.deepEqual(got.json.availability, { status: 'away', until, note: 'Workshop in Lyon' });

    const hours = { tz: 'Europe/Berlin', days: [1, 2, 3, 4, 5], from: '09:00', to: '17:30' };
    const put = await putMine(server, tok, { status: 'busy', hours, reply_within_h: 4 });
    assert.equal(put.status, 200, put.text);
    assert.deepEqual(put.json.availability, { status: 'busy', hours, reply_within_h: 4 });

    // Refusals: the op and the route answer bad_request and the stored value stays.
    const bad = [
      { status: 'gone' },
      { status: 'away', until: Date.now() - 1000 },
      { status: 'busy', note: 'x'.repeat(201) },
      { status: 'busy', mood: 'fine' },
      { status: 'busy', reply_within_h: 169 },
      { status: 'busy', hours: { ...hours, days: [1, 1] } },
      { status: 'busy', hours: { ...hours, tz: 'Europe Berlin' } },
      { status: 'busy', hours: { ...hours, from: '25:00' } },
    ];
    for (const body of bad) {
      await sleep(450);  // refusals count against the user's 5/s too
      expectRefused(await alice.request('availability', body), 'bad_request', JSON.stringify(body));
      const r = await putMine(server, tok, body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    }
    await sleep(250);
    const notJson = await httpRequest(server, 'PUT', '/api/v1/users/me/availability', { token: tok, rawBody: '{"status":' });
    assert.equal(notJson.status, 400);
    got = await getMine(server, tok);
    assert.deepEqual(got.json.availability, { status: 'busy', hours, reply_within_h: 4 }, 'unchanged by the refusals');

    // Service tokens act for the platform: they have no availability.
    const service = userToken('av-platform', 'service', ['*']);
    const s = await putMine(server, service, { status: 'busy' });
    assert.equal(s.status, 403, s.text);
    await alice.close();
  });

  test('presence entries carry availability and last_seen; a change is pushed to the members of every joined channel', async () => {
    const engA = uniqueEng('ava');
    const engB = uniqueEng('avb');
    const chA = `eng:${engA}`;
    const chB = `eng:${engB}`;
    const alice = await connectAs(server, userToken('avp-alice', 'client', [engA, engB], { name: 'Alice' }));
    const bob = await connectAs(server, userToken('avp-bob', 'expert', [engA], { name: 'Bob' }));
    const carol = await connectAs(server, userToken('avp-carol', 'expert', [engB], { name: 'Carol' }));
    expectOk(await alice.request('availability', { status: 'busy', note: 'Quarter end' }));
    expectOk(await alice.join(chA));
    expectOk(await alice.join(chB));

    const jb = expectOk(await bob.join(chA));
    const seenAlice = entryOf(jb.presence, 'avp-alice');
    assert.ok(seenAlice, JSON.stringify(jb.presence));
    assert.deepEqual(seenAlice.availability, { status: 'busy', note: 'Quarter end' });
    assert.equal(typeof seenAlice.last_seen, 'number', 'a present user is seen now');
    const self = entryOf(jb.presence, 'avp-bob');
    assert.equal(self.availability, null, 'never set: null');
    const joined = await alice.waitFor((p) => p.ev === 'presence' && p.ch === chA && (p.joined ?? []).some((u) => u.id === 'avp-bob'));
    assert.ok('availability' in joined.joined[0] && 'last_seen' in joined.joined[0], JSON.stringify(joined));
    expectOk(await carol.join(chB));

    const until = Date.now() + 3 * HOUR;
    expectOk(await alice.request('availability', { status: 'away', until }));
    const atBob = await bob.waitFor(isUpdated(chA, 'avp-alice'));
    const atCarol = await carol.waitFor(isUpdated(chB, 'avp-alice'));
    for (const push of [atBob, atCarol]) {
      const u = entryOf(push.updated, 'avp-alice');
      assert.equal(u.name, 'Alice');
      assert.deepEqual(u.availability, { status: 'away', until });
      assert.equal(typeof u.last_seen, 'number');
    }
    assert.equal(bob.pushes.filter(isUpdated(chB, 'avp-alice')).length, 0, 'bob is no member of the other channel');

    // Leaving is being seen: the left entry says when.
    const leftAt = Date.now();
    await carol.close();
    const left = await alice.waitFor((p) => p.ev === 'presence' && p.ch === chB && (p.left ?? []).some((u) => u.id === 'avp-carol'));
    const gone = entryOf(left.left, 'avp-carol');
    assert.ok(gone.last_seen >= leftAt - 1000, JSON.stringify(gone));
    assert.equal(gone.availability, null);
    await Promise.all([alice.close(), bob.close()]);
  });

  test('a reader who left is answered in `absent` with when they were last seen', async () => {
    const eng = uniqueEng('avabs');
    const ch = `eng:${eng}`;
    const aliceToken = userToken('ava-alice', 'client', [eng], { name: 'Alice' });
    const bob = await connectAs(server, userToken('ava-bob', 'expert', [eng], { name: 'Bob' }));
    expectOk(await bob.request('availability', { status: 'available', reply_within_h: 8 }));
    expectOk(await bob.join(ch));
    const m = expectOk(await bob.message(ch, 'Draft attached.'));
    expectOk(await bob.read(ch, m.seq));
    const beforeClose = Date.now();
    await bob.close();

    const alice = await connectAs(server, aliceToken);
    // The last_seen write follows the close: the join may need to be asked again.
    let absent;
    for (let i = 0; i < 50; i++) {
      const j = expectOk(await alice.join(ch));
      absent = entryOf(j.absent, 'ava-bob');
      if (absent && absent.last_seen >= beforeClose - 1000) break;
      await sleep(100);
    }
    assert.ok(absent, 'bob read the channel and is not present');
    assert.deepEqual(absent.availability, { status: 'available', reply_within_h: 8 });
    assert.ok(absent.last_seen >= beforeClose - 1000 && absent.last_seen <= Date.now(), JSON.stringify(absent));
    await alice.close();
  });

  test('the stored availability survives a restart', async () => {
    const tok = userToken('avr-alice', 'client', [uniqueEng('avr')]);
    const until = Date.now() + 5 * HOUR;
    const put = await putMine(server, tok, { status: 'away', until, note: 'Parental leave' });
    assert.equal(put.status, 200, put.text);
    server = await server.restart();
    const got = await getMine(server, tok);
    assert.equal(got.status, 200, got.text);
    assert.deepEqual(got.json.availability, { status: 'away', until, note: 'Parental leave' });
    assert.equal(got.json.set_at, put.json.set_at);
  });

  test('10 000 availability ops are rate-limited and memory stays bounded', async () => {
    const eng = uniqueEng('avflood');
    const tok = userToken('avf-alice', 'client', [eng]);
    const alice = await connectAs(server, tok);
    const rssBefore = rssKiB(server.proc.pid);
    let id = 1000;
    for (let i = 0; i < 10000; i++) {
      if (alice.closeInfo) break;
      alice.send({ id: id++, op: 'availability', status: i % 2 ? 'busy' : 'available', note: `n${i}` });
    }
    const closed = await alice.waitClosed(20000).catch(() => null);
    const okReplies = alice.replies ? alice.replies.filter((r) => r.ok).length : undefined;
    assert.ok(closed || alice.closeInfo, 'going on at full speed closes the connection');
    assert.equal(alice.closeInfo.code, 4008, JSON.stringify(alice.closeInfo));
    if (okReplies !== undefined) assert.ok(okReplies <= 15, `at most a burst was stored: ${okReplies}`);
    const growthMiB = (rssKiB(server.proc.pid) - rssBefore) / 1024;
    assert.ok(growthMiB < 64, `VmRSS grew ${growthMiB.toFixed(1)} MiB`);
    // The server still answers, and the user's stored value is one of the few accepted.
    const got = await getMine(server, tok);
    assert.equal(got.status, 200, got.text);
    assert.ok(['busy', 'available'].includes(got.json.availability.status));
  });
});

describe('the reply due and an away period', () => {
  test('owed_reply.due is the end of the owing party\'s away period, and reply_overdue comes then, not before', async () => {
    const REPLY_MS = 2000;
    const server = await startServer({ args: ['--reply-sla', '2s'] });
    const eng = uniqueEng('avsla');
    const ch = `eng:${eng}`;
    const clientToken = userToken('avs-client', 'client', [eng], { name: 'Client' });
    const client = await connectAs(server, clientToken);
    const expert = await connectAs(server, userToken('avs-expert', 'expert', [eng], { name: 'Expert' }));
    expectOk(await expert.join(ch));
    // In a first-use engagement the owing party is the last of its side who wrote.
    expectOk(await expert.message(ch, 'On it.'));
    const until = Date.now() + 6000;
    expectOk(await expert.request('availability', { status: 'away', until, note: 'Travelling' }));
    const m = expectOk(await client.message(ch, 'Could you confirm the interview list?'));
    assert.ok(m.ts + REPLY_MS < until, 'the window ends inside the away period');

    const st = await httpState(server, clientToken, eng);
    assert.deepEqual(st.owed_reply, { side: 'expert', since_seq: m.seq, since_ts: m.ts, due: until });
    // A state push (after any workflow event) carries the same due.
    expectOk(await client.post(ch, 'flag', { type: 'risk', text: 'The interviews may slip.' }));
    const push = await expert.waitFor((p) => p.ev === 'state' && p.eng === eng && p.state.open_flags.length === 1, 10000);
    assert.deepEqual(push.state.owed_reply, st.owed_reply);
    const isReplyMiss = (p) => p.ev === 'event' && p.ch === ch && p.kind === 'sla' && p.body?.type === 'reply_overdue';
    const sla = await expert.waitFor(isReplyMiss, 30000);
    assert.equal(sla.body.due, until);
    assert.ok(sla.ts >= until, `posted at the end of the away period, not before (ts ${sla.ts}, until ${until})`);
    await Promise.all([client.close(), expert.close()]);
  });
});

describe('availability across instances', { skip: clusterSkip }, () => {
  test('a member on another instance gets the updated push', async () => {
    const redis = await redisFor(makeTempDir('parley-avail-'));
    const a = await startServer({ redis });
    const b = await startServer({ redis });
    const eng = uniqueEng('avc');
    const ch = `eng:${eng}`;
    const alice = await connectAs(a, userToken('avc-alice', 'client', [eng], { name: 'Alice' }));
    const bob = await connectAs(b, userToken('avc-bob', 'expert', [eng], { name: 'Bob' }));
    expectOk(await alice.join(ch));
    expectOk(await bob.join(ch));
    const until = Date.now() + HOUR;
    expectOk(await alice.request('availability', { status: 'away', until, note: 'Flying' }));
    const push = await bob.waitFor(isUpdated(ch, 'avc-alice'));
    assert.deepEqual(entryOf(push.updated, 'avc-alice').availability, { status: 'away', until, note: 'Flying' });
    // The other instance reads the same stored value.
    const got = await getMine(b, userToken('avc-alice', 'client', [eng]));
    assert.deepEqual(got.json.availability, { status: 'away', until, note: 'Flying' });
    // A join on the other instance shows it in presence too.
    const carol = await connectAs(b, userToken('avc-carol', 'support', ['*']));
    const j = expectOk(await carol.join(ch));
    assert.deepEqual(entryOf(j.presence, 'avc-alice').availability, { status: 'away', until, note: 'Flying' });
    await Promise.all([alice.close(), bob.close(), carol.close()]);
  });
});
