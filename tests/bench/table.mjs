// Turns the load tool's RESULT lines (JSON, one a line on stdin) into one
// Markdown table: the figures of every scenario run.sh ran.
import { readFileSync } from 'node:fs';

const results = readFileSync(0, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line));

const fixed = (v, digits) => (Number.isFinite(v) ? v.toFixed(digits) : '—');
const count = (v) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '—');
const mib = (kib) => (kib / 1024).toFixed(1);

function trafficRow(r) {
  const fans = r.subscribers > 0;
  const lat = r.lat_ms;
  return [
    r.label,
    r.closed_loop ? 'closed loop' : count(r.offered_pps),
    count(r.achieved_pps),
    fans ? count(r.deliveries_per_s) : '—',
    fans ? `${fixed(r.delivered_pct, 1)} %` : '—',
    fans ? [lat.p50, lat.p90, lat.p99, lat.p999, lat.max].map((v) => fixed(v, 1)).join(' / ') : '—',
    `${fixed(r.ack_ms.p50, 1)} / ${fixed(r.ack_ms.p99, 1)}`,
    fans ? fixed(r.server_us_per_delivery, 2) : '—',
    fixed(r.server_us_per_post, 1),
    `RSS ${mib(r.rss_before_kib)} → ${mib(r.rss_after_kib)} MiB`,
    `${fixed(r.tool_cpu_pct, 0)} %`,
    String(r.errors + (r.out_of_order ?? 0)),
  ];
}

function idleRow(r) {
  const points = r.rss_kib.map(([n, kib]) => `${n}: ${mib(kib)}`).join(', ');
  return [r.label, '—', '—', '—', '—', '—', '—', '—', '—',
    `**${fixed(r.kib_per_connection, 2)} KiB/connection** (MiB at ${points}; ${r.open} open)`, '—', String(r.errors)];
}

const header = ['scenario', 'offered posts/s', 'achieved posts/s', 'deliveries/s', 'delivered',
  'latency ms p50 / p90 / p99 / p99.9 / max', 'ack ms p50 / p99', 'server µs/delivery', 'server µs/post',
  'server memory', 'tool CPU', 'errors'];
const rows = results.map((r) => (r.mode === 'idle' ? idleRow(r) : trafficRow(r)));
console.log(`| ${header.join(' | ')} |`);
console.log(`|${header.map(() => ' --- ').join('|')}|`);
for (const row of rows) console.log(`| ${row.join(' | ')} |`);
for (const r of results) {
  for (const [what, n] of Object.entries(r.error_kinds ?? {})) console.log(`${r.label}: ${what} × ${n}`);
  if (r.out_of_order) console.log(`${r.label}: ${r.out_of_order} events out of order`);
}
