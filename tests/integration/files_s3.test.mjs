// Files in an S3-compatible object store (--s3-endpoint): the same uploads and
// downloads as with a directory, against s3rver behind a front that checks
// every request's Signature Version 4 and payload hash (s3_server.mjs);
// instances that share the bucket (and the engine) share the files; a store
// that cannot be reached answers 503 and keeps nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { cleanup, makeTempDir, redisFor, startServer, uniqueEng, userToken } from './harness.mjs';
import { download, listFiles, sha256, stagedFiles, upload } from './file_helpers.mjs';
import { S3_ACCESS_KEY, S3_SECRET_KEY, startS3Server } from './s3_server.mjs';

const s3Env = { PARLEY_S3_ACCESS_KEY: S3_ACCESS_KEY, PARLEY_S3_SECRET_KEY: S3_SECRET_KEY };

let s3;

function s3Args(store, filesDir) {
  return ['--files-dir', filesDir, '--s3-endpoint', store.endpoint, '--s3-bucket', store.bucket, '--s3-timeout', '3',
    '--upload-rate', '100', '--upload-burst', '1000', '--http-rate', '1000', '--http-burst', '1000'];
}

function party(eng, sub = `c-${eng}`, role = 'client') {
  return userToken(sub, role, [eng]);
}

function cachedFiles(filesDir) {
  return listFiles(path.join(filesDir, 's3-cache'));
}

before(async () => {
  s3 = await startS3Server({ directory: makeTempDir('parley-s3-') });
});
after(async () => {
  await cleanup();
  await s3.stop();
});

describe('files in an S3-compatible object store', () => {
  test('upload, download, range and a second upload, with the object in the bucket', async () => {
    const filesDir = makeTempDir('parley-s3-files-');
    const server = await startServer({ args: s3Args(s3, filesDir), env: s3Env });
    const eng = uniqueEng('s3');
    const tok = party(eng);
    const bytes = randomBytes(200 * 1024 + 3);
    const up = await upload(server, tok, eng, 'report.pdf', bytes);
    assert.equal(up.status, 201, up.text);
    assert.equal(up.json.sha256, sha256(bytes));
    assert.deepEqual(stagedFiles(filesDir), []);
    // The uploading instance keeps its copy in its cache.
    assert.deepEqual(cachedFiles(filesDir), [up.json.sha256]);

    const down = await download(server, party(eng, `e-${eng}`, 'expert'), eng, up.json.sha256);
    assert.equal(down.status, 200);
    assert.equal(sha256(down.body), up.json.sha256);
    const part = await download(server, tok, eng, up.json.sha256, { Range: 'bytes=100-199' });
    assert.equal(part.status, 206);
    assert.deepEqual(part.body, bytes.subarray(100, 200));

    const again = await upload(server, tok, eng, 'copy.pdf', bytes);
    assert.equal(again.status, 200, again.text);
    assert.deepEqual(stagedFiles(filesDir), []);
  });

  test('two instances sharing the bucket and Redis, each with its own files directory, serve the same file', async () => {
    const redis = await redisFor(makeTempDir('parley-s3-redis-'));
    const aDir = makeTempDir('parley-s3-a-');
    const bDir = makeTempDir('parley-s3-b-');
    const a = await startServer({ redis, args: s3Args(s3, aDir), env: s3Env });
    const b = await startServer({ redis, args: s3Args(s3, bDir), env: s3Env });
    const eng = uniqueEng('s3');
    const tok = party(eng);
    const bytes = randomBytes(70000);
    const up = await upload(a, tok, eng, 'shared.bin', bytes);
    assert.equal(up.status, 201, up.text);
    assert.deepEqual(cachedFiles(bDir), []);

    // B has never seen the bytes: it fetches them from the bucket, checks them, keeps them.
    const down = await download(b, tok, eng, up.json.sha256);
    assert.equal(down.status, 200);
    assert.equal(sha256(down.body), sha256(bytes));
    assert.deepEqual(cachedFiles(bDir), [up.json.sha256]);
    const range = await download(b, tok, eng, up.json.sha256, { Range: 'bytes=-10' });
    assert.equal(range.status, 206);
    assert.deepEqual(range.body, bytes.subarray(bytes.length - 10));

    const repeat = await upload(b, tok, eng, 'shared.bin', bytes);
    assert.equal(repeat.status, 200, repeat.text);
    assert.deepEqual(stagedFiles(bDir), []);
  });

  test('an object store that cannot be reached: upload 503, nothing staged or cached; cached files still served', async () => {
    const down = await startS3Server({ directory: makeTempDir('parley-s3-down-') });
    const filesDir = makeTempDir('parley-s3-files-');
    const server = await startServer({ args: s3Args(down, filesDir), env: s3Env });
    const eng = uniqueEng('s3');
    const tok = party(eng);
    const kept = randomBytes(3000);
    const first = await upload(server, tok, eng, 'before.bin', kept);
    assert.equal(first.status, 201, first.text);
    await down.stop();

    const refused = await upload(server, tok, eng, 'after.bin', randomBytes(50000));
    assert.equal(refused.status, 503, refused.text);
    assert.deepEqual(stagedFiles(filesDir), []);
    assert.deepEqual(cachedFiles(filesDir), [first.json.sha256]);
    assert.ok(fs.existsSync(path.join(filesDir, 'tmp')));

    const served = await download(server, tok, eng, first.json.sha256);
    assert.equal(served.status, 200);
    assert.equal(sha256(served.body), first.json.sha256);
  });

  test('bad S3 options stop the server at start with one line', async () => {
    const filesDir = makeTempDir('parley-s3-files-');
    for (const [args, env, expected] of [
      [['--s3-endpoint', s3.endpoint], s3Env, /--s3-endpoint needs --s3-bucket/],
      [['--s3-endpoint', s3.endpoint, '--s3-bucket', s3.bucket], {}, /PARLEY_S3_ACCESS_KEY/],
      [['--s3-endpoint', 'ftp://x', '--s3-bucket', s3.bucket], s3Env, /http or https/],
      [['--s3-bucket', s3.bucket], s3Env, /--s3-bucket needs --s3-endpoint/],
    ]) {
      await assert.rejects(startServer({ args: ['--files-dir', filesDir, ...args], env }), expected);
    }
  });
});
