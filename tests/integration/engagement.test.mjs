// One engagement from its first use to `closed`, through the real server over
// WebSocket and HTTP: phases, agreement and scope change, flags and support
// notices, a dispute settled in mediation, the decision log and its export,
// and a crash (SIGKILL) and restart on the same data directory (protocol §1,
// §3, §4, §5, §7). Every refused post is tried on both paths and must leave
// the channels and the decision log as they were.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { cleanup, connectAs, makeTempDir, readAll, startServer, uniqueEng, userToken } from './harness.mjs';
import {
  DEFAULT_PHASE_MS, GENESIS_PREV, HTTP_STATUS, assertChain, eventAt, expectOk, expectRefused, httpDecisions,
  httpDecisionsJsonl, httpHead, httpPost, httpState, normaliseState, verifyLog,
} from './engagement_helpers.mjs';

let server;

before(async () => {
  server = await startServer({ args: ['--post-rate', '100000', '--post-burst', '100000', '--http-rate', '100000', '--http-burst', '100000'] });
});
after(cleanup);

const eng = uniqueEng('flow');
const main = `eng:${eng}`;
const med = `${main}:mediation`;
const ids = { client: 'flow-client', expert: 'flow-expert', support: 'flow-support', bot: 'flow-bot' };
const tok = {
  client: userToken(ids.client, 'client', [eng], { name: 'Clara Client' }),
  expert: userToken(ids.expert, 'expert', [eng], { name: 'Evan Expert' }),
  support: userToken(ids.support, 'support', ['*'], { name: 'Sam Support' }),
  bot: userToken(ids.bot, 'bot', [eng], { name: 'Tracker' }),
};
const c = {};           // WebSocket clients by role
let model;              // the §4 state the engagement must be in
const expectedRecords = [];  // the decision log so far: the fields the test knows in advance

// The steps share one engagement; once a step fails the later ones are skipped.
let broken = null;
function step(name, fn) {
  test(name, async (t) => {
    if (broken) {
      t.skip(`skipped: "${broken}" failed`);
      return;
    }
    try {
      await fn(t);
    } catch (err) {
      broken = name;
      throw err;
    }
  });
}

async function connectAll() {
  for (const role of Object.keys(tok)) c[role] = await connectAs(server, tok[role]);
}

// The state from GET /api/v1/engagements/<id> and from a join reply both equal
// the model, and their revision is the sum of the two channels' heads.
async function expectState(what) {
  const viaHttp = await httpState(server, tok.client, eng);
  const viaJoin = expectOk(await c.bot.join(main), `${what}: join`).state;
  assert.deepEqual(normaliseState(viaHttp), normaliseState(model), `${what}: GET /api/v1/engagements state`);
  assert.deepEqual(normaliseState(viaJoin), normaliseState(model), `${what}: join state`);
  const heads = (await httpHead(server, tok.support, main)) + (await httpHead(server, tok.support, med));
  assert.equal(viaHttp.revision, heads, `${what}: revision`);
  assert.equal(viaJoin.revision, heads, `${what}: join revision`);
  return viaHttp;
}

async function snapshot() {
  return {
    main: await httpHead(server, tok.support, main),
    mediation: await httpHead(server, tok.support, med),
    support: await httpHead(server, tok.support, 'support'),
    records: (await httpDecisions(server, tok.support, eng)).length,
  };
}

// Each row is tried over WebSocket and over HTTP; each refusal must store nothing.
async function expectRefusals(rows) {
  for (const { name, who, ch = main, kind, body, code } of rows) {
    const before = await snapshot();
    expectRefused(await c[who].post(ch, kind, body), code, `${name} (WebSocket)`);
    const h = await httpPost(server, tok[who], ch, kind, body);
    assert.equal(h.status, HTTP_STATUS[code], `${name} (HTTP): ${h.status} ${h.text}`);
    assert.equal(h.json?.error?.code, code, `${name} (HTTP): ${h.text}`);
    assert.deepEqual(await snapshot(), before, `${name}: nothing is stored`);
  }
}

async function propose(who, topic, text, terms, ch = main) {
  const r = expectOk(await c[who].post(ch, 'proposal', { topic, text, terms }), `${who} proposes ${topic}`);
  model.open_proposals.push({ seq: r.seq, ch, topic, text, terms, by: ids[who], accepted_by: [] });
  return r.seq;
}

function openProposal(seq, ch = main) {
  const p = model.open_proposals.find((x) => x.seq === seq && x.ch === ch);
  assert.ok(p, `proposal ${seq} in ${ch} is open in the model`);
  return p;
}

function closeProposal(seq, ch = main) {
  model.open_proposals = model.open_proposals.filter((x) => !(x.seq === seq && x.ch === ch));
}

// Posts a decision; resolves to {seq, ts, ev} with the stored decision event.
async function decide(who, proposal, verdict, ch = main) {
  const r = expectOk(await c[who].post(ch, 'decision', { proposal, verdict, text: `${verdict} by ${who}` }),
    `${who} decides ${proposal} (${verdict})`);
  const ev = await eventAt(c.support, ch, r.seq);
  assert.equal(ev.kind, 'decision');
  assert.equal(ev.from.id, ids[who]);
  const pushed = await c.expert.waitFor((x) => x.ev === 'event' && x.ch === ch && x.seq === r.seq);
  assert.deepEqual(pushed, ev, 'the pushed decision event is the stored one');
  return { seq: r.seq, ts: r.ts, ev };
}

// The acceptance that completes a proposal: its decision event carries the
// record written with it, and the record holds the proposal (protocol §5).
async function acceptCompleting(who, proposalSeq, ch = main) {
  const p = openProposal(proposalSeq, ch);
  const d = await decide(who, proposalSeq, 'accepted', ch);
  const records = await httpDecisions(server, tok.client, eng);
  const n = expectedRecords.length + 1;
  assert.equal(records.length, n, 'one record per accepted proposal');
  const rec = records[n - 1];
  assert.deepEqual(d.ev.body.record, { n: rec.n, hash: rec.hash, prev: rec.prev }, 'the decision event carries its record');
  const accepted_by = [...p.accepted_by, ids[who]];
  const expected = {
    n, eng, ch, topic: p.topic, terms: p.terms, text: p.text, proposed_by: p.by, accepted_by,
    proposal_seq: proposalSeq, decision_seq: d.seq,
  };
  for (const [k, v] of Object.entries(expected)) assert.deepEqual(rec[k], v, `record ${n}: ${k}`);
  assert.equal(typeof rec.ts, 'number');
  assert.ok(Math.abs(rec.ts - d.ts) < 60000, `record ${n}: ts is the acceptance time in ms`);
  assert.equal(rec.prev, n === 1 ? GENESIS_PREV : records[n - 2].hash);
  expectedRecords.push(expected);
  closeProposal(proposalSeq, ch);
  return d;
}

// An accepted phase proposal: the server's `phase` event follows the decision.
async function acceptPhase(who, proposalSeq, from, to) {
  const d = await acceptCompleting(who, proposalSeq);
  const ph = await eventAt(c.support, main, d.seq + 1);
  assert.equal(ph.kind, 'phase', 'a phase event follows the accepted phase proposal');
  assert.equal(ph.from.role, 'system');
  assert.deepEqual(ph.body, { from, to });
  model.phase = to;
  model.phase_since = ph.ts;
  model.phase_due = to === 'closed' ? null : ph.ts + DEFAULT_PHASE_MS[to];
  // Closed: the review period (protocol §9.7, 14 days by default) begins.
  if (to === 'closed') model.reviews = { due: ph.ts + 14 * 24 * 3600 * 1000, submitted_by: [], revealed: false };
  return { decision: d, phase: ph };
}

describe('an engagement from discovery to closed', () => {
  step('first use opens the engagement in discovery; join replies carry the state', async () => {
    await connectAll();
    const j = expectOk(await c.client.join(main), 'client joins');
    assert.equal(j.head, 1);
    assert.equal(j.events.length, 1);
    const opened = j.events[0];
    assert.equal(opened.seq, 1);
    assert.equal(opened.kind, 'phase');
    assert.equal(opened.from.role, 'system');
    assert.deepEqual(opened.body, { from: null, to: 'discovery' });
    assert.ok(Math.abs(opened.ts - Date.now()) < 60000);
    model = {
      phase: 'discovery',
      phase_since: opened.ts,
      phase_due: opened.ts + DEFAULT_PHASE_MS.discovery,
      agreement: null,
      open_flags: [],
      open_proposals: [],
      owed_reply: null,
      last_status_ts: null,
      due: null,
      // §9.9 additions: a first-use engagement has no invitation.
      title: null,
      details: null,
      parties: null,
      requirements: [],
      settings: { revisions: 2, review_days: 3 },
      calls: [],
      deliverables: {},
    };
    assert.deepEqual(normaliseState(j.state), model);
    const partyCan = ['flag', 'message', 'propose:agreement', 'propose:call', 'propose:compensation', 'propose:phase',
      'propose:scope_change', 'propose:timeline', 'status'];
    assert.deepEqual(j.state.can, partyCan, 'the client may take these actions now');
    for (const role of ['expert', 'support']) {
      const r = expectOk(await c[role].join(main), `${role} joins ${main}`);
      assert.deepEqual(normaliseState(r.state), model);
      assert.deepEqual(r.state.can, role === 'support' ? ['flag', 'message'] : partyCan, `${role}'s can`);
      assert.equal(r.head, 1);
    }
    const s = expectOk(await c.support.join('support'), 'support joins support');
    assert.equal(s.state, null, 'the support channel has no engagement state');
    expectRefused(await c.client.join('support'), 'forbidden', 'a client joins support');
    for (const role of ['client', 'expert', 'support']) {
      expectRefused(await c[role].join(med), 'not_found', `${role} joins mediation before any dispute`);
    }
    await expectState('opened');
  });

  step('messages between the parties: owed_reply follows the side that spoke last', async () => {
    const m1 = expectOk(await c.client.message(main, 'Hello Evan, looking forward to the call.'));
    assert.equal(m1.seq, 2);
    model.owed_reply = { side: 'expert', since_seq: m1.seq, since_ts: m1.ts };
    await expectState('after the client spoke');
    expectOk(await c.client.message(main, 'Agenda attached.'));
    expectOk(await c.support.message(main, 'Support is following this engagement.'));
    await expectState('a second client message and a support message leave the debt as it was');
    const m2 = expectOk(await c.expert.message(main, 'Hi Clara, thanks, I have read the brief.'));
    model.owed_reply = { side: 'client', since_seq: m2.seq, since_ts: m2.ts };
    await expectState('after the expert answered');
  });

  step('refusals in discovery store nothing', async () => {
    await expectRefusals([
      { name: 'phase skip (discovery to active)', who: 'expert', kind: 'proposal', code: 'conflict',
        body: { topic: 'phase', text: 'Start now', terms: { to: 'active' } } },
      { name: 'phase back to the current phase', who: 'client', kind: 'proposal', code: 'conflict',
        body: { topic: 'phase', text: 'Again', terms: { to: 'discovery' } } },
      { name: 'client proposes closed', who: 'client', kind: 'proposal', code: 'forbidden',
        body: { topic: 'phase', text: 'Done', terms: { to: 'closed' } } },
      { name: 'bot proposes', who: 'bot', kind: 'proposal', code: 'forbidden',
        body: { topic: 'agreement', text: 'Terms', terms: { scope: 'x' } } },
      { name: 'support proposes a phase', who: 'support', kind: 'proposal', code: 'forbidden',
        body: { topic: 'phase', text: 'Move on', terms: { to: 'agreement' } } },
      { name: 'bot raises a dispute flag', who: 'bot', kind: 'flag', code: 'forbidden',
        body: { type: 'dispute', text: 'Automated dispute' } },
      { name: 'decision on an unknown proposal', who: 'client', kind: 'decision', code: 'not_found',
        body: { proposal: 999999, verdict: 'accepted' } },
      { name: 'flag_update of an unknown flag', who: 'expert', kind: 'flag_update', code: 'not_found',
        body: { flag: 999999, state: 'acknowledged' } },
      { name: 'resolution outside mediation', who: 'support', kind: 'proposal', code: 'forbidden',
        body: { topic: 'resolution', text: 'Settle', terms: { flag: 2 } } },
      { name: 'post in mediation before any dispute', who: 'client', ch: med, kind: 'message', code: 'not_found',
        body: { text: 'Anyone here?' } },
    ]);
    await expectState('after the refusals');
  });

  step('discovery to agreement: the expert proposes, the client accepts', async () => {
    const p = await propose('expert', 'phase', 'Ready to agree the terms.', { to: 'agreement' });
    await expectState('phase proposal open');
    await expectRefusals([
      { name: 'a proposal decided by its proposer', who: 'expert', kind: 'decision', code: 'conflict',
        body: { proposal: p, verdict: 'accepted' } },
    ]);
    await acceptPhase('client', p, 'discovery', 'agreement');
    await expectRefusals([
      { name: 'a proposal accepted twice', who: 'client', kind: 'decision', code: 'conflict',
        body: { proposal: p, verdict: 'accepted' } },
      { name: 'a proposal rejected after its acceptance', who: 'client', kind: 'decision', code: 'conflict',
        body: { proposal: p, verdict: 'rejected' } },
    ]);
    await expectState('in agreement');
  });

  step('agreement: terms proposed by the client and accepted by the expert make version 1', async () => {
    const terms = {
      scope: 'Interview 12 cold-chain logistics operators in the EU',
      timeline: { start: '2025-12-01', weeks: 3 },
      compensation: { amount: 4500, currency: 'EUR' },
    };
    const p = await propose('client', 'agreement', 'Scope, timeline and fee as discussed.', terms);
    await expectRefusals([
      { name: 'active without an accepted agreement', who: 'expert', kind: 'proposal', code: 'conflict',
        body: { topic: 'phase', text: 'Start', terms: { to: 'active' } } },
      { name: 'phase skip (agreement to completion)', who: 'client', kind: 'proposal', code: 'conflict',
        body: { topic: 'phase', text: 'Wrap up', terms: { to: 'completion' } } },
      { name: 'the agreement decided by its proposer', who: 'client', kind: 'decision', code: 'conflict',
        body: { proposal: p, verdict: 'accepted' } },
    ]);
    await acceptCompleting('expert', p);
    model.agreement = { terms, version: 1 };
    await expectState('agreement accepted');
  });

  step('agreement to active; a phase proposal is checked again when it is accepted', async () => {
    const p1 = await propose('expert', 'phase', 'Terms agreed, let us start.', { to: 'active' });
    const p2 = await propose('client', 'phase', 'Please start.', { to: 'active' });
    await expectState('two phase proposals open');
    await acceptPhase('client', p1, 'agreement', 'active');
    await expectRefusals([
      { name: 'accepting a phase proposal the engagement has passed', who: 'expert', kind: 'decision', code: 'conflict',
        body: { proposal: p2, verdict: 'accepted' } },
    ]);
    const r = await decide('expert', p2, 'rejected');
    assert.equal(r.ev.body.record, undefined, 'a rejection writes no record');
    closeProposal(p2);
    assert.equal((await httpDecisions(server, tok.client, eng)).length, expectedRecords.length);
    await expectState('in active');
  });

  step('a bot posts status over HTTP (201) and may raise only some flags', async () => {
    const h = await httpPost(server, tok.bot, main, 'status', { text: 'Interviews 3/12 done', progress: 25 });
    assert.equal(h.status, 201, h.text);
    assert.equal(typeof h.json.seq, 'number');
    assert.equal(typeof h.json.ts, 'number');
    const st = await eventAt(c.client, main, h.json.seq);
    assert.equal(st.kind, 'status');
    assert.equal(st.ts, h.json.ts);
    assert.deepEqual(st.from, { id: ids.bot, name: 'Tracker', role: 'bot' });
    model.last_status_ts = h.json.ts;

    const f = expectOk(await c.bot.post(main, 'flag', { type: 'delay', text: 'Two interviews rescheduled' }), 'bot delay flag');
    model.open_flags.push({ seq: f.seq, type: 'delay', state: 'open', text: 'Two interviews rescheduled', by: ids.bot });
    await expectRefusals([
      { name: 'bot flag of type dispute', who: 'bot', kind: 'flag', code: 'forbidden',
        body: { type: 'dispute', text: 'x' } },
      { name: 'bot flag of type scope_change', who: 'bot', kind: 'flag', code: 'forbidden',
        body: { type: 'scope_change', text: 'x' } },
      { name: 'bot proposes a timeline', who: 'bot', kind: 'proposal', code: 'forbidden',
        body: { topic: 'timeline', text: 'Later', terms: { weeks: 4 } } },
      { name: 'bot decides', who: 'bot', kind: 'decision', code: 'forbidden',
        body: { proposal: f.seq, verdict: 'accepted' } },
    ]);
    await expectState('status and delay flag');
  });

  step('a scope_change flag notifies support; its proposal amends the agreement key by key to version 2', async () => {
    const text = 'We also need the Nordic market covered.';
    const f = expectOk(await c.client.post(main, 'flag', { type: 'scope_change', text }), 'scope_change flag');
    const notice = await c.support.waitFor((p) => p.ev === 'event' && p.ch === 'support' && p.kind === 'notice' && p.body?.flag === f.seq);
    assert.equal(notice.from.role, 'system');
    assert.equal(notice.body.type, 'scope_change');
    assert.equal(notice.body.eng, eng);
    assert.equal(typeof notice.body.text, 'string');
    model.open_flags.push({ seq: f.seq, type: 'scope_change', state: 'open', text, by: ids.client });
    await expectState('scope_change flag open');

    expectOk(await c.expert.post(main, 'flag_update', { flag: f.seq, state: 'acknowledged', text: 'Looking into it.' }));
    model.open_flags.find((x) => x.seq === f.seq).state = 'acknowledged';
    await expectState('scope_change flag acknowledged');

    const change = { scope: 'Interview 14 operators in the EU and Norway', extra_markets: ['NO'] };
    const p = await propose('expert', 'scope_change', 'Two more interviews in Norway.', change);
    await acceptCompleting('client', p);
    model.agreement = { terms: { ...model.agreement.terms, ...change }, version: 2 };
    const s = await expectState('scope change accepted');
    assert.deepEqual(s.agreement.terms.timeline, { start: '2025-12-01', weeks: 3 }, 'keys not in the change are kept');
    assert.equal(s.agreement.terms.scope, change.scope, 'keys in the change replace the old ones');

    expectOk(await c.client.post(main, 'flag_update', { flag: f.seq, state: 'resolved', text: 'Covered by the change.' }));
    model.open_flags = model.open_flags.filter((x) => x.seq !== f.seq);
    await expectState('scope_change flag resolved');
  });

  let dispute;
  step('a dispute flag opens mediation for the parties and support, and notifies support', async () => {
    expectRefused(await c.client.join(med), 'not_found', 'mediation before the dispute');
    const text = 'Notes for four interviews are missing.';
    const f = expectOk(await c.client.post(main, 'flag', { type: 'dispute', text }), 'dispute flag');
    dispute = f.seq;
    const opened = await eventAt(c.support, main, f.seq + 1);
    assert.equal(opened.kind, 'mediation');
    assert.equal(opened.from.role, 'system');
    assert.deepEqual(opened.body, { state: 'opened', ch: med });
    const notice = await c.support.waitFor((p) => p.ev === 'event' && p.ch === 'support' && p.kind === 'notice' && p.body?.flag === f.seq);
    assert.equal(notice.body.type, 'dispute');
    assert.equal(notice.body.eng, eng);
    model.open_flags.push({ seq: f.seq, type: 'dispute', state: 'open', text, by: ids.client });

    for (const role of ['client', 'expert', 'support']) {
      const j = expectOk(await c[role].join(med), `${role} joins mediation`);
      assert.equal(j.ch, med);
      assert.deepEqual(normaliseState(j.state), normaliseState(model));
    }
    expectRefused(await c.bot.join(med), 'forbidden', 'a bot joins mediation');

    const delayFlag = model.open_flags.find((x) => x.type === 'delay').seq;
    await expectRefusals([
      { name: 'flag_update resolving a dispute flag (party)', who: 'client', kind: 'flag_update', code: 'conflict',
        body: { flag: dispute, state: 'resolved', text: 'Never mind' } },
      { name: 'flag_update resolving a dispute flag (support)', who: 'support', kind: 'flag_update', code: 'conflict',
        body: { flag: dispute, state: 'resolved', text: 'Closing' } },
      { name: 'a party proposes a resolution', who: 'client', ch: med, kind: 'proposal', code: 'forbidden',
        body: { topic: 'resolution', text: 'Refund', terms: { flag: dispute } } },
      { name: 'a resolution of a flag that is no dispute', who: 'support', ch: med, kind: 'proposal', code: 'conflict',
        body: { topic: 'resolution', text: 'x', terms: { flag: delayFlag } } },
      { name: 'a resolution of an unknown flag', who: 'support', ch: med, kind: 'proposal', code: 'not_found',
        body: { topic: 'resolution', text: 'x', terms: { flag: 999999 } } },
    ]);
    await expectState('dispute open');
  });

  step('support proposes a resolution; it is accepted once both parties accept, which resolves the dispute', async () => {
    const terms = { flag: dispute, redo_interviews: 4, fee_reduction_percent: 10 };
    const p = await propose('support', 'resolution', 'Expert redoes four interviews; fee reduced by 10%.', terms, med);
    await expectState('resolution open');

    const first = await decide('client', p, 'accepted', med);
    assert.equal(first.ev.body.record, undefined, 'one party accepting writes no record');
    openProposal(p, med).accepted_by.push(ids.client);
    assert.equal((await httpDecisions(server, tok.client, eng)).length, expectedRecords.length);
    await expectState('resolution accepted by the client only: still open');

    await expectRefusals([
      { name: 'the same party accepts the resolution twice', who: 'client', ch: med, kind: 'decision', code: 'conflict',
        body: { proposal: p, verdict: 'accepted' } },
      { name: 'support decides a resolution', who: 'support', ch: med, kind: 'decision', code: 'forbidden',
        body: { proposal: p, verdict: 'accepted' } },
      { name: 'a mediation proposal decided in the main channel', who: 'expert', kind: 'decision', code: 'not_found',
        body: { proposal: p, verdict: 'accepted' } },
    ]);

    const mainHead = await httpHead(server, tok.support, main);
    const d = await acceptCompleting('expert', p, med);
    assert.equal(d.ev.ch, med);
    const closed = await eventAt(c.support, main, mainHead + 1);
    assert.equal(closed.kind, 'mediation');
    assert.equal(closed.from.role, 'system');
    assert.deepEqual(closed.body, { state: 'closed', ch: med });
    model.open_flags = model.open_flags.filter((x) => x.seq !== dispute);
    await expectRefusals([
      { name: 'flag_update of the resolved dispute', who: 'expert', kind: 'flag_update', code: 'conflict',
        body: { flag: dispute, state: 'acknowledged' } },
      { name: 'accepting the accepted resolution again', who: 'expert', ch: med, kind: 'decision', code: 'conflict',
        body: { proposal: p, verdict: 'accepted' } },
    ]);
    await expectState('dispute resolved');
    expectOk(await c.client.join(med), 'mediation stays readable once closed');
  });

  step('completion, then closed: proposed by the expert, approved by the client', async () => {
    const pc = await propose('expert', 'phase', 'Fieldwork done; final report next.', { to: 'completion' });
    await acceptPhase('client', pc, 'active', 'completion');
    await expectRefusals([
      { name: 'client proposes closed', who: 'client', kind: 'proposal', code: 'forbidden',
        body: { topic: 'phase', text: 'All good', terms: { to: 'closed' } } },
    ]);
    const lapsing = await propose('client', 'timeline', 'One more week for the appendix.', { weeks: 4 });
    const px = await propose('expert', 'phase', 'Final report delivered.', { to: 'closed' });
    await expectRefusals([
      { name: 'the expert approves his own closing', who: 'expert', kind: 'decision', code: 'conflict',
        body: { proposal: px, verdict: 'accepted' } },
    ]);
    await acceptPhase('client', px, 'completion', 'closed');
    model.owed_reply = null;
    closeProposal(lapsing);
    const s = await expectState('closed');
    assert.equal(s.phase_due, null);

    await expectRefusals([
      { name: 'status once closed', who: 'bot', kind: 'status', code: 'conflict', body: { text: 'late' } },
      { name: 'a proposal once closed', who: 'client', kind: 'proposal', code: 'conflict',
        body: { topic: 'timeline', text: 'More time', terms: { weeks: 5 } } },
      { name: 'a flag once closed', who: 'client', kind: 'flag', code: 'conflict',
        body: { type: 'risk', text: 'late risk' } },
      { name: 'accepting a proposal that lapsed at closing', who: 'expert', kind: 'decision', code: 'conflict',
        body: { proposal: lapsing, verdict: 'accepted' } },
    ]);
    expectOk(await c.client.message(main, 'Thank you, great work.'), 'messages stay allowed once closed');
    await expectState('a message once closed owes no reply');
  });

  step('the decision log: WebSocket and HTTP agree, the chain verifies, a tampered export fails', async () => {
    const ws = expectOk(await c.client.decisions(eng), 'decisions op');
    const records = await httpDecisions(server, tok.expert, eng);
    assert.deepEqual(ws.records, records, 'decisions over WebSocket and HTTP are equal');
    assert.equal(records.length, 7);
    assert.deepEqual(records.map((r) => r.topic),
      ['phase', 'agreement', 'phase', 'scope_change', 'resolution', 'phase', 'phase']);
    for (const [i, exp] of expectedRecords.entries()) {
      for (const [k, v] of Object.entries(exp)) assert.deepEqual(records[i][k], v, `record ${i + 1}: ${k}`);
    }
    assertChain(records);

    const jsonl = await httpDecisionsJsonl(server, tok.support, eng);
    const lines = jsonl.split('\n').filter((l) => l.length > 0);
    assert.deepEqual(lines.map((l) => JSON.parse(l)), records, 'the JSONL export holds the same records, one a line');

    const dir = makeTempDir('parley-export-');
    const file = path.join(dir, 'decisions.jsonl');
    fs.writeFileSync(file, jsonl);
    const good = await verifyLog(file);
    assert.equal(good.code, 0, `verify-log of the export: ${JSON.stringify(good)}`);
    assert.equal(good.stdout.trim(), `ok: 7 records, chain intact, head ${records[6].hash}; signatures not checked (no --keys)`);

    const tampered = lines.map((l, i) => (i === 2 ? JSON.stringify({ ...JSON.parse(l), text: 'Start whenever.' }) : l));
    const bad = path.join(dir, 'tampered.jsonl');
    fs.writeFileSync(bad, `${tampered.join('\n')}\n`);
    const res = await verifyLog(bad);
    assert.notEqual(res.code, 0, `verify-log of a tampered export fails: ${JSON.stringify(res)}`);
    assert.match(res.stderr, /record 3\b/, `the failure names record 3: ${res.stderr}`);
    assert.doesNotMatch(res.stdout, /^ok:/);
  });

  step('kill -9 and restart on the same data directory: state, log and channels are identical; posting continues', async () => {
    const before = {
      state: await httpState(server, tok.client, eng),
      records: await httpDecisions(server, tok.client, eng),
      jsonl: await httpDecisionsJsonl(server, tok.client, eng),
      main: await readAll(c.support, main),
      mediation: await readAll(c.support, med),
      support: await readAll(c.support, 'support'),
      epoch: expectOk(await c.client.join(main)).epoch,
    };
    const killed = await server.kill();
    assert.equal(killed.signal, 'SIGKILL');
    server = await server.restart();
    await connectAll();

    const j = expectOk(await c.client.join(main), 'join after the restart');
    assert.equal(j.epoch, before.epoch, 'the epoch survives a restart');
    assert.equal(j.head, before.main.at(-1).seq);
    assert.deepEqual(j.state, before.state, 'join state after the restart');
    assert.deepEqual(await httpState(server, tok.client, eng), before.state, 'HTTP state after the restart');
    assert.deepEqual(await httpDecisions(server, tok.client, eng), before.records);
    assert.equal(await httpDecisionsJsonl(server, tok.client, eng), before.jsonl);
    assert.deepEqual(expectOk(await c.expert.decisions(eng)).records, before.records);
    assert.deepEqual(await readAll(c.support, main), before.main);
    assert.deepEqual(await readAll(c.support, med), before.mediation);
    assert.deepEqual(await readAll(c.support, 'support'), before.support);

    const m = expectOk(await c.expert.message(main, 'Glad to help again any time.'), 'posting after the restart');
    assert.equal(m.seq, j.head + 1);
    const pushed = await c.client.waitFor((p) => p.ev === 'event' && p.ch === main && p.seq === m.seq);
    assert.equal(pushed.body.text, 'Glad to help again any time.');
    // Only the revision moves: it counts every event the state reflects.
    assert.deepEqual(await httpState(server, tok.client, eng), { ...before.state, revision: before.state.revision + 1 },
      'a message once closed changes no state');
    assert.deepEqual(await httpDecisions(server, tok.client, eng), before.records);
  });
});

describe('mediation with several disputes', () => {
  test('mediation opens once, closes when the last dispute is resolved, and opens again for a new one; a rejected resolution settles nothing', async () => {
    const e = uniqueEng('med');
    const ch = `eng:${e}`;
    const mch = `${ch}:mediation`;
    const who = {
      client: await connectAs(server, userToken('med-client', 'client', [e])),
      expert: await connectAs(server, userToken('med-expert', 'expert', [e])),
      support: await connectAs(server, userToken('med-support', 'support', ['*'])),
    };
    const supportTok = userToken('med-support', 'support', ['*']);
    // A party's first use opens the engagement; support reads only existing ones.
    expectOk(await who.client.join(ch));
    expectOk(await who.support.join(ch));
    const head = () => httpHead(server, supportTok, ch);
    const records = async () => (await httpDecisions(server, supportTok, e)).length;
    const openFlagSeqs = async () => (await httpState(server, supportTok, e)).open_flags.map((f) => f.seq).sort((a, b) => a - b);

    const d1 = expectOk(await who.client.post(ch, 'flag', { type: 'dispute', text: 'Invoice disputed' })).seq;
    assert.deepEqual((await eventAt(who.support, ch, d1 + 1)).body, { state: 'opened', ch: mch });
    const d2 = expectOk(await who.expert.post(ch, 'flag', { type: 'dispute', text: 'Scope disputed' })).seq;
    assert.equal(await head(), d2, 'a second dispute while mediation is open opens nothing more');
    assert.deepEqual(await openFlagSeqs(), [d1, d2]);

    const settle = async (flag, verdicts) => {
      const p = expectOk(await who.support.post(mch, 'proposal', { topic: 'resolution', text: `Settle ${flag}`, terms: { flag } })).seq;
      for (const [role, verdict] of verdicts) expectOk(await who[role].post(mch, 'decision', { proposal: p, verdict }), `${role} ${verdict}`);
      return p;
    };

    let before = await head();
    await settle(d1, [['expert', 'accepted'], ['client', 'accepted']]);
    assert.equal(await records(), 1);
    assert.equal(await head(), before, 'mediation stays open while another dispute is open');
    assert.deepEqual(await openFlagSeqs(), [d2]);

    const rejected = await settle(d2, [['client', 'accepted'], ['expert', 'rejected']]);
    assert.equal(await records(), 1, 'a rejected resolution writes no record');
    assert.equal(await head(), before);
    assert.deepEqual(await openFlagSeqs(), [d2], 'the dispute stays open');
    const st = await httpState(server, supportTok, e);
    assert.equal(st.open_proposals.some((p) => p.seq === rejected && p.ch === mch), false, 'a rejected resolution is no longer open');
    expectRefused(await who.client.post(mch, 'decision', { proposal: rejected, verdict: 'accepted' }), 'conflict', 'deciding a rejected resolution');

    await settle(d2, [['client', 'accepted'], ['expert', 'accepted']]);
    assert.equal(await records(), 2);
    assert.equal(await head(), before + 1);
    assert.deepEqual((await eventAt(who.support, ch, before + 1)).body, { state: 'closed', ch: mch });
    assert.deepEqual(await openFlagSeqs(), []);

    const d3 = expectOk(await who.client.post(ch, 'flag', { type: 'dispute', text: 'Again' })).seq;
    const reopened = await eventAt(who.support, ch, d3 + 1);
    assert.equal(reopened.kind, 'mediation');
    assert.deepEqual(reopened.body, { state: 'opened', ch: mch });
    await Promise.all(Object.values(who).map((x) => x.close()));
  });
});

describe('idempotent workflow posts', () => {
  // Protocol §3: posting the same cid again returns the first seq and appends
  // nothing; a client that lost a reply retries with its cid. That holds for
  // proposals and decisions too, even though the engagement has moved on.
  test('a decision or a phase proposal retried with its cid answers the first seq and stores nothing', async () => {
    const e = uniqueEng('idem');
    const ch = `eng:${e}`;
    const clientTok = userToken('idem-client', 'client', [e]);
    const expertTok = userToken('idem-expert', 'expert', [e]);
    const client = await connectAs(server, clientTok);
    const expert = await connectAs(server, expertTok);
    const body = { topic: 'phase', text: 'Ready to agree the terms.', terms: { to: 'agreement' } };
    const p = expectOk(await expert.post(ch, 'proposal', body, { cid: 'prop-1' }));
    const d = expectOk(await client.post(ch, 'decision', { proposal: p.seq, verdict: 'accepted' }, { cid: 'dec-1' }));
    const head = await httpHead(server, clientTok, ch);
    const records = await httpDecisions(server, clientTok, e);
    assert.equal(records.length, 1);

    const d2 = await client.post(ch, 'decision', { proposal: p.seq, verdict: 'accepted' }, { cid: 'dec-1' });
    assert.equal(d2.ok, true, `the retried decision (same cid) answers its first seq: ${JSON.stringify(d2)}`);
    assert.equal(d2.seq, d.seq);
    const p2 = await expert.post(ch, 'proposal', body, { cid: 'prop-1' });
    assert.equal(p2.ok, true, `the retried proposal (same cid) answers its first seq: ${JSON.stringify(p2)}`);
    assert.equal(p2.seq, p.seq);
    const h = await httpPost(server, clientTok, ch, 'decision', { proposal: p.seq, verdict: 'accepted' }, 'dec-1');
    assert.equal(h.status, 200, `HTTP retry of the decision: ${h.status} ${h.text}`);
    assert.equal(h.json.seq, d.seq);

    assert.equal(await httpHead(server, clientTok, ch), head, 'the retries appended nothing');
    assert.deepEqual(await httpDecisions(server, clientTok, e), records);
    await Promise.all([client.close(), expert.close()]);
  });
});
