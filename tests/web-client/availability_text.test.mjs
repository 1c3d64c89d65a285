// Availability and presence as words (web-client/availability_text.js), on
// a fixed clock, locale and zone: Tuesday 1 December 2026, 11:00 in Berlin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  statusAt, statusText, relativeAgo, lastSeenText, untilText, exactTime, replyText, daysText, hoursText, personFacts,
  toLocalInput, fromLocalInput,
} from '../../web-client/availability_text.js';

const NOW = Date.UTC(2026, 11, 1, 10, 0);
const BERLIN = { locale: 'en-GB', timeZone: 'Europe/Berlin' };
const at = (day, h, m = 0) => Date.UTC(2026, 11, day, h, m); // UTC; Berlin is UTC+1 in December
const HOUR = 3600e3;

test('"until" is as short as is clear, in the reader\'s zone', () => {
  assert.equal(untilText(at(1, 16, 30), NOW, BERLIN), '17:30');
  assert.equal(untilText(at(3, 8), NOW, BERLIN), 'Thu 09:00');
  assert.equal(untilText(at(7, 8), NOW, BERLIN), 'Mon 09:00');
  assert.equal(untilText(at(8, 8), NOW, BERLIN), '8 Dec 09:00', 'a week ahead names the date');
  assert.equal(untilText(Date.UTC(2027, 0, 20, 8), NOW, BERLIN), '20 Jan 2027 09:00', 'another year names it');
  // the same moment read in New York: 03:00 the same Thursday
  assert.equal(untilText(at(3, 8), NOW, { locale: 'en-GB', timeZone: 'America/New_York' }), 'Thu 03:00');
  // 23:30 UTC on 1 Dec is 00:30 on 2 Dec in Berlin: tomorrow there, not today
  assert.equal(untilText(at(1, 23, 30), NOW, BERLIN), 'Wed 00:30');
  assert.match(untilText(at(3, 8), NOW, { locale: 'de-DE', timeZone: 'Europe/Berlin' }), /^Do\.? 09:00$/);
  assert.equal(exactTime(at(3, 8), BERLIN), 'Thu, 3 Dec 2026, 09:00 CET');
});

test('status: a period whose until has passed is over', () => {
  assert.equal(statusText({ status: 'away', until: at(3, 8) }, NOW, BERLIN), 'Away until Thu 09:00');
  assert.equal(statusText({ status: 'busy', until: at(1, 16, 30) }, NOW, BERLIN), 'Busy until 17:30');
  assert.equal(statusText({ status: 'away' }, NOW, BERLIN), 'Away', 'away until further notice');
  assert.equal(statusText({ status: 'busy' }, NOW, BERLIN), 'Busy');
  assert.equal(statusText({ status: 'away', until: NOW - 1 }, NOW, BERLIN), 'Available');
  assert.equal(statusText({ status: 'available', until: at(3, 8) }, NOW, BERLIN), 'Available');
  assert.equal(statusAt({ status: 'away', until: NOW }, NOW), 'available');
  for (const bad of [null, undefined, {}, { status: 'asleep' }, { status: 42 }, 'away']) assert.equal(statusText(bad, NOW, BERLIN), null);
});

test('relative times and "last seen"', () => {
  assert.equal(relativeAgo(NOW - 20e3, NOW), 'less than a minute ago');
  assert.equal(relativeAgo(NOW + 5e3, NOW), 'less than a minute ago', 'a clock a little ahead counts as now');
  assert.equal(relativeAgo(NOW - 60e3, NOW), '1 min ago');
  assert.equal(relativeAgo(NOW - 59 * 60e3, NOW), '59 min ago');
  assert.equal(relativeAgo(NOW - 2 * HOUR - 5 * 60e3, NOW), '2 h ago');
  assert.equal(relativeAgo(NOW - 30 * HOUR, NOW), 'yesterday');
  assert.equal(relativeAgo(NOW - 5 * 24 * HOUR, NOW), '5 days ago');
  assert.equal(relativeAgo(NOW - 400 * 24 * HOUR, NOW), 'over a year ago');
  assert.equal(lastSeenText(NOW - 2 * HOUR, NOW), 'Last seen 2 h ago');
  for (const never of [null, undefined, 0, NaN, 'yesterday']) assert.equal(lastSeenText(never, NOW), null);
});

test('reply time and working hours', () => {
  assert.equal(replyText(4), 'Usually replies within 4 h');
  assert.equal(replyText(24), 'Usually replies within 1 day');
  assert.equal(replyText(48), 'Usually replies within 2 days');
  assert.equal(replyText(36), 'Usually replies within 36 h');
  for (const bad of [0, 169, 2.5, '4', null, undefined]) assert.equal(replyText(bad), null);
  assert.equal(hoursText({ tz: 'Europe/Berlin', days: [1, 2, 3, 4, 5], from: '09:00', to: '17:00' }, 'en-GB'), 'Mon–Fri 09:00–17:00 Europe/Berlin');
  assert.equal(daysText([5, 1, 3], 'en-GB'), 'Mon, Wed, Fri');
  assert.equal(daysText([6, 7], 'en-GB'), 'Sat, Sun');
  assert.equal(daysText([1, 2, 3, 6, 7], 'en-GB'), 'Mon–Wed, Sat, Sun');
  assert.equal(daysText([1, 1, 9, 'x', 2], 'en-GB'), 'Mon, Tue', 'repeats and strangers are dropped');
  // the day names follow the locale (ICU spells German ones with or without a dot)
  assert.match(hoursText({ tz: 'Asia/Tokyo', days: [1, 2, 3, 4, 5], from: '22:00', to: '06:00' }, 'de-DE'), /^Mo\.?–Fr\.? 22:00–06:00 Asia\/Tokyo$/);
  for (const bad of [null, {}, { days: [], from: '09:00', to: '17:00' }, { days: [1], from: 9, to: '17:00' }]) assert.equal(hoursText(bad, 'en-GB'), null);
});

test('what is said about a person, present or not', () => {
  const away = { status: 'away', until: at(3, 8), note: '  At a conference  ', reply_within_h: 4, hours: { tz: 'Europe/Berlin', days: [1, 2, 3, 4, 5], from: '09:00', to: '17:00' } };
  const gone = personFacts({ id: 'u1', availability: away, last_seen: NOW - 2 * HOUR }, { present: false, now: NOW, ...BERLIN });
  assert.deepEqual(gone.map((f) => [f.key, f.text]), [
    ['status', 'Away until Thu 09:00'], ['note', 'At a conference'], ['reply', 'Usually replies within 4 h'],
    ['hours', 'Works Mon–Fri 09:00–17:00 Europe/Berlin'], ['last-seen', 'Last seen 2 h ago'],
  ]);
  assert.equal(gone[0].title, 'Until Thu, 3 Dec 2026, 09:00 CET');
  assert.equal(gone[4].title, 'Tue, 1 Dec 2026, 09:00 CET');
  const here = personFacts({ id: 'u1', availability: away, last_seen: NOW }, { present: true, now: NOW, ...BERLIN });
  assert.ok(!here.some((f) => f.key === 'last-seen'), 'no "last seen" for someone connected');
  // back from the away period: neither status nor its note, the reply time stays
  const back = personFacts({ availability: away }, { present: true, now: at(3, 9), ...BERLIN });
  assert.deepEqual(back.map((f) => f.key), ['reply', 'hours']);
  assert.deepEqual(personFacts({ id: 'u2', availability: null, last_seen: null }, { present: false, now: NOW, ...BERLIN }), []);
  // available says no status, but a note still counts
  assert.deepEqual(personFacts({ id: 'u2', availability: { status: 'available', note: 'Mostly on email this week' } }, { present: true, now: NOW, ...BERLIN }),
    [{ key: 'note', text: 'Mostly on email this week' }]);
});

test('datetime-local values round-trip in the local zone', () => {
  const ms = new Date(2026, 11, 3, 9, 0).getTime();
  assert.equal(toLocalInput(ms), '2026-12-03T09:00');
  assert.equal(fromLocalInput('2026-12-03T09:00'), ms);
  for (const bad of ['', null, '2026-12-03', '2026-12-03T9:00', '<b>']) assert.ok(Number.isNaN(fromLocalInput(bad)));
});
