// Deliveries with review windows (protocol §9.6), over the wire on both
// engines: delivery → revision_request → new version → accepted (record with
// the file hashes) → final → closed; automatic acceptance with a review window
// of seconds, once, also across a restart and with two instances on one
// Redis; a dispute pausing it and the 24 h it gives after its resolution;
// `review_due_soon` once; state pushes carrying `deliverables`; and abuse.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';

import {
  ENGINE, cleanup, connectAs, httpRequest, makeTempDir, redisFor, sleep, startServer, uniqueEng, userToken,
} from './harness.mjs';
import {
  assertChain, expectOk, expectRefused, httpAllEvents, httpDecisions, httpPost, httpState, pollUntil,
} from './engagement_helpers.mjs';

const FAST = ['--post-rate', '100000', '--post-burst', '100000', '--http-rate', '100000'];
const WINDOW_MS = 3000;
const QUICK = [...FAST, '--review-window', '3s', '--review-warning', '1s'];
// Generous upper bound for an automatic step to be posted once due (slow machines).
const POSTED_WITHIN_MS = 20000;
// How long past a step the tests watch for a second, wrong, posting.
const SETTLE_MS = 2000;
const DAY = 24 * 3600 * 1000;

after(cleanup);

const support = userToken('dlv-support', 'support', ['*']);

function parties(eng, prefix) {
  return {
    client: userToken(`${prefix}-client`, 'client', [eng]),
    expert: userToken(`${prefix}-expert`, 'expert', [eng]),
  };
}

// Uploads bytes as the engagement's file (protocol §9.6 "Files") and answers
// {sha256, name} for a `files` entry.
async function upload(server, tok, eng, name, bytes = randomBytes(64)) {
  const r = await httpRequest(server, 'POST', `/api/v1/engagements/${eng}/files?name=${encodeURIComponent(name)}`, {
    token: tok, rawBody: bytes, headers: { 'Content-Type': 'application/octet-stream' },
  });
  assert.ok(r.status === 201 || r.status === 200, `upload ${name}: ${r.status} ${r.text}`);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  assert.equal(r.json.sha256, sha256);
  return { sha256, name };
}

async function accept(decider, ch, seq, what) {
  return expectOk(await decider.post(ch, 'decision', { proposal: seq, verdict: 'accepted' }), what);
}

// discovery → agreement → active (→ completion).
async function activate(client, expert, ch, { completion = false } = {}) {
  const step = async (proposer, decider, topic, terms) => {
    const p = expectOk(await proposer.post(ch, 'proposal', { topic, text: topic, terms }), `propose ${topic}`);
    await accept(decider, ch, p.seq, `accept ${topic}`);
  };
  await step(expert, client, 'phase', { to: 'agreement' });
  await step(client, expert, 'agreement', { scope: 'Market study' });
  await step(expert, client, 'phase', { to: 'active' });
  if (completion) await step(expert, client, 'phase', { to: 'completion' });
}

async function setUp(server, prefix, options) {
  const eng = uniqueEng(prefix);
  const ch = `eng:${eng}`;
  const tok = parties(eng, prefix);
  const client = await connectAs(server, tok.client);
  const expert = await connectAs(server, tok.expert);
  expectOk(await client.join(ch));
  expectOk(await expert.join(ch));
  await activate(client, expert, ch, options);
  const file = await upload(server, tok.expert, eng, `${prefix}.pdf`);
  const deliver = async (deliverable, extra = {}) =>
    expectOk(await expert.post(ch, 'delivery', { deliverable, text: `${deliverable} attached`, files: [file], ...extra }),
      `deliver ${deliverable}`);
  return { eng, ch, tok, client, expert, file, deliver };
}

const autoDecisions = (events) => events.filter((e) => e.kind === 'decision' && e.body.auto === true);
const warnings = (events) => events.filter((e) => e.kind === 'review_due_soon');

describe('deliveries on one running server', { concurrency: true }, () => {
  let server;
  let ready;
  const boot = () => (ready ??= startServer({ args: FAST }).then((s) => { server = s; }));

  test('delivery → revision → new version → accepted → final → closed, with the file hashes in the log', async () => {
    await boot();
    const { eng, ch, client, expert, file, deliver } = await setUp(server, 'dlv-path');
    const v1 = await deliver('report');
    const pushed = await client.waitFor((m) => m.ev === 'state' && m.eng === eng && m.state.deliverables?.report?.seq === v1.seq);
    assert.equal(pushed.state.deliverables.report.status, 'submitted');
    assert.equal(pushed.state.deliverables.report.version, 1);
    assert.ok(pushed.state.can.includes(`decide:${v1.seq}`));
    assert.ok(pushed.state.can.includes(`revise:${v1.seq}`));
    const stored = await client.waitFor((m) => m.ev === 'event' && m.seq === v1.seq);
    assert.equal(stored.body.version, 1);
    assert.equal(stored.body.files[0].sha256, file.sha256);
    assert.equal(stored.body.review_due, pushed.state.deliverables.report.review_due);

    expectOk(await client.post(ch, 'revision_request', { delivery: v1.seq, text: 'Add the DACH numbers' }));
    let state = await httpState(server, support, eng);
    assert.equal(state.deliverables.report.status, 'revision_requested');
    assert.equal(state.deliverables.report.revisions_used, 1);
    assert.equal(state.deliverables.report.review_due, null);

    const v2 = await deliver('report');
    expectRefused(await client.post(ch, 'decision', { proposal: v1.seq, verdict: 'accepted' }), 'conflict', 'older version');
    expectRefused(await expert.post(ch, 'decision', { proposal: v2.seq, verdict: 'accepted' }), 'forbidden', 'expert decides');
    expectRefused(await client.post(ch, 'decision', { proposal: v2.seq, verdict: 'rejected' }), 'bad_request', 'rejected');
    await accept(client, ch, v2.seq, 'accept v2');
    expectRefused(await client.post(ch, 'decision', { proposal: v2.seq, verdict: 'accepted' }), 'conflict', 'twice');

    // Into completion; the final version closes the engagement when accepted.
    const p = expectOk(await expert.post(ch, 'proposal', { topic: 'phase', text: 'wrap up', terms: { to: 'completion' } }));
    await accept(client, ch, p.seq, 'completion');
    const final = await deliver('report', { final: true });
    await accept(client, ch, final.seq, 'accept final');
    state = await httpState(server, support, eng);
    assert.equal(state.phase, 'closed');
    assert.deepEqual(state.deliverables.report, {
      version: 3, seq: final.seq, status: 'accepted', review_due: null, revisions_used: 1, final: true,
    });

    const events = await httpAllEvents(server, support, ch);
    const phase = events.find((e) => e.kind === 'phase' && e.body.to === 'closed');
    assert.equal(phase.from.role, 'system');
    const decision = events.find((e) => e.kind === 'decision' && e.body.proposal === final.seq);
    assert.equal(phase.seq, decision.seq + 1, 'the close is stored with the acceptance');

    const records = await httpDecisions(server, support, eng);
    assertChain(records);
    const deliveries = records.filter((r) => r.topic === 'delivery');
    assert.equal(deliveries.length, 2);
    assert.deepEqual(deliveries[0].terms, {
      deliverable: 'report', version: 2, final: false,
      files: [{ name: file.name, sha256: file.sha256, size: deliveries[0].terms.files[0].size }],
    });
    assert.equal(deliveries[0].proposal_seq, v2.seq);
    assert.deepEqual(deliveries[0].accepted_by, [`dlv-path-client`]);
    assert.equal(deliveries[1].terms.final, true);
    assert.equal(deliveries[1].decision_seq, decision.seq);
  });

  test('closed is refused while a delivery awaits the client', async () => {
    await boot();
    const { eng, ch, client, expert, deliver } = await setUp(server, 'dlv-block', { completion: true });
    const closing = expectOk(await expert.post(ch, 'proposal', { topic: 'phase', text: 'close', terms: { to: 'closed' } }));
    const d = await deliver('slides');
    const refused = await client.post(ch, 'decision', { proposal: closing.seq, verdict: 'accepted' });
    expectRefused(refused, 'conflict');
    assert.equal(refused.error.message, `delivery ${d.seq} awaits the client's decision`);
    assert.equal((await httpState(server, support, eng)).phase, 'completion');
  });

  test('abuse: seqs that are no delivery, roles, a 51st deliverable, a thousand versions', async () => {
    await boot();
    const { eng, ch, client, expert, file, deliver } = await setUp(server, 'dlv-abuse');
    expectRefused(await expert.post(ch, 'delivery', { deliverable: 'r', text: 't', files: [{ sha256: 'e'.repeat(64), name: 'x' }] }),
      'not_found', 'a hash never uploaded');
    const msg = expectOk(await client.post(ch, 'message', { text: 'hello' }));
    expectRefused(await client.post(ch, 'revision_request', { delivery: msg.seq, text: 'x' }), 'not_found', 'a message seq');
    expectRefused(await client.post(ch, 'revision_request', { delivery: msg.seq + 1000, text: 'x' }), 'not_found', 'a future seq');
    expectRefused(await client.post(ch, 'delivery', { deliverable: 'r', text: 't', files: [file] }), 'forbidden', 'client delivers');
    expectRefused(await expert.post(ch, 'revision_request', { delivery: msg.seq, text: 'x' }), 'forbidden', 'expert revises');
    const bot = await connectAs(server, userToken('dlv-abuse-bot', 'bot', [eng]));
    expectRefused(await bot.post(ch, 'delivery', { deliverable: 'r', text: 't', files: [file] }), 'forbidden', 'a bot delivers');
    expectRefused(await expert.post(ch, 'delivery', { deliverable: 'r', text: 't', files: [file], version: 9 }), 'bad_request');
    expectRefused(await expert.post(ch, 'review_due_soon', { delivery: 1 }), 'bad_request');
    const d = await deliver('d0');
    expectRefused(await expert.post(ch, 'decision', { proposal: d.seq, verdict: 'accepted' }), 'forbidden', 'expert decides');

    for (let i = 1; i < 50; i += 10) {
      await Promise.all(Array.from({ length: 10 }, (_, k) => i + k).filter((n) => n < 50).map((n) => deliver(`d${n}`)));
    }
    expectRefused(await expert.post(ch, 'delivery', { deliverable: 'd50', text: 't', files: [file] }), 'conflict', '51st');

    // Versions of one deliverable: only the latest is kept, the state stays small.
    const before = JSON.stringify(await httpState(server, support, eng)).length;
    for (let i = 0; i < 1000; i += 50) {
      await Promise.all(Array.from({ length: 50 }, () => deliver('d0')));
    }
    const state = await httpState(server, support, eng);
    assert.equal(state.deliverables.d0.version, 1001);
    assert.equal(Object.keys(state.deliverables).length, 50);
    assert.ok(JSON.stringify(state).length <= before + 16, `state grew from ${before} to ${JSON.stringify(state).length}`);
  });
});

describe('deliveries at the default post rate', () => {
  test('a burst of deliveries is rate-limited', async () => {
    const server = await startServer({});
    const eng = uniqueEng('dlv-rate');
    const ch = `eng:${eng}`;
    const tok = parties(eng, 'dlv-rate');
    const client = await connectAs(server, tok.client);
    const expert = await connectAs(server, tok.expert);
    await activate(client, expert, ch);
    const file = await upload(server, tok.expert, eng, 'r.pdf');
    // Over HTTP, so that the burst answers 429 instead of closing a socket that keeps abusing.
    // In batches under the per-address connection cap.
    const replies = [];
    for (let i = 0; i < 4; i++) {
      replies.push(...await Promise.all(Array.from({ length: 30 },
        () => httpPost(server, tok.expert, ch, 'delivery', { deliverable: 'r', text: 't', files: [file] }))));
    }
    const limited = replies.filter((r) => r.status === 429).length;
    assert.ok(limited > 0, 'some were rate-limited');
    const other = replies.filter((r) => r.status !== 201 && r.status !== 429);
    assert.deepEqual(other.map((r) => `${r.status} ${r.text}`), []);
    const state = await httpState(server, support, eng);
    assert.equal(state.deliverables.r.version, replies.filter((r) => r.status === 201).length);
  });
});

describe('the review window', { concurrency: true }, () => {
  let server;
  let ready;
  const boot = () => (ready ??= startServer({ args: QUICK }).then((s) => { server = s; }));

  test('a delivery left unanswered is warned of once, then accepted automatically once', async () => {
    await boot();
    const { eng, ch, client, deliver } = await setUp(server, 'dlv-auto');
    const d = await deliver('report');
    const pushed = await client.waitFor((m) => m.ev === 'state' && m.eng === eng && m.state.deliverables?.report?.seq === d.seq);
    const due = pushed.state.deliverables.report.review_due;
    assert.ok(due >= d.ts + WINDOW_MS - 1000 && due <= d.ts + WINDOW_MS, `review_due ${due} for a delivery at ${d.ts}`);

    const warning = await client.waitFor((m) => m.ev === 'event' && m.kind === 'review_due_soon', POSTED_WITHIN_MS);
    assert.deepEqual(warning.body, { delivery: d.seq, deliverable: 'report', version: 1, review_due: due });
    assert.equal(warning.from.role, 'system');
    const decision = await client.waitFor((m) => m.ev === 'event' && m.kind === 'decision' && m.body.auto === true, POSTED_WITHIN_MS);
    assert.ok(decision.ts >= due, `accepted at ${decision.ts}, due ${due}`);
    assert.equal(decision.from.role, 'system');
    assert.equal(decision.body.proposal, d.seq);
    const state = await client.waitFor((m) => m.ev === 'state' && m.eng === eng && m.state.deliverables?.report?.status === 'accepted');
    assert.equal(state.state.deliverables.report.review_due, null);

    await sleep(SETTLE_MS);
    const events = await httpAllEvents(server, support, ch);
    assert.equal(warnings(events).length, 1);
    assert.equal(autoDecisions(events).length, 1);
    const records = (await httpDecisions(server, support, eng)).filter((r) => r.topic === 'delivery');
    assert.equal(records.length, 1);
    assert.deepEqual(records[0].accepted_by, ['system']);
    assert.equal(records[0].decision_seq, decision.seq);
  });

  test('a final delivery accepted automatically in completion closes the engagement', async () => {
    await boot();
    const { eng, ch, deliver } = await setUp(server, 'dlv-autoclose', { completion: true });
    const d = await deliver('report', { final: true });
    const state = await pollUntil(async () => {
      const s = await httpState(server, support, eng);
      return s.phase === 'closed' ? s : undefined;
    }, POSTED_WITHIN_MS, 'the close');
    assert.equal(state.deliverables.report.status, 'accepted');
    const events = await httpAllEvents(server, support, ch);
    const decision = autoDecisions(events)[0];
    assert.equal(decision.body.proposal, d.seq);
    assert.equal(events.find((e) => e.kind === 'phase' && e.body.to === 'closed').seq, decision.seq + 1);
  });

  test('an open dispute pauses it; after the resolution the delivery is due 24 h later', async () => {
    await boot();
    const { eng, ch, client, expert, deliver } = await setUp(server, 'dlv-dispute');
    const flag = expectOk(await client.post(ch, 'flag', { type: 'dispute', text: 'Not what we agreed' }));
    const d = await deliver('report');
    await sleep(WINDOW_MS + SETTLE_MS);
    let events = await httpAllEvents(server, support, ch);
    assert.equal(autoDecisions(events).length, 0, 'no automatic acceptance while the dispute is open');
    assert.equal(warnings(events).length, 0);
    assert.equal((await httpState(server, support, eng)).deliverables.report.status, 'submitted');

    const med = `eng:${eng}:mediation`;
    const sup = await connectAs(server, support);
    const res = expectOk(await sup.post(med, 'proposal', { topic: 'resolution', text: 'Go on', terms: { flag: flag.seq } }));
    await accept(client, med, res.seq, 'client accepts the resolution');
    const done = await accept(expert, med, res.seq, 'expert accepts the resolution');
    const state = await httpState(server, support, eng);
    assert.equal(state.deliverables.report.review_due, done.ts + DAY);
    assert.equal(state.deliverables.report.status, 'submitted');
    await sleep(SETTLE_MS);
    events = await httpAllEvents(server, support, ch);
    assert.equal(autoDecisions(events).length, 0);
    assert.equal((await httpState(server, support, eng)).deliverables.report.seq, d.seq);
  });
});

describe('automatic acceptance across a restart', () => {
  test('stopped before the window ends, started after: exactly one automatic decision, at once', async () => {
    let server = await startServer({ args: QUICK });
    const { eng, ch, client, expert, deliver } = await setUp(server, 'dlv-restart');
    const d = await deliver('report');
    await client.close();
    await expert.close();
    assert.equal(await server.stop(), 0);
    await sleep(WINDOW_MS + 500);

    server = await server.restart();
    // No member and no request: the watcher finds it by itself.
    const decided = await pollUntil(async () => {
      const found = autoDecisions(await httpAllEvents(server, support, ch));
      return found.length > 0 ? found : undefined;
    }, POSTED_WITHIN_MS, 'the automatic acceptance after a restart');
    assert.equal(decided[0].body.proposal, d.seq);

    server = await server.restart();
    await sleep(SETTLE_MS);
    assert.equal(autoDecisions(await httpAllEvents(server, support, ch)).length, 1);
    const records = (await httpDecisions(server, support, eng)).filter((r) => r.topic === 'delivery');
    assert.equal(records.length, 1);
    assert.deepEqual(records[0].accepted_by, ['system']);
  });
});

describe('two instances on one Redis', { skip: ENGINE === 'redis' ? false : 'cluster mode needs the redis engine' }, () => {
  test('both watch the same deliveries: exactly one automatic decision and one record each', async () => {
    const redis = await redisFor(makeTempDir('parley-dlv-cluster-'));
    const a = await startServer({ redis, args: QUICK });
    const b = await startServer({ redis, args: QUICK });
    const eng = uniqueEng('dlv-cluster');
    const ch = `eng:${eng}`;
    const tok = parties(eng, 'dlv-cluster');
    // The posts go to one instance (a post checked on the other could run ahead
    // of its view of the engagement); the other holds the engagement joined, so
    // both watchers watch it.
    const onA = await connectAs(a, tok.client);
    const expertOnA = await connectAs(a, tok.expert);
    const onB = await connectAs(b, tok.expert);
    expectOk(await onA.join(ch));
    expectOk(await onB.join(ch));
    await activate(onA, expertOnA, ch);
    const file = await upload(a, tok.expert, eng, 'c.pdf');
    const seqs = [];
    for (const key of ['report', 'slides', 'model']) {
      seqs.push(expectOk(await expertOnA.post(ch, 'delivery', { deliverable: key, text: key, files: [file] })).seq);
    }
    await onB.waitFor((m) => m.ev === 'event' && m.seq === seqs[2]);
    await pollUntil(async () => autoDecisions(await httpAllEvents(a, support, ch)).length >= 3 || undefined,
      POSTED_WITHIN_MS, 'three automatic acceptances');
    await sleep(SETTLE_MS);
    const events = await httpAllEvents(b, support, ch);
    assert.deepEqual(autoDecisions(events).map((e) => e.body.proposal).sort((x, y) => x - y), seqs);
    // At most one warning each (a delivery already overdue when first seen is accepted without one).
    const warned = warnings(events).map((e) => e.body.delivery);
    assert.equal(new Set(warned).size, warned.length);
    const records = (await httpDecisions(a, support, eng)).filter((r) => r.topic === 'delivery');
    assert.deepEqual(records.map((r) => r.proposal_seq).sort((x, y) => x - y), seqs);
  });
});
