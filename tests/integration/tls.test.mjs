// TLS built in (--tls-cert, --tls-key, --redirect-listen): runs in every
// pass and starts its own TLS servers, with certificates made here by the
// openssl command line and a test CA the clients trust.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import {
  PARLEY_BIN, cleanup, connect, connectAs, httpRequest, makeCa, makeCert, makeTempDir, signingKeyPath, sleep,
  startServer, token, uniqueEng, userToken,
} from './harness.mjs';

let dir;
let ca;
let caPem;

before(() => {
  dir = makeTempDir('parley-tls-test-');
  ca = makeCa(dir);
  caPem = fs.readFileSync(ca.cert);
});
after(cleanup);

// A server pair signed by the test CA, copied to files of the server's own (so that a test can replace them).
function pairFiles(name, into = makeTempDir('parley-tls-pair-')) {
  const p = makeCert(dir, name, ca, { cn: name });
  const files = { cert: path.join(into, 'cert.pem'), key: path.join(into, 'key.pem'), ca: caPem };
  fs.copyFileSync(p.cert, files.cert);
  fs.copyFileSync(p.key, files.key);
  return { ...files, issued: p };
}

// A TLS connection; resolves to the socket once the handshake is done, rejects on its failure.
function tlsConnect(port, options = {}) {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ port, host: '127.0.0.1', ca: caPem, ...options });
    s.once('secureConnect', () => resolve(s));
    s.once('error', reject);
  });
}

// Resolves once the peer closes (with what it sent), or to null when it is still open after `ms`.
function closedWithin(sock, ms) {
  return new Promise((resolve) => {
    const chunks = [];
    const timer = setTimeout(() => resolve(null), ms);
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', () => {});
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
  });
}

async function serialOf(port) {
  const s = await tlsConnect(port);
  const serial = s.getPeerCertificate().serialNumber;
  s.destroy();
  return serial;
}

async function logged(server, re, ms = 5000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (re.test(server.logs())) return true;
    await sleep(50);
  }
  return false;
}

function count(text, re) {
  return (text.match(new RegExp(re.source, 'g')) ?? []).length;
}

function openDescriptors(pid) {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

describe('TLS on the listening port', () => {
  let server;
  before(async () => {
    server = await startServer({ tls: pairFiles('main'), args: ['--hello-timeout', '2'] });
  });

  test('wss:// joins, posts and receives; https:// answers the API', async () => {
    assert.match(server.url, /^https:/);
    const eng = uniqueEng();
    const ch = `eng:${eng}`;
    const alice = await connectAs(server, userToken('tls-alice', 'client', [eng]), { ca: caPem });
    const bob = await connectAs(server, userToken('tls-bob', 'expert', [eng]), { ca: caPem });
    assert.equal((await alice.join(ch)).ok, true);
    assert.equal((await bob.join(ch)).ok, true);
    const sent = await alice.message(ch, 'over TLS');
    assert.equal(sent.ok, true, JSON.stringify(sent));
    const ev = await bob.waitFor((p) => p.ev === 'event' && p.ch === ch && p.body?.text === 'over TLS');
    assert.equal(ev.from.id, 'tls-alice');
    // Messages at the size limit, back to back: several TLS records each way.
    const big = 'x'.repeat(16000);
    for (let i = 0; i < 5; i++) assert.equal((await alice.message(ch, big + i)).ok, true);
    await bob.waitFor((p) => p.ev === 'event' && p.body?.text === big + 4);
    const history = await bob.history(ch, { limit: 10 });
    assert.equal(history.ok, true, JSON.stringify(history).slice(0, 200));
    assert.equal((await httpRequest(server, 'GET', '/healthz')).status, 200);
    const list = await httpRequest(server, 'GET', '/api/v1/engagements', { token: token({ sub: 'platform', role: 'service', eng: ['*'] }) });
    assert.equal(list.status, 200, list.text);
    await alice.close();
    await bob.close();
  });

  test('TLS 1.2 and 1.3 are served, TLS 1.1 is refused', async () => {
    const v12 = await tlsConnect(server.port, { maxVersion: 'TLSv1.2' });
    assert.equal(v12.getProtocol(), 'TLSv1.2');
    v12.destroy();
    const v13 = await tlsConnect(server.port, { minVersion: 'TLSv1.3' });
    assert.equal(v13.getProtocol(), 'TLSv1.3');
    v13.destroy();
    // The client side allows TLS 1.1 (security level 0): the refusal is the server's.
    await assert.rejects(tlsConnect(server.port, { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' }));
  });

  test('a client asking to renegotiate (TLS 1.2) is refused, and the server serves on', async () => {
    const s = await tlsConnect(server.port, { maxVersion: 'TLSv1.2' });
    s.on('error', () => {});
    const outcome = await new Promise((resolve) => {
      const timer = setTimeout(() => resolve('no answer'), 5000);
      s.once('close', () => { clearTimeout(timer); resolve('closed'); });
      const asked = s.renegotiate({}, (err) => { clearTimeout(timer); resolve(err ? 'refused' : 'renegotiated'); });
      if (!asked) { clearTimeout(timer); resolve('refused'); }
    });
    assert.ok(outcome === 'refused' || outcome === 'closed', outcome);
    s.destroy();
    assert.equal((await httpRequest(server, 'GET', '/healthz')).status, 200);
  });

  test('ALPN answers http/1.1, and refuses a client that offers only other protocols', async () => {
    const s = await tlsConnect(server.port, { ALPNProtocols: ['h2', 'http/1.1'] });
    assert.equal(s.alpnProtocol, 'http/1.1');
    s.destroy();
    await assert.rejects(tlsConnect(server.port, { ALPNProtocols: ['h2'] }), /no application protocol|alert/i);
  });

  test('a plaintext HTTP request to the TLS port gets no HTTP answer', async () => {
    const sock = net.connect(server.port, '127.0.0.1');
    sock.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const got = await closedWithin(sock, 5000);
    assert.notEqual(got, null, 'the connection is closed');
    assert.ok(!got.toString('latin1').startsWith('HTTP/'), `no HTTP answer: ${got.toString('latin1').slice(0, 40)}`);
  });

  test('a client that never sends a ClientHello is closed after the handshake deadline', async () => {
    const started = Date.now();
    const sock = net.connect(server.port, '127.0.0.1');
    const got = await closedWithin(sock, 6000);
    assert.notEqual(got, null, 'closed by the deadline (--hello-timeout 2)');
    const took = Date.now() - started;
    assert.ok(took >= 1500 && took < 5000, `closed after ${took} ms`);
  });

  test('200 sockets sending garbage or part of a ClientHello hold nothing past the deadline', async () => {
    const pid = server.proc.pid;
    const before = openDescriptors(pid);
    const socks = [];
    for (let i = 0; i < 200; i++) {
      const s = net.connect(server.port, '127.0.0.1');
      s.on('error', () => {});
      // Half: a record header that promises 16 KiB and never delivers; half: garbage.
      s.write(i % 2 ? Buffer.from([0x16, 0x03, 0x01, 0x40, 0x00, 0x01]) : Buffer.from('\x00\xff garbage '.repeat(8), 'latin1'));
      socks.push(closedWithin(s, 8000));
    }
    const results = await Promise.all(socks);
    assert.equal(results.filter((r) => r === null).length, 0, 'every socket was closed');
    let after = openDescriptors(pid);
    for (let i = 0; i < 20 && after > before + 5; i++) {
      await sleep(100);
      after = openDescriptors(pid);
    }
    assert.ok(after <= before + 5, `descriptors ${before} -> ${after}`);
    const metrics = await httpRequest(server, 'GET', '/metrics', { token: token({ sub: 'platform', role: 'service', eng: ['*'] }) });
    assert.equal(metrics.status, 200);
    const failures = Number(/^parley_tls_handshake_failures_total (\d+)$/m.exec(metrics.text)?.[1]);
    assert.ok(failures >= 200, `${failures} handshake failures counted`);
    // And the port still serves.
    assert.equal((await httpRequest(server, 'GET', '/healthz')).status, 200);
  });
});

describe('certificate reload on SIGHUP', () => {
  test('a new pair serves new handshakes, open connections keep working, a bad pair is refused and the old kept', async () => {
    const own = makeTempDir('parley-tls-reload-');
    const first = pairFiles('first', own);
    const server = await startServer({ tls: first });
    const serialA = await serialOf(server.port);

    const eng = uniqueEng();
    const ch = `eng:${eng}`;
    const early = await connectAs(server, userToken('reload-a', 'client', [eng]), { ca: caPem });
    assert.equal((await early.join(ch)).ok, true);

    // Replace both files with another certificate (serial and subject), then SIGHUP.
    const second = makeCert(dir, 'second', ca, { cn: 'second' });
    fs.copyFileSync(second.cert, first.cert);
    fs.copyFileSync(second.key, first.key);
    server.proc.kill('SIGHUP');
    assert.ok(await logged(server, /tls_reloaded/), server.logs().slice(-2000));
    const serialB = await serialOf(server.port);
    assert.notEqual(serialB, serialA);
    const s = await tlsConnect(server.port);
    assert.match(s.getPeerCertificate().subject.CN, /second/);
    s.destroy();

    // The connection opened before still works both ways.
    const late = await connectAs(server, userToken('reload-b', 'expert', [eng]), { ca: caPem });
    assert.equal((await late.join(ch)).ok, true);
    assert.equal((await early.message(ch, 'still here')).ok, true);
    await late.waitFor((p) => p.ev === 'event' && p.body?.text === 'still here');

    // A bad pair (the key of another certificate): one log line, the pair in use kept.
    const third = makeCert(dir, 'third', ca, { cn: 'third' });
    fs.copyFileSync(third.key, first.key);
    server.proc.kill('SIGHUP');
    assert.ok(await logged(server, /tls_reload_refused/), server.logs().slice(-2000));
    await sleep(200);
    assert.equal(count(server.logs(), /tls_reload_refused/), 1);
    assert.equal(await serialOf(server.port), serialB);
    assert.equal((await late.message(ch, 'after the bad reload')).ok, true);
    await early.waitFor((p) => p.ev === 'event' && p.body?.text === 'after the bad reload');

    // Repeated SIGHUPs are each handled (the wait is re-armed), and the server lives on.
    for (let i = 0; i < 5; i++) server.proc.kill('SIGHUP');
    await sleep(500);
    assert.ok(server.running);
    assert.ok(count(server.logs(), /tls_reload_refused/) >= 2);
    assert.equal(await serialOf(server.port), serialB);
    await early.close();
    await late.close();
  });

  test('SIGHUP without TLS logs that there is nothing to reload', async () => {
    const server = await startServer({ tls: false });
    server.proc.kill('SIGHUP');
    assert.ok(await logged(server, /nothing to reload/));
    server.proc.kill('SIGHUP');
    await sleep(300);
    assert.ok(server.running);
    assert.equal((await httpRequest(server, 'GET', '/healthz')).status, 200);
  });
});

describe('certificate chains', () => {
  test('a leaf signed by an intermediate, sent with it, verifies against the CA alone', async () => {
    const own = makeTempDir('parley-tls-chain-');
    const inter = makeCert(dir, 'intermediate', ca, { ca: true });
    const leaf = makeCert(dir, 'leaf', inter, { cn: 'leaf' });
    const chain = path.join(own, 'fullchain.pem');
    fs.writeFileSync(chain, Buffer.concat([fs.readFileSync(leaf.cert), fs.readFileSync(inter.cert)]));
    const server = await startServer({ tls: { cert: chain, key: leaf.key, ca: caPem } });
    const s = await tlsConnect(server.port);
    assert.equal(s.authorized, true);
    s.destroy();
    const c = await connect(server.wsUrl, { ca: caPem });
    await c.close();
  });
});

describe('--redirect-listen', () => {
  let server;
  let redirectPort;
  before(async () => {
    server = await startServer({ tls: pairFiles('redirect'), args: ['--redirect-listen', '127.0.0.1:0'] });
    assert.ok(await logged(server, /redirect_listening/));
    redirectPort = Number(/event=redirect_listening address=127\.0\.0\.1:(\d+)/.exec(server.logs())[1]);
  });

  // One raw request; resolves to what came back before the server closed.
  async function raw(request) {
    const sock = net.connect(redirectPort, '127.0.0.1');
    sock.write(request);
    const got = await closedWithin(sock, 12000);
    assert.notEqual(got, null, 'the redirect connection closes');
    return got.toString('latin1');
  }

  test('answers 308 to https:// with the path and query kept', async () => {
    const res = await raw('GET /a/b?x=1&y=%20z HTTP/1.1\r\nHost: example.com:80\r\n\r\n');
    assert.match(res, /^HTTP\/1\.1 308 /);
    assert.match(res, new RegExp(`\r\nLocation: https://example\\.com:${server.port}/a/b\\?x=1&y=%20z\r\n`, 'i'));
    const noHost = await raw('GET /p HTTP/1.0\r\n\r\n');
    assert.match(noHost, new RegExp(`\r\nLocation: https://127\\.0\\.0\\.1:${server.port}/p\r\n`, 'i'));
  });

  test('a hostile Host header cannot inject a header or take over the Location', async () => {
    const long = await raw(`GET / HTTP/1.1\r\nHost: ${'a'.repeat(400)}.evil\r\n\r\n`);
    assert.match(long, new RegExp(`\r\nLocation: https://127\\.0\\.0\\.1:${server.port}/\r\n`, 'i'));
    const userinfo = await raw('GET / HTTP/1.1\r\nHost: user@evil.com\r\nX-Other: 1\r\n\r\n');
    assert.match(userinfo, new RegExp(`\r\nLocation: https://127\\.0\\.0\\.1:${server.port}/\r\n`, 'i'));
    assert.doesNotMatch(userinfo, /X-Other/i);
    const folded = await raw('GET / HTTP/1.1\r\nHost: evil.com\r\n Set-Cookie: a=b\r\n\r\n');
    assert.doesNotMatch(folded, /Set-Cookie/i);
    // A header past its bound gets no answer at all.
    const huge = await raw(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20000)}\r\n\r\n`);
    assert.ok(!huge.startsWith('HTTP/1.1 308'), huge.slice(0, 40));
  });
});

describe('start-up with a bad pair', () => {
  function run(args) {
    return spawnSync(PARLEY_BIN, ['--listen', '127.0.0.1:0', '--data-dir', makeTempDir('parley-tls-data-'), ...args], {
      encoding: 'utf8',
      timeout: 10000,
      env: { PATH: process.env.PATH, PARLEY_SECRET: 'tls-startup-secret-0123456789', PARLEY_SIGNING_KEY_FILE: signingKeyPath() },
    });
  }

  test('a missing key, a mismatched pair or a lone --tls-cert exit 2 with one line', () => {
    const p = pairFiles('startup');
    const other = makeCert(dir, 'other', ca);
    for (const args of [
      ['--tls-cert', p.cert, '--tls-key', path.join(dir, 'missing-key.pem')],
      ['--tls-cert', p.cert, '--tls-key', other.key],
      ['--tls-cert', p.cert],
      ['--redirect-listen', '127.0.0.1:0'],
    ]) {
      const r = run(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.doesNotMatch(r.stdout, /listening on/);
    }
  });
});
