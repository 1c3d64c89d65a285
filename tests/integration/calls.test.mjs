// Introductory calls (protocol §9.5): `call` proposals with slots, acceptance
// picking a slot (record, state.calls, state push), the reminder 15 minutes
// before a call (once, also across a restart and with two instances on one
// Redis), and calendar.ics read by a real iCalendar parser. Runs on the
// engine of PARLEY_ENGINE.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import ICAL from 'ical.js';

import {
  ENGINE, cleanup, connectAs, httpFor, makeTempDir, redisFor, sleep, startServer, uniqueEng, userToken,
} from './harness.mjs';
import { expectOk, expectRefused, httpAllEvents, httpDecisions, httpPost, httpState, pollUntil } from './engagement_helpers.mjs';

const MINUTE = 60_000;
const LEAD = 15 * MINUTE;
const clusterSkip = ENGINE === 'redis' ? false : 'two instances need the redis engine (PARLEY_ENGINE=redis)';

let server;
let http;

before(async () => {
  server = await startServer();
  http = httpFor(server);
});
after(cleanup);

const tokens = (eng) => ({
  client: userToken('call-alice', 'client', [eng], { name: 'Alice' }),
  expert: userToken('call-bob', 'expert', [eng], { name: 'Bob' }),
  bot: userToken('call-bot', 'bot', [eng]),
  outsider: userToken('call-mallory', 'client', [uniqueEng('other')]),
});

const callBody = (terms) => ({ topic: 'call', text: 'Introductory call', terms });
const slot = (start, minutes = 30) => ({ start, minutes });

async function propose(srv, tok, eng, terms) {
  return httpPost(srv, tok, `eng:${eng}`, 'proposal', callBody(terms));
}

async function proposeOk(srv, tok, eng, terms) {
  const r = await propose(srv, tok, eng, terms);
  assert.equal(r.status, 201, r.text);
  return r.json.seq;
}

async function accept(srv, tok, eng, proposal, chosen) {
  return httpPost(srv, tok, `eng:${eng}`, 'decision', { proposal, verdict: 'accepted', slot: chosen });
}

const reminders = (events) => events.filter((e) => e.kind === 'reminder');

// A call whose reminder is due `inMs` from now: its slot starts 15 minutes later.
async function scheduleSoon(srv, eng, inMs) {
  const t = tokens(eng);
  const start = Date.now() + LEAD + inMs;
  const seq = await proposeOk(srv, t.client, eng, { slots: [slot(start, 30)] });
  const r = await accept(srv, t.expert, eng, seq, 0);
  assert.equal(r.status, 201, r.text);
  return { seq, start, due: start - LEAD };
}

describe('call proposals', () => {
  test('accepting picks a slot: the record holds it, state.calls lists it, members get a state push', async () => {
    const eng = uniqueEng('call');
    const t = tokens(eng);
    const alice = await connectAs(server, t.client);
    expectOk(await alice.join(`eng:${eng}`));
    const start = Date.now() + 3 * 3600 * 1000;
    const terms = {
      slots: [slot(start, 30), slot(start + 3600 * 1000, 45)],
      link: 'https://meet.example.com/intro?room=7',
      tz: 'Europe/Berlin',
    };
    const seq = await proposeOk(server, t.client, eng, terms);
    let state = await httpState(server, t.expert, eng);
    const open = state.open_proposals.find((p) => p.seq === seq);
    assert.equal(open.topic, 'call');
    assert.deepEqual(open.terms, terms);
    assert.ok(state.can.includes(`decide:${seq}`), `the expert may decide: ${state.can}`);
    assert.ok(state.can.includes('propose:call'));
    assert.ok(!(await httpState(server, t.client, eng)).can.includes(`decide:${seq}`), 'not the proposer');
    assert.deepEqual(state.calls, []);

    const accepted = await accept(server, t.expert, eng, seq, 1);
    assert.equal(accepted.status, 201, accepted.text);
    const expected = { proposal: seq, start: start + 3600 * 1000, minutes: 45, link: terms.link, tz: 'Europe/Berlin' };
    state = await httpState(server, t.client, eng);
    assert.deepEqual(state.calls, [expected]);
    assert.ok(!state.open_proposals.some((p) => p.seq === seq));

    const push = await alice.waitFor((p) => p.ev === 'state' && p.eng === eng && p.state.calls.length === 1);
    assert.deepEqual(push.state.calls, [expected]);

    const records = await httpDecisions(server, t.client, eng);
    const record = records.find((r) => r.proposal_seq === seq);
    assert.equal(record.topic, 'call');
    assert.deepEqual(record.terms, { start: start + 3600 * 1000, minutes: 45, link: terms.link, tz: 'Europe/Berlin' });
    assert.deepEqual(record.accepted_by, ['call-bob']);
    await alice.close();
  });

  test('a rejected call schedules nothing; a decision without a slot or with a wrong one stores nothing', async () => {
    const eng = uniqueEng('call');
    const t = tokens(eng);
    const seq = await proposeOk(server, t.expert, eng, { slots: [slot(Date.now() + 3600 * 1000)] });
    const head = (await httpAllEvents(server, t.client, `eng:${eng}`)).length;
    for (const body of [
      { proposal: seq, verdict: 'accepted' },
      { proposal: seq, verdict: 'accepted', slot: 1 },
      { proposal: seq, verdict: 'accepted', slot: 7 },
      { proposal: seq, verdict: 'rejected', slot: 0 },
    ]) {
      const r = await httpPost(server, t.client, `eng:${eng}`, 'decision', body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    }
    assert.equal((await httpAllEvents(server, t.client, `eng:${eng}`)).length, head, 'nothing stored');
    const rejected = await httpPost(server, t.client, `eng:${eng}`, 'decision', { proposal: seq, verdict: 'rejected' });
    assert.equal(rejected.status, 201, rejected.text);
    const state = await httpState(server, t.client, eng);
    assert.deepEqual(state.calls, []);
    assert.deepEqual(state.open_proposals, []);
    assert.ok(!(await httpDecisions(server, t.client, eng)).some((r) => r.proposal_seq === seq));
  });

  test('bad slots and links are bad_request and store nothing', async () => {
    const eng = uniqueEng('call');
    const t = tokens(eng);
    const alice = await connectAs(server, t.client);
    const ch = `eng:${eng}`;
    const head = expectOk(await alice.join(ch)).head;
    const future = Date.now() + 3600 * 1000;
    const cases = {
      'a slot in the past': { slots: [slot(future), slot(Date.now() - MINUTE)] },
      'six slots': { slots: [0, 1, 2, 3, 4, 5].map((i) => slot(future + i * 3600 * 1000)) },
      'a 10-minute slot': { slots: [slot(future, 10)] },
      'no slots': { slots: [] },
      'an http link': { slots: [slot(future)], link: 'http://meet.example.com/x' },
      'a javascript: link': { slots: [slot(future)], link: 'javascript:alert(1)' },
      'a link with a user name': { slots: [slot(future)], link: 'https://meet.example.com@evil.example/' },
      'a malformed zone': { slots: [slot(future)], tz: '../etc/passwd' },
      'an unknown key': { slots: [slot(future)], agenda: 'x' },
      'duplicate slots': { slots: [slot(future), slot(future)] },
    };
    for (const [what, terms] of Object.entries(cases)) {
      expectRefused(await alice.request('post', { ch, kind: 'proposal', body: callBody(terms) }), 'bad_request', what);
    }
    const r = await propose(server, t.client, eng, cases['a javascript: link']);
    assert.equal(r.status, 400, r.text);
    const again = expectOk(await alice.join(ch));
    assert.equal(again.head, head, 'nothing stored');
    assert.deepEqual(again.state.open_proposals, []);
    await alice.close();
  });

  test('a bot may not propose a call, and `can` says so', async () => {
    const eng = uniqueEng('call');
    const t = tokens(eng);
    const r = await propose(server, t.bot, eng, { slots: [slot(Date.now() + 3600 * 1000)] });
    assert.equal(r.status, 403, r.text);
    assert.ok(!(await httpState(server, t.bot, eng)).can.includes('propose:call'));
    assert.ok((await httpState(server, t.client, eng)).can.includes('propose:call'));
  });
});

describe('reminders', () => {
  test('the reminder comes once, 15 minutes before the call', async () => {
    const eng = uniqueEng('call');
    const t = tokens(eng);
    const ch = `eng:${eng}`;
    const alice = await connectAs(server, t.client);
    expectOk(await alice.join(ch));
    const { seq, start } = await scheduleSoon(server, eng, 2000);
    const pushed = await alice.waitFor((p) => p.ev === 'event' && p.ch === ch && p.kind === 'reminder', 20000);
    assert.deepEqual(pushed.body, { call: seq, start });
    assert.equal(pushed.from.role, 'system');
    assert.ok(pushed.ts >= start - LEAD, 'not before its time');
    await alice.waitFor((p) => p.ev === 'state' && p.eng === eng);
    await sleep(1500);
    assert.equal(reminders(await httpAllEvents(server, t.client, ch)).length, 1);
    await alice.close();
  });

  test('a restart across the reminder time posts it at once, exactly once', async () => {
    let srv = await startServer();
    const eng = uniqueEng('call');
    const t = tokens(eng);
    const ch = `eng:${eng}`;
    const { seq, due } = await scheduleSoon(srv, eng, 6000);
    // Stopped before the reminder is due, started again after.
    assert.equal(await srv.stop(), 0);
    while (Date.now() < due + 500) await sleep(200);
    srv = await srv.restart();
    const found = await pollUntil(async () => {
      const r = reminders(await httpAllEvents(srv, t.client, ch));
      return r.length > 0 ? r : undefined;
    }, 20000, 'the reminder after the restart');
    assert.equal(found[0].body.call, seq);
    await sleep(1500);
    srv = await srv.restart();
    await sleep(1500);
    assert.equal(reminders(await httpAllEvents(srv, t.client, ch)).length, 1);
    await srv.stop();
  });

  test('a scheduled call survives a restart, and a reminder not yet due is not posted', async () => {
    let srv = await startServer();
    const eng = uniqueEng('call');
    const t = tokens(eng);
    const ch = `eng:${eng}`;
    // (A call that ended while the server was down gets no reminder: the unit
    // tests show it with a fake clock; the shortest call lasts 15 minutes.)
    const { seq } = await scheduleSoon(srv, eng, 3 * 3600 * 1000);
    srv = await srv.restart();
    const state = await httpState(srv, t.client, ch.slice(4));
    assert.equal(state.calls.length, 1);
    assert.equal(state.calls[0].proposal, seq);
    assert.equal(reminders(await httpAllEvents(srv, t.client, ch)).length, 0);
    await srv.stop();
  });
});

describe('two instances on one Redis', { skip: clusterSkip }, () => {
  test('both watch the engagement: the reminder is still posted once', async () => {
    const redis = await redisFor(makeTempDir('parley-calls-'));
    const a = await startServer({ redis });
    const b = await startServer({ redis });
    const eng = uniqueEng('call');
    const t = tokens(eng);
    const ch = `eng:${eng}`;
    const start = Date.now() + LEAD + 3000;
    const seq = await proposeOk(a, t.client, eng, { slots: [slot(start, 30)] });
    const accepted = await accept(b, t.expert, eng, seq, 0);
    assert.equal(accepted.status, 201, accepted.text);
    // Each instance has the engagement loaded and the call scheduled (the
    // decision reaches the instance it was not posted on through Redis).
    for (const srv of [a, b]) {
      await pollUntil(async () => (await httpState(srv, t.client, eng)).calls.length === 1, 10000, 'the call on each instance');
    }
    await pollUntil(async () => reminders(await httpAllEvents(a, t.client, ch)).length > 0, 20000, 'the reminder');
    await sleep(2000);
    for (const srv of [a, b]) assert.equal(reminders(await httpAllEvents(srv, t.client, ch)).length, 1);
    await a.stop();
    await b.stop();
  });
});

describe('calendar.ics', () => {
  const parse = (text) => new ICAL.Component(ICAL.parse(text));

  test('one VEVENT per scheduled call, readable by an iCalendar parser, with a hostile title kept in SUMMARY', async () => {
    const eng = uniqueEng('call');
    const t = tokens(eng);
    const service = userToken('call-service', 'service', ['*']);
    const title = 'Deal; "big", or\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:evil \\ Größe 🚀 ' + 'x'.repeat(80);
    const created = await http('PUT', `/api/v1/engagements/${eng}`, {
      token: service,
      body: { title, client: { id: 'call-alice' }, expert: { id: 'call-bob' } },
    });
    assert.equal(created.status, 201, created.text);
    const invitation = created.json.open_proposals[0].seq;
    const answered = await httpPost(server, t.expert, `eng:${eng}`, 'decision', { proposal: invitation, verdict: 'accepted' });
    assert.equal(answered.status, 201, answered.text);

    const start = Math.floor((Date.now() + 5 * 3600 * 1000) / 1000) * 1000;
    const first = await proposeOk(server, t.client, eng, { slots: [slot(start, 30)], link: 'https://meet.example.com/a?b=1;c=2' });
    assert.equal((await accept(server, t.expert, eng, first, 0)).status, 201);
    const second = await proposeOk(server, t.expert, eng, { slots: [slot(start + 86400 * 1000, 60)] });
    assert.equal((await accept(server, t.client, eng, second, 0)).status, 201);

    const r = await http('GET', `/api/v1/engagements/${eng}/calendar.ics`, { token: t.client });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['content-type'], 'text/calendar; charset=utf-8');
    assert.ok(r.text.split('\r\n').slice(0, -1).every((l) => Buffer.byteLength(l) <= 75), 'folded at 75 octets');
    assert.ok(!/[^\r]\n/.test(r.text), 'CRLF line endings only');
    const cal = parse(r.text);
    assert.equal(cal.name, 'vcalendar');
    assert.equal(cal.getFirstPropertyValue('version'), '2.0');
    assert.equal(cal.getFirstPropertyValue('calscale'), 'GREGORIAN');
    assert.equal(cal.getFirstPropertyValue('method'), 'PUBLISH');
    const events = cal.getAllSubcomponents('vevent');
    assert.equal(events.length, 2);
    const byUid = Object.fromEntries(events.map((e) => [e.getFirstPropertyValue('uid'), e]));
    assert.deepEqual(Object.keys(byUid).sort(), [`${eng}-${first}@parley`, `${eng}-${second}@parley`].sort());
    const a = byUid[`${eng}-${first}@parley`];
    assert.equal(a.getFirstPropertyValue('summary'), title.replace(/\r\n/g, '\n'));
    assert.equal(a.getFirstPropertyValue('dtstart').toJSDate().getTime(), start);
    assert.equal(a.getFirstPropertyValue('dtend').toJSDate().getTime(), start + 30 * MINUTE);
    assert.equal(a.getFirstPropertyValue('dtstart').zone.tzid, 'UTC');
    assert.equal(a.getFirstPropertyValue('url'), 'https://meet.example.com/a?b=1;c=2');
    assert.equal(a.getFirstPropertyValue('location'), 'https://meet.example.com/a?b=1;c=2');
    assert.ok(a.getFirstPropertyValue('dtstamp'));
    const b = byUid[`${eng}-${second}@parley`];
    assert.equal(b.getFirstPropertyValue('dtstart').toJSDate().getTime(), start + 86400 * 1000);
    assert.equal(b.getFirstPropertyValue('url'), null);
  });

  test('an engagement without calls gives an empty calendar; its title-less summary is Call', async () => {
    const eng = uniqueEng('call');
    const t = tokens(eng);
    let r = await http('GET', `/api/v1/engagements/${eng}/calendar.ics`, { token: t.client });
    assert.equal(r.status, 200, r.text);
    assert.equal(parse(r.text).getAllSubcomponents('vevent').length, 0);
    const seq = await proposeOk(server, t.client, eng, { slots: [slot(Date.now() + 3600 * 1000, 15)] });
    assert.equal((await accept(server, t.expert, eng, seq, 0)).status, 201);
    r = await http('GET', `/api/v1/engagements/${eng}/calendar.ics`, { token: t.client });
    const [event] = parse(r.text).getAllSubcomponents('vevent');
    assert.equal(event.getFirstPropertyValue('summary'), 'Call');
  });

  test('a reader without access is refused as for the state; no token is 401', async () => {
    const eng = uniqueEng('call');
    const t = tokens(eng);
    await httpState(server, t.client, eng);
    const state = await http('GET', `/api/v1/engagements/${eng}`, { token: t.outsider });
    const cal = await http('GET', `/api/v1/engagements/${eng}/calendar.ics`, { token: t.outsider });
    assert.ok([403, 404].includes(cal.status), `${cal.status} ${cal.text}`);
    assert.equal(cal.status, state.status);
    assert.equal(cal.json?.error?.code, state.json?.error?.code);
    assert.equal((await http('GET', `/api/v1/engagements/${eng}/calendar.ics`)).status, 401);
    assert.equal((await http('POST', `/api/v1/engagements/${eng}/calendar.ics`, { token: t.client })).status, 400);
    assert.equal((await http('GET', `/api/v1/engagements/${eng}:mediation/calendar.ics`, { token: t.client })).status, 400);
  });
});
