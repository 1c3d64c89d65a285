// Claiming a dispute (claims.js): who has claimed it, and a Claim button
// while nobody else has. Shown in the engagement list and on the support
// inbox's dispute notices.
import { h } from '../dom.js';
import { claimText, claimKey, collectClaims } from '../claims.js';
import { toast } from './shell.js';

// Every claim in the support channel's loaded messages: key -> claimants.
export function claimsOf(s) {
  const support = s.channels.get('support');
  return collectClaims(support ? support.list() : []);
}

// [who claimed it, the Claim button]: Claim is disabled for the others once
// someone has claimed the dispute, and gone for the claimer.
export function claimControls(s, engId, flagSeq, claims = claimsOf(s)) {
  const claimants = claims.get(claimKey(engId, flagSeq)) || [];
  const mine = claimants.some((u) => u.id === s.me.id);
  const nameOf = (u) => (u.id === s.me.id ? 'you' : u.name);
  let who = null;
  if (claimants.length) {
    const [first, ...also] = claimants;
    who = h('span', { class: 'claim-by', testid: 'claim-by' },
      `Claimed by ${nameOf(first)}`,
      also.length ? ` · also claimed by ${also.map(nameOf).join(', ')}` : '');
  }
  const button = mine ? null : h('button', {
    type: 'button', class: 'btn small primary', testid: 'claim-button',
    disabled: claimants.length > 0,
    'aria-label': `Claim dispute #${flagSeq} of engagement ${engId}`,
    onclick: (ev) => claim(s, engId, flagSeq, ev.currentTarget),
  }, 'Claim');
  return [who, button];
}

async function claim(s, engId, flagSeq, btn) {
  btn.disabled = true;
  const support = s.channels.get('support');
  // The dispute's notice, when loaded: the claim answers it.
  const notice = support ? support.list().find((ev) => ev.kind === 'notice' && ev.body && ev.body.type === 'dispute' && ev.body.eng === engId && ev.body.flag === flagSeq) : null;
  const body = { text: claimText(engId, flagSeq) };
  if (notice) body.reply_to = notice.seq;
  try {
    await s.send('support', 'message', body);
    toast(s, `You claimed dispute #${flagSeq} of engagement ${engId}.`);
  } catch {
    btn.disabled = false;
  }
}
