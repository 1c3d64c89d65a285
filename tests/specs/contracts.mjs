// Checks what a Parley server answers against its machine-readable contracts:
// every HTTP response against protocol/openapi.yaml (by route, method and
// status) and every WebSocket frame against protocol/asyncapi.yaml. The
// integration harness calls these on everything it sees, so the documents
// cannot drift from the server. Schemas are compiled once per process, on
// first use.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import YAML from 'yaml';

const here = path.dirname(fileURLToPath(import.meta.url));
const protocolDir = path.resolve(here, '..', '..', 'protocol');
// Both documents under one base, so that asyncapi.yaml's `openapi.yaml#/…` references resolve.
const BASE = 'https://parley.invalid/';

let loaded = null;

function load() {
  if (loaded) return loaded;
  const openapi = YAML.parse(fs.readFileSync(path.join(protocolDir, 'openapi.yaml'), 'utf8'));
  const asyncapi = YAML.parse(fs.readFileSync(path.join(protocolDir, 'asyncapi.yaml'), 'utf8'));
  // The documents hold OpenAPI and AsyncAPI keywords beside JSON Schema: not strict.
  const ajv = new Ajv2020({ strict: false, allErrors: false, validateSchema: false, validateFormats: false });
  ajv.addSchema(openapi, `${BASE}openapi.yaml`);
  ajv.addSchema(asyncapi, `${BASE}asyncapi.yaml`);
  const routes = Object.entries(openapi.paths).map(([template, item]) => ({
    template,
    item,
    re: new RegExp(`^${template.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+')}$`),
  }));
  loaded = { openapi, asyncapi, ajv, routes, validators: new Map() };
  return loaded;
}

function pointer(...segments) {
  return segments.map((s) => `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

// The compiled validator of the schema at `doc`#`ptr` (cached).
function validatorAt(doc, ptr) {
  const { ajv, validators } = load();
  const key = `${BASE}${doc}#${ptr}`;
  let v = validators.get(key);
  if (!v) {
    v = ajv.getSchema(key);
    if (!v) throw new Error(`no schema at ${doc}#${ptr}`);
    validators.set(key, v);
  }
  return v;
}

function describeErrors(errors) {
  return (errors ?? []).slice(0, 3).map((e) => {
    const where = e.instancePath || '(root)';
    return `${where} ${e.message}${e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : ''} [schema ${e.schemaPath}]`;
  }).join('; ');
}

// null when `value` matches the schema at doc#ptr, else what does not.
function mismatch(doc, ptr, value) {
  const v = validatorAt(doc, ptr);
  if (v(value)) return null;
  return describeErrors(v.errors);
}

// The status each error code travels with (protocol §7); 416 and 431 answer bad_request too.
const statusOfCode = {
  bad_request: [400, 416, 431],
  unauthorized: [401],
  forbidden: [403],
  not_found: [404],
  conflict: [409],
  too_large: [413],
  rate_limited: [429],
  internal: [500],
  unavailable: [503],
};

// A response of the operation, or the shared one it refers to (`#/components/responses/…`).
function resolveResponse(openapi, response) {
  if (response && response.$ref) {
    const name = response.$ref.split('/').pop();
    return { spec: openapi.components.responses[name], shared: name };
  }
  return { spec: response, shared: null };
}

function errorBodyProblem(status, json) {
  const problem = mismatch('openapi.yaml', pointer('components', 'schemas', 'Error'), json);
  if (problem) return problem;
  const allowed = statusOfCode[json.error.code];
  if (!allowed.includes(status)) return `status ${status} does not match error code ${json.error.code}`;
  return null;
}

/**
 * Checks one HTTP exchange: null when the response matches openapi.yaml, else
 * a text naming the route and the path of the mismatch.
 *   res: { status, headers, text, json }
 */
export function checkHttpResponse(method, target, res) {
  const { openapi, routes } = load();
  const route = target.split('?')[0];
  const verb = method.toUpperCase() === 'HEAD' ? 'get' : method.toLowerCase();
  const bodyless = method.toUpperCase() === 'HEAD' || res.status === 304 || res.status === 101;
  const contentType = String(res.headers['content-type'] ?? '').split(';')[0].trim();
  const where = `${method} ${route} → ${res.status}`;
  const found = routes.find((r) => r.re.test(route));
  const op = found?.item[verb];
  if (!op) {
    // Not a documented operation (a web client file, or a wrong method or path):
    // whatever is an error must be a well-formed one.
    if (res.status < 400 || bodyless) {
      if (route.startsWith('/api/')) return `${where}: not a documented operation`;
      return null;
    }
    if (contentType !== 'application/json') return `${where}: an error that is not JSON (${contentType})`;
    const problem = errorBodyProblem(res.status, res.json);
    return problem ? `${where}: ${problem}` : null;
  }
  const statusKey = String(res.status);
  const key = [statusKey, `${statusKey[0]}XX`, 'default'].find((k) => op.responses[k]);
  if (!key) return `${where}: status not documented for ${verb.toUpperCase()} ${found.template}`;
  const { spec, shared } = resolveResponse(openapi, op.responses[key]);
  if (bodyless || !spec.content) return null;
  if (!spec.content[contentType]) {
    return `${where}: content type ${contentType || '(none)'} not documented (${Object.keys(spec.content).join(', ')})`;
  }
  if (contentType !== 'application/json') return null;
  if (res.json === undefined) return `${where}: the body is not JSON: ${res.text.slice(0, 200)}`;
  if (shared === 'Error') {
    const problem = errorBodyProblem(res.status, res.json);
    return problem ? `${where}: ${problem}` : null;
  }
  const ptr = pointer('paths', found.template, verb, 'responses', key, 'content', contentType, 'schema');
  const problem = mismatch('openapi.yaml', ptr, res.json);
  return problem ? `${where}: ${problem}` : null;
}

// The AsyncAPI schema of each op's successful reply.
const replySchemas = {
  hello: 'HelloReply',
  join: 'JoinReply',
  leave: 'EmptyReply',
  post: 'PostReply',
  history: 'HistoryReply',
  typing: 'EmptyReply',
  read: 'EmptyReply',
  decisions: 'DecisionsReply',
  availability: 'AvailabilityReply',
};

// The AsyncAPI schema of each push by `ev`.
const pushSchemas = {
  event: 'Event',
  presence: 'PresencePush',
  typing: 'TypingPush',
  read: 'ReadPush',
  state: 'StatePush',
};

function asyncSchema(name) {
  return pointer('components', 'schemas', name);
}

/**
 * Checks one object a server sent over a WebSocket: a push (`ev`) or a reply
 * (to `op`, when the request is known). null when it matches asyncapi.yaml,
 * else a text with the path of the mismatch.
 */
export function checkServerFrame(obj, op) {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return 'a server frame that is not a JSON object';
  if (obj.ev !== undefined) {
    const name = pushSchemas[obj.ev];
    if (!name) return `push of an undocumented ev ${JSON.stringify(obj.ev)}`;
    const problem = mismatch('asyncapi.yaml', asyncSchema(name), obj);
    return problem ? `push ${obj.ev}${obj.kind ? ` (${obj.kind})` : ''}: ${problem}` : null;
  }
  if (obj.ok === false) {
    const problem = mismatch('asyncapi.yaml', asyncSchema('ErrorReply'), obj);
    return problem ? `error reply${op ? ` to ${op}` : ''}: ${problem}` : null;
  }
  const name = replySchemas[op];
  // A reply to a frame whose op is unknown: at least a well-formed success.
  if (!name) {
    if (obj.ok !== true || !Number.isInteger(obj.id)) return `a reply without ok or id: ${JSON.stringify(obj).slice(0, 200)}`;
    return null;
  }
  const problem = mismatch('asyncapi.yaml', asyncSchema(name), obj);
  return problem ? `reply to ${op}: ${problem}` : null;
}

/** Checks a webhook POST body Parley sent (openapi.yaml `webhooks`), by its type. */
export function checkWebhookBody(body) {
  const { openapi } = load();
  const hook = openapi.webhooks?.[body?.type];
  if (!hook) return `webhook of an undocumented type ${JSON.stringify(body?.type)}`;
  const problem = mismatch('openapi.yaml', pointer('webhooks', body.type, 'post', 'requestBody', 'content', 'application/json', 'schema'), body);
  return problem ? `webhook ${body.type}: ${problem}` : null;
}

/** The documents as parsed from YAML (for tests of the served JSON). */
export function contracts() {
  const { openapi, asyncapi } = load();
  return { openapi, asyncapi };
}
