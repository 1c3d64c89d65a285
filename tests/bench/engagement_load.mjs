// The first use of a long engagement after a restart, from its snapshot and
// from its events alone (not a test: it prints figures). For each count, one
// engagement gets that many posts (messages from both sides, a proposal and a
// flag every 50), the server is restarted and the first read of its state
// timed: that read loads the engagement. Then its snapshot is deleted and the
// same is timed again, which replays every event.
//   node tests/bench/engagement_load.mjs [--engine local|redis] [count ...]
// Default counts: 1000 10000 50000. The server runs with --snapshot-every 100.
import { execFileSync } from 'node:child_process';
import path from 'node:path';

import {
  cleanup, connectAs, httpRequest, makeTempDir, metricValue, redisFor, scrapeMetrics, startServer, userToken,
} from '../integration/harness.mjs';

const args = process.argv.slice(2);
let engine = 'local';
const counts = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--engine') engine = args[++i];
  else counts.push(Number(args[i]));
}
if (!counts.length) counts.push(1000, 10000, 50000);

const SERVER_ARGS = ['--post-rate', '1000000', '--post-burst', '1000000', '--snapshot-every', '100'];
const ENG = 'long';
const clientToken = userToken('load-client', 'client', [ENG]);
const expertToken = userToken('load-expert', 'expert', [ENG]);
const warmUpToken = userToken('load-client', 'client', ['warm-up']);

// `n` posts, 200 in flight at a time.
async function fill(server, n) {
  const ch = `eng:${ENG}`;
  const client = await connectAs(server, clientToken);
  const expert = await connectAs(server, expertToken);
  await client.call('join', { ch });
  await expert.call('join', { ch });
  for (let done = 0; done < n;) {
    const batch = [];
    for (let i = 0; i < 200 && done < n; i++, done++) {
      let post;
      if (done % 50 === 10) post = expert.post(ch, 'proposal', { topic: 'timeline', text: `plan ${done}`, terms: { weeks: done } });
      else if (done % 50 === 30) post = expert.post(ch, 'flag', { type: 'risk', text: `risk ${done}` });
      else post = (done % 2 ? expert : client).message(ch, `message ${done} `.padEnd(120, '.'));
      batch.push(post);
    }
    for (const r of await Promise.all(batch)) {
      if (!r.ok && r.error?.code !== 'conflict') throw new Error(`a post failed: ${JSON.stringify(r)}`);
    }
  }
  await client.close();
  await expert.close();
}

// Restarts the server and times the first read of the engagement's state.
async function timedLoad(server) {
  const restarted = await server.restart();
  // Not timed: the first request of a process (its connection, a first
  // engagement's load, the code paths' first run).
  await httpRequest(restarted, 'GET', '/api/v1/engagements/warm-up', { token: warmUpToken });
  const started = process.hrtime.bigint();
  const r = await httpRequest(restarted, 'GET', `/api/v1/engagements/${ENG}`, { token: clientToken, timeoutMs: 120000 });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.status !== 200) throw new Error(`the state answered ${r.status}: ${r.text}`);
  const replayed = metricValue(await scrapeMetrics(restarted), 'parley_engagement_events_replayed_total');
  return { server: restarted, ms, replayed, revision: r.json.revision };
}

function deleteSnapshot(storage) {
  if (engine === 'redis') {
    execFileSync('redis-cli', ['-p', String(storage.redis.port), 'DEL', `parley:{eng:${ENG}}:snapshot`]);
  } else {
    execFileSync('sqlite3', [path.join(storage.dataDir, 'parley.db'), `DELETE FROM snapshots WHERE eng = '${ENG}'`]);
  }
}

const rows = [];
try {
  for (const n of counts) {
    const dataDir = makeTempDir('parley-load-');
    const storage = engine === 'redis' ? { dataDir, redis: await redisFor(dataDir) } : { dataDir, engine: 'local' };
    let server = await startServer({ ...storage, args: SERVER_ARGS });
    await fill(server, n);
    const snap = await timedLoad(server);
    await snap.server.stop();
    deleteSnapshot(storage);
    const full = await timedLoad(snap.server);
    if (full.revision !== snap.revision) throw new Error(`the two loads differ: revision ${snap.revision} and ${full.revision}`);
    server = full.server;
    await server.stop();
    rows.push({ n, snap, full });
    console.error(`engagement_load: ${engine} ${n} events: from the snapshot ${snap.ms.toFixed(1)} ms `
      + `(${snap.replayed} events read), from the events ${full.ms.toFixed(1)} ms (${full.replayed} events read)`);
  }
} finally {
  await cleanup();
}

console.log('| engine | events | first read, from the snapshot | events read | first read, from the events alone | events read |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const { n, snap, full } of rows) {
  console.log(`| ${engine} | ${n.toLocaleString('en-US')} | ${snap.ms.toFixed(1)} ms | ${snap.replayed} | `
    + `${full.ms.toFixed(1)} ms | ${full.replayed.toLocaleString('en-US')} |`);
}
