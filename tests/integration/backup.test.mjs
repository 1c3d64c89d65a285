// `parley backup` and `parley restore` (embedded engine): a backup taken while
// a client posts as fast as it can holds every event acknowledged before it
// began, the decision log (which still verifies) and the uploaded files; a
// restore brings them back under a new epoch, and refuses to run under a
// server or over a database unless told to.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  ENGINE, PARLEY_BIN, cleanup, connectAs, httpRequest, makeTempDir, readAll, startServer, uniqueEng, userToken, withTimeout,
} from './harness.mjs';
import { assertChain, expectOk, httpDecisionsJsonl, verifyLog } from './engagement_helpers.mjs';
import { download, sha256, upload } from './file_helpers.mjs';

after(cleanup);

const skip = ENGINE !== 'local' ? 'backups are of the embedded engine (Redis has its own persistence)' : false;

// Runs `parley <args>` without blocking the event loop (the load goes on);
// resolves to {code, stdout, stderr}.
function parley(args) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PARLEY_')));
  const proc = spawn(PARLEY_BIN, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d) => { stdout += d; });
  proc.stderr.on('data', (d) => { stderr += d; });
  const done = new Promise((resolve) => proc.on('close', (code) => resolve({ code, stdout, stderr })));
  return withTimeout(done, 60000, `parley ${args[0]}`).catch((err) => {
    proc.kill('SIGKILL');
    throw err;
  });
}

describe('backup and restore', { skip }, () => {
  test('a backup under write load restores every acknowledged event, the files and a verifying log, under a new epoch', async () => {
    const server = await startServer({ args: ['--post-rate', '100000', '--post-burst', '100000'] });
    const eng = uniqueEng('bk');
    const ch = `eng:${eng}`;
    const clientTok = userToken('bk-client', 'client', [eng]);
    const client = await connectAs(server, clientTok);
    const expert = await connectAs(server, userToken('bk-expert', 'expert', [eng]));
    const joined = expectOk(await client.call('join', { ch }));
    const proposal = expectOk(await expert.post(ch, 'proposal', { topic: 'phase', text: 'Agree terms', terms: { to: 'agreement' } }));
    expectOk(await client.post(ch, 'decision', { proposal: proposal.seq, verdict: 'accepted' }));
    const bytes = Buffer.from('the interview notes\n'.repeat(500));
    const stored = await upload(server, clientTok, eng, 'notes.txt', bytes);
    assert.equal(stored.status, 201, stored.text);

    // A client posting as fast as the server answers, until told to stop.
    const acked = [];
    let stop = false;
    const load = (async () => {
      for (let i = 0; !stop; i++) {
        const r = await client.message(ch, `load ${i}`);
        if (r.ok) acked.push({ seq: r.seq, text: `load ${i}` });
      }
    })();
    await withTimeout((async () => {
      while (acked.length < 200) await Promise.race([load, new Promise((r) => setTimeout(r, 10))]);
    })(), 20000, 'the load did not get going');
    const ackedBefore = acked.slice();
    const dest = path.join(makeTempDir('parley-backup-'), 'b1');
    const backup = await parley(['backup', '--data-dir', server.dataDir, dest]);
    const ackedDuring = acked.length - ackedBefore.length;
    stop = true;
    await load;
    assert.equal(backup.code, 0, backup.stderr);
    assert.match(backup.stdout, /^parley backup: .* to .*: \d+ bytes of database, 1 files \(10000 bytes\)\n$/);
    assert.ok(ackedDuring > 0, 'posts went on while the backup ran');
    await server.stop();

    const dataDir = makeTempDir('parley-restored-');
    const restore = await parley(['restore', '--data-dir', dataDir, dest]);
    assert.equal(restore.code, 0, restore.stderr);
    assert.match(restore.stdout, /new database [0-9a-f]{32}: a new epoch/);
    const restored = await startServer({ dataDir });
    const reader = await connectAs(restored, clientTok);
    const rejoined = expectOk(await reader.call('join', { ch }));
    assert.notEqual(rejoined.epoch, joined.epoch, 'a restored log is a new epoch');
    const events = await readAll(reader, ch);
    const bySeq = new Map(events.map((e) => [e.seq, e]));
    for (const a of ackedBefore) assert.equal(bySeq.get(a.seq)?.body?.text, a.text, `acknowledged seq ${a.seq} is in the backup`);
    // What was restored is a prefix of what was acknowledged: no gap, nothing made up.
    assert.deepEqual(events.map((e) => e.seq), events.map((_, i) => i + 1));
    for (const a of acked) if (bySeq.has(a.seq)) assert.equal(bySeq.get(a.seq).body.text, a.text);

    const jsonl = await httpDecisionsJsonl(restored, clientTok, eng);
    const records = jsonl.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(records.length, 1);
    assertChain(records);
    const keys = await httpRequest(restored, 'GET', '/api/v1/keys');
    const dir = makeTempDir('parley-restored-log-');
    fs.writeFileSync(path.join(dir, 'log.jsonl'), jsonl);
    fs.writeFileSync(path.join(dir, 'keys.json'), keys.text);
    const verified = await verifyLog(path.join(dir, 'log.jsonl'), 20000, ['--keys', path.join(dir, 'keys.json'), '--min-records', '1']);
    assert.equal(verified.code, 0, JSON.stringify(verified));

    const got = await download(restored, clientTok, eng, sha256(bytes));
    assert.equal(got.status, 200);
    assert.ok(Buffer.compare(got.body, bytes) === 0, 'the file comes back byte for byte');
  });

  test('restore refuses a running server, an existing database without --force, and a directory that is no backup', async () => {
    const server = await startServer();
    const client = await connectAs(server, userToken('bk2', 'client', ['bk2']));
    expectOk(await client.message('eng:bk2', 'before the backup'));
    const dest = path.join(makeTempDir('parley-backup-'), 'b');
    assert.equal((await parley(['backup', '--data-dir', server.dataDir, dest])).code, 0);

    const again = await parley(['backup', '--data-dir', server.dataDir, dest]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /exists already/);
    const underServer = await parley(['restore', '--data-dir', server.dataDir, '--force', dest]);
    assert.equal(underServer.code, 1);
    assert.match(underServer.stderr, /in use by another Parley process/);
    expectOk(await client.message('eng:bk2', 'after the backup'));
    await server.stop();

    const noForce = await parley(['restore', '--data-dir', server.dataDir, dest]);
    assert.equal(noForce.code, 1);
    assert.match(noForce.stderr, /exists; --force/);
    const notBackup = await parley(['restore', '--data-dir', makeTempDir('parley-empty-'), makeTempDir('parley-nothing-')]);
    assert.equal(notBackup.code, 1);
    assert.match(notBackup.stderr, /holds no parley\.db/);
    // A directory named with a trailing slash is that directory.
    const slashed = `${path.join(makeTempDir('parley-backup-'), 'c')}/`;
    const withSlash = await parley(['backup', '--data-dir', server.dataDir, slashed]);
    assert.equal(withSlash.code, 0, withSlash.stderr);
    assert.ok(fs.existsSync(path.join(slashed, 'parley.db')));
    const usage = await parley(['backup', dest]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--data-dir is required/);

    // --force: the backup's state comes back, the database that was there is kept aside.
    const forced = await parley(['restore', '--data-dir', server.dataDir, '--force', dest]);
    assert.equal(forced.code, 0, forced.stderr);
    const kept = fs.readdirSync(server.dataDir).filter((n) => n.startsWith('parley.db.before-restore-'));
    assert.equal(kept.length, 1);
    const restarted = await startServer({ dataDir: server.dataDir });
    const reader = await connectAs(restarted, userToken('bk2', 'client', ['bk2']));
    const texts = (await readAll(reader, 'eng:bk2')).map((e) => e.body?.text).filter(Boolean);
    assert.deepEqual(texts, ['before the backup']);
  });
});
