// Dispute claims in the support inbox (web-client/claims.js): only the exact
// sentence counts, and each staff member once per dispute.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { claimText, parseClaim, collectClaims } from '../../web-client/claims.js';

test('claims are read only from the exact sentence, each person once', () => {
  assert.deepEqual(parseClaim(claimText('eng-42', 7)), { eng: 'eng-42', flag: 7 });
  assert.deepEqual(parseClaim('Claimed dispute #7 of engagement eng-42 — on it'), { eng: 'eng-42', flag: 7 });
  for (const text of [
    'claimed dispute #7 of engagement eng-42.', 'I Claimed dispute #7 of engagement eng-42.',
    'Claimed dispute #0 of engagement x.', 'Claimed dispute #-1 of engagement x.', 'Claimed dispute #7 of engagement x/y',
    `Claimed dispute #7 of engagement ${'a'.repeat(65)}`, 'Claimed dispute #99999999999999999 of engagement x',
    'Claimed dispute #7 of engagement <img src=x>', null, undefined, 42,
  ]) assert.equal(parseClaim(text), null, String(text));
  const ev = (seq, id, text, kind = 'message') => ({ seq, kind, from: { id, name: id.toUpperCase() }, body: { text } });
  const claims = collectClaims([
    ev(1, 'sam', claimText('e1', 3)), ev(2, 'tia', claimText('e1', 3)), ev(3, 'sam', claimText('e1', 3)),
    ev(4, 'sam', claimText('e2', 5), 'notice'), ev(5, 'tia', 'Looking at e1 now.'),
  ]);
  assert.deepEqual([...claims.keys()], ['e1#3']);
  assert.deepEqual(claims.get('e1#3').map((u) => u.id), ['sam', 'tia']);
});
