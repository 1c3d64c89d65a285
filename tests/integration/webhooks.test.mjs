// Webhooks to the platform (protocol §9.8), against a receiver process that
// records what arrives and fails as told: every hook signed with the shared
// secret; exactly one accepted delivery per id despite 500s and a kill -9 of
// the server in between; order per engagement; `failed` after the retry
// budget and re-queued by the retry route; the list route's paging and
// access; metrics; `parley webhook-verify`; a receiver that never answers
// holds no more than the concurrency; an engagement's close as one signed
// `engagement.completed`; and, on Redis, two instances of which exactly one
// sends each hook and the survivor takes over after a kill -9.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import {
  ENGINE, PARLEY_BIN, cleanup, connectAs, httpRequest, makeTempDir, metricValue, redisFor, scrapeMetrics, sleep, startServer, uniqueEng,
  userToken,
} from './harness.mjs';
import { expectOk, pollUntil } from './engagement_helpers.mjs';
import { startReceiver } from './webhook_receiver.mjs';

const FAST = ['--post-rate', '100000', '--post-burst', '100000', '--http-rate', '100000', '--http-burst', '100000'];
// Generous bounds for what the sender does on its own (slow machines).
const ARRIVES_WITHIN_MS = 30000;
// How long the tests watch for a second, wrong, delivery.
const SETTLE_MS = 2000;

const WEBHOOK_SECRET = `whsec-${randomBytes(16).toString('hex')}`;
const service = userToken('wh-service', 'service', ['*']);
const support = userToken('wh-support', 'support', ['*']);

const receivers = [];
after(async () => {
  await Promise.all(receivers.map((r) => r.kill()));
  await cleanup();
});

function secretFile() {
  const file = path.join(makeTempDir('parley-whsecret-'), 'webhook-secret');
  fs.writeFileSync(file, `${WEBHOOK_SECRET}\n`, { mode: 0o600 });
  return file;
}

async function receiver() {
  const r = await startReceiver();
  receivers.push(r);
  return r;
}

function hookArgs(rx, more = []) {
  return [...FAST, '--webhook-url', rx.url, '--webhook-secret-file', secretFile(), ...more];
}

// The receiver's side of the check, as the README shows it: HMAC over "t.body", constant-time compare, tolerance.
function signatureValid(req, secret = WEBHOOK_SECRET, toleranceS = 300) {
  const header = req.headers['parley-signature'] ?? '';
  const items = header.split(',').map((kv) => kv.split('='));
  const t = items.find(([k]) => k === 't')?.[1];
  if (!t || Math.abs(Date.now() / 1000 - Number(t)) > toleranceS) return false;
  const want = createHmac('sha256', secret).update(`${t}.`).update(req.body).digest();
  return items.filter(([k]) => k === 'v1').some(([, v]) => {
    const got = Buffer.from(v, 'hex');
    return got.length === want.length && timingSafeEqual(got, want);
  });
}

const bodyOf = (req) => JSON.parse(req.body.toString('utf8'));

async function engagement(server, prefix) {
  const eng = uniqueEng(prefix);
  const ch = `eng:${eng}`;
  const client = await connectAs(server, userToken(`${prefix}-client`, 'client', [eng]));
  const expert = await connectAs(server, userToken(`${prefix}-expert`, 'expert', [eng]));
  expectOk(await client.join(ch));
  expectOk(await expert.join(ch));
  return { eng, ch, client, expert };
}

// Raises `n` flags in the engagement: each one a `flag.raised` hook. Resolves to their seqs.
async function raiseFlags(e, n, prefix = 'risk') {
  const seqs = [];
  for (let i = 0; i < n; i++) seqs.push(expectOk(await e.client.post(e.ch, 'flag', { type: 'risk', text: `${prefix} ${i}` })).seq);
  return seqs;
}

async function flagHooks(rx, eng, { accepted = true } = {}) {
  const list = accepted ? await rx.accepted() : await rx.requests();
  return list.filter((r) => { const b = bodyOf(r); return b.eng === eng && b.type === 'flag.raised'; });
}

async function waitForAccepted(rx, eng, count, what) {
  return pollUntil(async () => {
    const got = await flagHooks(rx, eng);
    return got.length >= count ? got : undefined;
  }, ARRIVES_WITHIN_MS, what);
}

function countsById(requests) {
  const counts = new Map();
  for (const r of requests) counts.set(r.headers['parley-event-id'], (counts.get(r.headers['parley-event-id']) ?? 0) + 1);
  return counts;
}

function runVerify(args, input) {
  return new Promise((resolve, reject) => {
    const proc = spawn(PARLEY_BIN, ['webhook-verify', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d) => { out += d; });
    proc.stderr.on('data', (d) => { err += d; });
    proc.on('error', reject);
    proc.on('exit', (code) => resolve({ code, out, err }));
    // A usage error exits before reading its input: the pipe may close first.
    proc.stdin.on('error', () => {});
    proc.stdin.end(input);
  });
}

describe('webhooks from one server', () => {
  test('every hook is signed with the shared secret and carries its id, type and engagement', async () => {
    const rx = await receiver();
    const server = await startServer({ args: hookArgs(rx) });
    const e = await engagement(server, 'wh-sig');
    const [seq] = await raiseFlags(e, 1);
    const [hook] = await waitForAccepted(rx, e.eng, 1, 'the flag hook');
    const body = bodyOf(hook);
    assert.deepEqual(Object.keys(body).sort(), ['data', 'eng', 'id', 'ts', 'type']);
    assert.equal(hook.headers['parley-event-id'], body.id);
    assert.equal(hook.headers['content-type'], 'application/json');
    assert.match(hook.headers['user-agent'], /^Parley\/\d/);
    assert.equal(hook.method, 'POST');
    assert.equal(hook.path, '/hooks');
    assert.equal(body.data.seq, seq);
    assert.ok(signatureValid(hook), `signature ${hook.headers['parley-signature']}`);
    assert.ok(!signatureValid(hook, 'another secret'));
    assert.ok(!signatureValid({ ...hook, body: Buffer.concat([hook.body, Buffer.from(' ')]) }), 'a changed body fails');

    // The helper a receiver can run: the recorded request passes, a tampered one does not.
    const file = secretFile();
    const ok = await runVerify(['--secret-file', file], hook.raw);
    assert.equal(ok.code, 0, ok.err);
    assert.equal(ok.out.trim(), `ok ${body.id}`);
    const tampered = Buffer.from(hook.raw.toString('latin1').replace(`"seq":${seq}`, `"seq":${seq + 1000}`), 'latin1');
    assert.notDeepEqual(tampered, hook.raw);
    const refused = await runVerify(['--secret-file', file], tampered);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /does not match/);
    const stale = await runVerify(['--secret-file', file, '--tolerance', '0'], hook.raw);
    // A tolerance of 0 s refuses any request signed in an earlier second.
    if (stale.code !== 0) assert.match(stale.err, /tolerance/);
    const usage = await runVerify([], hook.raw);
    assert.equal(usage.code, 2);
  });

  test('three 500s and a kill -9 in between: each hook accepted exactly once, in order per engagement', async () => {
    const rx = await receiver();
    let server = await startServer({ args: hookArgs(rx) });
    const e = await engagement(server, 'wh-crash');
    const other = await engagement(server, 'wh-crash2');
    await rx.fail({ count: 3, mode: 'status', status: 500 });
    const seqs = await raiseFlags(e, 3);
    // Three refusals of the first hook; the next try is at least 2 s later (1 s doubling, halved by the jitter at most).
    await pollUntil(async () => (await flagHooks(rx, e.eng, { accepted: false })).length >= 3 || undefined, ARRIVES_WITHIN_MS,
      'three refused attempts');
    await server.kill();
    server = await server.restart();
    const e2 = { ...other, client: await connectAs(server, userToken('wh-crash2-client', 'client', [other.eng])) };
    expectOk(await e2.client.join(other.ch));
    const otherSeqs = await raiseFlags(e2, 2);

    const accepted = await waitForAccepted(rx, e.eng, 3, 'every hook of the engagement');
    await waitForAccepted(rx, other.eng, 2, 'the other engagement');
    await sleep(SETTLE_MS);
    const all = await flagHooks(rx, e.eng);
    for (const [id, n] of countsById(all)) assert.equal(n, 1, `hook ${id} accepted ${n} times`);
    assert.deepEqual(all.map((r) => bodyOf(r).data.seq), seqs, 'accepted in the order they were made');
    assert.equal(accepted[0].headers['parley-event-id'], (await flagHooks(rx, e.eng, { accepted: false }))[0].headers['parley-event-id'],
      'the refused hook was sent again with the same id');
    assert.deepEqual((await flagHooks(rx, other.eng)).map((r) => bodyOf(r).data.seq), otherSeqs);
    for (const r of all) assert.ok(signatureValid(r));
  });

  test('a hook is failed after the retry budget, listed, re-queued by the retry route and then delivered', async () => {
    const rx = await receiver();
    const server = await startServer({ args: hookArgs(rx, ['--webhook-retry-for', '3s']) });
    const e = await engagement(server, 'wh-fail');
    await rx.fail({ count: -1, mode: 'status', status: 503 });
    await raiseFlags(e, 1);
    // Every hook of the engagement fails: the first in its queue after several
    // attempts; those behind it, whose budget ran out while they waited, after one.
    const failedOf = async () => {
      const r = await httpRequest(server, 'GET', '/api/v1/webhooks?state=failed', { token: support });
      assert.equal(r.status, 200, r.text);
      return r.json.webhooks.filter((w) => w.eng === e.eng);
    };
    const failed = await pollUntil(async () => (await failedOf()).find((w) => w.type === 'flag.raised'),
      ARRIVES_WITHIN_MS, 'the hook failed');
    assert.equal(failed.state, 'failed');
    assert.equal(failed.last_error, 'HTTP 503');
    const all = await failedOf();
    assert.ok(Math.max(...all.map((w) => w.attempts)) >= 2, JSON.stringify(all));
    const tried = (await flagHooks(rx, e.eng, { accepted: false })).length;
    assert.ok(tried >= 1 && tried === failed.attempts, `${tried} requests for ${failed.attempts} attempts`);

    // A later hook of the engagement is not held back by a failed one.
    await rx.fail({ count: 0 });
    await raiseFlags(e, 1, 'later');
    await waitForAccepted(rx, e.eng, 1, 'the later hook');

    const retried = await httpRequest(server, 'POST', `/api/v1/webhooks/${failed.id}/retry`, { token: service });
    assert.equal(retried.status, 200, retried.text);
    assert.equal(retried.json.id, failed.id);
    assert.equal(retried.json.state, 'pending');
    assert.equal(retried.json.attempts, 0);
    const delivered = await pollUntil(async () => (await rx.accepted()).find((r) => r.headers['parley-event-id'] === failed.id) ?? undefined,
      ARRIVES_WITHIN_MS, 'the re-queued hook');
    assert.ok(signatureValid(delivered));
    const stillFailed = await httpRequest(server, 'GET', '/api/v1/webhooks?state=failed', { token: service });
    assert.ok(!stillFailed.json.webhooks.some((w) => w.id === failed.id));
    // Only a failed hook can be re-queued; an unknown one is not found.
    const again = await httpRequest(server, 'POST', `/api/v1/webhooks/${failed.id}/retry`, { token: service });
    assert.equal(again.status, 409, again.text);
    const unknown = await httpRequest(server, 'POST', '/api/v1/webhooks/wh_00000000000000000000000000000000/retry', { token: service });
    assert.equal(unknown.status, 404, unknown.text);
    const wrongMethod = await httpRequest(server, 'GET', `/api/v1/webhooks/${failed.id}/retry`, { token: service });
    assert.equal(wrongMethod.status, 400);
  });

  test('the pending list pages with after and limit, for service and support only', async () => {
    const rx = await receiver();
    const server = await startServer({ args: hookArgs(rx) });
    await rx.fail({ count: -1, mode: 'status', status: 500 });
    const made = [];
    for (let i = 0; i < 3; i++) {
      const e = await engagement(server, `wh-page${i}`);
      await raiseFlags(e, 2);
      made.push(e.eng);
    }
    const seen = [];
    let after = '';
    for (let page = 0; page < 20; page++) {
      const r = await httpRequest(server, 'GET', `/api/v1/webhooks?state=pending&limit=2${after ? `&after=${after}` : ''}`, { token: service });
      assert.equal(r.status, 200, r.text);
      assert.ok(r.json.webhooks.length <= 2);
      for (const w of r.json.webhooks) {
        assert.equal(w.state, 'pending');
        assert.deepEqual(Object.keys(w).sort(),
          ['attempts', 'delivered_at', 'eng', 'id', 'last_error', 'next_at', 'state', 'ts', 'type']);
      }
      seen.push(...r.json.webhooks);
      if (r.json.next === null) break;
      after = r.json.next;
    }
    for (const eng of made) assert.equal(seen.filter((w) => w.eng === eng && w.type === 'flag.raised').length, 2, eng);
    assert.equal(new Set(seen.map((w) => w.id)).size, seen.length, 'no entry on two pages');

    const client = userToken('wh-page0-client', 'client', [made[0]]);
    for (const [tok, status] of [[client, 403], [userToken('wh-page0-expert', 'expert', [made[0]]), 403], [undefined, 401]]) {
      const r = await httpRequest(server, 'GET', '/api/v1/webhooks?state=pending', { token: tok });
      assert.equal(r.status, status, r.text);
      const retry = await httpRequest(server, 'POST', `/api/v1/webhooks/${seen[0].id}/retry`, { token: tok });
      assert.equal(retry.status, status, retry.text);
    }
    for (const q of ['', '?state=delivered', '?state=bogus', '?state=pending&limit=0', '?state=pending&limit=201',
      '?state=pending&after=%20x']) {
      const r = await httpRequest(server, 'GET', `/api/v1/webhooks${q}`, { token: service });
      assert.equal(r.status, 400, `${q}: ${r.text}`);
    }

    // The sender refreshes the outbox's figures about once a second.
    const text = await pollUntil(async () => {
      const t = await scrapeMetrics(server);
      return metricValue(t, 'parley_webhook_queue_depth') >= 6 && metricValue(t, 'parley_webhook_deliveries_total{result="retry"}') >= 1
        ? t : undefined;
    }, ARRIVES_WITHIN_MS, 'the queue depth and retries in the metrics');
    assert.notEqual(metricValue(text, 'parley_webhook_deliveries_total{result="delivered"}'), undefined);
    assert.notEqual(metricValue(text, 'parley_webhook_deliveries_total{result="failed"}'), undefined);
    await pollUntil(async () => metricValue(await scrapeMetrics(server), 'parley_webhook_oldest_pending_seconds') > 0 || undefined,
      ARRIVES_WITHIN_MS, 'the oldest pending age');
  });

  test('a receiver that never answers holds one connection per engagement in flight, no more', async () => {
    const rx = await receiver();
    const server = await startServer({ args: hookArgs(rx, ['--webhook-concurrency', '2']) });
    await rx.fail({ count: -1, mode: 'hang' });
    for (let i = 0; i < 5; i++) await raiseFlags(await engagement(server, `wh-hang${i}`), 1);
    await pollUntil(async () => (await rx.requests()).length >= 2 || undefined, ARRIVES_WITHIN_MS, 'two hanging requests');
    await sleep(SETTLE_MS);
    assert.equal((await rx.requests()).length, 2, 'no third request while two hang');
    assert.equal(metricValue(await scrapeMetrics(server), 'parley_webhook_in_flight'), 2);
    // Still serving: the sender waits on the receiver, nothing else does.
    const health = await httpRequest(server, 'GET', '/healthz');
    assert.equal(health.status, 200);
  });
});

describe('webhook options', () => {
  test('a webhook URL needs a valid URL and a secret file', async () => {
    const bad = [
      ['--webhook-url', 'ftp://example.test/hooks', '--webhook-secret-file', secretFile()],
      ['--webhook-url', 'http://127.0.0.1:1/hooks'],
      ['--webhook-secret-file', secretFile()],
      ['--webhook-url', 'http://127.0.0.1:1/hooks', '--webhook-secret-file', path.join(makeTempDir(), 'missing')],
    ];
    const empty = path.join(makeTempDir(), 'empty');
    fs.writeFileSync(empty, '\n');
    bad.push(['--webhook-url', 'http://127.0.0.1:1/hooks', '--webhook-secret-file', empty]);
    for (const args of bad) {
      await assert.rejects(startServer({ args }), /exited before ready/, args.join(' '));
    }
  });
});

// discovery → agreement → active → completion, then a final delivery that the client accepts: closed.
async function closeByFinalDelivery(server, e) {
  const step = async (proposer, decider, topic, terms) => {
    const p = expectOk(await proposer.post(e.ch, 'proposal', { topic, text: topic, terms }), `propose ${topic}`);
    expectOk(await decider.post(e.ch, 'decision', { proposal: p.seq, verdict: 'accepted' }), `accept ${topic}`);
  };
  await step(e.expert, e.client, 'phase', { to: 'agreement' });
  await step(e.client, e.expert, 'agreement', { scope: 'Market study', price: 1200 });
  await step(e.expert, e.client, 'phase', { to: 'active' });
  await step(e.expert, e.client, 'phase', { to: 'completion' });
  const bytes = randomBytes(64);
  const up = await httpRequest(server, 'POST', `/api/v1/engagements/${e.eng}/files?name=final.pdf`, {
    token: userToken(`${e.prefix}-expert`, 'expert', [e.eng]), rawBody: bytes,
    headers: { 'Content-Type': 'application/octet-stream' },
  });
  assert.ok(up.status === 201 || up.status === 200, up.text);
  const file = { sha256: createHash('sha256').update(bytes).digest('hex'), name: 'final.pdf' };
  const final = expectOk(await e.expert.post(e.ch, 'delivery', { deliverable: 'report', text: 'final', files: [file], final: true }));
  expectOk(await e.client.post(e.ch, 'decision', { proposal: final.seq, verdict: 'accepted' }), 'accept the final delivery');
}

describe('the payment trigger', () => {
  test('an engagement closed by its final delivery reaches the receiver as one signed engagement.completed', async () => {
    const rx = await receiver();
    let server = await startServer({ args: hookArgs(rx) });
    const e = { ...(await engagement(server, 'wh-close')), prefix: 'wh-close' };
    // The receiver refuses at first and the server is killed meanwhile: the close still arrives, once.
    await rx.fail({ count: 2, mode: 'status', status: 500 });
    await closeByFinalDelivery(server, e);
    await pollUntil(async () => (await rx.requests()).length >= 2 || undefined, ARRIVES_WITHIN_MS, 'two refused attempts');
    await server.kill();
    server = await server.restart();
    const completed = await pollUntil(async () => {
      const got = (await rx.accepted()).filter((r) => { const b = bodyOf(r); return b.eng === e.eng && b.type === 'engagement.completed'; });
      return got.length ? got : undefined;
    }, ARRIVES_WITHIN_MS, 'engagement.completed');
    await sleep(SETTLE_MS);
    const all = (await rx.accepted()).filter((r) => { const b = bodyOf(r); return b.eng === e.eng && b.type === 'engagement.completed'; });
    assert.equal(all.length, 1, 'accepted once');
    assert.ok(signatureValid(completed[0]));
    const { data } = bodyOf(completed[0]);
    assert.equal(typeof data.record, 'object');
    assert.match(data.record.hash, /^[0-9a-f]{64}$/);
    assert.ok(data.agreement, `agreement in ${JSON.stringify(data)}`);
    assert.equal(JSON.stringify(data.agreement).includes('Market study'), true, JSON.stringify(data.agreement));
    // Every hook of the engagement arrived once, in the order the engagement made them.
    const mine = (await rx.accepted()).filter((r) => bodyOf(r).eng === e.eng);
    for (const [id, n] of countsById(mine)) assert.equal(n, 1, `hook ${id} accepted ${n} times`);
    const ts = mine.map((r) => bodyOf(r).ts);
    assert.deepEqual(ts, [...ts].sort((a, b) => a - b), 'in order');
  });
});

const clusterSkip = ENGINE === 'redis' ? false : 'cluster mode needs the redis engine (PARLEY_ENGINE=redis)';
// A crashed sender's lease (30 s) lapses before another instance takes its queue over.
const TAKEOVER_WITHIN_MS = 30000 + ARRIVES_WITHIN_MS;

describe('webhooks from two instances on one Redis', { skip: clusterSkip }, () => {
  test('exactly one instance sends each hook; the other takes over after a kill -9 of the sender', { timeout: 180000 }, async () => {
    const rx = await receiver();
    const redis = await redisFor(makeTempDir('parley-whcluster-'));
    const args = hookArgs(rx);
    const a = await startServer({ redis, args });
    const b = await startServer({ redis, args });
    const engs = [];
    for (const [i, server] of [a, b, a, b].entries()) {
      const e = await engagement(server, `wh-cl${i}`);
      await raiseFlags(e, 2);
      engs.push(e.eng);
    }
    for (const eng of engs) await waitForAccepted(rx, eng, 2, `the hooks of ${eng}`);
    await sleep(SETTLE_MS);
    const sent = (await rx.requests()).filter((r) => engs.includes(bodyOf(r).eng));
    for (const [id, n] of countsById(sent)) assert.equal(n, 1, `hook ${id} sent ${n} times`);

    // Mid-retry: the receiver refuses; the instance that sends is killed; the other one sends.
    await rx.fail({ count: -1, mode: 'status', status: 500 });
    const e = await engagement(a, 'wh-takeover');
    await raiseFlags(e, 1);
    // The engagement's first hook (its queue's head) is refused twice: the sender is in its retries.
    const ofEng = (list) => list.filter((r) => bodyOf(r).eng === e.eng);
    await pollUntil(async () => ofEng(await rx.requests()).length >= 2 || undefined, ARRIVES_WITHIN_MS,
      'two refused attempts');
    const retries = async (s) => metricValue(await scrapeMetrics(s), 'parley_webhook_deliveries_total{result="retry"}');
    const [ra, rb] = [await retries(a), await retries(b)];
    const [sender, survivor] = ra >= rb ? [a, b] : [b, a];
    const delivered = async (s) => metricValue(await scrapeMetrics(s), 'parley_webhook_deliveries_total{result="delivered"}');
    const survivorBefore = await delivered(survivor);
    await sender.kill();
    await rx.fail({ count: 0 });
    const [accepted] = await pollUntil(async () => {
      const got = await flagHooks(rx, e.eng);
      return got.length ? got : undefined;
    }, TAKEOVER_WITHIN_MS, 'the survivor sends the hooks');
    await sleep(SETTLE_MS);
    const mine = ofEng(await rx.accepted());
    for (const [id, n] of countsById(mine)) assert.equal(n, 1, `hook ${id} accepted ${n} times`);
    assert.ok(signatureValid(accepted));
    assert.equal(await delivered(survivor), survivorBefore + mine.length, 'the survivor delivered them');
  });
});
