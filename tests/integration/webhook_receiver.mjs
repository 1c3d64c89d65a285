// A webhook receiver for the tests, run as a process of its own (as a
// platform would be): it records every request that reaches it (method, path,
// headers, raw body, and how it answered) and answers 200, or fails as told
// over a small control API under /_control/:
//   GET  /_control/requests      what arrived, oldest first
//   POST /_control/fail          {"count": N (-1: until told otherwise),
//                                 "mode": "status" | "hang" | "close", "status": 500}
//   POST /_control/reset         forget the requests and the failures
// "hang" never answers (the sender's deadline ends it); "close" drops the
// connection without an answer.
//
// Run directly (`node webhook_receiver.mjs`), it prints "receiver listening
// on PORT". Imported, startReceiver() spawns it and answers a handle.
import { spawn } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';

const LISTENING_RE = /^receiver listening on (\d+)$/m;
// A webhook body is a few KiB: far more is recorded only in part.
const MAX_RECORDED_BODY = 1024 * 1024;

function serve() {
  let requests = [];
  let failure = { count: 0, mode: 'status', status: 500 };
  const hanging = new Set();

  const readBody = (req) => new Promise((resolve) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size <= MAX_RECORDED_BODY) chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', () => resolve(Buffer.concat(chunks)));
  });

  const json = (res, status, value) => {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(value));
  };

  const server = http.createServer(async (req, res) => {
    const body = await readBody(req);
    if (req.url.startsWith('/_control/')) {
      if (req.url === '/_control/requests') return json(res, 200, requests);
      if (req.url === '/_control/fail') {
        const asked = JSON.parse(body.toString('utf8') || '{}');
        failure = { count: asked.count ?? 1, mode: asked.mode ?? 'status', status: asked.status ?? 500 };
        return json(res, 200, failure);
      }
      if (req.url === '/_control/reset') {
        requests = [];
        failure = { count: 0, mode: 'status', status: 500 };
        return json(res, 200, {});
      }
      return json(res, 404, { error: 'no such control' });
    }
    const failing = failure.count !== 0;
    if (failure.count > 0) failure.count -= 1;
    const entry = {
      at: Date.now(),
      method: req.method,
      path: req.url,
      httpVersion: req.httpVersion,
      rawHeaders: req.rawHeaders,
      headers: req.headers,
      body: body.toString('base64'),
      answer: failing ? failure.mode === 'status' ? failure.status : failure.mode : 200,
    };
    requests.push(entry);
    if (!failing) return json(res, 200, { received: true });
    if (failure.mode === 'hang') {
      hanging.add(res);
      res.on('close', () => hanging.delete(res));
      return undefined;
    }
    if (failure.mode === 'close') return req.socket.destroy();
    return json(res, failure.status, { error: 'told to fail' });
  });
  server.keepAliveTimeout = 1000;
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`receiver listening on ${server.address().port}\n`);
  });
}

/**
 * Spawns a receiver process. Resolves to
 *   { port, url (the hook URL), requests(), accepted(), fail(opts), reset(), kill() }
 * where requests() lists what arrived with `body` as a Buffer and `raw`, the
 * request as it came over the wire (for `parley webhook-verify`).
 */
export async function startReceiver() {
  const proc = spawn(process.execPath, [fileURLToPath(import.meta.url)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const m = LISTENING_RE.exec(out);
      if (m) resolve(Number(m[1]));
    });
    proc.once('exit', (code) => reject(new Error(`receiver exited (${code}) before listening`)));
  });
  const control = (method, path, body) => new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: `/_control/${path}`, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(JSON.stringify(body));
    req.end();
  });
  const receiver = {
    port,
    url: `http://127.0.0.1:${port}/hooks`,
    proc,
    async requests() {
      const list = await control('GET', 'requests');
      return list.map((r) => {
        const body = Buffer.from(r.body, 'base64');
        let head = `${r.method} ${r.path} HTTP/${r.httpVersion}\r\n`;
        for (let i = 0; i < r.rawHeaders.length; i += 2) head += `${r.rawHeaders[i]}: ${r.rawHeaders[i + 1]}\r\n`;
        return { ...r, body, raw: Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), body]) };
      });
    },
    // The requests answered 2xx: deliveries the platform accepted.
    async accepted() {
      return (await receiver.requests()).filter((r) => r.answer === 200);
    },
    fail: (options = {}) => control('POST', 'fail', options),
    reset: () => control('POST', 'reset', {}),
    async kill() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((resolve) => proc.once('exit', resolve));
      proc.kill('SIGKILL');
      await exited;
    },
  };
  return receiver;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) serve();
