// Double-blind ratings and reviews (protocol §9.7): each party reviews once
// after closing; the event carries only {sealed, commitment} over WebSocket
// and in history; GET …/reviews shows each reader what it may see; the reveal
// (when both are in, or when the period ends, also across a restart and with
// two instances on one Redis) is one `reviews` event and one record whose
// commitments anyone can check.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';

import {
  ENGINE, cleanup, connectAs, httpFor, makeTempDir, redisFor, sleep, startServer, uniqueEng, userToken,
} from './harness.mjs';
import {
  assertChain, canonicalJson, expectOk, expectRefused, httpAllEvents, httpDecisions, httpState, pollUntil,
} from './engagement_helpers.mjs';

const FAST = ['--post-rate', '100000', '--post-burst', '100000'];
// Generous upper bound for a reveal to be posted once due (slow machines).
const POSTED_WITHIN_MS = 20000;
// How long past a reveal the tests watch for a second, wrong, one.
const SETTLE_MS = 2000;

after(cleanup);

const support = userToken('rv-support', 'support', ['*']);

function people(eng, prefix) {
  return {
    client: userToken(`${prefix}-client`, 'client', [eng]),
    expert: userToken(`${prefix}-expert`, 'expert', [eng]),
    bot: userToken(`${prefix}-bot`, 'bot', [eng]),
  };
}

const review = (text, q = 5, c = 4, t = 3) => ({ ratings: { quality: q, communication: c, timeliness: t }, text });
const reveals = (events) => events.filter((e) => e.kind === 'reviews');
const commitmentOf = ({ ratings, text, salt }) =>
  createHash('sha256').update(canonicalJson({ ratings, text, salt }), 'utf8').digest('hex');

// Takes a first-use engagement from discovery to closed by phase proposals.
async function close(client, expert, ch) {
  const step = async (proposer, decider, topic, terms) => {
    const p = expectOk(await proposer.post(ch, 'proposal', { topic, text: `${topic} please`, terms }), `propose ${topic}`);
    expectOk(await decider.post(ch, 'decision', { proposal: p.seq, verdict: 'accepted' }), `accept ${topic}`);
  };
  await step(expert, client, 'phase', { to: 'agreement' });
  await step(client, expert, 'agreement', { scope: 'Pricing study' });
  await step(expert, client, 'phase', { to: 'active' });
  await step(expert, client, 'phase', { to: 'completion' });
  await step(expert, client, 'phase', { to: 'closed' });
}

async function getReviews(server, tok, eng) {
  const r = await httpFor(server)('GET', `/api/v1/engagements/${eng}/reviews`, { token: tok });
  assert.equal(r.status, 200, `GET reviews: ${r.status} ${r.text}`);
  return r.json;
}

// The reveal's event and record agree, and every commitment verifies against
// the sealed event it belongs to.
async function assertRevealed(server, eng, { count }) {
  const ch = `eng:${eng}`;
  const events = await httpAllEvents(server, support, ch);
  const revealed = reveals(events);
  assert.equal(revealed.length, 1, 'exactly one reveal');
  const list = revealed[0].body.reviews;
  assert.equal(list.length, count);
  assert.equal(revealed[0].from.role, 'system');
  for (const r of list) {
    const sealed = events.find((e) => e.seq === r.seq);
    assert.equal(sealed.kind, 'review');
    assert.equal(sealed.from.id, r.by);
    assert.match(r.salt, /^[0-9a-f]{32}$/);
    assert.equal(commitmentOf(r), sealed.body.commitment, `the commitment of ${r.seq} verifies`);
  }
  const records = await httpDecisions(server, support, eng);
  assertChain(records);
  const reviewRecords = records.filter((r) => r.topic === 'reviews');
  assert.equal(reviewRecords.length, 1, 'exactly one reviews record');
  assert.deepEqual(reviewRecords[0].terms, list);
  assert.deepEqual(reviewRecords[0].accepted_by, ['system']);
  assert.equal(reviewRecords[0].decision_seq, revealed[0].seq);
  return list;
}

describe('reviews on one server', { concurrency: true }, () => {
  let server;
  let ready;
  const boot = () => (ready ??= startServer({ args: FAST }).then((s) => { server = s; }));

  test('both review: sealed events, per-reader visibility, then one reveal whose commitments verify', async () => {
    await boot();
    const eng = uniqueEng('rv-both');
    const ch = `eng:${eng}`;
    const tok = people(eng, 'rv-both');
    const client = await connectAs(server, tok.client);
    const expert = await connectAs(server, tok.expert);
    const bot = await connectAs(server, tok.bot);
    expectOk(await bot.join(ch));

    expectRefused(await client.post(ch, 'review', review('Before the end already.')), 'conflict', 'review before closed');
    let state = await httpState(server, tok.client, eng);
    assert.equal(state.reviews, undefined, 'no reviews before closed');
    assert.ok(!state.can.includes('review'));

    await close(client, expert, ch);
    state = await httpState(server, tok.client, eng);
    assert.equal(state.reviews.revealed, false);
    assert.deepEqual(state.reviews.submitted_by, []);
    assert.ok(state.reviews.due >= state.phase_since + 14 * 24 * 3600 * 1000 - 1);
    assert.ok(state.can.includes('review'));
    assert.ok(!(await httpState(server, support, eng)).can.includes('review'));

    const mine = expectOk(await client.post(ch, 'review', review('Clear, careful and on time.')), 'client review');
    const pushed = await bot.waitFor((m) => m.ev === 'event' && m.ch === ch && m.seq === mine.seq);
    assert.deepEqual(Object.keys(pushed.body).sort(), ['commitment', 'sealed']);
    assert.equal(pushed.body.sealed, true);
    assert.match(pushed.body.commitment, /^[0-9a-f]{64}$/);
    expectRefused(await client.post(ch, 'review', review('A second opinion of mine.')), 'conflict', 'second review');
    state = await httpState(server, tok.expert, eng);
    assert.deepEqual(state.reviews.submitted_by, [`rv-both-client`]);
    assert.ok(!(await httpState(server, tok.client, eng)).can.includes('review'));

    // Before the reveal: the author sees its own, the other party only a seal,
    // support everything, another member nothing.
    let view = await getReviews(server, tok.client, eng);
    assert.equal(view.revealed, false);
    assert.equal(view.reviews.length, 1);
    assert.equal(view.reviews[0].text, 'Clear, careful and on time.');
    assert.equal(commitmentOf(view.reviews[0]), pushed.body.commitment);
    view = await getReviews(server, tok.expert, eng);
    assert.equal(view.reviews.length, 1);
    assert.equal(view.reviews[0].text, undefined);
    assert.equal(view.reviews[0].sealed, true);
    assert.equal((await getReviews(server, tok.bot, eng)).reviews.length, 0);
    assert.equal((await getReviews(server, support, eng)).reviews[0].text, 'Clear, careful and on time.');

    const theirs = expectOk(await expert.post(ch, 'review', review('Precise requirements, quick answers.', 4, 5, 5)));
    view = await getReviews(server, support, eng);
    if (!view.revealed) {
      assert.equal(view.reviews.length, 2);
      assert.ok(view.reviews.every((r) => typeof r.text === 'string'), 'support reads both before the reveal');
    }

    const ev = await bot.waitFor((m) => m.ev === 'event' && m.ch === ch && m.kind === 'reviews', POSTED_WITHIN_MS);
    assert.ok(ev.seq > theirs.seq);
    assert.ok(ev.body.record && ev.body.record.hash, 'the reveal carries its record');
    await sleep(SETTLE_MS);
    const list = await assertRevealed(server, eng, { count: 2 });
    assert.deepEqual(list.map((r) => [r.by, r.role, r.seq]),
      [['rv-both-client', 'client', mine.seq], ['rv-both-expert', 'expert', theirs.seq]]);
    assert.deepEqual(list[1].ratings, { quality: 4, communication: 5, timeliness: 5 });

    // History holds the sealed events as they were delivered.
    const history = expectOk(await bot.history(ch, { after: mine.seq - 1, limit: 1 }));
    assert.deepEqual(history.events[0].body, pushed.body);
    // Revealed: everyone in the engagement reads both.
    for (const t of [tok.bot, tok.client, tok.expert, support]) {
      const all = await getReviews(server, t, eng);
      assert.equal(all.revealed, true);
      assert.deepEqual(all.reviews, list);
    }
    state = await httpState(server, tok.client, eng);
    assert.equal(state.reviews.revealed, true);
    assert.ok(!state.can.includes('review'));
    expectRefused(await bot.post(ch, 'review', review('A bot has opinions too.')), 'forbidden', 'bot review');
  });

  test('support, bots and strangers cannot review; bad bodies are bad_request and store nothing', async () => {
    await boot();
    const eng = uniqueEng('rv-rules');
    const ch = `eng:${eng}`;
    const tok = people(eng, 'rv-rules');
    const client = await connectAs(server, tok.client);
    const expert = await connectAs(server, tok.expert);
    await close(client, expert, ch);
    const head = async () => (await httpAllEvents(server, support, ch)).length;
    const before = await head();
    expectRefused(await (await connectAs(server, support)).post(ch, 'review', review('Support may not.')), 'forbidden');
    expectRefused(await (await connectAs(server, tok.bot)).post(ch, 'review', review('Bots may not.')), 'forbidden');
    const stranger = await connectAs(server, userToken('rv-stranger', 'client', ['elsewhere']));
    expectRefused(await stranger.post(ch, 'review', review('Not my engagement.')), 'forbidden');
    for (const body of [
      review('short'),
      review('x'.repeat(4001)),
      review('Zero stars is no rating.', 0),
      review('Six stars is no rating.', 6),
      { ratings: { quality: 4.5, communication: 3, timeliness: 3 }, text: 'Half stars are not ratings.' },
      { ratings: { quality: 4, communication: 3, timeliness: 3, price: 1 }, text: 'Unknown rating keys.' },
      { ratings: { quality: 4, communication: 3 }, text: 'A rating is missing.' },
      { ...review('The seal is the server business.'), salt: '00'.repeat(16) },
    ]) {
      expectRefused(await client.post(ch, 'review', body), 'bad_request', JSON.stringify(body).slice(0, 80));
    }
    expectRefused(await client.post(ch, 'reviews', { reviews: [] }), 'bad_request', 'posting the reveal');
    assert.equal(await head(), before, 'nothing stored');
  });
});

describe('the reveal at the end of the period', () => {
  test('one review in, the period (3s) ends: one reveal with it; later reviews are conflict', async () => {
    const server = await startServer({ args: [...FAST, '--review-period', '3s'] });
    const eng = uniqueEng('rv-period');
    const ch = `eng:${eng}`;
    const tok = people(eng, 'rv-period');
    const client = await connectAs(server, tok.client);
    const expert = await connectAs(server, tok.expert);
    expectOk(await expert.join(ch));
    await close(client, expert, ch);
    const mine = expectOk(await client.post(ch, 'review', review('Clear, careful and on time.')));
    const ev = await expert.waitFor((m) => m.ev === 'event' && m.ch === ch && m.kind === 'reviews', POSTED_WITHIN_MS);
    const closedAt = (await httpState(server, support, eng)).phase_since;
    assert.ok(ev.ts >= closedAt + 3000, 'not before the period ends');
    expectRefused(await expert.post(ch, 'review', review('Too late for this one.')), 'conflict', 'review after the period');
    await sleep(SETTLE_MS);
    const list = await assertRevealed(server, eng, { count: 1 });
    assert.equal(list[0].seq, mine.seq);
  });

  test('no review at all: the period ends with an empty reveal, so the state says revealed', async () => {
    const server = await startServer({ args: [...FAST, '--review-period', '3s'] });
    const eng = uniqueEng('rv-none');
    const ch = `eng:${eng}`;
    const tok = people(eng, 'rv-none');
    const client = await connectAs(server, tok.client);
    const expert = await connectAs(server, tok.expert);
    await close(client, expert, ch);
    await pollUntil(async () => reveals(await httpAllEvents(server, support, ch)).length > 0, POSTED_WITHIN_MS, 'the reveal');
    await assertRevealed(server, eng, { count: 0 });
    assert.equal((await httpState(server, tok.client, eng)).reviews.revealed, true);
  });

  test('stopped within the period, started after it: exactly one reveal, posted at once', async () => {
    let server = await startServer({ args: [...FAST, '--review-period', '5s'] });
    const eng = uniqueEng('rv-restart');
    const ch = `eng:${eng}`;
    const tok = people(eng, 'rv-restart');
    const client = await connectAs(server, tok.client);
    const expert = await connectAs(server, tok.expert);
    await close(client, expert, ch);
    expectOk(await expert.post(ch, 'review', review('Precise requirements, quick answers.')));
    const closedAt = (await httpState(server, support, eng)).phase_since;
    await client.close();
    await expert.close();
    assert.equal(await server.stop(), 0);
    assert.equal(reveals([]).length, 0);
    await sleep(Math.max(0, closedAt + 5000 - Date.now()) + 500);

    server = await server.restart();
    await pollUntil(async () => reveals(await httpAllEvents(server, support, ch)).length > 0, POSTED_WITHIN_MS,
      'the reveal after a restart');
    server = await server.restart();
    await sleep(SETTLE_MS);
    await assertRevealed(server, eng, { count: 1 });
  });
});

describe('two instances on one Redis', { skip: ENGINE === 'redis' ? false : 'cluster mode needs the redis engine' }, () => {
  test('both hold the engagement: exactly one reveal, after both reviews and at the period end', async () => {
    const redis = await redisFor(makeTempDir('parley-rv-cluster-'));
    const a = await startServer({ redis, args: [...FAST, '--review-period', '6s'] });
    const b = await startServer({ redis, args: [...FAST, '--review-period', '6s'] });
    for (const [prefix, both] of [['rv-cl-both', true], ['rv-cl-one', false]]) {
      const eng = uniqueEng(prefix);
      const ch = `eng:${eng}`;
      const tok = people(eng, prefix);
      const onA = await connectAs(a, tok.client);
      const onB = await connectAs(b, tok.expert);
      expectOk(await onA.join(ch));
      expectOk(await onB.join(ch));
      // Closed through one instance: a decision posted on the other at once
      // may reach it before the proposal's event does.
      await close(onA, await connectAs(a, tok.expert), ch);
      await onB.waitFor((m) => m.ev === 'state' && m.eng === eng && m.state.phase === 'closed');
      // Both reviews at once, one per instance: each instance's hub asks for the reveal.
      const posts = [onA.post(ch, 'review', review('Clear, careful and on time.'))];
      if (both) posts.push(onB.post(ch, 'review', review('Precise requirements, quick answers.')));
      for (const r of await Promise.all(posts)) expectOk(r);
      await onA.waitFor((m) => m.ev === 'event' && m.ch === ch && m.kind === 'reviews', POSTED_WITHIN_MS);
      await onB.waitFor((m) => m.ev === 'event' && m.ch === ch && m.kind === 'reviews', POSTED_WITHIN_MS);
      await sleep(SETTLE_MS);
      await assertRevealed(b, eng, { count: both ? 2 : 1 });
    }
  });
});

describe('abuse', () => {
  test('a review of a megabyte is bad_request and stores nothing; 10 000 GET reviews are rate-limited', async () => {
    // Bodies and frames large enough that the review itself is judged.
    const server = await startServer({ args: [...FAST, '--max-body', '4194304', '--max-frame', '4194304'] });
    const eng = uniqueEng('rv-abuse');
    const ch = `eng:${eng}`;
    const tok = people(eng, 'rv-abuse');
    const client = await connectAs(server, tok.client);
    const expert = await connectAs(server, tok.expert);
    await close(client, expert, ch);
    const before = (await httpAllEvents(server, support, ch)).length;
    expectRefused(await client.post(ch, 'review', review('x'.repeat(1 << 20))), 'bad_request', 'a megabyte over WebSocket');
    const http = httpFor(server);
    const viaHttp = await http('POST', `/api/v1/channels/${encodeURIComponent(ch)}/events`,
      { token: tok.client, body: { kind: 'review', body: review('y'.repeat(1 << 20)) } });
    assert.equal(viaHttp.status, 400, viaHttp.text);
    assert.equal((await httpAllEvents(server, support, ch)).length, before);
    assert.deepEqual((await httpState(server, tok.client, eng)).reviews.submitted_by, []);

    // Batches below the 64 unauthenticated sockets an address may hold (§9.10).
    const statuses = new Map();
    for (let sent = 0; sent < 10000; sent += 40) {
      const batch = await Promise.all(Array.from({ length: 40 },
        () => http('GET', `/api/v1/engagements/${eng}/reviews`, { token: tok.expert })));
      for (const r of batch) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    }
    assert.ok((statuses.get(429) ?? 0) > 0, `some were refused: ${JSON.stringify([...statuses])}`);
    assert.deepEqual([...statuses.keys()].sort(), [200, 429]);
    // Another user is not slowed down by it.
    assert.equal((await getReviews(server, tok.client, eng)).revealed, false);
  });
});
