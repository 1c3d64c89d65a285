// A dispute flag: support sees the notice, joins the mediation room and
// proposes a resolution, which both parties accept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  serverAndBrowser, openClient, token, uniqueEng, waitOnline, shot,
} from './harness.mjs';

const suite = serverAndBrowser();
const { skip } = suite;

test('support mediates a dispute to a resolution both parties accept', { skip }, async () => {
  const eng = uniqueEng('dispute');
  const client = await openClient(suite.browser, suite.server, token({ sub: 'u-cl', name: 'Grace Okafor', role: 'client', eng: [eng] }));
  const expert = await openClient(suite.browser, suite.server, token({ sub: 'u-ex', name: 'Henrik Berg', role: 'expert', eng: [eng] }));
  const support = await openClient(suite.browser, suite.server, token({ sub: 'u-sup', name: 'Sam (Support)', role: 'support', eng: ['*'] }));
  await Promise.all([waitOnline(client), waitOnline(expert), waitOnline(support)]);
  await support.locator('[data-testid="channel"][data-ch="support"]').waitFor();

  // The client raises a dispute flag.
  await client.getByTestId('action-flag').click();
  const dlg = client.getByTestId('flag-dialog');
  await dlg.getByTestId('flag-type-select').selectOption('dispute');
  await dlg.getByTestId('flag-text-input').fill('The delivered report covers only two of the five markets agreed.');
  await dlg.getByTestId('dialog-submit').click();
  const flagCard = expert.locator('[data-testid="event-flag"]', { hasText: 'only two of the five' });
  await flagCard.waitFor();
  assert.equal(await flagCard.getByTestId('flag-type').textContent(), 'Dispute flag');
  assert.equal(await flagCard.getByTestId('flag-state').textContent(), 'Open');
  await expert.locator('[data-testid="event-mediation"]').waitFor();

  // Support sees the notice and opens the mediation room from it.
  const notice = support.locator('[data-testid="event-notice"]', { hasText: eng });
  await notice.waitFor();
  assert.equal(await notice.getByTestId('notice-type').textContent(), 'Dispute raised');
  await shot(support, 'dispute-support-inbox-1280');
  await notice.getByTestId('notice-open-mediation').click();
  await support.locator(`[data-testid="channel"][data-ch="eng:${eng}:mediation"]`).waitFor();
  await waitOnline(support);

  // Both parties go to the room from the sidebar.
  for (const page of [client, expert]) {
    await page.getByTestId(`channel-link-eng:${eng}:mediation`).click();
    await page.locator(`[data-testid="channel"][data-ch="eng:${eng}:mediation"]`).waitFor();
  }
  await support.locator('[data-testid="presence-user"][data-user-id="u-cl"]').waitFor();

  const input = support.getByTestId('composer-input');
  await input.fill('Hello both, I am here to help you settle this.');
  await input.press('Enter');
  await client.locator('[data-testid="message-text"]', { hasText: 'here to help' }).waitFor();

  // Support proposes a resolution.
  await support.getByTestId('action-resolution').click();
  const rd = support.getByTestId('resolution-dialog');
  await rd.waitFor();
  await rd.getByTestId('resolution-text-input').fill('The expert delivers the three missing markets within 5 days; 20% refund if late.');
  await rd.getByTestId('term-value').first().fill('20%');
  await rd.getByTestId('dialog-submit').click();

  const cardIn = (page) => page.locator('[data-testid="timeline"] [data-testid="event-proposal"]', { hasText: 'Dispute resolution' });
  await cardIn(client).waitFor();
  assert.equal(await cardIn(support).getByTestId('proposal-accept').count(), 0, 'support does not decide');
  await cardIn(client).getByTestId('proposal-accept').click();
  await cardIn(expert).locator('[data-testid="proposal-status"][data-status="partial"]').waitFor();
  await shot(expert, 'dispute-mediation-expert-1280');
  await cardIn(expert).getByTestId('proposal-accept').click();

  for (const page of [client, expert, support]) {
    await cardIn(page).locator('[data-testid="proposal-status"][data-status="accepted"]').waitFor();
  }
  await client.locator('[data-testid="chain-status"][data-state="verified"]', { hasText: '1 record' }).waitFor();
  const rec = client.locator('[data-testid="decision-log-record"][data-n="1"]');
  assert.match(await rec.textContent(), /Dispute resolution/);

  // Back in the main channel, the dispute flag reads resolved.
  await client.getByTestId('tab-main').click();
  await client.locator('[data-testid="event-flag"] [data-testid="flag-state"]', { hasText: 'Resolved' }).waitFor();

  await shot(support, 'dispute-resolved-support-1280');
  await shot(client, 'dispute-resolved-client-1280');
  for (const p of [client, expert, support]) assert.deepEqual(p.problems, []);
  await client.context().close();
  await expert.context().close();
  await support.context().close();
});
