// Hostile uploads and downloads (protocol §9.6): names and hashes built to
// escape the files directory, uploads that trickle, bursts of uploads, and a
// 100 MiB upload that must not be held in memory.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import {
  cleanup, sleep, startServer, uniqueEng, userToken, rawSocket, serverRequest,
} from './harness.mjs';
import { download, filesPath, listFiles, rawRequest, stagedFiles, upload } from './file_helpers.mjs';

let server;
let filesDir;

before(async () => {
  server = await startServer({ args: ['--http-burst', '1000', '--http-rate', '1000'] });
  filesDir = path.join(server.dataDir, 'files');
});
after(cleanup);

const party = (eng) => userToken(`c-${eng}`, 'client', [eng]);

function statusKb(pid, field) {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)[1]);
}

describe('names and hashes that try to escape', () => {
  test('a 10 000-byte name, a missing name and path traversal in the name are 400', async () => {
    const eng = uniqueEng('x');
    const tok = party(eng);
    const long = await upload(server, tok, eng, 'a'.repeat(10000), Buffer.from('x'));
    assert.equal(long.status, 400, long.text);
    const missing = await rawRequest(server, 'POST', filesPath(eng), { token: tok, body: Buffer.from('x') });
    assert.equal(missing.status, 400);
    for (const name of ['../../etc/passwd', '..\\win.ini', 'a\u0000b', 'tab\tname']) {
      const res = await upload(server, tok, eng, name, Buffer.from('x'));
      assert.equal(res.status, 400, `${JSON.stringify(name)}: ${res.text}`);
    }
    assert.deepEqual(listFiles(filesDir), []);
  });

  test('a sha256 segment that is not 64 lowercase hex digits is refused', async () => {
    const eng = uniqueEng('x');
    const tok = party(eng);
    const { json: { sha256: sha } } = await upload(server, tok, eng, 'ok.txt', Buffer.from('fine'));
    for (const bad of [sha.toUpperCase(), sha.slice(1), `..%2F..%2F${sha.slice(6)}`, `${sha.slice(0, 2)}%2F${sha.slice(3)}`]) {
      const res = await download(server, tok, eng, bad);
      assert.equal(res.status, 400, `${bad}: ${res.status}`);
    }
    // "../" in the raw path is not normalised into another route.
    const res = await rawRequest(server, 'GET', `/api/v1/engagements/${eng}/files/../../../etc/passwd`, { token: tok });
    assert.notEqual(res.status, 200);
  });
});

describe('uploads that try to hold the server', () => {
  test('a slowloris upload (a byte now and then) is cut off and leaves nothing', async () => {
    const eng = uniqueEng('x');
    const sock = rawSocket(server);
    await new Promise((r) => sock.on('connect', r));
    sock.on('error', () => {});
    sock.write(`POST ${filesPath(eng)}?name=slow.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${party(eng)}\r\nContent-Length: 100000\r\n\r\n`);
    const closed = new Promise((r) => sock.on('close', r));
    const started = Date.now();
    let open = true;
    closed.then(() => {
      open = false;
    });
    while (open && Date.now() - started < 60000) {
      sock.write('x');
      await sleep(1000);
    }
    assert.equal(open, false, 'the trickling upload was still open after 60 s');
    await sleep(200);
    assert.deepEqual(stagedFiles(filesDir), []);
  });

  test('many parallel uploads by one user are bounded by the upload rate', async () => {
    const eng = uniqueEng('x');
    const tok = party(eng);
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => upload(server, tok, eng, `p${i}.txt`, Buffer.from(`p${i}`))));
    const created = results.filter((r) => r.status === 201).length;
    const limited = results.filter((r) => r.status === 429).length;
    assert.ok(created <= 12, `${created} uploads accepted`);
    assert.equal(created + limited, 40);
    assert.ok(results.find((r) => r.status === 429).headers['retry-after']);
  });

  test('a 100 MiB upload streams to disk: the resident memory stays bounded', async () => {
    const eng = uniqueEng('x');
    const size = 100 * 1024 * 1024;
    const before = statusKb(server.proc.pid, 'VmRSS');
    const chunk = randomBytes(1024 * 1024);
    const hash = createHash('sha256');
    const res = await new Promise((resolve, reject) => {
      const req = serverRequest(server, {
        host: '127.0.0.1', port: server.port, method: 'POST', path: `${filesPath(eng)}?name=big.bin`,
        headers: { Authorization: `Bearer ${party(eng)}`, 'Content-Length': String(size) }, agent: false,
      }, (r) => {
        let text = '';
        r.on('data', (d) => { text += d; });
        r.on('end', () => resolve({ status: r.statusCode, json: JSON.parse(text) }));
      });
      req.on('error', reject);
      let sent = 0;
      const pump = () => {
        while (sent < size) {
          sent += chunk.length;
          hash.update(chunk);
          if (!req.write(chunk)) return req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });
    assert.equal(res.status, 201);
    assert.equal(res.json.sha256, hash.digest('hex'));
    const peak = statusKb(server.proc.pid, 'VmHWM');
    assert.ok(peak - before < 40 * 1024, `peak resident memory grew by ${peak - before} kB`);
  });
});
