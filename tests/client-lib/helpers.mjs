// Shared pieces of the client library's tests: a client made for a test
// server, what it receives, and waiting for a condition.
import { after } from 'node:test';
import WebSocket from 'ws';
import { createClient } from '../../web-client/lib/index.js';
import { startServer, cleanup } from '../integration/harness.mjs';

const live = new Set();

// A library client for `server`, with a short backoff so that tests do not wait long.
export function clientFor(server, token, options = {}) {
  const client = createClient({ url: server.wsUrl, token, WebSocket, backoff: { baseMs: 50, maxMs: 400 }, ...options });
  live.add(client);
  return client;
}

// Closes every client made by clientFor.
export function closeClients() {
  for (const c of live) c.close();
  live.clear();
}

// The test file's server, started with `options` on first use; after the
// file's last test its clients close and its servers stop.
export function serverOnDemand(options = {}) {
  let server;
  after(async () => {
    closeClients();
    await cleanup();
  });
  return async () => {
    if (!server) server = await startServer(options);
    return server;
  };
}

// Every event the client delivers, per channel, in the order delivered.
export function recordEvents(client) {
  const byCh = new Map();
  client.on('event', (ev) => {
    if (!byCh.has(ev.ch)) byCh.set(ev.ch, []);
    byCh.get(ev.ch).push(ev);
  });
  return (ch) => byCh.get(ch) || [];
}

// Resolves once check() is truthy; rejects after `ms` with `what`.
export async function waitUntil(check, what = 'condition', ms = 15000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// The seqs of `events`, for comparing with the expected 1..n.
export function seqs(events) {
  return events.map((e) => e.seq);
}

export function range(from, to) {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}
