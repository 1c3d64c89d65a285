// A channel's unread count after a join (a reload, a reconnect that could not
// resume): what others posted past the reader's read marker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChannelModel } from '../../web-client/model.js';

const me = 'u-carol';
const ev = (seq, from) => ({ seq, ts: seq, kind: 'message', from: from && { id: from }, body: { text: `m${seq}` } });

test('events from others past the stored marker are unread; the reader\'s own are not', () => {
  const c = new ChannelModel('eng:e1');
  c.reset([ev(1, 'u-dan'), ev(2, me), ev(3, 'u-dan'), ev(4, me), ev(5, 'u-dan'), ev(6)]);
  c.loadReads([{ user: { id: me }, seq: 2 }, { user: { id: 'u-dan' }, seq: 6 }], me);
  // 3 and 5 from Dan, 6 from the server (no sender); 4 is Carol's own.
  assert.equal(c.unreadAfterJoin(me), 3);
});

test('a read sent but not yet stored counts as read', () => {
  const c = new ChannelModel('eng:e1');
  c.reset([ev(1, 'u-dan'), ev(2, 'u-dan'), ev(3, 'u-dan')]);
  c.loadReads([{ user: { id: me }, seq: 1 }], me);
  c.lastReadSent = 2;
  assert.equal(c.unreadAfterJoin(me), 1);
});

test('a channel never read has no marker: its history is not unread', () => {
  const c = new ChannelModel('eng:e1');
  c.reset([ev(1, 'u-dan'), ev(2, 'u-dan')]);
  c.loadReads([{ user: { id: 'u-dan' }, seq: 2 }], me);
  assert.equal(c.unreadAfterJoin(me), 0);
});
