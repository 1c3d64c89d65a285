// Engagements created by the platform (protocol §9.1): PUT /api/v1/engagements/<id>
// by a service token, the `invited` phase, the expert's answer, the named
// parties, and the same after a restart. Runs on the engine of PARLEY_ENGINE.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { cleanup, connectAs, httpFor, makeTempDir, startServer, token, uniqueEng, userToken } from './harness.mjs';
import { expectOk, expectRefused, httpDecisions, httpPost, httpState } from './engagement_helpers.mjs';

let server;
let http;

const service = userToken('inv-service', 'service', ['*']);
const support = userToken('inv-support', 'support', ['*']);

function invitation(overrides = {}) {
  return {
    title: 'Market entry DACH',
    details: 'Assess the German, Austrian and Swiss markets.',
    client: { id: 'inv-alice', name: 'Alice' },
    expert: { id: 'inv-bob', name: 'Bob' },
    terms: { scope: 'draft' },
    requirements: [{ key: 'nda', title: 'Mutual NDA', by: ['expert', 'client'] }],
    settings: { revisions: 2, review_days: 3 },
    ...overrides,
  };
}

const put = (eng, body, tok = service) => http('PUT', `/api/v1/engagements/${eng}`, { token: tok, body });
const tokens = (eng) => ({
  client: userToken('inv-alice', 'client', [eng]),
  expert: userToken('inv-bob', 'expert', [eng]),
  intruder: userToken('inv-mallory', 'expert', [eng]),
  bot: userToken('inv-bot', 'bot', [eng]),
});

before(async () => {
  server = await startServer();
  http = httpFor(server);
});
after(cleanup);

describe('creating an engagement by PUT', () => {
  test('201 with the invited state, 200 when repeated, 409 for another body', async () => {
    const eng = uniqueEng('inv');
    const created = await put(eng, invitation());
    assert.equal(created.status, 201, created.text);
    const s = created.json;
    assert.equal(s.phase, 'invited');
    assert.equal(s.title, 'Market entry DACH');
    assert.equal(s.details, 'Assess the German, Austrian and Swiss markets.');
    assert.deepEqual(s.parties, { client: { id: 'inv-alice', name: 'Alice' }, expert: { id: 'inv-bob', name: 'Bob' } });
    assert.deepEqual(s.requirements, [{ key: 'nda', title: 'Mutual NDA', by: ['client', 'expert'], acknowledged_by: [] }]);
    assert.deepEqual(s.settings, { revisions: 2, review_days: 3 });
    assert.equal(s.phase_due, s.phase_since + 2 * 24 * 3600 * 1000);
    assert.equal(s.open_proposals.length, 1);
    assert.equal(s.open_proposals[0].topic, 'invitation');
    assert.equal(s.open_proposals[0].text, 'Market entry DACH');
    assert.deepEqual(s.open_proposals[0].terms, { details: s.details, terms: { scope: 'draft' } });

    // The same invitation, its keys in another order and `by` reordered: the same body.
    const again = await put(eng, { ...invitation({ requirements: [{ by: ['client', 'expert'], title: 'Mutual NDA', key: 'nda' }] }) });
    assert.equal(again.status, 200, again.text);
    assert.equal(again.json.phase, 'invited');
    assert.equal(again.json.open_proposals.length, 1);

    const other = await put(eng, invitation({ title: 'Another project' }));
    assert.equal(other.status, 409, other.text);
    assert.equal(other.json.error.code, 'conflict');
  });

  test('an id already used by first use is 409', async () => {
    const eng = uniqueEng('inv-used');
    const first = await httpPost(server, userToken('u1', 'client', [eng]), `eng:${eng}`, 'message', { text: 'hi' });
    assert.equal(first.status, 201, first.text);
    const r = await put(eng, invitation());
    assert.equal(r.status, 409, r.text);
    assert.equal((await httpState(server, support, eng)).phase, 'discovery');
  });

  test('only service tokens create', async () => {
    const eng = uniqueEng('inv-role');
    for (const tok of [support, userToken('inv-alice', 'client', [eng]), userToken('b', 'bot', [eng])]) {
      const r = await put(eng, invitation(), tok);
      assert.equal(r.status, 403, r.text);
    }
    assert.equal((await http('GET', `/api/v1/engagements/${eng}`, { token: support })).status, 404);
  });

  test('bad bodies are 400 or 413 and store nothing', async () => {
    const eng = uniqueEng('inv-bad');
    const cases = [
      [{ ...invitation(), extra: 1 }, 400],
      [invitation({ title: '' }), 400],
      [invitation({ title: 'x'.repeat(201) }), 413],
      [invitation({ details: 'x'.repeat(16385) }), 413],
      [invitation({ client: { id: 'inv-bob' } }), 400],
      [invitation({ client: { id: 'a', role: 'x' } }), 400],
      [invitation({ expert: { id: 'x'.repeat(129) } }), 413],
      [invitation({ expert: undefined }), 400],
      [invitation({ terms: [1] }), 400],
      [invitation({ requirements: [{ key: 'nda', title: 'A', by: ['client'] }, { key: 'nda', title: 'B', by: ['expert'] }] }), 400],
      [invitation({ requirements: [{ key: 'nda', title: 'A', by: ['support'] }] }), 400],
      [invitation({ requirements: [{ key: 'NDA!', title: 'A', by: ['client'] }] }), 400],
      [invitation({ requirements: Array.from({ length: 21 }, (_, i) => ({ key: `r${i}`, title: 'R', by: ['client'] })) }), 413],
      [invitation({ settings: { revisions: 11 } }), 400],
      [invitation({ settings: { colour: 'red' } }), 400],
    ];
    for (const [body, status] of cases) {
      const r = await put(eng, body);
      assert.equal(r.status, status, `${JSON.stringify(body).slice(0, 120)}: ${r.status} ${r.text}`);
    }
    const big = await http('PUT', `/api/v1/engagements/${eng}`, { token: service, rawBody: JSON.stringify(invitation({ terms: { x: 'y'.repeat(70000) } })) });
    assert.equal(big.status, 413);
    assert.equal((await http('GET', `/api/v1/engagements/${eng}`, { token: support })).status, 404);
  });
});

describe('the invited phase', () => {
  test('messages only; only the named expert answers; accepted: record and discovery', async () => {
    const eng = uniqueEng('inv-yes');
    assert.equal((await put(eng, invitation())).status, 201);
    const t = tokens(eng);
    const client = await connectAs(server, t.client);
    const expert = await connectAs(server, t.expert);
    const intruder = await connectAs(server, t.intruder);
    const sup = await connectAs(server, support);
    try {
      const joined = expectOk(await expert.request('join', { ch: `eng:${eng}` }));
      const seq = joined.state.open_proposals[0].seq;
      assert.ok(joined.state.can.includes(`decide:${seq}`));
      assert.deepEqual(joined.state.can, ['decide:' + seq, 'message']);
      expectOk(await client.request('post', { ch: `eng:${eng}`, kind: 'message', body: { text: 'welcome' } }));
      expectOk(await sup.request('post', { ch: `eng:${eng}`, kind: 'message', body: { text: 'hello' } }));
      expectRefused(await client.request('post', { ch: `eng:${eng}`, kind: 'status', body: { text: 's' } }), 'conflict');
      expectRefused(await client.request('post', { ch: `eng:${eng}`, kind: 'flag', body: { type: 'risk', text: 'r' } }), 'conflict');
      expectRefused(await expert.request('post', { ch: `eng:${eng}`, kind: 'proposal', body: { topic: 'phase', text: 'p', terms: { to: 'agreement' } } }), 'conflict');
      const decide = { kind: 'decision', body: { proposal: seq, verdict: 'accepted' } };
      expectRefused(await client.request('post', { ch: `eng:${eng}`, ...decide }), 'forbidden');
      expectRefused(await sup.request('post', { ch: `eng:${eng}`, ...decide }), 'forbidden');
      expectRefused(await intruder.request('post', { ch: `eng:${eng}`, ...decide }), 'forbidden');
      expectRefused(await intruder.request('post', { ch: `eng:${eng}`, kind: 'message', body: { text: 'x' } }), 'forbidden');
      expectOk(await expert.request('post', { ch: `eng:${eng}`, ...decide }));
      const s = await httpState(server, t.expert, eng);
      assert.equal(s.phase, 'discovery');
      assert.deepEqual(s.open_proposals, []);
      const records = await httpDecisions(server, t.expert, eng);
      assert.equal(records.length, 1);
      assert.equal(records[0].topic, 'invitation');
      assert.deepEqual(records[0].accepted_by, ['inv-bob']);
      assert.equal(records[0].proposed_by, 'system');
      expectRefused(await expert.request('post', { ch: `eng:${eng}`, ...decide }), 'conflict');
      // After the answer the named parties work as in v1; others still may not post.
      expectOk(await expert.request('post', { ch: `eng:${eng}`, kind: 'proposal', body: { topic: 'phase', text: 'p', terms: { to: 'agreement' } } }));
      expectRefused(await intruder.request('post', { ch: `eng:${eng}`, kind: 'message', body: { text: 'x' } }), 'forbidden');
      const intruderState = await httpState(server, t.intruder, eng);
      assert.deepEqual(intruderState.can, []);
    } finally {
      await Promise.all([client, expert, intruder, sup].map((c) => c.close()));
    }
  });

  test('declined: every post is conflict, reading still works', async () => {
    const eng = uniqueEng('inv-no');
    const created = await put(eng, invitation());
    const seq = created.json.open_proposals[0].seq;
    const t = tokens(eng);
    const r = await httpPost(server, t.expert, `eng:${eng}`, 'decision', { proposal: seq, verdict: 'rejected' });
    assert.equal(r.status, 201, r.text);
    const s = await httpState(server, t.client, eng);
    assert.equal(s.phase, 'declined');
    assert.equal(s.phase_due, null);
    assert.deepEqual(s.can, []);
    assert.deepEqual(await httpDecisions(server, t.client, eng), []);
    for (const [tok, kind, body] of [
      [t.client, 'message', { text: 'x' }],
      [support, 'message', { text: 'x' }],
      [t.expert, 'decision', { proposal: seq, verdict: 'accepted' }],
      [t.bot, 'status', { text: 's' }],
    ]) {
      const refused = await httpPost(server, tok, `eng:${eng}`, kind, body);
      assert.equal(refused.status, 409, `${kind}: ${refused.text}`);
    }
  });
});

describe('abuse', () => {
  test('a PUT racing a first use of the same id: exactly one wins', async () => {
    for (let i = 0; i < 5; i++) {
      const eng = uniqueEng('inv-race');
      const [created, used] = await Promise.all([
        put(eng, invitation()),
        httpPost(server, userToken('inv-alice', 'client', [eng]), `eng:${eng}`, 'message', { text: 'first' }),
      ]);
      const s = await httpState(server, support, eng);
      if (created.status === 201) {
        assert.equal(s.phase, 'invited');
        assert.equal(s.open_proposals.length, 1);
        assert.equal(used.status, 201, used.text);  // the named client may message while invited
      } else {
        assert.equal(created.status, 409, created.text);
        assert.equal(s.phase, 'discovery');
        assert.equal(s.title, null);
      }
    }
  });

  test('a flood of PUTs by one token is rate limited', async () => {
    const prefix = uniqueEng('inv-flood');
    const tok = userToken('inv-flooder', 'service', ['*']);
    const statuses = [];
    for (let i = 0; i < 1000 && !statuses.includes(429); i += 50) {
      const batch = await Promise.all(Array.from({ length: 50 }, (_, j) => put(`${prefix}-${i + j}`, invitation(), tok)));
      statuses.push(...batch.map((r) => r.status));
    }
    assert.ok(statuses.includes(429), 'rate limited');
    assert.ok(statuses.every((s) => s === 201 || s === 429), statuses.join(','));
  });
});

describe('restart', () => {
  test('the invitation, the answer and the parties survive a restart', async () => {
    const eng = uniqueEng('inv-restart');
    const declinedEng = uniqueEng('inv-restart-no');
    const created = await put(eng, invitation());
    const seq = created.json.open_proposals[0].seq;
    const t = tokens(eng);
    assert.equal((await httpPost(server, t.expert, `eng:${eng}`, 'decision', { proposal: seq, verdict: 'accepted' })).status, 201);
    const no = await put(declinedEng, invitation());
    const tNo = tokens(declinedEng);
    assert.equal((await httpPost(server, tNo.expert, `eng:${declinedEng}`, 'decision', { proposal: no.json.open_proposals[0].seq, verdict: 'rejected' })).status, 201);
    const pending = uniqueEng('inv-restart-open');
    assert.equal((await put(pending, invitation())).status, 201);

    server = await server.restart();
    http = httpFor(server);
    const s = await httpState(server, t.client, eng);
    assert.equal(s.phase, 'discovery');
    assert.equal(s.title, 'Market entry DACH');
    assert.equal((await httpState(server, support, declinedEng)).phase, 'declined');
    assert.equal((await put(pending, invitation())).status, 200);
    assert.equal((await put(pending, invitation({ details: 'changed' }))).status, 409);
    assert.equal((await httpState(server, support, pending)).phase, 'invited');
    const intruder = await httpPost(server, t.intruder, `eng:${eng}`, 'message', { text: 'x' });
    assert.equal(intruder.status, 403, intruder.text);
  });
});

// The server's output holds `pattern` (it is printed beside the sign-in links, after the server is up).
async function logged(srv, pattern) {
  for (let i = 0; i < 250 && !pattern.test(srv.logs()); i++) await new Promise((r) => setTimeout(r, 20));
  assert.match(srv.logs(), pattern);
}

describe('development mode', () => {
  test('--dev creates the demo engagement by PUT: Bob is invited, with an NDA to sign', async () => {
    const dataDir = path.join(makeTempDir('parley-dev-'), 'data');
    const dev = await startServer({ dataDir, secret: '', args: ['--dev'] });
    const secret = fs.readFileSync(path.join(dataDir, 'dev-secret'), 'utf8').trim();
    const bob = token({ sub: 'bob', name: 'Bob', role: 'expert', eng: ['demo'] }, { secret });
    const s = await httpState(dev, bob, 'demo');
    assert.equal(s.phase, 'invited');
    assert.equal(s.title, 'Market entry DACH');
    assert.ok(s.details.length > 0);
    assert.deepEqual(s.parties.expert, { id: 'bob', name: 'Bob' });
    assert.deepEqual(s.parties.client, { id: 'alice', name: 'Alice' });
    assert.deepEqual(s.requirements, [{ key: 'nda', title: 'Mutual NDA', by: ['client', 'expert'], acknowledged_by: [] }]);
    assert.ok(s.can.includes(`decide:${s.open_proposals[0].seq}`));
    await logged(dev, /demo engagement "demo" created/);
    // A second start on the same data finds it there.
    const again = await dev.restart();
    await logged(again, /demo engagement "demo" is already there/);
    assert.equal((await httpState(again, bob, 'demo')).phase, 'invited');
  });
});
