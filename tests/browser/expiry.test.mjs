// Proposals expire (protocol §9.4), in the browser: against a server with a
// short proposal TTL, an undecided proposal's card (a phase change and a
// call alike) turns "Expired" and offers no action any more, and it leaves
// the details panel's open proposals; an accepted due date shows in the
// details panel. Desktop 1280×800 and phone 390×844, axe-core clean.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  serverAndBrowser, openClient, token, uniqueEng, waitOnline, shot, axeViolations, postOk, until,
} from './harness.mjs';

// Long enough for a page to open and show the proposals still open, short
// enough to watch them lapse.
const TTL_S = 10;

const suite = serverAndBrowser({ args: ['--proposal-ttl', `${TTL_S}s`] });
const { skip } = suite;

const VIEWPORTS = [['desktop', { width: 1280, height: 800 }], ['phone', { width: 390, height: 844 }]];

function people(eng) {
  return {
    client: token({ sub: 'u-nia', name: 'Nia Clarke', role: 'client', eng: [eng] }),
    expert: token({ sub: 'u-omar', name: 'Omar Haddad', role: 'expert', eng: [eng] }),
  };
}

async function check(page, name) {
  const found = await axeViolations(page);
  await shot(page, name);
  assert.deepEqual(found, [], `${name}: serious or critical accessibility violations`);
}

async function stateOf(eng, tok) {
  const res = await fetch(`${suite.server.url}/api/v1/engagements/${eng}`, { headers: { Authorization: `Bearer ${tok}` } });
  const body = await res.json();
  return body.state && body.state.phase ? body.state : body;
}

for (const [label, viewport] of VIEWPORTS) {
  const phone = label === 'phone';

  test(`an undecided proposal shows as expired with no buttons (${label})`, { skip }, async () => {
    const eng = uniqueEng(`expire-${label}`);
    const tok = people(eng);
    const expert = await openClient(suite.browser, suite.server, tok.expert, { viewport });
    await waitOnline(expert);
    const ch = `eng:${eng}`;
    const phaseSeq = await postOk(suite.server, tok.client, ch, 'proposal', { topic: 'phase', text: 'Let us agree the terms.', terms: { to: 'agreement' } });
    const callSeq = await postOk(suite.server, tok.client, ch, 'proposal', { topic: 'call', text: 'Introductory call', terms: { slots: [{ start: Date.now() + 2 * 86400000, minutes: 30 }] } });

    // Open at first: Accept and Reject offered (unless a slow machine took
    // longer than the TTL to get here).
    const phaseCard = expert.locator(`[data-testid="timeline"] [data-testid="event-proposal"][data-seq="${phaseSeq}"]`);
    await phaseCard.getByTestId('proposal-accept').or(phaseCard.locator('[data-status="expired"]')).waitFor();

    // Then expired: the pill says so and no action is left.
    const cards = [phaseSeq, callSeq].map((seq) => expert.locator(`[data-testid="timeline"] [data-testid="event-proposal"][data-seq="${seq}"]`));
    for (const card of cards) {
      await card.locator('[data-testid="proposal-status"][data-status="expired"]').waitFor({ timeout: (TTL_S + 15) * 1000 });
      assert.equal(await card.getByTestId('proposal-status').textContent(), 'Expired');
      assert.match(await card.getByTestId('proposal-expired').textContent(), /^◷ Expired without a decision · /);
      assert.equal(await card.locator('button').count(), 0, 'no buttons on an expired proposal');
      assert.equal(await card.locator('input').count(), 0, 'no slot to pick on an expired call');
    }
    // The expiry event is folded into the card, and the state no longer lists the proposals.
    assert.equal(await expert.locator('[data-testid="timeline"] > li[data-kind="proposal_expired"]:not([hidden])').count(), 0);
    assert.deepEqual((await stateOf(eng, tok.expert)).open_proposals, []);
    // (The sliding panel scrolls the page while it moves in: let it settle.)
    const settled = () => until(() => expert.evaluate(() => document.querySelector('.shell').scrollLeft === 0), { message: 'the page is not shifted sideways' });
    if (phone) {
      await expert.getByTestId('details-toggle').click();
      await expert.locator('body.show-details').waitFor();
      await settled();
    }
    await expert.getByTestId('open-proposals').getByText('Nothing awaits a decision.').waitFor();
    if (phone) {
      await expert.keyboard.press('Escape');
      await expert.locator('body:not(.show-details)').waitFor();
    }
    await settled();
    await check(expert, `calls-expired-${label}`);
    assert.deepEqual(expert.problems, []);
    await expert.context().close();
  });
}

test('an accepted due date shows in the details panel', { skip }, async () => {
  const eng = uniqueEng('due');
  const tok = people(eng);
  const client = await openClient(suite.browser, suite.server, tok.client);
  await waitOnline(client);
  const ch = `eng:${eng}`;
  const due = Date.UTC(2027, 0, 15, 23, 59, 59, 999);
  const seq = await postOk(suite.server, tok.client, ch, 'proposal', { topic: 'timeline', text: 'Deliver by 15 January.', terms: { timeline: { end: '2027-01-15' }, due } });
  await postOk(suite.server, tok.expert, ch, 'decision', { proposal: seq, verdict: 'accepted' });
  assert.equal((await stateOf(eng, tok.client)).due, due);
  const line = client.getByTestId('agreed-due');
  await line.waitFor();
  assert.match(await line.textContent(), /^Agreed due date: \w{3} \d{1,2} Jan 2027, \d\d:\d\d$/);
  await check(client, 'calls-due-desktop');
  assert.deepEqual(client.problems, []);
  await client.context().close();
});
