// Links in messages: https URLs are clickable, open in a new tab without
// handing over the opener or referrer; everything else stays text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  serverAndBrowser, openClient, token, uniqueEng, waitOnline, apiPost,
} from './harness.mjs';

const suite = serverAndBrowser();
const { skip } = suite;

test('https links in a message are clickable, nothing else is markup', { skip }, async () => {
  const eng = uniqueEng('links');
  const bobTok = token({ sub: 'u-bob', name: 'Bob', role: 'expert', eng: [eng] });
  const page = await openClient(suite.browser, suite.server, token({ sub: 'u-alice', name: 'Alice', role: 'client', eng: [eng] }));
  await waitOnline(page);
  const text = 'Draft: https://docs.example.com/draft?v=2. Not these: javascript:window.__pwned=1 '
    + 'http://plain.example.com https://x.y/"><img src=x onerror=window.__pwned=2>';
  const r = await apiPost(suite.server, bobTok, `eng:${eng}`, 'message', { text });
  assert.equal(r.status, 201, JSON.stringify(r.json));

  const msg = page.locator('[data-testid="event-message"]', { hasText: 'Draft:' });
  await msg.waitFor();
  assert.equal(await msg.getByTestId('message-text').textContent(), text, 'the text is shown exactly as sent');
  const anchors = await msg.locator('a').evaluateAll((els) => els.map((a) => ({
    href: a.getAttribute('href'), text: a.textContent, target: a.target, rel: a.rel,
  })));
  assert.deepEqual(anchors, [
    { href: 'https://docs.example.com/draft?v=2', text: 'https://docs.example.com/draft?v=2', target: '_blank', rel: 'noopener noreferrer' },
    { href: 'https://x.y/', text: 'https://x.y/', target: '_blank', rel: 'noopener noreferrer' },
  ]);
  assert.equal(await msg.locator('img, script').count(), 0);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
