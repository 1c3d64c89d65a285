// What the dialogs_*.test.mjs files share: the two parties of an engagement,
// its stored events read over HTTP, and screenshots named dialogs-<screen>.
import assert from 'node:assert/strict';
import { token, shot } from './harness.mjs';

export const screenshot = (page, name) => shot(page, `dialogs-${name}`);

export function people(eng) {
  return {
    client: token({ sub: 'u-client', name: 'Priya Nair', role: 'client', eng: [eng] }),
    expert: token({ sub: 'u-expert', name: 'Tomás Ruiz', role: 'expert', eng: [eng] }),
  };
}

// The events stored in eng:<eng>, ascending, as the server has them.
export async function storedEvents(server, tok, eng) {
  const res = await fetch(`${server.url}/api/v1/channels/${encodeURIComponent(`eng:${eng}`)}/events?after=0&limit=500`, { headers: { Authorization: `Bearer ${tok}` } });
  assert.equal(res.status, 200);
  return (await res.json()).events;
}

export async function lastEvent(server, tok, eng) {
  const events = await storedEvents(server, tok, eng);
  return events[events.length - 1];
}
