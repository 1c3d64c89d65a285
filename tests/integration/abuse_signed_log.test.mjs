// Hostile input against the signed decision log and the I-JSON rule
// (protocol §9.11, RFC 7493): numbers JavaScript cannot hold exactly, numbers
// beyond a double, odd requests to /api/v1/keys, and hostile files for
// `parley verify-log`. Each case gets its documented answer, stores nothing,
// and the server still serves a normal client afterwards.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import {
  cleanup, connectAs, httpRequest, makeTempDir, startServer, uniqueEng, userToken,
} from './harness.mjs';
import { expectOk, httpDecisions, httpHead, verifyLog } from './engagement_helpers.mjs';

let server;
before(async () => {
  server = await startServer();
});
after(cleanup);

// Numbers as they appear in the JSON text: JSON.stringify cannot write them.
const HOSTILE_NUMBERS = [
  ['2^53+1', '9007199254740993', 'integers must lie within'],
  ['-(2^53+1)', '-9007199254740993', 'integers must lie within'],
  ['2^53', '9007199254740992', 'integers must lie within'],
  ['2^63-1', '9223372036854775807', 'integers must lie within'],
  ['2^64', '18446744073709551616', 'a number is malformed or out of range'],
  ['1e400', '1e400', 'a number is malformed or out of range'],
  ['-1e400', '-1e400', 'a number is malformed or out of range'],
];

function proposalText(number) {
  return `{"topic":"compensation","text":"Pay","terms":{"amount":${number},"nested":[{"x":${number}}]}}`;
}

// The engagement's main channel head and its decision-log length: nothing may change.
async function snapshot(tok, eng) {
  return { head: await httpHead(server, tok, `eng:${eng}`), records: (await httpDecisions(server, tok, eng)).length };
}

// A normal client posts a message and gets it stored.
async function stillServes(eng) {
  const c = await connectAs(server, userToken(`${eng}-calm`, 'client', [eng]));
  expectOk(await c.message(`eng:${eng}`, 'still here'), 'a normal post afterwards');
  await c.close();
}

describe('I-JSON numbers in post bodies', () => {
  test('over WebSocket: bad_request with the request id, nothing stored, the connection stays open', async () => {
    const eng = uniqueEng('ijson');
    const tok = userToken(`${eng}-c`, 'client', [eng]);
    const c = await connectAs(server, tok);
    expectOk(await c.message(`eng:${eng}`, 'first'));
    const before = await snapshot(tok, eng);
    let id = 900000;
    for (const [name, number, message] of HOSTILE_NUMBERS) {
      const frame = `{"id":${++id},"op":"post","ch":"eng:${eng}","kind":"proposal","body":${proposalText(number)}}`;
      const wanted = id;
      c.sendRaw(frame);
      const reply = await c.waitForReply((r) => r.id === wanted);
      assert.equal(reply.ok, false, `${name}: ${JSON.stringify(reply)}`);
      assert.equal(reply.error.code, 'bad_request', `${name}: ${JSON.stringify(reply)}`);
      assert.ok(reply.error.message.startsWith(message), `${name}: ${reply.error.message}`);
    }
    // The same, many times over (within the post burst): refused every time, never closed.
    const repeats = await Promise.all(Array.from({ length: 30 }, (_, i) => {
      const wanted = ++id;
      c.sendRaw(`{"id":${wanted},"op":"post","ch":"eng:${eng}","kind":"proposal","body":${proposalText(HOSTILE_NUMBERS[i % HOSTILE_NUMBERS.length][1])}}`);
      return c.waitForReply((r) => r.id === wanted);
    }));
    for (const r of repeats) assert.equal(r.error?.code, 'bad_request', JSON.stringify(r));
    assert.ok(c.isOpen, 'the connection stays open');
    assert.deepEqual(await snapshot(tok, eng), before, 'nothing was stored');
    // Within the limit is fine, on the same connection.
    expectOk(await c.post(`eng:${eng}`, 'proposal', {
      topic: 'compensation', text: 'Pay', terms: { amount: 9007199254740991, min: -9007199254740991, rate: 1e300 },
    }), 'integers of ±(2^53-1) and large finite doubles are accepted');
    await stillServes(eng);
  });

  test('over HTTP: 400 bad_request, nothing stored', async () => {
    const eng = uniqueEng('ijson-http');
    const tok = userToken(`${eng}-c`, 'client', [eng]);
    const c = await connectAs(server, tok);
    expectOk(await c.message(`eng:${eng}`, 'first'));
    const before = await snapshot(tok, eng);
    for (const [name, number, message] of HOSTILE_NUMBERS) {
      const r = await httpRequest(server, 'POST', `/api/v1/channels/eng%3A${eng}/events`, {
        token: tok, rawBody: `{"kind":"proposal","body":${proposalText(number)}}`,
      });
      assert.equal(r.status, 400, `${name}: ${r.status} ${r.text}`);
      assert.equal(r.json?.error?.code, 'bad_request', `${name}: ${r.text}`);
      assert.ok(r.json.error.message.startsWith(message), `${name}: ${r.text}`);
    }
    // A message's reply_to is an integer too.
    const reply = await httpRequest(server, 'POST', `/api/v1/channels/eng%3A${eng}/events`, {
      token: tok, rawBody: '{"kind":"message","body":{"text":"hi","reply_to":9007199254740993}}',
    });
    assert.equal(reply.status, 400, reply.text);
    assert.deepEqual(await snapshot(tok, eng), before, 'nothing was stored');
    await c.close();
    await stillServes(eng);
  });
});

describe('the key set endpoint', () => {
  test('other methods, query strings and odd headers get a clear answer; the keys never change', async () => {
    const first = await httpRequest(server, 'GET', '/api/v1/keys');
    assert.equal(first.status, 200);
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const r = await httpRequest(server, method, '/api/v1/keys', { rawBody: '{"keys":[]}' });
      assert.equal(r.status, 400, `${method}: ${r.text}`);
      assert.equal(r.json?.error?.code, 'bad_request');
    }
    const odd = await httpRequest(server, 'GET', '/api/v1/keys?kid=../../etc&x=%00', { headers: { Authorization: 'Bearer x' } });
    assert.equal(odd.status, 200);
    assert.equal(odd.text, first.text);
    const sub = await httpRequest(server, 'GET', '/api/v1/keys/anything');
    assert.equal(sub.status, 404);
    const many = await Promise.all(Array.from({ length: 50 }, () => httpRequest(server, 'GET', '/api/v1/keys')));
    for (const r of many) assert.equal(r.text, first.text);
    await stillServes(uniqueEng('keys'));
  });
});

describe('verify-log on hostile files', () => {
  test('oversized, malformed and misleading inputs fail with one line and a non-zero exit', async () => {
    const dir = makeTempDir('parley-hostile-');
    const write = (name, text) => {
      const f = path.join(dir, name);
      fs.writeFileSync(f, text);
      return f;
    };
    const keys = write('keys.json', (await httpRequest(server, 'GET', '/api/v1/keys')).text);
    const record = `{"n":1,"eng":"x","prev":"${'0'.repeat(64)}","hash":"${'0'.repeat(64)}"}`;
    const cases = [
      ['a duplicate key', write('dup.jsonl', `{"n":1,"n":1,"eng":"x"}\n`), [], 1, /duplicate key n/],
      ['an integer of 2^53+1', write('big.jsonl', `{"n":9007199254740993}\n`), [], 1, /integers must lie within/],
      ['1e400', write('inf.jsonl', `{"n":1,"x":1e400}\n`), [], 1, /malformed or out of range/],
      ['deep nesting', write('deep.jsonl', `${'['.repeat(5000)}${']'.repeat(5000)}\n`), [], 1, /line 1/],
      ['not JSON', write('junk.jsonl', '\u0000\u0001garbage\n'), [], 1, /line 1/],
      ['a line of 5 MiB', write('long.jsonl', `${'x'.repeat(5 * 1024 * 1024)}\n`), [], 1, /longer than/],
      ['a record without sig', write('nosig.jsonl', `${record}\n`), ['--keys', keys], 1, /hash mismatch|no sig/],
      ['keys that are not a JWK Set', write('l1.jsonl', `${record}\n`), ['--keys', write('k1.json', '{"keys":{}}')], 2, /JWK Set/],
      ['keys with a kid that is not the thumbprint', write('l2.jsonl', ''),
        ['--keys', write('k2.json', '{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"mine"}]}')], 2, /thumbprint/],
      ['a keys file of 2 MiB', write('l3.jsonl', ''), ['--keys', write('k3.json', ' '.repeat(2 * 1024 * 1024))], 2, /too large/],
      ['a head that is not a hash', write('l4.jsonl', ''), ['--head', 'zz'], 2, /--head/],
      ['a negative --min-records', write('l5.jsonl', ''), ['--min-records', '-1'], 2, /--min-records/],
      ['an empty export with --min-records 1', write('empty.jsonl', ''), ['--min-records', '1'], 1, /only 0 records/],
    ];
    for (const [name, file, args, code, pattern] of cases) {
      const res = await verifyLog(file, 20000, args);
      assert.equal(res.code, code, `${name}: ${JSON.stringify({ ...res, stdout: res.stdout.slice(0, 200) })}`);
      assert.match(res.stderr, pattern, `${name}: ${res.stderr.slice(0, 300)}`);
      assert.doesNotMatch(res.stdout, /^ok:/, name);
    }
    await stillServes(uniqueEng('vl'));
  });
});
