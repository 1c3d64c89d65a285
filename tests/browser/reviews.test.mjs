// Ratings and reviews in the page (protocol §9.7) and the approved files in
// the decision log (§9.6): an engagement taken to `closed` by a final
// delivery that the client accepts (set up over HTTP), the client reviews
// with stars chosen by keyboard and by click, sees the sealed card and its own
// review; the expert sees only the sealed card, reviews on a phone, and both
// pages show the revealed reviews with their commitments verified in the
// browser; the decision log lists the delivery's files with their hashes and
// the reveal, and verifies. Then a reveal at the end of a short review period
// after an automatic acceptance, and a reveal tampered with on the network
// (a proxy rewrites the server's bytes) shown as not matching.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import {
  serverAndBrowser, startServer, openEngagement, token, uniqueEng, apiPost, postOk, until, shot, axeViolations, SCREENSHOTS,
} from './harness.mjs';

const suite = serverAndBrowser();
const { skip } = suite;

const PHONE = { width: 390, height: 844 };
const CLIENT_TEXT = 'Clear, well-sourced report — delivered on time. Très bien.';
const EXPERT_TEXT = 'Quick answers and a precise brief; a pleasure to work with.';

function parties(eng) {
  return {
    clientTok: token({ sub: 'u-client', name: 'Priya Nair', role: 'client', eng: [eng] }),
    expertTok: token({ sub: 'u-expert', name: 'Tomás Ruiz', role: 'expert', eng: [eng] }),
    supportTok: token({ sub: 'u-support', name: 'Sam Support', role: 'support', eng: ['*'] }),
  };
}

// Proposes `topic` as `by` and accepts it as `decider`, over HTTP.
async function agree(server, eng, by, decider, topic, terms) {
  const seq = await postOk(server, by, `eng:${eng}`, 'proposal', { topic, text: `${topic} please`, terms });
  await postOk(server, decider, `eng:${eng}`, 'decision', { proposal: seq, verdict: 'accepted' });
}

async function toCompletion(server, eng, { clientTok, expertTok }) {
  await agree(server, eng, expertTok, clientTok, 'phase', { to: 'agreement' });
  await agree(server, eng, clientTok, expertTok, 'agreement', { scope: 'Nordic market sizing' });
  await agree(server, eng, expertTok, clientTok, 'phase', { to: 'active' });
  await agree(server, eng, expertTok, clientTok, 'phase', { to: 'completion' });
}

async function upload(server, eng, tok, name, bytes) {
  const res = await fetch(`${server.url}/api/v1/engagements/${eng}/files?name=${encodeURIComponent(name)}`, {
    method: 'POST', headers: { Authorization: `Bearer ${tok}`, 'Content-Type': 'application/octet-stream' }, body: bytes,
  });
  const json = await res.json();
  assert.ok(res.status === 201 || res.status === 200, `upload ${name}: ${res.status} ${JSON.stringify(json)}`);
  assert.equal(json.sha256, crypto.createHash('sha256').update(bytes).digest('hex'));
  return { name, sha256: json.sha256, size: bytes.length };
}

// The expert delivers two files as the final version of "report".
async function deliverFinal(server, eng, expertTok) {
  const files = [
    await upload(server, eng, expertTok, 'Nordic report.pdf', Buffer.from('%PDF-1.4 Nordic market sizing\n'.repeat(400))),
    await upload(server, eng, expertTok, 'interviews.csv', Buffer.from('who,when\nA,2026-11-02\nB,2026-11-04\n')),
  ];
  const seq = await postOk(server, expertTok, `eng:${eng}`, 'delivery', {
    deliverable: 'report', text: 'The final report and the interview log.', files: files.map(({ name, sha256 }) => ({ name, sha256 })), final: true,
  });
  return { seq, files };
}

// Why this server cannot run these tests (it predates reviews, §9.7, or
// files and deliveries, §9.6), or null when it can.
async function missingFeature(server) {
  const eng = uniqueEng('probe');
  const { clientTok } = parties(eng);
  const reviews = await fetch(`${server.url}/api/v1/engagements/${eng}/reviews`, { headers: { Authorization: `Bearer ${clientTok}` } });
  if (reviews.status === 404) return 'the server has no GET …/reviews (protocol §9.7)';
  const files = await fetch(`${server.url}/api/v1/engagements/${eng}/files?name=probe.txt`, { method: 'POST', headers: { Authorization: `Bearer ${clientTok}` }, body: 'probe' });
  if (files.status === 404) return 'the server has no file uploads (protocol §9.6)';
  return null;
}

// A TCP proxy in front of `server` that replaces `from` with `to` (as many
// bytes) in everything the server sends: HTTP answers and WebSocket frames,
// whose length fields stay right. A match split between two reads is caught
// by holding back a tail that could begin one.
async function tamperingProxy(server, from, to) {
  assert.equal(Buffer.byteLength(from), Buffer.byteLength(to));
  const target = new URL(server.url);
  const sockets = new Set();
  const proxy = net.createServer((page) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    for (const s of [page, upstream]) { sockets.add(s); s.on('close', () => sockets.delete(s)); s.on('error', () => {}); }
    page.pipe(upstream);
    let held = '';
    upstream.on('data', (chunk) => {
      let text = (held + chunk.toString('latin1')).replaceAll(from, to);
      held = '';
      for (let k = Math.min(from.length - 1, text.length); k > 0; k--) {
        if (text.endsWith(from.slice(0, k))) { held = text.slice(-k); text = text.slice(0, -k); break; }
      }
      page.write(Buffer.from(text, 'latin1'));
    });
    upstream.on('end', () => page.end(Buffer.from(held, 'latin1')));
    page.on('close', () => upstream.destroy());
    upstream.on('close', () => page.destroy());
  });
  await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${proxy.address().port}`,
    close: () => { for (const s of sockets) s.destroy(); proxy.close(); },
  };
}

const NO_DELIVERIES = 'the server has no deliveries (protocol §9.6)';

async function stateOf(server, tok, eng) {
  const res = await fetch(`${server.url}/api/v1/engagements/${eng}`, { headers: { Authorization: `Bearer ${tok}` } });
  const body = await res.json();
  return body.state || body;
}

// Chooses the stars of the open review dialog: quality by keyboard (arrow
// keys from the first star), communication by a click, timeliness by a click
// then an arrow key; writes the text.
async function fillReview(page, { quality, communication, timeliness, text }) {
  const dlg = page.getByTestId('review-dialog');
  await dlg.waitFor();
  const q = dlg.getByTestId('rating-quality');
  await q.getByRole('radio', { name: '1 of 5 stars' }).focus();
  for (let i = 1; i < quality; i++) await page.keyboard.press('ArrowRight');
  assert.equal(await q.getByRole('radio', { name: `${quality} of 5 stars` }).isChecked(), true, 'arrow keys choose the stars');
  await dlg.getByTestId('rating-communication').getByRole('radio', { name: `${communication} of 5 stars` }).click();
  await dlg.getByTestId(`star-timeliness-${timeliness - 1}`).click();
  await page.keyboard.press('ArrowRight');
  assert.equal(await dlg.getByTestId(`star-timeliness-${timeliness}`).isChecked(), true);
  await dlg.getByTestId('review-text-input').fill(text);
  return dlg;
}

test('both parties review: sealed until both are in, then revealed with commitments verified; the log lists the approved files', { skip }, async (t) => {
  const { server, browser } = suite;
  const missing = await missingFeature(server);
  if (missing) { t.skip(missing); return; }
  const eng = uniqueEng('rev');
  const toks = parties(eng);
  const client = await openEngagement(browser, server, toks.clientTok, eng);
  await client.locator('[data-testid="phase-track"][data-phase="discovery"]').waitFor();
  if (!('deliverables' in await stateOf(server, toks.clientTok, eng))) { await client.context().close(); t.skip(NO_DELIVERIES); return; }

  await toCompletion(server, eng, toks);
  const delivery = await deliverFinal(server, eng, toks.expertTok);
  // Accepting the final delivery in completion closes the engagement.
  await postOk(server, toks.clientTok, `eng:${eng}`, 'decision', { proposal: delivery.seq, verdict: 'accepted' });
  await client.locator('[data-testid="phase-track"][data-phase="closed"]').waitFor();
  const state = await stateOf(server, toks.clientTok, eng);
  assert.ok(state.can.includes('review'), `can: ${JSON.stringify(state.can)}`);
  const due = state.reviews.due;
  assert.ok(Number.isFinite(due));

  // The callout offers the form; a text too short is refused inside it.
  const callout = client.getByTestId('review-callout');
  await callout.waitFor();
  assert.match(await callout.textContent(), /sealed — revealed when both have reviewed or on /);
  await callout.getByTestId('review-write').click();
  let dlg = await fillReview(client, { quality: 4, communication: 5, timeliness: 3, text: 'Too short' });
  assert.match(await dlg.getByTestId('review-counter').textContent(), /^9 \/ 4000/);
  await dlg.getByTestId('dialog-submit').click();
  await dlg.getByTestId('dialog-error').filter({ hasText: 'at least 10 characters' }).waitFor();
  await shot(client, 'reviews-form-1280');
  await dlg.getByTestId('review-text-input').fill(CLIENT_TEXT);
  assert.match(await dlg.getByTestId('review-counter').textContent(), /^58 \/ 4000$/);
  assert.deepEqual(await axeViolations(client, { include: '[data-testid="review-dialog"]' }), []);
  await dlg.getByTestId('dialog-submit').click();
  await dlg.waitFor({ state: 'detached' });

  // The client's own sealed card, and its review shown to it alone.
  const ownCard = client.locator('[data-testid="timeline"] [data-testid="event-review"]');
  await ownCard.waitFor();
  assert.match(await ownCard.getByTestId('sealed-text').textContent(), /^You have reviewed — sealed, revealed when both have reviewed or on /);
  await ownCard.getByTestId('review-text').filter({ hasText: CLIENT_TEXT }).waitFor();
  assert.match(await ownCard.getByTestId('review-note').textContent(), /Only you and support can see this until the reveal/);
  assert.equal(await ownCard.locator('[aria-label="4 of 5 stars"]').count(), 1, 'quality shown as 4 of 5 stars');
  await client.getByTestId('review-callout').waitFor({ state: 'detached' });
  await shot(client, 'reviews-own-sealed-1280');

  // The expert sees that the client reviewed, sealed, without its text.
  const expert = await openEngagement(browser, server, toks.expertTok, eng, { viewport: PHONE });
  const sealed = expert.locator('[data-testid="timeline"] [data-testid="event-review"]');
  await sealed.waitFor();
  assert.match(await sealed.getByTestId('sealed-text').textContent(), /^Priya Nair has reviewed — sealed, revealed when both have reviewed or on /);
  assert.equal(await sealed.getByTestId('review-content').count(), 0);
  assert.ok(!(await expert.locator('body').innerText()).includes('well-sourced'), 'the sealed text is nowhere on the expert\'s page');

  // Support reads the sealed review, marked as sealed to the parties.
  const support = await openEngagement(browser, server, toks.supportTok, eng);
  const supportPanel = support.getByTestId('reviews-panel');
  await supportPanel.getByTestId('review-text').filter({ hasText: CLIENT_TEXT }).waitFor();
  assert.match(await supportPanel.getByTestId('review-note').textContent(), /Sealed to the parties until the reveal/);

  // The expert reviews on a phone.
  const expertCallout = expert.getByTestId('review-callout');
  await expertCallout.waitFor();
  await shot(expert, 'reviews-sealed-390');
  await expertCallout.getByTestId('review-write').click();
  dlg = await fillReview(expert, { quality: 5, communication: 5, timeliness: 4, text: EXPERT_TEXT });
  await shot(expert, 'reviews-form-390');
  await dlg.getByTestId('dialog-submit').click();
  await dlg.waitFor({ state: 'detached' });

  // Revealed on both pages, each commitment recomputed in the browser.
  for (const page of [client, expert, support]) {
    const reveal = page.locator('[data-testid="timeline"] [data-testid="event-reviews"]');
    await reveal.waitFor();
    await until(async () => (await reveal.locator('[data-testid="commitment-check"][data-state="ok"]').count()) === 2, { message: 'both commitments verified' });
    assert.deepEqual(await reveal.getByTestId('commitment-check').allTextContents(), ['✓ commitment verified', '✓ commitment verified']);
    const texts = await reveal.getByTestId('review-text').allTextContents();
    assert.deepEqual([...texts].sort(), [CLIENT_TEXT, EXPERT_TEXT].sort());
    await page.locator('[data-testid="timeline"] [data-testid="event-review"] [data-testid="review-state"]', { hasText: 'Revealed' }).first().waitFor();
  }
  await client.getByTestId('reviews-panel').and(client.locator('[data-revealed="true"]')).waitFor();
  // The confirmation of the review fades after 6 s; the shots show the page under it.
  if (SCREENSHOTS) await until(async () => (await expert.getByTestId('toast').count()) + (await client.getByTestId('toast').count()) === 0, { message: 'toasts gone' });
  await shot(client, 'reviews-revealed-1280');
  await shot(expert, 'reviews-revealed-390');

  // The decision log: the delivery with its files and hashes, the reveal, all verified.
  const log = client.getByTestId('decision-log');
  const deliveryRec = log.getByTestId('decision-log-record').filter({ hasText: 'Accepted report v1 (final)' });
  await deliveryRec.waitFor();
  assert.equal(await deliveryRec.getAttribute('data-verified'), 'true');
  assert.equal(await deliveryRec.getByTestId('log-sentence').textContent(), 'Accepted report v1 (final)');
  assert.match(await deliveryRec.locator('.log-meta').textContent(), /accepted by Priya Nair/);
  const files = deliveryRec.getByTestId('approved-file');
  assert.equal(await files.count(), 2);
  for (const f of delivery.files) {
    const row = files.filter({ hasText: f.name });
    assert.equal(await row.getByTestId('approved-file-hash').getAttribute('data-sha256'), f.sha256);
    assert.equal(await row.getByTestId('approved-file-hash').getAttribute('title'), `SHA-256 ${f.sha256}`);
    assert.equal(await row.getByTestId('approved-file-hash').textContent(), `${f.sha256.slice(0, 8)}…${f.sha256.slice(-4)}`);
  }
  const reviewsRec = log.getByTestId('decision-log-record').filter({ hasText: 'Reviews revealed' });
  await reviewsRec.waitFor();
  assert.equal(await reviewsRec.getAttribute('data-verified'), 'true');
  await log.locator('[data-testid="chain-status"][data-state="verified"]').waitFor();
  assert.equal(await log.locator('[data-testid="decision-log-record"][data-verified="false"]').count(), 0);
  await deliveryRec.scrollIntoViewIfNeeded();
  await shot(client, 'reviews-log-1280');

  // Copy puts the full hash on the clipboard.
  await client.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  await files.first().getByTestId('approved-file-copy').click();
  assert.equal(await client.evaluate(() => navigator.clipboard.readText()), delivery.files[0].sha256);

  for (const page of [client, expert, support]) assert.deepEqual(page.problems, []);
  for (const page of [client, expert, support]) await page.context().close();
});

test('a tampered reveal is shown as not matching its commitment', { skip }, async (t) => {
  const { server, browser } = suite;
  const missing = await missingFeature(server);
  if (missing) { t.skip(missing); return; }
  const eng = uniqueEng('revtamper');
  const toks = parties(eng);
  const first = await openEngagement(browser, server, toks.clientTok, eng);
  await first.locator('[data-testid="phase-track"][data-phase="discovery"]').waitFor();
  await toCompletion(server, eng, toks);
  await agree(server, eng, toks.expertTok, toks.clientTok, 'phase', { to: 'closed' });
  const ratings = { quality: 3, communication: 4, timeliness: 5 };
  await postOk(server, toks.clientTok, `eng:${eng}`, 'review', { ratings, text: 'Solid work, thank you.' });
  await postOk(server, toks.expertTok, `eng:${eng}`, 'review', { ratings, text: 'Fair and responsive client.' });
  await first.context().close();

  // Whatever the network brings, the page checks: a revealed text changed on
  // the way no longer matches the commitment sealed before. The page is
  // served through a proxy that rewrites the server's bytes.
  const proxy = await tamperingProxy(server, 'Solid', 'Awful');
  t.after(() => proxy.close());
  const page = await openEngagement(browser, proxy, toks.clientTok, eng);
  const reveal = page.locator('[data-testid="timeline"] [data-testid="event-reviews"]');
  await reveal.waitFor();
  const bad = reveal.locator('[data-testid="revealed-review"]', { hasText: 'Awful work' }).getByTestId('commitment-check');
  await bad.and(page.locator('[data-state="bad"]')).waitFor();
  assert.match(await bad.textContent(), /commitment does NOT match/);
  assert.equal(await bad.getAttribute('role'), 'alert');
  await reveal.locator('[data-testid="revealed-review"]', { hasText: 'Fair and responsive' }).locator('[data-testid="commitment-check"][data-state="ok"]').waitFor();
  await page.context().close();
});

test('an unanswered final delivery is accepted automatically, and a lone review is revealed when the period ends', { skip }, async (t) => {
  const { browser } = suite;
  const missing = await missingFeature(suite.server);
  if (missing) { t.skip(missing); return; }
  const probe = uniqueEng('probe');
  const probePage = await openEngagement(browser, suite.server, parties(probe).clientTok, probe);
  await probePage.locator('[data-testid="phase-track"][data-phase="discovery"]').waitFor();
  const delivers = 'deliverables' in await stateOf(suite.server, parties(probe).clientTok, probe);
  await probePage.context().close();
  if (!delivers) { t.skip(NO_DELIVERIES); return; }
  const server = await startServer({ args: ['--review-window', '2s', '--review-period', '8s'] });
  try {
    const eng = uniqueEng('revend');
    const toks = parties(eng);
    const expert = await openEngagement(browser, server, toks.expertTok, eng);
    await expert.locator('[data-testid="phase-track"][data-phase="discovery"]').waitFor();
    await toCompletion(server, eng, toks);
    await deliverFinal(server, eng, toks.expertTok);
    // Nobody answers: the window lapses, the delivery is accepted and the engagement closes.
    await until(async () => (await stateOf(server, toks.clientTok, eng)).phase === 'closed', { timeout: 20000, message: 'closed by the automatic acceptance' });
    const posted = await apiPost(server, toks.clientTok, `eng:${eng}`, 'review', { ratings: { quality: 2, communication: 3, timeliness: 1 }, text: 'Late, but the report is usable.' });
    assert.equal(posted.status, 201, JSON.stringify(posted.json));

    // The expert never reviews; the period ends and the one review is revealed.
    const reveal = expert.locator('[data-testid="timeline"] [data-testid="event-reviews"]');
    await reveal.waitFor({ timeout: 30000 });
    await reveal.locator('[data-testid="commitment-check"][data-state="ok"]').waitFor();
    assert.equal(await reveal.getByTestId('revealed-review').count(), 1);
    await reveal.getByTestId('review-text').filter({ hasText: 'Late, but the report is usable.' }).waitFor();

    const log = expert.getByTestId('decision-log');
    const deliveryRec = log.getByTestId('decision-log-record').filter({ hasText: 'Accepted report v1 (final)' });
    await deliveryRec.getByTestId('log-accepted-automatically').waitFor();
    assert.match(await deliveryRec.locator('.log-meta').textContent(), /accepted automatically/);
    assert.equal(await deliveryRec.getAttribute('data-verified'), 'true');
    await log.getByTestId('decision-log-record').filter({ hasText: 'Reviews revealed' }).waitFor();
    await log.locator('[data-testid="chain-status"][data-state="verified"]').waitFor();
    assert.deepEqual(expert.problems, []);
    await expert.context().close();
  } finally {
    await server.cleanup();
  }
});
