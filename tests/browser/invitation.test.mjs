// An engagement created by the platform opens with its invitation (protocol
// §9.1): the expert accepts or declines it from the card, the client waits
// for the answer, a declined engagement is read-only, and a party token that
// is not the named user may read but not post.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  serverAndBrowser, openClient, waitOnline, token, uniqueEng, apiPost, until, send, messageTexts,
  axeViolations, shot, createEngagement, openEngagement as openEngagementPage,
} from './harness.mjs';

const suite = serverAndBrowser();
const { skip } = suite;
const PHONE = { width: 390, height: 844 };

function invitation() {
  return {
    title: 'Market entry DACH',
    details: 'Assess the German, Austrian and Swiss markets.\nBrief: https://example.com/brief\nTwo interviews a week.',
    client: { id: 'inv-alice', name: 'Alice Client' },
    expert: { id: 'inv-bob', name: 'Bob Expert' },
    terms: { scope: 'Market sizing and three interviews' },
    requirements: [{ key: 'nda', title: 'Mutual NDA', by: ['client', 'expert'] }],
  };
}

const tokens = (eng) => ({
  client: token({ sub: 'inv-alice', name: 'Alice Client', role: 'client', eng: [eng] }),
  expert: token({ sub: 'inv-bob', name: 'Bob Expert', role: 'expert', eng: [eng] }),
  support: token({ sub: 'inv-sam', name: 'Sam Support', role: 'support', eng: ['*'] }),
  outsider: token({ sub: 'inv-mallory', name: 'Mallory', role: 'expert', eng: [eng] }),
});

async function openEngagement(eng, tok, options = {}) {
  const page = await openEngagementPage(suite.browser, suite.server, tok, eng, options);
  await page.locator('[data-testid="timeline"] .card.invitation').waitFor();
  return page;
}

const card = (page) => page.locator('[data-testid="timeline"] .card.invitation');

test('the expert accepts the invitation: the card becomes an accepted entry, the engagement is in discovery and messages go through', { skip }, async () => {
  const eng = uniqueEng('inv-yes');
  await createEngagement(suite.server, eng, invitation());
  const t = tokens(eng);
  const client = await openEngagement(eng, t.client);
  const expert = await openEngagement(eng, t.expert);

  // The expert reads the whole invitation and may answer it.
  const c = card(expert);
  assert.equal(await c.getByTestId('invitation-title').textContent(), 'Market entry DACH');
  const details = c.getByTestId('invitation-details');
  assert.match(await details.textContent(), /German, Austrian and Swiss markets\.\nBrief: https:\/\/example\.com\/brief\nTwo interviews a week\./);
  assert.equal(await details.locator('a').getAttribute('href'), 'https://example.com/brief');
  assert.match(await c.getByTestId('terms').textContent(), /Market sizing and three interviews/);
  assert.match(await c.getByTestId('invitation-requirements').textContent(), /Mutual NDA — to be acknowledged by Alice Client and Bob Expert/);
  assert.match(await c.getByTestId('invitation-parties').textContent(), /Client: Alice Client · Expert: Bob Expert/);
  await c.getByTestId('invitation-accept').waitFor();
  assert.equal(await c.getByTestId('invitation-waiting').count(), 0);
  await expert.locator('[data-testid="phase-track"][data-phase="invited"]').waitFor();
  assert.equal(await expert.locator('.side-eng', { hasText: eng }).getByTestId('phase-chip').textContent(), 'Invitation');
  assert.deepEqual(await axeViolations(expert), []);
  await shot(expert, 'invitation-expert-desktop');

  // The client waits for the expert, and is told since when.
  const waiting = card(client).getByTestId('invitation-waiting');
  assert.match(await waiting.textContent(), /^Waiting for Bob Expert to answer the invitation · sent /);
  assert.equal(await card(client).getByTestId('invitation-accept').count(), 0);
  assert.deepEqual(await axeViolations(client), []);
  await shot(client, 'invitation-client-waiting');

  await c.getByTestId('invitation-accept').click();
  for (const page of [expert, client]) {
    await page.locator('[data-testid="phase-track"][data-phase="discovery"]').waitFor();
    await until(async () => (await card(page).getByTestId('invitation-outcome').textContent().catch(() => '')) === 'Invitation accepted', { message: 'accepted entry' });
    assert.match(await card(page).getByTestId('invitation-answer').textContent(), /^Bob Expert accepted the invitation “Market entry DACH”/);
    assert.match(await card(page).getByTestId('decision-record').textContent(), /^Log record #1$/);
    // The decision log names the acceptance in words.
    await until(async () => (await page.getByTestId('log-sentence').allTextContents()).includes('Bob Expert accepted the invitation “Market entry DACH”'), { message: 'log sentence' });
  }
  assert.equal(await expert.locator('.side-eng', { hasText: eng }).getByTestId('phase-chip').textContent(), 'Discovery');
  await shot(expert, 'invitation-accepted');

  await send(expert, 'Happy to start. When can we talk?');
  await until(async () => (await messageTexts(client)).includes('Happy to start. When can we talk?'), { message: 'the expert\'s message at the client' });
  assert.deepEqual(expert.problems, []);
  assert.deepEqual(client.problems, []);
  await client.context().close();
  await expert.context().close();
});

test('the expert declines with a reason: both see the read-only banner and no composer', { skip }, async () => {
  const eng = uniqueEng('inv-no');
  await createEngagement(suite.server, eng, invitation());
  const t = tokens(eng);
  const client = await openEngagement(eng, t.client);
  const expert = await openEngagement(eng, t.expert);
  await client.getByTestId('composer-input').waitFor();

  await card(expert).getByTestId('invitation-decline').click();
  const dlg = expert.getByTestId('decline-dialog');
  await dlg.waitFor();
  assert.match(await dlg.textContent(), /Decline this invitation\?/);
  await dlg.getByTestId('decline-reason-input').fill('Fully booked until March.');
  assert.deepEqual(await axeViolations(expert, { include: '[data-testid="decline-dialog"]' }), []);
  await shot(expert, 'invitation-decline-dialog');
  await dlg.getByTestId('dialog-submit').click();
  await dlg.waitFor({ state: 'detached' });

  for (const page of [expert, client]) {
    const banner = page.getByTestId('declined-banner');
    await banner.waitFor();
    assert.match(await banner.textContent(), /^Bob Expert declined this invitation\./);
    await until(async () => (await page.getByTestId('composer-input').count()) === 0, { message: 'no composer once declined' });
    await until(async () => (await card(page).getByTestId('invitation-outcome').textContent().catch(() => '')) === 'Invitation declined', { message: 'declined entry' });
    assert.match(await card(page).getByTestId('decision-reason').textContent(), /Fully booked until March\./);
    await page.locator('[data-testid="phase-track"][data-phase="declined"]').waitFor();
    assert.equal(await page.locator('.side-eng', { hasText: eng }).getByTestId('phase-chip').textContent(), 'Declined');
  }
  assert.deepEqual(await axeViolations(client), []);
  await shot(client, 'invitation-declined');
  // The server agrees: nothing may be posted any more.
  const r = await apiPost(suite.server, t.client, `eng:${eng}`, 'message', { text: 'Still there?' });
  assert.equal(r.status, 409);
  assert.deepEqual(expert.problems, []);
  assert.deepEqual(client.problems, []);
  await client.context().close();
  await expert.context().close();
});

test('support waits for the expert too; a token of another expert may read but not post, and the page says so', { skip }, async () => {
  const eng = uniqueEng('inv-other');
  await createEngagement(suite.server, eng, invitation());
  const t = tokens(eng);
  const support = await openEngagement(eng, t.support);
  assert.match(await card(support).getByTestId('invitation-waiting').textContent(), /^Waiting for Bob Expert to answer the invitation/);

  const outsider = await openEngagement(eng, t.outsider);
  const banner = outsider.getByTestId('outsider-banner');
  await banner.waitFor();
  assert.match(await banner.textContent(), /You can read this engagement but not take part in it\. Only Alice Client \(client\) and Bob Expert \(expert\) post here\./);
  assert.equal(await outsider.getByTestId('composer-input').count(), 0);
  assert.equal(await card(outsider).getByTestId('invitation-accept').count(), 0);
  assert.match(await card(outsider).getByTestId('invitation-waiting').textContent(), /^Waiting for Bob Expert/);
  const r = await apiPost(suite.server, t.outsider, `eng:${eng}`, 'message', { text: 'Let me in' });
  assert.equal(r.status, 403);
  assert.equal(r.json.error.code, 'forbidden');
  assert.deepEqual(await axeViolations(outsider), []);
  await shot(outsider, 'invitation-outsider');
  assert.deepEqual(outsider.problems, []);
  assert.deepEqual(support.problems, []);
  await outsider.context().close();
  await support.context().close();
});

test('on a phone the expert reads the invitation and accepts it', { skip }, async () => {
  const eng = uniqueEng('inv-phone');
  await createEngagement(suite.server, eng, invitation());
  const t = tokens(eng);
  const expert = await openEngagement(eng, t.expert, { viewport: PHONE });
  const accept = card(expert).getByTestId('invitation-accept');
  await accept.scrollIntoViewIfNeeded();
  const box = await accept.boundingBox();
  assert.ok(box && box.height >= 44 && box.x >= 0 && box.x + box.width <= PHONE.width, `Accept fits the screen: ${JSON.stringify(box)}`);
  assert.deepEqual(await axeViolations(expert), []);
  await shot(expert, 'invitation-expert-phone');
  await accept.click();
  await expert.locator('[data-testid="phase-track"][data-phase="discovery"]').waitFor();
  await until(async () => (await card(expert).getByTestId('invitation-outcome').textContent().catch(() => '')) === 'Invitation accepted', { message: 'accepted entry' });
  await expert.getByTestId('composer-input').waitFor();
  await shot(expert, 'invitation-accepted-phone');
  assert.deepEqual(expert.problems, []);
  await expert.context().close();
});

test('the home list shows each engagement\'s title with an Invitation or Declined badge', { skip }, async () => {
  const open = uniqueEng('inv-home-a');
  const declined = uniqueEng('inv-home-b');
  await createEngagement(suite.server, open, invitation());
  const created = await createEngagement(suite.server, declined, { ...invitation(), title: 'Pricing review' });
  const expertTok = token({ sub: 'inv-bob', name: 'Bob Expert', role: 'expert', eng: [open, declined] });
  const d = await apiPost(suite.server, expertTok, `eng:${declined}`, 'decision', { proposal: created.open_proposals[0].seq, verdict: 'rejected' });
  assert.equal(d.status, 201, JSON.stringify(d.json));
  const client = await openClient(suite.browser, suite.server, token({ sub: 'inv-alice', name: 'Alice Client', role: 'client', eng: [open, declined] }), { hash: '' });
  await waitOnline(client);
  const row = (id) => client.getByTestId(`engagement-link-${id}`);
  await until(async () => (await row(open).getByTestId('phase-chip').textContent().catch(() => '')) === 'Invitation', { message: 'Invitation badge' });
  await until(async () => (await row(declined).getByTestId('phase-chip').textContent().catch(() => '')) === 'Declined', { message: 'Declined badge' });
  assert.match(await row(open).textContent(), /^Market entry DACH · inv-home-a/);
  assert.match(await row(declined).textContent(), /^Pricing review · inv-home-b/);
  assert.deepEqual(await axeViolations(client), []);
  await shot(client, 'invitation-home');
  assert.deepEqual(client.problems, []);
  await client.context().close();
});
