// A stand-in for the parley binary, for working on the web client by hand
// while the server is not available. Same command line and ready line as
// parley; keeps its events in <data-dir>/mock-events.jsonl. The committed
// browser tests never use it: they run the real binary (PARLEY_BIN).
//
//   PARLEY_SECRET=s node tests/browser/dev-mock-server.mjs --listen 127.0.0.1:0 --data-dir /tmp/x
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const here = path.dirname(fileURLToPath(import.meta.url));
const webRoot = path.resolve(args['web-root'] || path.join(here, '../../web-client'));
const dataDir = args['data-dir'] || fs.mkdtempSync('/tmp/parley-mock-');
const [host, portStr] = (args.listen || '127.0.0.1:0').split(':');
const secret = process.env.PARLEY_SECRET || 'dev-secret';
const CSP = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; script-src 'self'";
const PHASES = ['discovery', 'agreement', 'active', 'completion', 'closed'];
const DAY = 86400000;
const LIMIT = { discovery: 2 * DAY, agreement: 3 * DAY, active: 28 * DAY, completion: 5 * DAY };

fs.mkdirSync(dataDir, { recursive: true });
const logFile = path.join(dataDir, 'mock-events.jsonl');
const channels = new Map(); // ch -> {epoch, events, cids}
const engs = new Map(); // id -> {created, records}
const sockets = new Set();

function canon(v) {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canon(v[k])}`).join(',')}}`;
}
const sha = (s) => crypto.createHash('sha256').update(s, 'utf8').digest('hex');

function chan(ch, create = true) {
  let c = channels.get(ch);
  if (!c && create) { c = { epoch: crypto.randomBytes(6).toString('hex'), events: [], cids: new Map() }; channels.set(ch, c); persist({ t: 'chan', ch, epoch: c.epoch }); }
  return c;
}
function eng(id) {
  let e = engs.get(id);
  if (!e) { e = { created: Date.now(), records: [] }; engs.set(id, e); persist({ t: 'eng', id, created: e.created }); chan(`eng:${id}`); }
  return e;
}
let loading = false;
function persist(rec) { if (!loading) fs.appendFileSync(logFile, JSON.stringify(rec) + '\n'); }
if (fs.existsSync(logFile)) {
  loading = true;
  for (const line of fs.readFileSync(logFile, 'utf8').split('\n')) {
    if (!line) continue;
    const r = JSON.parse(line);
    if (r.t === 'chan') channels.set(r.ch, { epoch: r.epoch, events: [], cids: new Map() });
    if (r.t === 'eng') engs.set(r.id, { created: r.created, records: [] });
    if (r.t === 'ev') { const c = channels.get(r.ev.ch); c.events.push(r.ev); if (r.ev.cid) c.cids.set(`${r.ev.from.id}|${r.ev.cid}`, r.ev); }
    if (r.t === 'rec') engs.get(r.rec.eng).records.push(r.rec);
  }
  loading = false;
}

function verify(token) {
  const [h, p, s] = String(token).split('.');
  if (!s) return { err: 'malformed token' };
  const sig = crypto.createHmac('sha256', secret).update(`${h}.${p}`).digest('base64url');
  if (sig !== s) return { err: 'bad signature' };
  const c = JSON.parse(Buffer.from(p, 'base64url').toString());
  if (!c.exp || c.exp * 1000 < Date.now()) return { err: 'token expired' };
  return { claims: c, user: { id: c.sub, name: c.name || c.sub, role: c.role } };
}
const SYS = { id: 'parley', name: 'Parley', role: 'system' };
const isParty = (r) => r === 'client' || r === 'expert';
function mayJoin(a, ch) {
  const role = a.user.role;
  if (ch === 'support') return role === 'support';
  const m = /^eng:([A-Za-z0-9_-]{1,64})(:mediation)?$/.exec(ch);
  if (!m) return false;
  const listed = a.claims.eng.includes('*') || a.claims.eng.includes(m[1]);
  if (!listed) return false;
  if (m[2]) return isParty(role) || role === 'support';
  return true;
}

function state(id) {
  const e = eng(id);
  const ev = [...(chan(`eng:${id}`).events), ...(channels.get(`eng:${id}:mediation`)?.events || [])];
  let phase = 'discovery'; let since = e.created; let agreement = null; let lastStatus = null;
  const flags = new Map(); const props = new Map();
  for (const x of ev.sort((a, b) => a.ts - b.ts)) {
    if (x.kind === 'phase') { phase = x.body.to; since = x.ts; }
    if (x.kind === 'status') lastStatus = x.ts;
    if (x.kind === 'flag') flags.set(x.seq, { seq: x.seq, type: x.body.type, state: 'open', text: x.body.text, by: x.from });
    if (x.kind === 'flag_update' && x.ch === `eng:${id}` && flags.has(x.body.flag)) { if (x.body.state === 'resolved') flags.delete(x.body.flag); else flags.get(x.body.flag).state = x.body.state; }
    if (x.kind === 'proposal') props.set(`${x.ch}#${x.seq}`, { seq: x.seq, ch: x.ch, topic: x.body.topic, text: x.body.text, terms: x.body.terms, by: x.from, accepted_by: [] });
  }
  for (const r of e.records) {
    props.delete(`${r.ch}#${r.proposal_seq}`);
    if (['agreement', 'scope_change', 'timeline', 'compensation'].includes(r.topic)) agreement = { terms: { ...(agreement?.terms || {}), ...r.terms }, version: (agreement?.version || 0) + 1 };
    if (r.topic === 'resolution') flags.delete(r.terms.flag);
  }
  for (const x of ev) if (x.kind === 'decision') {
    const p = props.get(`${x.ch}#${x.body.proposal}`);
    if (p && x.body.verdict === 'rejected') props.delete(`${x.ch}#${x.body.proposal}`);
    else if (p) p.accepted_by.push(x.from);
  }
  return { phase, phase_since: since, phase_due: LIMIT[phase] ? since + LIMIT[phase] : null, agreement, open_flags: [...flags.values()], open_proposals: [...props.values()], owed_reply: null, last_status_ts: lastStatus };
}

function append(ch, kind, from, body, cid) {
  const c = chan(ch);
  if (cid && c.cids.has(`${from.id}|${cid}`)) return c.cids.get(`${from.id}|${cid}`);
  const ev = { ev: 'event', ch, seq: c.events.length + 1, kind, from, ts: Date.now(), ...(cid ? { cid } : {}), body };
  c.events.push(ev);
  if (cid) c.cids.set(`${from.id}|${cid}`, ev);
  persist({ t: 'ev', ev });
  const text = JSON.stringify(ev);
  for (const s of sockets) if (s.subs.has(ch)) s.send(text);
  return ev;
}

class Fail extends Error { constructor(code, msg) { super(msg); this.code = code; } }

function post(a, ch, kind, body, cid) {
  const role = a.user.role;
  const m = /^eng:([A-Za-z0-9_-]{1,64})(:mediation)?$/.exec(ch);
  if (ch === 'support') { if (role !== 'support' || kind !== 'message') throw new Fail('forbidden', 'support only'); return append(ch, kind, a.user, body, cid); }
  if (!m || !mayJoin(a, ch)) throw new Fail('forbidden', `not a member of ${ch}`);
  const id = m[1];
  eng(id);
  if (m[2] && !channels.has(ch)) throw new Fail('not_found', 'no mediation');
  const c = chan(ch);
  const st = state(id);
  if (kind === 'message') { if (!(isParty(role) || role === 'support')) throw new Fail('forbidden', 'may not message'); return append(ch, kind, a.user, body, cid); }
  if (kind === 'status') return append(ch, kind, a.user, body, cid);
  if (kind === 'flag') {
    const ev = append(ch, kind, a.user, body, cid);
    if (body.type === 'dispute') {
      chan(`eng:${id}:mediation`);
      append(`eng:${id}`, 'mediation', SYS, { state: 'opened', ch: `eng:${id}:mediation` });
    }
    if (body.type === 'dispute' || body.type === 'scope_change') append('support', 'notice', SYS, { type: body.type, eng: id, flag: ev.seq, text: body.text });
    return ev;
  }
  if (kind === 'flag_update') return append(ch, kind, a.user, body, cid);
  if (kind === 'proposal') {
    if (body.topic === 'resolution' ? role !== 'support' || !m[2] : !isParty(role)) throw new Fail('forbidden', 'may not propose');
    if (body.topic === 'phase' && PHASES.indexOf(body.terms.to) !== PHASES.indexOf(st.phase) + 1) throw new Fail('conflict', 'phase skipped');
    return append(ch, kind, a.user, body, cid);
  }
  if (kind === 'decision') {
    if (cid && c.cids.has(`${a.user.id}|${cid}`)) return c.cids.get(`${a.user.id}|${cid}`);
    const p = c.events.find((x) => x.seq === body.proposal && x.kind === 'proposal');
    if (!p) throw new Fail('not_found', 'no such proposal');
    if (!isParty(role)) throw new Fail('forbidden', 'parties decide');
    const open = st.open_proposals.find((x) => x.seq === p.seq && x.ch === ch);
    if (!open) throw new Fail('conflict', 'already decided');
    const resolution = p.body.topic === 'resolution';
    if (!resolution && p.from.role === role) throw new Fail('conflict', 'own proposal');
    if (resolution && open.accepted_by.some((u) => u.role === role)) throw new Fail('conflict', 'already decided');
    let record;
    const complete = body.verdict === 'accepted' && (!resolution || open.accepted_by.length === 1);
    const e = eng(id);
    const decisionSeq = c.events.length + 1;
    if (complete) {
      const prev = e.records.length ? e.records[e.records.length - 1].hash : '0'.repeat(64);
      const rec = { n: e.records.length + 1, eng: id, ch, topic: p.body.topic, terms: p.body.terms, text: p.body.text, proposed_by: p.from.id, accepted_by: [...open.accepted_by.map((u) => u.id), a.user.id], proposal_seq: p.seq, decision_seq: decisionSeq, ts: Date.now(), prev };
      rec.hash = sha(canon(rec));
      e.records.push(rec);
      persist({ t: 'rec', rec });
      record = { n: rec.n, hash: rec.hash, prev };
    }
    const ev = append(ch, 'decision', a.user, { ...body, ...(record ? { record } : {}) }, cid);
    if (complete && p.body.topic === 'phase') append(`eng:${id}`, 'phase', SYS, { from: st.phase, to: p.body.terms.to });
    if (complete && resolution) append(`eng:${id}`, 'mediation', SYS, { state: 'closed', ch });
    return ev;
  }
  throw new Fail('bad_request', `unknown kind ${kind}`);
}

function presenceOf(ch) {
  const seen = new Map();
  for (const s of sockets) if (s.subs.has(ch) && s.auth) seen.set(s.auth.user.id, s.auth.user);
  return [...seen.values()];
}
function pushAll(ch, obj, except) { const t = JSON.stringify(obj); for (const s of sockets) if (s !== except && s.subs.has(ch)) s.send(t); }

function onWs(ws) {
  ws.subs = new Set();
  sockets.add(ws);
  ws.on('close', () => { sockets.delete(ws); for (const ch of ws.subs) { ws.subs.delete(ch); if (!presenceOf(ch).some((u) => u.id === ws.auth.user.id)) pushAll(ch, { ev: 'presence', ch, joined: [], left: [ws.auth.user] }); } });
  ws.on('message', (data) => {
    let f; try { f = JSON.parse(String(data)); } catch { return; }
    const reply = (r) => f.id !== undefined && ws.send(JSON.stringify({ id: f.id, ok: true, ...r }));
    const fail = (code, message) => ws.send(JSON.stringify({ id: f.id, ok: false, error: { code, message } }));
    try {
      if (f.op === 'hello') { const v = verify(f.token); if (v.err) { fail('unauthorized', v.err); ws.close(4003, v.err); return; } ws.auth = v; reply({ user: v.user, server: { version: 'mock', instance: args.instance || 'mock' } }); return; }
      if (!ws.auth) { ws.close(4003); return; }
      if (f.op === 'join') {
        if (!mayJoin(ws.auth, f.ch)) return fail('forbidden', 'no');
        const m = /^eng:([A-Za-z0-9_-]+)(:mediation)?$/.exec(f.ch);
        if (m && !m[2]) eng(m[1]);
        if (m && m[2] && !channels.has(f.ch)) return fail('not_found', 'no mediation room');
        const c = chan(f.ch);
        const limit = Math.min(f.limit || 50, 500);
        const recovered = f.since !== undefined && f.epoch === c.epoch && c.events.length - f.since <= limit;
        const events = f.since !== undefined && f.epoch === c.epoch ? c.events.slice(f.since, f.since + limit) : c.events.slice(-limit);
        const wasIn = presenceOf(f.ch).some((u) => u.id === ws.auth.user.id);
        ws.subs.add(f.ch);
        if (!wasIn) pushAll(f.ch, { ev: 'presence', ch: f.ch, joined: [ws.auth.user], left: [] }, ws);
        reply({ ch: f.ch, epoch: c.epoch, head: c.events.length, events, recovered, state: m && !m[2] ? state(m[1]) : undefined, presence: presenceOf(f.ch) });
      } else if (f.op === 'leave') { ws.subs.delete(f.ch); reply({}); }
      else if (f.op === 'post') { const ev = post(ws.auth, f.ch, f.kind, f.body || {}, f.cid); reply({ seq: ev.seq, ts: ev.ts }); }
      else if (f.op === 'history') {
        if (!mayJoin(ws.auth, f.ch)) return fail('forbidden', 'no');
        const c = chan(f.ch); const limit = Math.min(f.limit || 50, 500);
        const events = f.after !== undefined ? c.events.slice(f.after, f.after + limit) : c.events.slice(Math.max(0, (f.before ?? c.events.length + 1) - 1 - limit), (f.before ?? c.events.length + 1) - 1);
        reply({ events });
      } else if (f.op === 'typing') pushAll(f.ch, { ev: 'typing', ch: f.ch, user: ws.auth.user }, ws);
      else if (f.op === 'read') { pushAll(f.ch, { ev: 'read', ch: f.ch, user: ws.auth.user, seq: f.seq }, ws); reply({}); }
      else if (f.op === 'decisions') reply({ records: eng(f.eng).records });
      else fail('bad_request', 'unknown op');
    } catch (err) { fail(err.code || 'internal', err.message); }
  });
}

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml' };
const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  const json = (status, obj) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(obj)); };
  if (url.pathname.startsWith('/api/v1/')) {
    const v = verify((req.headers.authorization || '').replace(/^Bearer /, ''));
    if (v.err) return json(401, { error: { code: 'unauthorized', message: v.err } });
    let m;
    if ((m = /^\/api\/v1\/engagements\/([A-Za-z0-9_-]+)(\/decisions)?$/.exec(url.pathname))) {
      if (!mayJoin(v, `eng:${m[1]}`)) return json(403, { error: { code: 'forbidden', message: 'no' } });
      if (!m[2]) return json(200, state(m[1]));
      const recs = eng(m[1]).records;
      if (url.searchParams.get('format') === 'jsonl') { res.writeHead(200, { 'content-type': 'application/x-ndjson' }); res.end(recs.map((r) => JSON.stringify(r) + '\n').join('')); return; }
      return json(200, { records: recs });
    }
    if ((m = /^\/api\/v1\/channels\/([^/]+)\/events$/.exec(url.pathname))) {
      const ch = decodeURIComponent(m[1]);
      if (req.method === 'POST') {
        let body = ''; for await (const chunk of req) body += chunk;
        try { const p = JSON.parse(body); const ev = post(v, ch, p.kind, p.body, p.cid); return json(201, { seq: ev.seq, ts: ev.ts }); } catch (err) { return json(err.code === 'forbidden' ? 403 : err.code === 'conflict' ? 409 : 400, { error: { code: err.code || 'bad_request', message: err.message } }); }
      }
      const c = chan(ch); return json(200, { events: c.events.slice(Number(url.searchParams.get('after') || 0)) });
    }
    return json(404, { error: { code: 'not_found', message: 'no route' } });
  }
  if (url.pathname === '/healthz' || url.pathname === '/readyz') { res.end('ok'); return; }
  const file = path.join(webRoot, url.pathname === '/' ? 'index.html' : path.normalize(url.pathname));
  if (!file.startsWith(webRoot) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) { res.writeHead(404); res.end('not found'); return; }
  res.writeHead(200, { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream', 'content-security-policy': CSP, 'cache-control': 'no-cache' });
  fs.createReadStream(file).pipe(res);
});
const wss = new WebSocketServer({ noServer: true, handleProtocols: (p) => (p.has('parley.v1') ? 'parley.v1' : false) });
server.on('upgrade', (req, sock, head) => { if (new URL(req.url, 'http://x').pathname !== '/ws') return sock.destroy(); wss.handleUpgrade(req, sock, head, onWs); });
server.listen(Number(portStr), host, () => console.log(`parley: listening on http://${host}:${server.address().port}/`));
process.on('SIGTERM', () => { for (const s of sockets) s.close(1001); server.close(); process.exit(0); });
