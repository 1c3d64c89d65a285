// A real Redis Cluster for the integration tests (the JS counterpart of
// tests/unit/redis_cluster_fixture.hpp): six redis-servers, three masters
// with a replica each as `redis-cli --cluster create --cluster-replicas 1`
// lays them out, each with a cluster bus port of its own (from freePort(),
// never port + 10000, so that the shards' port ranges hold), and a node
// timeout of one second so that a killed master's replica takes over within
// a few seconds. Same durability as redisFor(): appendonly, appendfsync always.
//
// Queries go through redis-cli. Every cluster is registered with the harness:
// cleanup() stops it and the exit handler kills what is left.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { REDIS_BIN, freePort, makeTempDir, sleep, trackRedisCluster } from './harness.mjs';

export const REDIS_CLI = process.env.REDIS_CLI_BIN || '/usr/bin/redis-cli';
const NODE_COUNT = 6;
const SLOT_COUNT = 16384;
const START_TIMEOUT_MS = 20000;
const STOP_TIMEOUT_MS = 5000;
const WAIT_MS = 30000;

// One redis-cli command against a node; resolves to its output, or null when
// the node cannot be reached (or redis-cli fails).
function cli(port, args, timeoutMs = 3000) {
  return new Promise((resolve) => {
    execFile(REDIS_CLI, ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: timeoutMs }, (err, stdout) => {
      resolve(err ? null : stdout);
    });
  });
}

function running(node) {
  return node.proc !== null && node.proc.exitCode === null && node.proc.signalCode === null;
}

function spawnNode(node) {
  node.proc = spawn(REDIS_BIN, [
    '--port', String(node.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always',
    '--dir', node.dir, '--daemonize', 'no', '--logfile', path.join(node.dir, 'redis.log'),
    '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '1000',
    '--cluster-port', String(node.busPort),
    // A replica's first full sync starts at once, not after the default 5 s
    // of waiting for more replicas (start-up and a rejoin after a failover).
    '--repl-diskless-sync-delay', '0',
  ], { stdio: 'ignore' });
  node.exited = new Promise((resolve) => node.proc.once('exit', resolve));
}

function logTail(node) {
  try {
    return fs.readFileSync(path.join(node.dir, 'redis.log'), 'utf8').slice(-2000);
  } catch {
    return '';
  }
}

// Waits until the node answers PONG (not LOADING, not refused).
async function waitForPong(node) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while ((await cli(node.port, ['PING']))?.trim() !== 'PONG') {
    if (!running(node) || Date.now() > deadline) {
      throw new Error(`redis-server (cluster node) did not start on port ${node.port}\n${logTail(node)}`);
    }
    await sleep(50);
  }
}

// CLUSTER NODES, parsed: [{ id, port, flags, masterId, epoch, link, ranges }].
// A slot list entry is "a-b" or "a"; "[slot->-id]"/"[slot-<-id]" (migrations) are skipped.
export function parseClusterNodes(text) {
  return text.split('\n').map((l) => l.trim()).filter(Boolean).map((line) => {
    const f = line.split(' ');
    const ranges = f.slice(8).filter((s) => !s.startsWith('[')).map((s) => {
      const [a, b] = s.split('-').map(Number);
      return [a, b ?? a];
    });
    return {
      id: f[0], port: Number(/:(\d+)@/.exec(f[1])?.[1]), flags: f[2].split(','), masterId: f[3],
      epoch: Number(f[6]), link: f[7], ranges,
    };
  });
}

// The node's own line of CLUSTER NODES (what it says of itself), or null.
async function selfView(port) {
  const out = await cli(port, ['CLUSTER', 'NODES']);
  if (out === null) return null;
  return parseClusterNodes(out).find((n) => n.flags.includes('myself')) ?? null;
}

function covers(ranges, slot) {
  return ranges.some(([a, b]) => slot >= a && slot <= b);
}

/**
 * Starts a six-node Redis Cluster (three masters, one replica each) and
 * resolves once every node reports cluster_state:ok and every master has its
 * replica online. `dir`: where the nodes' directories go (a temporary
 * directory when omitted). Resolves to:
 *   nodes             [{ port, busPort, proc, dir }]
 *   url               'redis://127.0.0.1:p1,127.0.0.1:p2,...' (all six), the --redis form of a cluster
 *   masters()         ports of the running nodes that say they are master (ROLE)
 *   masterOf(key)     port of the master serving `key` (CLUSTER KEYSLOT, then each node's own CLUSTER NODES line)
 *   slotOf(key)       the key's slot (CLUSTER KEYSLOT)
 *   kill(port)        SIGKILL that node and wait for its exit
 *   restart(port)     start a killed node again (same port, bus port, directory and nodes.conf): it
 *                     rejoins; a master that was failed over comes back as a replica of its successor
 *   waitForFailover(killedPort)  until the running nodes are cluster_state:ok and masters other than
 *                     killedPort serve every slot
 *   waitUntilOk({ replicas })    until every running node is cluster_state:ok, the masters serve every
 *                     slot and (replicas, the default) every master has a replica online
 *   stop()            SIGTERM every node (SIGKILL after 5 s), wait for the exits
 */
export async function startRedisCluster({ dir } = {}) {
  const base = dir ?? makeTempDir('parley-rcluster-');
  const nodes = [];
  const byPort = (port) => {
    const node = nodes.find((n) => n.port === port);
    if (!node) throw new Error(`no node of this cluster on port ${port}`);
    return node;
  };
  const live = () => nodes.filter(running);

  const cluster = {
    nodes,
    url: '',

    async masters() {
      const roles = await Promise.all(live().map(async (n) => ({ port: n.port, role: await cli(n.port, ['ROLE']) })));
      return roles.filter((r) => r.role?.split('\n')[0].trim() === 'master').map((r) => r.port);
    },

    async slotOf(key) {
      for (const n of live()) {
        const out = await cli(n.port, ['CLUSTER', 'KEYSLOT', key]);
        if (out !== null && /^\d+\s*$/.test(out)) return Number(out);
      }
      throw new Error('no node of the cluster answered CLUSTER KEYSLOT');
    },

    async masterOf(key) {
      const slot = await cluster.slotOf(key);
      const views = (await Promise.all(live().map((n) => selfView(n.port)))).filter(Boolean);
      const serving = views.filter((v) => v.flags.includes('master') && covers(v.ranges, slot));
      if (serving.length === 0) throw new Error(`no master serves slot ${slot} (key ${key})`);
      // While a failover settles two nodes may claim a slot: the newer configuration wins.
      serving.sort((a, b) => b.epoch - a.epoch);
      return serving[0].port;
    },

    async kill(port) {
      const node = byPort(port);
      if (!running(node)) return;
      node.proc.kill('SIGKILL');
      await node.exited;
    },

    async restart(port) {
      const node = byPort(port);
      if (running(node)) throw new Error(`cluster node ${port} is still running`);
      spawnNode(node);
      await waitForPong(node);
    },

    // Whether the running nodes (but `without`) all say cluster_state:ok, the
    // running masters' own slot lists cover every slot, and with `replicas`
    // every running master has a replica online.
    async isOk({ replicas = true, without } = {}) {
      const checked = live().filter((n) => n.port !== without);
      const states = await Promise.all(checked.map(async (n) => ({
        info: await cli(n.port, ['CLUSTER', 'INFO']),
        replication: replicas ? await cli(n.port, ['INFO', 'replication']) : '',
        self: await selfView(n.port),
      })));
      const served = new Uint8Array(SLOT_COUNT);
      for (const s of states) {
        if (s.info === null || !s.info.includes('cluster_state:ok') || s.self === null) return false;
        if (replicas && (s.replication === null || (s.replication.includes('role:master') && !s.replication.includes('state=online')))) return false;
        if (!s.self.flags.includes('master')) continue;
        for (const [a, b] of s.self.ranges) served.fill(1, a, b + 1);
      }
      return served.every((v) => v === 1);
    },

    async waitUntilOk({ replicas = true, timeoutMs = WAIT_MS, without } = {}) {
      const deadline = Date.now() + timeoutMs;
      while (!(await cluster.isOk({ replicas, without }))) {
        if (Date.now() > deadline) {
          throw new Error(`the Redis Cluster did not reach cluster_state:ok${replicas ? ' with every replica online' : ''} within ${timeoutMs} ms`);
        }
        await sleep(100);
      }
    },

    async waitForFailover(killedPort, { timeoutMs = WAIT_MS } = {}) {
      await cluster.waitUntilOk({ replicas: false, without: killedPort, timeoutMs });
    },

    // Moves `slot` from master `fromPort` to master `toPort` as a resharding
    // does (IMPORTING, MIGRATING, MIGRATE of each key, then the new owner
    // told to every master), pausing `pauseMs` after each key. Resolves to
    // the number of keys moved.
    async migrateSlot(slot, fromPort, toPort, { pauseMs = 0 } = {}) {
      const idOf = async (port) => (await cli(port, ['CLUSTER', 'MYID'])).trim();
      const [fromId, toId] = [await idOf(fromPort), await idOf(toPort)];
      const ok = async (port, args) => {
        const out = await cli(port, args, 10000);
        if (out === null || !/^(OK|NOKEY)/.test(out)) throw new Error(`${args.join(' ')} on ${port}: ${out}`);
      };
      await ok(toPort, ['CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', fromId]);
      await ok(fromPort, ['CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', toId]);
      let moved = 0;
      for (;;) {
        const keys = (await cli(fromPort, ['CLUSTER', 'GETKEYSINSLOT', String(slot), '10']) ?? '').split('\n').filter(Boolean);
        if (keys.length === 0) break;
        for (const key of keys) {
          await ok(fromPort, ['MIGRATE', '127.0.0.1', String(toPort), key, '0', '5000']);
          moved++;
          if (pauseMs) await sleep(pauseMs);
        }
      }
      await ok(toPort, ['CLUSTER', 'SETSLOT', String(slot), 'NODE', toId]);
      await ok(fromPort, ['CLUSTER', 'SETSLOT', String(slot), 'NODE', toId]);
      for (const port of await cluster.masters()) {
        if (port !== fromPort && port !== toPort) await ok(port, ['CLUSTER', 'SETSLOT', String(slot), 'NODE', toId]);
      }
      return moved;
    },

    async stop() {
      await Promise.all(nodes.filter(running).map(async (n) => {
        n.proc.kill('SIGTERM');
        let timer;
        const late = new Promise((resolve) => { timer = setTimeout(() => resolve('late'), STOP_TIMEOUT_MS); });
        if ((await Promise.race([n.exited, late])) === 'late' && running(n)) {
          n.proc.kill('SIGKILL');
          await n.exited;
        }
        clearTimeout(timer);
      }));
    },
  };
  trackRedisCluster(cluster);

  try {
    for (let i = 0; i < NODE_COUNT; i++) {
      const port = await freePort();
      const busPort = await freePort();
      const node = { port, busPort, dir: path.join(base, `node-${port}`), proc: null, exited: null };
      fs.mkdirSync(node.dir, { recursive: true });
      nodes.push(node);
      spawnNode(node);
    }
    await Promise.all(nodes.map(waitForPong));
    const create = ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes'];
    await new Promise((resolve, reject) => {
      execFile(REDIS_CLI, create, { timeout: WAIT_MS }, (err, stdout, stderr) => {
        if (err) reject(new Error(`redis-cli --cluster create failed: ${err.message}\n${stdout}\n${stderr}`));
        else resolve();
      });
    });
    await cluster.waitUntilOk();
    cluster.url = `redis://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`;
    return cluster;
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}
