// Requirements: NDA and compliance (protocol §9.2): an engagement created by
// PUT with requirements, each party's `acknowledgement` over WebSocket and
// HTTP, the decision-log record of each (chain and `parley verify-log`), the
// state push, `active` refused until every acknowledgement is in, and the
// same after a restart; hostile acknowledgements change nothing. Runs on the
// engine of PARLEY_ENGINE.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { cleanup, connectAs, httpFor, makeTempDir, startServer, uniqueEng, userToken } from './harness.mjs';
import {
  GENESIS_PREV, assertChain, eventAt, expectOk, expectRefused, httpDecisions, httpDecisionsJsonl, httpHead, httpPost,
  httpState, verifyLog,
} from './engagement_helpers.mjs';

let server;
let http;

const service = userToken('req-service', 'service', ['*']);
const support = userToken('req-support', 'support', ['*']);
// The named parties of an engagement: users of their own, so that one test's
// floods leave the next test's rate buckets full.
const partiesOf = (eng) => ({ client: `alice-${eng}`, expert: `bob-${eng}` });

// An NDA both sides sign and a data-processing agreement for the client alone.
function invitation(ids) {
  return {
    title: 'Market entry DACH',
    details: 'Assess the German, Austrian and Swiss markets.',
    client: { id: ids.client, name: 'Alice' },
    expert: { id: ids.expert, name: 'Bob' },
    requirements: [
      { key: 'nda', title: 'Mutual NDA', by: ['client', 'expert'] },
      { key: 'dpa', title: 'Data processing agreement', by: ['client'] },
    ],
  };
}

const tokens = (eng, ids = partiesOf(eng)) => ({
  client: userToken(ids.client, 'client', [eng]),
  expert: userToken(ids.expert, 'expert', [eng]),
  intruder: userToken('req-mallory', 'expert', [eng]),
  bot: userToken('req-bot', 'bot', [eng]),
});

// Created by PUT and accepted by the expert: in discovery, nothing acknowledged yet.
async function acceptedEngagement(prefix) {
  const eng = uniqueEng(prefix);
  const ids = partiesOf(eng);
  const created = await http('PUT', `/api/v1/engagements/${eng}`, { token: service, body: invitation(ids) });
  assert.equal(created.status, 201, created.text);
  const t = tokens(eng, ids);
  const seq = created.json.open_proposals[0].seq;
  const answer = await httpPost(server, t.expert, `eng:${eng}`, 'decision', { proposal: seq, verdict: 'accepted' });
  assert.equal(answer.status, 201, answer.text);
  return { eng, main: `eng:${eng}`, t, ids };
}

const ackedBy = (state, key) => state.requirements.find((r) => r.key === key).acknowledged_by;

// The state of a requirement as the server shows it, and the decision log's
// length and channel head, which a refused post must leave as they were.
async function snapshot(eng, tok) {
  const s = await httpState(server, tok, eng);
  return {
    requirements: s.requirements,
    records: (await httpDecisions(server, tok, eng)).length,
    head: await httpHead(server, tok, `eng:${eng}`),
  };
}

before(async () => {
  server = await startServer();
  http = httpFor(server);
});
after(cleanup);

describe('acknowledging requirements', () => {
  test('each party acknowledges, over WebSocket and HTTP; each is a record; members get the state', async () => {
    const { eng, main, t, ids } = await acceptedEngagement('req-ack');
    const client = await connectAs(server, t.client);
    const expert = await connectAs(server, t.expert);
    try {
      const joined = expectOk(await client.join(main));
      assert.deepEqual(joined.state.requirements, [
        { key: 'nda', title: 'Mutual NDA', by: ['client', 'expert'], acknowledged_by: [] },
        { key: 'dpa', title: 'Data processing agreement', by: ['client'], acknowledged_by: [] },
      ]);
      assert.ok(joined.state.can.includes('acknowledge:nda') && joined.state.can.includes('acknowledge:dpa'));
      expectOk(await expert.join(main));

      // The client over WebSocket.
      const a = expectOk(await client.post(main, 'acknowledgement', { key: 'nda', text: 'Signed, see the PDF.' }));
      for (const [who, c, can] of [['client', client, false], ['expert', expert, true]]) {
        const push = await c.until(() => c.pushes.find((p) => p.ev === 'state' && p.eng === eng &&
          ackedBy(p.state, 'nda').length === 1), undefined, `${who}: a state push after the acknowledgement`);
        assert.deepEqual(ackedBy(push.state, 'nda'), [ids.client], who);
        assert.equal(push.state.can.includes('acknowledge:nda'), can, `${who}: ${push.state.can}`);
        const event = c.events(main).find((e) => e.seq === a.seq);
        assert.ok(event, `${who}: the acknowledgement event was pushed`);
        assert.equal(event.kind, 'acknowledgement');
        assert.equal(event.body.key, 'nda');
      }

      // The expert over HTTP, as bots and backends post.
      const b = await httpPost(server, t.expert, main, 'acknowledgement', { key: 'nda' });
      assert.equal(b.status, 201, b.text);
      const push = await client.until(() => client.pushes.find((p) => p.ev === 'state' && p.eng === eng &&
        ackedBy(p.state, 'nda').length === 2), undefined, 'a state push after the second acknowledgement');
      assert.deepEqual(ackedBy(push.state, 'nda'), [ids.client, ids.expert]);

      // Two records after the invitation's, chained and verified.
      const records = await httpDecisions(server, t.client, eng);
      assert.equal(records.length, 3);
      assert.equal(records[0].topic, 'invitation');
      const expected = [[records[1], ids.client, 'Signed, see the PDF.', a.seq], [records[2], ids.expert, '', b.json.seq]];
      for (const [r, by, text, seq] of expected) {
        assert.equal(r.topic, 'acknowledgement');
        assert.equal(r.eng, eng);
        assert.equal(r.ch, main);
        assert.deepEqual(r.terms, { key: 'nda', title: 'Mutual NDA' });
        assert.equal(r.text, text);
        assert.equal(r.proposed_by, by);
        assert.deepEqual(r.accepted_by, [by]);
        assert.equal(r.proposal_seq, null);
        assert.equal(r.decision_seq, seq);
      }
      assertChain(records);
      assert.equal(records[0].prev, GENESIS_PREV);
      // The stored acknowledgement carries its record, as an accepting decision does.
      const stored = await eventAt(client, main, a.seq);
      assert.deepEqual(stored.body.record, { n: 2, hash: records[1].hash, prev: records[0].hash });
      const file = path.join(makeTempDir('parley-req-'), 'log.jsonl');
      fs.writeFileSync(file, await httpDecisionsJsonl(server, t.client, eng));
      const v = await verifyLog(file);
      assert.equal(v.code, 0, `parley verify-log: ${v.stdout} ${v.stderr}`);
      assert.match(v.stdout, /ok: 3 records/);

      // Once each: the repeat is conflict on both paths and stores nothing.
      const before = await snapshot(eng, t.client);
      expectRefused(await client.post(main, 'acknowledgement', { key: 'nda' }), 'conflict');
      const again = await httpPost(server, t.expert, main, 'acknowledgement', { key: 'nda', text: 'again' });
      assert.equal(again.status, 409, again.text);
      assert.deepEqual(await snapshot(eng, t.client), before);
    } finally {
      await Promise.all([client, expert].map((c) => c.close()));
    }
  });

  test('who may acknowledge which requirement, and where', async () => {
    const { eng, main, t } = await acceptedEngagement('req-who');
    const before = await snapshot(eng, support);
    const cases = [
      [t.expert, main, { key: 'dpa' }, 403],       // the client's requirement
      [t.intruder, main, { key: 'nda' }, 403],     // an expert, not the named one
      [t.bot, main, { key: 'nda' }, 403],
      [support, main, { key: 'nda' }, 403],
      [service, main, { key: 'nda' }, 403],
      [t.client, `${main}:mediation`, { key: 'nda' }, 403],  // posted in eng:<id> only
      [t.client, main, { key: 'gdpr' }, 404],      // no such requirement
    ];
    for (const [tok, ch, body, status] of cases) {
      const r = await httpPost(server, tok, ch, 'acknowledgement', body);
      assert.equal(r.status, status, `${ch} ${JSON.stringify(body)}: ${r.text}`);
    }
    const unknown = await httpPost(server, t.client, main, 'acknowledgement', { key: 'gdpr' });
    assert.match(unknown.json.error.message, /'gdpr'/);
    assert.deepEqual(await snapshot(eng, support), before);
  });

  test('while invited the acknowledgement waits for the answer; an engagement made on first use has none', async () => {
    const eng = uniqueEng('req-invited');
    assert.equal((await http('PUT', `/api/v1/engagements/${eng}`, { token: service, body: invitation(partiesOf(eng)) })).status, 201);
    const r = await httpPost(server, tokens(eng).client, `eng:${eng}`, 'acknowledgement', { key: 'nda' });
    assert.equal(r.status, 409, r.text);
    assert.deepEqual((await httpState(server, support, eng)).requirements.map((x) => x.acknowledged_by), [[], []]);

    const plain = uniqueEng('req-plain');
    const tok = userToken('req-plain-client', 'client', [plain]);
    const p = await httpPost(server, tok, `eng:${plain}`, 'acknowledgement', { key: 'nda' });
    assert.equal(p.status, 404, p.text);
    const s = await httpState(server, tok, plain);
    assert.deepEqual(s.requirements, []);
    assert.ok(!s.can.some((a) => a.startsWith('acknowledge:')), s.can.join());
  });
});

describe('entering active', () => {
  test('is refused until every acknowledgement is in, then allowed', async () => {
    const { eng, main, t } = await acceptedEngagement('req-active');
    const client = await connectAs(server, t.client);
    const expert = await connectAs(server, t.expert);
    try {
      // discovery -> agreement, and an accepted agreement: what active needs besides the requirements.
      const toAgreement = expectOk(await expert.post(main, 'proposal', { topic: 'phase', text: 'Agree?', terms: { to: 'agreement' } }));
      expectOk(await client.post(main, 'decision', { proposal: toAgreement.seq, verdict: 'accepted' }));
      const terms = expectOk(await client.post(main, 'proposal', { topic: 'agreement', text: 'Terms', terms: { fee: 4800 } }));
      expectOk(await expert.post(main, 'decision', { proposal: terms.seq, verdict: 'accepted' }));
      let s = await httpState(server, t.expert, eng);
      assert.equal(s.phase, 'agreement');
      assert.ok(!s.can.includes('propose:phase'), `blocked: ${s.can}`);

      const toActive = { topic: 'phase', text: 'Start', terms: { to: 'active' } };
      const refused = await expert.post(main, 'proposal', toActive);
      expectRefused(refused, 'conflict');
      assert.match(refused.error.message, /'nda' by the client, 'nda' by the expert, 'dpa' by the client/);

      expectOk(await client.post(main, 'acknowledgement', { key: 'nda' }));
      expectOk(await client.post(main, 'acknowledgement', { key: 'dpa' }));
      const http409 = await httpPost(server, t.client, main, 'proposal', toActive);
      assert.equal(http409.status, 409, http409.text);
      assert.match(http409.json.error.message, /missing: 'nda' by the expert$/);
      assert.ok(!(await httpState(server, t.client, eng)).can.includes('propose:phase'));

      expectOk(await expert.post(main, 'acknowledgement', { key: 'nda' }));
      s = await httpState(server, t.client, eng);
      assert.ok(s.can.includes('propose:phase'), `allowed: ${s.can}`);
      assert.ok(!s.can.some((a) => a.startsWith('acknowledge:')), s.can.join());
      const p = expectOk(await expert.post(main, 'proposal', toActive));
      expectOk(await client.post(main, 'decision', { proposal: p.seq, verdict: 'accepted' }));
      assert.equal((await httpState(server, t.client, eng)).phase, 'active');
      const records = await httpDecisions(server, t.client, eng);
      assert.deepEqual(records.map((r) => r.topic),
        ['invitation', 'phase', 'agreement', 'acknowledgement', 'acknowledgement', 'acknowledgement', 'phase']);
      assertChain(records);
    } finally {
      await Promise.all([client, expert].map((c) => c.close()));
    }
  });
});

describe('abuse', () => {
  test('1000 acknowledgements of unknown keys change nothing and are rate limited as posts are', async () => {
    const { eng, main, t } = await acceptedEngagement('req-flood');
    const before = await snapshot(eng, support);
    const flooder = await connectAs(server, t.client);
    const replies = [];
    const pending = [];
    for (let i = 0; i < 1000 && flooder.isOpen; i++) {
      pending.push(flooder.post(main, 'acknowledgement', { key: `k${i}` }).then((r) => replies.push(r), () => {}));
    }
    await Promise.all(pending);
    assert.ok(replies.length > 0);
    const codes = new Set(replies.map((r) => r.error?.code));
    assert.ok(codes.has('rate_limited'), [...codes].join());
    for (const r of replies) assert.ok(['not_found', 'rate_limited'].includes(r.error?.code), JSON.stringify(r));
    if (!flooder.isOpen) assert.equal((await flooder.waitClosed()).code, 4008);
    await flooder.close();

    // Over HTTP the token's bucket answers 429.
    const statuses = [];
    for (let i = 0; i < 1000 && !statuses.includes(429); i += 50) {
      const batch = await Promise.all(Array.from({ length: 50 }, (_, j) =>
        httpPost(server, t.expert, main, 'acknowledgement', { key: `h${i + j}` })));
      statuses.push(...batch.map((r) => r.status));
    }
    assert.ok(statuses.includes(429), 'rate limited');
    assert.ok(statuses.every((s) => s === 404 || s === 429), statuses.join(','));
    assert.deepEqual(await snapshot(eng, support), before);
  });

  test('oversized text and wrong types are refused and store nothing', async () => {
    const { eng, main, t } = await acceptedEngagement('req-bad');
    const before = await snapshot(eng, support);
    const cases = [
      [{ key: 'nda', text: 'x'.repeat(16385) }, 413],
      [{ key: 'nda', text: 5 }, 400],
      [{ key: 5 }, 400],
      [{ key: ['nda'] }, 400],
      [{ key: '' }, 400],
      [{ key: 'NDA' }, 400],
      [{ key: 'k'.repeat(65) }, 400],
      [{ text: 'no key' }, 400],
      [{ key: 'nda', signed: true }, 400],
      [{ key: 'nda', n: 2 ** 60 }, 400],
    ];
    for (const [body, status] of cases) {
      const r = await httpPost(server, t.client, main, 'acknowledgement', body);
      assert.equal(r.status, status, `${JSON.stringify(body).slice(0, 80)}: ${r.text}`);
    }
    const ws = await connectAs(server, t.client);
    try {
      expectRefused(await ws.post(main, 'acknowledgement', { key: 'nda', text: 'y'.repeat(16385) }), 'too_large');
      expectRefused(await ws.post(main, 'acknowledgement', { key: { nested: 'nda' } }), 'bad_request');
      expectRefused(await ws.post(main, 'acknowledgement', 'nda'), 'bad_request');
    } finally {
      await ws.close();
    }
    assert.deepEqual(await snapshot(eng, support), before);
    // The largest text allowed is taken.
    const ok = await httpPost(server, t.client, main, 'acknowledgement', { key: 'nda', text: 'z'.repeat(16384) });
    assert.equal(ok.status, 201, ok.text);
  });
});

describe('restart', () => {
  test('acknowledgements, the records and the block on active survive a restart', async () => {
    const { eng, main, t, ids } = await acceptedEngagement('req-restart');
    assert.equal((await httpPost(server, t.client, main, 'acknowledgement', { key: 'nda' })).status, 201);
    assert.equal((await httpPost(server, t.client, main, 'acknowledgement', { key: 'dpa' })).status, 201);

    server = await server.restart();
    http = httpFor(server);
    const s = await httpState(server, t.expert, eng);
    assert.deepEqual(ackedBy(s, 'nda'), [ids.client]);
    assert.deepEqual(ackedBy(s, 'dpa'), [ids.client]);
    assert.deepEqual(s.can.filter((a) => a.startsWith('acknowledge:')), ['acknowledge:nda']);
    assert.ok(!(await httpState(server, t.client, eng)).can.some((a) => a.startsWith('acknowledge:')));
    const again = await httpPost(server, t.client, main, 'acknowledgement', { key: 'nda' });
    assert.equal(again.status, 409, again.text);
    assert.equal((await httpPost(server, t.expert, main, 'acknowledgement', { key: 'nda' })).status, 201);
    assert.deepEqual(ackedBy(await httpState(server, support, eng), 'nda'), [ids.client, ids.expert]);
    const records = await httpDecisions(server, t.client, eng);
    assert.deepEqual(records.map((r) => r.topic), ['invitation', 'acknowledgement', 'acknowledgement', 'acknowledgement']);
    assertChain(records);
  });
});
