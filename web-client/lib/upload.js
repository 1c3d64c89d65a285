// Uploading one file to an engagement (protocol §9.6): `POST
// /api/v1/engagements/<id>/files?name=…` with the bearer token, the raw
// bytes as body. XMLHttpRequest rather than fetch, because only it reports
// upload progress. No DOM.

// A refused or failed upload: `code` is the protocol's error code
// (`too_large`, `rate_limited`, `forbidden`, …), `cancelled` when the reader
// stopped it, `network` when the request never got an answer; `status` the
// HTTP status (0 without one).
export class UploadError extends Error {
  constructor(code, message, status = 0) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

const CODE_OF_STATUS = {
  400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 409: 'conflict',
  413: 'too_large', 429: 'rate_limited', 503: 'unavailable',
};

// The error a refusal's body names, else one made from its status.
export function refusal(status, text) {
  let body = null;
  try { body = JSON.parse(text); } catch { /* not JSON: the status speaks */ }
  const e = body && typeof body === 'object' && body.error && typeof body.error === 'object' ? body.error : null;
  const code = e && typeof e.code === 'string' ? e.code : CODE_OF_STATUS[status] || (status >= 500 ? 'internal' : 'bad_request');
  const message = e && typeof e.message === 'string' && e.message ? e.message : `the server answered ${status}`;
  return new UploadError(code, message, status);
}

// Starts uploading `file` (a Blob or File) as `name`. `onProgress(loaded,
// total)` follows the bytes sent; `maxBytes`, when known, refuses a larger
// file before anything is sent. Returns {done, cancel}: `done` resolves to
// {sha256, size, name, type, existing} (existing: the same bytes were there
// already, 200) or rejects with an UploadError; `cancel()` aborts the request.
export function uploadFile({ eng, file, name, token, onProgress, maxBytes, XHR = globalThis.XMLHttpRequest }) {
  const fileName = typeof name === 'string' && name ? name : (file && file.name) || 'file';
  let xhr = null;
  let settled = false;
  let cancelRequested = false;
  const done = new Promise((resolve, reject) => {
    const fail = (err) => { if (!settled) { settled = true; reject(err); } };
    if (Number.isFinite(maxBytes) && file.size > maxBytes) {
      fail(new UploadError('too_large', `the file is larger than the server accepts (${maxBytes} bytes)`, 0));
      return;
    }
    xhr = new XHR();
    xhr.open('POST', `/api/v1/engagements/${encodeURIComponent(eng)}/files?name=${encodeURIComponent(fileName)}`);
    xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    if (file.type) xhr.setRequestHeader('Content-Type', file.type);
    xhr.responseType = 'text';
    if (xhr.upload && onProgress) {
      xhr.upload.onprogress = (ev) => onProgress(ev.loaded, ev.lengthComputable ? ev.total : file.size);
    }
    xhr.onload = () => {
      if (settled) return;
      if (xhr.status === 200 || xhr.status === 201) {
        let reply = null;
        try { reply = JSON.parse(xhr.responseText); } catch { /* checked below */ }
        if (!reply || typeof reply.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(reply.sha256)) {
          fail(new UploadError('internal', 'the server\'s answer to the upload could not be read', xhr.status));
          return;
        }
        settled = true;
        if (onProgress) onProgress(file.size, file.size);
        resolve({
          sha256: reply.sha256,
          size: Number.isFinite(reply.size) ? reply.size : file.size,
          name: typeof reply.name === 'string' && reply.name ? reply.name : fileName,
          type: typeof reply.type === 'string' ? reply.type : '',
          existing: xhr.status === 200,
        });
      } else {
        fail(refusal(xhr.status, xhr.responseText));
      }
    };
    xhr.onerror = () => fail(new UploadError('network', 'the upload did not reach the server', 0));
    xhr.ontimeout = () => fail(new UploadError('network', 'the upload took too long', 0));
    xhr.onabort = () => fail(new UploadError('cancelled', 'the upload was cancelled', 0));
    if (cancelRequested) { fail(new UploadError('cancelled', 'the upload was cancelled', 0)); return; }
    xhr.send(file);
  });
  const cancel = () => {
    cancelRequested = true;
    if (xhr && !settled) xhr.abort();
  };
  return { done, cancel };
}
