// One card per decision: a proposal's card shows who decided it and why, the
// decision-log record and the phase it moved to; the decision and phase
// change are folded into it (details on demand) and stay addressable by seq.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  serverAndBrowser, openClient, token, uniqueEng, waitOnline, shot, apiPost, postOk, axeViolations,
} from './harness.mjs';

const suite = serverAndBrowser();
const { skip } = suite;
const post = (tok, ch, kind, body) => postOk(suite.server, tok, ch, kind, body);

const shownKinds = (page) => page.locator('[data-testid="timeline"] > li[data-seq]:not([hidden])')
  .evaluateAll((els) => els.map((e) => `${e.dataset.kind}#${e.dataset.seq}`));

for (const [size, viewport] of [['1280', { width: 1280, height: 800 }], ['phone-390', { width: 390, height: 844 }]]) {
  test(`a proposal, its decision and the phase change show as one card (${size})`, { skip }, async () => {
    const eng = uniqueEng(`cards-${size}`);
    const ch = `eng:${eng}`;
    const alice = token({ sub: 'u-alice', name: 'Alice Moreau', role: 'client', eng: [eng] });
    const bob = token({ sub: 'u-bob', name: 'Bob Lindqvist', role: 'expert', eng: [eng] });
    const page = await openClient(suite.browser, suite.server, alice, { viewport });
    await waitOnline(page);

    // accepted: a phase proposal, decided with a reason
    const phaseProposal = await post(bob, ch, 'proposal', { topic: 'phase', text: 'Discovery is done.', terms: { to: 'agreement' } });
    await post(bob, ch, 'message', { text: 'Please have a look.' });
    const accept = await post(alice, ch, 'decision', { proposal: phaseProposal, verdict: 'accepted', text: 'The interviews cover it' });
    // rejected: an agreement, with a reason
    const agreement = await post(bob, ch, 'proposal', { topic: 'agreement', text: 'Three weeks.', terms: { timeline: '3 weeks' } });
    const reject = await post(alice, ch, 'decision', { proposal: agreement, verdict: 'rejected', text: 'Two weeks at most' });
    const after = await post(bob, ch, 'message', { text: 'Understood, revising.' });
    await page.locator(`[data-testid="timeline"] > li[data-seq="${after}"]`).waitFor();

    const card = page.locator(`[data-testid="event-proposal"][data-seq="${phaseProposal}"]`);
    const outcome = card.getByTestId('proposal-outcome');
    await outcome.locator('[data-testid="decision-record"]', { hasText: 'Log record #1' }).waitFor();
    assert.match(await outcome.textContent(), /Accepted by Alice Moreau: “The interviews cover it”/);
    assert.match(await outcome.textContent(), /Phase: Discovery → Agreement/);
    const rejected = page.locator(`[data-testid="event-proposal"][data-seq="${agreement}"]`);
    assert.match(await rejected.getByTestId('proposal-outcome').textContent(), /Rejected by Alice Moreau: “Two weeks at most”/);
    assert.equal(await rejected.getByTestId('proposal-status').getAttribute('data-status'), 'rejected');

    // the decisions and the phase change are not separate entries in the list
    const kinds = await shownKinds(page);
    assert.deepEqual(kinds.filter((k) => !k.startsWith('phase#') || k === 'phase#1'), kinds, `no phase change entry: ${kinds}`);
    assert.deepEqual(kinds.filter((k) => k.startsWith('decision#')), [], `no decision entry: ${kinds}`);
    assert.deepEqual(kinds.filter((k) => k.startsWith('proposal#')), [`proposal#${phaseProposal}`, `proposal#${agreement}`]);
    assert.equal(await page.locator('[data-testid="timeline"] > li[data-testid="event-decision"], [data-testid="timeline"] > li[data-testid="event-phase"]:not([data-seq="1"])').count(), 0);

    // the details, on demand
    const details = card.getByTestId('proposal-details');
    assert.equal(await details.getByTestId('event-decision').isVisible(), false);
    await details.locator('summary').click();
    assert.equal(await details.getByTestId('event-decision').getAttribute('data-seq'), String(accept));
    assert.match(await details.getByTestId('event-decision').textContent(), /Alice Moreau \(Client\) accepted/);
    assert.match(await details.getByTestId('event-phase').textContent(), /Phase changed from Discovery to Agreement/);
    await details.locator('summary').click();

    // a reply quoting the decision's seq jumps to the card, details open
    await post(bob, ch, 'message', { text: 'About that rejection', reply_to: reject });
    const quote = page.locator('[data-testid="event-message"]', { hasText: 'About that rejection' }).getByTestId('reply-quote');
    await quote.click();
    await page.locator(`[data-testid="event-proposal"][data-seq="${agreement}"] details[open]`).waitFor();
    assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.dataset.seq), String(agreement));

    await shot(page, `timeline-cards-${size}`);
    assert.deepEqual(await axeViolations(page), [], 'no serious or critical accessibility violation');
    assert.deepEqual(page.problems, []);
    await page.context().close();
  });
}

test('a decision whose proposal is loaded later folds into its card', { skip }, async () => {
  const eng = uniqueEng('cards-late');
  const ch = `eng:${eng}`;
  const alice = token({ sub: 'u-alice', name: 'Alice Moreau', role: 'client', eng: [eng] });
  const bob = token({ sub: 'u-bob', name: 'Bob Lindqvist', role: 'expert', eng: [eng] });
  const proposal = await post(bob, ch, 'proposal', { topic: 'phase', text: 'On to agreement.', terms: { to: 'agreement' } });
  for (let i = 0; i < 220; i++) {
    const r = await apiPost(suite.server, bob, ch, 'message', { text: `filler ${i}` });
    if (r.status === 429) { i -= 1; await new Promise((res) => setTimeout(res, 200)); continue; }
    assert.equal(r.status, 201);
  }
  const decision = await post(alice, ch, 'decision', { proposal, verdict: 'accepted', text: 'Agreed' });
  const page = await openClient(suite.browser, suite.server, alice);
  await waitOnline(page);
  // the join window holds the decision but not its proposal: drawn on its own
  await page.locator(`[data-testid="timeline"] > li[data-testid="event-decision"][data-seq="${decision}"]`).waitFor();
  // scrolling to the top loads the earlier events
  await page.getByTestId('timeline-scroll').evaluate((el) => { el.scrollTop = 0; });
  await page.locator(`[data-testid="event-proposal"][data-seq="${proposal}"] [data-testid="proposal-outcome"]`, { hasText: 'Accepted by Alice Moreau' }).waitFor();
  await page.locator(`[data-testid="timeline"] > li[data-seq="${decision}"][hidden]`).waitFor({ state: 'attached' });
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
