// Uploads and downloads of engagement files (protocol §9.6) for the files
// tests: raw bytes in and out, and what the files directory holds.
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { rawSocket, serverRequest } from './harness.mjs';

export const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');

// One HTTP request whose answer body stays bytes. `body` is a Buffer (sent
// with Content-Length) or, with chunked: true, an array of Buffers sent chunked.
export function rawRequest(server, method, reqPath, { token, headers = {}, body, chunks, timeoutMs = 30000 } = {}) {
  return new Promise((resolve, reject) => {
    const h = { ...headers };
    if (token) h.Authorization = `Bearer ${token}`;
    if (body !== undefined) h['Content-Length'] = String(body.length);
    if (chunks !== undefined) h['Transfer-Encoding'] = 'chunked';
    const req = serverRequest(server, { host: '127.0.0.1', port: server.port, method, path: reqPath, headers: h, agent: false, timeout: timeoutMs }, (res) => {
      const parts = [];
      res.on('data', (c) => parts.push(c));
      res.on('end', () => {
        const bytes = Buffer.concat(parts);
        let json;
        try {
          json = JSON.parse(bytes.toString('utf8'));
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode, headers: res.headers, body: bytes, json, text: bytes.toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${reqPath} timed out`)));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    if (chunks !== undefined) for (const c of chunks) req.write(c);
    req.end();
  });
}

export const filesPath = (eng, sha) => `/api/v1/engagements/${eng}/files${sha ? `/${sha}` : ''}`;

export function upload(server, token, eng, name, bytes, { headers = {} } = {}) {
  return rawRequest(server, 'POST', `${filesPath(eng)}?name=${encodeURIComponent(name)}`, {
    token, body: bytes, headers: { 'Content-Type': 'application/octet-stream', ...headers },
  });
}

export function download(server, token, eng, sha, headers = {}) {
  return rawRequest(server, 'GET', filesPath(eng, sha), { token, headers });
}

// Sends a request head by hand and resolves to the status line's code and the
// raw answer (for uploads refused before their body).
export function rawExchange(server, head, { body = Buffer.alloc(0), timeoutMs = 20000 } = {}) {
  return new Promise((resolve, reject) => {
    const sock = rawSocket(server);
    let answer = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('no answer'));
    }, timeoutMs);
    sock.on('connect', () => {
      sock.write(head);
      if (body.length) sock.write(body);
    });
    sock.on('data', (d) => {
      answer += d.toString('latin1');
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      clearTimeout(timer);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);
      resolve({ status, answer });
    });
  });
}

// Every file under the files directory (staged ones included), relative paths.
export function listFiles(dir) {
  const out = [];
  const walk = (d) => {
    if (!fs.existsSync(d)) return;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(path.relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

export function stagedFiles(filesDir) {
  return listFiles(path.join(filesDir, 'tmp'));
}
