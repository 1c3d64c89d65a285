// "Who owes a reply, and by when" in the engagement header (protocol §4
// `owed_reply`): in words, in the warning style once overdue, nothing when
// nobody owes one. The due time is the server's (`owed_reply.due`, else its
// `reply_overdue` event); this page computes no service level.
import { h, clear, replaceChildren, formatDateTime } from '../dom.js';
import { owedReplyInfo } from '../obligations.js';
import { namesSeen } from './invitation.js';

// The server's latest `reply_overdue` event in `eng:<id>` for the debt that
// began at `sinceSeq`, if loaded.
function overdueEventFor(s, engId, sinceSeq) {
  const c = s.channels.get(`eng:${engId}`);
  if (!c || !Number.isInteger(sinceSeq)) return null;
  for (let i = c.order.length - 1; i >= 0 && c.order[i] > sinceSeq; i--) {
    const ev = c.events.get(c.order[i]);
    if (ev.kind === 'sla' && ev.body && ev.body.type === 'reply_overdue' && ev.body.since_seq === sinceSeq) return ev;
  }
  return null;
}

export function renderOwedReply(s) {
  const el = s.el && s.el.owedReply;
  const cur = s.current;
  if (!el || !cur || cur.kind !== 'eng') return;
  const eng = s.engagements.get(cur.eng);
  const state = eng ? eng.state : null;
  const owed = state && state.owed_reply;
  const now = Date.now();
  const info = owed ? owedReplyInfo(state, s.me, {
    now, overdueEvent: overdueEventFor(s, cur.eng, owed.since_seq), seen: namesSeen(s, cur.eng),
  }) : null;
  const key = info ? `${info.text}|${info.overdue}|${info.due}` : '';
  if (el.dataset.key === key) return;
  el.dataset.key = key;
  if (!info) { clear(el); el.hidden = true; return; }
  el.hidden = false;
  el.className = `owed-reply${info.overdue ? ' overdue' : ''}${info.mine ? ' mine' : ''}`;
  el.dataset.overdue = info.overdue ? 'true' : 'false';
  el.dataset.side = info.side;
  replaceChildren(el,
    h('span', { class: info.overdue ? 'overdue-mark' : 'owed-mark', 'aria-hidden': 'true' }, info.overdue ? '!' : '↩'),
    h('span', { testid: 'owed-reply-text', title: info.due ? `Due ${formatDateTime(info.due)}` : null }, info.text));
}
