// Uploading one file to an engagement (protocol §9.6): `POST
// /api/v1/engagements/<id>/files?name=…` with the bearer token, the raw
// bytes as body. In a browser XMLHttpRequest rather than fetch, because only
// it reports upload progress; where there is none (Node), fetch with a
// streamed body whose progress is the bytes handed to the socket. No DOM.

// Refusals are HttpErrors (lib/http.js): `code` is the protocol's error
// code, `cancelled` when the reader stopped it, `network` when the request
// never got an answer; `status` the HTTP status (0 without one).
import { HttpError, refusal } from './http.js';

export { refusal, HttpError as UploadError };
const UploadError = HttpError;

// The path of an upload of `name` to engagement `eng`.
export function uploadPath(eng, name) {
  return `/api/v1/engagements/${encodeURIComponent(eng)}/files?name=${encodeURIComponent(name)}`;
}

// The server's answer to an upload, checked: {sha256, size, name, type, existing}.
function uploaded(status, text, size, fileName) {
  let reply = null;
  try { reply = JSON.parse(text); } catch { /* checked below */ }
  if (!reply || typeof reply.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(reply.sha256)) {
    throw new UploadError('internal', 'the server\'s answer to the upload could not be read', status);
  }
  return {
    sha256: reply.sha256,
    size: Number.isFinite(reply.size) ? reply.size : size,
    name: typeof reply.name === 'string' && reply.name ? reply.name : fileName,
    type: typeof reply.type === 'string' ? reply.type : '',
    existing: status === 200,
  };
}

// Starts uploading `file` (a Blob or File) as `name`. `onProgress(loaded,
// total)` follows the bytes sent; `maxBytes`, when known, refuses a larger
// file before anything is sent. Returns {done, cancel}: `done` resolves to
// {sha256, size, name, type, existing} (existing: the same bytes were there
// already, 200) or rejects with an UploadError; `cancel()` aborts the request.
export function uploadFile({ eng, file, name, token, onProgress, maxBytes, baseUrl = '', XHR = globalThis.XMLHttpRequest }) {
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
    xhr.open('POST', baseUrl + uploadPath(eng, fileName));
    xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    if (file.type) xhr.setRequestHeader('Content-Type', file.type);
    xhr.responseType = 'text';
    if (xhr.upload && onProgress) {
      xhr.upload.onprogress = (ev) => onProgress(ev.loaded, ev.lengthComputable ? ev.total : file.size);
    }
    xhr.onload = () => {
      if (settled) return;
      if (xhr.status === 200 || xhr.status === 201) {
        let result;
        try { result = uploaded(xhr.status, xhr.responseText, file.size, fileName); } catch (err) { fail(err); return; }
        settled = true;
        if (onProgress) onProgress(file.size, file.size);
        resolve(result);
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

const CHUNK = 64 * 1024;

// The bytes of `data` as a ReadableStream and their count when known: a Blob
// (or File), a Uint8Array (a Node Buffer is one), an ArrayBuffer, or an async
// iterable of chunks (a Node Readable such as fs.createReadStream).
function byteSource(data, size) {
  if (typeof Blob !== 'undefined' && data instanceof Blob) return { stream: data.stream(), size: data.size };
  if (data instanceof ArrayBuffer) data = new Uint8Array(data);
  if (data instanceof Uint8Array) {
    let offset = 0;
    const bytes = data;
    return {
      size: bytes.length,
      stream: new ReadableStream({
        pull(controller) {
          if (offset >= bytes.length) { controller.close(); return; }
          controller.enqueue(bytes.subarray(offset, Math.min(bytes.length, offset + CHUNK)));
          offset += CHUNK;
        },
      }),
    };
  }
  if (data && typeof data[Symbol.asyncIterator] === 'function') {
    const it = data[Symbol.asyncIterator]();
    return {
      size: Number.isFinite(size) ? size : NaN,
      stream: new ReadableStream({
        async pull(controller) {
          const { value, done } = await it.next();
          if (done) controller.close();
          else controller.enqueue(typeof value === 'string' ? new TextEncoder().encode(value) : new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
        },
        cancel() { if (typeof it.return === 'function') it.return(); },
      }),
    };
  }
  throw new TypeError('upload: pass a Blob, a Uint8Array/Buffer, an ArrayBuffer or an async iterable of bytes');
}

// Uploads `data` (see byteSource) with fetch and a streamed body: nothing is
// read into memory at once. `onProgress(loaded, total)` follows the bytes
// handed over; `signal` (an AbortSignal) cancels. Resolves like uploadFile's
// `done`; rejects with an UploadError.
export async function uploadStream({ baseUrl = '', eng, data, name, type, size, token, onProgress, maxBytes, signal,
  fetch: fetchImpl = globalThis.fetch }) {
  const fileName = typeof name === 'string' && name ? name : (data && typeof data.name === 'string' && data.name) || 'file';
  const source = byteSource(data, size);
  if (Number.isFinite(maxBytes) && source.size > maxBytes) {
    throw new UploadError('too_large', `the file is larger than the server accepts (${maxBytes} bytes)`, 0);
  }
  let loaded = 0;
  const counted = source.stream.pipeThrough(new TransformStream({
    transform(chunk, controller) {
      loaded += chunk.byteLength;
      controller.enqueue(chunk);
      if (onProgress) onProgress(loaded, Number.isFinite(source.size) ? source.size : loaded);
    },
  }));
  const headers = { Authorization: `Bearer ${token}` };
  const contentType = type || (data && typeof data.type === 'string' ? data.type : '');
  if (contentType) headers['Content-Type'] = contentType;
  let res;
  try {
    res = await fetchImpl(baseUrl + uploadPath(eng, fileName), { method: 'POST', headers, body: counted, duplex: 'half', signal });
  } catch (err) {
    if (signal && signal.aborted) throw new UploadError('cancelled', 'the upload was cancelled', 0);
    throw new UploadError('network', `the upload did not reach the server: ${err && err.message}`, 0);
  }
  const text = await res.text();
  if (res.status !== 200 && res.status !== 201) throw refusal(res.status, text);
  const result = uploaded(res.status, text, loaded, fileName);
  if (onProgress) onProgress(result.size, result.size);
  return result;
}
