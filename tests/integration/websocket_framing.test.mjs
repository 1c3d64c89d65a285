// RFC 6455 on the wire, byte by byte (protocol §3): the upgrade's answers,
// fragmented and split frames, control frames, the close handshake, and what
// a hostile peer's frames get. Raw TCP sockets, so that nothing a WebSocket
// library does for the client hides what the server does.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  cleanup, connectAs, rssMiB, sleep, startServer, uniqueEng, userToken, rawSocket,
} from './harness.mjs';

let server;

before(async () => {
  server = await startServer();
});
after(cleanup);

// A masked client frame.
function frame(opcode, payload, { fin = true, masked = true } = {}) {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  let head;
  if (data.length < 126) {
    head = Buffer.from([(fin ? 0x80 : 0) | opcode, (masked ? 0x80 : 0) | data.length]);
  } else if (data.length <= 0xffff) {
    head = Buffer.from([(fin ? 0x80 : 0) | opcode, (masked ? 0x80 : 0) | 126, data.length >> 8, data.length & 0xff]);
  } else {
    head = Buffer.alloc(10);
    head[0] = (fin ? 0x80 : 0) | opcode;
    head[1] = (masked ? 0x80 : 0) | 127;
    head.writeBigUInt64BE(BigInt(data.length), 2);
  }
  if (!masked) return Buffer.concat([head, data]);
  const key = randomBytes(4);
  const body = Buffer.from(data.map((b, i) => b ^ key[i % 4]));
  return Buffer.concat([head, key, body]);
}

const text = (obj) => frame(1, JSON.stringify(obj));

function upgradeRequest({ key = randomBytes(16).toString('base64'), version = '13', extra = '', srv = server } = {}) {
  return `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${srv.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: ${version}\r\n${extra}\r\n`;
}

// A raw connection: what the server wrote, parsed into its HTTP head and its
// frames (unmasked, as a server sends them).
class Raw {
  constructor(first, srv = server) {
    this.sock = rawSocket(srv);
    this.bytes = Buffer.alloc(0);
    this.head = null;
    this.frames = [];
    this.ended = false;
    this.waiters = new Set();
    this.sock.on('error', () => {});
    this.sock.on('data', (d) => { this.bytes = Buffer.concat([this.bytes, d]); this.#parse(); });
    this.sock.on('close', () => { this.ended = true; this.#notify(); });
    this.sock.write(first);
  }

  #parse() {
    if (!this.head) {
      const end = this.bytes.indexOf('\r\n\r\n');
      if (end < 0) return;
      this.head = this.bytes.subarray(0, end).toString('latin1');
      this.bytes = this.bytes.subarray(end + 4);
      if (!this.head.startsWith('HTTP/1.1 101')) this.frames = null;
    }
    while (this.frames && this.bytes.length >= 2) {
      let len = this.bytes[1] & 0x7f;
      let at = 2;
      if (len === 126) { if (this.bytes.length < 4) break; len = this.bytes.readUInt16BE(2); at = 4; }
      else if (len === 127) { if (this.bytes.length < 10) break; len = Number(this.bytes.readBigUInt64BE(2)); at = 10; }
      if (this.bytes.length < at + len) break;
      this.frames.push({ fin: (this.bytes[0] & 0x80) !== 0, opcode: this.bytes[0] & 0x0f, payload: this.bytes.subarray(at, at + len) });
      this.bytes = this.bytes.subarray(at + len);
    }
    this.#notify();
  }

  #notify() { for (const w of this.waiters) w(); }

  until(check, what, ms = 10000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.waiters.delete(probe); reject(new Error(`timed out: ${what}`)); }, ms);
      const probe = () => {
        const v = check();
        if (v) { clearTimeout(timer); this.waiters.delete(probe); resolve(v); }
      };
      this.waiters.add(probe);
      probe();
    });
  }

  replies() { return (this.frames ?? []).filter((f) => f.opcode === 1).flatMap((f) => f.payload.toString('utf8').split('\n').map((l) => JSON.parse(l))); }
  reply(id) { return this.until(() => this.replies().find((r) => r.id === id), `reply ${id}`); }
  closeFrame() {
    return this.until(() => this.frames?.find((f) => f.opcode === 8), 'a close frame').then((f) => ({
      code: f.payload.length >= 2 ? f.payload.readUInt16BE(0) : null, reason: f.payload.subarray(2).toString('utf8'),
    }));
  }
  write(b) { this.sock.write(b); }
  destroy() { this.sock.destroy(); }
}

async function opened(sub, srv = server) {
  const eng = uniqueEng('wf');
  const raw = new Raw(upgradeRequest({ srv }), srv);
  await raw.until(() => raw.head, 'the upgrade answer');
  raw.write(text({ id: 1, op: 'hello', token: userToken(sub, 'client', [eng]) }));
  assert.equal((await raw.reply(1)).ok, true);
  return { raw, ch: `eng:${eng}` };
}

describe('the upgrade', () => {
  test('is answered 101 with the key RFC 6455 derives, and parley.v1 when asked for', async () => {
    const key = randomBytes(16).toString('base64');
    const raw = new Raw(upgradeRequest({ key, extra: 'Sec-WebSocket-Protocol: chat, parley.v1\r\n' }));
    const head = await raw.until(() => raw.head, 'the upgrade answer');
    const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
    assert.match(head, /^HTTP\/1\.1 101 /);
    assert.match(head, new RegExp(`\r\nSec-WebSocket-Accept: ${accept.replace(/[+/]/g, '\\$&')}\r?`, 'i'));
    assert.match(head, /\r\nSec-WebSocket-Protocol: parley\.v1/i);
    raw.destroy();
  });

  test('with a version other than 13 is answered 426 naming version 13', async () => {
    const raw = new Raw(upgradeRequest({ version: '8' }));
    const head = await raw.until(() => raw.head, 'the answer');
    assert.match(head, /^HTTP\/1\.1 426 /);
    assert.match(head, /\r\nSec-WebSocket-Version: 13/i);
    raw.destroy();
  });

  for (const [what, key] of [['no key', ''], ['a key of 12 bytes', randomBytes(12).toString('base64')]]) {
    test(`with ${what} is answered 400`, async () => {
      const raw = new Raw(upgradeRequest({ key }));
      const head = await raw.until(() => raw.head, 'the answer');
      assert.match(head, /^HTTP\/1\.1 400 /);
      raw.destroy();
    });
  }

  test('a frame sent in the same packet as the request is read', async () => {
    const eng = uniqueEng('wf');
    const raw = new Raw(Buffer.concat([Buffer.from(upgradeRequest()), text({ id: 7, op: 'hello', token: userToken('wf-early', 'client', [eng]) })]));
    assert.equal((await raw.reply(7)).ok, true);
    raw.destroy();
  });
});

describe('frames', () => {
  test('a request in fragments, with a ping between them, is answered; the ping gets its pong', async () => {
    const { raw, ch } = await opened('wf-frag');
    const json = Buffer.from(JSON.stringify({ id: 2, op: 'post', ch, kind: 'message', body: { text: 'in three parts' } }));
    raw.write(frame(1, json.subarray(0, 10), { fin: false }));
    raw.write(frame(9, 'still there?'));
    raw.write(frame(0, json.subarray(10, 20), { fin: false }));
    raw.write(frame(0, json.subarray(20)));
    assert.equal((await raw.reply(2)).ok, true);
    const pong = await raw.until(() => raw.frames.find((f) => f.opcode === 10), 'a pong');
    assert.equal(pong.payload.toString(), 'still there?');
    raw.destroy();
  });

  test('a frame that arrives a few bytes at a time is read once whole', async () => {
    const { raw, ch } = await opened('wf-split');
    const bytes = text({ id: 3, op: 'join', ch });
    for (let i = 0; i < bytes.length; i += 3) {
      raw.write(bytes.subarray(i, i + 3));
      await sleep(2);
    }
    assert.equal((await raw.reply(3)).ok, true);
    raw.destroy();
  });

  test('an unmasked frame closes with 1002', async () => {
    const { raw } = await opened('wf-unmasked');
    raw.write(frame(1, '{"id":4,"op":"typing"}', { masked: false }));
    assert.equal((await raw.closeFrame()).code, 1002);
    await raw.until(() => raw.ended, 'the end of the connection');
  });

  test('a continuation with no message begun closes with 1002', async () => {
    const { raw } = await opened('wf-cont');
    raw.write(frame(0, 'tail'));
    assert.equal((await raw.closeFrame()).code, 1002);
  });

  test('a client close is answered with its code and the connection ends', async () => {
    const { raw } = await opened('wf-close');
    const payload = Buffer.concat([Buffer.from([0x03, 0xe8]), Buffer.from('bye')]);
    raw.write(frame(8, payload));
    assert.equal((await raw.closeFrame()).code, 1000);
    await raw.until(() => raw.ended, 'the end of the connection');
  });

  test('10 000 pings from a client that never reads: pongs stay bounded and others are served', async () => {
    const { raw } = await opened('wf-pings');
    raw.sock.pause();  // reads nothing more
    const before = rssMiB(server);
    const ping = frame(9, 'x'.repeat(125));
    const batch = Buffer.concat(Array.from({ length: 1000 }, () => ping));
    for (let i = 0; i < 10; i++) raw.write(batch);
    await sleep(500);
    const grown = rssMiB(server) - before;
    assert.ok(grown < 16, `server RSS grew ${grown.toFixed(1)} MiB`);
    const eng = uniqueEng('wf');
    const c = await connectAs(server, userToken('wf-other', 'client', [eng]));
    assert.equal((await c.message(`eng:${eng}`, 'served')).ok, true);
    await c.close();
    raw.destroy();
  });
});

describe('keep-alive', () => {
  const IDLE_S = 4;
  let quiet;
  before(async () => {
    quiet = await startServer({ args: ['--idle-timeout', String(IDLE_S)] });
  });

  test('a connection that sends nothing is pinged at half the idle timeout and closed at the end of it', async () => {
    const { raw } = await opened('wf-silent', quiet);
    const started = Date.now();
    await raw.until(() => raw.frames.find((f) => f.opcode === 9), 'a ping', IDLE_S * 1000 + 2000);
    await raw.until(() => raw.ended, 'the end of the connection', IDLE_S * 1000 + 4000);
    const lasted = (Date.now() - started) / 1000;
    assert.ok(lasted >= IDLE_S - 1, `closed after ${lasted.toFixed(1)} s`);
  });

  test('a connection that answers the pings stays open past the idle timeout and is served', async () => {
    const { raw, ch } = await opened('wf-alive', quiet);
    let answered = 0;
    const pong = setInterval(() => {
      const pings = raw.frames.filter((f) => f.opcode === 9).length;
      for (; answered < pings; answered++) raw.write(frame(10, ''));
    }, 100);
    try {
      await sleep(IDLE_S * 2000 + 1000);
      assert.equal(raw.ended, false, 'the connection is still open');
      assert.ok(answered >= 2, `${answered} pings answered`);
      raw.write(text({ id: 9, op: 'join', ch }));
      assert.equal((await raw.reply(9)).ok, true);
    } finally {
      clearInterval(pong);
      raw.destroy();
    }
  });
});
