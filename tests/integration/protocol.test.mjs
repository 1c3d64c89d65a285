// Authentication and protocol errors on the WebSocket (protocol §2, §3, §8).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cleanup, connect, connectAs, startServer, token, uniqueEng, userToken,
} from './harness.mjs';

const MAX_FRAME = 4096;
let server;

before(async () => {
  server = await startServer({ args: ['--hello-timeout', '1', '--max-frame', String(MAX_FRAME)] });
});
after(cleanup);

describe('authentication', () => {
  test('no hello within --hello-timeout closes with 4003', async () => {
    const c = await connect(server.wsUrl);
    const info = await c.waitClosed(15000);
    assert.equal(info.code, 4003);
  });

  const refused = {
    'a token signed with another secret': () => token({ sub: 'x1', role: 'client', eng: ['1'] }, { secret: 'not-the-secret' }),
    'an expired token': () => token({ sub: 'x2', role: 'client', eng: ['1'], exp: Math.floor(Date.now() / 1000) - 3600 }),
    'a token that is not a JWT': () => 'not-a-token',
    'a token with alg none': () => {
      const b = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
      return `${b({ alg: 'none', typ: 'JWT' })}.${b({ sub: 'x3', role: 'client', eng: ['1'], exp: Math.floor(Date.now() / 1000) + 600 })}.`;
    },
    'a token without role': () => token({ sub: 'x4', eng: ['1'] }),
    'a token with an unknown role': () => token({ sub: 'x5', role: 'admin', eng: ['1'] }),
    'a token without exp': () => token({ sub: 'x6', role: 'client', eng: ['1'], exp: null }),
  };
  for (const [what, make] of Object.entries(refused)) {
    test(`hello with ${what} closes with 4003`, async () => {
      const c = await connect(server.wsUrl);
      c.request('hello', { token: make() }).then((r) => {
        assert.equal(r.ok, false, `hello must not succeed: ${JSON.stringify(r)}`);
        assert.equal(r.error.code, 'unauthorized');
      }, () => {});
      const info = await c.waitClosed();
      assert.equal(info.code, 4003);
      const replies = c.replies.filter((r) => r.ok === true);
      assert.deepEqual(replies, [], 'nothing succeeded');
    });
  }

  test('a request before hello closes with 4003', async () => {
    const c = await connect(server.wsUrl);
    c.request('join', { ch: 'eng:1' }).catch(() => {});
    const info = await c.waitClosed();
    assert.equal(info.code, 4003);
    assert.equal(c.replies.some((r) => r.ok === true), false);
  });

  test('the parley.v1 subprotocol is accepted', async () => {
    const c = await connect(server.wsUrl, { protocols: ['parley.v1'] });
    assert.equal(c.ws.protocol, 'parley.v1');
    const r = await c.hello(userToken('sp-1', 'client', ['1']));
    assert.equal(r.ok, true);
    await c.close();
  });
});

describe('framing', () => {
  async function ready(sub) {
    return connectAs(server, userToken(sub, 'client', [uniqueEng()]));
  }

  test('a binary frame closes with 4008', async () => {
    const c = await ready('fr-bin');
    c.sendRaw(Buffer.from(JSON.stringify({ id: 1, op: 'join', ch: 'eng:1' })), { binary: true });
    assert.equal((await c.waitClosed()).code, 4008);
  });

  test('a frame over --max-frame closes with 1009', async () => {
    const c = await ready('fr-big');
    const text = 'x'.repeat(MAX_FRAME + 100);
    c.send({ id: 1, op: 'post', ch: 'eng:1', kind: 'message', body: { text } });
    assert.equal((await c.waitClosed()).code, 1009);
  });

  test('a frame just under --max-frame is accepted', async () => {
    const eng = uniqueEng();
    const c = await connectAs(server, userToken('fr-fit', 'client', [eng]));
    const frame = { op: 'post', ch: `eng:${eng}`, kind: 'message', body: { text: '' }, id: 1 };
    frame.body.text = 'y'.repeat(MAX_FRAME - JSON.stringify(frame).length - 16);
    const r = await c.request('post', { ch: frame.ch, kind: 'message', body: frame.body });
    assert.equal(r.ok, true, JSON.stringify(r));
    await c.close();
  });

  test('invalid UTF-8 in a text frame closes with 1007', async () => {
    const c = await ready('fr-utf8');
    const bad = Buffer.concat([Buffer.from('{"id":1,"op":"join","ch":"eng:'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]);
    c.sendRaw(bad, { binary: false });
    assert.equal((await c.waitClosed()).code, 1007);
  });

  test('malformed JSON is answered bad_request and the connection stays open', async () => {
    const eng = uniqueEng();
    const c = await connectAs(server, userToken('fr-json', 'client', [eng]));
    c.sendRaw('{"id": 41, "op": "join", "ch": ');
    const reply = await c.waitForReply((r) => r.ok === false);
    assert.equal(reply.error.code, 'bad_request');
    assert.equal(typeof reply.error.message, 'string');
    c.sendRaw('[1,2,3]');
    await c.until(() => c.replies.filter((r) => r.ok === false).length >= 2);
    const j = await c.join(`eng:${eng}`);
    assert.equal(j.ok, true, 'a valid request still works');
    assert.equal(c.isOpen, true);
    await c.close();
  });

  test('an unknown op is answered bad_request with its id', async () => {
    const c = await ready('fr-op');
    const r = await c.request('teleport', { ch: 'eng:1' });
    assert.equal(r.ok, false);
    assert.equal(r.error.code, 'bad_request');
    assert.equal(c.isOpen, true);
    await c.close();
  });

  test('an unknown kind and an invalid body are answered bad_request', async () => {
    const eng = uniqueEng();
    const ch = `eng:${eng}`;
    const c = await connectAs(server, userToken('fr-kind', 'client', [eng]));
    const cases = [
      ['teleport', { text: 'x' }],
      ['message', {}],
      ['message', { text: '' }],
      ['message', { text: 42 }],
      ['status', { text: 'x', progress: 101 }],
    ];
    for (const [kind, body] of cases) {
      const r = await c.post(ch, kind, body);
      assert.equal(r.ok, false, `${kind} ${JSON.stringify(body)}: ${JSON.stringify(r)}`);
      assert.equal(r.error.code, 'bad_request', `${kind} ${JSON.stringify(body)}`);
    }
    const h = await c.call('history', { ch, after: 0 });
    assert.deepEqual(h.events.filter((e) => e.from.role !== 'system'), [], 'nothing was stored');
    await c.close();
  });
});

describe('authorisation', () => {
  test('joining a channel the token does not list is forbidden', async () => {
    const c = await connectAs(server, userToken('az-1', 'client', [uniqueEng()]));
    const r = await c.join(`eng:${uniqueEng()}`);
    assert.equal(r.ok, false);
    assert.equal(r.error.code, 'forbidden');
    assert.equal(c.isOpen, true);
    await c.close();
  });

  test('a client joining support is forbidden; support may join it', async () => {
    const c = await connectAs(server, userToken('az-2', 'client', [uniqueEng()]));
    const r = await c.join('support');
    assert.equal(r.ok, false);
    assert.equal(r.error.code, 'forbidden');
    const s = await connectAs(server, userToken('az-sup', 'support', ['*']));
    const rs = await s.join('support');
    assert.equal(rs.ok, true, JSON.stringify(rs));
    await Promise.all([c.close(), s.close()]);
  });

  test('a mediation channel that no dispute opened answers not_found', async () => {
    const eng = uniqueEng();
    const c = await connectAs(server, userToken('az-3', 'client', [eng]));
    const r = await c.join(`eng:${eng}:mediation`);
    assert.equal(r.ok, false);
    assert.equal(r.error.code, 'not_found');
    await c.close();
  });

  test('posting to a channel the token does not list is forbidden and stores nothing', async () => {
    const eng = uniqueEng();
    const owner = await connectAs(server, userToken('az-own', 'client', [eng]));
    const c = await connectAs(server, userToken('az-4', 'expert', [uniqueEng()]));
    const r = await c.message(`eng:${eng}`, 'intrusion');
    assert.equal(r.ok, false);
    assert.equal(r.error.code, 'forbidden');
    const h = await owner.call('history', { ch: `eng:${eng}`, after: 0 });
    assert.deepEqual(h.events.filter((e) => e.from.role !== 'system'), []);
    await Promise.all([owner.close(), c.close()]);
  });

  test('a bot may post status but not message', async () => {
    const eng = uniqueEng();
    const bot = await connectAs(server, userToken('az-bot', 'bot', [eng]));
    const m = await bot.message(`eng:${eng}`, 'hi');
    assert.equal(m.ok, false);
    assert.equal(m.error.code, 'forbidden');
    const s = await bot.post(`eng:${eng}`, 'status', { text: 'build ok' });
    assert.equal(s.ok, true, JSON.stringify(s));
    await bot.close();
  });

  test('an invalid channel name is refused', async () => {
    const c = await connectAs(server, userToken('az-5', 'support', ['*']));
    for (const ch of ['eng:', 'eng:has space', `eng:${'a'.repeat(65)}`, 'nope', 'eng:1:other']) {
      const r = await c.join(ch);
      assert.equal(r.ok, false, `${ch}: ${JSON.stringify(r)}`);
      assert.ok(['bad_request', 'not_found', 'forbidden'].includes(r.error.code), `${ch}: ${r.error.code}`);
    }
    await c.close();
  });
});

describe('channel limit', () => {
  test('the 101st channel on one connection is refused; leaving one frees a place', async () => {
    const engs = Array.from({ length: 101 }, () => uniqueEng('cl'));
    const c = await connectAs(server, userToken('cl-1', 'client', engs));
    const replies = await Promise.all(engs.slice(0, 100).map((e) => c.join(`eng:${e}`)));
    for (const r of replies) assert.equal(r.ok, true, JSON.stringify(r));
    const again = await c.join(`eng:${engs[0]}`);
    assert.equal(again.ok, true, 'joining a joined channel again is allowed at the limit');
    const over = await c.join(`eng:${engs[100]}`);
    assert.equal(over.ok, false, JSON.stringify(over));
    // The protocol names the limit (§8) but not its error code.
    assert.ok(['bad_request', 'too_large', 'forbidden', 'conflict', 'rate_limited'].includes(over.error.code), over.error.code);
    assert.equal(c.isOpen, true);
    assert.equal((await c.leave(`eng:${engs[0]}`)).ok, true);
    const now = await c.join(`eng:${engs[100]}`);
    assert.equal(now.ok, true, JSON.stringify(now));
    await c.close();
  });
});
