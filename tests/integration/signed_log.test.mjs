// The signed decision log (protocol §9.11): the key set at /api/v1/keys, the
// kid and sig of every record, `parley verify-log --keys` on a real export,
// key rotation with --verify-key-file, and where the signing key comes from.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import {
  PARLEY_BIN, SIGNING_KEY, cleanup, connectAs, httpRequest, makeTempDir, startServer, uniqueEng, userToken,
  withTimeout,
} from './harness.mjs';
import { assertChain, expectOk, httpDecisionsJsonl, verifyLog } from './engagement_helpers.mjs';

after(cleanup);

// RFC 7638 thumbprint of an Ed25519 public key given as a JWK.
function thumbprint(jwk) {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x });
  return crypto.createHash('sha256').update(canonical).digest('base64url');
}

async function getKeys(server) {
  const r = await httpRequest(server, 'GET', '/api/v1/keys');
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers['content-type'], /^application\/json/);
  return r.json;
}

// Two accepted proposals in a fresh engagement: two decision records.
async function makeRecords(server, eng) {
  const client = await connectAs(server, userToken(`${eng}-c`, 'client', [eng]));
  const expert = await connectAs(server, userToken(`${eng}-e`, 'expert', [eng]));
  const ch = `eng:${eng}`;
  const p1 = expectOk(await expert.post(ch, 'proposal', { topic: 'phase', text: 'Agree terms', terms: { to: 'agreement' } }));
  expectOk(await client.post(ch, 'decision', { proposal: p1.seq, verdict: 'accepted' }));
  const p2 = expectOk(await client.post(ch, 'proposal', {
    topic: 'agreement', text: 'Nordics, 3 weeks', terms: { scope: 'Nordic sizing', fee: 4800, weeks: 3, rate: 12.5 },
  }));
  expectOk(await expert.post(ch, 'decision', { proposal: p2.seq, verdict: 'accepted' }));
  return { client, expert, ch, tok: userToken(`${eng}-c`, 'client', [eng]) };
}

function writeFile(dir, name, text) {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

function verifyRecordSignatures(records, jwks) {
  const keys = new Map(jwks.keys.map((k) => [k.kid, crypto.createPublicKey({ key: k, format: 'jwk' })]));
  for (const r of records) {
    assert.ok(keys.has(r.kid), `record ${r.n}: kid ${r.kid} is in the key set`);
    assert.ok(crypto.verify(null, Buffer.from(r.hash, 'ascii'), keys.get(r.kid), Buffer.from(r.sig, 'base64url')),
      `record ${r.n}: sig verifies over the ASCII hash`);
  }
}

// Runs the binary with arguments; resolves to {code, stdout, stderr}.
function run(args, env = {}) {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PARLEY_')));
  const proc = spawn(PARLEY_BIN, args, { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d) => { stdout += d; });
  proc.stderr.on('data', (d) => { stderr += d; });
  const done = new Promise((resolve) => proc.on('close', (code) => resolve({ code, stdout, stderr })));
  return withTimeout(done, 20000, `parley ${args.join(' ')}`).catch((err) => {
    proc.kill('SIGKILL');
    throw err;
  });
}

describe('signed decision log', () => {
  test('GET /api/v1/keys is a JWK Set of the signing key, for anyone', async () => {
    const server = await startServer();
    const jwks = await getKeys(server);
    const expected = SIGNING_KEY.publicKey.export({ format: 'jwk' });
    assert.deepEqual(jwks, { keys: [{ kty: 'OKP', crv: 'Ed25519', x: expected.x, kid: thumbprint(expected) }] });
    const withBadToken = await httpRequest(server, 'GET', '/api/v1/keys', { token: 'not.a.token' });
    assert.equal(withBadToken.status, 200, 'a token is neither needed nor checked');
    assert.equal(withBadToken.headers['access-control-allow-origin'], '*');
  });

  test('every record is signed; the export verifies in Node and with verify-log --keys; tampering fails', async () => {
    const server = await startServer();
    const eng = uniqueEng('sig');
    const { tok } = await makeRecords(server, eng);
    const jwks = await getKeys(server);
    const jsonl = await httpDecisionsJsonl(server, tok, eng);
    const lines = jsonl.trim().split('\n');
    const records = lines.map((l) => JSON.parse(l));
    assert.equal(records.length, 2);
    assertChain(records);  // the hash leaves out kid and sig
    verifyRecordSignatures(records, jwks);
    for (const r of records) assert.equal(r.kid, jwks.keys[0].kid);

    const dir = makeTempDir('parley-signed-');
    const file = writeFile(dir, 'log.jsonl', jsonl);
    const keys = writeFile(dir, 'keys.json', JSON.stringify(jwks));
    const head = records[1].hash;

    const good = await verifyLog(file, 20000, ['--keys', keys, '--head', head, '--min-records', '2']);
    assert.equal(good.code, 0, JSON.stringify(good));
    assert.equal(good.stdout.trim(), `ok: 2 records, chain intact, head ${head}, every signature valid`);
    const noKeys = await verifyLog(file);
    assert.equal(noKeys.code, 0, JSON.stringify(noKeys));
    assert.match(noKeys.stdout, /signatures not checked/);

    const expectFail = async (name, args, pattern, content = jsonl) => {
      const f = writeFile(dir, `${name}.jsonl`, content);
      const res = await verifyLog(f, 20000, args);
      assert.equal(res.code, 1, `${name}: ${JSON.stringify(res)}`);
      assert.match(res.stderr, pattern, name);
      assert.equal(res.stderr.trim().split('\n').length, 1, `${name}: one line`);
      assert.equal(res.stdout, '', name);
    };
    const flip = (s) => (s[3] === 'A' ? `${s.slice(0, 3)}B${s.slice(4)}` : `${s.slice(0, 3)}A${s.slice(4)}`);
    const tamperedSig = [lines[0], JSON.stringify({ ...records[1], sig: flip(records[1].sig) })].join('\n');
    await expectFail('tampered-sig', ['--keys', keys], /record 2\): bad signature/, tamperedSig);
    const tamperedText = [JSON.stringify({ ...records[0], text: 'Something else' }), lines[1]].join('\n');
    await expectFail('tampered-text', ['--keys', keys], /record 1\): hash mismatch/, tamperedText);
    const unsigned = [lines[0], JSON.stringify({ ...records[1], sig: undefined })].join('\n');
    await expectFail('unsigned', ['--keys', keys], /record 2\): no sig/, unsigned);
    await expectFail('head', ['--keys', keys, '--head', 'f'.repeat(64)], /not the expected head/);
    await expectFail('min-records', ['--keys', keys, '--min-records', '3'], /only 2 records, expected at least 3/);
    await expectFail('truncated', ['--keys', keys], /n is 2, expected 1/, `${lines[1]}\n`);

    const stranger = crypto.generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
    const otherKeys = writeFile(dir, 'other.json', JSON.stringify({ keys: [{ ...stranger, kid: thumbprint(stranger) }] }));
    const unknown = await verifyLog(file, 20000, ['--keys', otherKeys]);
    assert.equal(unknown.code, 1, JSON.stringify(unknown));
    assert.match(unknown.stderr, new RegExp(`record 1\\): unknown kid ${records[0].kid}`));
  });

  test('a rotated key: new records carry the new kid, the old key stays in the set, the whole log verifies', async () => {
    let server = await startServer();
    const eng = uniqueEng('rot');
    const first = await makeRecords(server, eng);
    await first.client.close();
    await first.expert.close();
    const oldKid = (await getKeys(server)).keys[0].kid;

    const dir = makeTempDir('parley-rotate-');
    const next = crypto.generateKeyPairSync('ed25519');
    const nextFile = writeFile(dir, 'next.pem', next.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const oldPublic = writeFile(dir, 'old.pub.pem', SIGNING_KEY.publicKey.export({ type: 'spki', format: 'pem' }));
    server = await server.restart({ env: { PARLEY_SIGNING_KEY_FILE: nextFile }, args: ['--verify-key-file', oldPublic] });

    const jwks = await getKeys(server);
    const newKid = thumbprint(next.publicKey.export({ format: 'jwk' }));
    assert.deepEqual(jwks.keys.map((k) => k.kid), [newKid, oldKid], 'the signing key first, then the retired one');

    const client = await connectAs(server, first.tok);
    const expert = await connectAs(server, userToken(`${eng}-e`, 'expert', [eng]));
    const p = expectOk(await client.post(first.ch, 'proposal', { topic: 'timeline', text: 'One more week', terms: { weeks: 4 } }));
    expectOk(await expert.post(first.ch, 'decision', { proposal: p.seq, verdict: 'accepted' }));

    const jsonl = await httpDecisionsJsonl(server, first.tok, eng);
    const records = jsonl.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(records.map((r) => r.kid), [oldKid, oldKid, newKid]);
    assertChain(records);
    verifyRecordSignatures(records, jwks);
    const file = writeFile(dir, 'log.jsonl', jsonl);
    const keys = writeFile(dir, 'keys.json', JSON.stringify(jwks));
    const res = await verifyLog(file, 20000, ['--keys', keys, '--min-records', '3']);
    assert.equal(res.code, 0, JSON.stringify(res));
  });

  test('a development server makes its key once (mode 0600) and keeps it across restarts', async () => {
    const env = { PARLEY_SECRET: '', PARLEY_SIGNING_KEY_FILE: '' };
    let server = await startServer({ env, args: ['--dev'] });
    const keyFile = path.join(server.dataDir, 'dev-signing-key.pem');
    const stat = fs.statSync(keyFile);
    assert.equal(stat.mode & 0o777, 0o600);
    const pub = crypto.createPublicKey(fs.readFileSync(keyFile)).export({ format: 'jwk' });
    const kid = (await getKeys(server)).keys[0].kid;
    assert.equal(kid, thumbprint(pub));
    server = await server.restart({ env });
    assert.equal((await getKeys(server)).keys[0].kid, kid);
  });

  test('without a signing key outside development mode, or with a bad one, the server refuses to start', async () => {
    const dir = makeTempDir('parley-nokey-');
    const secret = 'a-secret-of-enough-length';
    const noKey = await run(['--listen', '127.0.0.1:0', '--data-dir', path.join(dir, 'a')], { PARLEY_SECRET: secret });
    assert.notEqual(noKey.code, 0);
    assert.match(noKey.stderr, /--signing-key-file/);
    assert.equal(noKey.stderr.trim().split('\n').length, 1, noKey.stderr);
    assert.doesNotMatch(noKey.stdout, /listening/);

    const bad = writeFile(dir, 'bad.pem', 'not a key\n');
    const badKey = await run(['--listen', '127.0.0.1:0', '--data-dir', path.join(dir, 'b'), '--signing-key-file', bad],
      { PARLEY_SECRET: secret });
    assert.notEqual(badKey.code, 0);
    assert.match(badKey.stderr, /--signing-key-file .*bad\.pem/);

    const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' });
    const rsaFile = writeFile(dir, 'rsa.pem', rsa);
    const rsaKey = await run(['--listen', '127.0.0.1:0', '--data-dir', path.join(dir, 'c'), '--signing-key-file', rsaFile],
      { PARLEY_SECRET: secret });
    assert.notEqual(rsaKey.code, 0);
    assert.match(rsaKey.stderr, /not an Ed25519 key/);

    // The development key is never read or written through a symlink.
    const devDir = path.join(dir, 'd');
    fs.mkdirSync(devDir);
    fs.symlinkSync(path.join(dir, 'elsewhere.pem'), path.join(devDir, 'dev-signing-key.pem'));
    const linked = await run(['--dev', '--listen', '127.0.0.1:0', '--data-dir', devDir], { PARLEY_SECRET: '' });
    assert.notEqual(linked.code, 0);
    assert.match(linked.stderr, /dev-signing-key\.pem/);
    assert.equal(fs.existsSync(path.join(dir, 'elsewhere.pem')), false, 'nothing was written through the link');
  });
});
