// Reading an engagement's decision log and checking it: the pages over the
// connection (or over HTTP when that fails), then the hash chain and the
// signatures. No DOM.
import { verifyChain } from './jcs.js';
import { loadKeySet, verifySignatures } from './signatures.js';

// Resolves once `conn` is online; rejects after `timeoutMs`.
export function waitOnline(conn, timeoutMs = 10000) {
  if (conn.connectionState === 'online') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { off(); reject(new Error('offline')); }, timeoutMs);
    const off = conn.on('connection', ({ state }) => { if (state === 'online') { clearTimeout(t); off(); resolve(); } });
  });
}

// Every record of engagement `id`, or null when neither way answers.
async function fetchRecords(conn, token, id) {
  // The log comes in pages: `next` is where the following one starts (null at the end).
  try {
    await waitOnline(conn);
    return await conn.decisions(id);
  } catch {
    try {
      const all = [];
      for (let after = 0; ;) {
        const res = await fetch(`/api/v1/engagements/${encodeURIComponent(id)}/decisions?after=${after}`, { headers: { Authorization: `Bearer ${token}` }, cache: 'no-store' });
        if (!res.ok) throw new Error(`status ${res.status}`);
        const page = await res.json();
        all.push(...page.records);
        if (page.next == null || page.next <= after) break;
        after = page.next;
      }
      return all;
    } catch {
      return null;
    }
  }
}

// {records, verify, sigs, status: ready|unavailable, error}
export async function loadDecisionLog(conn, token, id) {
  const records = await fetchRecords(conn, token, id);
  if (!Array.isArray(records)) {
    return { records: [], verify: null, sigs: null, status: 'unavailable', error: 'The decision log is not available yet.' };
  }
  const verify = await verifyChain(records);
  const sigs = records.length ? await verifySignatures(records, await loadKeySet()) : null;
  return { records, verify, sigs, status: 'ready', error: null };
}
