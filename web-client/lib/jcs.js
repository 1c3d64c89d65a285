// JSON Canonicalization Scheme (RFC 8785) and the decision-log chain check
// (protocol §5), done in the browser with Web Crypto.

export const GENESIS_PREV = '0'.repeat(64);

// Keys sorted by UTF-16 code units (the default string order in JavaScript),
// no whitespace; JSON.stringify already gives the ECMAScript forms that
// RFC 8785 requires for strings and numbers.
export function canonicalize(value) {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new Error('non-finite number');
      return JSON.stringify(value);
    case 'string':
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((v) => canonicalize(v === undefined ? null : v)).join(',')}]`;
      const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalize(value[k])}`).join(',')}}`;
    }
    default:
      throw new Error(`cannot canonicalize ${typeof value}`);
  }
}

export async function sha256Hex(text) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

// The hash covers the record without hash, kid and sig (protocol §9.11): the
// signature signs the hash.
export async function recordHash(record) {
  const { hash, kid, sig, ...rest } = record;
  return sha256Hex(canonicalize(rest));
}

// Checks every record in order. Returns {ok, checked, results: [{n, ok, reason}], firstBad}.
export async function verifyChain(records) {
  const results = [];
  let prev = GENESIS_PREV;
  let firstBad = null;
  for (let i = 0; i < records.length; i++) {
    const rec = records[i];
    let reason = null;
    if (!rec || typeof rec !== 'object') reason = 'not a record';
    else if (rec.n !== i + 1) reason = `expected record ${i + 1}, found ${rec.n}`;
    else if (rec.prev !== prev) reason = 'does not link to the previous record';
    else {
      const actual = await recordHash(rec);
      if (actual !== rec.hash) reason = 'hash does not match its contents';
    }
    results.push({ n: rec && rec.n, ok: !reason, reason });
    if (reason && !firstBad) firstBad = { index: i, n: rec && rec.n, reason };
    prev = rec && rec.hash;
  }
  return { ok: !firstBad, checked: records.length, results, firstBad };
}
