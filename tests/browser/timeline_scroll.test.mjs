// The newest event stays in view while the reader is at the bottom (long
// messages, cards), a "N new" button counts what arrives while scrolled up,
// and a room opens at the first unread event under a "New" divider.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  serverAndBrowser, openClient, token, uniqueEng, waitOnline, shot, apiPost, until, axeViolations,
} from './harness.mjs';

const suite = serverAndBrowser();
const { skip } = suite;
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

function people(prefix) {
  const eng = uniqueEng(prefix);
  return {
    eng,
    ch: `eng:${eng}`,
    alice: token({ sub: 'u-alice', name: 'Alice Moreau', role: 'client', eng: [eng] }),
    bob: token({ sub: 'u-bob', name: 'Bob Lindqvist', role: 'expert', eng: [eng] }),
  };
}

async function post(tok, ch, kind, body) {
  for (;;) {
    const r = await apiPost(suite.server, tok, ch, kind, body);
    if (r.status === 429) { await new Promise((res) => setTimeout(res, 200)); continue; }
    assert.equal(r.status, 201, `${kind}: ${JSON.stringify(r.json)}`);
    return r.json;
  }
}

const longText = (label, lines) => Array.from({ length: lines }, (_, i) => `${label}, line ${i + 1}: the interview notes go on and on.`).join('\n');

// The box of the entry with `seq` (or the last shown entry) against the
// scroller's box: whether it is fully inside (its end, when it is taller).
function entryInView(page, seq = null) {
  return page.evaluate((want) => {
    const scroller = document.querySelector('[data-testid="timeline-scroll"]');
    const entries = [...document.querySelectorAll('[data-testid="timeline"] > li[data-seq]:not([hidden])')];
    const node = want === null ? entries[entries.length - 1] : entries.find((e) => Number(e.dataset.seq) === want);
    if (!scroller || !node) return { inside: false, why: 'no entry' };
    const s = scroller.getBoundingClientRect();
    const r = node.getBoundingClientRect();
    // An entry taller than the view counts as in view when its end is.
    const topInside = r.top >= s.top - 1 || r.height > s.height;
    return { inside: topInside && r.bottom <= s.bottom + 1 && r.bottom > s.top, seq: Number(node.dataset.seq), top: r.top, bottom: r.bottom, sTop: s.top, sBottom: s.bottom };
  }, seq);
}

async function waitLastInView(page, seq, what) {
  await page.locator(`[data-testid="timeline"] > li[data-seq="${seq}"]`).waitFor({ state: 'attached' });
  let box;
  await until(async () => {
    box = await entryInView(page);
    return box.seq === seq && box.inside;
  }, { message: `${what} (seq ${seq}) fully in view` }).catch((err) => { throw new Error(`${err.message}: ${JSON.stringify(box)}`); });
}

for (const [size, viewport] of [['1280', DESKTOP], ['phone-390', PHONE]]) {
  test(`the newest event is fully in view after long messages and cards (${size})`, { skip }, async () => {
    const p = people(`pin-${size}`);
    const page = await openClient(suite.browser, suite.server, p.alice, { viewport });
    await waitOnline(page);
    await page.getByTestId('timeline').waitFor();

    const steps = [
      ['message', { text: longText('First long message', 8) }, 'an 8-line message'],
      ['status', { text: longText('Status', 12), progress: 35 }, 'a status card'],
      ['message', { text: longText('Second long message', 60) }, 'a 60-line message, taller than the view'],
      ['flag', { type: 'risk', text: longText('Risk', 10) }, 'a flag card'],
      ['proposal', { topic: 'phase', text: longText('Move on', 8), terms: { to: 'agreement' } }, 'a proposal card'],
      ['message', { text: 'And a short one.' }, 'a short message'],
    ];
    for (const [kind, body, what] of steps) {
      const { seq } = await post(p.bob, p.ch, kind, body);
      await waitLastInView(page, seq, what);
    }
    // the reader's own long message too
    const input = page.getByTestId('composer-input');
    await input.fill(longText('My reply', 15));
    await input.press('Enter');
    const mine = page.locator('[data-testid="timeline"] > li[data-kind="message"].mine');
    await mine.waitFor();
    await waitLastInView(page, Number(await mine.getAttribute('data-seq')), 'my own long message');
    await shot(page, `timeline-pinned-${size}`);
    assert.deepEqual(page.problems, []);
    await page.context().close();
  });
}

test('scrolled up, new events are counted in a button that brings them into view (1280)', { skip }, async () => {
  const p = people('pill');
  for (let i = 1; i <= 12; i++) await post(p.bob, p.ch, 'message', { text: longText(`Earlier ${i}`, 4) });
  const page = await openClient(suite.browser, suite.server, p.alice, { viewport: DESKTOP });
  await waitOnline(page);
  await page.locator('[data-testid="message-text"]', { hasText: 'Earlier 12,' }).waitFor();
  const scroller = page.getByTestId('timeline-scroll');
  const pill = page.getByTestId('new-events-pill');
  assert.equal(await pill.isHidden(), true, 'no button at the bottom');

  // the reader scrolls up; three events arrive
  await scroller.hover();
  await page.mouse.wheel(0, -3000);
  await until(() => scroller.evaluate((el) => el.scrollTop < 50), { message: 'scrolled to the top' });
  const seqs = [];
  for (let i = 1; i <= 3; i++) seqs.push((await post(p.bob, p.ch, 'message', { text: `New ${i}` })).seq);
  await page.locator(`[data-testid="timeline"] > li[data-seq="${seqs[2]}"]`).waitFor({ state: 'attached' });
  await page.locator('[data-testid="new-events-pill"]:not([hidden])', { hasText: '3 new' }).waitFor();
  assert.match(await page.getByTestId('new-events-status').textContent(), /3 new events below/);
  assert.equal((await entryInView(page, seqs[0])).inside, false, 'the new events are not in view yet');
  assert.ok(await scroller.evaluate((el) => el.scrollTop < 50), 'the view did not move');
  await shot(page, 'timeline-new-pill-1280');
  assert.deepEqual(await axeViolations(page), [], 'no serious or critical accessibility violation');

  // the button, reached with the keyboard, brings them into view and hides
  await pill.focus();
  await page.keyboard.press('Enter');
  for (const seq of seqs) await until(async () => (await entryInView(page, seq)).inside, { message: `new event ${seq} in view` });
  await page.locator('[data-testid="new-events-pill"][hidden]').waitFor({ state: 'attached' });

  // scrolled up again, one more arrives; scrolling to the bottom hides the button
  await page.mouse.wheel(0, -3000);
  await until(() => scroller.evaluate((el) => el.scrollTop < 50), { message: 'scrolled to the top again' });
  const more = (await post(p.bob, p.ch, 'flag', { type: 'risk', text: 'One more thing' })).seq;
  await page.locator('[data-testid="new-events-pill"]:not([hidden])', { hasText: '1 new' }).waitFor();
  await page.mouse.wheel(0, 20000);
  await page.locator('[data-testid="new-events-pill"][hidden]').waitFor({ state: 'attached' });
  await until(async () => (await entryInView(page, more)).inside, { message: 'the flag in view at the bottom' });
  // back at the bottom, the view is pinned again
  const last = (await post(p.bob, p.ch, 'message', { text: longText('Pinned again', 20) })).seq;
  await waitLastInView(page, last, 'a long message after returning to the bottom');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
for (const [size, viewport] of [['1280', DESKTOP], ['phone-390', PHONE]]) {
  test(`a reload opens at the first unread event under a "New" divider (${size})`, { skip }, async () => {
    const p = people(`unread-${size}`);
    for (let i = 1; i <= 10; i++) await post(p.bob, p.ch, 'message', { text: longText(`Read ${i}`, 3) });
    const bobPage = await openClient(suite.browser, suite.server, p.bob, { viewport: DESKTOP });
    const first = await openClient(suite.browser, suite.server, p.alice, { viewport });
    await Promise.all([waitOnline(first), waitOnline(bobPage)]);
    await first.locator('[data-testid="message-text"]', { hasText: 'Read 10,' }).waitFor();
    // Bob's page sees Alice's read marker: the server has it
    await bobPage.locator('[data-testid="read-receipt"]', { hasText: 'Seen by Alice Moreau' }).waitFor();
    await first.context().close();
    await bobPage.context().close();

    const unread = [];
    for (let i = 1; i <= 15; i++) unread.push((await post(p.bob, p.ch, 'message', { text: longText(`Unread ${i}`, 4) })).seq);
    const page = await openClient(suite.browser, suite.server, p.alice, { viewport });
    await waitOnline(page);
    const divider = page.getByTestId('unread-divider');
    await divider.waitFor();
    const next = await divider.evaluate((el) => Number(el.nextElementSibling && el.nextElementSibling.dataset.seq));
    assert.equal(next, unread[0], 'the divider is right before the first unread event');
    await until(async () => (await entryInView(page, unread[0])).inside, { message: 'the first unread event in view' });
    const inView = await divider.evaluate((el) => {
      const s = document.querySelector('[data-testid="timeline-scroll"]').getBoundingClientRect();
      const r = el.getBoundingClientRect();
      return r.top >= s.top - 1 && r.bottom <= s.bottom + 1;
    });
    assert.ok(inView, 'the divider is in view');
    // the rest waits below, counted
    await page.locator('[data-testid="new-events-pill"]:not([hidden])', { hasText: /\d+ new/ }).waitFor();
    await shot(page, `timeline-unread-divider-${size}`);
    assert.deepEqual(await axeViolations(page), [], 'no serious or critical accessibility violation');
    assert.deepEqual(page.problems, []);
    await page.context().close();
  });
}
