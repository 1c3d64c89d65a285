#!/usr/bin/env node
// A CI job reports to an engagement: one `status` over HTTP (no connection
// needed: what a build step does), then one over the WebSocket with the
// library, waiting until the server has stored it.
//
//   PARLEY_URL=wss://parley.example/ws PARLEY_TOKEN=<bot token> PARLEY_ENG=42 \
//     node ci-status.mjs "Build 41 passed" 100
//
// In Node before 22, install `ws` next to this script: it is the WebSocket.
import { createClient } from '@parley/client';

const { PARLEY_URL: url, PARLEY_TOKEN: token, PARLEY_ENG: eng } = process.env;
const [text = 'CI run finished', progressArg] = process.argv.slice(2);
if (!url || !token || !eng) {
  console.error('set PARLEY_URL (ws:// or wss://…/ws), PARLEY_TOKEN (a bot token) and PARLEY_ENG');
  process.exit(2);
}
const progress = progressArg === undefined ? undefined : Number(progressArg);
const WebSocket = globalThis.WebSocket || (await import('ws')).default;
const client = createClient({ url, token, WebSocket });

try {
  // Over HTTP: retried with the same cid on a network failure, stored once.
  const viaHttp = await client.postStatus(eng, `${text} (HTTP)`, { progress });
  console.log(`HTTP: stored as #${viaHttp.seq}`);

  // Over the WebSocket: the post waits in the outbox until the server answers.
  await client.connect();
  const viaWs = await client.post(`eng:${eng}`, 'status', { text: `${text} (WebSocket)`, ...(progress === undefined ? {} : { progress }) });
  console.log(`WebSocket: stored as #${viaWs.seq}`);
} catch (err) {
  console.error(`not posted: ${err.code || 'error'}: ${err.message}`);
  process.exitCode = 1;
} finally {
  client.close();
}
