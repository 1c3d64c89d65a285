// Accessibility: axe-core finds no serious or critical violation on any
// screen (sign-in, home, an engagement as client and expert, the support
// inbox, the mediation room, every dialog, the details panel), at desktop
// 1280×800 and phone 390×844; every dialog works with the keyboard alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  serverAndBrowser, openClient, token, uniqueEng, waitOnline, shot, send, axeViolations,
} from './harness.mjs';

const suite = serverAndBrowser();
const { skip } = suite;

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const VIEWPORTS = [['desktop', DESKTOP], ['phone', PHONE]];

// Runs axe on the page, saves a screenshot, and fails on any serious or
// critical violation.
async function check(page, name) {
  const found = await axeViolations(page);
  await shot(page, name);
  assert.deepEqual(found, [], `${name}: serious or critical accessibility violations`);
}

function people(eng) {
  return {
    client: token({ sub: 'u-cl', name: 'Grace Okafor', role: 'client', eng: [eng] }),
    expert: token({ sub: 'u-ex', name: 'Henrik Berg', role: 'expert', eng: [eng] }),
    support: token({ sub: 'u-sup', name: 'Sam Support', role: 'support', eng: ['*'] }),
  };
}

for (const [label, viewport] of VIEWPORTS) {
  test(`sign-in and home have no serious accessibility violations (${label})`, { skip }, async () => {
    const context = await suite.browser.newContext({ viewport, deviceScaleFactor: 1 });
    const page = await context.newPage();
    await page.goto(`${suite.server.url}/`);
    await page.getByTestId('signin').waitFor();
    await check(page, `${label}-signin`);
    await context.close();

    const home = await openClient(suite.browser, suite.server,
      token({ sub: 'u-h', name: 'Ada Home', role: 'client', eng: [uniqueEng('home-a'), uniqueEng('home-b')] }), { viewport });
    await home.getByTestId('home').waitFor();
    await waitOnline(home);
    await check(home, `${label}-home`);
    await home.context().close();
  });

  test(`an engagement, its dialogs and the support screens have no serious accessibility violations (${label})`, { skip }, async () => {
    const eng = uniqueEng(`a11y-${label}`);
    const tok = people(eng);
    const client = await openClient(suite.browser, suite.server, tok.client, { viewport });
    const expert = await openClient(suite.browser, suite.server, tok.expert, { viewport });
    await Promise.all([waitOnline(client), waitOnline(expert)]);
    await send(client, 'Hello, here is the brief for the market study.');
    await expert.locator('[data-testid="message-text"]', { hasText: 'the brief' }).waitFor();
    await send(expert, 'Thanks, I will start with the interviews.');
    await client.locator('[data-testid="message-text"]', { hasText: 'the interviews' }).waitFor();

    // Each dialog, opened, checked, and cancelled.
    for (const [page, who, action, dialog] of [
      [expert, 'expert', 'action-status', 'status-dialog'],
      [expert, 'expert', 'action-propose', 'proposal-dialog'],
      [client, 'client', 'action-flag', 'flag-dialog'],
    ]) {
      await page.getByTestId(action).click();
      await page.getByTestId(dialog).waitFor();
      await check(page, `${label}-${dialog}-${who}`);
      await page.getByTestId(dialog).getByTestId('dialog-cancel').click();
    }

    // The structured agreement form.
    await expert.getByTestId('action-propose').click();
    await expert.getByTestId('proposal-topic-select').selectOption('agreement');
    await check(expert, `${label}-agreement-form-expert`);
    await expert.getByTestId('proposal-dialog').getByTestId('dialog-cancel').click();

    // A proposal and a status card in the timeline, then the dispute.
    await expert.getByTestId('action-propose').click();
    await expert.getByTestId('proposal-dialog').getByTestId('dialog-submit').click();
    await client.locator('[data-testid="timeline"] [data-testid="proposal-accept"]').first().waitFor();
    await check(client, `${label}-engagement-client`);
    await client.locator('[data-testid="timeline"] [data-testid="proposal-reject"]').first().click();
    await client.getByTestId('reject-dialog').waitFor();
    await check(client, `${label}-reject-dialog-client`);
    await client.getByTestId('reject-dialog').getByTestId('dialog-cancel').click();
    if (label === 'desktop') {
      await client.getByTestId('notify-toggle').click();
      await client.getByTestId('notify-menu').waitFor();
      await check(client, `${label}-notify-menu-client`);
      await client.getByTestId('notify-toggle').click();
    }
    // New messages are announced: the timeline is inside a polite live region.
    assert.equal(await client.getByTestId('timeline').evaluate((el) => el.closest('[aria-live]')?.getAttribute('aria-live')), 'polite');
    await check(expert, `${label}-engagement-expert`);

    if (label === 'phone') {
      await client.getByTestId('details-toggle').click();
      await client.locator('body.show-details').waitFor();
      await client.waitForTimeout(300); // the panel's slide-in transition
      await check(client, `${label}-engagement-details-client`);
      await client.keyboard.press('Escape');
      await client.getByTestId('menu-toggle').click();
      await client.locator('body.show-sidebar').waitFor();
      await client.waitForTimeout(300);
      await check(client, `${label}-engagement-sidebar-client`);
      await client.keyboard.press('Escape');
    }

    await client.getByTestId('action-flag').click();
    const flag = client.getByTestId('flag-dialog');
    await flag.getByTestId('flag-type-select').selectOption('dispute');
    await flag.getByTestId('flag-text-input').fill('Only two of the five markets were covered.');
    await flag.getByTestId('dialog-submit').click();

    const support = await openClient(suite.browser, suite.server, tok.support, { viewport });
    await waitOnline(support);
    const notice = support.locator('[data-testid="event-notice"]', { hasText: eng });
    await notice.waitFor();
    await check(support, `${label}-support-inbox`);
    await notice.getByTestId('notice-open-mediation').click();
    await support.locator(`[data-testid="channel"][data-ch="eng:${eng}:mediation"]`).waitFor();
    await waitOnline(support);
    await send(support, 'Hello both, I am here to help you settle this.');
    await support.locator('[data-testid="message-text"]', { hasText: 'here to help' }).waitFor();
    await check(support, `${label}-mediation-support`);
    await support.getByTestId('action-resolution').click();
    await support.getByTestId('resolution-dialog').waitFor();
    await check(support, `${label}-resolution-dialog-support`);
    await support.getByTestId('resolution-dialog').getByTestId('dialog-cancel').click();

    for (const p of [client, expert, support]) assert.deepEqual(p.problems, []);
    for (const p of [client, expert, support]) await p.context().close();
  });
}

// Moves the focus with Tab (or Shift+Tab) until it is on the element with
// the test id; fails if that takes more than `limit` presses.
async function tabTo(page, testid, { back = false, limit = 30 } = {}) {
  for (let i = 0; i < limit; i += 1) {
    if (await page.evaluate((id) => document.activeElement?.dataset.testid === id, testid)) return;
    await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
  }
  assert.fail(`${testid} not reached with the keyboard in ${limit} presses`);
}

// Opens a dialog from its action button with the keyboard only, walks its
// fields with Tab, closes it with Escape, and checks where the focus went.
async function dialogByKeyboard(page, action, dialog) {
  const dlg = page.getByTestId(dialog);
  await page.getByTestId('composer-input').focus();
  await tabTo(page, action, { back: true });
  await page.keyboard.press('Enter');
  await dlg.waitFor();
  // The focusable controls of the dialog, in document order.
  const controls = await dlg.evaluate((d) => [...d.querySelectorAll('button, input, select, textarea, a[href]')]
    .filter((el) => !el.disabled && el.getClientRects().length > 0)
    .map((el) => el.id || el.dataset.testid || el.getAttribute('aria-label') || el.textContent));
  assert.ok(controls.length >= 3, `${dialog}: has fields and buttons (${controls})`);
  const visited = [];
  for (let i = 0; i < controls.length; i += 1) {
    visited.push(await page.evaluate((name) => {
      const el = document.activeElement;
      if (!el || !el.closest(`[data-testid="${name}"]`)) return `outside the dialog: ${el && el.tagName}`;
      return el.id || el.dataset.testid || el.getAttribute('aria-label') || el.textContent;
    }, dialog));
    await page.keyboard.press('Tab');
  }
  assert.deepEqual(visited, controls, `${dialog}: Tab moves through every control in order`);
  await page.keyboard.press('Escape');
  await dlg.waitFor({ state: 'detached' });
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), action,
    `${dialog}: the focus returns to its opener`);
}

test('every dialog opens, is walked and closes with the keyboard alone', { skip }, async () => {
  const eng = uniqueEng('keys');
  const tok = people(eng);
  const client = await openClient(suite.browser, suite.server, tok.client);
  const expert = await openClient(suite.browser, suite.server, tok.expert);
  await Promise.all([waitOnline(client), waitOnline(expert)]);

  await dialogByKeyboard(expert, 'action-status', 'status-dialog');
  await dialogByKeyboard(expert, 'action-propose', 'proposal-dialog');
  await dialogByKeyboard(client, 'action-flag', 'flag-dialog');

  // A dispute, raised with the keyboard, opens the mediation room for support.
  await client.getByTestId('composer-input').focus();
  await tabTo(client, 'action-flag', { back: true });
  await client.keyboard.press('Enter');
  await client.getByTestId('flag-type-select').selectOption('dispute');
  await client.getByTestId('flag-text-input').focus();
  await client.keyboard.type('Only two of the five markets were covered.');
  await tabTo(client, 'dialog-submit');
  await client.keyboard.press('Enter');
  await client.getByTestId('flag-dialog').waitFor({ state: 'detached' });

  const support = await openClient(suite.browser, suite.server, tok.support);
  await waitOnline(support);
  await support.evaluate((hash) => { location.hash = hash; }, `#/eng/${eng}/mediation`);
  await support.locator(`[data-testid="channel"][data-ch="eng:${eng}:mediation"]`).waitFor();
  await waitOnline(support);
  await support.getByTestId('action-resolution').waitFor();
  await dialogByKeyboard(support, 'action-resolution', 'resolution-dialog');

  for (const p of [client, expert, support]) assert.deepEqual(p.problems, []);
  for (const p of [client, expert, support]) await p.context().close();
});
