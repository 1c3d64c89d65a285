// The structured agreement form: the terms it puts on the wire, the
// before/after of a proposal against the accepted agreement, the agreement's
// version history in the details panel, a rejection's reason on the card, and
// a counter-proposal prefilled from the proposal it answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  serverAndBrowser, openClient, uniqueEng, waitOnline, apiPost, until,
} from './harness.mjs';
import { screenshot, people, lastEvent } from './dialogs_helpers.mjs';

const suite = serverAndBrowser();
const { skip } = suite;

const cardOf = (page, seq) => page.locator(`[data-testid="timeline"] > li[data-seq="${seq}"]`);

test('the agreement form sends structured terms, shows what a proposal changes, and lists the versions', { skip }, async () => {
  const eng = uniqueEng('terms');
  const tok = people(eng);
  const client = await openClient(suite.browser, suite.server, tok.client);
  const expert = await openClient(suite.browser, suite.server, tok.expert);
  await Promise.all([waitOnline(client), waitOnline(expert)]);
  await client.locator('[data-testid="phase-track"][data-phase="discovery"]').waitFor();

  // The client fills every structured field, adds and removes deliverables and an other term.
  await client.getByTestId('action-propose').click();
  const dlg = client.getByTestId('proposal-dialog');
  await dlg.getByTestId('proposal-topic-select').selectOption('agreement');
  await dlg.getByTestId('proposal-text-input').fill('Market sizing for the Nordics.');
  await dlg.getByTestId('terms-scope').fill('Market sizing for Sweden, Norway and Denmark');
  await dlg.getByTestId('deliverable-input').nth(0).fill('Interview notes');
  await dlg.getByTestId('add-deliverable').click();
  await dlg.getByTestId('deliverable-input').nth(1).fill('Dropped');
  await dlg.getByTestId('add-deliverable').click();
  await dlg.getByTestId('deliverable-input').nth(2).fill('Final report (PDF)');
  await dlg.getByTestId('remove-deliverable').nth(1).click();
  await dlg.getByTestId('terms-start').fill('2026-12-01');
  await dlg.getByTestId('terms-end').fill('2026-12-21');
  await dlg.getByTestId('terms-amount').fill('4800.5');
  await dlg.getByTestId('terms-currency').selectOption('CHF');
  await dlg.getByTestId('add-term').click();
  await dlg.getByTestId('term-key').fill('nda');
  await dlg.getByTestId('term-value').fill('true');
  // Before sending, the dialog shows every term as new: there is no agreement yet.
  await until(async () => (await dlg.locator('[data-testid="dialog-changes"] [data-testid="term-change"][data-change="added"]').count()) === 6,
    { message: 'six new terms in the preview' });
  await screenshot(client, 'agreement-form-1280');
  await dlg.getByTestId('dialog-submit').click();
  await dlg.waitFor({ state: 'detached' });

  const proposal = await lastEvent(suite.server, tok.client, eng);
  assert.equal(proposal.kind, 'proposal');
  assert.deepEqual(proposal.body, {
    topic: 'agreement',
    text: 'Market sizing for the Nordics.',
    terms: {
      nda: true,
      scope: 'Market sizing for Sweden, Norway and Denmark',
      deliverables: ['Interview notes', 'Final report (PDF)'],
      timeline: { start: '2026-12-01', end: '2026-12-21' },
      due: Date.UTC(2026, 11, 21, 23, 59, 59, 999),
      compensation: { amount: 4800.5, currency: 'CHF' },
    },
  });

  // The expert sees it readable, and accepts: version 1.
  const first = cardOf(expert, proposal.seq);
  await first.waitFor();
  assert.match(await first.getByTestId('terms').textContent(), /Compensation\s*New\s*4,800\.5 CHF/);
  assert.match(await first.getByTestId('terms').textContent(), /Timeline\s*New\s*1 Dec 2026 → 21 Dec 2026/);
  await first.getByTestId('proposal-accept').click();
  await expert.locator('[data-testid="agreement-version"]', { hasText: 'Version 1' }).waitFor();

  // The expert proposes a new fee: the dialog and then the client's card show old → new.
  await expert.getByTestId('action-propose').click();
  const d2 = expert.getByTestId('proposal-dialog');
  await d2.getByTestId('proposal-topic-select').selectOption('compensation');
  await d2.getByTestId('terms-amount').fill('5200');
  const preview = d2.locator('[data-testid="dialog-changes"] [data-testid="term-change"][data-key="compensation"]');
  await until(async () => (await preview.getAttribute('data-change').catch(() => null)) === 'changed', { message: 'the fee shown as changed' });
  assert.equal(await preview.getByTestId('term-before').textContent(), '4,800.5 CHF');
  assert.equal(await preview.getByTestId('term-after').textContent(), '5,200 EUR');
  await screenshot(expert, 'before-after-dialog-1280');
  await d2.getByTestId('dialog-submit').click();
  await d2.waitFor({ state: 'detached' });
  const second = await lastEvent(suite.server, tok.expert, eng);
  assert.deepEqual(second.body.terms, { compensation: { amount: 5200, currency: 'EUR' } });

  const card = cardOf(client, second.seq);
  const change = card.locator('[data-testid="term-change"][data-key="compensation"]');
  await change.waitFor();
  assert.equal(await change.getAttribute('data-change'), 'changed');
  assert.equal(await change.getByTestId('term-before').textContent(), '4,800.5 CHF');
  assert.equal(await change.getByTestId('term-after').textContent(), '5,200 EUR');
  await card.scrollIntoViewIfNeeded();
  await screenshot(client, 'before-after-card-1280');
  await card.getByTestId('proposal-accept').click();

  // The history lists both versions, newest first, with what each changed.
  const history = client.getByTestId('agreement-history');
  await history.locator('[data-testid="agreement-history-version"][data-version="2"]').waitFor();
  assert.deepEqual(await history.getByTestId('agreement-history-version').evaluateAll((els) => els.map((e) => e.dataset.version)), ['2', '1']);
  const v2 = history.locator('[data-testid="agreement-history-version"][data-version="2"]');
  assert.match(await v2.textContent(), /Compensation/);
  assert.match(await v2.textContent(), /Proposed by Tomás Ruiz · accepted by Priya Nair/);
  assert.equal(await v2.locator('[data-testid="term-change"][data-key="compensation"] [data-testid="term-before"]').textContent(), '4,800.5 CHF');
  assert.equal(await v2.locator('[data-testid="term-change"][data-key="compensation"] [data-testid="term-after"]').textContent(), '5,200 EUR');
  const v1 = history.locator('[data-testid="agreement-history-version"][data-version="1"]');
  assert.equal(await v1.locator('[data-testid="term-change"][data-change="added"]').count(), 6);
  assert.match(await v1.textContent(), /Proposed by Priya Nair · accepted by Tomás Ruiz/);
  await client.locator('[data-testid="agreement-version"]', { hasText: 'Version 2' }).waitFor();
  await screenshot(client, 'history-1280');
  for (const p of [client, expert]) assert.deepEqual(p.problems, []);
  for (const p of [client, expert]) await p.context().close();
});

test('a rejection carries its reason, and a counter-proposal starts from the proposal it answers', { skip }, async () => {
  const eng = uniqueEng('counter');
  const tok = people(eng);
  const client = await openClient(suite.browser, suite.server, tok.client);
  const expert = await openClient(suite.browser, suite.server, tok.expert, { viewport: { width: 390, height: 844 } });
  await Promise.all([waitOnline(client), waitOnline(expert)]);

  const terms = { timeline: { start: '2026-12-01', end: '2026-12-10' }, due: Date.UTC(2026, 11, 10, 23, 59, 59, 999), weeks: 2 };
  const posted = await apiPost(suite.server, tok.expert, `eng:${eng}`, 'proposal', { topic: 'timeline', text: 'Ten days is enough.', terms });
  assert.equal(posted.status, 201);
  const seq = posted.json.seq;

  // Open and from the other side: the client may counter it; the expert, its author, may not.
  const card = cardOf(client, seq);
  await card.getByTestId('proposal-counter').waitFor();
  await cardOf(expert, seq).waitFor();
  assert.equal(await cardOf(expert, seq).getByTestId('proposal-counter').count(), 0);

  // Rejected with a reason: the decision carries it and both pages show it on the card.
  await card.getByTestId('proposal-reject').click();
  const reject = client.getByTestId('reject-dialog');
  await reject.getByTestId('reject-reason-input').fill('Ten days is too short for five interviews.');
  await reject.getByTestId('dialog-submit').click();
  await reject.waitFor({ state: 'detached' });
  const decision = await lastEvent(suite.server, tok.client, eng);
  assert.deepEqual(decision.body, { proposal: seq, verdict: 'rejected', text: 'Ten days is too short for five interviews.' });
  for (const page of [client, expert]) {
    const c = cardOf(page, seq);
    await c.locator('[data-testid="proposal-status"][data-status="rejected"]').waitFor();
    assert.match(await c.getByTestId('decision-reason').textContent(), /Ten days is too short for five interviews\./);
  }

  // The expert counters on the phone: the form holds the rejected proposal's terms.
  const expertCard = cardOf(expert, seq);
  await expertCard.getByTestId('proposal-counter').click();
  const dlg = expert.getByTestId('proposal-dialog');
  await dlg.waitFor();
  assert.match(await dlg.locator('h2').textContent(), new RegExp(`Counter-propose to #${seq}`));
  assert.equal(await dlg.getByTestId('proposal-topic-select').inputValue(), 'timeline');
  assert.equal(await dlg.getByTestId('proposal-text-input').inputValue(), 'Ten days is enough.');
  assert.equal(await dlg.getByTestId('terms-start').inputValue(), '2026-12-01');
  assert.equal(await dlg.getByTestId('terms-end').inputValue(), '2026-12-10');
  assert.deepEqual(await dlg.getByTestId('term-key').evaluateAll((els) => els.map((e) => e.value)), ['weeks'], 'the derived due date is not an extra term');
  assert.equal(await dlg.getByTestId('term-value').inputValue(), '2');
  await screenshot(expert, 'counter-390');
  await dlg.getByTestId('terms-end').fill('2026-12-18');
  await dlg.getByTestId('proposal-text-input').fill('Eighteen days, then.');
  await dlg.getByTestId('dialog-submit').click();
  await dlg.waitFor({ state: 'detached' });
  const counter = await lastEvent(suite.server, tok.expert, eng);
  assert.deepEqual(counter.body, {
    topic: 'timeline', text: 'Eighteen days, then.',
    terms: { weeks: 2, timeline: { start: '2026-12-01', end: '2026-12-18' }, due: Date.UTC(2026, 11, 18, 23, 59, 59, 999) },
  });
  await cardOf(client, counter.seq).getByTestId('proposal-accept').waitFor();
  for (const p of [client, expert]) assert.deepEqual(p.problems, []);
  for (const p of [client, expert]) await p.context().close();
});
