// The state push (protocol §9.9): after every stored event of an engagement
// other than `message` and `status`, each member of its channels gets
// {"ev":"state","eng","state"} once per connection, after the event itself,
// built from the state that includes the event.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { cleanup, connectAs, sleep, startServer, uniqueEng, userToken } from './harness.mjs';
import { expectOk, httpState } from './engagement_helpers.mjs';

let server;

before(async () => {
  server = await startServer();
});
after(cleanup);

// The index in `client.pushes` of the first push matching `predicate`, waiting for it.
async function pushIndex(client, predicate, what) {
  await client.until(() => client.pushes.some(predicate), undefined, what);
  return client.pushes.findIndex(predicate);
}

const statePushes = (client, eng) => client.pushes.filter((p) => p.ev === 'state' && p.eng === eng);

// A new engagement with its client and expert joined to its main channel.
async function partiesJoined(prefix) {
  const eng = uniqueEng(prefix);
  const main = `eng:${eng}`;
  const client = await connectAs(server, userToken(`${prefix}-client`, 'client', [eng]));
  const expert = await connectAs(server, userToken(`${prefix}-expert`, 'expert', [eng]));
  expectOk(await client.join(main), 'client joins');
  expectOk(await expert.join(main), 'expert joins');
  return { eng, main, client, expert };
}

describe('state push', () => {
  test('a member who joins while a workflow post is stored ends with the state that includes it', async () => {
    const { eng, main, expert } = await partiesJoined('joinrace');
    const reader = userToken('joinrace-client', 'client', [eng]);
    // Each round's proposal is stored while the join runs, or just before or
    // after it: the last state the member has must include it either way.
    for (let round = 0; round < 40; round++) {
      const late = await connectAs(server, userToken(`joinrace-late${round}`, 'client', [eng]));
      const [joined, proposal] = await Promise.all([
        late.join(main),
        expert.request('post', { ch: main, kind: 'proposal', body: { topic: 'timeline', text: `round ${round}`, terms: { round } } }),
      ]);
      expectOk(joined, 'the late member joins');
      expectOk(proposal, 'the proposal');
      const stored = (await httpState(server, reader, eng)).revision;
      assert.ok(Number.isInteger(stored), 'the stored state has a revision');
      const newest = () => Math.max(joined.state.revision, ...statePushes(late, eng).map((p) => p.state.revision));
      await late.until(() => newest() >= stored || undefined, 5000,
        `round ${round}: the late member's state reaches revision ${stored} (joined with ${joined.state.revision})`);
      await late.close();
    }
  });

  test('a proposal pushes the state to both parties, after the event; a message pushes none', async () => {
    const { eng, main, client, expert } = await partiesJoined('push');

    const m = expectOk(await client.post(main, 'message', { text: 'Hello' }), 'message');
    await expert.until(() => expert.events(main).some((e) => e.seq === m.seq), undefined, 'the message event');

    const p = expectOk(await client.post(main, 'proposal', { topic: 'phase', text: 'Agree?', terms: { to: 'agreement' } }),
      'proposal');
    for (const [who, c] of [['client', client], ['expert', expert]]) {
      const eventAt = await pushIndex(c, (x) => x.ev === 'event' && x.ch === main && x.seq === p.seq, `${who}: proposal event`);
      const stateAt = await pushIndex(c, (x) => x.ev === 'state' && x.eng === eng, `${who}: state push`);
      assert.ok(stateAt > eventAt, `${who}: the state push comes after the event`);
      const push = c.pushes[stateAt];
      assert.ok(push.state && typeof push.state === 'object', `${who}: the push carries a state`);
      assert.ok(push.state.open_proposals.some((x) => x.seq === p.seq && x.topic === 'phase'),
        `${who}: the pushed state holds the proposal: ${JSON.stringify(push.state.open_proposals)}`);
      // Only the proposal pushed state: the message before it did not.
      await sleep(100);
      assert.equal(statePushes(c, eng).length, 1, `${who}: one state push, none for the message`);
    }
  });

  test('a message pushes no state', async () => {
    const { eng, main, client, expert } = await partiesJoined('quiet');
    const m = expectOk(await expert.post(main, 'message', { text: 'Only words' }), 'message');
    await client.until(() => client.events(main).some((e) => e.seq === m.seq), undefined, 'the message event');
    // A later message as a fence: anything pushed for the first one came before it.
    const fence = expectOk(await expert.post(main, 'message', { text: 'Fence' }), 'fence');
    await client.until(() => client.events(main).some((e) => e.seq === fence.seq), undefined, 'the fence event');
    assert.equal(statePushes(client, eng).length, 0, 'no state push for messages');
    assert.equal(statePushes(expert, eng).length, 0, 'no state push for messages (poster)');
  });

  test('a connection joined to the main and the mediation channel gets one push per event', async () => {
    const eng = uniqueEng('both');
    const main = `eng:${eng}`;
    const med = `${main}:mediation`;
    const client = await connectAs(server, userToken('both-client', 'client', [eng]));
    const support = await connectAs(server, userToken('both-support', 'support', ['*']));
    expectOk(await client.join(main), 'client joins main');
    const f = expectOk(await client.post(main, 'flag', { type: 'dispute', text: 'Missing work' }), 'dispute flag');
    // The flag and the `mediation` event it opens are two stored events of the engagement.
    await pushIndex(client, (x) => x.ev === 'event' && x.ch === main && x.seq === f.seq + 1, 'mediation opened');
    expectOk(await client.join(med), 'client joins mediation');
    expectOk(await support.join(main), 'support joins main');
    expectOk(await support.join(med), 'support joins mediation');

    const before = { client: statePushes(client, eng).length, support: statePushes(support, eng).length };
    const p = expectOk(await support.post(med, 'proposal', { topic: 'resolution', text: 'Refund half', terms: { flag: f.seq } }),
      'resolution proposal in mediation');
    for (const [who, c] of [['client', client], ['support', support]]) {
      const eventAt = await pushIndex(c, (x) => x.ev === 'event' && x.ch === med && x.seq === p.seq, `${who}: proposal event`);
      await c.until(() => statePushes(c, eng).length > before[who], undefined, `${who}: state push`);
      const stateAt = c.pushes.findLastIndex((x) => x.ev === 'state' && x.eng === eng);
      assert.ok(stateAt > eventAt, `${who}: the state push comes after the event`);
      assert.ok(c.pushes[stateAt].state.open_proposals.some((x) => x.seq === p.seq && x.ch === med),
        `${who}: the pushed state holds the resolution proposal`);
      // A message as a fence: a second push for the same event would have come before it.
      const fence = expectOk(await support.post(main, 'message', { text: `fence for ${who}` }), 'fence');
      await c.until(() => c.events(main).some((e) => e.seq === fence.seq), undefined, `${who}: fence`);
      assert.equal(statePushes(c, eng).length, before[who] + 1, `${who}: one push for one event, though joined to both channels`);
    }
  });
});
