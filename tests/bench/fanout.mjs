// Fan-out benchmark: P posters post N messages into one channel with S members
// joined; prints post throughput, acknowledgement latency and deliveries per
// second. A measurement, not a test: it asserts only that every member got
// every event in order. Loopback only.
//
//   node tests/bench/fanout.mjs [--members 50] [--posters 4] [--posts 4000] [--window 16]
import { performance } from 'node:perf_hooks';
import { startServer, connectAs, userToken, uniqueEng, cleanup, gapError } from '../integration/harness.mjs';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, a, i, all) => (a.startsWith('--') ? [...pairs, [a.slice(2), Number(all[i + 1])]] : pairs), []),
);
const members = args.members ?? 50;
const posters = args.posters ?? 4;
const posts = args.posts ?? 4000;
const window = args.window ?? 16;

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main() {
  const server = await startServer({ args: ['--post-rate', '1000000', '--post-burst', '1000000'] });
  const eng = uniqueEng('bench');
  const ch = `eng:${eng}`;
  const readers = [];
  for (let i = 0; i < members; i++) {
    const c = await connectAs(server, userToken(`reader-${i}`, i % 2 ? 'client' : 'expert', [eng]));
    await c.call('join', { ch });
    readers.push(c);
  }
  const base = (await readers[0].call('history', { ch, limit: 1 })).head;
  const writers = [];
  for (let i = 0; i < posters; i++) writers.push(await connectAs(server, userToken(`poster-${i}`, 'client', [eng])));

  const latencies = [];
  const text = 'x'.repeat(200);
  const perPoster = Math.ceil(posts / posters);
  const started = performance.now();
  await Promise.all(writers.map(async (w) => {
    let sent = 0;
    const inflight = new Set();
    while (sent < perPoster) {
      while (inflight.size < window && sent < perPoster) {
        const t0 = performance.now();
        const p = w.call('post', { ch, kind: 'message', body: { text } }).then(() => {
          latencies.push(performance.now() - t0);
          inflight.delete(p);
        });
        inflight.add(p);
        sent++;
      }
      await Promise.race(inflight);
    }
    await Promise.all(inflight);
  }));
  const acked = performance.now();
  const total = perPoster * posters;
  await Promise.all(readers.map((r) => r.waitForEvents(ch, total, 120000)));
  const delivered = performance.now();
  for (const r of readers) {
    const err = gapError(r.events(ch).slice(0, total), base + 1);
    if (err) throw new Error(`a member saw a gap: ${err}`);
  }
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  const metric = (name) => Number((metrics.match(new RegExp(`^${name} (\\d+)`, 'm')) ?? [])[1] ?? NaN);
  latencies.sort((a, b) => a - b);

  const seconds = (ms) => (ms / 1000).toFixed(2);
  console.log(`parley fan-out: ${members} members, ${posters} posters, ${total} posts of ${text.length} bytes, window ${window}`);
  console.log(`  posts acknowledged in ${seconds(acked - started)} s: ${Math.round(total / ((acked - started) / 1000))} posts/s`);
  console.log(`  ack latency ms: p50 ${percentile(latencies, 50).toFixed(1)}, p99 ${percentile(latencies, 99).toFixed(1)}, max ${latencies.at(-1).toFixed(1)}`);
  console.log(`  all ${total * members} deliveries done in ${seconds(delivered - started)} s: ${Math.round((total * members) / ((delivered - started) / 1000))} deliveries/s`);
  console.log(`  storage: ${metric('parley_storage_appends_total')} appends in ${metric('parley_storage_transactions_total')} transactions (group commit)`);
  console.log(`  frames: ${metric('parley_frames_sent_total')} WebSocket frames for ${metric('parley_deliveries_total')} deliveries (batching)`);
  await Promise.all([...readers, ...writers].map((c) => c.close()));
  await server.stop();
}

main().then(cleanup, async (err) => {
  console.error(err);
  await cleanup();
  process.exit(1);
});
