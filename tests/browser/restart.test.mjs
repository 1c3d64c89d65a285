// The server is killed mid-conversation and started again on the same port
// and data directory: the pages reconnect by themselves, resume their
// channels, resend what was typed while offline, and show nothing twice.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  skipReason, startServer, launchBrowser, openClient, token, uniqueEng, waitOnline, shot, send, messageTexts,
  timelineSeqs, apiPost, until,
} from './harness.mjs';

const skip = skipReason() ?? false;
let server;
let browser;

before(async () => {
  if (skip) return;
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.cleanup();
});

async function restart(signal) {
  const { port, dataDir } = server;
  await server.stop(signal);
  const old = server;
  server = await startServer({ port, dataDir });
  server.cleanup = async () => { await server.stop(); await old.cleanup(); };
}

for (const signal of ['SIGKILL', 'SIGTERM']) {
  test(`after ${signal} and a restart the pages resume without gaps or duplicates`, { skip }, async () => {
    const eng = uniqueEng(`restart-${signal.toLowerCase()}`);
    const clientTok = token({ sub: 'u-ivy', name: 'Ivy', role: 'client', eng: [eng] });
    const expertTok = token({ sub: 'u-jon', name: 'Jon', role: 'expert', eng: [eng] });
    const ivy = await openClient(browser, server, clientTok);
    const jon = await openClient(browser, server, expertTok);
    await Promise.all([waitOnline(ivy), waitOnline(jon)]);

    for (let i = 1; i <= 3; i++) {
      await send(i % 2 ? ivy : jon, `before ${i}`);
    }
    await jon.locator('[data-testid="message-text"]', { hasText: 'before 3' }).waitFor();
    await ivy.locator('[data-testid="message-text"]', { hasText: 'before 3' }).waitFor();

    await server.stop(signal);
    await ivy.locator('[data-testid="connection-state"]:not([data-state="online"])').waitFor();
    await jon.locator('[data-testid="connection-state"]:not([data-state="online"])').waitFor();

    // Typed while the server is down: kept and shown as not yet sent.
    await send(ivy, 'typed while offline');
    await ivy.getByTestId('pending-post').waitFor();
    await shot(ivy, `restart-${signal.toLowerCase()}-offline-1280`);

    const { port, dataDir } = server;
    const old = server;
    server = await startServer({ port, dataDir });
    const oldCleanup = old.cleanup;
    const cur = server;
    server.cleanup = async () => { await cur.stop(); await oldCleanup(); };

    // Posted by the platform right after the restart, possibly before the pages are back.
    for (let i = 1; i <= 3; i++) {
      const r = await apiPost(server, expertTok, `eng:${eng}`, 'message', { text: `while away ${i}` }, `away-${i}`);
      assert.equal(r.status, 201, JSON.stringify(r.json));
    }
    await Promise.all([waitOnline(ivy, 30000), waitOnline(jon, 30000)]);
    await send(jon, 'after the restart');

    const expected = ['before 1', 'before 2', 'before 3', 'typed while offline', 'while away 1', 'while away 2', 'while away 3', 'after the restart'];
    for (const page of [ivy, jon]) {
      await until(async () => (await messageTexts(page)).length >= expected.length, { timeout: 15000, message: 'all messages' });
      await page.waitForTimeout(500);
      const texts = await messageTexts(page);
      assert.deepEqual([...texts].sort(), [...expected].sort(), `each message once: ${JSON.stringify(texts)}`);
      const seqs = await timelineSeqs(page);
      assert.deepEqual(seqs, seqs.slice().sort((a, b) => a - b), 'in seq order');
      assert.equal(new Set(seqs).size, seqs.length, 'no seq twice');
      for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1] + 1, 'no gaps');
      assert.equal(await page.getByTestId('pending-post').count(), 0);
    }

    // The offline post went out exactly once on the server too.
    const res = await fetch(`${server.url}/api/v1/channels/${encodeURIComponent(`eng:${eng}`)}/events?after=0&limit=100`, { headers: { Authorization: `Bearer ${clientTok}` } });
    const { events } = await res.json();
    assert.equal(events.filter((e) => e.body && e.body.text === 'typed while offline').length, 1);

    await shot(ivy, `restart-${signal.toLowerCase()}-resumed-1280`);
    for (const p of [ivy, jon]) assert.deepEqual(p.problems, []);
    await ivy.context().close();
    await jon.context().close();
  });
}

// A server that comes back without its data (a new epoch) makes the page
// join afresh and redraw the channel: the draft must survive that redraw.
test('a message being typed stays in the box, with the caret, when the page joins a channel afresh', { skip }, async () => {
  const eng = uniqueEng('restart-draft');
  const kai = token({ sub: 'u-kai', name: 'Kai', role: 'client', eng: [eng] });
  const page = await openClient(browser, server, kai);
  await waitOnline(page);
  assert.equal((await apiPost(server, kai, `eng:${eng}`, 'message', { text: 'Before the loss.' })).status, 201);
  await page.locator('[data-testid="message-text"]', { hasText: 'Before the loss.' }).waitFor();
  const input = page.getByTestId('composer-input');
  await input.click();
  await input.fill('Half a thought about the\nsecond milestone');
  await input.press('ArrowLeft');

  const old = server;
  await old.stop('SIGKILL');
  await page.locator('[data-testid="connection-state"]:not([data-state="online"])').waitFor();
  server = await startServer({ port: old.port });
  const fresh = server;
  server.cleanup = async () => { await fresh.stop(); await old.cleanup(); };
  await waitOnline(page, 30000);
  // The channel starts again from the new epoch's opening event alone, drawn afresh.
  await until(async () => (await timelineSeqs(page)).length === 1, { timeout: 15000, message: 'the channel joined afresh' });
  assert.equal(await input.inputValue(), 'Half a thought about the\nsecond milestone');
  assert.ok(await input.evaluate((el) => document.activeElement === el), 'the box keeps the focus');
  const caret = await input.evaluate((el) => [el.selectionStart, el.selectionEnd]);
  assert.deepEqual(caret, [40, 40], 'the caret where it was');
  assert.equal(await page.getByTestId('pending-post').count(), 0, 'nothing was sent');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

export { restart };
