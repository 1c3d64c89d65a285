// The client library against the real server: connect, join, post and
// receive; resume after a dropped connection and after a server restart with
// no gap and no duplicate; a post whose reply was lost is sent again and
// stored once; a changed epoch starts the channel over; a refused token.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, userToken, uniqueEng, connectAs, binaryAvailable, makeTempDir } from '../integration/harness.mjs';
import { clientFor, serverOnDemand, recordEvents, waitUntil, seqs, range } from './helpers.mjs';
import { flakySockets } from './flaky_socket.mjs';

const skip = !binaryAvailable() && 'the parley binary is not built';
const theServer = serverOnDemand();

test('connect, join, post and receive: typed events, state and presence pushes', { skip }, async () => {
  const srv = await theServer();
  const eng = uniqueEng('lib');
  const ch = `eng:${eng}`;
  const alice = clientFor(srv, userToken('alice', 'client', [eng]));
  const bob = clientFor(srv, userToken('bob', 'expert', [eng]));
  const bobEvents = recordEvents(bob);
  const messages = [];
  bob.on('event:message', (ev) => messages.push(ev.body.text));
  const states = [];
  bob.on('state', (push) => states.push(push));
  const presence = [];
  bob.on('presence', (push) => presence.push(push));
  const connection = [];
  alice.on('connection', ({ state }) => connection.push(state));

  const hello = await alice.connect();
  assert.equal(hello.user.id, 'alice');
  assert.deepEqual(connection, ['connecting', 'online']);
  await bob.connect();
  const join = await bob.join(ch);
  assert.equal(join.ch, ch);
  assert.equal(typeof join.epoch, 'string');
  await alice.join(ch);
  await waitUntil(() => presence.some((p) => (p.joined || []).some((u) => u.id === 'alice')), 'alice\'s presence');

  const first = await alice.post(ch, 'message', { text: 'hello bob' });
  assert.ok(first.seq >= 1 && typeof first.cid === 'string');
  const flag = await alice.post(ch, 'flag', { type: 'risk', text: 'the data may be late' });
  await waitUntil(() => bobEvents(ch).some((e) => e.seq === flag.seq), 'the flag at bob');
  assert.deepEqual(messages, ['hello bob']);
  assert.deepEqual(seqs(bobEvents(ch)), range(1, flag.seq));
  // A flag is a workflow event: the state follows it, with bob's own `can`.
  await waitUntil(() => states.some((s) => s.eng === eng && s.state.open_flags.some((f) => f.seq === flag.seq)), 'the state push');
  assert.ok(states.at(-1).state.can.includes('message'));

  // A request the server refuses is a RequestError with its code; the connection stays.
  await assert.rejects(alice.post(ch, 'decision', { proposal: 9999, verdict: 'accepted' }), (err) => err.code === 'not_found');
  await assert.rejects(alice.join('support'), (err) => err.code === 'forbidden');
  assert.equal(alice.connectionState, 'online');
  const page = await bob.history(ch, { after: 0, limit: 10 });
  assert.deepEqual(seqs(page.events), range(1, flag.seq));
});

test('a dropped connection resumes every joined channel with no gap and no duplicate', { skip }, async () => {
  const srv = await theServer();
  const eng = uniqueEng('resume');
  const ch = `eng:${eng}`;
  const poster = await connectAs(srv, userToken('alice', 'client', [eng]));
  for (let i = 1; i <= 3; i++) await poster.message(ch, `before ${i}`);
  const net = flakySockets();
  const bob = clientFor(srv, userToken('bob', 'expert', [eng]), { WebSocket: net.WebSocket });
  const got = recordEvents(bob);
  const joins = [];
  bob.on('joined', (j) => joins.push(j));
  await bob.connect();
  const { head } = await bob.join(ch);
  assert.deepEqual(seqs(got(ch)), range(1, head), 'the phase event of the first use and three messages');

  // The network goes down; the channel moves on meanwhile.
  net.ctl.offline = true;
  net.ctl.drop();
  await waitUntil(() => bob.connectionState === 'waiting', 'the client to notice');
  for (let i = 1; i <= 9; i++) await poster.message(ch, `while away ${i}`);
  net.ctl.offline = false;

  await waitUntil(() => got(ch).length >= head + 9, 'the missed events');
  await poster.message(ch, 'after');
  await waitUntil(() => got(ch).length >= head + 10, 'the live event after the resume');
  assert.deepEqual(seqs(got(ch)), range(1, head + 10), 'every event once, in order');
  const resumed = joins.filter((j) => j.resumed);
  assert.equal(resumed.length, 1, 'one resume, by since and epoch');
  assert.equal(resumed[0].join.recovered, true);
  assert.equal(bob.lastSeq(ch), head + 10);
});

test('after a server restart on the same data the client resumes where it was', { skip }, async () => {
  const srv = await startServer();
  const eng = uniqueEng('restart');
  const ch = `eng:${eng}`;
  const bob = clientFor(srv, userToken('bob', 'expert', [eng]));
  const got = recordEvents(bob);
  const resets = [];
  bob.on('reset', (r) => resets.push(r));
  await bob.connect();
  await bob.join(ch);
  let last;
  for (let i = 1; i <= 4; i++) last = await bob.post(ch, 'message', { text: `before ${i}` });
  await waitUntil(() => bob.lastSeq(ch) === last.seq, 'own posts echoed');

  const restarted = await srv.restart();
  assert.equal(restarted.port, srv.port, 'the same address');
  const alice = await connectAs(restarted, userToken('alice', 'client', [eng]));
  await alice.message(ch, 'after the restart');
  await waitUntil(() => got(ch).length >= last.seq + 1, 'the event after the restart');
  assert.deepEqual(seqs(got(ch)), range(1, last.seq + 1));
  assert.equal(got(ch).at(-1).body.text, 'after the restart');
  assert.equal(resets.length, 1, 'the epoch stayed: no second reset');
});

test('a post whose reply was lost is sent again with its cid and stored once', { skip }, async () => {
  const srv = await theServer();
  const eng = uniqueEng('resend');
  const ch = `eng:${eng}`;
  const watcher = await connectAs(srv, userToken('alice', 'client', [eng]));
  await watcher.join(ch);
  const net = flakySockets();
  const bob = clientFor(srv, userToken('bob', 'expert', [eng]), { WebSocket: net.WebSocket });
  const got = recordEvents(bob);
  await bob.connect();
  await bob.join(ch);

  // Every reply to a post is lost, then the connection drops.
  net.ctl.lose = (frame) => frame.id !== undefined && frame.seq !== undefined && frame.ts !== undefined;
  const posted = bob.post(ch, 'message', { text: 'only once, please' });
  assert.equal(bob.pendingPosts(ch).length, 1);
  const stored = await watcher.waitFor((f) => f.ev === 'event' && f.ch === ch && f.body.text === 'only once, please');
  net.ctl.offline = true;
  net.ctl.drop();
  await waitUntil(() => bob.connectionState === 'waiting', 'the drop');
  net.ctl.lose = null;
  net.ctl.offline = false;

  const reply = await posted;
  assert.equal(reply.seq, stored.seq, 'the server answered the resend with the first seq');
  assert.equal(reply.cid, stored.cid);
  assert.equal(bob.pendingPosts(ch).length, 0);
  await watcher.message(ch, 'next');
  await waitUntil(() => got(ch).some((e) => e.body.text === 'next'), 'the next event');
  const copies = got(ch).filter((e) => e.body.text === 'only once, please');
  assert.equal(copies.length, 1);
  const page = await watcher.history(ch, { after: 0, limit: 50 });
  assert.equal(page.events.filter((e) => e.cid === stored.cid).length, 1, 'one stored event for the cid');

  // Posts made while offline wait in the outbox and go out once online.
  net.ctl.offline = true;
  net.ctl.drop();
  await waitUntil(() => bob.connectionState === 'waiting', 'the second drop');
  const queued = [bob.post(ch, 'message', { text: 'queued 1' }), bob.post(ch, 'message', { text: 'queued 2' })];
  net.ctl.offline = false;
  const [q1, q2] = await Promise.all(queued);
  assert.equal(q2.seq, q1.seq + 1, 'sent in the order posted');
});

test('a changed epoch starts the channel over: a reset, and the new log\'s events are not taken for duplicates', { skip }, async () => {
  const first = await startServer();
  const eng = uniqueEng('epoch');
  const ch = `eng:${eng}`;
  const bob = clientFor(first, userToken('bob', 'expert', [eng]));
  const got = recordEvents(bob);
  const resets = [];
  bob.on('reset', (r) => resets.push(r));
  await bob.connect();
  const join = await bob.join(ch);
  let last;
  for (let i = 1; i <= 3; i++) last = await bob.post(ch, 'message', { text: `old ${i}` });
  await waitUntil(() => bob.lastSeq(ch) === last.seq, 'the old log');
  const old = got(ch).length;

  // Another server on the same address, with a new data directory: the log starts over.
  const port = first.port;
  await first.stop();
  const second = await startServer({ port, dataDir: makeTempDir('parley-data-') });
  const alice = await connectAs(second, userToken('alice', 'client', [eng]));
  await alice.message(ch, 'new 1');
  await waitUntil(() => resets.length === 2, 'the reset');
  assert.notEqual(resets[1].join.epoch, join.epoch);
  await waitUntil(() => got(ch).some((e) => e.body.text === 'new 1'), 'the new log\'s first event');
  // The new log: the phase event of its first use, then the message.
  const fresh = got(ch).slice(old);
  assert.deepEqual(fresh.map((e) => [e.seq, e.kind]), [[1, 'phase'], [2, 'message']]);
  const next = await bob.post(ch, 'message', { text: 'new 2' });
  assert.equal(next.seq, 3);
  await waitUntil(() => got(ch).length === old + 3, 'the next event of the new log');
  assert.equal(got(ch).at(-1).seq, 3);
});

test('a refused token ends the connection; a token function gets to give a new one', { skip }, async () => {
  const srv = await theServer();
  const eng = uniqueEng('token');
  const expired = userToken('bob', 'expert', [eng], { exp: Math.floor(Date.now() / 1000) - 60 });
  const bad = clientFor(srv, expired);
  const refused = [];
  bad.on('refused', (r) => refused.push(r));
  await assert.rejects(bad.connect(), (err) => err.code === 'unauthorized');
  assert.equal(bad.connectionState, 'refused');
  assert.equal(refused.length, 1);
  await assert.rejects(bad.post(`eng:${eng}`, 'message', { text: 'x' }), (err) => err.code === 'unavailable');

  // The function is asked for a token on every connection: the refreshed one is taken.
  let calls = 0;
  const refreshing = clientFor(srv, async () => (++calls === 1 ? expired : userToken('bob', 'expert', [eng])));
  const hello = await refreshing.connect();
  assert.equal(hello.user.id, 'bob');
  assert.equal(calls, 2);
  await refreshing.join(`eng:${eng}`);
});

test('joins and posts made before connect() wait for the connection; an unanswered request times out', { skip }, async () => {
  const srv = await theServer();
  const eng = uniqueEng('early');
  const ch = `eng:${eng}`;
  const net = flakySockets();
  const bob = clientFor(srv, userToken('bob', 'expert', [eng]), { WebSocket: net.WebSocket });
  const got = recordEvents(bob);
  const joined = bob.join(ch);
  const posted = bob.post(ch, 'message', { text: 'queued before connecting' });
  assert.equal(bob.connectionState, 'idle');
  await bob.connect();
  const [join, reply] = await Promise.all([joined, posted]);
  assert.equal(join.ch, ch);
  await waitUntil(() => bob.lastSeq(ch) >= reply.seq, 'the post echoed');
  assert.equal(got(ch).filter((e) => e.cid === reply.cid).length, 1);

  // A reply that never comes: the request gives up with `timeout`; the connection stays.
  net.ctl.lose = (frame) => frame.id !== undefined && Array.isArray(frame.events);
  await assert.rejects(bob.request('history', { ch, after: 0 }, { timeoutMs: 200 }), (err) => err.code === 'timeout' && err.local === true);
  net.ctl.lose = null;
  assert.equal(bob.connectionState, 'online');
  const page = await bob.history(ch, { after: 0 });
  assert.ok(page.events.length >= 2);
});
