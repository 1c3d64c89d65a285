// The engagement state stays small enough to push (protocol/README "Memory
// bounds"): the open proposals and flags hold at most their byte budgets
// (--max-open-proposal-bytes, --max-open-flag-bytes), one more is `conflict`
// and nothing is stored; members that read keep their connection while large
// states are pushed after every workflow event, and one that never reads is
// closed without the server's memory growing with it.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { cleanup, connectAs, httpRequest, startServer, uniqueEng, userToken } from './harness.mjs';
import { expectOk, expectRefused, httpState, pollUntil } from './engagement_helpers.mjs';

after(cleanup);

const FAST = ['--post-rate', '100000', '--post-burst', '100000', '--http-rate', '100000', '--http-burst', '100000'];
const PROPOSAL_BUDGET = 192 * 1024;
const FLAG_BUDGET = 64 * 1024;
// Under the sanitizers freed memory stays in quarantine: RSS says nothing there.
const RSS_GROWTH_MIB = process.env.PARLEY_SANITIZED ? Infinity : 200;

const rssMiB = (pid) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
const bytes = (value) => Buffer.byteLength(JSON.stringify(value));
const statePushes = (c, eng) => c.pushes.filter((p) => p.ev === 'state' && p.eng === eng);

async function startReady() {
  const server = await startServer({ args: FAST });
  await pollUntil(async () => (await httpRequest(server, 'GET', '/readyz')).status === 200, 15000, 'readyz', 50);
  return server;
}

// Posts `body()` until it is refused; asserts the refusal is the byte budget's
// `conflict` and that it stored nothing (the next event takes the next seq).
async function fillUntilRefused(poster, ch, kind, body) {
  const stored = [];
  for (let i = 0; i < 50; i++) {
    const r = await poster.post(ch, kind, body(i));
    if (!r.ok) {
      expectRefused(r, 'conflict', `${kind} over the byte budget`);
      assert.match(r.error.message, /bytes/, `the refusal names the byte budget: ${r.error.message}`);
      const fence = expectOk(await poster.message(ch, `after the refused ${kind}`), 'a message after the refusal');
      return { stored, fence };
    }
    stored.push(r.seq);
  }
  assert.fail(`${kind}s of ~50 KB were never refused by the byte budget`);
}

// An engagement whose open proposals and flags are full of large texts and
// terms, with its client and expert joined.
async function fullEngagement(server, prefix) {
  const eng = uniqueEng(prefix);
  const ch = `eng:${eng}`;
  const client = await connectAs(server, userToken(`${prefix}-client`, 'client', [eng]));
  const expert = await connectAs(server, userToken(`${prefix}-expert`, 'expert', [eng]));
  expectOk(await client.join(ch), 'client joins');
  expectOk(await expert.join(ch), 'expert joins');
  // 36 000 bytes of text (three-byte characters) and 15 000 of terms each.
  const proposals = await fillUntilRefused(expert, ch, 'proposal', (i) => ({
    topic: 'timeline', text: `${i} ${'€'.repeat(12000)}`, terms: { weeks: i, note: 'n'.repeat(15000) },
  }));
  const flags = await fillUntilRefused(client, ch, 'flag', (i) => ({ type: 'risk', text: `${i} ${'r'.repeat(15000)}` }));
  const history = expectOk(await client.history(ch, { after: 0, limit: 500 }), 'history');
  const seqs = history.events.map((e) => e.seq);
  assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1), 'nothing refused was stored');
  assert.equal(seqs.at(-1), flags.fence.seq);
  return { eng, ch, client, expert, proposals: proposals.stored, flags: flags.stored };
}

describe('engagement state size', () => {
  test('proposals and flags are refused past their byte budgets; members keep their connection while the state is pushed', async (t) => {
    const server = await startReady();
    const { eng, ch, client, expert, proposals, flags } = await fullEngagement(server, 'big');
    assert.ok(proposals.length >= 2 && proposals.length < 50, `${proposals.length} proposals stored`);
    assert.ok(flags.length >= 2 && flags.length < 50, `${flags.length} flags stored`);

    const state = await httpState(server, userToken('big-client', 'client', [eng]), eng);
    assert.deepEqual(state.open_proposals.map((p) => p.seq), proposals);
    assert.deepEqual(state.open_flags.map((f) => f.seq), flags);
    const proposalBytes = state.open_proposals.reduce((n, p) => n + bytes(p.text) + bytes(p.terms), 0);
    const flagBytes = state.open_flags.reduce((n, f) => n + bytes(f.text), 0);
    assert.ok(proposalBytes <= PROPOSAL_BUDGET, `open proposals hold ${proposalBytes} bytes`);
    assert.ok(flagBytes <= FLAG_BUDGET, `open flags hold ${flagBytes} bytes`);
    assert.ok(bytes(state) < PROPOSAL_BUDGET + FLAG_BUDGET + 16 * 1024, `the state is ${bytes(state)} bytes`);
    t.diagnostic(`${proposals.length} proposals and ${flags.length} flags stored: a state of ${bytes(state)} bytes`);

    // 20 more workflow events, each pushing the whole state to every member.
    const before = { client: statePushes(client, eng).length, expert: statePushes(expert, eng).length };
    for (let i = 0; i < 20; i++) {
      expectOk(await expert.post(ch, 'flag_update', { flag: flags[i % flags.length], state: 'acknowledged', text: `seen ${i}` }),
        'flag_update');
    }
    for (const [who, c] of [['client', client], ['expert', expert]]) {
      await c.until(() => statePushes(c, eng).length >= before[who] + 20, 60000, `${who}: 20 state pushes`);
      assert.equal(c.closeInfo, null, `${who} keeps its connection`);
      const last = statePushes(c, eng).at(-1).state;
      assert.ok(bytes(last) < PROPOSAL_BUDGET + FLAG_BUDGET + 16 * 1024, `${who}: a pushed state of ${bytes(last)} bytes`);
      assert.deepEqual(last.open_flags.map((f) => f.state), flags.map(() => 'acknowledged'));
    }
    // Deciding one makes room for another proposal.
    expectOk(await client.post(ch, 'decision', { proposal: proposals[0], verdict: 'rejected' }), 'reject');
    expectOk(await expert.post(ch, 'proposal', { topic: 'timeline', text: 'smaller', terms: { weeks: 1 } }), 'room again');
    await Promise.all([client.close(), expert.close()]);
    assert.equal(await server.stop(), 0);
  });

  test('a member that never reads while large states are pushed is closed; server memory stays bounded', async (t) => {
    const server = await startReady();
    const { eng, ch, client, expert, flags } = await fullEngagement(server, 'sleep');
    const sleeper = await connectAs(server, userToken('sleep-watcher', 'client', [eng]));
    expectOk(await sleeper.join(ch), 'the sleeper joins');
    const pid = server.proc.pid;
    const rssBefore = rssMiB(pid);
    sleeper.ws._socket.pause();

    // 80 pushes of ~250 KB: 20 MB for the sleeper, five times its queue limit.
    const before = statePushes(client, eng).length;
    let peak = rssBefore;
    for (let i = 0; i < 80; i++) {
      expectOk(await expert.post(ch, 'flag_update', { flag: flags[i % flags.length], state: 'acknowledged', text: `x ${i}` }),
        'flag_update');
      peak = Math.max(peak, rssMiB(pid));
      // Paced by the reader, so a busy test machine cannot make the reading member fall behind by a queue limit.
      await client.until(() => statePushes(client, eng).length >= before + i + 1, 30000, 'the reading member gets every push');
    }
    peak = Math.max(peak, rssMiB(pid));
    const grown = peak - rssBefore;
    t.diagnostic(`VmRSS grew ${grown.toFixed(1)} MiB while a member did not read`);
    assert.ok(grown < RSS_GROWTH_MIB, `server RSS grew ${grown.toFixed(1)} MiB`);
    assert.equal(client.closeInfo, null, 'the reading member keeps its connection');

    sleeper.ws._socket.resume();
    const info = await sleeper.waitClosed(30000);
    assert.ok(info.code === 4001 || info.code === 1006, `closed 4001 or by the write deadline, got ${JSON.stringify(info)}`);
    t.diagnostic(`the sleeper was closed with ${info.code}`);
    await Promise.all([client.close(), expert.close()]);
    assert.equal(await server.stop(), 0);
  });
});
