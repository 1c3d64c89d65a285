// Read markers (the `read` op) come back with a join, so that "seen by" and
// the reader's own place survive a reload and a restart (protocol §3).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanup, connectAs, startServer, uniqueEng, userToken } from './harness.mjs';

let server;

before(async () => {
  server = await startServer();
});
after(cleanup);

function markerOf(join, id) {
  return (join.reads || []).find((r) => r.user && r.user.id === id);
}

describe('read markers in the join reply', () => {
  test('a marker not yet written and one stored before a restart are both answered; a lower read changes nothing', async () => {
    const eng = uniqueEng();
    const ch = `eng:${eng}`;
    const aliceToken = userToken('rm-alice', 'client', [eng], { name: 'Alice' });
    const bobToken = userToken('rm-bob', 'expert', [eng], { name: 'Bob' });
    const alice = await connectAs(server, aliceToken);
    const bob = await connectAs(server, bobToken);
    assert.equal((await alice.join(ch)).ok, true);
    let last;
    for (let i = 0; i < 3; i++) last = await alice.message(ch, `m${i}`);
    assert.equal((await bob.join(ch)).ok, true);
    await bob.read(ch, last.seq);
    await bob.read(ch, last.seq - 2);  // lower: ignored
    await alice.waitFor((p) => p.ev === 'read' && p.ch === ch && p.user.id === 'rm-bob');

    const reloaded = await connectAs(server, aliceToken);
    const j = await reloaded.join(ch);
    assert.equal(j.ok, true, JSON.stringify(j));
    assert.ok(Array.isArray(j.reads), 'the join reply lists the channel\'s read markers');
    assert.deepEqual(markerOf(j, 'rm-bob'), { user: { id: 'rm-bob' }, seq: last.seq });
    assert.equal(markerOf(j, 'rm-alice'), undefined, 'a user who never sent `read` has no marker');
    await Promise.all([alice.close(), bob.close(), reloaded.close()]);

    // A graceful stop writes the pending markers; after the restart they come from storage.
    const revived = await server.restart();
    server = revived;
    const again = await connectAs(revived, aliceToken);
    const j2 = await again.join(ch);
    assert.deepEqual(markerOf(j2, 'rm-bob'), { user: { id: 'rm-bob' }, seq: last.seq });
    await again.close();
  });

  test('markers of one channel are not answered on another', async () => {
    const eng = uniqueEng();
    const other = uniqueEng();
    const bob = await connectAs(server, userToken('rm-bob2', 'expert', [eng, other]));
    assert.equal((await bob.join(`eng:${eng}`)).ok, true);
    const sent = await bob.message(`eng:${eng}`, 'hello');
    await bob.read(`eng:${eng}`, sent.seq);
    assert.equal((await bob.message(`eng:${other}`, 'elsewhere')).ok, true);
    const j = await bob.join(`eng:${other}`);
    assert.equal(markerOf(j, 'rm-bob2'), undefined);
    await bob.close();
  });
});
