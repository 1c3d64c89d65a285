// The CI bot example of the client library's README, run as its own process
// against the real server, so that the example cannot rot.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { startServer, cleanup, userToken, uniqueEng, binaryAvailable, repoRoot, httpRequest } from '../integration/harness.mjs';

const skip = !binaryAvailable() && 'the parley binary is not built';
const EXAMPLE = path.join(repoRoot, 'web-client', 'lib', 'examples', 'ci-status.mjs');

after(cleanup);

// Runs the example; resolves with {code, stdout, stderr}.
function runExample(env, args) {
  return new Promise((resolve) => {
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PARLEY_')));
    execFile(process.execPath, [EXAMPLE, ...args], { env: { ...inherited, ...env }, timeout: 30000 }, (err, stdout, stderr) => {
      resolve({ code: err ? err.code : 0, stdout, stderr });
    });
  });
}

test('the CI example posts one status over HTTP and one over the WebSocket', { skip }, async () => {
  const server = await startServer();
  const eng = uniqueEng('ci');
  const run = await runExample({ PARLEY_URL: server.wsUrl, PARLEY_TOKEN: userToken('ci', 'bot', [eng]), PARLEY_ENG: eng }, ['Build 41 passed', '100']);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /HTTP: stored as #\d+/);
  assert.match(run.stdout, /WebSocket: stored as #\d+/);

  const res = await httpRequest(server, 'GET', `/api/v1/channels/eng%3A${eng}/events?after=0`, { token: userToken('alice', 'client', [eng]) });
  assert.equal(res.status, 200);
  const statuses = res.json.events.filter((e) => e.kind === 'status');
  assert.deepEqual(statuses.map((e) => [e.body.text, e.body.progress, e.from.id, e.from.role]), [
    ['Build 41 passed (HTTP)', 100, 'ci', 'bot'],
    ['Build 41 passed (WebSocket)', 100, 'ci', 'bot'],
  ]);
});

test('the CI example says what is missing, and fails when the token is refused', { skip }, async () => {
  const missing = await runExample({}, []);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /PARLEY_URL/);

  const server = await startServer();
  const eng = uniqueEng('ci');
  const wrong = userToken('ci', 'bot', ['another-engagement']);
  const refused = await runExample({ PARLEY_URL: server.wsUrl, PARLEY_TOKEN: wrong, PARLEY_ENG: eng }, ['x']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /not posted: forbidden/);
});
