// Hostile text shows as text and runs nothing; the page is served under a
// Content-Security-Policy that forbids inline scripts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  serverAndBrowser, openClient, token, uniqueEng, waitOnline, shot, send, apiPost,
} from './harness.mjs';

const suite = serverAndBrowser();
const { skip } = suite;

const HOSTILE = [
  '<img src=x onerror="window.__pwned=1;alert(1)">',
  '<script>window.__pwned=2</script>',
  '"><svg onload=window.__pwned=3>',
  '<a href="javascript:window.__pwned=4">click</a>',
];

test('the client is served with a CSP that forbids inline scripts', { skip }, async () => {
  const res = await fetch(`${suite.server.url}/`);
  assert.equal(res.status, 200);
  const csp = res.headers.get('content-security-policy') || '';
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
});

async function twoPages(prefix) {
  const eng = uniqueEng(prefix);
  const evilName = '<img src=x onerror=window.__pwned=5>';
  const evilTok = token({ sub: 'u-evil', name: evilName, role: 'expert', eng: [eng] });
  const victim = await openClient(suite.browser, suite.server, token({ sub: 'u-v', name: 'Victor', role: 'client', eng: [eng] }));
  const evil = await openClient(suite.browser, suite.server, evilTok);
  await Promise.all([waitOnline(victim), waitOnline(evil)]);
  const post = async (kind, body) => {
    const r = await apiPost(suite.server, evilTok, `eng:${eng}`, kind, body);
    assert.equal(r.status, 201, `${kind}: ${JSON.stringify(r.json)}`);
  };
  return { eng, evilName, victim, evil, post };
}

async function assertInert(page) {
  const state = await page.evaluate(() => ({
    pwned: window.__pwned,
    injected: document.querySelectorAll('#app img, #app script, #app svg, #app iframe, #app b, dialog img').length,
  }));
  assert.deepEqual(state, { pwned: undefined, injected: 0 });
  assert.deepEqual(page.problems, []);
}

test('hostile text in messages, names and status updates is shown as text', { skip }, async () => {
  const { evilName, victim, evil, post } = await twoPages('xss');
  for (const text of HOSTILE) await send(evil, text);
  await post('status', { text: '<b>bold</b><script>window.__pwned=6</script>', progress: 40 });

  for (const text of HOSTILE) {
    await victim.locator('[data-testid="message-text"]', { hasText: text }).waitFor();
  }
  await victim.locator('[data-testid="event-status"]').waitFor();
  await victim.waitForTimeout(500);

  assert.deepEqual(await victim.locator('[data-testid="message-text"]').allTextContents(), HOSTILE);
  assert.equal(await victim.locator('[data-testid="event-message"] [data-testid="sender"]').first().textContent(), evilName);
  assert.match(await victim.locator('[data-testid="status-text"]').textContent(), /<script>/);
  await assertInert(victim);
  await assertInert(evil);
  await shot(victim, 'hostile-text-1280');
  await victim.context().close();
  await evil.context().close();
});

test('hostile text in flags and proposals is shown as text', { skip }, async () => {
  const { victim, evil, post } = await twoPages('xss-flags');
  await post('flag', { type: 'risk', text: '<iframe src="javascript:window.__pwned=7"></iframe>' });
  await post('proposal', { topic: 'scope_change', text: '<img src=x onerror=window.__pwned=8>', terms: { '<b>k</b>': '<img src=x onerror=window.__pwned=9>' } });
  await victim.locator('[data-testid="event-flag"]', { hasText: '<iframe' }).waitFor();
  await victim.locator('[data-testid="event-proposal"]').waitFor();
  await victim.waitForTimeout(500);
  assert.match(await victim.locator('[data-testid="timeline"] [data-testid="event-proposal"] [data-testid="terms"]').textContent(), /<b>k<\/b>.*onerror/);
  await assertInert(victim);
  await shot(victim, 'hostile-flags-1280');
  await victim.context().close();
  await evil.context().close();
});
