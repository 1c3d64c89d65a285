// Introductory calls in the browser (protocol §9.5): a call proposed in the
// dialog with three times in the proposer's zone, the other party picking the
// second one and accepting it, the scheduled call with its countdown on both
// pages, "Add to calendar" downloading the engagement's calendar.ics, times
// in the past refused in the dialog, and the reminder notice 15 minutes
// before a call. Desktop 1280×800 and phone 390×844, axe-core clean.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  serverAndBrowser, openClient, token, uniqueEng, waitOnline, shot, axeViolations, postOk,
} from './harness.mjs';
import { zonedToUtc } from '../../web-client/calls_text.js';

const suite = serverAndBrowser();
const { skip } = suite;

const VIEWPORTS = [['desktop', { width: 1280, height: 800 }], ['phone', { width: 390, height: 844 }]];
const BERLIN = 'Europe/Berlin';
const NEW_YORK = 'America/New_York';
const DAY = 86400000;

function people(eng) {
  return {
    client: token({ sub: 'u-grace', name: 'Grace Okafor', role: 'client', eng: [eng] }),
    expert: token({ sub: 'u-henrik', name: 'Henrik Berg', role: 'expert', eng: [eng] }),
  };
}

// "YYYY-MM-DD" of the day `days` from now in zone `tz`.
function dayIn(tz, days) {
  return new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(Date.now() + days * DAY));
}

async function check(page, name) {
  const found = await axeViolations(page);
  await shot(page, name);
  assert.deepEqual(found, [], `${name}: serious or critical accessibility violations`);
}

async function fillSlot(dlg, i, date, time, minutes) {
  const row = dlg.getByTestId('call-slot-row').nth(i);
  await row.getByTestId('call-slot-date').fill(date);
  await row.getByTestId('call-slot-time').fill(time);
  await row.getByTestId('call-slot-minutes').fill(String(minutes));
}

async function showDetails(page, phone) {
  if (!phone) return;
  await page.getByTestId('details-toggle').click();
  await page.locator('body.show-details').waitFor();
}

async function hideDetails(page, phone) {
  if (!phone) return;
  await page.keyboard.press('Escape');
  await page.locator('body:not(.show-details)').waitFor();
}

for (const [label, viewport] of VIEWPORTS) {
  const phone = label === 'phone';

  test(`a call with three times: the other party picks the second, both see it scheduled and add it to a calendar (${label})`, { skip }, async (t) => {
    const eng = uniqueEng(`call-${label}`);
    const tok = people(eng);
    const client = await openClient(suite.browser, suite.server, tok.client, { viewport, timezoneId: BERLIN });
    const expert = await openClient(suite.browser, suite.server, tok.expert, { viewport, timezoneId: NEW_YORK });
    await Promise.all([waitOnline(client), waitOnline(expert)]);

    // The client proposes three times in Berlin time.
    await client.getByTestId('action-call').click();
    const dlg = client.getByTestId('call-dialog');
    await dlg.waitFor();
    assert.match(await dlg.getByTestId('call-zone-caption').textContent(), /^Times in Europe\/Berlin\./);
    const days = [2, 3, 4].map((d) => dayIn(BERLIN, d));
    await fillSlot(dlg, 0, days[0], '10:00', 30);
    await dlg.getByTestId('call-add-slot').click();
    await fillSlot(dlg, 1, days[1], '14:00', 45);
    await dlg.getByTestId('call-add-slot').click();
    await fillSlot(dlg, 2, days[2], '09:30', 30);
    await dlg.getByTestId('call-link-input').fill('https://meet.example.com/grace-henrik');
    await dlg.getByTestId('call-text-input').fill('A first talk about the market study.');
    await check(client, `calls-dialog-${label}`);
    await dlg.getByTestId('dialog-submit').click();
    await dlg.waitFor({ state: 'detached' });

    // The expert sees the times in New York time, with the proposer's zone beside them.
    const card = expert.locator('[data-testid="timeline"] [data-testid="event-proposal"]', { hasText: 'Call proposal' });
    await card.waitFor();
    assert.match(await card.getByTestId('call-zone').textContent(), /Times in America\/New_York/);
    assert.equal(await card.getByTestId('call-slot').count(), 3);
    assert.match(await card.getByTestId('call-slot').nth(1).textContent(), /08:00–08:45.*14:00–14:45 in Europe\/Berlin.*45 min/);
    assert.equal(await card.getByTestId('call-link').getAttribute('href'), 'https://meet.example.com/grace-henrik');
    // The proposer has nothing to pick.
    const own = client.locator('[data-testid="timeline"] [data-testid="event-proposal"]', { hasText: 'Call proposal' });
    await own.waitFor();
    assert.equal(await own.getByTestId('call-slot-radio').count(), 0);
    assert.equal(await own.getByTestId('proposal-accept').count(), 0);

    // Accepting without a pick asks for one; the second time is then accepted.
    await card.getByTestId('proposal-accept').click();
    assert.equal(await card.getByTestId('call-pick-error').textContent(), 'Pick one of the times first.');
    await check(expert, `calls-pick-${label}`);
    await card.getByTestId('call-slot-radio').nth(1).check();
    await card.getByTestId('proposal-accept').click();
    await card.getByTestId('call-slot-chosen').waitFor();
    assert.equal(await card.locator('[data-testid="call-slot"].chosen').getAttribute('data-index'), '1');

    const start = zonedToUtc(days[1], '14:00', BERLIN);
    const res = await fetch(`${suite.server.url}/api/v1/engagements/${eng}`, { headers: { Authorization: `Bearer ${tok.client}` } });
    const body = await res.json();
    const state = body.state && body.state.phase ? body.state : body;
    assert.deepEqual(state.calls.map((c) => [c.start, c.minutes, c.link]), [[start, 45, 'https://meet.example.com/grace-henrik']]);

    // Both pages show the scheduled call with a countdown, in the head and the details.
    for (const page of [client, expert]) {
      const bar = page.getByTestId('next-call');
      await bar.waitFor();
      assert.match(await bar.getByTestId('call-countdown').textContent(), /^Call in (2|3) d( \d+ h)?$/);
      await showDetails(page, phone);
      const item = page.getByTestId('call-item');
      await item.waitFor();
      assert.match(await item.getByTestId('call-countdown').textContent(), /^Call in \d d/);
    }
    assert.match(await client.getByTestId('call-item').textContent(), /14:00–14:45/);
    assert.match(await expert.getByTestId('call-item').textContent(), /08:00–08:45/);
    await check(client, `calls-scheduled-client-${label}`);
    await check(expert, `calls-scheduled-expert-${label}`);

    // "Add to calendar" downloads <engagement>.ics, an iCalendar file.
    const [download] = await Promise.all([client.waitForEvent('download'), client.getByTestId('call-calendar').click()]);
    assert.equal(download.suggestedFilename(), `${eng}.ics`);
    const ics = fs.readFileSync(await download.path(), 'utf8');
    assert.match(ics, /^BEGIN:VCALENDAR\r\n/);
    assert.match(ics, new RegExp(`UID:${eng}-\\d+@parley`));
    await hideDetails(client, phone);
    await hideDetails(expert, phone);
    await shot(expert, `calls-accepted-card-${label}`);

    assert.deepEqual(client.problems, []);
    assert.deepEqual(expert.problems, []);
    await client.context().close();
    await expert.context().close();
  });
}

test('the dialog refuses a time in the past and a link that is not https, keeping what was typed', { skip }, async (t) => {
  const eng = uniqueEng('call-refuse');
  const tok = people(eng);
  const client = await openClient(suite.browser, suite.server, tok.client, { timezoneId: BERLIN });
  await waitOnline(client);
  await client.getByTestId('action-call').click();
  const dlg = client.getByTestId('call-dialog');
  await dlg.waitFor();
  const yesterday = dayIn(BERLIN, -1);
  await fillSlot(dlg, 0, yesterday, '10:00', 30);
  await dlg.getByTestId('dialog-submit').click();
  assert.equal(await dlg.getByTestId('dialog-error').textContent(), 'Time 1 is in the past: offer a time still to come.');
  assert.equal(await dlg.getByTestId('call-slot-date').getAttribute('aria-invalid'), 'true');
  assert.equal(await dlg.getByTestId('call-slot-date').inputValue(), yesterday, 'what was typed stays');
  await shot(client, 'calls-dialog-refused-desktop');

  await fillSlot(dlg, 0, dayIn(BERLIN, 1), '10:00', 300);
  await dlg.getByTestId('dialog-submit').click();
  assert.equal(await dlg.getByTestId('dialog-error').textContent(), 'The length of time 1 must be 15 to 240 minutes.');
  await fillSlot(dlg, 0, dayIn(BERLIN, 1), '10:00', 60);
  await dlg.getByTestId('call-link-input').fill('http://meet.example.com/x');
  await dlg.getByTestId('dialog-submit').click();
  assert.match(await dlg.getByTestId('dialog-error').textContent(), /https:\/\//);
  // At most five times.
  for (let i = 0; i < 4; i++) await dlg.getByTestId('call-add-slot').click();
  assert.equal(await dlg.getByTestId('call-slot-row').count(), 5);
  assert.equal(await dlg.getByTestId('call-add-slot').isHidden(), true);
  await dlg.getByTestId('call-slot-remove').nth(4).click();
  await dlg.getByTestId('call-slot-remove').nth(3).click();
  await dlg.getByTestId('call-slot-remove').nth(2).click();
  await dlg.getByTestId('call-slot-remove').nth(1).click();
  assert.equal(await dlg.getByTestId('call-slot-row').count(), 1);
  // Nothing was sent meanwhile.
  assert.equal(await client.locator('[data-testid="timeline"] [data-testid="event-proposal"]').count(), 0);
  await dlg.getByTestId('call-link-input').fill('https://meet.example.com/x');
  await dlg.getByTestId('dialog-submit').click();
  await dlg.waitFor({ state: 'detached' });
  await client.locator('[data-testid="timeline"] [data-testid="event-proposal"]', { hasText: 'Call proposal' }).waitFor();
  assert.deepEqual(client.problems, []);
  await client.context().close();
});

for (const [label, viewport] of VIEWPORTS) {
  test(`the reminder shows as a notice 15 minutes before the call (${label})`, { skip }, async (t) => {
    const eng = uniqueEng(`call-remind-${label}`);
    const tok = people(eng);
    const client = await openClient(suite.browser, suite.server, tok.client, { viewport, timezoneId: BERLIN });
    await waitOnline(client);
    // A call whose reminder is due a few seconds from now.
    const start = Math.ceil((Date.now() + 15 * 60000 + 6000) / 1000) * 1000;
    const seq = await postOk(suite.server, tok.client, `eng:${eng}`, 'proposal', { topic: 'call', text: 'Introductory call', terms: { slots: [{ start, minutes: 30 }], tz: BERLIN } });
    await postOk(suite.server, tok.expert, `eng:${eng}`, 'decision', { proposal: seq, verdict: 'accepted', slot: 0 });
    await client.getByTestId('next-call').waitFor();
    assert.match(await client.getByTestId('next-call').getByTestId('call-countdown').textContent(), /^Call in 1[56] min$/);

    const notice = client.locator('[data-testid="timeline"] [data-testid="event-reminder"]');
    await notice.waitFor({ timeout: 30000 });
    const hhmm = new Intl.DateTimeFormat('en-GB', { timeZone: BERLIN, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(start));
    assert.equal(await notice.getByTestId('reminder-text').textContent(), `Call with Henrik Berg starts at ${hhmm} — in 15 minutes`);
    await check(client, `calls-reminder-${label}`);
    assert.deepEqual(client.problems, []);
    await client.context().close();
  });
}
