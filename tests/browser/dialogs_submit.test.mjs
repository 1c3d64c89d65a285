// Dialogs keep what was typed: they close only once the server has stored
// the post, show a refusal inside themselves, check required fields before
// sending, never send on Enter in a field, keep the text while offline, and
// work with the keyboard alone (focus in, Tab kept inside, Escape, focus back
// to the opener).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  serverAndBrowser, startServer, openClient, uniqueEng, waitOnline, apiPost, until,
} from './harness.mjs';
import { screenshot, people, storedEvents } from './dialogs_helpers.mjs';

const suite = serverAndBrowser();
const { skip } = suite;

const activeTestid = (page) => page.evaluate(() => document.activeElement?.dataset.testid ?? document.activeElement?.id ?? null);

test('a proposal the server refuses keeps the dialog open, with the text and the error', { skip }, async () => {
  const eng = uniqueEng('refused');
  const tok = people(eng);
  const expert = await openClient(suite.browser, suite.server, tok.expert);
  await waitOnline(expert);
  await expert.locator('[data-testid="phase-track"][data-phase="discovery"]').waitFor();

  await expert.getByTestId('action-propose').click();
  const dlg = expert.getByTestId('proposal-dialog');
  await dlg.getByTestId('proposal-topic-select').selectOption('phase');
  assert.equal(await dlg.getByTestId('proposal-phase-select').inputValue(), 'agreement');
  const typed = 'Discovery is done, let us agree the terms.\nSecond line kept too.';
  await dlg.getByTestId('proposal-text-input').fill(typed);

  // Meanwhile the engagement moves to `agreement`: the same move is now refused.
  const p = await apiPost(suite.server, tok.client, `eng:${eng}`, 'proposal', { topic: 'phase', text: 'Move on', terms: { to: 'agreement' } });
  assert.equal(p.status, 201);
  assert.equal((await apiPost(suite.server, tok.expert, `eng:${eng}`, 'decision', { proposal: p.json.seq, verdict: 'accepted' })).status, 201);
  const before = (await storedEvents(suite.server, tok.expert, eng)).length;

  await dlg.getByTestId('dialog-submit').click();
  const error = dlg.getByTestId('dialog-error');
  await error.waitFor();
  assert.match(await error.textContent(), /not possible right now.*next phase is active/);
  assert.equal(await error.getAttribute('role'), 'alert');
  assert.ok(await dlg.isVisible(), 'the dialog stays open');
  assert.equal(await dlg.getByTestId('proposal-text-input').inputValue(), typed, 'what was typed is kept');
  assert.equal(await dlg.getByTestId('dialog-submit').isEnabled(), true, 'it can be sent again');
  assert.equal((await storedEvents(suite.server, tok.expert, eng)).length, before, 'nothing was stored');
  assert.equal(await expert.locator('[data-testid="toast"], .toast.error').count(), 0, 'the error is in the dialog, not a toast');
  await screenshot(expert, 'refused-1280');

  // A required field is checked before anything is sent.
  await dlg.getByTestId('proposal-topic-select').selectOption('agreement');
  await dlg.getByTestId('dialog-submit').click();
  await until(async () => /scope/.test(await error.textContent()), { message: 'the scope is asked for' });
  const scope = dlg.getByTestId('terms-scope');
  assert.equal(await scope.getAttribute('aria-invalid'), 'true');
  assert.ok((await scope.getAttribute('aria-describedby')).split(' ').includes(await error.getAttribute('id')), 'the field is described by the error');
  assert.equal(await activeTestid(expert), 'terms-scope', 'the focus goes to the field');
  assert.equal((await storedEvents(suite.server, tok.expert, eng)).length, before);

  // Filled in, it is sent, and the dialog closes on the server's answer.
  await scope.fill('Nordic market sizing');
  await dlg.getByTestId('dialog-submit').click();
  await dlg.waitFor({ state: 'detached' });
  const events = await storedEvents(suite.server, tok.expert, eng);
  const last = events[events.length - 1];
  assert.equal(last.kind, 'proposal');
  assert.equal(last.body.topic, 'agreement');
  assert.equal(last.body.text, typed, 'the text typed before the refusal is the one sent');
  assert.deepEqual(expert.problems, []);
  await expert.context().close();
});

test('Enter in a field moves to the next field; only the button or Ctrl+Enter sends', { skip }, async () => {
  const eng = uniqueEng('enter');
  const tok = people(eng);
  const client = await openClient(suite.browser, suite.server, tok.client);
  await waitOnline(client);
  await client.locator('[data-testid="phase-track"][data-phase="discovery"]').waitFor();
  const count = async () => (await storedEvents(suite.server, tok.client, eng)).length;
  const before = await count();

  await client.getByTestId('action-propose').click();
  const dlg = client.getByTestId('proposal-dialog');
  await dlg.getByTestId('proposal-topic-select').selectOption('compensation');
  const amount = dlg.getByTestId('terms-amount');
  await amount.focus();
  await client.keyboard.type('4800');
  await client.keyboard.press('Enter');
  assert.equal(await activeTestid(client), 'terms-currency', 'Enter moved on to the currency');
  await dlg.getByTestId('add-term').click();
  await client.keyboard.type('payment_terms');
  await client.keyboard.press('Enter');
  assert.equal(await activeTestid(client), 'term-value');
  await client.keyboard.type('30 days');
  await client.keyboard.press('Enter');
  assert.equal(await activeTestid(client), 'dialog-submit', 'after the last field Enter reaches the button, without pressing it');
  await client.waitForTimeout(300);
  assert.ok(await dlg.isVisible());
  assert.equal(await count(), before, 'Enter sent nothing');

  // Ctrl+Enter sends from a field.
  await dlg.getByTestId('proposal-text-input').focus();
  await client.keyboard.type('Fee for the whole study');
  await client.keyboard.press('Control+Enter');
  await dlg.waitFor({ state: 'detached' });
  const events = await storedEvents(suite.server, tok.client, eng);
  assert.equal(events.length, before + 1);
  assert.deepEqual(events[events.length - 1].body, {
    topic: 'compensation', text: 'Fee for the whole study',
    terms: { payment_terms: '30 days', compensation: { amount: 4800, currency: 'EUR' } },
  });
  assert.deepEqual(client.problems, []);
  await client.context().close();
});

test('a dialog is used with the keyboard alone: focus in, Tab kept inside, Escape, focus back', { skip }, async () => {
  const eng = uniqueEng('keys');
  const tok = people(eng);
  const expert = await openClient(suite.browser, suite.server, tok.expert);
  const client = await openClient(suite.browser, suite.server, tok.client);
  await Promise.all([waitOnline(expert), waitOnline(client)]);
  await expert.getByTestId('action-propose').waitFor();

  // Open from the action bar with Enter: the focus is in the dialog.
  await expert.getByTestId('action-propose').focus();
  await expert.keyboard.press('Enter');
  const dlg = expert.getByTestId('proposal-dialog');
  await dlg.waitFor();
  assert.equal(await activeTestid(expert), 'proposal-topic-select');

  // Tab goes through every control and comes round to the first; Shift+Tab back.
  const controls = await dlg.evaluate((d) => [...d.querySelectorAll('button, input, select, textarea')]
    .filter((el) => !el.disabled && el.getClientRects().length > 0).length);
  for (let i = 0; i < controls; i += 1) {
    await expert.keyboard.press('Tab');
    assert.ok(await dlg.evaluate((d) => d.contains(document.activeElement)), `Tab ${i + 1} stays in the dialog`);
  }
  assert.equal(await activeTestid(expert), 'proposal-topic-select', 'Tab came round to the first control');
  await expert.keyboard.press('Shift+Tab');
  assert.equal(await activeTestid(expert), 'dialog-submit', 'Shift+Tab from the first goes to the last');

  // Escape closes it and the focus returns to the button that opened it.
  await expert.keyboard.press('Escape');
  await dlg.waitFor({ state: 'detached' });
  assert.equal(await activeTestid(expert), 'action-propose');

  // Again, and this time a phase proposal is typed and sent with the keyboard.
  await expert.keyboard.press('Enter');
  await dlg.waitFor();
  await expert.keyboard.press('Tab');
  assert.equal(await activeTestid(expert), 'proposal-text-input');
  await expert.keyboard.press('Control+A');
  await expert.keyboard.type('Discovery is done.');
  await expert.keyboard.press('Control+Enter');
  await dlg.waitFor({ state: 'detached' });
  await until(async () => (await activeTestid(expert)) === 'action-propose', { message: 'the focus back on the opener' });

  // The client rejects it with the keyboard, giving a reason.
  const card = client.locator('[data-testid="timeline"] [data-testid="event-proposal"]', { hasText: 'Discovery is done.' });
  await card.getByTestId('proposal-reject').focus();
  await client.keyboard.press('Enter');
  const reject = client.getByTestId('reject-dialog');
  await reject.waitFor();
  assert.equal(await activeTestid(client), 'reject-reason-input');
  await screenshot(client, 'reject-1280');
  await client.keyboard.type('Two interviews are still missing.');
  await client.keyboard.press('Control+Enter');
  await reject.waitFor({ state: 'detached' });
  await card.locator('[data-testid="proposal-status"][data-status="rejected"]').waitFor();
  assert.match(await card.getByTestId('decision-reason').textContent(), /Two interviews are still missing\./);
  for (const p of [expert, client]) assert.deepEqual(p.problems, []);
  for (const p of [expert, client]) await p.context().close();
});

test('without a connection nothing is sent and the dialog keeps the text until it can be', { skip }, async () => {
  const eng = uniqueEng('offline');
  const tok = people(eng);
  const client = await openClient(suite.browser, suite.server, tok.client);
  await waitOnline(client);
  await client.getByTestId('action-flag').click();
  const dlg = client.getByTestId('flag-dialog');
  await dlg.getByTestId('flag-type-select').selectOption('risk');
  await dlg.getByTestId('flag-text-input').fill('The panel may not be recruited in time.');

  // The server goes away; the page notices.
  const old = suite.server;
  const { port, dataDir } = old;
  await old.stop();
  await client.locator('[data-testid="connection-state"]:not([data-state="online"])').waitFor();
  await dlg.getByTestId('dialog-submit').click();
  await until(async () => /Not connected/.test(await dlg.getByTestId('dialog-error').textContent()), { message: 'the offline error' });
  assert.ok(await dlg.isVisible());
  assert.equal(await dlg.getByTestId('flag-text-input').inputValue(), 'The panel may not be recruited in time.');
  assert.equal(await dlg.getByTestId('flag-type-select').inputValue(), 'risk');

  // Back on the same port: the same dialog sends it once.
  suite.server = await startServer({ port, dataDir });
  const cur = suite.server;
  cur.cleanup = async () => { await cur.stop(); await old.cleanup(); };
  await waitOnline(client, 30000);
  await dlg.getByTestId('dialog-submit').click();
  await dlg.waitFor({ state: 'detached' });
  const flags = (await storedEvents(suite.server, tok.client, eng)).filter((e) => e.kind === 'flag');
  assert.deepEqual(flags.map((e) => e.body), [{ type: 'risk', text: 'The panel may not be recruited in time.' }]);
  assert.deepEqual(client.problems, []);
  await client.context().close();
});
