// Shared set-up for the browser tests: the parley binary on a free loopback
// port with a temporary data directory, signed tokens, headless Chromium.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { after, before } from 'node:test';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(here, '../..');
export const BIN = process.env.PARLEY_BIN || path.join(REPO, 'build/server/parley');
export const WEB_ROOT = path.join(REPO, 'web-client');
export const ARTIFACTS = path.join(REPO, 'tests/artifacts');
export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
export const SECRET = `browser-test-${crypto.randomBytes(8).toString('hex')}`;

// Why the suite cannot run here, or null when it can.
// Under ctest (PARLEY_REQUIRE_BROWSER) a missing piece is a failure, not a skip.
export function skipReason() {
  let reason = null;
  if (!fs.existsSync(BIN)) reason = `parley binary not found at ${BIN} (build it or set PARLEY_BIN)`;
  else if (!fs.existsSync(CHROMIUM)) reason = `chromium not found at ${CHROMIUM}`;
  if (reason && process.env.PARLEY_REQUIRE_BROWSER) throw new Error(reason);
  return reason;
}

// One server and one browser for a test file: started before its tests and
// closed after them. `skip` holds the reason when the suite cannot run here.
export function serverAndBrowser(serverOptions = {}) {
  const suite = { skip: skipReason() ?? false, server: null, browser: null };
  before(async () => {
    if (suite.skip) return;
    suite.server = await startServer(serverOptions);
    suite.browser = await launchBrowser();
  });
  after(async () => {
    if (suite.browser) await suite.browser.close();
    if (suite.server) await suite.server.cleanup();
  });
  return suite;
}

// The decision log is signed (protocol §9.11): one Ed25519 key per suite run,
// as PKCS#8 PEM beside the data directory's files.
const SIGNING_KEY_PEM = crypto.generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' });

function signingKeyFile(dataDir) {
  const file = path.join(dataDir, 'test-signing-key.pem');
  if (!fs.existsSync(file)) fs.writeFileSync(file, SIGNING_KEY_PEM, { mode: 0o600 });
  return file;
}

// Starts parley and resolves once it prints its ready line.
// `args` are further command-line options (e.g. a short `--reply-sla`).
// `dev` starts it as `./parley.sh run` does: `--dev`, no secret and no
// signing key given, so the server makes its own and prints the demo links.
export async function startServer({ port = 0, dataDir, instance = 'browser-test', args = [], dev = false } = {}) {
  const dir = dataDir || fs.mkdtempSync(path.join(os.tmpdir(), 'parley-browser-'));
  const argv = dev
    ? ['--dev', '--data-dir', dir, '--web-root', WEB_ROOT, '--listen', `127.0.0.1:${port}`, ...args]
    : ['--listen', `127.0.0.1:${port}`, '--data-dir', dir, '--instance', instance, '--web-root', WEB_ROOT, ...args];
  const cmd = BIN;
  const cmdArgs = argv;
  const env = { ...process.env, PARLEY_SECRET: SECRET, PARLEY_SIGNING_KEY_FILE: dev ? '' : signingKeyFile(dir) };
  if (dev) { delete env.PARLEY_SECRET; delete env.PARLEY_SIGNING_KEY_FILE; }
  const proc = spawn(cmd, cmdArgs, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stderr.on('data', (d) => { output += d; });
  const url = await new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`parley did not report ready within 15 s:\n${output}`)), 15000);
    proc.stdout.on('data', (d) => {
      buf += d;
      output += d;
      const m = /parley: listening on (http:\/\/127\.0\.0\.1:(\d+)\/)/.exec(buf);
      if (m) { clearTimeout(timer); resolve(m[1].replace(/\/$/, '')); }
    });
    proc.on('exit', (code, signal) => { clearTimeout(timer); reject(new Error(`parley exited (${code ?? signal}) before it was ready:\n${output}`)); });
  });
  proc.stdout.resume();
  const actualPort = Number(new URL(url).port);
  const server = {
    url, port: actualPort, dataDir: dir, proc,
    output: () => output,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const done = new Promise((r) => proc.once('exit', r));
      proc.kill(signal);
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await done;
      clearTimeout(t);
    },
    async cleanup() {
      await server.stop();
      if (!dataDir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

export function sign(claims) {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = enc({ alg: 'HS256', typ: 'JWT' });
  const body = enc(claims);
  const sig = crypto.createHmac('sha256', SECRET).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

export function token({ sub, name, role, eng, ttl = 3600 }) {
  return sign({ sub, name, role, eng, exp: Math.floor(Date.now() / 1000) + ttl });
}

export function uniqueEng(prefix) {
  return `${prefix}-${crypto.randomBytes(4).toString('hex')}`;
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}

// Opens the client signed in with `tok`; collects page errors and CSP reports.
// `setup(context)` runs before the page opens (permissions, init scripts);
// `timezoneId` is the page's zone (the machine's when not given); `link`
// opens that address (a sign-in link the server printed) instead.
export async function openClient(browser, server, tok, { viewport = { width: 1280, height: 800 }, hash = '', setup, timezoneId, link } = {}) {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1, ...(timezoneId ? { timezoneId } : {}) });
  if (setup) await setup(context);
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (err) => page.problems.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/Failed to load resource|WebSocket connection to/.test(msg.text())) page.problems.push(`console: ${msg.text()}`);
  });
  page.on('dialog', (d) => { page.problems.push(`dialog: ${d.message()}`); d.dismiss().catch(() => {}); });
  await page.goto(link || `${server.url}/#token=${tok}${hash}`);
  return page;
}

export async function waitOnline(page, timeout = 15000) {
  await page.locator('[data-testid="connection-state"][data-state="online"]').waitFor({ timeout });
}

// Screenshots are written only when PARLEY_SCREENSHOTS=1, so that test runs
// (CI included) do not rewrite the committed set under tests/artifacts/.
export const SCREENSHOTS = process.env.PARLEY_SCREENSHOTS === '1';

export async function shot(page, name) {
  if (!SCREENSHOTS) return;
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
}

// axe-core's browser bundle, read once. The page's CSP forbids injected
// <script> tags, so the source is evaluated through the DevTools protocol,
// which the CSP does not govern.
let axeSource = null;
function axeScript() {
  if (!axeSource) axeSource = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  return axeSource;
}

// The axe-core violations on the page as it is now, at the given impact
// levels: [{ id, impact, help, targets: ['selector', …] }].
export async function axeViolations(page, { impact = ['serious', 'critical'], include } = {}) {
  if (!(await page.evaluate(() => Boolean(window.axe)))) await page.evaluate(axeScript());
  // Contrast is judged on what settles: a fade still running (the actions of
  // a hovered entry) would be measured half transparent.
  await page.evaluate(() => Promise.all(document.getAnimations()
    .filter((a) => a.effect && a.effect.getComputedTiming().iterations !== Infinity)
    .map((a) => a.finished.catch(() => {}))));
  const violations = await page.evaluate(async (ctx) => {
    const res = await window.axe.run(ctx || document, { resultTypes: ['violations'] });
    return res.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')) }));
  }, include || null);
  return violations.filter((v) => impact.includes(v.impact));
}

export async function send(page, text) {
  const input = page.getByTestId('composer-input');
  await input.click();
  await input.fill(text);
  await input.press('Enter');
}

// Texts of the messages shown in the page's timeline, in order.
export async function messageTexts(page) {
  return page.locator('[data-testid="timeline"] [data-testid="message-text"]').allTextContents();
}

export async function timelineSeqs(page) {
  return page.locator('[data-testid="timeline"] > li[data-seq]').evaluateAll((els) => els.map((e) => Number(e.dataset.seq)));
}

// POST /api/v1/channels/<ch>/events with a bearer token.
export async function apiPost(server, tok, ch, kind, body, cid) {
  const res = await fetch(`${server.url}/api/v1/channels/${encodeURIComponent(ch)}/events`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${tok}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(cid ? { kind, body, cid } : { kind, body }),
  });
  const json = await res.json().catch(() => ({}));
  return { status: res.status, json };
}

// A post over HTTP that must be stored: its seq.
export async function postOk(server, tok, ch, kind, body) {
  const r = await apiPost(server, tok, ch, kind, body);
  assert.equal(r.status, 201, `${kind}: ${JSON.stringify(r.json)}`);
  return r.json.seq;
}

// Creates engagement `id` as the platform does (protocol §9.1): a PUT by a
// service token. Returns the state the server answers with.
export async function createEngagement(server, id, body) {
  const tok = token({ sub: 'platform', name: 'Platform', role: 'service', eng: ['*'] });
  const res = await fetch(`${server.url}/api/v1/engagements/${encodeURIComponent(id)}`, {
    method: 'PUT',
    headers: { Authorization: `Bearer ${tok}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = await res.json().catch(() => ({}));
  assert.equal(res.status, 201, `PUT engagement ${id}: ${JSON.stringify(json)}`);
  return json.state || json;
}

// A page signed in with `tok`, online, showing engagement `eng`.
export async function openEngagement(browser, server, tok, eng, options = {}) {
  const page = await openClient(browser, server, tok, { hash: '', ...options });
  await waitOnline(page);
  await page.goto(`${server.url}/#/eng/${eng}`);
  return page;
}

export async function until(fn, { timeout = 10000, interval = 100, message = 'condition' } = {}) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, interval));
  }
  throw new Error(`timed out waiting for ${message} (last: ${JSON.stringify(last)})`);
}
