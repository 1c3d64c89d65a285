// Proposals expire and agreed dates move the phase's due (protocol §9.4), with
// a proposal TTL of seconds: one `proposal_expired` per proposal, also across a
// restart past the TTL and with two instances on one Redis; deciding an
// expired proposal is `conflict`; a lapsed invitation declines the engagement;
// an accepted `terms.due` becomes `due`, `phase_due` and the phase miss.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  ENGINE, cleanup, connectAs, httpFor, makeTempDir, redisFor, sleep, startServer, uniqueEng, userToken,
} from './harness.mjs';
import { expectOk, expectRefused, httpAllEvents, httpState, pollUntil } from './engagement_helpers.mjs';

const TTL_MS = 3000;
const FAST = ['--post-rate', '100000', '--post-burst', '100000'];
const ARGS = [...FAST, '--proposal-ttl', '3s'];
// Generous upper bound for an expiry to be posted once due (slow machines).
const POSTED_WITHIN_MS = 20000;
// How long past an expiry the tests watch for a second, wrong, posting.
const SETTLE_MS = 2000;

after(cleanup);

const support = userToken('ttl-support', 'support', ['*']);
const service = userToken('ttl-service', 'service', ['*']);

function parties(eng, prefix) {
  return {
    client: userToken(`${prefix}-client`, 'client', [eng]),
    expert: userToken(`${prefix}-expert`, 'expert', [eng]),
  };
}

const expiries = (events) => events.filter((e) => e.kind === 'proposal_expired');

async function propose(who, ch, topic, terms, text = `${topic} please`) {
  return expectOk(await who.post(ch, 'proposal', { topic, text, terms }), `propose ${topic}`);
}

describe('proposals expire on one running server', { concurrency: true }, () => {
  let server;
  let ready;
  const boot = () => (ready ??= startServer({ args: ARGS }).then((s) => { server = s; }));

  test('an agreement proposal expires once: event, state push, gone from state, deciding is conflict', async () => {
    await boot();
    const eng = uniqueEng('ttl-agr');
    const ch = `eng:${eng}`;
    const tok = parties(eng, 'ttl-agr');
    const client = await connectAs(server, tok.client);
    const expert = await connectAs(server, tok.expert);
    expectOk(await expert.join(ch));
    const p = await propose(client, ch, 'agreement', { scope: 'Pricing study' });
    const pushed = await expert.waitFor((m) => m.ev === 'state' && m.state.open_proposals.some((x) => x.seq === p.seq));
    assert.ok(pushed.state.can.includes(`decide:${p.seq}`));

    const ev = await expert.waitFor((m) => m.ev === 'event' && m.ch === ch && m.kind === 'proposal_expired', POSTED_WITHIN_MS);
    assert.deepEqual(ev.body, { proposal: p.seq });
    assert.equal(ev.from.role, 'system');
    assert.ok(ev.ts >= p.ts + TTL_MS, `posted no earlier than due (ts ${ev.ts}, proposal ${p.ts})`);
    // The state push that follows it: the proposal is gone and cannot be decided.
    const after = await expert.waitFor((m) => m.ev === 'state' && m.eng === eng && !m.state.open_proposals.some((x) => x.seq === p.seq));
    assert.ok(!after.state.can.includes(`decide:${p.seq}`));
    assert.ok(after.state.can.includes('propose:agreement'));

    const refused = await expert.post(ch, 'decision', { proposal: p.seq, verdict: 'accepted' });
    expectRefused(refused, 'conflict');
    assert.equal(refused.error.message, `proposal ${p.seq} expired`);
    const state = await httpState(server, support, eng);
    assert.deepEqual(state.open_proposals, []);
    assert.equal(state.agreement, null);

    await sleep(SETTLE_MS);
    const all = await httpAllEvents(server, support, ch);
    assert.equal(expiries(all).length, 1);
    assert.equal(all.filter((e) => e.kind === 'decision').length, 0);
  });

  test('a proposal decided before its TTL never expires', async () => {
    await boot();
    const eng = uniqueEng('ttl-decided');
    const ch = `eng:${eng}`;
    const tok = parties(eng, 'ttl-decided');
    const client = await connectAs(server, tok.client);
    const expert = await connectAs(server, tok.expert);
    const p = await propose(client, ch, 'scope_change', { scope: 'more' });
    expectOk(await expert.post(ch, 'decision', { proposal: p.seq, verdict: 'rejected' }));
    await sleep(TTL_MS + SETTLE_MS);
    assert.equal(expiries(await httpAllEvents(server, support, ch)).length, 0);
  });

  test('an invitation that expires declines the engagement', async () => {
    await boot();
    const eng = uniqueEng('ttl-inv');
    const ch = `eng:${eng}`;
    const http = httpFor(server);
    const created = await http('PUT', `/api/v1/engagements/${eng}`, {
      token: service,
      body: { title: 'Market entry', client: { id: 'ttl-inv-client' }, expert: { id: 'ttl-inv-expert' } },
    });
    assert.equal(created.status, 201, created.text);
    const invitationSeq = created.json.open_proposals[0].seq;
    const expert = await connectAs(server, userToken('ttl-inv-expert', 'expert', [eng]));
    expectOk(await expert.join(ch));
    const ev = await expert.waitFor((m) => m.ev === 'event' && m.ch === ch && m.kind === 'proposal_expired', POSTED_WITHIN_MS);
    assert.deepEqual(ev.body, { proposal: invitationSeq });
    const phase = await expert.waitFor((m) => m.ev === 'event' && m.ch === ch && m.kind === 'phase');
    assert.equal(phase.seq, ev.seq + 1);
    assert.deepEqual(phase.body, { from: 'invited', to: 'declined' });
    const state = await httpState(server, support, eng);
    assert.equal(state.phase, 'declined');
    assert.deepEqual(state.open_proposals, []);
    const refused = await expert.post(ch, 'decision', { proposal: invitationSeq, verdict: 'accepted' });
    expectRefused(refused, 'conflict');
    assert.match(refused.error.message, /declined/);
    await sleep(SETTLE_MS);
    assert.equal(expiries(await httpAllEvents(server, support, ch)).length, 1);
  });

  test('50 open proposals (the cap) expiring together make 50 events and nothing more', async () => {
    await boot();
    const eng = uniqueEng('ttl-50');
    const ch = `eng:${eng}`;
    const tok = parties(eng, 'ttl-50');
    const client = await connectAs(server, tok.client);
    const posted = await Promise.all(
      Array.from({ length: 50 }, (_, i) => client.post(ch, 'proposal', { topic: 'scope_change', text: `item ${i}`, terms: { i } })),
    );
    const seqs = posted.map((r) => expectOk(r, 'proposal').seq);
    // The 51st is over the cap (unless the first ones already expired on a slow machine).
    const over = await client.post(ch, 'proposal', { topic: 'scope_change', text: 'one more', terms: {} });
    const overSeq = over.ok ? over.seq : null;
    if (!over.ok) assert.equal(over.error.code, 'conflict');

    const want = overSeq === null ? 50 : 51;
    const all = await pollUntil(async () => {
      const events = await httpAllEvents(server, support, ch);
      return expiries(events).length >= want ? events : undefined;
    }, POSTED_WITHIN_MS * 2, `${want} expiries`);
    await sleep(SETTLE_MS);
    const settled = await httpAllEvents(server, support, ch);
    const expired = expiries(settled).map((e) => e.body.proposal).sort((a, b) => a - b);
    assert.deepEqual(expired, [...seqs, ...(overSeq === null ? [] : [overSeq])].sort((a, b) => a - b));
    assert.equal(settled.length, all.length);
    assert.deepEqual((await httpState(server, support, eng)).open_proposals, []);
  });
});

describe('agreed due dates', () => {
  test('accepted terms.due becomes due and phase_due in active; phase_overdue comes at it, again for a moved date', async () => {
    const server = await startServer({ args: [...FAST, '--phase-limits', 'discovery=1h,agreement=1h,active=1h,completion=1h'] });
    const eng = uniqueEng('ttl-due');
    const ch = `eng:${eng}`;
    const tok = parties(eng, 'ttl-due');
    const client = await connectAs(server, tok.client);
    const expert = await connectAs(server, tok.expert);
    expectOk(await client.join(ch));
    const step = async (proposer, decider, topic, terms) => {
      const p = await propose(proposer, ch, topic, terms);
      return expectOk(await decider.post(ch, 'decision', { proposal: p.seq, verdict: 'accepted' }), `accept ${topic}`);
    };
    // Bad dates are refused and store nothing.
    for (const due of [Math.floor(Date.now() / 1000), 0, -1, Date.now() + 0.5, String(Date.now())]) {
      expectRefused(await client.post(ch, 'proposal', { topic: 'timeline', text: 't', terms: { due } }), 'bad_request');
    }

    const due = Date.now() + 6000;
    await step(expert, client, 'phase', { to: 'agreement' });
    await step(client, expert, 'agreement', { scope: 'Pricing study', due });
    let state = await httpState(server, support, eng);
    assert.equal(state.due, due);
    assert.notEqual(state.phase_due, due, 'agreement keeps its own bound');
    await step(expert, client, 'phase', { to: 'active' });
    state = await httpState(server, support, eng);
    assert.equal(state.phase, 'active');
    assert.equal(state.phase_due, due);

    const miss = await client.waitFor((m) => m.ev === 'event' && m.ch === ch && m.kind === 'sla' && m.body.type === 'phase_overdue', POSTED_WITHIN_MS);
    assert.equal(miss.body.phase, 'active');
    assert.equal(miss.body.due, due);
    assert.ok(miss.ts >= due);

    // A timeline moves the date: a new miss for the new date, once.
    const moved = Date.now() + 3000;
    await step(client, expert, 'timeline', { due: moved });
    state = await httpState(server, support, eng);
    assert.equal(state.due, moved);
    assert.equal(state.phase_due, moved);
    const again = await client.waitFor((m) => m.ev === 'event' && m.ch === ch && m.kind === 'sla' && m.body.type === 'phase_overdue', POSTED_WITHIN_MS);
    assert.equal(again.body.due, moved);
    await sleep(SETTLE_MS);
    const all = await httpAllEvents(server, support, ch);
    assert.equal(all.filter((e) => e.kind === 'sla' && e.body.type === 'phase_overdue').length, 2);
    const notices = (await httpAllEvents(server, support, 'support')).filter((e) => e.kind === 'notice' && e.body.eng === eng);
    assert.equal(notices.length, 2);
  });
});

describe('expiry across a restart', () => {
  test('stopped before the TTL, started after it: exactly one proposal_expired, posted at once', async () => {
    let server = await startServer({ args: ARGS });
    const eng = uniqueEng('ttl-restart');
    const ch = `eng:${eng}`;
    const tok = parties(eng, 'ttl-restart');
    const client = await connectAs(server, tok.client);
    const p = await propose(client, ch, 'timeline', { weeks: 3 });
    await client.close();
    assert.equal(await server.stop(), 0);
    await sleep(TTL_MS + 500);

    server = await server.restart();
    // No member and no request: the watcher finds it by itself.
    const expired = await pollUntil(async () => {
      const events = await httpAllEvents(server, support, ch);
      return expiries(events).length > 0 ? expiries(events) : undefined;
    }, POSTED_WITHIN_MS, 'the expiry after a restart');
    assert.deepEqual(expired[0].body, { proposal: p.seq });

    // Once more across a restart: still one.
    server = await server.restart();
    await sleep(SETTLE_MS);
    assert.equal(expiries(await httpAllEvents(server, support, ch)).length, 1);
    assert.deepEqual((await httpState(server, support, eng)).open_proposals, []);
  });
});

describe('two instances on one Redis', { skip: ENGINE === 'redis' ? false : 'cluster mode needs the redis engine' }, () => {
  test('both watch the same engagement: still exactly one proposal_expired', async () => {
    const redis = await redisFor(makeTempDir('parley-ttl-cluster-'));
    const a = await startServer({ redis, args: ARGS });
    const b = await startServer({ redis, args: ARGS });
    const eng = uniqueEng('ttl-cluster');
    const ch = `eng:${eng}`;
    const tok = parties(eng, 'ttl-cluster');
    const onA = await connectAs(a, tok.client);
    const onB = await connectAs(b, tok.expert);
    expectOk(await onA.join(ch));
    expectOk(await onB.join(ch));
    const proposals = [];
    for (let i = 0; i < 5; i++) proposals.push((await propose(i % 2 ? onB : onA, ch, 'scope_change', { i })).seq);
    await onA.waitFor((m) => m.ev === 'event' && m.kind === 'proposal_expired' && m.body.proposal === proposals[4], POSTED_WITHIN_MS);
    await onB.waitFor((m) => m.ev === 'event' && m.kind === 'proposal_expired' && m.body.proposal === proposals[4], POSTED_WITHIN_MS);
    await sleep(SETTLE_MS);
    const all = await httpAllEvents(a, support, ch);
    assert.deepEqual(expiries(all).map((e) => e.body.proposal).sort((x, y) => x - y), proposals);
    assert.deepEqual((await httpState(b, support, eng)).open_proposals, []);
  });
});
