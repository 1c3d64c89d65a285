// The page offers exactly the actions the server's `can` lists (protocol
// §9.9): no backwards or skipped phase, nothing but messages once the
// engagement is closed, and Accept / Reject only where deciding is allowed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  serverAndBrowser, openClient, token, uniqueEng, waitOnline, apiPost, until,
} from './harness.mjs';

const suite = serverAndBrowser();
const { skip } = suite;

async function stateCan(server, tok, eng) {
  const res = await fetch(`${server.url}/api/v1/engagements/${eng}`, { headers: { Authorization: `Bearer ${tok}` } });
  assert.equal(res.status, 200);
  const body = await res.json();
  return (body.state || body).can;
}

async function dialogTopics(page) {
  await page.getByTestId('action-propose').click();
  const dlg = page.getByTestId('proposal-dialog');
  await dlg.waitFor();
  const topics = await dlg.getByTestId('proposal-topic-select').locator('option').evaluateAll((os) => os.map((o) => o.value));
  const targets = await dlg.getByTestId('proposal-phase-select').locator('option').evaluateAll((os) => os.map((o) => o.value));
  await page.keyboard.press('Escape');
  await dlg.waitFor({ state: 'hidden' });
  return { topics, targets };
}

// Proposes `topic` as `by` and accepts it as `decider`, over HTTP.
async function agree(server, eng, by, decider, topic, terms) {
  const p = await apiPost(server, by, `eng:${eng}`, 'proposal', { topic, text: `${topic} please`, terms });
  assert.equal(p.status, 201, JSON.stringify(p.json));
  const d = await apiPost(server, decider, `eng:${eng}`, 'decision', { proposal: p.json.seq, verdict: 'accepted' });
  assert.equal(d.status, 201, JSON.stringify(d.json));
}

test('the actions offered are the ones the server lists in can, and none once closed', { skip }, async () => {
  const eng = uniqueEng('can');
  const clientTok = token({ sub: 'u-client', name: 'Priya Nair', role: 'client', eng: [eng] });
  const expertTok = token({ sub: 'u-expert', name: 'Tomás Ruiz', role: 'expert', eng: [eng] });
  const client = await openClient(suite.browser, suite.server, clientTok);
  await waitOnline(client);
  await client.locator('[data-testid="phase-track"][data-phase="discovery"]').waitFor();

  // The proposal dialog lists the topics of `propose:<topic>` and, for a phase
  // change, only the next phase.
  const can = await stateCan(suite.server, clientTok, eng);
  const offered = await dialogTopics(client);
  // (A call has a dialog of its own, behind "Propose a call".)
  const listed = can.filter((a) => a.startsWith('propose:')).map((a) => a.slice(8)).filter((t) => t !== 'resolution' && t !== 'call');
  assert.deepEqual([...offered.topics].sort(), [...listed].sort());
  assert.equal(await client.getByTestId('action-call').count(), can.includes('propose:call') ? 1 : 0);
  assert.deepEqual(offered.targets, ['agreement']);
  await client.getByTestId('action-status').waitFor();
  await client.getByTestId('action-flag').waitFor();

  // A proposal of the client's own is not decided by the client; the expert's is.
  const own = await apiPost(suite.server, clientTok, `eng:${eng}`, 'proposal', { topic: 'timeline', text: 'Two weeks', terms: { weeks: 2 } });
  assert.equal(own.status, 201);
  const ownCard = client.locator(`[data-testid="timeline"] > li[data-seq="${own.json.seq}"]`);
  await ownCard.waitFor();
  assert.equal(await ownCard.getByTestId('proposal-accept').count(), 0, 'no Accept on the reader\'s own proposal');
  const theirs = await apiPost(suite.server, expertTok, `eng:${eng}`, 'proposal', { topic: 'compensation', text: 'Fee', terms: { fee: 100 } });
  assert.equal(theirs.status, 201);
  await client.locator(`[data-testid="timeline"] > li[data-seq="${theirs.json.seq}"] [data-testid="proposal-accept"]`).waitFor();

  // Through to closed: then only messages are offered.
  await agree(suite.server, eng, expertTok, clientTok, 'phase', { to: 'agreement' });
  await agree(suite.server, eng, clientTok, expertTok, 'agreement', { scope: 'Interviews' });
  await agree(suite.server, eng, expertTok, clientTok, 'phase', { to: 'active' });
  await agree(suite.server, eng, expertTok, clientTok, 'phase', { to: 'completion' });
  await agree(suite.server, eng, expertTok, clientTok, 'phase', { to: 'closed' });
  // Once closed: messages, and a review while the review period runs (§9.7, offered by its own form).
  const closedCan = await stateCan(suite.server, clientTok, eng);
  assert.deepEqual(closedCan.filter((a) => a !== 'review'), ['message']);
  await client.locator('[data-testid="phase-track"][data-phase="closed"]').waitFor();
  await until(async () => (await client.locator('[data-testid^="action-"]').count()) === 0, { message: 'no actions once closed' });
  if (closedCan.includes('review')) await client.getByTestId('review-write').first().waitFor();
  else assert.equal(await client.getByTestId('review-write').count(), 0);
  assert.equal(await client.locator('[data-testid="timeline"] [data-testid="proposal-accept"]').count(), 0, 'nothing left to decide');
  await client.getByTestId('composer-input').waitFor();
  assert.deepEqual(client.problems, []);
});
