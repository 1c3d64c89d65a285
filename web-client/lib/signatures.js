// Ed25519 signatures of decision-log records (protocol §9.11), checked with
// Web Crypto against the server's key set (GET /api/v1/keys). Where the
// browser has no Ed25519, the page says so instead of guessing.

function base64urlBytes(text) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*$/.test(text)) return null;
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4);
  try {
    return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

// Imports the Ed25519 keys of a JWK Set. Resolves to {supported, keys: Map kid -> CryptoKey}.
export async function importKeySet(jwks) {
  const keys = new Map();
  if (!globalThis.crypto || !crypto.subtle) return { supported: false, keys };
  for (const jwk of (jwks && Array.isArray(jwks.keys)) ? jwks.keys : []) {
    if (!jwk || jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.kid !== 'string') continue;
    try {
      const { kty, crv, x } = jwk;
      keys.set(jwk.kid, await crypto.subtle.importKey('jwk', { kty, crv, x }, { name: 'Ed25519' }, false, ['verify']));
    } catch (err) {
      // Browsers without Ed25519 in Web Crypto refuse the algorithm itself.
      if (err && err.name === 'NotSupportedError') return { supported: false, keys: new Map() };
    }
  }
  return { supported: true, keys };
}

// Fetches and imports the server's key set. Resolves to {supported, keys} or
// {supported: true, keys: null} when the keys could not be loaded.
export async function loadKeySet(fetchImpl = fetch) {
  try {
    const res = await fetchImpl('/api/v1/keys', { cache: 'no-store' });
    if (!res.ok) return { supported: true, keys: null };
    return await importKeySet(await res.json());
  } catch {
    return { supported: true, keys: null };
  }
}

// Checks each record's sig over the ASCII bytes of its hash with the key kid.
// Returns {state, results: [{n, ok, reason}], firstBad, kids}; state is
// 'verified', 'broken', 'unsupported' (no Ed25519 here) or 'unavailable' (no keys).
export async function verifySignatures(records, keySet) {
  if (!keySet.supported) return { state: 'unsupported', results: [], firstBad: null, kids: [] };
  if (!keySet.keys) return { state: 'unavailable', results: [], firstBad: null, kids: [] };
  const results = [];
  const kids = new Set();
  let firstBad = null;
  for (let i = 0; i < records.length; i++) {
    const rec = records[i] || {};
    let reason = null;
    const key = typeof rec.kid === 'string' ? keySet.keys.get(rec.kid) : undefined;
    const sig = base64urlBytes(rec.sig);
    if (rec.sig === undefined) reason = 'not signed';
    else if (!key) reason = 'signed with an unknown key';
    else if (!sig || typeof rec.hash !== 'string') reason = 'signature is malformed';
    else {
      let ok = false;
      try {
        ok = await crypto.subtle.verify({ name: 'Ed25519' }, key, sig, new TextEncoder().encode(rec.hash));
      } catch {
        ok = false;
      }
      if (!ok) reason = 'signature does not match';
    }
    if (!reason) kids.add(rec.kid);
    results.push({ n: rec.n, ok: !reason, reason });
    if (reason && !firstBad) firstBad = { index: i, n: rec.n, reason };
  }
  return { state: firstBad ? 'broken' : 'verified', results, firstBad, kids: [...kids] };
}
