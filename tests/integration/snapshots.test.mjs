// Snapshots instead of replays (server/engagements.hpp): an engagement's state
// is stored with the seqs it reflects every --snapshot-every events and when
// it leaves the engagement cache, and a load reads the snapshot and only the
// events after it. Each case compares the loaded state with the state before,
// and reads from /metrics how the load was made.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import {
  ENGINE, cleanup, connectAs, metricValue, scrapeMetrics, startServer, uniqueEng, userToken,
} from './harness.mjs';
import { expectOk, httpState, normaliseState, pollUntil } from './engagement_helpers.mjs';

after(cleanup);

const FAST = ['--post-rate', '100000', '--post-burst', '100000'];

function counter(text, series) {
  const value = metricValue(text, series);
  assert.notEqual(value, undefined, `${series} is exposed`);
  return value;
}

async function loads(server) {
  const text = await scrapeMetrics(server);
  return {
    fromSnapshot: counter(text, 'parley_engagement_loads_total{from="snapshot"}'),
    fromEvents: counter(text, 'parley_engagement_loads_total{from="events"}'),
    replayed: counter(text, 'parley_engagement_events_replayed_total'),
    saved: counter(text, 'parley_engagement_snapshots_saved_total'),
  };
}

async function savedAtLeast(server, n) {
  await pollUntil(async () => (await loads(server)).saved >= n, 10000, `${n} snapshots saved`, 20);
}

// A conversation that leaves something in every part of the state: messages
// from both sides, proposals (some accepted, some still open), open flags.
async function converse(server, eng, rounds) {
  const ch = `eng:${eng}`;
  const client = await connectAs(server, userToken(`${eng}-client`, 'client', [eng]));
  const expert = await connectAs(server, userToken(`${eng}-expert`, 'expert', [eng]));
  expectOk(await client.call('join', { ch }));
  expectOk(await expert.call('join', { ch }));
  const open = [];
  for (let i = 0; i < rounds; i++) {
    expectOk(await client.message(ch, `question ${i}`));
    expectOk(await expert.message(ch, `answer ${i}`));
    const p = expectOk(await expert.post(ch, 'proposal', { topic: 'timeline', text: `plan ${i}`, terms: { weeks: i + 1 } }));
    if (i % 2 === 0) {
      expectOk(await client.post(ch, 'decision', { proposal: p.seq, verdict: 'accepted', text: 'agreed' }));
    } else {
      open.push(p.seq);
    }
    if (i % 3 === 0) expectOk(await expert.post(ch, 'flag', { type: 'risk', text: `risk ${i}` }));
  }
  await client.close();
  await expert.close();
  return { ch, open, clientToken: userToken(`${eng}-client`, 'client', [eng]) };
}

describe('engagement snapshots', () => {
  test('after a restart an engagement loads from its snapshot and the events after it, in the same state', async () => {
    const server = await startServer({ args: [...FAST, '--snapshot-every', '10'] });
    const eng = uniqueEng('snap');
    const { ch, open, clientToken } = await converse(server, eng, 12);
    const before = await httpState(server, clientToken, eng);
    assert.ok((await loads(server)).saved >= 4, 'snapshots were saved while posting');

    const restarted = await server.restart();
    const after = await httpState(restarted, clientToken, eng);
    assert.deepEqual(normaliseState(after), normaliseState(before));
    assert.equal(after.revision, before.revision);
    const l = await loads(restarted);
    assert.equal(l.fromSnapshot, 1);
    assert.equal(l.fromEvents, 0);
    assert.ok(l.replayed < 10, `only the events after the last snapshot were read (${l.replayed})`);

    // The rules go on from the loaded state: a proposal open before the restart is accepted.
    const client = await connectAs(restarted, clientToken);
    expectOk(await client.call('join', { ch }));
    expectOk(await client.post(ch, 'decision', { proposal: open[0], verdict: 'accepted', text: 'after all' }));
    const now = await httpState(restarted, clientToken, eng);
    assert.ok(!now.open_proposals.some((p) => p.seq === open[0]), 'the accepted proposal is no longer open');
    assert.equal(now.open_proposals.length, before.open_proposals.length - 1);
    await client.close();
  });

  test('engagements that take turns in a cache of one are reloaded from their snapshots, in the same state', async () => {
    const server = await startServer({ args: [...FAST, '--engagement-cache', '1', '--snapshot-every', '1000'] });
    const first = uniqueEng('snap-a');
    const second = uniqueEng('snap-b');
    const a = await converse(server, first, 4);
    const b = await converse(server, second, 4);  // drops the first, snapshotted as it leaves
    // A save is asynchronous: a load that starts before it is stored reads
    // the events instead (the same state, more to read).
    await savedAtLeast(server, 1);
    const stateA = await httpState(server, a.clientToken, first);  // drops the second
    await savedAtLeast(server, 2);
    const stateB = await httpState(server, b.clientToken, second);
    const l = await loads(server);
    assert.ok(l.fromSnapshot >= 2, `reloads started from snapshots (${JSON.stringify(l)})`);
    assert.equal(l.replayed, 0, 'nothing was stored after the snapshots they were reloaded from');

    const restarted = await server.restart({ args: [...FAST, '--snapshot-every', '1000'] });
    assert.deepEqual(normaliseState(await httpState(restarted, a.clientToken, first)), normaliseState(stateA));
    assert.deepEqual(normaliseState(await httpState(restarted, b.clientToken, second)), normaliseState(stateB));
  });

  test('a damaged snapshot is passed over: the engagement is replayed from its events, in the same state',
    { skip: ENGINE !== 'local' && 'the snapshot is damaged with the sqlite3 tool' }, async () => {
      const server = await startServer({ args: [...FAST, '--snapshot-every', '5'] });
      const eng = uniqueEng('snap-bad');
      const { clientToken } = await converse(server, eng, 4);
      const before = await httpState(server, clientToken, eng);
      assert.equal(await server.stop(), 0);
      execFileSync('sqlite3', [path.join(server.dataDir, 'parley.db'),
        `UPDATE snapshots SET state = '{"format":1,"eng":' WHERE eng = '${eng}';`]);

      const restarted = await server.restart();
      assert.deepEqual(normaliseState(await httpState(restarted, clientToken, eng)), normaliseState(before));
      const l = await loads(restarted);
      assert.equal(l.fromEvents, 1);
      assert.equal(l.fromSnapshot, 0);
    });
});
