// The machine-readable contracts as the binary serves them: the JSON of
// protocol/openapi.yaml and protocol/asyncapi.yaml (the latter standing alone),
// without a token, with an ETag that answers 304.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanup, httpFor, startServer } from '../integration/harness.mjs';
import { checkServerFrame, contracts } from './contracts.mjs';

let http;

before(async () => {
  http = httpFor(await startServer());
});
after(cleanup);

// Every $ref string in a JSON tree.
function refs(node, out = []) {
  if (Array.isArray(node)) node.forEach((n) => refs(n, out));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else refs(v, out);
    }
  }
  return out;
}

test('openapi.json is the YAML source, served without a token, cached by ETag', async () => {
  const res = await http('GET', '/api/v1/openapi.json');
  assert.equal(res.status, 200, res.text);
  assert.match(res.headers['content-type'], /^application\/json/);
  assert.equal(res.headers['access-control-allow-origin'], '*');
  assert.deepEqual(res.json, contracts().openapi);
  const etag = res.headers.etag;
  assert.match(etag, /^"[0-9a-f]{32}"$/);

  const again = await http('GET', '/api/v1/openapi.json', { headers: { 'If-None-Match': etag } });
  assert.equal(again.status, 304);
  assert.equal(again.text, '');
  const head = await http('HEAD', '/api/v1/openapi.json');
  assert.equal(head.status, 200);
  assert.equal(head.headers.etag, etag);
});

test('asyncapi.json stands alone: the schemas it borrows from openapi.yaml are copied in', async () => {
  const res = await http('GET', '/api/v1/asyncapi.json');
  assert.equal(res.status, 200, res.text);
  const doc = res.json;
  assert.equal(doc.asyncapi, '3.0.0');
  const { openapi, asyncapi } = contracts();
  assert.deepEqual(doc.operations, asyncapi.operations);
  for (const ref of refs(doc)) {
    assert.ok(ref.startsWith('#/'), `a reference out of the document: ${ref}`);
    const name = ref.split('/').pop();
    if (ref.startsWith('#/components/schemas/')) assert.ok(doc.components.schemas[name], `dangling ${ref}`);
  }
  assert.deepEqual(doc.components.schemas.EngagementState, openapi.components.schemas.EngagementState);
  assert.notEqual(res.headers.etag, (await http('GET', '/api/v1/openapi.json')).headers.etag);
});

test('the documents are read-only and the checks refuse what the protocol does not say', async () => {
  const res = await http('POST', '/api/v1/asyncapi.json', { body: {} });
  assert.equal(res.status, 400);
  assert.equal(res.json.error.code, 'bad_request');

  // The harness's WebSocket check refuses an event whose body breaks its kind's schema.
  const ev = { ev: 'event', ch: 'eng:x', seq: 1, kind: 'flag', from: { id: 'u', name: 'U', role: 'client' }, ts: 1, body: { type: 'risk', text: 't' } };
  assert.equal(checkServerFrame(ev), null);
  assert.match(checkServerFrame({ ...ev, body: { type: 'gossip', text: 't' } }), /\/body\/type/);
  assert.match(checkServerFrame({ id: 1, ok: true, seq: 0, ts: 1 }, 'post'), /reply to post: \/seq/);
  assert.match(checkServerFrame({ ev: 'surprise' }), /undocumented ev/);
});
