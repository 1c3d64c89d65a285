// Test harness for Parley's integration suite: starts servers, signs tokens,
// speaks the WebSocket protocol (protocol §3) and the HTTP API (protocol §7).
//
// Every server, client and temporary directory created here is registered and
// released by cleanup(); each test file calls it from `after()`. A process
// exit handler kills whatever is still running and removes the directories as
// a last resort, so a failing test never leaves a server behind.

import { execFileSync, spawn } from 'node:child_process';
import { createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { after, afterEach } from 'node:test';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { checkHttpResponse, checkServerFrame } from '../specs/contracts.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');
export const PARLEY_BIN = process.env.PARLEY_BIN || path.join(repoRoot, 'build', 'server', 'parley');
// Which storage engine the suite runs against: `local` (embedded SQLite),
// `redis` (a real redis-server per data directory, started here) or
// `redis-cluster` (real six-node Redis Clusters, redis_cluster.mjs, one per
// test process and set of shared settings, sharedRedisCluster()).
export const ENGINE = process.env.PARLEY_ENGINE || 'local';
export const REDIS_BIN = process.env.REDIS_SERVER_BIN || '/usr/bin/redis-server';
export const DEFAULT_SECRET = 'parley-integration-secret-' + randomBytes(6).toString('hex');

// The TLS pass (PARLEY_TLS=1): every server started here serves https://
// and wss:// with a certificate of the suite's test CA, and every client
// trusts that CA. Tests that speak to raw sockets use rawSocket().
export const TLS = process.env.PARLEY_TLS === '1';

const READY_RE = /^parley: listening on (https?):\/\/127\.0\.0\.1:(\d+)\/\s*$/;
const START_TIMEOUT_MS = 20000;
const STOP_TIMEOUT_MS = 20000;
const LOG_LIMIT = 256 * 1024;

const servers = new Set();
const pendingWaits = new Set();  // {timer, reject} of every until() still waiting
const clients = new Set();
const tempDirs = new Set();
let instanceCounter = 0;

// ---------------------------------------------------------------------------
// Contracts: every HTTP response and every WebSocket frame the suite sees is
// checked against protocol/openapi.yaml and protocol/asyncapi.yaml
// (tests/specs/contracts.mjs). A mismatch fails the test that saw it: an
// HTTP request or a WebSocket request rejects, and a push that does not match
// fails the test when it ends.

const contractViolations = [];

function contractViolation(text) {
  contractViolations.push(text);
  return new Error(`contract violation: ${text}`);
}

function failOnViolations() {
  if (contractViolations.length === 0) return;
  const seen = contractViolations.splice(0);
  throw new Error(`the server broke its contract (protocol/openapi.yaml, protocol/asyncapi.yaml):\n  ${seen.slice(0, 5).join('\n  ')}`);
}

afterEach(failOnViolations);
after(failOnViolations);

// A push fanned out to several clients of a test is checked once: the texts
// of recent pushes that matched (bounded), so that checking costs little
// beside a flood of events.
const matchedPushes = new Set();

function checkFrameOnce(line, obj, op) {
  if (obj?.ev === undefined) return checkServerFrame(obj, op);
  if (matchedPushes.has(line)) return null;
  const violation = checkServerFrame(obj, op);
  if (!violation) {
    if (matchedPushes.size >= 4096) matchedPushes.clear();
    matchedPushes.add(line);
  }
  return violation;
}

// ---------------------------------------------------------------------------
// Temporary directories

export function makeTempDir(prefix = 'parley-test-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

function removeDirSync(dir) {
  try {
    fs.rmSync(dir, { recursive: true, force: true });
  } catch {
    // best effort
  }
}

// ---------------------------------------------------------------------------
// Signing key

// Servers sign the decision log (protocol §9.11) and refuse to start without
// a key unless in development mode: one Ed25519 key per suite run, written as
// PKCS#8 PEM into a directory of its own.
export const SIGNING_KEY = generateKeyPairSync('ed25519');
let signingKeyFile = null;

export function signingKeyPath() {
  if (signingKeyFile && fs.existsSync(signingKeyFile)) return signingKeyFile;
  const dir = makeTempDir('parley-key-');
  signingKeyFile = path.join(dir, 'signing-key.pem');
  fs.writeFileSync(signingKeyFile, SIGNING_KEY.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  return signingKeyFile;
}

// ---------------------------------------------------------------------------
// Test certificates, made with the openssl command line as operators do

function openssl(args, cwd) {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

// A self-signed CA in `dir`: { cert, key } file paths.
export function makeCa(dir, name = 'ca') {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', `/CN=Parley test CA ${name}`, '-keyout', `${name}-key.pem`, '-out', `${name}.pem`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  return { cert: path.join(dir, `${name}.pem`), key: path.join(dir, `${name}-key.pem`) };
}

// A certificate signed by `issuer` ({ cert, key }): a server certificate for
// 127.0.0.1 and localhost, or with `ca` an intermediate CA. Each has a serial of its own.
export function makeCert(dir, name, issuer, { ca = false, cn = name } = {}) {
  const ext = ca
    ? 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n'
    : 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n';
  fs.writeFileSync(path.join(dir, `${name}.ext`), ext);
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-subj', `/CN=${cn}`, '-keyout', `${name}-key.pem`, '-out', `${name}.csr`], dir);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', issuer.cert, '-CAkey', issuer.key,
    '-set_serial', '0x' + randomBytes(8).toString('hex'), '-days', '2', '-extfile', `${name}.ext`,
    '-out', `${name}.pem`], dir);
  return { cert: path.join(dir, `${name}.pem`), key: path.join(dir, `${name}-key.pem`) };
}

let pki = null;

// The suite's test CA and a server pair signed by it (made once per run).
export function testPki() {
  if (pki && fs.existsSync(pki.cert)) return pki;
  const dir = makeTempDir('parley-pki-');
  const ca = makeCa(dir);
  const server = makeCert(dir, 'server', ca);
  pki = { dir, ca: fs.readFileSync(ca.cert), caFile: ca.cert, cert: server.cert, key: server.key };
  return pki;
}

/**
 * A raw socket to a server: net.Socket on a plain server, a TLS socket
 * trusting the server's CA on a TLS one (writes before the handshake ends are
 * queued, so callers use both the same way).
 */
export function rawSocket(server, port = server.port) {
  if (!server.tls) return net.connect(port, '127.0.0.1');
  return tls.connect({ port, host: '127.0.0.1', ca: server.ca, ALPNProtocols: ['http/1.1'] });
}

// http.request to a server, over TLS (trusting its CA) when it serves TLS.
export function serverRequest(server, options, callback) {
  const mod = server.tls ? https : http;
  return mod.request({ ...options, ...(server.tls ? { ca: server.ca } : {}) }, callback);
}

// ---------------------------------------------------------------------------
// Servers

// Redis servers by data directory: a Parley restarted on the same data
// directory finds the same Redis, as it would find the same SQLite file.
const redisServers = new Map();

// Ports for the test's own redis-servers. Suites run side by side (ctest's
// shards), and a killed Redis is restarted on its port, so each shard takes
// ports from its own range (PARLEY_TEST_PORTS=low-high, set by ctest) below
// the kernel's ephemeral range, and never hands out one port twice.
const [portLow, portHigh] = (process.env.PARLEY_TEST_PORTS ?? '10000-32000').split('-').map(Number);
const portsHandedOut = new Set();

function canBind(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

export async function freePort() {
  const span = portHigh - portLow;
  const start = Math.floor(Math.random() * span);
  for (let i = 0; i < span; i++) {
    const port = portLow + ((start + i) % span);
    if (portsHandedOut.has(port) || !(await canBind(port))) continue;
    portsHandedOut.add(port);
    return port;
  }
  throw new Error(`no free port in ${portLow}-${portHigh}`);
}

function redisPing(port) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let reply = '';
    sock.setTimeout(1000, () => sock.destroy());
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      reply += d;
      if (reply.includes('\r\n')) sock.end();
    });
    // A server that wants a password answers NOAUTH: it is up all the same.
    sock.on('close', () => resolve(reply.startsWith('+PONG') || reply.startsWith('-NOAUTH')));
    sock.on('error', () => {});
  });
}

// Starts redis-server for `dataDir` (once), with the durability the README
// recommends (appendonly, appendfsync always), on a free loopback port.
// `args`: more redis-server arguments (later ones override earlier ones).
export async function redisFor(dataDir, { args = [] } = {}) {
  const known = redisServers.get(dataDir);
  if (known && known.proc.exitCode === null && known.proc.signalCode === null) return known;
  const dir = path.join(dataDir, 'redis');
  fs.mkdirSync(dir, { recursive: true });
  const port = known?.port ?? await freePort();
  const proc = spawn(REDIS_BIN, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes',
    '--appendfsync', 'always', '--dir', dir, '--daemonize', 'no', '--logfile', '', ...args], { stdio: 'ignore' });
  const redis = { port, proc, dataDir, args, url: `redis://127.0.0.1:${port}` };
  redisServers.set(dataDir, redis);
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(await redisPing(port))) {
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server did not start on port ${port}`);
    await sleep(50);
  }
  return redis;
}

// Kills a test's redis-server (SIGKILL): what it acknowledged is in its AOF.
export async function killRedis(redis) {
  if (redis.proc.exitCode !== null || redis.proc.signalCode !== null) return;
  const exited = new Promise((resolve) => redis.proc.once('exit', resolve));
  redis.proc.kill('SIGKILL');
  await exited;
}

// Starts a killed redis-server again on the same port, from its AOF, or
// empty with { empty: true } (Redis lost its data).
export async function restartRedis(redis, { empty = false } = {}) {
  await killRedis(redis);
  if (empty) fs.rmSync(path.join(redis.dataDir, 'redis'), { recursive: true, force: true });
  return redisFor(redis.dataDir, { args: redis.args });
}

async function stopRedis(redis) {
  if (redis.proc.exitCode !== null || redis.proc.signalCode !== null) return;
  const exited = new Promise((resolve) => redis.proc.once('exit', resolve));
  redis.proc.kill('SIGTERM');
  await withTimeout(exited, STOP_TIMEOUT_MS, 'redis-server did not exit').catch(() => redis.proc.kill('SIGKILL'));
}

// Redis Clusters started by redis_cluster.mjs (startRedisCluster registers
// each one here): cleanup() stops them, the exit handler kills their nodes.
const redisClusters = new Set();
// Promises of the clusters of the `redis-cluster` engine, by sharedSettings().
const sharedClusters = new Map();

export function trackRedisCluster(cluster) {
  redisClusters.add(cluster);
}

// The settings instances on one storage must share (README, "Timers are
// shared", and the webhook queue): the windows of the service levels and the
// reviews, the digests, the webhook receiver. Those of `args`, as one string.
const SHARED_SETTINGS = new Set(['--reply-sla', '--status-sla', '--phase-limits', '--proposal-ttl', '--review-period',
  '--review-warning', '--review-window', '--digest-after', '--digest-every', '--webhook-url', '--webhook-retry-for']);
function sharedSettings(args) {
  const picked = [];
  for (let i = 0; i < args.length; i++) if (SHARED_SETTINGS.has(args[i])) picked.push(`${args[i]}=${args[i + 1]}`);
  return picked.sort().join(' ');
}

// The Redis Cluster of this test process (engine `redis-cluster`) for servers
// started with `args`: one per set of shared settings (most tests have one),
// started on first use and shared by every server with those settings, as
// instances of one deployment share it.
export function sharedRedisCluster(args = []) {
  const settings = sharedSettings(args);
  if (!sharedClusters.has(settings)) {
    const started = import('./redis_cluster.mjs').then((m) => m.startRedisCluster());
    sharedClusters.set(settings, started);
    started.catch(() => {
      if (sharedClusters.get(settings) === started) sharedClusters.delete(settings);
    });
  }
  return sharedClusters.get(settings);
}

// Arguments that select the storage engine. The only place that knows how an
// engine is configured, so the same tests run against every engine.
async function engineArgs(engine, dataDir, args) {
  switch (engine) {
    case 'local':
      return [];
    case 'redis':
      return ['--redis', (await redisFor(dataDir)).url];
    case 'redis-cluster':
      return ['--redis', (await sharedRedisCluster(args)).url];
    default:
      throw new Error(`unknown engine ${engine}`);
  }
}

function appendLog(state, chunk) {
  state.log += chunk.toString('utf8');
  if (state.log.length > LOG_LIMIT) state.log = state.log.slice(state.log.length - LOG_LIMIT);
}

// Spawns one server process and resolves once it printed its ready line.
function launch(opts) {
  const { args, env, dataDir, port, instance, storageArgs, secret, wrap } = opts;
  // Snapshots every few events (the server's default is 100): every restart
  // and every reload of a dropped engagement in the suite then starts from a
  // snapshot and reads only the events after it, so a snapshot that lost
  // anything shows as a state that differs.
  const snapshots = args.includes('--snapshot-every') ? [] : ['--snapshot-every', '5'];
  const argv = [
    '--listen', `127.0.0.1:${port}`,
    '--data-dir', dataDir,
    '--instance', instance,
    ...storageArgs,
    ...snapshots,
    ...args,
  ];
  // PARLEY_* variables are option fallbacks of the server: pass only the ones given here.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PARLEY_')));
  // `wrap` runs the server under another command, e.g. ['prlimit', '--nofile=64:64'].
  const [cmd, ...cmdArgs] = [...(wrap ?? []), PARLEY_BIN, ...argv];
  const proc = spawn(cmd, cmdArgs, {
    cwd: repoRoot,
    env: { ...inherited, ...(secret ? { PARLEY_SECRET: secret } : {}), PARLEY_SIGNING_KEY_FILE: signingKeyPath(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const state = { log: '', exitCode: undefined, signal: undefined };
  const exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      state.exitCode = code;
      state.signal = signal;
      resolve({ code, signal });
    });
    proc.on('error', (err) => {
      appendLog(state, `spawn error: ${err.message}\n`);
      state.exitCode = null;
      resolve({ code: null, signal: null, error: err });
    });
  });
  proc.stderr.on('data', (d) => {
    appendLog(state, d);
    if (process.env.PARLEY_TEST_VERBOSE) process.stderr.write(d);
  });

  const ready = new Promise((resolve, reject) => {
    let stdoutBuf = '';
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      proc.kill('SIGKILL');
      reject(new Error(`server did not become ready within ${START_TIMEOUT_MS} ms\n${state.log}`));
    }, START_TIMEOUT_MS);
    proc.stdout.on('data', (d) => {
      appendLog(state, d);
      if (done) return;
      stdoutBuf += d.toString('utf8');
      let nl;
      while ((nl = stdoutBuf.indexOf('\n')) >= 0) {
        const line = stdoutBuf.slice(0, nl);
        stdoutBuf = stdoutBuf.slice(nl + 1);
        const m = READY_RE.exec(line);
        if (m) {
          done = true;
          clearTimeout(timer);
          resolve(Number(m[2]));
          return;
        }
      }
    });
    exited.then(({ code, signal }) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(new Error(`server exited before ready (code ${code}, signal ${signal}): ${argv.join(' ')}\n${state.log}`));
    });
  });
  return { proc, state, exited, ready, argv };
}

/**
 * Starts a Parley server.
 *   args     extra command-line arguments (limits and the like)
 *   env      extra environment
 *   dataDir  data directory (a fresh temporary one when omitted)
 *   port     listening port (0: the kernel picks)
 *   engine   storage engine (default: PARLEY_ENGINE or `local`)
 *   secret   token secret (default: the suite's secret; '': none)
 *   wrap     a command (and its arguments) to run the server under
 *   redis    a Redis shared with other servers, from redisFor()
 *   redisCluster  a Redis Cluster shared with other servers, from startRedisCluster()
 * Resolves to a server handle:
 *   { port, url, wsUrl, dataDir, proc, secret, instance,
 *     stop() -> exit code, kill() -> exit info, restart(opts) -> new handle,
 *     exited: Promise<{code, signal}>, logs() -> recent stdout/stderr }
 */
export async function startServer(options = {}) {
  const opts = {
    args: options.args ?? [],
    env: options.env ?? {},
    dataDir: options.dataDir ?? makeTempDir('parley-data-'),
    port: options.port ?? 0,
    instance: options.instance ?? `it-${process.pid}-${++instanceCounter}`,
    engine: options.engine ?? ENGINE,
    secret: options.secret ?? DEFAULT_SECRET,
    wrap: options.wrap,
    tls: options.tls ?? TLS,
  };
  // tls: true (the suite's test pair) or { cert, key, ca } of the test's own.
  let tlsFiles = null;
  if (opts.tls) {
    const p = testPki();
    tlsFiles = opts.tls === true ? { cert: p.cert, key: p.key, ca: p.ca } : opts.tls;
    opts.args = ['--tls-cert', tlsFiles.cert, '--tls-key', tlsFiles.key, ...opts.args];
  }
  // `redis`: a Redis shared with other servers (cluster mode), from redisFor();
  // `redisCluster`: a Redis Cluster shared likewise, from startRedisCluster().
  const shared = options.redis ?? options.redisCluster;
  const storageArgs = shared ? ['--redis', shared.url] : await engineArgs(opts.engine, opts.dataDir, opts.args);
  const launched = launch({ ...opts, storageArgs });
  const server = {
    dataDir: opts.dataDir,
    proc: launched.proc,
    secret: opts.secret,
    instance: opts.instance,
    engine: opts.engine,
    exited: launched.exited,
    argv: launched.argv,
    logs: () => launched.state.log,
    get running() {
      return launched.state.exitCode === undefined;
    },
  };
  servers.add(server);
  let port;
  try {
    port = await launched.ready;
  } catch (err) {
    servers.delete(server);
    throw err;
  }
  server.port = port;
  server.tls = Boolean(tlsFiles);
  if (tlsFiles) server.ca = tlsFiles.ca;
  server.url = `${server.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  server.wsUrl = `${server.tls ? 'wss' : 'ws'}://127.0.0.1:${port}/ws`;

  // SIGTERM, wait for the exit; resolves to the exit code (null when killed by a signal).
  server.stop = async (timeoutMs = STOP_TIMEOUT_MS) => {
    if (server.running) server.proc.kill('SIGTERM');
    const res = await withTimeout(server.exited, timeoutMs, 'server did not exit after SIGTERM').catch((err) => {
      server.proc.kill('SIGKILL');
      throw err;
    });
    servers.delete(server);
    return res.code;
  };
  // SIGKILL, wait for the exit.
  server.kill = async () => {
    if (server.running) server.proc.kill('SIGKILL');
    const res = await server.exited;
    servers.delete(server);
    return res;
  };
  // Starts a new process on the same data directory (stopping this one first
  // with SIGTERM if it still runs). Tries the same port, then any port.
  server.restart = async (more = {}) => {
    if (server.running) await server.stop();
    const base = { ...options, dataDir: opts.dataDir, instance: opts.instance, engine: opts.engine, secret: opts.secret, ...more };
    try {
      return await startServer({ ...base, port: more.port ?? port });
    } catch (err) {
      if (more.port !== undefined) throw err;
      return startServer({ ...base, port: 0 });
    }
  };
  return server;
}

// ---------------------------------------------------------------------------
// Tokens

function b64url(buf) {
  return Buffer.from(buf).toString('base64').replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
}

/**
 * Signs claims as an HS256 JWT. `exp` defaults to one hour from now; pass
 * exp: null to leave it out. options: { secret, header }.
 */
export function token(claims, options = {}) {
  const secret = options.secret ?? DEFAULT_SECRET;
  const header = options.header ?? { alg: 'HS256', typ: 'JWT' };
  const body = { ...claims };
  if (body.exp === undefined) body.exp = Math.floor(Date.now() / 1000) + 3600;
  if (body.exp === null) delete body.exp;
  const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(body))}`;
  const sig = b64url(createHmac('sha256', secret).update(signingInput).digest());
  return `${signingInput}.${sig}`;
}

// A token for a user: user('u1', 'client', ['42']) or with extra claims.
export function userToken(sub, role, eng, extra = {}) {
  return token({ sub, name: extra.name ?? `${role} ${sub}`, role, eng, ...extra });
}

let uniqueCounter = 0;
// A fresh engagement id, so tests sharing a server never share channels.
export function uniqueEng(prefix = 'e') {
  return `${prefix}${process.pid}-${++uniqueCounter}-${randomBytes(3).toString('hex')}`;
}

// ---------------------------------------------------------------------------
// WebSocket client

export function withTimeout(promise, ms, what = 'timed out') {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} (after ${ms} ms)`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

const DEFAULT_WAIT_MS = 10000;

export class Client {
  constructor(ws) {
    this.ws = ws;
    this.nextId = 1;
    this.waiting = new Map();  // id -> {resolve, reject, timer}
    this.pushes = [];          // every pushed object (`ev`), in arrival order, never consumed
    this.replies = [];         // every reply object, in arrival order
    this.frames = 0;           // server frames received
    this.pending = [];         // pushes not yet taken by waitFor()
    this.watchers = new Set(); // re-checked on every incoming frame and on close
    this.pushListeners = new Set();
    this.eventsByCh = new Map(); // ch -> persisted events pushed, in arrival order
    this.closeInfo = null;
    this.errors = [];
    this.user = null;
    this.opsById = new Map();  // id -> op of each request frame sent, to check its reply

    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString('utf8') };
        for (const [, w] of this.waiting) {
          clearTimeout(w.timer);
          w.reject(new Error(`connection closed (${code} ${this.closeInfo.reason}) before the reply`));
        }
        this.waiting.clear();
        clients.delete(this);
        this.#notify();
        resolve(this.closeInfo);
      });
    });
    ws.on('error', (err) => this.errors.push(err));
    ws.on('message', (data, isBinary) => this.#onFrame(data, isBinary));
  }

  get isOpen() {
    return this.ws.readyState === WebSocket.OPEN;
  }

  #onFrame(data, isBinary) {
    this.frames++;
    const text = Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data).toString('utf8');
    if (isBinary) this.errors.push(new Error('server sent a binary frame'));
    for (const line of text.split('\n')) {
      if (line.length === 0) continue;
      let obj;
      try {
        obj = JSON.parse(line);
      } catch {
        this.errors.push(new Error(`server sent invalid JSON: ${line.slice(0, 200)}`));
        continue;
      }
      const op = obj && obj.id !== undefined && obj.id !== null ? this.opsById.get(obj.id) : undefined;
      const violation = checkFrameOnce(line, obj, op);
      if (violation) this.errors.push(contractViolation(violation));
      if (obj && obj.ev !== undefined) {
        this.pushes.push(obj);
        this.pending.push(obj);
        if (obj.ev === 'event') {
          let list = this.eventsByCh.get(obj.ch);
          if (!list) this.eventsByCh.set(obj.ch, (list = []));
          list.push(obj);
        }
        for (const fn of this.pushListeners) fn(obj);
      } else {
        this.replies.push(obj);
        const w = obj && obj.id !== undefined && obj.id !== null ? this.waiting.get(obj.id) : undefined;
        if (w) {
          this.waiting.delete(obj.id);
          this.opsById.delete(obj.id);
          clearTimeout(w.timer);
          if (violation) w.reject(new Error(`contract violation: ${violation}`));
          else w.resolve(obj);
        }
      }
    }
    this.#notify();
  }

  #notify() {
    for (const w of [...this.watchers]) w();
  }

  // Remembers the op of a request frame, so that its reply is checked as that op's.
  #noteOp(obj) {
    if (obj && typeof obj === 'object' && Number.isInteger(obj.id) && typeof obj.op === 'string') {
      // Bounded: replies to ids sent without request() are never claimed.
      if (this.opsById.size >= 10000) this.opsById.clear();
      this.opsById.set(obj.id, obj.op);
    }
  }

  // Sends an object as one text frame, as is.
  send(obj) {
    this.#noteOp(obj);
    this.ws.send(JSON.stringify(obj));
  }

  // Sends a raw frame: a string (text), or a Buffer with {binary}.
  sendRaw(data, { binary = false } = {}) {
    if (!binary && typeof data === 'string' && data.length < 65536) {
      try {
        this.#noteOp(JSON.parse(data));
      } catch {
        // garbage on purpose
      }
    }
    this.ws.send(data, { binary });
  }

  // Sends {op, id, ...fields} and resolves to the reply carrying that id (ok or not).
  request(op, fields = {}, { timeoutMs = DEFAULT_WAIT_MS } = {}) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (!this.isOpen) {
        reject(new Error(`connection not open (close ${this.closeInfo?.code}) for ${op}`));
        return;
      }
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`no reply to ${op} #${id} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, { resolve, reject, timer });
      this.opsById.set(id, op);
      this.ws.send(JSON.stringify({ id, op, ...fields }));
    });
  }

  // As request(), but rejects unless the reply is ok.
  async call(op, fields = {}, opts = {}) {
    const reply = await this.request(op, fields, opts);
    if (!reply.ok) {
      const e = new Error(`${op} failed: ${JSON.stringify(reply.error)}`);
      e.reply = reply;
      throw e;
    }
    return reply;
  }

  async hello(tok) {
    const reply = await this.request('hello', { token: tok });
    if (reply.ok) this.user = reply.user;
    return reply;
  }

  join(ch, { since, epoch, limit } = {}) {
    const f = { ch };
    if (since !== undefined) f.since = since;
    if (epoch !== undefined) f.epoch = epoch;
    if (limit !== undefined) f.limit = limit;
    return this.request('join', f);
  }

  leave(ch) {
    return this.request('leave', { ch });
  }

  post(ch, kind, body, { cid } = {}) {
    const f = { ch, kind, body };
    if (cid !== undefined) f.cid = cid;
    return this.request('post', f);
  }

  message(ch, text, opts = {}) {
    return this.post(ch, 'message', { text }, opts);
  }

  history(ch, { before, after, limit } = {}) {
    const f = { ch };
    if (before !== undefined) f.before = before;
    if (after !== undefined) f.after = after;
    if (limit !== undefined) f.limit = limit;
    return this.request('history', f);
  }

  // typing needs no reply: sent without an id.
  typing(ch) {
    this.send({ op: 'typing', ch });
  }

  read(ch, seq) {
    return this.request('read', { ch, seq });
  }

  // The decision log, or one page of it with {after, limit}.
  decisions(eng, { after, limit } = {}) {
    const f = { eng };
    if (after !== undefined) f.after = after;
    if (limit !== undefined) f.limit = limit;
    return this.request('decisions', f);
  }

  // Resolves once check() returns a value other than undefined/false, re-checked on
  // every incoming object and on close. Rejects after timeoutMs.
  until(check, timeoutMs = DEFAULT_WAIT_MS, what = 'condition') {
    return new Promise((resolve, reject) => {
      let timer;
      const wait = { reject: (err) => { this.watchers.delete(watcher); clearTimeout(timer); reject(err); } };
      const settle = () => { pendingWaits.delete(wait); };
      const watcher = () => {
        let v;
        try {
          v = check();
        } catch (err) {
          this.watchers.delete(watcher);
          clearTimeout(timer);
          settle();
          reject(err);
          return;
        }
        if (v !== undefined && v !== false) {
          this.watchers.delete(watcher);
          clearTimeout(timer);
          settle();
          resolve(v);
        }
      };
      timer = setTimeout(() => {
        this.watchers.delete(watcher);
        settle();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; close=${JSON.stringify(this.closeInfo)} last pushes=${JSON.stringify(this.pushes.slice(-3)).slice(0, 600)}`));
      }, timeoutMs);
      this.watchers.add(watcher);
      pendingWaits.add(wait);
      watcher();
    });
  }

  // Takes the first not-yet-taken push matching predicate (waiting for it).
  waitFor(predicate, timeoutMs = DEFAULT_WAIT_MS) {
    return this.until(() => {
      const i = this.pending.findIndex(predicate);
      if (i < 0) return undefined;
      return this.pending.splice(i, 1)[0];
    }, timeoutMs, `a push matching ${predicate}`);
  }

  // Calls fn(push) for every push from now on; returns a function that stops it.
  onPush(fn) {
    this.pushListeners.add(fn);
    return () => this.pushListeners.delete(fn);
  }

  // Persisted events pushed on a channel, in arrival order (a copy).
  events(ch) {
    return [...(this.eventsByCh.get(ch) ?? [])];
  }

  // Waits until at least n events were pushed on ch; resolves to all of them.
  waitForEvents(ch, n, timeoutMs = DEFAULT_WAIT_MS) {
    return this.until(() => {
      const count = this.eventsByCh.get(ch)?.length ?? 0;
      return count >= n ? this.events(ch) : undefined;
    }, timeoutMs, `${n} events on ${ch}`);
  }

  // Waits for a reply that no request() claimed (e.g. to a frame sent with send()).
  waitForReply(predicate, timeoutMs = DEFAULT_WAIT_MS) {
    return this.until(() => this.replies.find(predicate), timeoutMs, `a reply matching ${predicate}`);
  }

  // Waits for the connection to close; resolves to {code, reason}.
  waitClosed(timeoutMs = DEFAULT_WAIT_MS) {
    return withTimeout(this.closed, timeoutMs, 'connection did not close');
  }

  // Closes politely; terminates when the close handshake does not finish.
  async close(timeoutMs = 3000) {
    if (this.closeInfo) return this.closeInfo;
    try {
      if (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
      return await withTimeout(this.closed, timeoutMs, 'close handshake');
    } catch {
      this.ws.terminate();
      return this.closed;
    }
  }

  terminate() {
    this.ws.terminate();
    return this.closed;
  }
}

/**
 * Opens a WebSocket and resolves to a Client once open.
 * options: { protocols, timeoutMs, maxPayload } (ws options pass through).
 */
export function connect(wsUrl, { protocols, timeoutMs = DEFAULT_WAIT_MS, ...wsOptions } = {}) {
  return new Promise((resolve, reject) => {
    // wss://: the suite's test CA unless the caller names one.
    const tlsOptions = wsUrl.startsWith('wss:') && !wsOptions.ca ? { ca: testPki().ca } : {};
    const ws = new WebSocket(wsUrl, protocols, { handshakeTimeout: timeoutMs, maxPayload: 256 * 1024 * 1024, ...tlsOptions, ...wsOptions });
    const client = new Client(ws);
    clients.add(client);
    const onError = (err) => {
      clients.delete(client);
      reject(err);
    };
    ws.once('error', onError);
    ws.once('open', () => {
      ws.off('error', onError);
      resolve(client);
    });
  });
}

// Connects and says hello; rejects unless hello succeeds.
export async function connectAs(server, tok, options = {}) {
  let c;
  try {
    c = await connect(server.wsUrl, options);
  } catch (err) {
    if (!server.running) err.message += `\nserver process has exited; its output:\n${server.logs().slice(-4000)}`;
    throw err;
  }
  const reply = await c.hello(tok);
  if (!reply.ok) {
    await c.close();
    throw new Error(`hello refused: ${JSON.stringify(reply)}`);
  }
  return c;
}

// ---------------------------------------------------------------------------
// HTTP

/**
 * One HTTP request. path is sent exactly as given (no re-encoding).
 * options: { token, body (object: sent as JSON), rawBody (string|Buffer), headers, timeoutMs }
 * Resolves to { status, headers, text, json } (json undefined unless the body parses).
 */
export function httpRequest(server, method, reqPath, { token: tok, body, rawBody, headers = {}, timeoutMs = DEFAULT_WAIT_MS } = {}) {
  return new Promise((resolve, reject) => {
    const h = { ...headers };
    let payload;
    if (rawBody !== undefined) payload = Buffer.isBuffer(rawBody) ? rawBody : Buffer.from(rawBody, 'utf8');
    else if (body !== undefined) payload = Buffer.from(JSON.stringify(body), 'utf8');
    if (payload !== undefined) {
      if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['Content-Type'] = 'application/json';
      h['Content-Length'] = String(payload.length);
    }
    if (tok) h.Authorization = `Bearer ${tok}`;
    const req = (server.tls ? https : http).request({
      host: '127.0.0.1',
      port: server.port,
      method,
      path: reqPath,
      headers: h,
      agent: false,
      timeout: timeoutMs,
      ...(server.tls ? { ca: server.ca } : {}),
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        const out = { status: res.statusCode, headers: res.headers, text, json };
        const violation = checkHttpResponse(method, reqPath, out);
        if (violation) reject(contractViolation(violation));
        else resolve(out);
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`HTTP ${method} ${reqPath} timed out`)));
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

// Shorthand bound to a server: const h = httpFor(server); await h('GET', '/healthz').
export function httpFor(server) {
  return (method, reqPath, options) => httpRequest(server, method, reqPath, options);
}

// ---------------------------------------------------------------------------
// Assertions on event streams

// Checks that events are strictly consecutive seqs starting at `first`; returns an error text or null.
export function gapError(events, first) {
  for (let i = 0; i < events.length; i++) {
    if (events[i].seq !== first + i) {
      return `expected seq ${first + i} at index ${i}, got ${events[i].seq}`;
    }
  }
  return null;
}

// Reads a whole channel through `history` (after-paging); resolves to the events.
export async function readAll(client, ch, { pageSize = 500 } = {}) {
  const all = [];
  let after = 0;
  for (;;) {
    const r = await client.history(ch, { after, limit: pageSize });
    if (!r.ok) throw new Error(`history failed: ${JSON.stringify(r)}`);
    all.push(...r.events);
    // A reply trimmed to its byte bound says more: true (protocol §9.10).
    if (!r.more && r.events.length < pageSize) return all;
    if (r.events.length === 0) throw new Error(`history made no progress after ${after}`);
    after = r.events[r.events.length - 1].seq;
  }
}

// ---------------------------------------------------------------------------
// Cleanup

// Closes every client, stops every server (SIGTERM, then SIGKILL) and removes temp dirs.
export async function cleanup() {
  for (const w of [...pendingWaits]) w.reject(new Error('test cleanup'));
  pendingWaits.clear();
  for (const c of [...clients]) {
    try {
      c.ws.terminate();
    } catch {
      // ignore
    }
  }
  clients.clear();
  await Promise.all([...servers].map(async (s) => {
    try {
      await s.stop(5000);
    } catch {
      await s.kill().catch(() => {});
    }
  }));
  servers.clear();
  await Promise.all([...redisServers.values()].map(stopRedis));
  redisServers.clear();
  sharedClusters.clear();
  await Promise.all([...redisClusters].map((c) => c.stop().catch(() => {})));
  redisClusters.clear();
  for (const d of tempDirs) removeDirSync(d);
  tempDirs.clear();
}

process.on('exit', () => {
  const redisProcs = [...redisServers.values(), ...[...redisClusters].flatMap((c) => c.nodes)].map((r) => r.proc);
  for (const proc of redisProcs) {
    try {
      proc?.kill('SIGKILL');
    } catch {
      // ignore
    }
  }
  for (const s of servers) {
    try {
      s.proc.kill('SIGKILL');
    } catch {
      // ignore
    }
  }
  for (const d of tempDirs) removeDirSync(d);
});

// Waits `ms` milliseconds (for pacing, never for assertions).
// Resident memory of a started server's process in MiB (Linux).
export function rssMiB(srv) {
  const status = fs.readFileSync(`/proc/${srv.proc.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024;
}

// GET /metrics: the Prometheus text (anything but 200 throws).
export async function scrapeMetrics(server) {
  const r = await httpRequest(server, 'GET', '/metrics');
  if (r.status !== 200) throw new Error(`GET /metrics answered ${r.status}: ${r.text}`);
  return r.text;
}

// The value of one series of a scrape, named as it is written
// (`name` or `name{label="value",…}`); undefined when it is not there.
export function metricValue(text, series) {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

export function binaryAvailable() {
  try {
    fs.accessSync(PARLEY_BIN, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
