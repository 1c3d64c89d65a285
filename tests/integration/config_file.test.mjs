// The configuration file (--config): a server runs on what it says, flags and
// PARLEY_* win over it, a wrong line is refused naming its file and line, and
// --print-config writes a file that reads back the same, with credentials masked.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  PARLEY_BIN, cleanup, connectAs, httpRequest, makeTempDir, startServer, uniqueEng, userToken,
} from './harness.mjs';

after(cleanup);

function configFile(text) {
  const file = path.join(makeTempDir('parley-config-'), 'parley.conf');
  fs.writeFileSync(file, text);
  return file;
}

// Runs the binary to its exit (no server: every case here stops at the configuration).
function run(args, env = {}) {
  return spawnSync(PARLEY_BIN, args, { encoding: 'utf8', timeout: 10000, env: { PATH: process.env.PATH, ...env } });
}

// How many of `n` posts at once are accepted before the first rate_limited.
async function postsAccepted(server, n) {
  const eng = uniqueEng('cfg');
  const client = await connectAs(server, userToken('cfg-poster', 'client', [eng]));
  const replies = await Promise.all(Array.from({ length: n }, (_, i) => client.message(`eng:${eng}`, `post ${i}`)));
  client.close();
  const firstRefused = replies.findIndex((r) => !r.ok);
  if (firstRefused >= 0) assert.equal(replies[firstRefused].error.code, 'rate_limited', JSON.stringify(replies[firstRefused]));
  return firstRefused < 0 ? n : firstRefused;
}

describe('configuration file', () => {
  test('a server runs on the limits its file sets, and the environment wins over the file', async () => {
    const file = configFile('# limits for the test\npost-rate = 0.01\npost-burst = 3   # three at once\n');
    const fromFile = await startServer({ args: ['--config', file] });
    assert.equal(await postsAccepted(fromFile, 6), 3);
    await fromFile.stop();

    const fromEnv = await startServer({ args: ['--config', file], env: { PARLEY_POST_BURST: '5' } });
    assert.equal(await postsAccepted(fromEnv, 8), 5);
    await fromEnv.stop();
  });

  test('flags win over the environment, which wins over the file; defaults stay comments', () => {
    const file = configFile('threads = 3\nmax-channels = 7\n');
    const printed = (args, env) => {
      const r = run(['--dev', '--config', file, ...args, '--print-config'], env);
      assert.equal(r.status, 0, r.stderr);
      return r.stdout;
    };
    assert.match(printed([], {}), /^threads = 3 {2}# file$/m);
    assert.match(printed([], { PARLEY_THREADS: '2' }), /^threads = 2 {2}# environment$/m);
    assert.match(printed(['--threads', '1'], { PARLEY_THREADS: '2' }), /^threads = 1 {2}# flag$/m);
    const out = printed([], {});
    assert.match(out, /^max-channels = 7 {2}# file$/m);
    assert.match(out, /^# max-frame = 65536$/m);
    assert.match(out, /^# token secret: made in the data directory \(--dev\)/m);
  });

  test('--print-config masks credentials and reads back as the same configuration', () => {
    const file = configFile([
      'redis = redis://app:Sup3r-secret@127.0.0.1:6379',
      'instance = "eu one # blue"',
      'allowed-origin = https://a.example',
      'allowed-origin = https://b.example/#x',
      'expose-version = true',
      '',
    ].join('\n'));
    const first = run(['--config', file, '--print-config'], { PARLEY_SECRET: 'a-secret-of-enough-length' });
    assert.equal(first.status, 0, first.stderr);
    assert.doesNotMatch(first.stdout, /Sup3r-secret|a-secret-of-enough-length/);
    assert.match(first.stdout, /^redis = redis:\/\/app:\*\*\*\*@127\.0\.0\.1:6379 {2}# file$/m);
    assert.match(first.stdout, /^instance = "eu one # blue" {2}# file$/m);
    assert.match(first.stdout, /^# token secret: set/m);
    const again = run(['--config', configFile(first.stdout), '--print-config'], { PARLEY_SECRET: 'a-secret-of-enough-length' });
    assert.equal(again.status, 0, again.stderr);
    assert.equal(again.stdout, first.stdout);
  });

  test('a wrong line is refused at start with one line naming the file and line, and nothing starts', () => {
    const cases = [
      ['listen = 127.0.0.1:0\nbogus-option = 1\n', /parley\.conf:2: unknown option 'bogus-option'/],
      ['threads = many\n', /parley\.conf:1: the argument \('many'\) for option 'threads' is invalid/],
      ['threads = 2\n\nthreads = 3\n', /parley\.conf:3: 'threads' is set again \(first on line 1\)/],
      ['[server]\nthreads = 2\n', /parley\.conf:1: sections are not used/],
      ['threads 2\n', /parley\.conf:1: expected `option = value`/],
      ['help = true\n', /parley\.conf:1: unknown option 'help'/],
      ['config = other.conf\n', /parley\.conf:1: unknown option 'config'/],
      ['max-frame = 10\n', /--max-frame must be at least 1024 bytes/],
    ];
    for (const [text, why] of cases) {
      const dataDir = makeTempDir('parley-data-');
      const r = run(['--dev', '--data-dir', dataDir, '--config', configFile(text)]);
      assert.notEqual(r.status, 0, text);
      assert.match(r.stderr, why, text);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.deepEqual(fs.readdirSync(dataDir), [], 'nothing was created');
    }
    const missing = run(['--dev', '--config', '/nonexistent/parley.conf']);
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /--config: cannot read \/nonexistent\/parley\.conf/);
  });

  test('PARLEY_CONFIG names the file like --config', () => {
    const r = run(['--dev', '--print-config'], { PARLEY_CONFIG: configFile('max-channels = 9\n') });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^max-channels = 9 {2}# file$/m);
  });
});

describe('log format', () => {
  test('--log-format json writes every log line as one JSON object, client input included', async () => {
    const server = await startServer({ args: ['--log-format', 'json'] });
    // A token that is not one: its failure is logged with the caller's address.
    const r = await httpRequest(server, 'GET', '/api/v1/engagements', { headers: { Authorization: 'Bearer x\u00e9"\\.y.z' } });
    assert.equal(r.status, 401);
    let failed;
    for (let i = 0; i < 100 && !failed; i++) {
      failed = server.logs().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).find((o) => o.event === 'auth_failed');
      if (!failed) await new Promise((res) => setTimeout(res, 20));
    }
    assert.ok(failed, server.logs());
    assert.equal(failed.level, 'warn');
    assert.equal(failed.ip, '127.0.0.1');
    assert.match(failed.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(await server.stop(), 0);
    const lines = server.logs().split('\n').filter((l) => l.trim());
    const objects = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    assert.deepEqual(objects.map((o) => o.event).filter((e) => ['started', 'draining', 'stopped'].includes(e)), ['started', 'draining', 'stopped']);
    assert.deepEqual(lines.filter((l) => /level=/.test(l)), [], 'no text log line');
  });

  test('a --log-format other than text or json is refused', () => {
    const r = run(['--dev', '--log-format', 'xml']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--log-format must be text or json, got 'xml'/);
  });
});
