// Start-up time and memory against the number of stored engagements (not a
// test: it prints figures). For each count, storage holding that many
// engagements, made in bulk from one the server opened itself, then a server
// started on it: the time from spawn to /readyz 200, and its RSS then and 5 s
// later, beside the same for empty storage.
//   node tests/bench/startup.mjs [--engine local|redis] [count ...]
// Default counts: 10000 100000 1000000. SQLite copies the template's rows
// (its events, channel heads and due-index entries) with SQL; Redis gets the
// listings, the due index and a meta hash and one-event stream per
// engagement through `redis-cli --pipe`. Every due lies a day ahead, so the
// start-up claims nothing.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import {
  cleanup, httpRequest, makeTempDir, redisFor, sleep, startServer, userToken,
} from '../integration/harness.mjs';

const args = process.argv.slice(2);
let engine = 'local';
const counts = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--engine') engine = args[++i];
  else counts.push(Number(args[i]));
}
if (!counts.length) counts.push(10000, 100000, 1000000);
const DAY_MS = 24 * 3600 * 1000;

function rssMiB(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024;
}

// Starts a server on `storage` and measures it; stops it again.
async function measure(storage) {
  const started = process.hrtime.bigint();
  const server = await startServer(storage);
  for (;;) {
    const r = await httpRequest(server, 'GET', '/readyz').catch(() => null);
    if (r?.status === 200) break;
    await sleep(5);
  }
  const readyMs = Number(process.hrtime.bigint() - started) / 1e6;
  const rssReady = rssMiB(server.proc.pid);
  await sleep(5000);
  const rssLater = rssMiB(server.proc.pid);
  await server.stop();
  return { readyMs, rssReady, rssLater };
}

// One engagement opened through the server: its party posts once.
async function openTemplate(storage) {
  const server = await startServer(storage);
  const tok = userToken('bulk-client', 'client', ['tpl']);
  const r = await httpRequest(server, 'POST', '/api/v1/channels/eng:tpl/events',
    { token: tok, body: { kind: 'message', body: { text: 'hello' }, cid: 'c1' } });
  if (r.status !== 201) throw new Error(`the template post answered ${r.status}: ${r.text}`);
  await server.stop();
}

function sqlite(db, sql) {
  execFileSync('sqlite3', [db], { input: sql, stdio: ['pipe', 'inherit', 'inherit'] });
}

// Copies engagement `tpl` of the SQLite database `n` times as b1..bn.
function bulkSqlite(dataDir, n) {
  const db = path.join(dataDir, 'parley.db');
  const ids = `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${n})`;
  sqlite(db, `
    PRAGMA journal_mode = WAL;
    BEGIN;
    ${ids} INSERT INTO events (ch, seq, ts, sender, cid, json)
      SELECT replace(e.ch, 'eng:tpl', 'eng:b' || n.i), e.seq, e.ts, e.sender, e.cid,
             replace(e.json, '"eng:tpl', '"eng:b' || n.i)
      FROM n, events e WHERE e.ch = 'eng:tpl' OR e.ch GLOB 'eng:tpl:*';
    ${ids} INSERT INTO channels (ch, head)
      SELECT replace(c.ch, 'eng:tpl', 'eng:b' || n.i), c.head FROM n, channels c
      WHERE c.ch = 'eng:tpl' OR c.ch GLOB 'eng:tpl:*';
    ${ids} INSERT INTO due_index (key, due)
      SELECT substr(d.key, 1, 2) || 'b' || n.i, ${Date.now() + DAY_MS} FROM n, due_index d WHERE d.key GLOB '?:tpl';
    COMMIT;
  `);
  const stored = Number(execFileSync('sqlite3', [db, "SELECT count(*) FROM channels WHERE ch GLOB 'eng:b*'"]).toString());
  if (stored < n) throw new Error(`the bulk copy stored ${stored} engagements, not ${n}`);
}

// RESP for one command.
function resp(parts) {
  let out = `*${parts.length}\r\n`;
  for (const p of parts) out += `$${Buffer.byteLength(p)}\r\n${p}\r\n`;
  return out;
}

// Keys like those of `tpl` for b1..bn, through redis-cli --pipe.
function bulkRedis(redis, n) {
  const file = path.join(makeTempDir('parley-bulk-'), 'bulk.resp');
  const fd = fs.openSync(file, 'w');
  const due = String(Date.now() + DAY_MS);
  let chunk = '';
  for (let i = 1; i <= n; i++) {
    const eng = `b${i}`;
    const tag = `{eng:${eng}}`;
    chunk += resp(['SADD', 'parley:engagements', eng]);
    chunk += resp(['ZADD', 'parley:engagements:by_id', '0', eng]);
    chunk += resp(['HSET', `parley:${tag}:meta:eng:${eng}`, 'top', '1', 'ts', due, 'epoch', 'bulk']);
    chunk += resp(['XADD', `parley:${tag}:events:eng:${eng}`, '1-0', 't', due, 'j',
      `{"ch":"eng:${eng}","seq":1,"kind":"message","body":{"text":"hello"}}`]);
    // The due partition is the server's business: any of them is read by a claim.
    chunk += resp(['ZADD', `parley:{due:${i % 16}}:due`, due, `s:${eng}`]);
    if (chunk.length > 1 << 20) {
      fs.writeSync(fd, chunk);
      chunk = '';
    }
  }
  fs.writeSync(fd, chunk);
  fs.closeSync(fd);
  const piped = spawnSync('sh', ['-c', `redis-cli -p ${redis.port} --pipe < ${file}`], { encoding: 'utf8' });
  if (piped.status !== 0) throw new Error(`redis-cli --pipe failed: ${piped.stderr}`);
  fs.rmSync(file);
}

const rows = [];
try {
  for (const n of [0, ...counts]) {
    const dataDir = makeTempDir('parley-startup-');
    let storage;
    if (engine === 'redis') {
      const redis = await redisFor(dataDir);
      storage = { dataDir, redis };
    } else {
      storage = { dataDir, engine: 'local' };
    }
    const t0 = Date.now();
    if (n > 0) {
      await openTemplate(storage);
      if (engine === 'redis') bulkRedis(storage.redis, n);
      else bulkSqlite(dataDir, n);
    }
    const bulkS = (Date.now() - t0) / 1000;
    const m = await measure(storage);
    rows.push({ n, bulkS, ...m });
    console.error(`startup: ${engine} ${n} engagements (made in ${bulkS.toFixed(1)} s): ready in ${m.readyMs.toFixed(0)} ms, `
      + `RSS ${m.rssReady.toFixed(1)} MiB, ${m.rssLater.toFixed(1)} MiB 5 s later`);
  }
} finally {
  await cleanup();
}

console.log(`| engine | engagements stored | spawn to /readyz 200 | RSS at ready | RSS 5 s later |`);
console.log(`| --- | --- | --- | --- | --- |`);
for (const r of rows) {
  console.log(`| ${engine} | ${r.n.toLocaleString('en-US')} | ${r.readyMs.toFixed(0)} ms | ${r.rssReady.toFixed(1)} MiB | ${r.rssLater.toFixed(1)} MiB |`);
}
