// The unread count in the page title and on the favicon: it appears when a
// message arrives in a channel that is not open, or while the tab is hidden,
// and goes once the reader has read it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  serverAndBrowser, openClient, token, uniqueEng, waitOnline, shot, apiPost, until,
} from './harness.mjs';
import { emulateVisibility } from './notify_visibility.mjs';

const suite = serverAndBrowser();
const { skip } = suite;

const title = (page) => page.evaluate(() => document.title);
const icon = (page) => page.evaluate(() => document.querySelector('link[rel="icon"]').getAttribute('href'));

test('a message in a channel that is not open shows in the title and favicon until read', { skip }, async () => {
  const one = uniqueEng('unread-a');
  const two = uniqueEng('unread-b');
  const alice = await openClient(suite.browser, suite.server, token({ sub: 'u-alice', name: 'Alice Moreau', role: 'client', eng: [one, two] }), { hash: `&eng=${one}` });
  await alice.locator(`[data-testid="channel"][data-ch="eng:${one}"]`).waitFor();
  await waitOnline(alice);
  // A message that comes with the join of a channel is history, not news: post once it is joined.
  await alice.locator(`[data-testid="channel-link-eng:${two}"][data-joined="true"]`).waitFor();
  assert.equal(await title(alice), `Engagement ${one} · Parley`);
  assert.equal(await icon(alice), 'favicon.svg');

  const bob = token({ sub: 'u-bob', name: 'Bob Lindqvist', role: 'expert', eng: [two] });
  assert.equal((await apiPost(suite.server, bob, `eng:${two}`, 'message', { text: 'The draft is ready.' })).status, 201);
  await until(async () => (await title(alice)) === `(1) Engagement ${one} · Parley`, { message: 'the count in the title' });
  await until(async () => (await icon(alice)).startsWith('data:image/png;base64,'), { message: 'the favicon with a badge' });
  assert.equal(await alice.getByTestId(`unread-eng:${two}`).textContent(), '1');

  assert.equal((await apiPost(suite.server, bob, `eng:${two}`, 'message', { text: 'And the appendix.' })).status, 201);
  await until(async () => (await title(alice)) === `(2) Engagement ${one} · Parley`, { message: 'two unread' });
  await shot(alice, 'notify-unread-title-1280');

  // Reading the other engagement clears both.
  await alice.getByTestId(`channel-link-eng:${two}`).click();
  await alice.locator('[data-testid="message-text"]', { hasText: 'And the appendix.' }).waitFor();
  await until(async () => (await title(alice)) === `Engagement ${two} · Parley`, { message: 'the count cleared' });
  await until(async () => (await icon(alice)) === 'favicon.svg', { message: 'the plain favicon back' });
  assert.deepEqual(alice.problems, []);
  await alice.context().close();
});

test('after a reload, what others posted past the stored read marker counts as unread', { skip }, async () => {
  const one = uniqueEng('reload-a');
  const two = uniqueEng('reload-b');
  const aliceToken = token({ sub: 'u-alice', name: 'Alice Moreau', role: 'client', eng: [one, two] });
  const bob = token({ sub: 'u-bob', name: 'Bob Lindqvist', role: 'expert', eng: [two] });
  assert.equal((await apiPost(suite.server, bob, `eng:${two}`, 'message', { text: 'First draft attached.' })).status, 201);
  // Alice reads the second engagement: her marker is stored.
  const first = await openClient(suite.browser, suite.server, aliceToken, { hash: `&eng=${two}` });
  await waitOnline(first);
  await first.locator('[data-testid="message-text"]', { hasText: 'First draft attached.' }).waitFor();
  const bobPage = await openClient(suite.browser, suite.server, bob, { hash: `&eng=${two}` });
  await bobPage.locator('[data-testid="read-receipt"]', { hasText: 'Seen by Alice Moreau' }).waitFor();
  await first.context().close();
  await bobPage.context().close();

  // Two messages while she is away; she comes back to the other engagement.
  assert.equal((await apiPost(suite.server, bob, `eng:${two}`, 'message', { text: 'Second draft.' })).status, 201);
  assert.equal((await apiPost(suite.server, bob, `eng:${two}`, 'message', { text: 'Any comments?' })).status, 201);
  const alice = await openClient(suite.browser, suite.server, aliceToken, { hash: `&eng=${one}` });
  await alice.locator(`[data-testid="channel"][data-ch="eng:${one}"]`).waitFor();
  await alice.locator(`[data-testid="unread-eng:${two}"]:not([hidden])`, { hasText: '2' }).waitFor();
  await until(async () => (await title(alice)) === `(2) Engagement ${one} · Parley`, { message: 'the count in the title' });
  await alice.getByTestId(`channel-link-eng:${two}`).click();
  await alice.locator(`[data-testid="unread-eng:${two}"][hidden]`).waitFor({ state: 'attached' });
  assert.deepEqual(alice.problems, []);
  await alice.context().close();
});

test('a message while the tab is hidden counts in the title until the tab is shown', { skip }, async () => {
  const eng = uniqueEng('unread-hidden');
  const alice = await openClient(suite.browser, suite.server, token({ sub: 'u-alice', name: 'Alice Moreau', role: 'client', eng: [eng] }), { setup: emulateVisibility });
  await waitOnline(alice);
  await alice.locator(`[data-testid="channel"][data-ch="eng:${eng}"]`).waitFor();
  const bob = token({ sub: 'u-bob', name: 'Bob Lindqvist', role: 'expert', eng: [eng] });

  // Visible and open: no count.
  assert.equal((await apiPost(suite.server, bob, `eng:${eng}`, 'message', { text: 'Morning!' })).status, 201);
  await alice.locator('[data-testid="message-text"]', { hasText: 'Morning!' }).waitFor();
  assert.equal(await title(alice), `Engagement ${eng} · Parley`);

  await alice.evaluate(() => window.parleyTestSetHidden(true));
  assert.equal((await apiPost(suite.server, bob, `eng:${eng}`, 'message', { text: 'Are you there?' })).status, 201);
  await alice.locator('[data-testid="message-text"]', { hasText: 'Are you there?' }).waitFor();
  await until(async () => (await title(alice)) === `(1) Engagement ${eng} · Parley`, { message: 'the count while hidden' });
  // The badge is drawn once the base icon has loaded, after the title.
  await until(async () => (await icon(alice)).startsWith('data:image/png;base64,'), { message: 'the favicon with a badge while hidden' });

  await alice.evaluate(() => window.parleyTestSetHidden(false));
  await until(async () => (await title(alice)) === `Engagement ${eng} · Parley`, { message: 'the count cleared when shown' });
  await until(async () => (await icon(alice)) === 'favicon.svg', { message: 'the plain favicon when shown' });
  assert.deepEqual(alice.problems, []);
  await alice.context().close();
});
