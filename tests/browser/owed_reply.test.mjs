// "Who owes a reply, and by when" in the engagement header (protocol §4
// `owed_reply`): said to the party owing it, to the other party and to
// support; nothing while nobody owes one; the warning style once the server
// says the reply is overdue (a short --reply-sla makes it so quickly).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  serverAndBrowser, token, uniqueEng, postOk, openEngagement as openEngagementPage, until, send, axeViolations, shot, createEngagement,
} from './harness.mjs';

const suite = serverAndBrowser({ args: ['--reply-sla', '4s'] });
const { skip } = suite;
const PHONE = { width: 390, height: 844 };

async function acceptedEngagement(eng) {
  const state = await createEngagement(suite.server, eng, {
    title: 'Pricing study',
    client: { id: 'or-alice', name: 'Alice Client' },
    expert: { id: 'or-bob', name: 'Bob Expert' },
  });
  const t = {
    client: token({ sub: 'or-alice', name: 'Alice Client', role: 'client', eng: [eng] }),
    expert: token({ sub: 'or-bob', name: 'Bob Expert', role: 'expert', eng: [eng] }),
    support: token({ sub: 'or-sam', name: 'Sam Support', role: 'support', eng: ['*'] }),
  };
  await postOk(suite.server, t.expert, `eng:${eng}`, 'decision', { proposal: state.open_proposals[0].seq, verdict: 'accepted' });
  return t;
}

async function openEngagement(eng, tok, options = {}) {
  const page = await openEngagementPage(suite.browser, suite.server, tok, eng, options);
  await page.locator('[data-testid="phase-track"][data-phase="discovery"]').waitFor();
  return page;
}

const owedText = (page) => page.getByTestId('owed-reply-text').textContent({ timeout: 10000 });

test('the header says who owes a reply to whom, and turns to a warning once the server says it is overdue', { skip }, async () => {
  const eng = uniqueEng('owed');
  const t = await acceptedEngagement(eng);
  const expert = await openEngagement(eng, t.expert);
  const client = await openEngagement(eng, t.client);
  const support = await openEngagement(eng, t.support);
  // Nobody owes anything yet.
  for (const page of [expert, client, support]) assert.equal(await page.getByTestId('owed-reply').isVisible(), false);

  await send(client, 'Could you send the first figures?');
  await until(async () => /^You owe a reply/.test(await owedText(expert)), { message: 'the expert owes' });
  assert.match(await owedText(client), /^Bob Expert owes you a reply/);
  await until(async () => /^Bob Expert owes Alice Client a reply/.test(await owedText(support)), { message: 'support sees the debt' });
  assert.deepEqual(await axeViolations(expert, { include: '[data-testid="channel"]' }), []);
  await shot(expert, 'owed-reply-expert');

  // The server's reply SLA (4 s here) passes: overdue, in the warning style, for everyone.
  for (const page of [expert, client]) {
    await page.locator('[data-testid="owed-reply"][data-overdue="true"]').waitFor({ timeout: 20000 });
  }
  assert.match(await owedText(expert), /^You owe a reply — overdue/);
  assert.match(await owedText(client), /^Bob Expert owes you a reply — overdue/);
  const colour = await expert.getByTestId('owed-reply').evaluate((el) => getComputedStyle(el).color);
  assert.equal(colour, 'rgb(201, 42, 42)', 'overdue is shown in the warning colour');
  assert.deepEqual(await axeViolations(expert, { include: '[data-testid="channel"]' }), []);
  await shot(expert, 'owed-reply-overdue');

  // The expert answers: now the client owes the reply, and it is not overdue.
  await send(expert, 'Here they are.');
  await until(async () => /^You owe a reply/.test(await owedText(client)), { message: 'the client owes' });
  assert.match(await owedText(expert), /^Alice Client owes you a reply/);
  assert.equal(await expert.getByTestId('owed-reply').getAttribute('data-overdue'), 'false');
  for (const page of [expert, client, support]) assert.deepEqual(page.problems, []);
  for (const page of [expert, client, support]) await page.context().close();
});

test('on a phone the debt is shown in the header too', { skip }, async () => {
  const eng = uniqueEng('owed-phone');
  const t = await acceptedEngagement(eng);
  await postOk(suite.server, t.client, `eng:${eng}`, 'message', { text: 'Any news?' });
  const expert = await openEngagement(eng, t.expert, { viewport: PHONE });
  await until(async () => /^You owe a reply/.test(await owedText(expert)), { message: 'the expert owes' });
  const box = await expert.getByTestId('owed-reply').boundingBox();
  assert.ok(box && box.x >= 0 && box.x + box.width <= PHONE.width, `inside the screen: ${JSON.stringify(box)}`);
  assert.deepEqual(await axeViolations(expert), []);
  await shot(expert, 'owed-reply-phone');
  assert.deepEqual(expert.problems, []);
  await expert.context().close();
});
