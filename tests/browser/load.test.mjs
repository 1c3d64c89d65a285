// 500 events load and show without a long stall of the page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  serverAndBrowser, openClient, token, uniqueEng, waitOnline, shot, apiPost,
} from './harness.mjs';

const suite = serverAndBrowser();
const { skip } = suite;

test('an engagement with 500 events opens quickly and stays responsive', { skip }, async () => {
  const eng = uniqueEng('busy');
  const tokA = token({ sub: 'u-a', name: 'Kim', role: 'client', eng: [eng] });
  const tokB = token({ sub: 'u-b', name: 'Lee', role: 'expert', eng: [eng] });
  const N = 500;
  let posted = 0;
  while (posted < N) {
    const i = posted + 1;
    const tok = i % 2 ? tokA : tokB;
    const body = i % 25 === 0 ? { kind: 'status', body: { text: `Milestone ${i}`, progress: Math.min(100, i / 5) } } : { kind: 'message', body: { text: `Message number ${i}: ${'lorem ipsum '.repeat(1 + (i % 7))}` } };
    const r = await apiPost(suite.server, tok, `eng:${eng}`, body.kind, body.body, `load-${i}`);
    if (r.status === 429) { await new Promise((res) => setTimeout(res, 200)); continue; }
    assert.equal(r.status, 201, JSON.stringify(r.json));
    posted += 1;
  }

  const page = await openClient(suite.browser, suite.server, tokA, { hash: '' });
  await page.evaluate(() => {
    window.__long = [];
    new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__long.push([Math.round(e.startTime), Math.round(e.duration)]); }).observe({ type: 'longtask', buffered: true });
    window.__gaps = [];
    let last = performance.now();
    const loop = (t) => { window.__gaps.push(t - last); last = t; if (window.__gaps.length < 600) requestAnimationFrame(loop); };
    requestAnimationFrame(loop);
  });
  const t0 = Date.now();
  await waitOnline(page);
  await page.locator('[data-testid="timeline"][data-rendered]').waitFor();
  // the first join loads the most recent events; earlier ones come with "Load earlier"
  const rendered = () => page.locator('[data-testid="timeline"] > li').count();
  const older = page.getByTestId('load-older');
  while (await rendered() < N && Date.now() - t0 < 20000) {
    if (await older.isVisible()) await older.click({ timeout: 1000 }).catch(() => {});
    await page.waitForTimeout(50);
  }
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid="timeline"] > li').length >= n, N, { timeout: 15000 });
  const elapsed = Date.now() - t0;
  const maxGap = await page.evaluate(() => Math.max(...window.__gaps.slice(1)));
  console.log(`500 events shown in ${elapsed} ms; longest frame ${Math.round(maxGap)} ms; long tasks ${JSON.stringify(await page.evaluate(() => window.__long))}`);
  assert.ok(elapsed < 10000, `shown in ${elapsed} ms`);
  assert.ok(maxGap < 1000, `longest frame ${maxGap} ms`);
  // the server may add its own events (the engagement opening); the 500 posted are all there once
  const count = await page.locator('[data-testid="timeline"] > li[data-kind="message"], [data-testid="timeline"] > li[data-kind="status"]').count();
  assert.equal(count, N);

  // typing stays responsive with the long timeline
  const input = page.getByTestId('composer-input');
  const t1 = Date.now();
  await input.click();
  await input.type('still quick');
  assert.ok(Date.now() - t1 < 3000);
  await input.press('Enter');
  await page.locator('[data-testid="message-text"]', { hasText: 'still quick' }).waitFor();
  await shot(page, 'load-500-1280');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
