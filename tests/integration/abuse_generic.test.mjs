// The generic abuse suite: one test per hostile input (protocol §2, §3, §8 and
// protocol/README.md "Abuse suite"). Each asserts the documented answer and that
// the server still serves a normal client afterwards. Runs against both engines.
//
// Slowloris and half-open upgrade sockets are opened before the first test and
// stay open while every other test runs, so the whole file also checks that
// they do not stop normal service; the last test checks they were closed
// within the HTTP request timeout.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  assertChain, httpDecisionsJsonl, verifyLog,
} from './engagement_helpers.mjs';
import {
  cleanup, connect, connectAs, DEFAULT_SECRET, httpFor, makeTempDir, readAll, rssMiB, sleep, startServer, token, uniqueEng, userToken, rawSocket,
} from './harness.mjs';

const MAX_FRAME = 65536;           // protocol §8 default
const REQUEST_TIMEOUT_MS = 30000;  // the server's HTTP request (header) timeout
const SLOW_SOCKETS = 20;
const HALF_OPEN_SOCKETS = 5;

let server;
let http;
let slowStarted = 0;
const slowSockets = [];  // {sock, kind, closedAt: Promise<ms since slowStarted>}

before(async () => {
  server = await startServer();
  http = httpFor(server);
  slowStarted = Date.now();
  for (let i = 0; i < SLOW_SOCKETS + HALF_OPEN_SOCKETS; i++) {
    const kind = i < SLOW_SOCKETS ? 'slowloris' : 'half-open';
    const sock = rawSocket(server);
    sock.on('error', () => {});
    sock.on('data', () => {});  // a 408 or 400 before the close is fine
    const closedAt = new Promise((resolve) => sock.on('close', () => resolve(Date.now() - slowStarted)));
    sock.on('connect', () => {
      if (kind === 'slowloris') {
        sock.write('GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
      } else {
        // A WebSocket upgrade that never finishes: its last header line never ends.
        sock.write('GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
          + 'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Prot');
      }
    });
    slowSockets.push({ sock, kind, closedAt });
  }
  // One header byte a second from every slowloris socket while it is open.
  const drip = setInterval(() => {
    let open = 0;
    for (const s of slowSockets) {
      if (s.kind === 'slowloris' && !s.sock.destroyed && s.sock.writable) {
        s.sock.write('a');
        open++;
      }
    }
    if (open === 0) clearInterval(drip);
  }, 1000);
  drip.unref();
});
after(async () => {
  for (const s of slowSockets) s.sock.destroy();
  await cleanup();
});

// Server memory may grow this much under an attack. Under AddressSanitizer
// (PARLEY_SANITIZED, tests/sanitize/run.sh) freed memory is held in
// quarantine and RSS says nothing: leaks are LeakSanitizer's job there.
const RSS_GROWTH_MIB = process.env.PARLEY_SANITIZED ? Infinity : 64;

// A normal client is served: hello, post, join sees the post; HTTP answers.
async function assertServes(srv = server) {
  const eng = uniqueEng('ok');
  const ch = `eng:${eng}`;
  const c = await connectAs(srv, userToken(`normal-${eng}`, 'client', [eng]));
  const p = await c.message(ch, 'still served');
  assert.equal(p.ok, true, JSON.stringify(p));
  const j = await c.join(ch);
  assert.equal(j.ok, true, JSON.stringify(j));
  assert.equal(j.events.at(-1).seq, p.seq);
  await c.close();
  const h = await httpFor(srv)('GET', '/healthz');
  assert.equal(h.status, 200);
}

async function helloed(sub, srv = server) {
  const eng = uniqueEng();
  const c = await connectAs(srv, userToken(sub, 'client', [eng]));
  return { c, eng, ch: `eng:${eng}` };
}

describe('framing', () => {
  test('a frame over 64 KiB closes with 1009', async () => {
    const { c, ch } = await helloed('ab-big');
    c.send({ id: 1, op: 'post', ch, kind: 'message', body: { text: 'x'.repeat(MAX_FRAME + 10) } });
    assert.equal((await c.waitClosed()).code, 1009);
    await assertServes();
  });

  test('deeply nested JSON is answered bad_request and the connection stays open', async () => {
    const { c, ch } = await helloed('ab-deep');
    // Nesting a recursive parser would choke on: 60 000 levels in one frame under the limit.
    const deep = '['.repeat(30000) + ']'.repeat(30000);
    // Too deep to read even its id: the reply may carry none.
    const before = c.replies.length;
    c.sendRaw(`{"id":901,"op":"join","ch":"${ch}","x":${deep}}`);
    const r1 = await c.until(() => c.replies[before]);
    assert.equal(r1.error.code, 'bad_request');
    c.sendRaw(`{"id":902,"op":"post","ch":"${ch}","kind":"proposal","body":{"topic":"timeline","text":"t","terms":`
      + `${'{"a":'.repeat(20)}1${'}'.repeat(20)}}}`);
    const r2 = await c.waitForReply((r) => r.id === 902);
    assert.equal(r2.ok, false);
    assert.equal(r2.error.code, 'bad_request');
    assert.equal(c.isOpen, true);
    const j = await c.join(ch);
    assert.equal(j.ok, true, JSON.stringify(j));
    assert.equal(j.events.some((e) => e.kind === 'proposal'), false, 'nothing refused was stored');
    await c.close();
    await assertServes();
  });

  test('invalid UTF-8 closes with 1007', async () => {
    const { c } = await helloed('ab-utf8');
    // An overlong encoding of '/' and a lone continuation byte inside a string.
    c.sendRaw(Buffer.concat([Buffer.from('{"id":1,"op":"join","ch":"eng:'), Buffer.from([0xc0, 0xaf, 0x80]), Buffer.from('"}')]));
    assert.equal((await c.waitClosed()).code, 1007);
    await assertServes();
  });

  test('a binary frame closes with 4008', async () => {
    const { c, ch } = await helloed('ab-bin');
    c.sendRaw(Buffer.from(JSON.stringify({ id: 1, op: 'join', ch })), { binary: true });
    assert.equal((await c.waitClosed()).code, 4008);
    await assertServes();
  });

  test('garbage after hello is answered bad_request, then the burst closes with 4008', async () => {
    const { c } = await helloed('ab-garbage');
    for (let i = 0; i < 40 && c.isOpen; i++) c.sendRaw(i % 2 ? 'not json at all' : '\u0000\u0001[}');
    const info = await c.waitClosed();
    assert.equal(info.code, 4008);
    const refused = c.replies.filter((r) => r.ok !== true);
    assert.ok(refused.length >= 1, 'garbage before the close is answered');
    for (const r of refused) assert.equal(r.error?.code, 'bad_request', JSON.stringify(r));
    await assertServes();
  });
});

describe('ranges', () => {
  test('huge or negative limit, since and before are answered bad_request and change nothing', async () => {
    const { c, ch } = await helloed('ab-range');
    const one = await c.message(ch, 'one');
    assert.equal(one.ok, true);
    const huge = ['1e400', '18446744073709551616', '9223372036854775808', '-1', '1.5', '"5"', '1e3'];
    const cases = [];
    for (const v of huge) {
      cases.push(`{"op":"join","ch":"${ch}","limit":${v}}`);
      cases.push(`{"op":"history","ch":"${ch}","limit":${v}}`);
      cases.push(`{"op":"history","ch":"${ch}","before":${v}}`);
      if (v !== '1e3') cases.push(`{"op":"join","ch":"${ch}","since":${v}}`);
    }
    cases.push(`{"op":"join","ch":"${ch}","limit":501}`);
    cases.push(`{"op":"history","ch":"${ch}","before":0}`);
    let id = 100;
    for (const frame of cases) {
      // A number out of double range makes the frame invalid JSON: its reply has no id.
      const before = c.replies.length;
      c.sendRaw(frame.replace('{', `{"id":${id++},`));
      const r = await c.until(() => c.replies[before]);
      assert.equal(r.ok, false, `${frame} -> ${JSON.stringify(r)}`);
      assert.equal(r.error.code, 'bad_request', `${frame} -> ${JSON.stringify(r)}`);
    }
    assert.equal(c.isOpen, true);
    const tok = userToken('ab-range', 'client', [ch.slice(4)]);
    for (const q of ['limit=99999999999999999999', 'limit=501', 'after=-1', 'before=0', 'before=1e3', 'after=%zz']) {
      const r = await http('GET', `/api/v1/channels/${ch}/events?${q}`, { token: tok });
      assert.equal(r.status, 400, `${q} -> ${r.status} ${r.text}`);
      assert.equal(r.json.error.code, 'bad_request');
    }
    const j = await c.join(ch);
    assert.equal(j.head, one.seq, 'nothing was stored after the one message');
    await c.close();
    await assertServes();
  });

  test('route paths that only look like API routes answer 404 and never a crash', async () => {
    const tok = userToken('ab-route', 'client', ['1']);
    for (const p of ['/api/v1/channels/events', '/api/v1/channels/', '/api/v1/channels//events',
      '/api/v1/engagements//decisions', '/api/v1/channels/%/events', '/api/v1/engagements/decisions']) {
      const r = await http('GET', p, { token: tok });
      assert.ok([400, 403, 404].includes(r.status), `${p} -> ${r.status} ${r.text}`);
      assert.ok(r.json?.error?.code, `${p} answers a protocol error: ${r.text}`);
    }
    await assertServes();
  });
});

describe('decision log', () => {
  test('terms holding doubles that are hard to round keep the exported log verifiable', async () => {
    const eng = uniqueEng('dl');
    const ch = `eng:${eng}`;
    const client = await connectAs(server, userToken('ab-dl-client', 'client', [eng]));
    const expert = await connectAs(server, userToken('ab-dl-expert', 'expert', [eng]));
    // Shortest forms that a less careful JSON parser reads as the neighbouring double.
    const terms = { rate: 0.00013630026935653133, big: 9007199254740991, huge: 1.2345678901234567e300, tiny: 5e-324, neg: -1.7976931348623157e308 };
    const p = await client.post(ch, 'proposal', { topic: 'compensation', text: 'rates', terms });
    assert.equal(p.ok, true, JSON.stringify(p));
    const d = await expert.post(ch, 'decision', { proposal: p.seq, verdict: 'accepted' });
    assert.equal(d.ok, true, JSON.stringify(d));
    const tok = userToken('ab-dl-client', 'client', [eng]);
    const jsonl = await httpDecisionsJsonl(server, tok, eng);
    const records = jsonl.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    assert.deepEqual(records.at(-1).terms, terms);
    assertChain(records);
    const file = path.join(makeTempDir('parley-abuse-'), 'log.jsonl');
    fs.writeFileSync(file, jsonl);
    const v = await verifyLog(file);
    assert.equal(v.code, 0, `parley verify-log: ${v.stdout} ${v.stderr}`);
    await Promise.all([client.close(), expert.close()]);
    await assertServes();
  });
});

describe('joins', () => {
  test('10 000 joins and leaves on one connection are all answered and leave memory bounded', async () => {
    // The per-user request rate is lifted: this is about what the joins cost, not how fast they may come.
    const server = await startServer({ args: ['--request-rate', '1000000', '--request-burst', '1000000'] });
    const { c, ch } = await helloed('ab-joins', server);
    const rssBefore = rssMiB(server);
    const cycles = 10000;
    const window = 64;
    let done = 0;
    const codes = new Map();
    const inflight = new Set();
    for (let i = 0; i < cycles && c.isOpen; i++) {
      for (const op of ['join', 'leave']) {
        const p = c.request(op, { ch }, { timeoutMs: 30000 }).then((r) => {
          const k = r.ok ? 'ok' : r.error.code;
          codes.set(k, (codes.get(k) ?? 0) + 1);
          done++;
          inflight.delete(p);
        });
        inflight.add(p);
      }
      // At most `window` requests in flight (the server still pauses reading:
      // joins are heavy). Not thousands queued in the client: Node's TLS socket
      // then stops reading while its writes wait, and the server, which stops
      // reading while its replies cannot go out, waits for it (the TLS pass).
      while (inflight.size >= window) await Promise.race(inflight);
    }
    await Promise.all(inflight);
    assert.equal(done, 2 * cycles, `every request answered: ${JSON.stringify([...codes])}`);
    // A leave that overtakes its join finds nothing to leave (not_found) or cancels it (conflict).
    for (const k of codes.keys()) assert.ok(['ok', 'rate_limited', 'conflict', 'not_found'].includes(k), `answer ${k}: ${JSON.stringify([...codes])}`);
    assert.equal(c.isOpen, true);
    const grown = rssMiB(server) - rssBefore;
    assert.ok(grown < RSS_GROWTH_MIB, `server RSS grew ${grown.toFixed(1)} MiB over ${cycles} join/leave cycles`);
    process.stdout.write(`# 10 000 join/leave cycles: ${JSON.stringify(Object.fromEntries(codes))}, RSS +${grown.toFixed(1)} MiB\n`);
    await c.close();
    await assertServes(server);
  });
});

describe('tokens', () => {
  const now = () => Math.floor(Date.now() / 1000);
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const claims = () => ({ sub: 'ab-tok', role: 'client', eng: ['1'], exp: now() + 600 });
  const bad = {
    'a forged payload': () => {
      const [h, , s] = userToken('ab-tok', 'client', ['1']).split('.');
      return `${h}.${b64({ ...claims(), role: 'support', eng: ['*'] })}.${s}`;
    },
    'an expired token': () => token({ ...claims(), exp: now() - 3600 }),
    'alg none': () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims())}.`,
    'alg none with a signature': () => {
      const [, p, s] = token(claims()).split('.');
      return `${b64({ alg: 'none' })}.${p}.${s}`;
    },
    'HS512 in the header': () => token(claims(), { header: { alg: 'HS512', typ: 'JWT' } }),
    'a wrong secret': () => token(claims(), { secret: `${DEFAULT_SECRET}-not` }),
    'padded base64': () => token(claims()).replace(/\./, '=.'),
  };
  for (const [what, make] of Object.entries(bad)) {
    test(`hello with ${what} closes with 4003 and HTTP answers 401`, async () => {
      const tok = make();
      const c = await connect(server.wsUrl);
      const reply = c.request('hello', { token: tok }).catch(() => null);
      assert.equal((await c.waitClosed()).code, 4003);
      const r = await reply;
      if (r) assert.equal(r.error?.code, 'unauthorized', JSON.stringify(r));
      assert.equal(c.replies.some((x) => x.ok === true), false);
      const h = await http('GET', '/api/v1/engagements/1', { token: tok });
      assert.equal(h.status, 401, h.text);
      await assertServes();
    });
  }
});

describe('floods', () => {
  // Posts as fast as the socket takes them until the connection is closed or
  // `max` were sent; every answer is ok or one of `refusals`, and no refused
  // post is stored.
  async function flood(kind, makeBody, refusals) {
    const eng = uniqueEng('fl');
    const ch = `eng:${eng}`;
    const c = await connectAs(server, userToken(`ab-flood-${kind}`, 'client', [eng]));
    const replies = [];
    const max = 2000;
    for (let i = 0; i < max && c.isOpen; i++) {
      const cid = `${kind}-${i}`;
      c.post(ch, kind, makeBody(i), { cid }).then((r) => replies.push({ cid, r }), () => {});
      if (i % 50 === 49) await sleep(1);
    }
    const info = await c.waitClosed(20000);
    assert.equal(info.code, 4008, 'continued abuse closes with 4008');
    const refused = replies.filter((x) => !x.r.ok);
    assert.ok(refused.some((x) => x.r.error.code === 'rate_limited'), 'the flood is answered rate_limited');
    for (const x of refused) assert.ok(refusals.includes(x.r.error.code), JSON.stringify(x.r));
    const reader = await connectAs(server, userToken(`ab-flood-reader-${kind}`, 'support', ['*']));
    const stored = await readAll(reader, ch);
    const storedCids = new Set(stored.map((e) => e.cid).filter(Boolean));
    for (const x of refused) assert.equal(storedCids.has(x.cid), false, `refused ${x.cid} was stored`);
    for (const x of replies.filter((y) => y.r.ok)) assert.ok(storedCids.has(x.cid), `acknowledged ${x.cid} is stored`);
    await reader.close();
    await assertServes();
  }

  test('a proposal flood is answered rate_limited, then closed with 4008; nothing refused is stored', async () => {
    await flood('proposal', (i) => ({ topic: 'timeline', text: `plan ${i}`, terms: { weeks: i } }), ['rate_limited', 'conflict']);
  });

  test('a flag flood is answered rate_limited, then closed with 4008; nothing refused is stored', async () => {
    await flood('flag', (i) => ({ type: 'risk', text: `risk ${i}` }), ['rate_limited', 'conflict']);
  });
});

describe('slow consumers', () => {
  test('a client that never reads while events are pushed is closed and server memory stays bounded', async () => {
    const srv = await startServer({
      args: ['--max-queue', '262144', '--write-timeout', '5', '--post-rate', '100000', '--post-burst', '100000'],
    });
    const eng = uniqueEng('sl');
    const ch = `eng:${eng}`;
    const sleeper = await connectAs(srv, userToken('ab-sleeper', 'client', [eng]));
    assert.equal((await sleeper.join(ch)).ok, true);
    const poster = await connectAs(srv, userToken('ab-pusher', 'expert', [eng]));
    const rssBefore = rssMiB(srv);
    sleeper.ws._socket.pause();
    const text = 'w'.repeat(8000);
    let gone = false;
    poster.onPush((p) => {
      if (p.ev === 'presence' && (p.left ?? []).some((u) => u.id === 'ab-sleeper')) gone = true;
    });
    assert.equal((await poster.join(ch)).ok, true);
    // Far more than socket buffers and the queue limit together, unless the sleeper goes first.
    const inflight = new Set();
    for (let i = 0; i < 3000 && !gone; i++) {
      const p = poster.message(ch, text).then((r) => {
        assert.equal(r.ok, true, JSON.stringify(r));
        inflight.delete(p);
      });
      inflight.add(p);
      if (inflight.size >= 16) await Promise.race(inflight);
    }
    await Promise.all(inflight);
    const grown = rssMiB(srv) - rssBefore;
    sleeper.ws._socket.resume();
    const info = await sleeper.waitClosed(30000);
    assert.ok(info.code === 4001 || info.code === 1006, `closed 4001 or by the write deadline, got ${JSON.stringify(info)}`);
    assert.ok(grown < RSS_GROWTH_MIB, `server RSS grew ${grown.toFixed(1)} MiB while a client did not read`);
    assert.equal(poster.isOpen, true);
    await poster.close();
    await assertServes(srv);
    assert.equal(await srv.stop(), 0);
  });
});

describe('slow and half-open HTTP', () => {
  test(`${SLOW_SOCKETS} slowloris and ${HALF_OPEN_SOCKETS} half-open upgrade sockets are closed within the request timeout`, async () => {
    // They have been open during every test above; service goes on meanwhile.
    await assertServes();
    const limit = REQUEST_TIMEOUT_MS + 10000;
    const left = Math.max(limit - (Date.now() - slowStarted), 1000);
    const closed = await Promise.race([
      Promise.all(slowSockets.map((s) => s.closedAt)),
      sleep(left).then(() => null),
    ]);
    const open = slowSockets.filter((s) => !s.sock.destroyed).map((s) => s.kind);
    assert.ok(closed, `still open after ${limit} ms: ${open.length} (${[...new Set(open)].join(', ')})`);
    for (const ms of closed) assert.ok(ms <= limit, `closed after ${ms} ms`);
    process.stdout.write(`# slow sockets closed after ${Math.min(...closed)}–${Math.max(...closed)} ms\n`);
    await assertServes();
  });
});
