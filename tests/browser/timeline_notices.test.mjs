// The support inbox: a notice names its flag and engagement in words, links
// to the engagement at that flag, and shows the flag's state now (a resolved
// dispute says so).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  serverAndBrowser, openClient, token, uniqueEng, waitOnline, shot, postOk, axeViolations,
} from './harness.mjs';

const suite = serverAndBrowser();
const { skip } = suite;
const post = (tok, ch, kind, body) => postOk(suite.server, tok, ch, kind, body);

test('a notice shows its dispute as resolved once it is, and links to the flag', { skip }, async () => {
  const eng = uniqueEng('inbox');
  const ch = `eng:${eng}`;
  const client = token({ sub: 'u-cl', name: 'Grace Okafor', role: 'client', eng: [eng] });
  const expert = token({ sub: 'u-ex', name: 'Henrik Berg', role: 'expert', eng: [eng] });
  const supportTok = token({ sub: 'u-sup', name: 'Sam (Support)', role: 'support', eng: ['*'] });
  for (let i = 1; i <= 3; i++) await post(expert, ch, 'message', { text: `Progress note ${i}` });
  const flag = await post(client, ch, 'flag', { type: 'dispute', text: 'Only two of five markets delivered.' });
  const scope = await post(expert, ch, 'flag', { type: 'scope_change', text: 'A sixth market was asked for.' });

  let support = await openClient(suite.browser, suite.server, supportTok);
  await waitOnline(support);
  const notice = (page, seq) => page.locator('[data-testid="event-notice"]', { has: page.locator(`[data-testid="notice-flag-link"]:text-is("flag #${seq} in Engagement ${eng}")`) });
  await notice(support, flag).waitFor();
  await notice(support, flag).locator('[data-testid="notice-state"]', { hasText: 'Open' }).waitFor();
  assert.equal(await notice(support, flag).getByTestId('notice-type').textContent(), 'Dispute raised');
  assert.equal(await notice(support, scope).getByTestId('notice-type').textContent(), 'Scope change flagged');
  await notice(support, flag).getByTestId('notice-open-mediation').waitFor();
  await support.context().close();

  // support proposes a resolution in the mediation room; both parties accept
  const mediation = `${ch}:mediation`;
  const resolution = await post(supportTok, mediation, 'proposal', { topic: 'resolution', text: 'Deliver the rest in 5 days.', terms: { flag } });
  await post(client, mediation, 'decision', { proposal: resolution, verdict: 'accepted' });
  await post(expert, mediation, 'decision', { proposal: resolution, verdict: 'accepted' });
  await post(expert, ch, 'flag_update', { flag: scope, state: 'acknowledged', text: 'Looking at it' });

  support = await openClient(suite.browser, suite.server, supportTok);
  await waitOnline(support);
  await notice(support, flag).locator('[data-testid="notice-type"]', { hasText: 'Dispute resolved' }).waitFor();
  assert.equal(await notice(support, flag).getByTestId('notice-state').textContent(), 'Resolved');
  assert.equal(await notice(support, flag).getByTestId('notice-open-mediation').count(), 0, 'no mediation offered for a resolved dispute');
  await notice(support, scope).locator('[data-testid="notice-state"]', { hasText: 'Acknowledged' }).waitFor();
  assert.equal(await notice(support, scope).getByTestId('notice-type').textContent(), 'Scope change acknowledged');
  await shot(support, 'timeline-support-inbox-1280');
  assert.deepEqual(await axeViolations(support), [], 'no serious or critical accessibility violation');

  // the link opens the engagement at the flag
  await notice(support, flag).getByTestId('notice-flag-link').click();
  await support.locator(`[data-testid="channel"][data-ch="${ch}"]`).waitFor();
  const card = support.locator(`[data-testid="event-flag"][data-seq="${flag}"]`);
  await card.waitFor();
  await support.waitForFunction((seq) => document.activeElement && document.activeElement.dataset.seq === String(seq), flag);
  await support.waitForFunction((seq) => {
    const s = document.querySelector('[data-testid="timeline-scroll"]').getBoundingClientRect();
    const r = document.querySelector(`[data-testid="event-flag"][data-seq="${seq}"]`).getBoundingClientRect();
    return r.top >= s.top - 1 && r.bottom <= s.bottom + 1;
  }, flag);
  assert.deepEqual(support.problems, []);
  await support.context().close();
});
