// Service levels (protocol §4) with windows of seconds: reply_overdue,
// status_overdue and phase_overdue are each posted once per miss, as `sla`
// events in the main channel (and, for phase_overdue, a `notice` in
// `support`), also when the server stops (SIGTERM) or crashes (SIGKILL)
// before, while or after a miss falls due; and, on Redis, by another
// instance that never loaded the engagement when the one that held it dies.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';

import {
  ENGINE, cleanup, connect, connectAs, httpRequest, makeTempDir, readAll, redisFor, sharedRedisCluster, sleep, startServer,
  uniqueEng, userToken,
} from './harness.mjs';
import { countSla, eventAt, expectOk, httpAllEvents, httpState, pollUntil } from './engagement_helpers.mjs';

const REPLY_MS = 3000;
const STATUS_MS = 4000;
const PHASE_MS = { discovery: 5000, agreement: 5000, active: 6000, completion: 5000 };
const ARGS = [
  '--post-rate', '100000', '--post-burst', '100000',
  '--reply-sla', '3s', '--status-sla', '4s',
  '--phase-limits', 'discovery=5s,agreement=5s,active=6s,completion=5s',
];
// Generous upper bound for a miss to be posted once due (slow machines).
const POSTED_WITHIN_MS = 20000;
// How long past another window the tests watch for a second, wrong, posting.
const SETTLE_MS = 1500;

after(cleanup);

const supportToken = userToken('sla-support', 'support', ['*'], { name: 'SLA desk' });

function parties(eng, prefix) {
  return {
    client: userToken(`${prefix}-client`, 'client', [eng]),
    expert: userToken(`${prefix}-expert`, 'expert', [eng]),
    bot: userToken(`${prefix}-bot`, 'bot', [eng]),
  };
}

const isSla = (ch, type) => (p) => p.ev === 'event' && p.ch === ch && p.kind === 'sla' && p.body?.type === type;

// Takes an engagement from discovery to active through the real rules; resolves
// to the `phase` event that entered active.
async function toActive(client, expert, ch) {
  const step = async (proposer, decider, topic, terms) => {
    const p = expectOk(await proposer.post(ch, 'proposal', { topic, text: `${topic} please`, terms }), `propose ${topic}`);
    return expectOk(await decider.post(ch, 'decision', { proposal: p.seq, verdict: 'accepted' }), `accept ${topic}`);
  };
  await step(expert, client, 'phase', { to: 'agreement' });
  await step(client, expert, 'agreement', { scope: 'Pricing study', timeline: '2 weeks', compensation: 3000 });
  const d = await step(expert, client, 'phase', { to: 'active' });
  const ph = await eventAt(client, ch, d.seq + 1);
  assert.equal(ph.kind, 'phase');
  assert.deepEqual(ph.body, { from: 'agreement', to: 'active' });
  return ph;
}

// Support notices of kind phase_overdue for one engagement.
function phaseNotices(supportEvents, eng) {
  return supportEvents.filter((e) => e.kind === 'notice' && e.body?.type === 'phase_overdue' && e.body?.eng === eng);
}

describe('service levels on one running server', { concurrency: true }, () => {
  let server;
  let ready;
  const boot = () => (ready ??= startServer({ args: ARGS }).then((s) => { server = s; }));

  test('reply_overdue: the client writes, the expert stays silent: exactly one sla event', async () => {
    await boot();
    const eng = uniqueEng('reply');
    const ch = `eng:${eng}`;
    const tok = parties(eng, 'reply');
    const client = await connectAs(server, tok.client);
    const expert = await connectAs(server, tok.expert);
    expectOk(await expert.join(ch));
    const m = expectOk(await client.message(ch, 'Could you confirm the interview list?'));

    const sla = await expert.waitFor(isSla(ch, 'reply_overdue'), POSTED_WITHIN_MS);
    assert.equal(sla.from.role, 'system');
    assert.deepEqual(sla.body, { type: 'reply_overdue', side: 'expert', since_seq: m.seq, since_ts: m.ts, due: m.ts + REPLY_MS });
    assert.ok(sla.ts >= sla.body.due, `posted no earlier than due (ts ${sla.ts}, due ${sla.body.due})`);

    // More unanswered messages from the same side are the same debt.
    expectOk(await client.message(ch, 'Any news?'));
    await sleep(REPLY_MS + SETTLE_MS);
    const events = await readAll(expert, ch);
    assert.equal(countSla(events).reply_overdue, 1, `one reply_overdue: ${JSON.stringify(countSla(events))}`);
    const st = await httpState(server, tok.client, eng);
    assert.deepEqual(st.owed_reply, { side: 'expert', since_seq: m.seq, since_ts: m.ts, due: m.ts + REPLY_MS }, 'the debt itself stays');
    await Promise.all([client.close(), expert.close()]);
  });

  test('status_overdue during active: counted from entering active, posted once; a later status starts a new window', async () => {
    await boot();
    const eng = uniqueEng('status');
    const ch = `eng:${eng}`;
    const tok = parties(eng, 'status');
    const client = await connectAs(server, tok.client);
    const expert = await connectAs(server, tok.expert);
    const bot = await connectAs(server, tok.bot);
    expectOk(await client.join(ch));
    // A status before active: the window counts from entering active, the later of the two.
    expectOk(await bot.post(ch, 'status', { text: 'Kick-off prepared' }));
    const active = await toActive(client, expert, ch);

    const first = await client.waitFor(isSla(ch, 'status_overdue'), POSTED_WITHIN_MS);
    assert.equal(first.from.role, 'system');
    assert.deepEqual(first.body, { type: 'status_overdue', since: active.ts, due: active.ts + STATUS_MS });
    assert.ok(first.ts >= first.body.due, `posted no earlier than due (ts ${first.ts}, due ${first.body.due})`);

    await sleep(STATUS_MS + SETTLE_MS);
    let events = await readAll(client, ch);
    assert.equal(countSla(events).status_overdue, 1, `one status_overdue: ${JSON.stringify(countSla(events))}`);

    const st = expectOk(await bot.post(ch, 'status', { text: 'Half the interviews done', progress: 50 }));
    const second = await client.waitFor(isSla(ch, 'status_overdue'), POSTED_WITHIN_MS);
    assert.deepEqual(second.body, { type: 'status_overdue', since: st.ts, due: st.ts + STATUS_MS });
    events = await readAll(client, ch);
    assert.equal(countSla(events).status_overdue, 2, `a new window, one more miss: ${JSON.stringify(countSla(events))}`);
    await Promise.all([client.close(), expert.close(), bot.close()]);
  });

  test('phase_overdue: one sla event in the main channel and one notice in support', async () => {
    await boot();
    const eng = uniqueEng('phase');
    const ch = `eng:${eng}`;
    const tok = parties(eng, 'phase');
    const support = await connectAs(server, supportToken);
    expectOk(await support.join('support'));
    const client = await connectAs(server, tok.client);
    const j = expectOk(await client.join(ch));
    const since = j.state.phase_since;
    assert.equal(j.state.phase_due, since + PHASE_MS.discovery);

    const sla = await client.waitFor(isSla(ch, 'phase_overdue'), POSTED_WITHIN_MS);
    assert.equal(sla.from.role, 'system');
    assert.deepEqual(sla.body, { type: 'phase_overdue', phase: 'discovery', since, due: since + PHASE_MS.discovery });
    assert.ok(sla.ts >= sla.body.due, `posted no earlier than due (ts ${sla.ts}, due ${sla.body.due})`);
    const notice = await support.waitFor((p) => p.ev === 'event' && p.ch === 'support' && p.kind === 'notice'
      && p.body?.type === 'phase_overdue' && p.body?.eng === eng, POSTED_WITHIN_MS);
    assert.equal(notice.from.role, 'system');
    assert.equal(typeof notice.body.text, 'string');

    await sleep(PHASE_MS.discovery + SETTLE_MS);
    const events = await readAll(client, ch);
    assert.deepEqual(countSla(events), { 'phase_overdue:discovery': 1 }, 'one sla event, nothing else overdue');
    assert.equal(phaseNotices(await readAll(support, 'support'), eng).length, 1, 'one notice in support');
    await Promise.all([client.close(), support.close()]);
  });

  // The server's own events are stored under idempotency keys (cids) of its
  // own; a user whose id happens to be "system" must not be able to pre-empt
  // one by posting with the same cid, or the miss is never reported.
  test('the server\'s own user id "system" cannot be claimed, so no client can pre-empt an sla event\'s key', async () => {
    await boot();
    const eng = uniqueEng('spoof');
    const ch = `eng:${eng}`;
    const impostor = await connect(server.wsUrl);
    const reply = await impostor.request('hello', { token: userToken('system', 'client', [eng], { name: 'Sys Temple' }) });
    assert.equal(reply.ok, false);
    assert.equal(reply.error.code, 'unauthorized');
    assert.equal((await impostor.waitClosed()).code, 4003);
    const refused = await httpRequest(server, 'POST', `/api/v1/channels/${encodeURIComponent(ch)}/events`, {
      token: userToken('system', 'client', [eng]),
      body: { kind: 'message', body: { text: 'Reminder' }, cid: 'sla:reply_overdue:2' },
    });
    assert.equal(refused.status, 401);

    const client = await connectAs(server, userToken('spoof-client', 'client', [eng]));
    const observer = await connectAs(server, userToken('spoof-expert', 'expert', [eng]));
    expectOk(await observer.join(ch));
    const m = expectOk(await client.message(ch, 'Hello, anyone?'));
    const sla = await observer.waitFor(isSla(ch, 'reply_overdue'), POSTED_WITHIN_MS);
    assert.equal(sla.from.role, 'system');
    assert.equal(sla.body.since_seq, m.seq);
    await Promise.all([client.close(), observer.close()]);
  });
});

describe('service levels across restarts', () => {
  test('each miss is posted once: before a SIGTERM, while stopped, and after a SIGKILL', async () => {
    let server = await startServer({ args: ARGS });
    const history = async (ch) => {
      const reader = await connectAs(server, supportToken);
      try {
        return await readAll(reader, ch);
      } finally {
        await reader.close();
      }
    };
    const slaOf = async (eng) => countSla(await httpAllEvents(server, supportToken, `eng:${eng}`));
    const waitForMisses = (eng, keys) => pollUntil(async () => {
      const counts = await slaOf(eng);
      return keys.every((k) => counts[k] >= 1) ? counts : undefined;
    }, POSTED_WITHIN_MS, `${keys.join(', ')} on eng:${eng}`);
    const open = async (prefix, { active = false } = {}) => {
      const eng = uniqueEng(prefix);
      const tok = parties(eng, prefix);
      const client = await connectAs(server, tok.client);
      const ch = `eng:${eng}`;
      expectOk(await client.join(ch));
      if (active) {
        const expert = await connectAs(server, tok.expert);
        const bot = await connectAs(server, tok.bot);
        await toActive(client, expert, ch);
        expectOk(await bot.post(ch, 'status', { text: 'Started' }));
        await Promise.all([expert.close(), bot.close()]);
      } else {
        expectOk(await client.message(ch, 'Hello?'));
      }
      await client.close();
      return eng;
    };

    // X: both misses posted before any restart.
    const x = await open('rx');
    await waitForMisses(x, ['reply_overdue', 'phase_overdue:discovery']);

    // Y and Z: due while the server is stopped (SIGTERM) or just after it starts again.
    const y = await open('ry');
    const z = await open('rz', { active: true });
    assert.equal(await server.stop(), 0, 'SIGTERM drains and exits 0');
    await sleep(REPLY_MS + 500);
    server = await server.restart();
    await waitForMisses(y, ['reply_overdue', 'phase_overdue:discovery']);
    await waitForMisses(z, ['status_overdue', 'phase_overdue:active']);

    // W: its misses fall due after a crash.
    const w = await open('rw');
    const killed = await server.kill();
    assert.equal(killed.signal, 'SIGKILL');
    server = await server.restart();
    await waitForMisses(w, ['reply_overdue', 'phase_overdue:discovery']);
    await sleep(REPLY_MS + SETTLE_MS);

    const expected = {
      [x]: ['reply_overdue', 'phase_overdue:discovery'],
      [y]: ['reply_overdue', 'phase_overdue:discovery'],
      [z]: ['status_overdue', 'phase_overdue:active'],
      [w]: ['reply_overdue', 'phase_overdue:discovery'],
    };
    const support = await history('support');
    for (const [eng, keys] of Object.entries(expected)) {
      const events = await history(`eng:${eng}`);
      const counts = countSla(events);
      for (const k of keys) assert.equal(counts[k], 1, `eng:${eng}: one ${k}, got ${JSON.stringify(counts)}`);
      for (const [k, n] of Object.entries(counts)) assert.equal(n, 1, `eng:${eng}: ${k} posted ${n} times`);
      const phaseMisses = events.filter((e) => e.kind === 'sla' && e.body.type === 'phase_overdue').length;
      assert.equal(phaseNotices(support, eng).length, phaseMisses, `eng:${eng}: one support notice per phase miss`);
    }
  });
});

describe('a database from before the due index', { skip: ENGINE === 'local' ? false : 'the embedded engine\'s database' }, () => {
  test('the first start fills the index from the stored engagements, once; then their misses are posted', async () => {
    let server = await startServer({ args: ARGS });
    const eng = uniqueEng('old');
    const ch = `eng:${eng}`;
    const client = await connectAs(server, parties(eng, 'old').client);
    expectOk(await client.join(ch));
    expectOk(await client.message(ch, 'Written before the upgrade'));
    await client.close();
    assert.equal(await server.stop(), 0);
    // What a database written before the index existed holds: no dues, no mark.
    execFileSync('sqlite3', [path.join(server.dataDir, 'parley.db'),
      "DELETE FROM due_index; DELETE FROM meta WHERE key = 'due_index_complete';"]);
    await sleep(REPLY_MS + 500);

    server = await server.restart();
    const counts = await pollUntil(async () => {
      const c = countSla(await httpAllEvents(server, supportToken, ch));
      return c.reply_overdue >= 1 && c['phase_overdue:discovery'] >= 1 ? c : undefined;
    }, POSTED_WITHIN_MS, `the misses of ${ch} after the index is filled`);
    for (const [k, n] of Object.entries(counts)) assert.equal(n, 1, `${k} posted ${n} times`);
    assert.match(server.logs(), /event=due_index_filled/);
    // Marked complete: the next start does not fill it again.
    server = await server.restart();
    await sleep(500);
    assert.doesNotMatch(server.logs(), /event=due_index_filling/);
  });
});

const sharedStorage = ENGINE === 'redis' || ENGINE === 'redis-cluster';
describe('service levels across instances', { skip: sharedStorage ? false : 'needs Redis (PARLEY_ENGINE=redis or redis-cluster)' }, () => {
  test('the instance that holds an engagement dies: another, which never loaded it, posts its misses from the shared due index', async () => {
    const shared = ENGINE === 'redis'
      ? { redis: await redisFor(makeTempDir('parley-sla-shared-')) }
      : { redisCluster: await sharedRedisCluster(ARGS) };
    const holder = await startServer({ ...shared, args: ARGS });
    const other = await startServer({ ...shared, args: ARGS });
    const eng = uniqueEng('rd');
    const ch = `eng:${eng}`;
    const tok = parties(eng, 'rd');
    const client = await connectAs(holder, tok.client);
    expectOk(await client.join(ch));
    const m = expectOk(await client.message(ch, 'Anyone there?'));
    await client.close();
    // Before the reply window ends: only the holder ever loaded the engagement.
    const killed = await holder.kill();
    assert.equal(killed.signal, 'SIGKILL');

    const misses = await pollUntil(async () => {
      const counts = countSla(await httpAllEvents(other, supportToken, ch));
      return counts.reply_overdue >= 1 && counts['phase_overdue:discovery'] >= 1 ? counts : undefined;
    }, POSTED_WITHIN_MS, `the misses of ${ch} from the other instance`);
    await sleep(SETTLE_MS);
    const events = await httpAllEvents(other, supportToken, ch);
    const counts = countSla(events);
    for (const [k, n] of Object.entries(counts)) assert.equal(n, 1, `${ch}: ${k} posted ${n} times (${JSON.stringify(misses)})`);
    const reply = events.find((e) => e.kind === 'sla' && e.body.type === 'reply_overdue');
    assert.equal(reply.body.since_seq, m.seq);
  });
});
