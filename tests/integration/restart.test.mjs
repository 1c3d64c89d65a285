// A restart without downtime (--reuse-port): a second process listens on the
// port of the first, the first is stopped (SIGTERM: it stops accepting, closes
// its WebSockets with 1001 and finishes its commits), and the second serves
// from then on. A connection made during the handover waits in the second
// process's backlog instead of being refused, and a member who was connected
// resumes with since on the second process and misses nothing.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  ENGINE, cleanup, connectAs, httpRequest, sleep, startServer, uniqueEng, userToken, withTimeout,
} from './harness.mjs';

after(cleanup);

const FAST = ['--post-rate', '100000', '--post-burst', '100000'];

function seqs(events) {
  return events.map((e) => e.seq);
}

// How many sockets listen on `port` (IPv4 loopback), from the kernel's table.
function listenersOn(port) {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return fs.readFileSync('/proc/net/tcp', 'utf8').split('\n')
    .filter((line) => { const f = line.trim().split(/\s+/); return f[1]?.endsWith(`:${hexPort}`) && f[3] === '0A'; }).length;
}

async function logged(server, pattern, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(server.logs())) {
    if (Date.now() > deadline) throw new Error(`no ${pattern} in the log:\n${server.logs()}`);
    await sleep(20);
  }
}

describe('restart without downtime (--reuse-port)', () => {
  test('a second process takes over the port; a member resumes on it and misses nothing', async () => {
    const first = await startServer({ args: ['--reuse-port', ...FAST] });
    const eng = uniqueEng('handover');
    const ch = `eng:${eng}`;
    const memberToken = userToken('handover-expert', 'expert', [eng]);
    const posterToken = userToken('handover-client', 'client', [eng]);
    const member = await connectAs(first, memberToken);
    const joined = await member.call('join', { ch });
    const poster = await connectAs(first, posterToken);
    await poster.call('join', { ch });
    const acked = [];  // seqs of the client's acknowledged posts
    for (let i = 0; i < 10; i++) acked.push((await poster.message(ch, `before ${i}`)).seq);
    await member.waitForEvents(ch, 10);

    // The second process binds the same port at once. The embedded engine
    // waits for the first to let go of the database before it is ready;
    // the Redis engine is ready at once, beside the first.
    const secondReady = startServer({
      args: ['--reuse-port', ...FAST], port: first.port, dataDir: first.dataDir, instance: `${first.instance}-next`,
    });
    let second = ENGINE === 'redis' ? await secondReady : null;
    const bound = Date.now() + 20000;
    while (listenersOn(first.port) < 2) {
      assert.ok(Date.now() < bound, 'the second process listens on the port beside the first');
      await sleep(20);
    }

    const firstStopped = first.stop();
    await logged(first, /event=draining/);
    const closed = await member.waitClosed(10000);
    assert.equal(closed.code, 1001, JSON.stringify(closed));
    // The first closes its listening socket as its drain begins (what the
    // kernel had queued on it then is reset: the README says so).
    const gone = Date.now() + 10000;
    while (listenersOn(first.port) > 1) {
      assert.ok(Date.now() < gone, 'the first process stops listening when it drains');
      await sleep(20);
    }
    // Made while the first drains (and, embedded, before the second is
    // ready): it is answered, not refused.
    const during = await withTimeout(httpRequest(first, 'GET', '/healthz', { timeoutMs: 40000 }), 45000, 'healthz during the handover');
    assert.equal(during.status, 200);
    assert.equal(await firstStopped, 0);
    second ??= await secondReady;
    if (ENGINE === 'local') assert.match(second.logs(), /waiting_for_database/);

    // The member comes back on the same address and resumes where it was.
    const resumed = await connectAs(second, memberToken);
    const poster2 = await connectAs(second, posterToken);
    await poster2.call('join', { ch });
    for (let i = 0; i < 5; i++) acked.push((await poster2.message(ch, `after ${i}`)).seq);
    const j = await resumed.call('join', { ch, since: acked[9], epoch: joined.epoch });
    assert.equal(j.recovered, true, JSON.stringify(j));
    assert.equal(j.epoch, joined.epoch);
    assert.deepEqual(seqs(j.events), acked.slice(10));
    const all = await resumed.call('history', { ch, after: joined.head, limit: 100 });
    assert.deepEqual(seqs(all.events.filter((e) => e.kind === 'message')), acked, 'every acknowledged post is stored once, in order');
    await Promise.all([resumed.close(), poster2.close(), poster.close()]);
  });

  test('without --reuse-port a second process cannot take the port', async () => {
    const first = await startServer();
    await assert.rejects(startServer({ port: first.port, instance: `${first.instance}-next` }), /address already in use|exited/i);
    assert.equal((await httpRequest(first, 'GET', '/healthz')).status, 200);
  });
});
