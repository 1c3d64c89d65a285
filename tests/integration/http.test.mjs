// The HTTP API (protocol §7) and its interplay with WebSocket members.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cleanup, connectAs, httpFor, startServer, token, uniqueEng, userToken,
} from './harness.mjs';

let server;
let http;

before(async () => {
  server = await startServer();
  http = httpFor(server);
});
after(cleanup);

function assertErrorBody(res, status, code) {
  assert.equal(res.status, status, `${res.status} ${res.text}`);
  assert.equal(typeof res.json?.error, 'object', `error body: ${res.text}`);
  if (code) assert.equal(res.json.error.code, code);
  assert.equal(typeof res.json.error.message, 'string');
}

describe('posting events over HTTP', () => {
  test('a bot posts status with a percent-encoded channel: 201 {seq, ts} and members receive it', async () => {
    const eng = uniqueEng();
    const ch = `eng:${eng}`;
    const member = await connectAs(server, userToken('h-client', 'client', [eng]));
    const { head: base } = await member.call('join', { ch });
    const bot = userToken('h-bot', 'bot', [eng], { name: 'CI' });

    const res = await http('POST', `/api/v1/channels/${encodeURIComponent(ch)}/events`, {
      token: bot, body: { kind: 'status', body: { text: 'Build 12 passed', progress: 60 } },
    });
    assert.equal(res.status, 201, res.text);
    assert.match(res.headers['content-type'] ?? '', /application\/json/);
    assert.equal(res.json.seq, base + 1);
    assert.equal(typeof res.json.ts, 'number');

    const [ev] = await member.waitForEvents(ch, 1);
    assert.equal(ev.seq, base + 1);
    assert.equal(ev.kind, 'status');
    assert.equal(ev.ts, res.json.ts);
    assert.deepEqual(ev.from, { id: 'h-bot', name: 'CI', role: 'bot' });
    assert.deepEqual(ev.body, { text: 'Build 12 passed', progress: 60 });

    const raw = await http('POST', `/api/v1/channels/${ch}/events`, {
      token: bot, body: { kind: 'status', body: { text: 'Deploy done' }, cid: 'deploy-1' },
    });
    assert.equal(raw.status, 201, raw.text);
    assert.equal(raw.json.seq, base + 2);
    const again = await http('POST', `/api/v1/channels/${ch}/events`, {
      token: bot, body: { kind: 'status', body: { text: 'Deploy done' }, cid: 'deploy-1' },
    });
    assert.ok(again.status === 201 || again.status === 200, again.text);
    assert.equal(again.json.seq, base + 2, 'the cid makes the HTTP post idempotent');

    const evs = await member.waitForEvents(ch, 2);
    assert.deepEqual(evs.map((e) => e.seq), [base + 1, base + 2]);
    assert.equal(evs[1].cid, 'deploy-1');
    await member.close();
  });

  test('reading events with after, before and limit', async () => {
    const eng = uniqueEng();
    const ch = `eng:${eng}`;
    const tok = userToken('h-reader', 'expert', [eng]);
    let base;
    for (let i = 1; i <= 6; i++) {
      const r = await http('POST', `/api/v1/channels/${ch}/events`, { token: tok, body: { kind: 'message', body: { text: `n${i}` } } });
      assert.equal(r.status, 201, r.text);
      base ??= r.json.seq - 1;
      assert.equal(r.json.seq, base + i);
    }
    const s = (i) => base + i;
    const enc = encodeURIComponent(ch);
    const a = await http('GET', `/api/v1/channels/${enc}/events?after=${s(2)}&limit=3`, { token: tok });
    assert.equal(a.status, 200, a.text);
    assert.deepEqual(a.json.events.map((e) => e.seq), [s(3), s(4), s(5)]);
    assert.deepEqual(a.json.events.map((e) => e.body.text), ['n3', 'n4', 'n5']);
    const b = await http('GET', `/api/v1/channels/${ch}/events?before=${s(3)}&limit=2`, { token: tok });
    assert.equal(b.status, 200, b.text);
    assert.deepEqual(b.json.events.map((e) => e.seq), [s(1), s(2)]);
    const all = await http('GET', `/api/v1/channels/${enc}/events?after=${s(0)}`, { token: tok });
    assert.deepEqual(all.json.events.map((e) => e.seq), [s(1), s(2), s(3), s(4), s(5), s(6)]);
    for (const e of all.json.events) {
      assert.equal(e.ch, ch);
      assert.equal(e.from.id, 'h-reader');
      assert.equal(typeof e.ts, 'number');
    }
  });
});

describe('HTTP errors', () => {
  const eng = uniqueEng();
  const ch = encodeURIComponent(`eng:${eng}`);
  const path = `/api/v1/channels/${ch}/events`;
  const status = { kind: 'status', body: { text: 'x' } };

  test('no token is 401', async () => {
    assertErrorBody(await http('POST', path, { body: status }), 401, 'unauthorized');
    assertErrorBody(await http('GET', path), 401, 'unauthorized');
  });

  test('a bad or expired token is 401', async () => {
    const bad = token({ sub: 'h-x', role: 'bot', eng: [eng] }, { secret: 'other' });
    assertErrorBody(await http('POST', path, { token: bad, body: status }), 401, 'unauthorized');
    const expired = token({ sub: 'h-x', role: 'bot', eng: [eng], exp: Math.floor(Date.now() / 1000) - 3600 });
    assertErrorBody(await http('GET', path, { token: expired }), 401, 'unauthorized');
  });

  test('another engagement is 403', async () => {
    const tok = userToken('h-other', 'bot', [uniqueEng()]);
    assertErrorBody(await http('POST', path, { token: tok, body: status }), 403, 'forbidden');
    assertErrorBody(await http('GET', path, { token: tok }), 403, 'forbidden');
  });

  test('a message by a bot is 403', async () => {
    const tok = userToken('h-bot2', 'bot', [eng]);
    assertErrorBody(await http('POST', path, { token: tok, body: { kind: 'message', body: { text: 'hi' } } }), 403, 'forbidden');
  });

  test('a body over 64 KiB is 413', async () => {
    const tok = userToken('h-big', 'client', [eng]);
    const res = await http('POST', path, { token: tok, rawBody: JSON.stringify({ kind: 'message', body: { text: 'b'.repeat(70 * 1024) } }) });
    assert.equal(res.status, 413, res.text);
  });

  test('malformed JSON is 400 bad_request', async () => {
    const tok = userToken('h-json', 'client', [eng]);
    assertErrorBody(await http('POST', path, { token: tok, rawBody: '{"kind": "message", "body": ' }), 400, 'bad_request');
    assertErrorBody(await http('POST', path, { token: tok, body: { kind: 'teleport', body: {} } }), 400, 'bad_request');
    assertErrorBody(await http('POST', path, { token: tok, body: { kind: 'message', body: { text: '' } } }), 400, 'bad_request');
  });

  test('nothing was stored by the refused requests', async () => {
    const tok = userToken('h-check', 'expert', [eng]);
    const res = await http('GET', path, { token: tok });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json.events.filter((e) => e.from.role !== 'system'), []);
  });
});

describe('service endpoints', () => {
  test('/healthz and /readyz answer 200', async () => {
    assert.equal((await http('GET', '/healthz')).status, 200);
    assert.equal((await http('GET', '/readyz')).status, 200);
  });

  test('/ serves the web client as HTML', async () => {
    const res = await http('GET', '/');
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'] ?? '', /text\/html/);
    assert.match(res.text, /<html|<!doctype html/i);
  });

  test('an unknown API path is 404 with an error body', async () => {
    const res = await http('GET', '/api/v1/nothing-here', { token: userToken('h-404', 'client', ['1']) });
    assert.equal(res.status, 404, res.text);
  });
});
