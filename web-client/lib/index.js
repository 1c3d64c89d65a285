// @parley/client: the Parley protocol client for browsers and Node.
//
//   import { createClient } from '@parley/client';
//   const client = createClient({ url: 'wss://parley.example/ws', token });
//   client.on('event', (ev) => console.log(ev.ch, ev.seq, ev.kind, ev.body));
//   await client.connect();
//   await client.join('eng:42');
//   await client.post('eng:42', 'message', { text: 'Hello' });
//
// See README.md for the whole API; index.d.ts declares it.
import { ParleyClient } from './client.js';

// A client, not yet connected: call connect(). Options:
//   url        ws:// or wss:// address of the server's /ws
//   token      the access token, or a function (async or not) returning the current one
//   WebSocket  the WebSocket class (default: the global one; in Node pass the `ws` package's)
//   fetch      the fetch function (default: the global one)
//   httpUrl    the HTTP origin (default: that of `url`)
//   initialLimit, requestTimeoutMs, backoff {baseMs, maxMs, jitter}, protocols
export function createClient(options) {
  return new ParleyClient(options);
}

export { ParleyClient };
export { Connection, RequestError, newCid } from './connection.js';
export { backoffDelay, DEFAULT_BACKOFF } from './backoff.js';
export { HttpError, refusal, httpBaseOf, postEventHttp } from './http.js';
export { uploadFile, uploadStream, UploadError } from './upload.js';
export { canonicalize, sha256Hex, recordHash, verifyChain, GENESIS_PREV } from './jcs.js';
export { importKeySet, loadKeySet, verifySignatures } from './signatures.js';
export { decodeToken, isExpired } from './token.js';
