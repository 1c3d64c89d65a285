// The calls module without a browser: slots typed in a zone and checked, slot
// and reminder texts in a reader's zone, and the countdown to a call. A fixed
// clock and explicit zones, so the results do not depend on the machine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  zonedToUtc, readSlots, linkProblem, safeLink, callSlots, slotText, slotTexts, zoneCaption, countdownText,
  scheduledCalls, nextCall, reminderText, dueText, knownZone, calendarFileName,
} from '../../web-client/calls_text.js';

// Tue 1 Dec 2026, 12:00 UTC (13:00 in Berlin, 07:00 in New York).
const NOW = Date.UTC(2026, 11, 1, 12, 0);
const MIN = 60000;

test('a date and time typed in a zone are read as that zone\'s wall clock', () => {
  assert.equal(zonedToUtc('2026-12-01', '14:00', 'Europe/Berlin'), Date.UTC(2026, 11, 1, 13, 0));
  assert.equal(zonedToUtc('2026-07-01', '14:00', 'Europe/Berlin'), Date.UTC(2026, 6, 1, 12, 0), 'summer time');
  assert.equal(zonedToUtc('2026-12-01', '09:30', 'America/New_York'), Date.UTC(2026, 11, 1, 14, 30));
  assert.equal(zonedToUtc('2026-12-01', '05:45', 'Asia/Kathmandu'), Date.UTC(2026, 11, 1, 0, 0));
  assert.equal(zonedToUtc('2026-12-01', '00:00', 'UTC'), Date.UTC(2026, 11, 1));
  assert.equal(zonedToUtc('2026-03-29', '02:30', 'Europe/Berlin'), null, 'the hour the clocks skip');
  assert.equal(zonedToUtc('2026-10-25', '02:30', 'Europe/Berlin'), Date.UTC(2026, 9, 25, 0, 30), 'the repeated hour: its first time');
  assert.equal(zonedToUtc('2026-02-30', '10:00', 'UTC'), null, 'no such day');
  assert.equal(zonedToUtc('2026-12-01', '24:00', 'UTC'), null);
  assert.equal(zonedToUtc('1.12.2026', '10:00', 'UTC'), null);
  assert.equal(zonedToUtc('2026-12-01', '', 'UTC'), null);
});

test('slots are checked before sending: 1 to 5, in the future, 15 to 240 minutes, no two at once', () => {
  const row = (date, time, minutes = '30') => ({ date, time, minutes });
  assert.deepEqual(readSlots([row('2026-12-02', '10:00'), row('2026-12-03', '16:30', '45')], 'Europe/Berlin', NOW), {
    slots: [{ start: Date.UTC(2026, 11, 2, 9, 0), minutes: 30 }, { start: Date.UTC(2026, 11, 3, 15, 30), minutes: 45 }],
  });
  const problem = (rows) => readSlots(rows, 'Europe/Berlin', NOW).problem;
  assert.equal(problem([]).message, 'Offer at least one time for the call.');
  assert.equal(problem(Array(6).fill(row('2026-12-02', '10:00'))).message, 'Offer at most 5 times.');
  assert.deepEqual(problem([row('2026-12-02', '10:00'), row('2026-12-01', '12:59')]),
    { index: 1, field: 'date', message: 'Time 2 is in the past: offer a time still to come.' });
  assert.equal(problem([row('2026-12-01', '13:00')]).field, 'date', 'starting now is not in the future');
  assert.equal(readSlots([row('2026-12-01', '13:01')], 'Europe/Berlin', NOW).slots.length, 1);
  assert.deepEqual(problem([row('', '10:00')]), { index: 0, field: 'date', message: 'Choose the date of time 1.' });
  assert.deepEqual(problem([row('2026-12-02', '')]), { index: 0, field: 'time', message: 'Choose the start time of time 1.' });
  for (const minutes of ['14', '241', '30.5', '', 'abc']) assert.equal(problem([row('2026-12-02', '10:00', minutes)]).field, 'minutes', minutes);
  assert.ok(!problem([row('2026-12-02', '10:00', '15')]) && !problem([row('2026-12-02', '10:00', '240')]));
  assert.deepEqual(problem([row('2026-12-02', '10:00'), row('2026-12-02', '10:00', '60')]),
    { index: 1, field: 'time', message: 'Time 2 starts when time 1 does.' });
  assert.match(readSlots([row('2027-03-28', '02:15')], 'Europe/Berlin', NOW).problem.message, /does not exist in Europe\/Berlin/);
});

test('a meeting link is a plain https address or nothing', () => {
  assert.equal(linkProblem(''), null);
  assert.equal(linkProblem('  '), null);
  assert.equal(linkProblem('https://meet.example.com/abc-def?pwd=1#x'), null);
  assert.equal(linkProblem('https://10.0.0.1:8443/room'), null);
  for (const bad of ['http://meet.example.com', 'javascript:alert(1)', 'meet.example.com', 'https://meet example.com', 'https://', 'HTTPS://x.example']) {
    assert.ok(linkProblem(bad), bad);
  }
  assert.match(linkProblem('https://meet.example@evil.example/'), /user name/);
  assert.match(linkProblem(`https://x.example/${'a'.repeat(2000)}`), /too long/);
  assert.equal(safeLink('https://meet.example.com/x'), 'https://meet.example.com/x');
  for (const bad of ['javascript:alert(1)', 'http://x', 7, null, 'https://a b']) assert.equal(safeLink(bad), null);
});

test('a proposal\'s slots keep their index; anything that is not a slot is left out', () => {
  const terms = { slots: [{ start: NOW + MIN, minutes: 30 }, { start: 'soon', minutes: 30 }, null, { start: NOW + 2 * MIN, minutes: 60 }] };
  assert.deepEqual(callSlots(terms), [{ start: NOW + MIN, minutes: 30, index: 0 }, { start: NOW + 2 * MIN, minutes: 60, index: 3 }]);
  assert.deepEqual(callSlots({ slots: 'x' }), []);
  assert.deepEqual(callSlots(null), []);
  assert.equal(callSlots({ slots: Array(9).fill({ start: NOW, minutes: 15 }) }).length, 5);
});

test('slots read in the reader\'s zone, and in the proposer\'s when it reads differently', () => {
  const slot = { start: Date.UTC(2026, 11, 1, 13, 0), minutes: 30 };
  assert.equal(slotText(slot, 'Europe/Berlin'), 'Tue 1 Dec 2026, 14:00–14:30');
  assert.equal(slotText({ start: Date.UTC(2026, 11, 1, 22, 30), minutes: 60 }, 'Europe/Berlin'), 'Tue 1 Dec 2026, 23:30 – Wed 2 Dec 2026, 00:30');
  assert.equal(slotText({ start: Date.UTC(2026, 11, 1, 22, 0), minutes: 60 }, 'UTC'), 'Tue 1 Dec 2026, 22:00–23:00', 'ending at midnight is the same day');
  assert.deepEqual(slotTexts(slot, 'Europe/Berlin', 'America/New_York'), { text: 'Tue 1 Dec 2026, 14:00–14:30', other: 'Tue 1 Dec 2026, 08:00–08:30 in America/New_York' });
  assert.deepEqual(slotTexts(slot, 'Europe/Berlin', 'Europe/Berlin'), { text: 'Tue 1 Dec 2026, 14:00–14:30', other: null });
  assert.deepEqual(slotTexts(slot, 'Europe/Berlin', 'Europe/Paris'), { text: 'Tue 1 Dec 2026, 14:00–14:30', other: null }, 'same wall clock');
  assert.deepEqual(slotTexts(slot, 'Europe/Berlin', 'Mars/Olympus_Mons'), { text: 'Tue 1 Dec 2026, 14:00–14:30', other: null }, 'an unknown zone is not shown');
  assert.deepEqual(slotTexts(slot, 'Europe/Berlin', null).other, null);
  assert.equal(slotText(slot, 'No/Such_Zone'), 'Tue 1 Dec 2026, 13:00–13:30', 'an unknown reader zone falls back to UTC');
  assert.equal(zoneCaption('Europe/Berlin'), 'Times in Europe/Berlin');
  assert.equal(knownZone('x'.repeat(65)), null);
  assert.equal(knownZone(42), null);
});

test('the countdown counts down to the call, says "now" during it and "ended" after', () => {
  const call = { start: NOW + (2 * 1440 + 3 * 60) * MIN, minutes: 30 };
  assert.equal(countdownText(call, NOW), 'Call in 2 d 3 h');
  assert.equal(countdownText(call, NOW + 30 * 1000), 'Call in 2 d 3 h', 'minutes round up');
  assert.equal(countdownText({ start: NOW + 2 * 1440 * MIN, minutes: 30 }, NOW), 'Call in 2 d');
  assert.equal(countdownText({ start: NOW + 200 * MIN, minutes: 30 }, NOW), 'Call in 3 h 20 min');
  assert.equal(countdownText({ start: NOW + 120 * MIN, minutes: 30 }, NOW), 'Call in 2 h');
  assert.equal(countdownText({ start: NOW + 14 * MIN, minutes: 30 }, NOW), 'Call in 14 min');
  assert.equal(countdownText({ start: NOW + 13 * MIN + 1, minutes: 30 }, NOW), 'Call in 14 min');
  assert.equal(countdownText({ start: NOW + 1000, minutes: 30 }, NOW), 'Call in 1 min');
  assert.equal(countdownText({ start: NOW, minutes: 30 }, NOW), 'Call now');
  assert.equal(countdownText({ start: NOW - 29 * MIN, minutes: 30 }, NOW), 'Call now');
  assert.equal(countdownText({ start: NOW - 30 * MIN, minutes: 30 }, NOW), 'Call ended');
});

test('the next call is the first listed one that has not ended; malformed entries are left out', () => {
  const state = {
    calls: [
      { proposal: 9, start: NOW + 60 * MIN, minutes: 30, link: 'javascript:alert(1)', tz: 'Europe/Berlin' },
      { proposal: 4, start: NOW - 60 * MIN, minutes: 30, link: null, tz: null },
      { proposal: 7, start: NOW - 10 * MIN, minutes: 30, link: 'https://meet.example.com/x', tz: null },
      { proposal: 'x', start: NOW, minutes: 30 },
      'junk',
    ],
  };
  assert.deepEqual(scheduledCalls(state).map((c) => c.proposal), [4, 7, 9]);
  assert.equal(scheduledCalls(state)[2].link, null, 'only https links are kept');
  assert.deepEqual(nextCall(state, NOW), { proposal: 7, start: NOW - 10 * MIN, minutes: 30, link: 'https://meet.example.com/x', tz: null });
  assert.equal(nextCall(state, NOW + 25 * MIN).proposal, 9);
  assert.equal(nextCall(state, NOW + 200 * MIN), null);
  assert.equal(nextCall({ calls: 'x' }, NOW), null);
  assert.equal(nextCall(null, NOW), null);
});

test('a reminder reads as a sentence in the reader\'s zone', () => {
  const start = Date.UTC(2026, 11, 1, 13, 0);
  assert.equal(reminderText({ who: 'Bob', start, ts: start - 15 * MIN, tz: 'Europe/Berlin' }), 'Call with Bob starts at 14:00 — in 15 minutes');
  assert.equal(reminderText({ who: null, start, ts: start - MIN, tz: 'UTC' }), 'Call starts at 13:00 — in 1 minute');
  assert.equal(reminderText({ who: 'Bob', start, ts: start, tz: 'UTC' }), 'Call with Bob starts now (13:00)');
  assert.equal(reminderText({ who: 'Bob', start, ts: start + 5 * MIN, tz: 'UTC' }), 'Call with Bob started at 13:00 — 5 minutes ago');
  assert.equal(reminderText({ who: 'Bob', start: Date.UTC(2026, 11, 1, 23, 10), ts: Date.UTC(2026, 11, 1, 22, 55), tz: 'Europe/Berlin' }),
    'Call with Bob starts at Wed 2 Dec, 00:10 — in 15 minutes', 'past midnight names the day');
  assert.equal(reminderText({ who: 'Bob', start, ts: undefined, tz: 'UTC' }), 'Call with Bob starts at 13:00');
});

test('the agreed due date and the calendar\'s file name', () => {
  assert.equal(dueText(Date.UTC(2026, 11, 21, 23, 59, 59, 999), 'UTC'), 'Mon 21 Dec 2026, 23:59');
  assert.equal(dueText(Date.UTC(2026, 11, 21, 23, 59, 59, 999), 'Europe/Berlin'), 'Tue 22 Dec 2026, 00:59');
  for (const bad of [null, 0, -1, 'x', 1.5]) assert.equal(dueText(bad, 'UTC'), null);
  assert.equal(calendarFileName('market-entry_42'), 'market-entry_42.ics');
  assert.equal(calendarFileName('../x'), '___x.ics');
});
