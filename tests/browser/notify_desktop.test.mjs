// Desktop notifications (opt-in) and the sound toggle: what the page tells the
// reader while they look elsewhere, and what it keeps quiet about.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  serverAndBrowser, openClient, token, uniqueEng, waitOnline, shot, apiPost, until,
} from './harness.mjs';
import { emulateVisibility } from './notify_visibility.mjs';

// A phase due within a day from the start, and a reply owed after 4 s, so the
// deadline and service-level notifications happen during the test.
process.env.PARLEY_PHASE_LIMITS = 'discovery=20h,agreement=3d,active=28d,completion=5d';
process.env.PARLEY_REPLY_SLA = '4s';

const suite = serverAndBrowser();
const { skip } = suite;

// Grants the permission as a user would in the browser's prompt, and records
// every `new Notification(...)` and oscillator the page starts: the real
// constructors still run, the test only observes the calls.
async function observeNotifications(context) {
  await context.grantPermissions(['notifications'], { origin: suite.server.url });
  await emulateVisibility(context);
  await context.addInitScript(() => {
    window.parleyNotes = [];
    window.parleyNoteObjects = [];
    window.parleyBeeps = 0;
    const Real = window.Notification;
    if (typeof Real === 'function') {
      window.Notification = class extends Real {
        constructor(title, options = {}) {
          super(title, options);
          window.parleyNotes.push({ title, body: options.body, tag: options.tag });
          window.parleyNoteObjects.push(this);
        }
      };
    }
    const start = OscillatorNode.prototype.start;
    OscillatorNode.prototype.start = function (...args) { window.parleyBeeps += 1; return start.apply(this, args); };
  });
}

const notes = (page) => page.evaluate(() => window.parleyNotes);
const beeps = (page) => page.evaluate(() => window.parleyBeeps);

async function enableDesktop(page) {
  await page.getByTestId('notify-toggle').click();
  const box = page.getByTestId('notify-desktop');
  await box.check();
  await until(async () => (await box.isChecked()) && !(await box.isDisabled()), { message: 'desktop notifications on' });
}

test('desktop notifications: messages from the other party, proposals awaiting you, a missed reply; a click opens the event', { skip }, async () => {
  const one = uniqueEng('note-a');
  const two = uniqueEng('note-b');
  const alice = await openClient(suite.browser, suite.server, token({ sub: 'u-alice', name: 'Alice Moreau', role: 'client', eng: [one, two] }), { hash: `&eng=${one}`, setup: observeNotifications });
  await alice.locator(`[data-testid="channel"][data-ch="eng:${one}"]`).waitFor();
  await waitOnline(alice);
  await alice.locator(`[data-testid="channel-link-eng:${two}"][data-joined="true"]`).waitFor();
  const aliceTok = token({ sub: 'u-alice', name: 'Alice Moreau', role: 'client', eng: [one, two] });
  const bob = token({ sub: 'u-bob', name: 'Bob Lindqvist', role: 'expert', eng: [one, two] });

  // Off by default: nothing is shown.
  assert.equal((await apiPost(suite.server, bob, `eng:${two}`, 'message', { text: 'Before you opted in.' })).status, 201);
  await until(async () => (await alice.getByTestId(`unread-eng:${two}`).textContent()) === '1', { message: 'the first message counted' });
  assert.deepEqual(await notes(alice), []);

  await enableDesktop(alice);
  await shot(alice, 'notify-menu-1280');
  await alice.keyboard.press('Escape');
  await alice.getByTestId('notify-menu').waitFor({ state: 'hidden' });

  // A message from the other party in a channel that is not open.
  const titled = (title) => async () => (await notes(alice)).find((n) => n.title === title);
  assert.equal((await apiPost(suite.server, bob, `eng:${two}`, 'message', { text: 'The draft is in the shared folder.' })).status, 201);
  const draft = await until(async () => (await notes(alice)).find((n) => n.body === 'The draft is in the shared folder.'), { message: 'a notification for the message' });
  assert.equal(draft.title, `Bob Lindqvist in engagement ${two}`);

  // The reader's own message (from another device) is never announced, nor
  // one in the open channel while the tab is visible.
  assert.equal((await apiPost(suite.server, aliceTok, `eng:${two}`, 'message', { text: 'Thanks, reading it.' })).status, 201);
  assert.equal((await apiPost(suite.server, bob, `eng:${one}`, 'message', { text: 'In the open room.' })).status, 201);
  await alice.locator('[data-testid="message-text"]', { hasText: 'In the open room.' }).waitFor();

  // A proposal awaiting the reader's decision, once the tab is hidden.
  await alice.evaluate(() => window.parleyTestSetHidden(true));
  const proposal = await apiPost(suite.server, bob, `eng:${one}`, 'proposal', { topic: 'phase', text: 'Discovery is done, on to the agreement.', terms: { to: 'agreement' } });
  assert.equal(proposal.status, 201);
  const proposalTitle = `Phase proposal #${proposal.json.seq} awaits your decision · Engagement ${one}`;
  const proposed = await until(titled(proposalTitle), { message: 'a notification for the proposal' });
  assert.match(proposed.body, /^Bob Lindqvist: Discovery is done/);

  // Alice owes Bob a reply in `one` (4 s here): the missed service level is told.
  await until(titled(`A reply is overdue · Engagement ${one}`), { message: 'the missed reply', timeout: 20000 });
  const bodies = (await notes(alice)).map((n) => n.body);
  assert.ok(!bodies.includes('Thanks, reading it.'), 'the reader\'s own message was announced');
  assert.ok(!bodies.includes('In the open room.'), 'a message in the open, visible channel was announced');
  assert.ok(!bodies.includes('Before you opted in.'), 'a message before opting in was announced');

  // Clicking the proposal's notification opens its engagement at the proposal.
  await alice.evaluate(() => window.parleyTestSetHidden(false));
  await alice.getByTestId(`channel-link-eng:${two}`).click();
  await alice.locator(`[data-testid="channel"][data-ch="eng:${two}"]`).waitFor();
  await alice.evaluate((title) => {
    // A click on a notification reaches the page as a `click` event on it.
    window.parleyNoteObjects.find((n) => n.title === title).dispatchEvent(new Event('click'));
  }, proposalTitle);
  await alice.locator(`[data-testid="channel"][data-ch="eng:${one}"]`).waitFor();
  await until(async () => (await alice.evaluate(() => document.activeElement && document.activeElement.dataset.seq)) === String(proposal.json.seq), { message: 'the proposal in focus' });
  assert.deepEqual(alice.problems, []);
  await alice.context().close();
});

test('a phase due within a day is told once, also across a reload', { skip }, async () => {
  const three = uniqueEng('due-a');
  const four = uniqueEng('due-b');
  const carolTok = token({ sub: 'u-carol', name: 'Carol Diaz', role: 'client', eng: [three, four] });
  const carol = await openClient(suite.browser, suite.server, carolTok, {
    setup: async (context) => {
      await observeNotifications(context);
      await context.addInitScript(() => localStorage.setItem('parley.notify.desktop', '1'));
    },
  });
  await waitOnline(carol);
  await carol.getByTestId('home').waitFor();
  await until(async () => (await notes(carol)).length === 2, { message: 'two deadline notifications' });
  const titles = (await notes(carol)).map((n) => n.title).sort();
  assert.deepEqual(titles, [`Discovery is due in 20 h · Engagement ${three}`, `Discovery is due in 20 h · Engagement ${four}`].sort());

  await carol.reload();
  await waitOnline(carol);
  await until(async () => (await carol.locator('[data-testid="sidebar"] .phase-chip').count()) === 2, { message: 'both states after the reload' });
  assert.deepEqual(await notes(carol), []);
  assert.deepEqual(carol.problems, []);
  await carol.context().close();
});

test('the sound is off by default, beeps on the same triggers once on, and the choice persists', { skip }, async () => {
  const eng = uniqueEng('sound');
  const dave = await openClient(suite.browser, suite.server, token({ sub: 'u-dave', name: 'Dave Kim', role: 'expert', eng: [eng] }), { setup: observeNotifications });
  await waitOnline(dave);
  await dave.locator(`[data-testid="channel"][data-ch="eng:${eng}"]`).waitFor();
  const erin = token({ sub: 'u-erin', name: 'Erin Walsh', role: 'client', eng: [eng] });

  await dave.evaluate(() => window.parleyTestSetHidden(true));
  assert.equal((await apiPost(suite.server, erin, `eng:${eng}`, 'message', { text: 'Quiet one.' })).status, 201);
  await dave.locator('[data-testid="message-text"]', { hasText: 'Quiet one.' }).waitFor();
  assert.equal(await beeps(dave), 0);
  // Answered, so no missed reply beeps in between.
  assert.equal((await apiPost(suite.server, token({ sub: 'u-dave', name: 'Dave Kim', role: 'expert', eng: [eng] }), `eng:${eng}`, 'message', { text: 'Noted.' })).status, 201);
  await dave.evaluate(() => window.parleyTestSetHidden(false));

  await dave.getByTestId('notify-toggle').click();
  const sound = dave.getByTestId('notify-sound');
  assert.equal(await sound.isChecked(), false);
  await sound.check();
  await until(async () => (await beeps(dave)) === 1, { message: 'the beep confirming the toggle' });

  await dave.evaluate(() => window.parleyTestSetHidden(true));
  assert.equal((await apiPost(suite.server, erin, `eng:${eng}`, 'message', { text: 'Loud one.' })).status, 201);
  await until(async () => (await beeps(dave)) === 2, { message: 'a beep for the message' });
  // No desktop notification: only the sound was turned on.
  assert.deepEqual(await notes(dave), []);

  await dave.reload();
  await waitOnline(dave);
  await dave.getByTestId('notify-toggle').click();
  assert.equal(await dave.getByTestId('notify-sound').isChecked(), true);
  assert.equal(await dave.getByTestId('notify-desktop').isChecked(), false);
  await dave.getByTestId('notify-sound').uncheck();
  await dave.reload();
  await waitOnline(dave);
  await dave.getByTestId('notify-toggle').click();
  assert.equal(await dave.getByTestId('notify-sound').isChecked(), false);
  assert.deepEqual(dave.problems, []);
  await dave.context().close();
});

test('on a phone the settings sit at the foot of the channel list', { skip }, async () => {
  const eng = uniqueEng('sound-phone');
  const fay = await openClient(suite.browser, suite.server, token({ sub: 'u-fay', name: 'Fay Lund', role: 'client', eng: [eng] }), { viewport: { width: 390, height: 844 }, setup: observeNotifications });
  await waitOnline(fay);
  assert.equal(await fay.getByTestId('notify-toggle').isVisible(), false);
  await fay.getByTestId('menu-toggle').click();
  const sound = fay.getByTestId('side-notify-sound');
  await sound.check();
  await until(async () => (await beeps(fay)) === 1, { message: 'the beep confirming the toggle' });
  await shot(fay, 'notify-phone-channels-390');
  await fay.reload();
  await waitOnline(fay);
  await fay.getByTestId('menu-toggle').click();
  assert.equal(await fay.getByTestId('side-notify-sound').isChecked(), true);
  assert.deepEqual(fay.problems, []);
  await fay.context().close();
});
