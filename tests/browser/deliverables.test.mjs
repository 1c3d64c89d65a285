// Files and deliverables in the browser (protocol §9.6, §9.9): a file
// attached to a message with its upload's progress bar (the upload slowed
// down so that it is seen running, and Send waits for it), an upload
// cancelled (nothing reaches the server), the chip's Download giving back
// the same bytes; the expert submits a deliverable with a file, the client
// sees it in the Deliverables panel with the review countdown and asks for a
// revision, the expert submits v2 marked final in `completion`, the client
// accepts it and the engagement is closed; the last day's warning with a
// short review window. Desktop 1280×800 and phone 390×844, axe-core clean.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import {
  serverAndBrowser, startServer, openEngagement, token, uniqueEng, waitOnline, shot, axeViolations, apiPost, until,
} from './harness.mjs';

const suite = serverAndBrowser();
const { skip } = suite;

const VIEWPORTS = [['desktop', { width: 1280, height: 800 }], ['phone', { width: 390, height: 844 }]];
const MiB = 1024 * 1024;

function people(eng) {
  return {
    client: token({ sub: 'u-ines', name: 'Inès Moreau', role: 'client', eng: [eng] }),
    expert: token({ sub: 'u-kwame', name: 'Kwame Mensah', role: 'expert', eng: [eng] }),
  };
}

const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

// Bytes that differ per test run, so that no upload finds them stored already.
function bytes(n, seed) {
  const buf = Buffer.alloc(n);
  const head = crypto.createHash('sha256').update(`${seed}-${Math.random()}`).digest();
  for (let i = 0; i < n; i += head.length) head.copy(buf, i);
  return buf;
}

// Why the server cannot run these tests (it has no file uploads, protocol
// §9.6, or no deliveries), or null when it can. Asked once.
let lacking;
function serverLacks(server) {
  lacking ??= (async () => {
    const eng = uniqueEng('probe');
    const t = people(eng);
    const res = await fetch(`${server.url}/api/v1/engagements/${eng}/files?name=probe.txt`, { method: 'POST', headers: { Authorization: `Bearer ${t.client}` }, body: 'probe' });
    if (res.status !== 201 && res.status !== 200) return `the server takes no uploads (POST …/files answered ${res.status})`;
    const d = await apiPost(server, t.expert, `eng:${eng}`, 'delivery', { deliverable: 'probe', text: 'probe', files: [{ sha256: (await res.json()).sha256, name: 'probe.txt' }] });
    if (d.status === 400) return `the server takes no deliveries (${JSON.stringify(d.json)})`;
    return null;
  })();
  return lacking;
}

async function check(page, name) {
  const found = await axeViolations(page);
  await shot(page, `deliverables-${name}`);
  assert.deepEqual(found, [], `${name}: serious or critical accessibility violations`);
}

// Proposes `topic` as `by` and accepts it as `decider`, over HTTP.
async function agree(server, eng, by, decider, topic, terms) {
  const p = await apiPost(server, by, `eng:${eng}`, 'proposal', { topic, text: `${topic} please`, terms });
  assert.equal(p.status, 201, JSON.stringify(p.json));
  const d = await apiPost(server, decider, `eng:${eng}`, 'decision', { proposal: p.json.seq, verdict: 'accepted' });
  assert.equal(d.status, 201, JSON.stringify(d.json));
}

async function toActive(server, eng, t) {
  await agree(server, eng, t.expert, t.client, 'phase', { to: 'agreement' });
  await agree(server, eng, t.client, t.expert, 'agreement', { scope: 'Market study' });
  await agree(server, eng, t.expert, t.client, 'phase', { to: 'active' });
}

// Uploads over HTTP as a test's set-up: the server's reply.
async function upload(server, tok, eng, name, buf) {
  const res = await fetch(`${server.url}/api/v1/engagements/${eng}/files?name=${encodeURIComponent(name)}`, {
    method: 'POST', headers: { Authorization: `Bearer ${tok}`, 'Content-Type': 'application/octet-stream' }, body: buf,
  });
  const json = await res.json().catch(() => ({}));
  assert.ok(res.status === 201 || res.status === 200, `upload ${name}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

async function fileStatus(server, tok, eng, sha) {
  const res = await fetch(`${server.url}/api/v1/engagements/${eng}/files/${sha}`, { method: 'HEAD', headers: { Authorization: `Bearer ${tok}` } });
  return res.status;
}

// Slows the page's uploads down (DevTools network emulation), so that a
// running upload can be seen and cancelled; `null` lifts it.
async function throttle(page, bytesPerSecond) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', bytesPerSecond
    ? { offline: false, latency: 20, downloadThroughput: -1, uploadThroughput: bytesPerSecond }
    : { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
}

async function showDetails(page, phone) {
  if (!phone) return;
  if (await page.locator('body.show-details').count()) return;
  await page.getByTestId('details-toggle').click();
  await page.locator('body.show-details').waitFor();
}

async function hideDetails(page, phone) {
  if (!phone) return;
  await page.keyboard.press('Escape');
  await page.locator('body:not(.show-details)').waitFor();
}

for (const [label, viewport] of VIEWPORTS) {
  const phone = label === 'phone';

  test(`a file attached to a message: progress, Send waits, cancel sends nothing, the chip downloads the same bytes (${label})`, { skip }, async (tc) => {
    const { server, browser } = suite;
    const reason = await serverLacks(server);
    if (reason) { tc.skip(reason); return; }
    const eng = uniqueEng('files');
    const t = people(eng);
    const client = await openEngagement(browser, server, t.client, eng, { viewport });
    const expert = await openEngagement(browser, server, t.expert, eng, { viewport });
    await Promise.all([waitOnline(client), waitOnline(expert)]);
    await client.getByTestId('composer-input').waitFor();

    // 8 MiB at 4 MiB/s: about two seconds in which the upload is seen running.
    const big = bytes(8 * MiB, 'big');
    await throttle(client, 4 * MiB);
    await client.getByTestId('attach-input').setInputFiles({ name: 'survey-results.csv', mimeType: 'text/csv', buffer: big });
    const item = client.getByTestId('attach-item').filter({ hasText: 'survey-results.csv' });
    await until(async () => ((await item.getAttribute('class')) || '').includes('state-uploading'), { message: 'the upload runs' });
    assert.equal(await client.getByTestId('send-button').isDisabled(), true, 'Send waits while the upload runs');
    const bar = item.getByTestId('attach-progress');
    assert.ok(await bar.isVisible(), 'the progress bar is shown');
    await until(async () => Number(await bar.evaluate((el) => el.value)) > 0, { message: 'the progress bar moves' });
    await shot(client, `deliverables-upload-${label}`);
    assert.match(await item.getByTestId('attach-percent').textContent(), /^\d{1,3}%$/);
    await client.locator('[data-testid="attach-item"].state-done').waitFor({ timeout: 20000 });
    assert.equal(await item.getByTestId('attach-percent').textContent(), '100%');
    assert.equal(await client.getByTestId('send-button').isDisabled(), false, 'Send again once the upload is done');

    // A second file cancelled half-way: it leaves the list and the server holds nothing of it.
    const other = bytes(8 * MiB, 'cancelled');
    await client.getByTestId('attach-input').setInputFiles({ name: 'draft.zip', mimeType: 'application/zip', buffer: other });
    const running = client.getByTestId('attach-item').filter({ hasText: 'draft.zip' });
    await until(async () => ((await running.getAttribute('class')) || '').includes('state-uploading'), { message: 'the second upload runs' });
    await running.getByTestId('attach-cancel').click();
    await running.waitFor({ state: 'detached' });
    await throttle(client, null);
    assert.equal(await fileStatus(server, t.client, eng, sha256(other)), 404, 'a cancelled upload is not stored');
    assert.equal(await client.getByTestId('attach-item').count(), 1);

    // A file dragged over the timeline lights up the drop target; dropped, it is uploaded too.
    const drag = (type) => client.evaluate((kind) => {
      const dt = new DataTransfer();
      dt.items.add(new File(['notes from the call'], 'call-notes.txt', { type: 'text/plain' }));
      document.querySelector('[data-testid="timeline-scroll"]').dispatchEvent(new DragEvent(kind, { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, type);
    await drag('dragover');
    assert.match(await client.getByTestId('timeline-scroll').getAttribute('class'), /drop-target/);
    assert.match(await client.getByTestId('composer').getAttribute('class'), /drop-target/);
    await drag('drop');
    await client.locator('[data-testid="attach-item"].state-done').filter({ hasText: 'call-notes.txt' }).waitFor();
    assert.doesNotMatch(await client.getByTestId('timeline-scroll').getAttribute('class'), /drop-target/);

    // Sent with a message: both pages show the chip with name, size, type and hash.
    await client.getByTestId('composer-input').fill('The survey results, as promised.');
    await client.getByTestId('composer-input').press('Enter');
    const chip = (page) => page.locator('[data-testid="timeline"] [data-testid="event-message"] [data-testid="file-chip"]').filter({ hasText: 'survey-results.csv' });
    await chip(expert).waitFor();
    await chip(client).waitFor();
    assert.equal(await client.getByTestId('attach-item').count(), 0, 'the list is empty once sent');
    await expert.locator('[data-testid="event-message"] [data-testid="file-chip"]').filter({ hasText: 'call-notes.txt' }).waitFor();
    const c = chip(expert);
    assert.equal(await c.getAttribute('data-sha256'), sha256(big));
    assert.equal(await c.getAttribute('data-family'), 'text');
    assert.equal(await c.getByTestId('file-size').textContent(), '8 MB');
    assert.equal(await c.getByTestId('file-hash').getAttribute('title'), `SHA-256 ${sha256(big)} (click to copy)`);
    assert.match(await c.getByTestId('file-hash').locator('.hash-text').textContent(), /^[0-9a-f]{8}…[0-9a-f]{4}$/);

    // Files alone, without a word: the message carries an empty text.
    await client.getByTestId('attach-input').setInputFiles({ name: 'logo.png', mimeType: 'image/png', buffer: bytes(2048, 'logo') });
    await client.locator('[data-testid="attach-item"].state-done').waitFor();
    await client.getByTestId('send-button').click();
    const alone = expert.locator('[data-testid="timeline"] [data-testid="event-message"]').filter({ has: expert.locator('[data-testid="file-chip"][data-family="image"]') });
    await alone.waitFor();
    assert.equal(await alone.getByTestId('message-text').count(), 0, 'no empty text line');

    // Download gives back the very bytes, under the file's name.
    const [download] = await Promise.all([expert.waitForEvent('download'), c.getByTestId('file-download').click()]);
    assert.equal(download.suggestedFilename(), 'survey-results.csv');
    assert.equal(sha256(fs.readFileSync(await download.path())), sha256(big));
    await check(expert, `message-${label}`);
    assert.deepEqual(client.problems, []);
    assert.deepEqual(expert.problems, []);
    await client.context().close();
    await expert.context().close();
  });

  test(`a deliverable from submission through a revision to the final version accepted, which closes the engagement (${label})`, { skip }, async (tc) => {
    const { server, browser } = suite;
    const reason = await serverLacks(server);
    if (reason) { tc.skip(reason); return; }
    const eng = uniqueEng('deliver');
    const t = people(eng);
    await toActive(server, eng, t);
    const client = await openEngagement(browser, server, t.client, eng, { viewport });
    const expert = await openEngagement(browser, server, t.expert, eng, { viewport });
    await Promise.all([waitOnline(client), waitOnline(expert)]);
    await client.locator('[data-testid="phase-track"][data-phase="active"]').waitFor();

    // The expert submits "report" v1 with a file uploaded in the dialog.
    const v1 = bytes(300 * 1024, 'v1');
    await showDetails(expert, phone);
    await expert.getByTestId('deliver-new').click();
    let dlg = expert.getByTestId('deliver-dialog');
    await dlg.waitFor();
    await dlg.getByTestId('deliver-key-input').fill('report');
    await dlg.getByTestId('deliver-text-input').fill('First draft of the market study.');
    await dlg.getByTestId('deliver-files-input').setInputFiles({ name: 'study-v1.pdf', mimeType: 'application/pdf', buffer: v1 });
    await dlg.locator('[data-testid="deliver-files-item"].state-done').waitFor();
    assert.equal(await dlg.getByTestId('deliver-files-percent').textContent(), '100%');
    await check(expert, `dialog-${label}`);
    await dlg.getByTestId('dialog-submit').click();
    await dlg.waitFor({ state: 'detached' });

    // The client sees it: status, countdown, revisions, the file with its hash, and both actions.
    await showDetails(client, phone);
    const item = client.locator('[data-testid="deliverables-panel"] [data-testid="deliverable"][data-key="report"]');
    await item.waitFor();
    assert.equal(await item.getByTestId('deliverable-status').textContent(), 'Awaiting client review');
    assert.equal(await item.getByTestId('deliverable-version').textContent(), 'v1');
    await until(async () => /^accepted automatically in \d+ d( \d+ h)?$/.test(await item.getByTestId('review-countdown').textContent()), { message: 'the countdown' });
    assert.equal(await item.getByTestId('review-warning').isVisible(), false, 'no warning before the last day');
    assert.equal(await item.getByTestId('deliverable-revisions').textContent(), 'Revisions: 2 of 2 revisions left');
    assert.equal(await item.locator('[data-testid="file-chip"]').getAttribute('data-sha256'), sha256(v1));
    await item.getByTestId('deliverable-accept').waitFor();
    await check(client, `panel-${label}`);
    // The timeline says who delivered what.
    await hideDetails(client, phone);
    const entry = client.locator('[data-testid="timeline"] [data-testid="event-delivery"]').first();
    assert.equal(await entry.getByTestId('delivery-line').textContent(), 'Kwame Mensah delivered report v1');
    await entry.locator('[data-testid="file-chip"]').waitFor();

    // A revision requested, "N of M revisions left" in the dialog.
    await showDetails(client, phone);
    await item.getByTestId('deliverable-revise').click();
    dlg = client.getByTestId('revise-dialog');
    await dlg.waitFor();
    assert.match(await dlg.getByTestId('revise-left').textContent(), /^2 of 2 revisions left/);
    await dlg.getByTestId('revise-text-input').fill('Please add the competitor table.');
    await dlg.getByTestId('dialog-submit').click();
    await dlg.waitFor({ state: 'detached' });
    await until(async () => (await item.getByTestId('deliverable-status').textContent()) === 'Revision requested', { message: 'revision requested' });
    assert.equal(await item.getByTestId('deliverable-revisions').textContent(), 'Revisions: 1 of 2 revisions left');
    assert.equal(await item.getByTestId('deliverable-accept').count(), 0, 'nothing to accept until the next version');

    // Into completion; the expert submits v2, final, from "Submit new version".
    await agree(server, eng, t.expert, t.client, 'phase', { to: 'completion' });
    await expert.locator('[data-testid="phase-track"][data-phase="completion"]').waitFor();
    const v2 = bytes(200 * 1024, 'v2');
    await showDetails(expert, phone);
    await expert.locator('[data-testid="deliverable"][data-key="report"] [data-testid="deliverable-new-version"]').click();
    dlg = expert.getByTestId('deliver-dialog');
    await dlg.waitFor();
    assert.equal(await dlg.getByTestId('deliver-key-input').inputValue(), 'report');
    await dlg.getByTestId('deliver-text-input').fill('Final study with the competitor table.');
    await dlg.getByTestId('deliver-files-input').setInputFiles({ name: 'study-v2.pdf', mimeType: 'application/pdf', buffer: v2 });
    await dlg.locator('[data-testid="deliver-files-item"].state-done').waitFor();
    await dlg.getByTestId('deliver-final').check();
    await dlg.getByTestId('dialog-submit').click();
    await dlg.waitFor({ state: 'detached' });

    // The client accepts v2: the dialog names the version and its file; the engagement closes.
    await until(async () => (await item.getByTestId('deliverable-version').textContent()) === 'v2', { message: 'v2 in the panel' });
    await item.getByTestId('deliverable-final').waitFor();
    assert.equal(await item.getByTestId('deliverable-status').textContent(), 'Awaiting client review');
    await item.getByTestId('deliverable-accept').click();
    dlg = client.getByTestId('accept-delivery-dialog');
    await dlg.waitFor();
    assert.match(await dlg.textContent(), /study-v2\.pdf/);
    await dlg.getByTestId('accept-final-note').waitFor();
    await shot(client, `deliverables-accept-${label}`);
    await dlg.getByTestId('dialog-submit').click();
    await dlg.waitFor({ state: 'detached' });
    await until(async () => (await item.getByTestId('deliverable-status').textContent()) === 'Accepted', { message: 'accepted' });
    await client.locator('[data-testid="phase-track"][data-phase="closed"]').waitFor();
    await expert.locator('[data-testid="phase-track"][data-phase="closed"]').waitFor();
    assert.equal(await item.getByTestId('deliverable-accept').count(), 0);
    assert.equal(await item.getByTestId('deliverable-revise').count(), 0);
    await check(client, `closed-${label}`);
    await hideDetails(client, phone);
    await client.locator('[data-testid="timeline"] [data-testid="delivery-decision"]').filter({ hasText: 'Inès Moreau accepted report v2 (final)' }).waitFor();
    assert.deepEqual(client.problems, []);
    assert.deepEqual(expert.problems, []);
    await client.context().close();
    await expert.context().close();
  });
}

test('on the review window\'s last day the deadline is a warning, the client runs out of revisions, and refused uploads are said in words', { skip }, async (tc) => {
  const reason = await serverLacks(suite.server);
  if (reason) { tc.skip(reason); return; }
  const server = await startServer({ args: ['--review-window', '20h', '--max-file-size', '65536', '--max-engagement-files', '200000'] }).catch((err) => { tc.skip(`the server takes no --review-window: ${err.message.split('\n')[0]}`); return null; });
  if (!server) return;
  try {
    const eng = uniqueEng('lastday');
    const t = people(eng);
    await toActive(server, eng, t);
    const file = await upload(server, t.expert, eng, 'notes.txt', bytes(1000, 'notes'));
    let seq = null;
    // Three versions and two revision requests use both revisions allowed.
    for (let v = 1; v <= 3; v += 1) {
      const r = await apiPost(server, t.expert, `eng:${eng}`, 'delivery', { deliverable: 'notes', text: `Notes v${v}`, files: [{ sha256: file.sha256, name: 'notes.txt' }] });
      assert.equal(r.status, 201, JSON.stringify(r.json));
      seq = r.json.seq;
      if (v < 3) assert.equal((await apiPost(server, t.client, `eng:${eng}`, 'revision_request', { delivery: seq, text: 'Again' })).status, 201);
    }
    const client = await openEngagement(suite.browser, server, t.client, eng);
    await waitOnline(client);
    const item = client.locator('[data-testid="deliverable"][data-key="notes"]');
    await item.waitFor();
    const warning = item.getByTestId('review-warning');
    await warning.waitFor();
    assert.match(await warning.textContent(), /^⚠ Accepted automatically on .+ unless you act$/);
    assert.match(await item.getByTestId('review-due').getAttribute('class'), /last-day/);
    assert.equal(await item.getByTestId('deliverable-revise').count(), 0, 'no revision left: no button');
    assert.match(await item.getByTestId('deliverable-revisions').textContent(), /^No revisions left \(2 of 2 used\)/);
    await item.getByTestId('deliverable-accept').waitFor();
    await check(client, 'last-day-desktop');

    // A file over --max-file-size, and files over the engagement's quota: refused, and said so in the composer.
    const error = client.getByTestId('attach-error');
    await client.getByTestId('attach-input').setInputFiles({ name: 'huge.bin', mimeType: 'application/octet-stream', buffer: bytes(100 * 1024, 'huge') });
    await error.waitFor();
    assert.equal(await error.textContent(), 'huge.bin: The file is too large: files are at most 64 KB.');
    assert.equal(await client.getByTestId('attach-item').count(), 0, 'the refused file leaves the list');
    for (let i = 1; i <= 4; i += 1) {
      await client.getByTestId('attach-input').setInputFiles({ name: `part-${i}.bin`, mimeType: 'application/octet-stream', buffer: bytes(60000, `part-${i}`) });
      await client.locator('[data-testid="attach-item"]').filter({ hasText: `part-${i}.bin` }).or(error.filter({ hasText: `part-${i}.bin` })).first().waitFor();
      await until(async () => (await client.locator('[data-testid="attach-item"]:not(.state-done)').count()) === 0, { message: `part ${i} settled` });
    }
    assert.equal(await error.textContent(), 'part-4.bin: The engagement\'s storage quota is used up: the engagement\'s files would exceed 195 KB.');
    assert.equal(await client.locator('[data-testid="attach-item"].state-done').count(), 3);
    assert.deepEqual(client.problems, []);
    await client.context().close();
  } finally {
    await server.cleanup();
  }
});
