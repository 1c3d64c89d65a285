// Hostile clients at the front door: the static file server, raw HTTP,
// WebSocket origins, tokens, revocation, connection caps and descriptor
// exhaustion, development mode. Each case asserts the documented answer and
// that a normal client is served afterwards.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

import {
  PARLEY_BIN, cleanup, connect, connectAs, httpRequest, makeTempDir, sleep, startServer, token, uniqueEng, userToken, withTimeout, rawSocket,
} from './harness.mjs';
import { expectOk } from './engagement_helpers.mjs';

after(cleanup);

// One raw HTTP/1.1 exchange: the request bytes exactly as given; resolves to
// the whole response text once the server closes or `idleMs` pass in silence.
function rawHttp(server, requestText, { idleMs = 500 } = {}) {
  return new Promise((resolve) => {
    const sock = rawSocket(server);
    let data = Buffer.alloc(0);
    let timer;
    const done = () => {
      clearTimeout(timer);
      sock.destroy();
      resolve(data.toString('latin1'));
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(done, idleMs);
    };
    sock.on('connect', () => {
      sock.write(Buffer.from(requestText, 'latin1'));
      arm();
    });
    sock.on('data', (d) => {
      data = Buffer.concat([data, d]);
      arm();
    });
    sock.on('close', done);
    sock.on('error', done);
  });
}

const statusOf = (response) => Number(/^HTTP\/1\.[01] (\d{3})/.exec(response)?.[1]);
const get = (target) => `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`;

async function servesNormally(server) {
  const eng = uniqueEng('ok');
  const c = await connectAs(server, userToken(`ok-${eng}`, 'client', [eng]));
  const r = await c.call('post', { ch: `eng:${eng}`, kind: 'message', body: { text: 'still here' } });
  assert.ok(r.seq >= 1);
  await c.close();
}

function cpuSeconds(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;  // utime + stime, in clock ticks of 1/100 s
}

describe('static files are a fixed set loaded at start', () => {
  let server;
  let webRoot;
  const secretText = fs.readFileSync('/etc/passwd', 'utf8').split('\n')[0];

  before(async () => {
    webRoot = makeTempDir('parley-web-');
    fs.writeFileSync(path.join(webRoot, 'index.html'), '<!doctype html><title>Parley</title>');
    fs.mkdirSync(path.join(webRoot, 'css'));
    fs.writeFileSync(path.join(webRoot, 'css', 'site.css'), 'body{}');
    fs.writeFileSync(path.join(webRoot, '.hidden'), 'dotfile contents');
    fs.symlinkSync('/etc/passwd', path.join(webRoot, 'passwd.txt'));
    fs.symlinkSync('/etc', path.join(webRoot, 'etc'));
    server = await startServer({ args: ['--web-root', webRoot] });
    // A file placed after start is not served either: the set is fixed.
    fs.writeFileSync(path.join(webRoot, 'late.txt'), 'late');
  });

  test('paths outside the set answer 404 and never hold the file', async () => {
    const secret = fs.existsSync(path.join(server.dataDir, 'dev-secret'))
      ? fs.readFileSync(path.join(server.dataDir, 'dev-secret'), 'utf8').trim() : server.secret;
    const hostile = [
      '//etc/passwd', '//proc/self/environ', '//proc/self/cwd/data/dev-secret', `/${server.dataDir}/parley.db`,
      '/%2e%2e/%2e%2e/etc/passwd', '/%2e%2e/x', '/..%2f..%2fetc%2fpasswd', '/../../etc/passwd', '/css/../../etc/passwd',
      '/passwd.txt', '/etc/passwd', '/.hidden', '/%2ehidden', '/index.html%00.txt', '/css\\site.css', '/css%5csite.css',
      '/late.txt', '/css//site.css', '/./index.html',
    ];
    for (const target of hostile) {
      const res = await rawHttp(server, get(target));
      assert.equal(statusOf(res), 404, `${target}: ${res.slice(0, 200)}`);
      assert.ok(!res.includes(secretText), `${target} leaked /etc/passwd`);
      assert.ok(!res.includes(secret), `${target} leaked the secret`);
      assert.ok(!res.includes('dotfile contents'), `${target} leaked a dotfile`);
    }
    // A raw NUL in the request line: refused (400 from the parser, or 404), never the file.
    const nul = await rawHttp(server, 'GET /index.html\0/../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.ok([400, 404].includes(statusOf(nul)) || nul === '', nul.slice(0, 100));
    assert.ok(!nul.includes(secretText));
  });

  test('the set is served with a validator, HEAD answers without a body', async () => {
    const res = await httpRequest(server, 'GET', '/');
    assert.equal(res.status, 200);
    assert.match(res.text, /<title>Parley<\/title>/);
    assert.equal(res.headers.server, 'parley');
    assert.match(res.headers['content-security-policy'], /connect-src 'self';/);
    const etag = res.headers.etag;
    assert.match(etag, /^"[0-9a-f]{32}"$/);
    const again = await httpRequest(server, 'GET', '/', { headers: { 'If-None-Match': etag } });
    assert.equal(again.status, 304);
    assert.equal(again.text, '');
    assert.equal((await httpRequest(server, 'GET', '/css/site.css')).text, 'body{}');

    const head = await rawHttp(server, 'HEAD /css/site.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(statusOf(head), 200);
    assert.match(head, /Content-Length: 6\r\n/i);
    assert.ok(head.endsWith('\r\n\r\n'), `HEAD carried a body: ${JSON.stringify(head.slice(-20))}`);
    await servesNormally(server);
  });
});

describe('raw HTTP abuse', () => {
  let server;
  before(async () => {
    server = await startServer({ args: ['--storage-timeout', '2'] });
  });

  test('oversized headers get 431 and malformed requests 400, then the connection closes', async () => {
    const big = `GET / HTTP/1.1\r\nHost: x\r\nX-Filler: ${'a'.repeat(20000)}\r\n\r\n`;
    assert.equal(statusOf(await rawHttp(server, big)), 431);
    assert.equal(statusOf(await rawHttp(server, 'GET / HTTP/9.9\r\nHost: x\r\n\r\n')), 400);
    assert.equal(statusOf(await rawHttp(server, 'GARBAGE\r\n\r\n')), 400);
    assert.equal(statusOf(await rawHttp(server, 'GET / HTTP/1.1\r\nContent-Length: -5\r\n\r\n')), 400);
    await servesNormally(server);
  });

  test('a slow header trickle is cut off by the request deadline, and does not block others', async () => {
    const socks = [];
    for (let i = 0; i < 20; i++) {
      const s = rawSocket(server);
      s.on('error', () => {});
      s.write('GET / HTTP/1.1\r\n');
      socks.push(s);
    }
    const trickle = setInterval(() => socks.forEach((s) => s.writable && s.write('X-a: b\r\n')), 1000);
    try {
      await servesNormally(server);
      assert.equal((await httpRequest(server, 'GET', '/healthz')).status, 200);
    } finally {
      clearInterval(trickle);
      socks.forEach((s) => s.destroy());
    }
  });

  test('a half-open upgrade that never completes costs nothing and others are served', async () => {
    const s = rawSocket(server);
    s.on('error', () => {});
    s.write('GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n');
    await sleep(200);
    await servesNormally(server);
    s.destroy();
  });

  test('the Server header names no version, the hello reply neither', async () => {
    const res = await httpRequest(server, 'GET', '/healthz');
    assert.equal(res.headers.server, 'parley');
    const c = await connect(server.wsUrl);
    const hello = await c.hello(userToken('ver-u', 'client', [uniqueEng()]));
    assert.deepEqual(Object.keys(hello.server).sort(), ['instance', 'protocol']);  // named with --instance by the harness
    await c.close();
    const exposed = await startServer({ args: ['--expose-version'] });
    assert.match((await httpRequest(exposed, 'GET', '/healthz')).headers.server, /^parley\/\d/);
  });
});

describe('WebSocket origins', () => {
  test('a browser Origin must be the server\'s own or listed; no Origin is a bot and allowed', async () => {
    const server = await startServer();
    const refused = await connect(server.wsUrl, { origin: 'https://evil.example' }).then(() => 'opened', (e) => e.message);
    assert.match(refused, /403/);
    const own = await connect(server.wsUrl, { origin: server.url });
    await own.close();
    const bot = await connect(server.wsUrl);
    await bot.close();

    const listed = await startServer({ args: ['--allowed-origin', 'https://app.example', '--allowed-origin', 'https://b.example'] });
    const ok = await connect(listed.wsUrl, { origin: 'https://b.example' });
    await ok.close();
    const notListed = await connect(listed.wsUrl, { origin: `http://127.0.0.1:${listed.port}` }).then(() => 'opened', (e) => e.message);
    assert.match(notListed, /403/);
    await servesNormally(listed);
  });

  test('on a TLS port the own Origin is https:// only; a plain port also takes http:// (a proxy may terminate TLS)', async () => {
    const secure = await startServer({ tls: true });
    const https = await connect(secure.wsUrl, { origin: `https://127.0.0.1:${secure.port}` });
    await https.close();
    const downgraded = await connect(secure.wsUrl, { origin: `http://127.0.0.1:${secure.port}` }).then(() => 'opened', (e) => e.message);
    assert.match(downgraded, /403/);
    await servesNormally(secure);

    const plain = await startServer({ tls: false });
    for (const scheme of ['http', 'https']) {
      const ws = await connect(plain.wsUrl, { origin: `${scheme}://127.0.0.1:${plain.port}` });
      await ws.close();
    }
  });
});

describe('metrics on the operator\'s listener', () => {
  test('with --admin-listen, /metrics needs a service token on the public port and nothing on the admin port', async () => {
    const adminPortProbe = net.createServer();
    await new Promise((r) => adminPortProbe.listen(0, '127.0.0.1', r));
    const adminPort = adminPortProbe.address().port;
    await new Promise((r) => adminPortProbe.close(r));
    const server = await startServer({ args: ['--admin-listen', `127.0.0.1:${adminPort}`] });
    assert.equal((await httpRequest(server, 'GET', '/metrics')).status, 401);
    assert.equal((await httpRequest(server, 'GET', '/metrics', { token: token({ sub: 'p', role: 'service', eng: ['*'] }, { secret: 'forged-secret-forged' }) })).status, 401);
    const service = token({ sub: 'platform', role: 'service', eng: ['*'] });
    assert.equal((await httpRequest(server, 'GET', '/metrics', { token: service })).status, 200);
    const admin = { port: adminPort };
    const m = await httpRequest(admin, 'GET', '/metrics');
    assert.equal(m.status, 200);
    assert.match(m.text, /parley_auth_failures_total 1/);
    // Latency histograms: a post and a join are counted once each, fan-out once per event and worker.
    const countIn = (text, name) => Number(new RegExp(`^${name}_count (\\d+)$`, 'm').exec(text)?.[1]);
    assert.equal(countIn(m.text, 'parley_post_latency_seconds'), 0);
    const poster = await connectAs(server, userToken('metrics-poster', 'client', ['metrics-eng']));
    expectOk(await poster.call('join', { ch: 'eng:metrics-eng' }));
    expectOk(await poster.message('eng:metrics-eng', 'counted'));
    const later = (await httpRequest(admin, 'GET', '/metrics')).text;
    // The first use of the engagement stores its opening phase event too: posts count the client's.
    assert.equal(countIn(later, 'parley_post_latency_seconds'), 1);
    assert.equal(countIn(later, 'parley_join_latency_seconds'), 1);
    assert.ok(countIn(later, 'parley_fanout_latency_seconds') >= 1, later);
    assert.match(later, /^parley_post_latency_seconds_bucket\{le="\+Inf"\} 1$/m);
    assert.match(later, /^# TYPE parley_fanout_latency_seconds histogram$/m);
    poster.close();
    assert.equal((await httpRequest(admin, 'GET', '/readyz')).status, 200);
    assert.equal((await httpRequest(admin, 'GET', '/')).status, 404);
    assert.equal((await httpRequest(admin, 'GET', '/api/v1/engagements/x', { token: service })).status, 404);
    await servesNormally(server);
  });
});

describe('tokens', () => {
  let server;
  before(async () => {
    server = await startServer();
  });

  async function helloCloses(tok) {
    const c = await connect(server.wsUrl);
    const r = await c.request('hello', { token: tok });
    assert.equal(r.ok, false);
    assert.equal(r.error.code, 'unauthorized');
    const closed = await c.waitClosed();
    assert.equal(closed.code, 4003);
    return r.error.message;
  }

  test('lifetime over 30 days, non-integer nbf, future iat and 501 engagements are refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    assert.match(await helloCloses(token({ sub: 't1', role: 'client', eng: ['a'], exp: now + 31 * 86400 })), /lifetime/);
    assert.match(await helloCloses(token({ sub: 't1', role: 'client', eng: ['a'], exp: 32503680000 })), /lifetime/);
    assert.match(await helloCloses(token({ sub: 't1', role: 'client', eng: ['a'], nbf: 'now' })), /nbf/);
    assert.match(await helloCloses(token({ sub: 't1', role: 'client', eng: ['a'], nbf: now + 0.5 })), /nbf/);
    assert.match(await helloCloses(token({ sub: 't1', role: 'client', eng: ['a'], iat: now + 3600 })), /iat/);
    const many = Array.from({ length: 501 }, (_, i) => `e${i}`);
    assert.match(await helloCloses(token({ sub: 't1', role: 'client', eng: many })), /500/);
    await helloCloses(token({ sub: 't1', role: 'client', eng: ['a'] }, { header: { alg: 'none', typ: 'JWT' } }));
    await helloCloses(token({ sub: 't1', role: 'client', eng: ['a'] }, { secret: 'not-the-secret-at-all' }));
    await servesNormally(server);
  });

  test('a far-future exp allowed by a long lifetime does not close the socket at once', async () => {
    const long = await startServer({ args: ['--max-token-lifetime', '400000d'] });
    const c = await connectAs(long, token({ sub: 'far', role: 'client', eng: ['a'], exp: 32503680000 }));
    await sleep(500);
    assert.ok(c.isOpen, `closed: ${JSON.stringify(c.closeInfo)}`);
    await c.call('join', { ch: 'eng:a' });
    await c.close();
  });

  test('audience and issuer, when configured, are required', async () => {
    const strict = await startServer({ args: ['--token-audience', 'parley', '--token-issuer', 'platform'] });
    const c1 = await connect(strict.wsUrl);
    assert.equal((await c1.request('hello', { token: userToken('aud1', 'client', ['x']) })).ok, false);
    const good = userToken('aud1', 'client', ['x'], { aud: 'parley', iss: 'platform' });
    const c2 = await connectAs(strict, good);
    await c2.close();
    const wrongIss = userToken('aud1', 'client', ['x'], { aud: 'parley', iss: 'someone-else' });
    assert.equal((await httpRequest(strict, 'GET', '/api/v1/engagements/x', { token: wrongIss })).status, 401);
  });

  test('a second hello keeps the role, and channels the new token no longer allows are left', async () => {
    const a = uniqueEng('keep');
    const b = uniqueEng('drop');
    const c = await connectAs(server, userToken('renew-u', 'client', [a, b]));
    await c.call('join', { ch: `eng:${a}` });
    await c.call('join', { ch: `eng:${b}` });
    const asExpert = await c.request('hello', { token: userToken('renew-u', 'expert', [a, b]) });
    assert.equal(asExpert.ok, false);
    assert.equal(asExpert.error.code, 'forbidden');
    assert.equal((await c.request('hello', { token: userToken('renew-u', 'client', [a]) })).ok, true);
    const left = await c.waitFor((p) => p.ev === 'presence' && p.ch === `eng:${b}` && p.left?.some((u) => u.id === 'renew-u'));
    assert.ok(left);
    // Still a member of a: a post there arrives; b's events no longer do.
    const other = await connectAs(server, userToken('renew-x', 'expert', [a, b]));
    await other.call('post', { ch: `eng:${b}`, kind: 'message', body: { text: 'not for you any more' } });
    const seen = await other.call('post', { ch: `eng:${a}`, kind: 'message', body: { text: 'for you' } });
    await c.until(() => c.events(`eng:${a}`).some((e) => e.seq === seen.seq));
    assert.ok(!c.events(`eng:${b}`).some((e) => e.body.text === 'not for you any more'));
    await c.close();
    await other.close();
  });
});

describe('revoking a user\'s tokens', () => {
  test('closes the user\'s sockets with 4003, refuses older tokens, accepts newer ones, survives a restart', async () => {
    let server = await startServer();
    const eng = uniqueEng('rv');
    const now = Math.floor(Date.now() / 1000);
    const old = userToken('mallory', 'client', [eng], { iat: now - 60 });
    const noIat = userToken('mallory', 'client', [eng]);
    const bystander = await connectAs(server, userToken('trent', 'client', [eng]));
    const c1 = await connectAs(server, old);
    const c2 = await connectAs(server, noIat);
    const service = token({ sub: 'platform', role: 'service', eng: ['*'] });

    assert.equal((await httpRequest(server, 'POST', '/api/v1/users/mallory/revoke', { token: userToken('trent', 'client', [eng]) })).status, 403);
    assert.equal((await httpRequest(server, 'POST', '/api/v1/users/mallory/revoke')).status, 401);
    for (const bad of ['/api/v1/users//revoke', '/api/v1/users/%zz/revoke', `/api/v1/users/${'u'.repeat(129)}/revoke`]) {
      assert.equal((await httpRequest(server, 'POST', bad, { token: service })).status, 400, bad);
    }
    assert.equal((await httpRequest(server, 'GET', '/api/v1/users/mallory/revoke', { token: service })).status, 400);
    const r = await httpRequest(server, 'POST', '/api/v1/users/mallory/revoke', { token: service });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.user, 'mallory');
    assert.ok(r.json.valid_after > now);
    assert.equal((await c1.waitClosed()).code, 4003);
    assert.equal((await c2.waitClosed()).code, 4003);
    assert.ok(bystander.isOpen);

    const refused = await connect(server.wsUrl);
    assert.match((await refused.request('hello', { token: old })).error.message, /revoked/);
    assert.equal((await httpRequest(server, 'GET', `/api/v1/engagements/${eng}`, { token: old })).status, 401);
    const fresh = userToken('mallory', 'client', [eng], { iat: r.json.valid_after });
    const c3 = await connectAs(server, fresh);
    await c3.close();
    await bystander.close();

    // Durable: a crash and restart still refuses the old token.
    await server.kill();
    server = await server.restart();
    const again = await connect(server.wsUrl);
    assert.equal((await again.request('hello', { token: old })).ok, false);
    await connectAs(server, fresh).then((c) => c.close());
  });
});

describe('connection caps', () => {
  test('WebSockets per user: the one over the cap is closed with 4008', async () => {
    const server = await startServer({ args: ['--max-ws-per-user', '2'] });
    const tok = userToken('capped', 'client', [uniqueEng()]);
    const a = await connectAs(server, tok);
    const b = await connectAs(server, tok);
    const c = await connect(server.wsUrl);
    const r = await c.request('hello', { token: tok });
    assert.equal(r.ok, false);
    assert.equal((await c.waitClosed()).code, 4008);
    await a.close();
    await sleep(100);
    const d = await connectAs(server, tok);  // a slot was given back
    await Promise.all([b.close(), d.close()]);
    await servesNormally(server);
  });

  test('unauthenticated sockets per address: over the cap, HTTP 503 before the upgrade', async () => {
    const server = await startServer({ args: ['--max-unauth-per-ip', '4'] });
    const held = [];
    for (let i = 0; i < 4; i++) held.push(await connect(server.wsUrl));  // upgraded, no hello yet
    const over = await connect(server.wsUrl).then(() => 'opened', (e) => e.message);
    assert.match(over, /503/);
    assert.equal((await httpRequest(server, 'GET', '/healthz')).status, 503);
    // Saying hello gives the slot back.
    await held[0].hello(userToken('unauth-ok', 'client', ['x']));
    await sleep(50);
    assert.equal((await httpRequest(server, 'GET', '/healthz')).status, 200);
    await Promise.all(held.map((c) => c.close()));
  });

  // Not under the sanitizers: their runtime needs descriptors of its own (UBSan
  // checks a vptr through a pipe), so with none left it reports objects it cannot read.
  test('out of descriptors: accepting pauses instead of spinning, logs little, and serves again',
    { skip: process.env.PARLEY_SANITIZED ? 'the sanitizer runtime itself needs descriptors' : false }, async () => {
    const server = await startServer({ wrap: ['prlimit', '--nofile=64:64'] });
    const cpuBefore = cpuSeconds(server.proc.pid);
    const logBefore = server.logs().length;
    const socks = [];
    for (let i = 0; i < 80; i++) {
      const s = rawSocket(server);
      s.on('error', () => {});
      socks.push(s);
    }
    await sleep(3000);
    const cpu = cpuSeconds(server.proc.pid) - cpuBefore;
    const lines = server.logs().slice(logBefore).split('\n').filter((l) => /accept_paused|connection_refused/.test(l));
    assert.ok(cpu < 1.0, `server used ${cpu} s of CPU in 3 s while out of descriptors`);
    assert.ok(lines.length < 100, `${lines.length} log lines in 3 s`);
    assert.ok(lines.length > 0, 'the pause or refusal was logged');
    socks.forEach((s) => s.destroy());
    await sleep(600);
    await servesNormally(server);
  });
});

describe('development mode is explicit', () => {
  test('without a secret and without --dev the server refuses to start with one line', async () => {
    const dataDir = makeTempDir('parley-nodev-');
    const proc = spawn(PARLEY_BIN, ['--listen', '127.0.0.1:0', '--data-dir', dataDir], {
      env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PARLEY_'))),
    });
    let stderr = '';
    proc.stderr.on('data', (d) => { stderr += d; });
    const code = await withTimeout(new Promise((r) => proc.on('exit', r)), 10000);
    assert.notEqual(code, 0);
    assert.equal(stderr.trim().split('\n').length, 1, stderr);
    assert.match(stderr, /--dev/);
    assert.ok(!fs.existsSync(path.join(dataDir, 'dev-secret')));
  });

  test('--dev makes a 0600 secret in a 0700 data directory, and never writes through a link', async () => {
    const parent = makeTempDir('parley-dev-');
    const dataDir = path.join(parent, 'data');
    const server = await startServer({ dataDir, secret: '', args: ['--dev'] });
    const secretFile = path.join(dataDir, 'dev-secret');
    assert.equal(fs.statSync(secretFile).mode & 0o777, 0o600);
    assert.equal(fs.statSync(dataDir).mode & 0o777, 0o700);
    for (let i = 0; i < 50 && !/#token=/.test(server.logs()); i++) await sleep(20);
    assert.match(server.logs(), /#token=/);
    await server.stop();

    const linked = path.join(parent, 'linked');
    fs.mkdirSync(linked, { mode: 0o700 });
    const target = path.join(parent, 'victim');
    fs.writeFileSync(target, 'do not touch');
    fs.symlinkSync(target, path.join(linked, 'dev-secret'));
    await assert.rejects(startServer({ dataDir: linked, secret: '', args: ['--dev'] }));
    assert.equal(fs.readFileSync(target, 'utf8'), 'do not touch');
  });
});
