// A join whose window is larger than one reply may carry (protocol §9.10):
// the server answers the oldest events and "more": true, and the page fetches
// the rest with history, so the timeline shows every event without a gap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  serverAndBrowser, openClient, token, uniqueEng, waitOnline, shot, apiPost, timelineSeqs,
} from './harness.mjs';

const suite = serverAndBrowser();
const { skip } = suite;

test('a join window over the reply bound is completed with history, without a gap', { skip }, async () => {
  const eng = uniqueEng('wide');
  const tokA = token({ sub: 'u-a', name: 'Kim', role: 'client', eng: [eng] });
  // 180 messages of 8000 characters: about 1.5 MB, over the 1 MiB a reply may take.
  const N = 180;
  let posted = 0;
  while (posted < N) {
    const i = posted + 1;
    const r = await apiPost(suite.server, tokA, `eng:${eng}`, 'message', { text: `Long message ${i} ${'x'.repeat(8000)}` }, `wide-${i}`);
    if (r.status === 429) { await new Promise((res) => setTimeout(res, 200)); continue; }
    assert.ok(r.status === 201 || r.status === 200, JSON.stringify(r.json));
    posted += 1;
  }

  const page = await openClient(suite.browser, suite.server, tokA, { hash: '' });
  await waitOnline(page);
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid="timeline"] > li[data-kind="message"]').length >= n, N, { timeout: 20000 });
  const seqs = (await timelineSeqs(page)).filter((s) => s > 0);
  const last = seqs[seqs.length - 1];
  assert.equal(last, N + 1, 'the newest event is shown');
  for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1] + 1, `no gap after seq ${seqs[i - 1]}`);
  await shot(page, 'large-window-1280');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
