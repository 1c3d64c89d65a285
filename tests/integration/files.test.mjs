// Files of an engagement (protocol §9.6): uploads streamed to the files
// directory, downloads with their headers, Range and If-None-Match, limits
// that keep nothing behind, and attachments resolved from the engagement's index.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  cleanup, httpRequest, makeTempDir, redisFor, sleep, startServer, uniqueEng, userToken, serverRequest,
} from './harness.mjs';
import { httpAllEvents, httpPost } from './engagement_helpers.mjs';
import {
  download, filesPath, listFiles, rawExchange, rawRequest, sha256, stagedFiles, upload,
} from './file_helpers.mjs';

const MAX_FILE = 256 * 1024;
const QUOTA = 600 * 1024;

let server;
let filesDir;

before(async () => {
  server = await startServer({
    args: ['--max-file-size', String(MAX_FILE), '--max-engagement-files', String(QUOTA),
      '--upload-rate', '100', '--upload-burst', '1000', '--http-burst', '1000', '--http-rate', '1000'],
  });
  filesDir = path.join(server.dataDir, 'files');
});
after(cleanup);

function party(eng, sub = `c-${eng}`, role = 'client') {
  return userToken(sub, role, [eng]);
}

describe('uploading and downloading a file', () => {
  test('round trip: 201 with the hash, the same bytes back, 200 on a second upload', async () => {
    const eng = uniqueEng('f');
    const tok = party(eng);
    const bytes = randomBytes(70000);
    const up = await upload(server, tok, eng, 'Report – final.pdf', bytes);
    assert.equal(up.status, 201, up.text);
    assert.deepEqual(up.json, { sha256: sha256(bytes), size: bytes.length, name: 'Report – final.pdf', type: 'application/pdf' });

    const down = await download(server, party(eng, 'expert-1', 'expert'), eng, up.json.sha256);
    assert.equal(down.status, 200);
    assert.equal(sha256(down.body), up.json.sha256);
    assert.equal(down.headers['content-type'], 'application/pdf');
    assert.equal(down.headers['content-length'], String(bytes.length));
    assert.equal(down.headers['content-disposition'], "attachment; filename*=UTF-8''Report%20%E2%80%93%20final.pdf");
    assert.equal(down.headers['x-content-type-options'], 'nosniff');
    assert.equal(down.headers['content-security-policy'], 'sandbox');
    assert.equal(down.headers.etag, `"${up.json.sha256}"`);
    assert.equal(down.headers['accept-ranges'], 'bytes');
    assert.match(down.headers['cache-control'], /private/);

    const again = await upload(server, tok, eng, 'copy.pdf', bytes);
    assert.equal(again.status, 200, again.text);
    assert.equal(again.json.sha256, up.json.sha256);
    assert.deepEqual(stagedFiles(filesDir), []);
    const sha = up.json.sha256;
    assert.ok(listFiles(filesDir).includes(path.join(sha.slice(0, 2), sha.slice(2, 4), sha)));
  });

  test('an unknown extension is served as the declared type, else as bytes', async () => {
    const eng = uniqueEng('f');
    const tok = party(eng);
    const typed = await upload(server, tok, eng, 'data.xyz', Buffer.from('x'), { headers: { 'Content-Type': 'text/x-custom; charset=utf-8' } });
    assert.equal(typed.json.type, 'text/x-custom');
    const bytes = await upload(server, tok, eng, 'noext', Buffer.from('y'), { headers: { 'Content-Type': 'garbage' } });
    assert.equal(bytes.json.type, 'application/octet-stream');
  });

  test('Range: 206 for a range, a suffix and an open end; 416 past the end; HEAD; 304', async () => {
    const eng = uniqueEng('f');
    const tok = party(eng);
    const bytes = randomBytes(1000);
    const { json: { sha256: sha } } = await upload(server, tok, eng, 'r.bin', bytes);

    const part = await download(server, tok, eng, sha, { Range: 'bytes=10-19' });
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-range'], 'bytes 10-19/1000');
    assert.deepEqual(part.body, bytes.subarray(10, 20));

    const suffix = await download(server, tok, eng, sha, { Range: 'bytes=-100' });
    assert.equal(suffix.status, 206);
    assert.deepEqual(suffix.body, bytes.subarray(900));

    const open = await download(server, tok, eng, sha, { Range: 'bytes=990-' });
    assert.equal(open.status, 206);
    assert.equal(open.headers['content-range'], 'bytes 990-999/1000');
    assert.deepEqual(open.body, bytes.subarray(990));

    const beyond = await download(server, tok, eng, sha, { Range: 'bytes=1000-' });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers['content-range'], 'bytes */1000');

    const several = await download(server, tok, eng, sha, { Range: 'bytes=0-1,5-6' });
    assert.equal(several.status, 200);
    assert.equal(several.body.length, 1000);

    const head = await rawRequest(server, 'HEAD', filesPath(eng, sha), { token: tok });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], '1000');
    assert.equal(head.body.length, 0);

    const cached = await download(server, tok, eng, sha, { 'If-None-Match': `"${sha}"` });
    assert.equal(cached.status, 304);
    assert.equal(cached.body.length, 0);
    assert.equal(cached.headers.etag, `"${sha}"`);
  });
});

describe('limits keep nothing behind', () => {
  test('413 at once for a declared length over --max-file-size', async () => {
    const eng = uniqueEng('f');
    const head = `POST ${filesPath(eng)}?name=big.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${party(eng)}\r\n` +
      `Content-Length: ${MAX_FILE + 1}\r\n\r\n`;
    const { status } = await rawExchange(server, head);
    assert.equal(status, 413);
    assert.deepEqual(stagedFiles(filesDir), []);
  });

  test('a client that sends the whole too-large body still reads the 413', async () => {
    const eng = uniqueEng('f');
    const res = await upload(server, party(eng), eng, 'big.bin', randomBytes(MAX_FILE + 1));
    assert.equal(res.status, 413, res.text);
    assert.equal(res.json.error.code, 'too_large');
    assert.deepEqual(stagedFiles(filesDir), []);
  });

  test('413 for a chunked body that crosses the limit, and nothing kept', async () => {
    const eng = uniqueEng('f');
    const before = listFiles(filesDir);
    const chunks = [];
    for (let i = 0; i < 5; ++i) chunks.push(randomBytes(64 * 1024));
    const res = await rawRequest(server, 'POST', `${filesPath(eng)}?name=big.bin`, { token: party(eng), chunks }).catch((err) => ({ err }));
    if (!res.err) assert.equal(res.status, 413, res.text);
    await sleep(200);
    assert.deepEqual(listFiles(filesDir), before);
    assert.equal((await httpRequest(server, 'GET', '/healthz')).status, 200);
  });

  test('the engagement quota: 413 past --max-engagement-files; a repeat still 200', async () => {
    const eng = uniqueEng('f');
    const tok = party(eng);
    const aBytes = randomBytes(250 * 1024);
    const a = await upload(server, tok, eng, 'a.bin', aBytes);
    assert.equal(a.status, 201);
    const b = await upload(server, tok, eng, 'b.bin', randomBytes(250 * 1024));
    assert.equal(b.status, 201);
    // Declared past the quota: refused before the body.
    const head = `POST ${filesPath(eng)}?name=c.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${tok}\r\n` +
      `Content-Length: ${250 * 1024}\r\n\r\n`;
    const { status, answer } = await rawExchange(server, head);
    assert.equal(status, 413, answer);
    assert.match(answer, /too_large/);
    // Chunked, so only known once read: refused after it.
    const c = await rawRequest(server, 'POST', `${filesPath(eng)}?name=c.bin`, { token: tok, chunks: [randomBytes(150 * 1024)] });
    assert.equal(c.status, 413, c.text);
    // The same bytes again are no new file: 200 whatever the quota (sent
    // chunked: a declared length past the quota is refused before the hash is known).
    const repeat = await rawRequest(server, 'POST', `${filesPath(eng)}?name=a.bin`, { token: tok, chunks: [aBytes] });
    assert.equal(repeat.status, 200, repeat.text);
    assert.deepEqual(stagedFiles(filesDir), []);
  });

  test('an upload killed half-way leaves nothing behind and the server serves on', async () => {
    const eng = uniqueEng('f');
    const before = listFiles(filesDir);
    await new Promise((resolve) => {
      const req = serverRequest(server, {
        host: '127.0.0.1', port: server.port, method: 'POST', path: `${filesPath(eng)}?name=k.bin`,
        headers: { Authorization: `Bearer ${party(eng)}`, 'Content-Length': String(200 * 1024) }, agent: false,
      });
      req.on('error', () => resolve());
      req.write(randomBytes(100 * 1024), () => {
        setTimeout(() => {
          req.destroy();
          resolve();
        }, 200);
      });
    });
    await sleep(300);
    assert.deepEqual(listFiles(filesDir), before);
    const ok = await upload(server, party(eng), eng, 'after.bin', Buffer.from('still here'));
    assert.equal(ok.status, 201);
  });
});

describe('who may use a file', () => {
  test('a hash of engagement A is 404 via B, and refused as an attachment in B', async () => {
    const a = uniqueEng('fa');
    const b = uniqueEng('fb');
    const both = userToken('c-both', 'client', [a, b]);
    const { json: { sha256: sha } } = await upload(server, both, a, 'a.txt', Buffer.from('only for A'));
    const viaB = await download(server, both, b, sha);
    assert.equal(viaB.status, 404);
    const post = await httpPost(server, both, `eng:${b}`, 'message', { text: 'see', files: [{ sha256: sha, name: 'a.txt' }] });
    assert.equal(post.status, 404, post.text);
    assert.equal(post.json.error.code, 'not_found');
  });

  test('a non-member is refused (403), a bad name is 400, a bad hash is 400', async () => {
    const eng = uniqueEng('f');
    const { json: { sha256: sha } } = await upload(server, party(eng), eng, 'x.txt', Buffer.from('x'));
    const outsider = userToken('c-out', 'client', ['other']);
    assert.equal((await upload(server, outsider, eng, 'y.txt', Buffer.from('y'))).status, 403);
    assert.equal((await download(server, outsider, eng, sha)).status, 403);
    assert.equal((await upload(server, party(eng), eng, 'a/b.txt', Buffer.from('y'))).status, 400);
    assert.equal((await download(server, party(eng), eng, sha.toUpperCase())).status, 400);
  });

  test('support uploads to an engagement that exists, and gets 404 for one that does not', async () => {
    const eng = uniqueEng('f');
    const support = userToken('s-1', 'support', ['*']);
    const missing = await upload(server, support, eng, 'x.txt', Buffer.from('x'));
    assert.equal(missing.status, 404, missing.text);
    assert.equal((await httpPost(server, party(eng), `eng:${eng}`, 'message', { text: 'hello' })).status, 201);
    const ok = await upload(server, support, eng, 'x.txt', Buffer.from('x'));
    assert.equal(ok.status, 201, ok.text);
    assert.equal((await download(server, party(eng), eng, ok.json.sha256)).status, 200);
  });
});

describe('attachments', () => {
  test('a message with files stores {sha256, name, size, type}; 21 files is bad_request', async () => {
    const eng = uniqueEng('f');
    const tok = party(eng);
    const bytes = Buffer.from('%PDF-1.4 tiny');
    const { json: up } = await upload(server, tok, eng, 'spec.pdf', bytes);
    const post = await httpPost(server, tok, `eng:${eng}`, 'message', { text: 'the spec', files: [{ sha256: up.sha256, name: 'Spec v2.pdf' }] });
    assert.equal(post.status, 201, post.text);
    const events = await httpAllEvents(server, tok, `eng:${eng}`);
    const stored = events.find((e) => e.seq === post.json.seq);
    assert.deepEqual(stored.body.files, [{ sha256: up.sha256, name: 'Spec v2.pdf', size: bytes.length, type: 'application/pdf' }]);

    const many = Array.from({ length: 21 }, (_, i) => ({ sha256: i.toString(16).padStart(64, '0'), name: `f${i}` }));
    const tooMany = await httpPost(server, tok, `eng:${eng}`, 'message', { text: 'x', files: many });
    assert.equal(tooMany.status, 400);
    assert.equal(tooMany.json.error.code, 'bad_request');
  });
});

describe('durability and instances', () => {
  test('kill -9 right after a 201: after the restart the file downloads intact', async () => {
    const own = await startServer();
    const eng = uniqueEng('f');
    const tok = party(eng);
    const bytes = randomBytes(200 * 1024);
    const up = await upload(own, tok, eng, 'k.bin', bytes);
    assert.equal(up.status, 201);
    await own.kill();
    const again = await own.restart();
    const down = await download(again, tok, eng, up.json.sha256);
    assert.equal(down.status, 200);
    assert.equal(sha256(down.body), sha256(bytes));
    assert.deepEqual(stagedFiles(path.join(again.dataDir, 'files')), []);
  });

  test('the per-user upload rate answers 429', async () => {
    const own = await startServer({ args: ['--upload-rate', '0.01', '--upload-burst', '3'] });
    const eng = uniqueEng('f');
    const tok = party(eng);
    const statuses = [];
    for (let i = 0; i < 5; ++i) statuses.push((await upload(own, tok, eng, `r${i}.txt`, Buffer.from(`r${i}`))).status);
    assert.deepEqual(statuses, [201, 201, 201, 429, 429]);
  });

  test('two instances on Redis sharing one files directory: uploaded via A, downloaded via B', async () => {
    const shared = makeTempDir('parley-shared-files-');
    const redis = await redisFor(makeTempDir('parley-files-redis-'));
    const args = ['--files-dir', shared];
    const a = await startServer({ redis, args });
    const b = await startServer({ redis, args });
    const eng = uniqueEng('f');
    const tok = party(eng);
    const bytes = randomBytes(5000);
    const up = await upload(a, tok, eng, 'shared.bin', bytes);
    assert.equal(up.status, 201);
    const down = await download(b, tok, eng, up.json.sha256);
    assert.equal(down.status, 200);
    assert.equal(sha256(down.body), sha256(bytes));
    const repeat = await upload(b, tok, eng, 'shared.bin', bytes);
    assert.equal(repeat.status, 200);
  });
});
