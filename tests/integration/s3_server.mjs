// An S3-compatible server for the tests: npm's s3rver behind a front that
// checks what S3 checks and s3rver does not — each request's Signature
// Version 4 (recomputed here, independently of the server's C++ signer) and
// the body against its x-amz-content-sha256. A mismatch is answered as S3
// answers it (403 SignatureDoesNotMatch, 400 XAmzContentSHA256Mismatch).
//
// As a module: `startS3Server({directory, bucket})` → {endpoint, port, stop()}.
// As a script (the C++ tests' fixture):
//   node tests/integration/s3_server.mjs --directory D --port P --bucket B
import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);

export const S3_ACCESS_KEY = 'S3RVER';
export const S3_SECRET_KEY = 'S3RVER';
const MAX_SKEW_MS = 15 * 60 * 1000;

const sha256 = (data) => createHash('sha256').update(data).digest('hex');
const hmac = (key, data) => createHmac('sha256', key).update(data).digest();

// RFC 3986: everything but unreserved characters percent-encoded.
const encode = (text) =>
  encodeURIComponent(text).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());

function canonicalRequest(req, signedHeaders) {
  const [rawPath, rawQuery = ''] = req.url.split('?');
  const path = rawPath.split('/').map((segment) => encode(decodeURIComponent(segment))).join('/');
  const query = rawQuery
    .split('&')
    .filter(Boolean)
    .map((pair) => {
      const [name, value = ''] = pair.split('=');
      return [encode(decodeURIComponent(name)), encode(decodeURIComponent(value))];
    })
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
  const headers = signedHeaders
    .map((name) => `${name}:${String(req.headers[name] ?? '').trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  return [req.method, path, query, headers, signedHeaders.join(';'), req.headers['x-amz-content-sha256']].join('\n');
}

// Null when the request is signed as S3 wants it; otherwise why not.
function signatureProblem(req) {
  const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(
    req.headers.authorization ?? '',
  );
  if (!match) return 'no Signature Version 4 Authorization header';
  const [, accessKey, date, region, signed, signature] = match;
  if (accessKey !== S3_ACCESS_KEY) return 'unknown access key';
  const when = req.headers['x-amz-date'] ?? '';
  if (!/^\d{8}T\d{6}Z$/.test(when) || when.slice(0, 8) !== date) return 'bad x-amz-date';
  const at = Date.UTC(+when.slice(0, 4), +when.slice(4, 6) - 1, +when.slice(6, 8), +when.slice(9, 11), +when.slice(11, 13), +when.slice(13, 15));
  if (Math.abs(Date.now() - at) > MAX_SKEW_MS) return 'request time too skewed';
  const signedHeaders = signed.split(';');
  for (const required of ['host', 'x-amz-content-sha256', 'x-amz-date']) {
    if (!signedHeaders.includes(required)) return `${required} is not signed`;
  }
  const scope = `${date}/${region}/s3/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', when, scope, sha256(canonicalRequest(req, signedHeaders))].join('\n');
  let key = hmac(`AWS4${S3_SECRET_KEY}`, date);
  for (const part of [region, 's3', 'aws4_request']) key = hmac(key, part);
  return hmac(key, toSign).toString('hex') === signature ? null : 'signature does not match';
}

function refuse(res, status, code, message) {
  res.writeHead(status, { 'content-type': 'application/xml' });
  res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`);
}

export async function startS3Server({ directory, bucket = 'parley-test', port = 0 }) {
  const S3rver = require('s3rver');
  mkdirSync(directory, { recursive: true });
  const backend = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true, configureBuckets: [{ name: bucket }] });
  const { port: backendPort } = await backend.run();

  const front = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const problem = signatureProblem(req);
      if (problem) return refuse(res, 403, 'SignatureDoesNotMatch', problem);
      const declared = req.headers['x-amz-content-sha256'];
      if (declared !== 'UNSIGNED-PAYLOAD' && declared !== sha256(body)) {
        return refuse(res, 400, 'XAmzContentSHA256Mismatch', 'the body is not what x-amz-content-sha256 says');
      }
      const forward = http.request(
        { host: '127.0.0.1', port: backendPort, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on('error', () => refuse(res, 503, 'ServiceUnavailable', 'backend unreachable'));
      forward.end(body);
    });
  });
  await new Promise((resolve) => front.listen(port, '127.0.0.1', resolve));
  const actualPort = front.address().port;
  return {
    port: actualPort,
    endpoint: `http://127.0.0.1:${actualPort}`,
    bucket,
    async stop() {
      front.closeAllConnections?.();
      await new Promise((resolve) => front.close(resolve));
      await backend.close();
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name, fallback) => {
    const at = process.argv.indexOf(`--${name}`);
    return at > 0 ? process.argv[at + 1] : fallback;
  };
  const server = await startS3Server({
    directory: arg('directory'),
    bucket: arg('bucket', 'parley-test'),
    port: Number(arg('port', '0')),
  });
  console.log(`s3 server listening on ${server.endpoint}`);
}
