// The Parley client a program holds: the WebSocket connection (connection.js)
// with the HTTP API beside it — uploads with progress, posting over HTTP (the
// way a bot or a CI job reports a status), an engagement's state, and the
// decision log read and checked. No DOM.
import { Connection, RequestError } from './connection.js';
import { httpBaseOf, httpJson, postEventHttp } from './http.js';
import { uploadFile, uploadStream } from './upload.js';
import { verifyChain } from './jcs.js';
import { loadKeySet, verifySignatures } from './signatures.js';

export class ParleyClient extends Connection {
  // Options of Connection, and `httpUrl` (the server's HTTP origin, else the
  // one of `url`) and `fetch` (else the global one).
  constructor(options = {}) {
    super(options);
    this.httpUrl = options.httpUrl || httpBaseOf(this.url);
    this.fetchImpl = options.fetch || ((...args) => globalThis.fetch(...args));
  }

  // GET (or another method) on the HTTP API with the token; resolves with the parsed body.
  async http(path, { method = 'GET', body, signal } = {}) {
    const res = await httpJson({ base: this.httpUrl, method, path, token: await this.currentToken(), body, fetch: this.fetchImpl, signal });
    return res.body;
  }

  // Posts an event over HTTP rather than the socket (no connection needed).
  async postHttp(ch, kind, body, { cid, retries, signal } = {}) {
    return postEventHttp({ base: this.httpUrl, ch, kind, body, cid, retries, signal, backoff: this.backoff,
      token: await this.currentToken(), fetch: this.fetchImpl });
  }

  // A `status` event in engagement `eng`'s main channel, over HTTP: what a bot does.
  postStatus(eng, text, { progress, cid, retries, signal } = {}) {
    const body = progress === undefined ? { text } : { text, progress };
    return this.postHttp(`eng:${eng}`, 'status', body, { cid, retries, signal });
  }

  // The state of engagement `id` (protocol §4, §9.9).
  async engagement(id) {
    const body = await this.http(`/api/v1/engagements/${encodeURIComponent(id)}`);
    return body && body.state && body.state.phase ? body.state : body;
  }

  // Uploads a file to engagement `eng` (protocol §9.6): a Blob or File, a
  // Uint8Array or Buffer, an ArrayBuffer, or an async iterable of bytes (then
  // pass `size` for a progress total). `onProgress(loaded, total)`; `signal`
  // cancels. In a browser with a Blob, XMLHttpRequest (real upload
  // progress); elsewhere a streamed fetch.
  async upload(eng, data, { name, type, size, onProgress, signal, maxBytes } = {}) {
    const token = await this.currentToken();
    const Blobish = typeof Blob !== 'undefined' && data instanceof Blob;
    if (Blobish && typeof globalThis.XMLHttpRequest === 'function') {
      const up = uploadFile({ eng, file: data, name, token, onProgress, maxBytes, baseUrl: this.httpUrl });
      if (signal) {
        if (signal.aborted) up.cancel();
        else signal.addEventListener('abort', () => up.cancel(), { once: true });
      }
      return up.done;
    }
    return uploadStream({ baseUrl: this.httpUrl, eng, data, name, type, size, token, onProgress, maxBytes, signal, fetch: this.fetchImpl });
  }

  // The decision log of engagement `eng`, its hash chain and its signatures
  // checked against the server's keys: {records, chain, signatures}.
  async verifiedDecisions(eng) {
    const records = await this.decisions(eng);
    const chain = await verifyChain(records);
    const keyFetch = (path, init) => this.fetchImpl(this.httpUrl + path, init);
    const signatures = records.length ? await verifySignatures(records, await loadKeySet(keyFetch)) : null;
    return { records, chain, signatures };
  }
}

export { RequestError };
