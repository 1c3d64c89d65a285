// Who took which dispute. Support staff claim a dispute by posting a
// `message` in the `support` channel; the protocol's `message` body holds only
// `text` and `reply_to`, so the claim is a fixed sentence every page can read:
//   "Claimed dispute #<flag seq> of engagement <id>."
// (`reply_to` points at the dispute's notice when the page has it). Every
// staff member's page derives the claims from the same messages.

const CLAIM = /^Claimed dispute #([1-9][0-9]{0,15}) of engagement ([A-Za-z0-9_-]{1,64})(?=[.\s]|$)/;

export function claimText(engId, flagSeq) {
  return `Claimed dispute #${flagSeq} of engagement ${engId}.`;
}

// {eng, flag} for a claim message's text, else null.
export function parseClaim(text) {
  const m = CLAIM.exec(String(text || ''));
  return m ? { eng: m[2], flag: Number(m[1]) } : null;
}

export function claimKey(engId, flagSeq) {
  return `${engId}#${flagSeq}`;
}

// The claims in `events` (the support channel's, ascending): key -> the
// claimants in the order they claimed, each person once.
export function collectClaims(events) {
  const claims = new Map();
  for (const ev of events) {
    if (!ev || ev.kind !== 'message' || !ev.body || !ev.from) continue;
    const c = parseClaim(ev.body.text);
    if (!c) continue;
    const key = claimKey(c.eng, c.flag);
    const list = claims.get(key) || [];
    if (!list.some((u) => u.id === ev.from.id)) list.push({ id: ev.from.id, name: ev.from.name || ev.from.id, seq: ev.seq });
    claims.set(key, list);
  }
  return claims;
}
