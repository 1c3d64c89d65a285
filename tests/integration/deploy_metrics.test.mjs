// The operator's files in deploy/ (Prometheus alert rules, Grafana dashboard)
// query only what the server really exposes: every metric they name, every
// label they match or group by, and every label value they match exactly,
// is found in a scrape of /metrics. Metrics of one engine (parley_sqlite_*,
// parley_redis_*) are checked by that engine's pass. Then the storage
// metrics an alert relies on are seen to move: the write-ahead log and the
// engagements held (embedded), and the Redis links going down and up again.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import {
  ENGINE, cleanup, connectAs, killRedis, makeTempDir, metricValue, redisFor, repoRoot, restartRedis, scrapeMetrics, sleep,
  startServer, uniqueEng, userToken,
} from './harness.mjs';
import { expectOk } from './engagement_helpers.mjs';

after(cleanup);

// Labels Prometheus adds to every series itself, and the histogram bucket's.
const SCRAPE_LABELS = new Set(['instance', 'job', 'le']);

// {name: [labels, ...]} of a scrape in the Prometheus text format.
function parseScrape(text) {
  const series = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `a scrape line in the text format: ${line}`);
    const labels = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k] = v;
    if (!series.has(m[1])) series.set(m[1], []);
    series.get(m[1]).push(labels);
  }
  return series;
}

// Every PromQL expression of the alert rules and the dashboard, with where it comes from.
function deployExpressions() {
  const rules = YAML.parse(fs.readFileSync(path.join(repoRoot, 'deploy/prometheus/parley-alerts.yml'), 'utf8'));
  const exprs = [];
  for (const group of rules.groups) {
    for (const rule of group.rules) {
      assert.ok(rule.alert && rule.expr && rule.labels?.severity && rule.annotations?.summary, `complete rule: ${JSON.stringify(rule)}`);
      exprs.push({ where: `alert ${rule.alert}`, expr: rule.expr });
    }
  }
  const dashboard = JSON.parse(fs.readFileSync(path.join(repoRoot, 'deploy/grafana/parley-dashboard.json'), 'utf8'));
  for (const panel of dashboard.panels) {
    for (const target of panel.targets ?? []) exprs.push({ where: `panel "${panel.title}"`, expr: target.expr });
  }
  for (const v of dashboard.templating.list) if (v.type === 'query') exprs.push({ where: `variable ${v.name}`, expr: v.query });
  return exprs;
}

function belongsToThisEngine(name) {
  if (name.startsWith('parley_sqlite_')) return ENGINE === 'local';
  if (name.startsWith('parley_redis_')) return ENGINE === 'redis';
  return true;
}

// What is wrong with `expr` against the scrape (empty when nothing).
function problemsOf(expr, series) {
  const problems = [];
  const named = [];
  for (const [, name, matchers] of expr.matchAll(/\b(parley_[a-z0-9_]+)(?:\{([^}]*)\})?/g)) {
    if (!belongsToThisEngine(name)) continue;
    const found = series.get(name);
    if (!found) {
      problems.push(`${name} is not exposed`);
      continue;
    }
    named.push(found);
    for (const [, label, op, value] of (matchers ?? '').matchAll(/(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"/g)) {
      if (SCRAPE_LABELS.has(label)) continue;
      const values = new Set(found.map((l) => l[label]).filter((v) => v !== undefined));
      if (values.size === 0) problems.push(`${name} has no label ${label}`);
      else if (op === '=' && !values.has(value)) problems.push(`${name}{${label}="${value}"} is never exposed`);
      else if (op === '=~' && /^[a-z_|]+$/.test(value)) {
        for (const alt of value.split('|')) if (!values.has(alt)) problems.push(`${name}{${label}="${alt}"} is never exposed`);
      }
    }
  }
  for (const [, list] of expr.matchAll(/\bby \(([^)]*)\)/g)) {
    for (const label of list.split(',').map((s) => s.trim())) {
      if (SCRAPE_LABELS.has(label) || named.length === 0) continue;
      if (!named.some((found) => found.some((l) => label in l))) problems.push(`grouped by ${label}, which no metric here has`);
    }
  }
  return problems;
}

describe('deploy/: alert rules and dashboard', () => {
  test('every metric, label and label value they use is exposed by the server', async () => {
    const server = await startServer();
    // A post and a join, so that every histogram and labelled series has been made.
    const eng = uniqueEng('dm');
    const poster = await connectAs(server, userToken('dm-poster', 'client', [eng]));
    expectOk(await poster.call('join', { ch: `eng:${eng}` }));
    expectOk(await poster.message(`eng:${eng}`, 'counted'));
    const series = parseScrape(await scrapeMetrics(server));
    const exprs = deployExpressions();
    assert.ok(exprs.length >= 30, `the rules and the dashboard hold queries (${exprs.length})`);
    const problems = exprs.flatMap(({ where, expr }) => problemsOf(expr, series).map((p) => `${where}: ${p}`));
    assert.deepEqual(problems, []);
    // The check itself finds a name that does not exist.
    assert.deepEqual(problemsOf('rate(parley_posts_acepted_total[5m])', series), ['parley_posts_acepted_total is not exposed']);
    assert.deepEqual(problemsOf('parley_storage_errors_total{kind="slow"}', series),
      ['parley_storage_errors_total{kind="slow"} is never exposed']);
    poster.close();
  });
});

describe('storage metrics', () => {
  test('the embedded engine: WAL size, storage up, no errors, engagements held by phase', { skip: ENGINE !== 'local' && 'embedded engine' }, async () => {
    const server = await startServer();
    const eng = uniqueEng('wal');
    const poster = await connectAs(server, userToken('wal-poster', 'client', [eng]));
    expectOk(await poster.call('join', { ch: `eng:${eng}` }));
    for (let i = 0; i < 20; i++) expectOk(await poster.message(`eng:${eng}`, `entry ${i} `.repeat(50)));
    const text = await scrapeMetrics(server);
    assert.ok(metricValue(text, 'parley_sqlite_wal_bytes') >= 20 * 500, text);
    assert.equal(metricValue(text, 'parley_storage_up'), 1);
    for (const kind of ['busy', 'unavailable', 'internal'])
      assert.equal(metricValue(text, `parley_storage_errors_total{engine="sqlite",kind="${kind}"}`), 0);
    assert.ok(metricValue(text, 'parley_engagements_loaded{phase="discovery"}') >= 1, text);
    assert.equal(metricValue(text, 'parley_redis_link_up{link="command"}'), undefined);
    poster.close();
  });

  test('the Redis engine: links and storage go down with Redis and come back', { skip: ENGINE !== 'redis' && 'redis engine' }, async () => {
    const redis = await redisFor(makeTempDir('parley-metrics-'));
    const server = await startServer({ redis });
    const eng = uniqueEng('link');
    const poster = await connectAs(server, userToken('link-poster', 'client', [eng]));
    expectOk(await poster.call('join', { ch: `eng:${eng}` }));
    let text = await scrapeMetrics(server);
    assert.equal(metricValue(text, 'parley_redis_link_up{link="command"}'), 1);
    assert.equal(metricValue(text, 'parley_redis_link_up{link="subscribe"}'), 1);
    assert.equal(metricValue(text, 'parley_redis_durable'), 1);
    assert.equal(metricValue(text, 'parley_redis_link_losses_total'), 0);
    // Maybe not 0: the revocation list's first read may race the first
    // connection (answered `unavailable`, and read again half a second later).
    const unavailableBefore = metricValue(text, 'parley_storage_errors_total{engine="redis",kind="unavailable"}');

    await killRedis(redis);
    const refused = await poster.request('post', { ch: `eng:${eng}`, kind: 'message', body: { text: 'during' } });
    assert.equal(refused.error?.code, 'unavailable', JSON.stringify(refused));
    text = await scrapeMetrics(server);
    assert.equal(metricValue(text, 'parley_redis_link_up{link="command"}'), 0);
    assert.equal(metricValue(text, 'parley_storage_up'), 0);
    assert.ok(metricValue(text, 'parley_redis_link_losses_total') >= 1, text);
    assert.ok(metricValue(text, 'parley_storage_errors_total{engine="redis",kind="unavailable"}') > unavailableBefore, text);

    await restartRedis(redis);
    const deadline = Date.now() + 30000;
    while (Date.now() < deadline) {
      text = await scrapeMetrics(server);
      if (metricValue(text, 'parley_storage_up') === 1) break;
      await sleep(200);
    }
    assert.equal(metricValue(text, 'parley_storage_up'), 1);
    assert.equal(metricValue(text, 'parley_redis_link_up{link="command"}'), 1);
    assert.equal(metricValue(text, 'parley_redis_link_up{link="subscribe"}'), 1);
    poster.close();
  });
});
