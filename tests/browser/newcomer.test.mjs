// A newcomer's first run, end to end (issue 11 "Done when"): the server
// started as `./parley.sh run` starts it (`--dev`, a fresh data directory,
// `--web-root web-client`) creates the demo engagement and prints a sign-in
// link per person; Bob (the expert, in Berlin) and Alice (the client, in New
// York) open theirs and, only through the page, accept the invitation,
// acknowledge the Mutual NDA, schedule the introductory call, set Bob's
// availability, see who owes a reply and by when, and agree their way to
// `active`, which the NDA alone had kept blocked. Then (issue 12 "Done
// when") on to `closed`: Bob delivers a real file, Alice asks for a
// revision, accepts v2, both agree to `completion`, Bob's final delivery is
// accepted and closes the engagement; the verified decision log names the
// approved files by their hashes, and both review and see the reviews
// revealed with their commitments verified.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import {
  skipReason, startServer, launchBrowser, openClient, waitOnline, until, send, shot, axeViolations, SCREENSHOTS,
} from './harness.mjs';
import { zonedToUtc } from '../../web-client/calls_text.js';

const skip = skipReason() ?? false;
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const BERLIN = 'Europe/Berlin';
const NEW_YORK = 'America/New_York';
const DAY = 86400000;
const NOTE = 'Travelling to a client workshop; back tomorrow morning.';

// "YYYY-MM-DD" of the day `days` from now in zone `tz`.
function dayIn(tz, days) {
  return new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(Date.now() + days * DAY));
}

// The sign-in links the server prints on stderr, by the person's name.
async function printedLinks(server) {
  const re = /^ {2}(Alice \(client\)|Bob \(expert\)|Sam \(support\)): (http:\/\/\S+#token=\S+)$/gm;
  return until(() => {
    const found = Object.fromEntries([...server.output().matchAll(re)].map((m) => [m[1], m[2]]));
    return Object.keys(found).length === 3 ? found : null;
  }, { message: 'the three sign-in links on stderr' });
}

// The engagement's state as the reader of `link` gets it over HTTP.
async function stateOf(server, link) {
  const tok = new URL(link).hash.replace(/^#token=/, '');
  const res = await fetch(`${server.url}/api/v1/engagements/demo`, { headers: { Authorization: `Bearer ${tok}` } });
  assert.equal(res.status, 200);
  const body = await res.json();
  return body.state && body.state.phase ? body.state : body;
}

async function check(page, name, options) {
  const found = await axeViolations(page, options);
  await shot(page, `newcomer-${name}`);
  assert.deepEqual(found, [], `${name}: serious or critical accessibility violations`);
}

async function onPhase(page, phase) {
  await page.locator(`[data-testid="phase-track"][data-phase="${phase}"]`).waitFor();
}

async function fillSlot(dlg, i, date, time, minutes) {
  const row = dlg.getByTestId('call-slot-row').nth(i);
  await row.getByTestId('call-slot-date').fill(date);
  await row.getByTestId('call-slot-time').fill(time);
  await row.getByTestId('call-slot-minutes').fill(String(minutes));
}

const invitationCard = (page) => page.locator('[data-testid="timeline"] .card.invitation');
const proposalCard = (page, text) => page.locator('[data-testid="timeline"] [data-testid="event-proposal"]', { hasText: text }).last();
const sides = (page) => page.locator('[data-testid="requirements"] [data-testid="requirement-side"]')
  .evaluateAll((els) => els.map((el) => `${el.dataset.side}:${el.dataset.done}`));
const logSentences = (page) => page.getByTestId('log-sentence').allTextContents();

const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

// A file's bytes, different on every run, so that no upload finds them stored already.
function fileBytes(n, seed) {
  const head = crypto.createHash('sha256').update(`${seed}-${Math.random()}`).digest();
  const buf = Buffer.alloc(n);
  for (let i = 0; i < n; i += head.length) head.copy(buf, i);
  return buf;
}

const deliverable = (page, key) => page.locator(`[data-testid="deliverables-panel"] [data-testid="deliverable"][data-key="${key}"]`);

// Bob submits a version of `key` with one file through the deliver dialog,
// opened by `opener` (a new deliverable, or a new version of one).
async function deliver(bob, opener, { key, text, file, final = false }) {
  await opener.click();
  const dlg = bob.getByTestId('deliver-dialog');
  await dlg.waitFor();
  if (key) await dlg.getByTestId('deliver-key-input').fill(key);
  await dlg.getByTestId('deliver-text-input').fill(text);
  await dlg.getByTestId('deliver-files-input').setInputFiles(file);
  await dlg.locator('[data-testid="deliver-files-item"].state-done').waitFor();
  if (final) await dlg.getByTestId('deliver-final').check();
  await dlg.getByTestId('dialog-submit').click();
  await dlg.waitFor({ state: 'detached' });
}

// Alice accepts the version of `item` that awaits her, in the accept dialog
// that names its file.
async function acceptDelivery(alice, item, fileName) {
  await item.getByTestId('deliverable-accept').click();
  const dlg = alice.getByTestId('accept-delivery-dialog');
  await dlg.waitFor();
  assert.ok((await dlg.textContent()).includes(fileName), `the accept dialog names ${fileName}`);
  await dlg.getByTestId('dialog-submit').click();
  await dlg.waitFor({ state: 'detached' });
}

async function review(page, stars, text) {
  await page.getByTestId('review-callout').getByTestId('review-write').click();
  const dlg = page.getByTestId('review-dialog');
  await dlg.waitFor();
  for (const [aspect, n] of Object.entries(stars)) {
    await dlg.getByTestId(`rating-${aspect}`).getByRole('radio', { name: `${n} of 5 stars` }).click();
  }
  await dlg.getByTestId('review-text-input').fill(text);
  await dlg.getByTestId('dialog-submit').click();
  await dlg.waitFor({ state: 'detached' });
}

// From `active` to `closed` and the reviews, through the page only.
async function activeToClosed(bob, alice) {
  const draft = { name: 'dach-study-v1.pdf', mimeType: 'application/pdf', buffer: fileBytes(120 * 1024, 'v1') };
  const second = { name: 'dach-study-v2.pdf', mimeType: 'application/pdf', buffer: fileBytes(150 * 1024, 'v2') };
  const final = { name: 'dach-go-to-market.pdf', mimeType: 'application/pdf', buffer: fileBytes(90 * 1024, 'final') };

  // Bob delivers the study; Alice sees it with its file's hash and asks for a revision.
  await deliver(bob, bob.getByTestId('deliver-new'), { key: 'study', text: 'First draft of the DACH market study.', file: draft });
  const study = deliverable(alice, 'study');
  await study.getByTestId('deliverable-accept').waitFor();
  assert.equal(await study.getByTestId('deliverable-status').textContent(), 'Awaiting client review');
  assert.equal(await study.locator('[data-testid="file-chip"]').getAttribute('data-sha256'), sha256(draft.buffer));
  // Laid out on a desktop (not a bare bulleted list): the panel's styles apply at every width.
  assert.equal(await alice.locator('[data-testid="deliverables-panel"] .deliverable-list').evaluate((el) => getComputedStyle(el).listStyleType), 'none');
  await study.getByTestId('deliverable-revise').click();
  const revise = alice.getByTestId('revise-dialog');
  await revise.waitFor();
  await revise.getByTestId('revise-text-input').fill('Please add the Swiss competitors.');
  await revise.getByTestId('dialog-submit').click();
  await revise.waitFor({ state: 'detached' });
  await until(async () => (await deliverable(bob, 'study').getByTestId('deliverable-status').textContent()) === 'Revision requested', { message: 'Bob sees the revision requested' });

  // v2, accepted.
  await deliver(bob, deliverable(bob, 'study').getByTestId('deliverable-new-version'), { text: 'With the Swiss competitors.', file: second });
  await until(async () => (await study.getByTestId('deliverable-version').textContent()) === 'v2', { message: 'v2 in Alice\'s panel' });
  await acceptDelivery(alice, study, second.name);
  await until(async () => (await deliverable(bob, 'study').getByTestId('deliverable-status').textContent()) === 'Accepted', { message: 'Bob sees v2 accepted' });

  // Into completion.
  await propose(bob, 'phase', async (dlg) => {
    assert.equal(await dlg.getByTestId('proposal-phase-select').inputValue(), 'completion');
    await dlg.getByTestId('proposal-text-input').fill('The study is accepted; the go-to-market plan is the last piece.');
  });
  await proposalCard(alice, 'Phase change proposal → Completion').getByTestId('proposal-accept').click();
  await Promise.all([onPhase(alice, 'completion'), onPhase(bob, 'completion')]);

  // The final delivery, accepted: the engagement closes on both pages.
  await deliver(bob, bob.getByTestId('deliver-new'), { key: 'plan', text: 'The go-to-market plan, final.', file: final, final: true });
  const plan = deliverable(alice, 'plan');
  await plan.getByTestId('deliverable-final').waitFor();
  await acceptDelivery(alice, plan, final.name);
  await Promise.all([onPhase(alice, 'closed'), onPhase(bob, 'closed')]);

  // The decision log names the approved files by their full hashes, and verifies.
  const log = alice.getByTestId('decision-log');
  await log.locator('[data-testid="chain-status"][data-state="verified"]').waitFor();
  for (const [sentence, file] of [['Accepted study v2', second], ['Accepted plan v1 (final)', final]]) {
    const rec = log.getByTestId('decision-log-record').filter({ hasText: sentence });
    await rec.waitFor();
    assert.equal(await rec.getAttribute('data-verified'), 'true', sentence);
    const hash = rec.getByTestId('approved-file').filter({ hasText: file.name }).getByTestId('approved-file-hash');
    assert.equal(await hash.getAttribute('title'), `SHA-256 ${sha256(file.buffer)}`);
  }
  assert.equal(await log.locator('[data-testid="decision-log-record"][data-verified="false"]').count(), 0);
  await log.getByTestId('decision-log-record').filter({ hasText: 'Accepted plan v1 (final)' }).scrollIntoViewIfNeeded();
  // The confirmations fade after a few seconds; the shot shows the log under them.
  if (SCREENSHOTS) await until(async () => (await alice.getByTestId('toast').count()) === 0, { timeout: 15000, message: 'toasts gone' });
  await shot(alice, 'newcomer-closed-log');

  // Both review; both see the reviews revealed, each commitment checked in the browser.
  const texts = ['A clear, well-sourced study, delivered as agreed.', 'A precise brief and quick decisions; thank you.'];
  await review(alice, { quality: 5, communication: 4, timeliness: 5 }, texts[0]);
  await review(bob, { quality: 5, communication: 5, timeliness: 4 }, texts[1]);
  for (const page of [alice, bob]) {
    const reveal = page.locator('[data-testid="timeline"] [data-testid="event-reviews"]');
    await reveal.waitFor();
    await until(async () => (await reveal.locator('[data-testid="commitment-check"][data-state="ok"]').count()) === 2, { message: 'both commitments verified' });
    assert.deepEqual(await reveal.getByTestId('commitment-check').allTextContents(), ['✓ commitment verified', '✓ commitment verified']);
    assert.deepEqual((await reveal.getByTestId('review-text').allTextContents()).sort(), [...texts].sort());
  }
  if (SCREENSHOTS) await until(async () => (await bob.getByTestId('toast').count()) === 0, { message: 'toasts gone' });
  await shot(bob, 'newcomer-closed-reviews');
}

async function propose(page, topic, fill) {
  await page.getByTestId('action-propose').click();
  const dlg = page.getByTestId('proposal-dialog');
  await dlg.waitFor();
  await dlg.getByTestId('proposal-topic-select').selectOption(topic);
  await fill(dlg);
  await dlg.getByTestId('dialog-submit').click();
  await dlg.waitFor({ state: 'detached' });
}

test('a newcomer\'s first run: invited, NDA acknowledged, intro call scheduled, availability set, agreed to active, delivered and closed, reviewed', { skip, timeout: 240000 }, async () => {
  // A reply SLA shorter than any away period of the walk, so that the reply's
  // due always falls inside Bob's away period (./parley.sh run passes options on).
  const server = await startServer({ dev: true, args: ['--reply-sla', '4h'] });
  const browser = await launchBrowser();
  try {
    const links = await printedLinks(server);
    assert.match(server.output(), /demo engagement "demo" created: Bob, the expert, is invited/);

    // 1. The invitation. Bob opens his link first, on a phone as well.
    const bobPhone = await openClient(browser, server, null, { link: links['Bob (expert)'], viewport: PHONE, timezoneId: BERLIN });
    await waitOnline(bobPhone);
    await invitationCard(bobPhone).getByTestId('invitation-accept').waitFor();
    await check(bobPhone, 'invitation-phone');
    await bobPhone.context().close();

    const bob = await openClient(browser, server, null, { link: links['Bob (expert)'], viewport: DESKTOP, timezoneId: BERLIN });
    const alice = await openClient(browser, server, null, { link: links['Alice (client)'], viewport: DESKTOP, timezoneId: NEW_YORK });
    await Promise.all([waitOnline(bob), waitOnline(alice)]);
    const card = invitationCard(bob);
    await card.getByTestId('invitation-accept').waitFor();
    assert.equal(await card.getByTestId('invitation-title').textContent(), 'Market entry DACH');
    assert.match(await card.getByTestId('invitation-details').textContent(), /German, Austrian and Swiss markets/);
    assert.match(await card.getByTestId('invitation-requirements').textContent(), /Mutual NDA — to be acknowledged by Alice and Bob/);
    await onPhase(bob, 'invited');
    // The engagement goes by its title, in the room's head and the tab.
    await until(async () => (await bob.getByTestId('channel-title').textContent()) === 'Market entry DACH', { message: 'the title in the head' });
    assert.equal(await bob.title(), 'Market entry DACH · Parley');
    assert.match(await bob.locator('.side-eng-title').textContent(), /^Market entry DACH · demo/);
    await check(bob, 'invitation-bob');
    await invitationCard(alice).getByTestId('invitation-waiting').waitFor();
    assert.match(await invitationCard(alice).getByTestId('invitation-waiting').textContent(), /^Waiting for Bob to answer the invitation/);
    assert.equal(await invitationCard(alice).getByTestId('invitation-accept').count(), 0);
    await check(alice, 'invitation-alice-waiting');

    await card.getByTestId('invitation-accept').click();
    for (const page of [bob, alice]) {
      await onPhase(page, 'discovery');
      await until(async () => (await invitationCard(page).getByTestId('invitation-outcome').textContent().catch(() => '')) === 'Invitation accepted', { message: 'the accepted invitation' });
    }

    // 2. The NDA: `active` is blocked until both sides acknowledge it.
    for (const page of [bob, alice]) {
      await page.getByTestId('requirements-callout').waitFor();
      assert.equal(await page.getByTestId('phase-step-active').getAttribute('data-blocked'), 'true');
      assert.equal(await page.getByTestId('phase-needs').textContent(), 'Active needs: Mutual NDA — Alice and Bob');
    }
    await check(bob, 'discovery-nda-callout');
    for (const [page, note] of [[bob, 'Signed and returned.'], [alice, '']]) {
      await page.locator('[data-testid="requirements-callout"] [data-testid="requirement-acknowledge"]').click();
      const dlg = page.getByTestId('acknowledge-dialog');
      await dlg.waitFor();
      if (note) await dlg.getByTestId('acknowledge-note-input').fill(note);
      if (page === bob) await check(bob, 'nda-dialog', { include: '[data-testid="acknowledge-dialog"]' });
      await dlg.getByTestId('dialog-submit').click();
      await dlg.waitFor({ state: 'detached' });
      await page.getByTestId('requirements-callout').waitFor({ state: 'detached' });
    }
    for (const page of [bob, alice]) {
      await until(async () => JSON.stringify(await sides(page)) === '["client:true","expert:true"]', { message: 'both sides acknowledged in the details panel' });
      await page.getByTestId('phase-needs').waitFor({ state: 'detached' });
      assert.equal(await page.getByTestId('phase-step-active').getAttribute('data-blocked'), null);
      await until(async () => {
        const log = await logSentences(page);
        return log.includes('Bob acknowledged Mutual NDA') && log.includes('Alice acknowledged Mutual NDA');
      }, { message: 'both acknowledgements in the decision log' });
    }
    assert.deepEqual((await stateOf(server, links['Alice (client)'])).requirements[0].acknowledged_by.sort(), ['alice', 'bob']);
    await check(alice, 'nda-done');

    // 3. The introductory call: Bob offers two times in Berlin time, Alice (New York) takes the second.
    await bob.getByTestId('action-call').click();
    const callDlg = bob.getByTestId('call-dialog');
    await callDlg.waitFor();
    assert.match(await callDlg.getByTestId('call-zone-caption').textContent(), /^Times in Europe\/Berlin\./);
    const days = [2, 3].map((d) => dayIn(BERLIN, d));
    await fillSlot(callDlg, 0, days[0], '10:00', 30);
    await callDlg.getByTestId('call-add-slot').click();
    await fillSlot(callDlg, 1, days[1], '16:00', 30);
    await callDlg.getByTestId('call-link-input').fill('https://meet.example.com/dach-intro');
    await callDlg.getByTestId('call-text-input').fill('A first talk about the DACH study.');
    await check(bob, 'call-dialog');
    await callDlg.getByTestId('dialog-submit').click();
    await callDlg.waitFor({ state: 'detached' });

    const callCard = proposalCard(alice, 'Call proposal');
    await callCard.waitFor();
    assert.match(await callCard.getByTestId('call-zone').textContent(), /Times in America\/New_York/);
    assert.equal(await callCard.getByTestId('call-slot').count(), 2);
    // 16:00 in Berlin is 10:00 in New York (both zones on standard or both on summer time, except in a few weeks of the year).
    const start = zonedToUtc(days[1], '16:00', BERLIN);
    const nyStart = new Intl.DateTimeFormat('en-GB', { timeZone: NEW_YORK, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(start));
    assert.match(await callCard.getByTestId('call-slot').nth(1).textContent(), new RegExp(`${nyStart}–.*16:00–16:30 in Europe/Berlin`));
    await callCard.getByTestId('call-slot-radio').nth(1).check();
    // The same proposal in the details panel shows the same pick.
    assert.equal(await alice.locator('[data-testid="details"] [data-testid="call-slot-radio"]').nth(1).isChecked(), true);
    await check(alice, 'call-pick');
    await callCard.getByTestId('proposal-accept').click();
    await callCard.getByTestId('call-slot-chosen').waitFor();
    // The confirmation does not hide the room's head (title, who owes a reply, the next call).
    const toastBox = await alice.getByTestId('toast').last().boundingBox();
    const headBox = await alice.locator('.channel-head').boundingBox();
    assert.ok(toastBox.y >= headBox.y + headBox.height || toastBox.x >= headBox.x + headBox.width,
      `the toast ${JSON.stringify(toastBox)} is clear of the head ${JSON.stringify(headBox)}`);
    const state = await stateOf(server, links['Alice (client)']);
    assert.deepEqual(state.calls.map((c) => [c.start, c.minutes, c.link]), [[start, 30, 'https://meet.example.com/dach-intro']]);
    for (const page of [bob, alice]) {
      const bar = page.getByTestId('next-call');
      await bar.waitFor();
      assert.match(await bar.getByTestId('call-countdown').textContent(), /^Call in (2|3) d( \d+ h)?$/);
      await page.getByTestId('call-item').waitFor();
    }
    assert.match(await bob.getByTestId('call-item').textContent(), /16:00–16:30/);
    assert.match(await alice.getByTestId('call-item').textContent(), new RegExp(`${nyStart}–`));
    await check(alice, 'call-scheduled-alice');
    await check(bob, 'call-scheduled-bob');
    const [download] = await Promise.all([alice.waitForEvent('download'), alice.getByTestId('call-calendar').click()]);
    assert.equal(download.suggestedFilename(), 'demo.ics');
    const ics = fs.readFileSync(await download.path(), 'utf8');
    assert.match(ics, /^BEGIN:VCALENDAR\r\n/);
    assert.match(ics, /BEGIN:VEVENT\r\n/);
    assert.match(ics, /https:\/\/meet\.example\.com\/dach-intro/);

    // The scheduled call on a phone.
    const alicePhone = await openClient(browser, server, null, { link: links['Alice (client)'], viewport: PHONE, timezoneId: NEW_YORK });
    await waitOnline(alicePhone);
    await alicePhone.getByTestId('next-call').waitFor();
    await check(alicePhone, 'call-scheduled-phone');
    await alicePhone.context().close();

    // 4. Bob is away until 09:00 tomorrow (Berlin), with a note and a usual reply time of 4 h.
    const awayUntil = zonedToUtc(dayIn(BERLIN, 1), '09:00', BERLIN);
    await bob.getByTestId('availability-control').click();
    const avDlg = bob.getByTestId('availability-dialog');
    await avDlg.waitFor();
    await avDlg.getByTestId('availability-status').selectOption('away');
    await avDlg.getByTestId('availability-until').fill(`${dayIn(BERLIN, 1)}T09:00`);
    await avDlg.getByTestId('availability-note').fill(NOTE);
    await avDlg.getByTestId('availability-reply').fill('4');
    await check(bob, 'availability-dialog');
    await avDlg.getByTestId('dialog-submit').click();
    await avDlg.waitFor({ state: 'detached' });
    await bob.locator('[data-testid="availability-control"][data-status="away"]').waitFor();

    // Alice sees it beside Bob's name, without reloading.
    const chip = alice.locator('[data-testid="presence-user"][data-user-id="bob"]');
    await until(async () => /Away until \S+ \d\d:00/.test(await chip.getByTestId('presence-status').textContent().catch(() => '')), { message: 'Bob away in Alice\'s room head' });
    const row = alice.locator('[data-testid="people"] [data-testid="person"][data-user-id="bob"]');
    await row.getByTestId('person-status').waitFor();
    const nyUntil = new Intl.DateTimeFormat('en-GB', { timeZone: NEW_YORK, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(awayUntil));
    assert.match(await row.getByTestId('person-status').textContent(), new RegExp(`^Away until \\S+ ${nyUntil}`));
    assert.equal(await row.getByTestId('person-note').textContent(), NOTE);
    assert.equal(await row.getByTestId('person-reply').textContent(), 'Usually replies within 4 h');
    // Laid out on a desktop too (not a bare bulleted list): the styles of calls and people apply at every width.
    assert.equal(await alice.locator('.people-list').evaluate((el) => getComputedStyle(el).listStyleType), 'none');
    assert.equal(await alice.getByTestId('next-call').evaluate((el) => getComputedStyle(el).display), 'flex');
    await check(alice, 'availability-seen-by-alice');

    // 5. Alice writes; Bob owes the reply, due when his away period ends.
    await send(alice, 'Looking forward to the call. Could you share a short agenda?');
    await until(async () => /^Bob owes you a reply/.test(await alice.getByTestId('owed-reply-text').textContent().catch(() => '')), { message: 'Bob owes Alice a reply' });
    await until(async () => /^You owe a reply/.test(await bob.getByTestId('owed-reply-text').textContent().catch(() => '')), { message: 'Bob is told he owes a reply' });
    const owed = (await stateOf(server, links['Alice (client)'])).owed_reply;
    assert.equal(owed.side, 'expert');
    assert.equal(owed.due, awayUntil, 'the reply is due when Bob\'s away period ends');
    assert.match(await alice.getByTestId('owed-reply-text').getAttribute('title'), new RegExp(`^Due .*${nyUntil}`));
    await check(alice, 'owed-reply-alice');
    await check(bob, 'owed-reply-bob');

    // 6. Discovery → agreement → active: reachable now that the NDA is acknowledged.
    await send(bob, 'Agenda: scope, sources, timeline. Shall we agree the terms?');
    await propose(bob, 'phase', async (dlg) => {
      assert.equal(await dlg.getByTestId('proposal-phase-select').inputValue(), 'agreement');
      await dlg.getByTestId('proposal-text-input').fill('The brief is clear; let us agree the terms.');
    });
    await proposalCard(alice, 'Phase change proposal').getByTestId('proposal-accept').click();
    await Promise.all([onPhase(alice, 'agreement'), onPhase(bob, 'agreement')]);

    await propose(alice, 'agreement', async (dlg) => {
      await dlg.getByTestId('proposal-text-input').fill('Market entry study for Germany, Austria and Switzerland.');
      await dlg.getByTestId('terms-scope').fill('Market study and go-to-market plan for DACH');
      await dlg.getByTestId('terms-amount').fill('9600');
    });
    await proposalCard(bob, 'Agreement proposal').getByTestId('proposal-accept').click();
    await bob.locator('[data-testid="agreement-version"]', { hasText: 'Version 1' }).waitFor();

    await propose(bob, 'phase', async (dlg) => {
      // The next step is the only one offered, and it is `active` now.
      assert.equal(await dlg.getByTestId('proposal-phase-select').inputValue(), 'active');
      await dlg.getByTestId('proposal-text-input').fill('Terms agreed, NDA in place: let us start.');
    });
    await proposalCard(alice, 'Phase change proposal → Active').getByTestId('proposal-accept').click();
    await Promise.all([onPhase(alice, 'active'), onPhase(bob, 'active')]);
    await check(bob, 'active-bob');
    await check(alice, 'active-alice');
    assert.equal((await stateOf(server, links['Bob (expert)'])).phase, 'active');

    // 7. Active → closed with real files, the approved hashes in the verified log, and reviews.
    await activeToClosed(bob, alice);
    assert.equal((await stateOf(server, links['Alice (client)'])).phase, 'closed');

    assert.deepEqual(bob.problems, []);
    assert.deepEqual(alice.problems, []);
  } finally {
    await browser.close();
    await server.cleanup();
  }
});
