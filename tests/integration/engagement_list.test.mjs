// GET /api/v1/engagements (protocol §9.1): the engagement list of support
// staff and services, a page at a time in id order, with a phase filter.
// Runs on the engine of PARLEY_ENGINE like every file here.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { cleanup, httpFor, startServer, uniqueEng, userToken } from './harness.mjs';
import { httpPost } from './engagement_helpers.mjs';

let server;
let http;

// The engagements this file makes: ids that sort in creation order.
const prefix = uniqueEng('list');
const idOf = (i) => `${prefix}-${String(i).padStart(4, '0')}`;
const count = 120;
const maxReply = 65536;
const ids = Array.from({ length: count }, (_, i) => idOf(i));
const tok = {
  client: userToken('list-client', 'client', ids),
  expert: userToken('list-expert', 'expert', ids),
  support: userToken('list-support', 'support', ['*']),
  service: userToken('list-service', 'service', ['*']),
};

before(async () => {
  // The smallest reply bound, so that a few large flags fill a page.
  server = await startServer({ args: ['--http-rate', '100000', '--http-burst', '100000', '--max-reply', String(maxReply)] });
  http = httpFor(server);
  // Each engagement comes into being on first use (a party's message).
  for (let i = 0; i < count; i += 20) {
    await Promise.all(ids.slice(i, i + 20).map(async (eng) => {
      const r = await httpPost(server, tok.client, `eng:${eng}`, 'message', { text: `hello ${eng}` });
      assert.equal(r.status, 201, r.text);
    }));
  }
});
after(cleanup);

// A post over HTTP that must have been stored: its {seq, ts}.
async function posted(request) {
  const r = await request;
  assert.equal(r.status, 201, r.text);
  return r.json;
}

function list(query, token = tok.support) {
  return http('GET', `/api/v1/engagements${query}`, { token });
}

// Every page from the first, following `next`; asserts each answer is 200.
async function allPages(query, token = tok.support) {
  const pages = [];
  let next = null;
  for (let guard = 0; guard < 100; guard++) {
    const sep = query ? '&' : '?';
    const r = await list(`${query}${next === null ? '' : `${sep}after=${encodeURIComponent(next)}`}`, token);
    assert.equal(r.status, 200, r.text);
    pages.push(r.json);
    if (r.json.next === null) return pages;
    next = r.json.next;
  }
  throw new Error('the list did not end');
}

describe('GET /api/v1/engagements', () => {
  test('pages of 50 list every engagement exactly once, in id order', async () => {
    const pages = await allPages('?limit=50');
    const listed = pages.flatMap((p) => p.engagements.map((e) => e.id));
    for (let i = 1; i < listed.length; i++) assert.ok(listed[i - 1] < listed[i], `${listed[i - 1]} before ${listed[i]}`);
    assert.deepEqual(listed.filter((id) => id.startsWith(prefix)), ids);
    for (const p of pages) assert.ok(p.engagements.length <= 50);
    for (const p of pages.slice(0, -1)) assert.equal(p.next, p.engagements.at(-1).id, 'next is the last id of the page');
  });

  test('an item carries the fields of the engagement state', async () => {
    const eng = ids[3];
    await posted(httpPost(server, tok.client, `eng:${eng}`, 'flag', { type: 'risk', text: 'budget at risk' }));
    const r = await list(`?after=${ids[2]}&limit=1`, tok.service);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.next, eng);
    const [item] = r.json.engagements;
    assert.deepEqual(Object.keys(item).sort(), ['id', 'open_flags', 'owed_reply', 'phase', 'phase_due', 'title']);
    assert.equal(item.id, eng);
    assert.equal(item.title, null);
    assert.equal(item.phase, 'discovery');
    assert.equal(typeof item.phase_due, 'number');
    assert.equal(item.open_flags.length, 1);
    assert.equal(item.open_flags[0].type, 'risk');
    assert.equal(item.open_flags[0].text, 'budget at risk');
    assert.equal(item.owed_reply.side, 'expert', 'the client wrote last');

    const state = await http('GET', `/api/v1/engagements/${eng}`, { token: tok.support });
    assert.equal(state.status, 200, state.text);
    for (const key of ['phase', 'phase_due', 'open_flags', 'owed_reply']) assert.deepEqual(item[key], state.json[key], key);
  });

  test('phase= lists only the engagements in that phase', async () => {
    const moved = ids[7];
    const p = await posted(httpPost(server, tok.expert, `eng:${moved}`, 'proposal',
      { topic: 'phase', text: 'Move on', terms: { to: 'agreement' } }));
    await posted(httpPost(server, tok.client, `eng:${moved}`, 'decision', { proposal: p.seq, verdict: 'accepted' }));

    const inAgreement = (await allPages('?phase=agreement&limit=30')).flatMap((pg) => pg.engagements);
    assert.deepEqual(inAgreement.map((e) => e.id), [moved]);
    assert.equal(inAgreement[0].phase, 'agreement');

    const inDiscovery = (await allPages('?phase=discovery&limit=30')).flatMap((pg) => pg.engagements);
    assert.ok(inDiscovery.every((e) => e.phase === 'discovery'));
    assert.deepEqual(inDiscovery.map((e) => e.id).filter((id) => id.startsWith(prefix)), ids.filter((id) => id !== moved));

    const closed = await list('?phase=closed&limit=1000');
    assert.equal(closed.status, 200, closed.text);
    assert.deepEqual(closed.json, { engagements: [], next: null });
  });

  test('only support and service tokens may list: others 403, no token 401', async () => {
    for (const role of ['client', 'expert']) {
      const r = await list('', tok[role]);
      assert.equal(r.status, 403, `${role}: ${r.text}`);
      assert.equal(r.json.error.code, 'forbidden');
    }
    const bot = await list('', userToken('list-bot', 'bot', [ids[0]]));
    assert.equal(bot.status, 403, bot.text);
    const none = await http('GET', '/api/v1/engagements');
    assert.equal(none.status, 401, none.text);
    const forged = await http('GET', '/api/v1/engagements', { token: `${tok.support}x` });
    assert.equal(forged.status, 401, forged.text);
  });

  test('a bad limit or phase is 400', async () => {
    for (const q of ['?limit=0', '?limit=1001', '?limit=-1', '?limit=ten', '?limit=1e3', '?limit=50.5',
      '?phase=open', '?phase=DISCOVERY', '?phase=discovery%00']) {
      const r = await list(q);
      assert.equal(r.status, 400, `${q}: ${r.text}`);
      assert.equal(r.json.error.code, 'bad_request');
    }
    const defaults = await list('');
    assert.equal(defaults.status, 200, defaults.text);
    assert.equal(defaults.json.engagements.length, 50, 'limit defaults to 50');
    assert.equal((await list('?limit=1000')).status, 200);
  });

  test('hostile after values are answered 400 or an empty page, and the server goes on', async () => {
    const hostile = [
      'x'.repeat(5000), encodeURIComponent('eng:1'), encodeURIComponent("' OR 1=1 --"), '%2A', '%25', '%00',
      encodeURIComponent('a b'), encodeURIComponent('é'), encodeURIComponent('../..'), '%5B', encodeURIComponent('a:mediation'),
    ];
    for (const after of hostile) {
      const r = await list(`?after=${after}`);
      assert.ok(r.status === 400 || (r.status === 200 && r.json.engagements.length === 0),
        `after=${after.slice(0, 40)}: ${r.status} ${r.text}`);
    }
    const bad = await list('?after=%zz');
    assert.equal(bad.status, 400, bad.text);
    const past = await list(`?after=${'z'.repeat(64)}`);
    assert.equal(past.status, 200, past.text);
    assert.deepEqual(past.json, { engagements: [], next: null });
    const still = await list('?limit=1');
    assert.equal(still.status, 200, still.text);
  });

  // Last: it adds engagements that the tests above do not expect.
  test('a page whose items would pass the reply bound ends early and goes on from its last item', async () => {
    const big = Array.from({ length: 6 }, (_, i) => `${uniqueEng('big')}-${i}`);
    const bigToken = userToken('list-big', 'client', big);
    for (const eng of big) {
      await posted(httpPost(server, bigToken, `eng:${eng}`, 'flag', { type: 'risk', text: 'x'.repeat(16000) }));
    }
    const pages = await allPages('?limit=1000');
    for (const p of pages) assert.ok(JSON.stringify(p).length <= maxReply, 'each page stays within the bound');
    assert.ok(pages.length > 1, 'the list did not fit one reply');
    const listed = pages.flatMap((p) => p.engagements.map((e) => e.id));
    assert.equal(new Set(listed).size, listed.length, 'no engagement twice');
    for (const eng of big) assert.ok(listed.includes(eng), `${eng} listed`);
    for (const eng of ids) assert.ok(listed.includes(eng), `${eng} listed`);
  });
});
