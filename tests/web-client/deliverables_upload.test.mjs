// lib/upload.js without a browser: a stand-in XMLHttpRequest records what is
// sent and answers as the server would (protocol §9.6).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { uploadFile, refusal } from '../../web-client/lib/upload.js';
import { uploadProblem } from '../../web-client/deliverables_text.js';

const SHA = 'cd'.repeat(32);

// A stand-in XMLHttpRequest: `answer(xhr)` decides what happens after send().
function fakeXhr(answer) {
  const made = [];
  class FakeXhr {
    constructor() { this.headers = {}; this.upload = {}; this.aborted = false; made.push(this); }
    open(method, url) { this.method = method; this.url = url; }
    setRequestHeader(k, v) { this.headers[k] = v; }
    send(body) { this.body = body; queueMicrotask(() => answer(this)); }
    abort() { this.aborted = true; if (this.onabort) this.onabort(); }
  }
  return { FakeXhr, made };
}

const file = { name: 'Q3 report (final).pdf', size: 1000, type: 'application/pdf' };

test('a file is posted with the token and its name, progress is reported, the reply read', async () => {
  const { FakeXhr, made } = fakeXhr((x) => {
    x.upload.onprogress({ loaded: 400, total: 1000, lengthComputable: true });
    x.status = 201;
    x.responseText = JSON.stringify({ sha256: SHA, size: 1000, name: file.name, type: 'application/pdf' });
    x.onload();
  });
  const progress = [];
  const up = uploadFile({ eng: 'e 1', file, token: 'tok', onProgress: (l, t) => progress.push([l, t]), XHR: FakeXhr });
  const res = await up.done;
  assert.deepEqual(res, { sha256: SHA, size: 1000, name: file.name, type: 'application/pdf', existing: false });
  const x = made[0];
  assert.equal(x.method, 'POST');
  assert.equal(x.url, `/api/v1/engagements/e%201/files?name=${encodeURIComponent(file.name)}`);
  assert.equal(x.headers.Authorization, 'Bearer tok');
  assert.equal(x.body, file);
  assert.deepEqual(progress, [[400, 1000], [1000, 1000]]);
});

test('200 means the bytes were there already', async () => {
  const { FakeXhr } = fakeXhr((x) => { x.status = 200; x.responseText = JSON.stringify({ sha256: SHA, size: 1000, name: 'a', type: '' }); x.onload(); });
  assert.equal((await uploadFile({ eng: 'e', file, token: 't', XHR: FakeXhr }).done).existing, true);
});

test('refusals carry the protocol\'s code and message', async () => {
  const cases = [
    [413, '{"error":{"code":"too_large","message":"engagement quota of 2 GiB exceeded"}}', 'too_large', /quota/],
    [413, '', 'too_large', /413/],
    [429, '{"error":{"code":"rate_limited","message":"slow down"}}', 'rate_limited', /slow down/],
    [403, 'not json', 'forbidden', /403/],
    [500, '', 'internal', /500/],
  ];
  for (const [status, text, code, message] of cases) {
    const { FakeXhr } = fakeXhr((x) => { x.status = status; x.responseText = text; x.onload(); });
    await assert.rejects(uploadFile({ eng: 'e', file, token: 't', XHR: FakeXhr }).done, (err) => err.code === code && message.test(err.message) && err.status === status);
  }
  assert.equal(uploadProblem(refusal(413, '{"error":{"code":"too_large","message":"the engagement\'s files would exceed 2147483648 bytes"}}')),
    'The engagement\'s storage quota is used up: the engagement\'s files would exceed 2 GB.');
  assert.equal(uploadProblem(refusal(413, '{"error":{"code":"too_large","message":"files are at most 104857600 bytes"}}')),
    'The file is too large: files are at most 100 MB.');
  assert.match(uploadProblem(refusal(429, '')), /^Too many uploads/);
  assert.match(uploadProblem(refusal(403, '')), /may not upload/);
});

test('a reply without a hash is an error, not a file', async () => {
  const { FakeXhr } = fakeXhr((x) => { x.status = 201; x.responseText = '{"sha256":"../../etc"}'; x.onload(); });
  await assert.rejects(uploadFile({ eng: 'e', file, token: 't', XHR: FakeXhr }).done, { code: 'internal' });
});

test('cancel aborts the request; a file over the known limit is never sent', async () => {
  const { FakeXhr, made } = fakeXhr(() => {});
  const up = uploadFile({ eng: 'e', file, token: 't', XHR: FakeXhr });
  up.cancel();
  await assert.rejects(up.done, { code: 'cancelled' });
  assert.equal(made[0].aborted, true);

  const none = fakeXhr(() => {});
  await assert.rejects(uploadFile({ eng: 'e', file, token: 't', maxBytes: 999, XHR: none.FakeXhr }).done, { code: 'too_large' });
  assert.equal(none.made.length, 0, 'nothing sent');
});

test('a network failure says so', async () => {
  const { FakeXhr } = fakeXhr((x) => x.onerror());
  await assert.rejects(uploadFile({ eng: 'e', file, token: 't', XHR: FakeXhr }).done, { code: 'network' });
});
