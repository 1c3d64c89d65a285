#!/usr/bin/env bash
# Runs Parley's load scenarios and prints one table of their figures.
#   tests/bench/run.sh [--smoke] [scenario ...]
# Scenarios: fanout-10 fanout-100 fanout-1000 idle-10k posts cluster (default: all),
# and not in the default set: idle-100k (100 000 idle connections, or as many as
# the descriptor limit lets both processes open) and shards (fan-out across two
# servers on a Redis Cluster of 1, 2 and 3 masters).
# Each scenario gets a fresh server (PARLEY_BIN, default build/server/parley) on
# a free loopback port with a temporary data directory and limits raised for
# load; with taskset and two cores or more the server is pinned to core 0 with
# --threads 1 and the load tool (PARLEY_LOAD_BIN) runs on the other cores.
# --smoke: tiny numbers, no pinning, and the small fan-out must deliver every
# post to every subscriber in order (the ctest bench_smoke).
# A benchmark: bad figures never fail it; it exits non-zero only when the tool
# or a server could not run.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
bin=${PARLEY_BIN:-$root/build/server/parley}
load=${PARLEY_LOAD_BIN:-$root/build/tests/bench/parley_load}

smoke=0
scenarios=()
for arg in "$@"; do
  case $arg in
    --smoke) smoke=1 ;;
    fanout-10 | fanout-100 | fanout-1000 | idle-10k | idle-100k | posts | cluster | shards) scenarios+=("$arg") ;;
    *) echo "run.sh: unknown scenario $arg (fanout-10 fanout-100 fanout-1000 idle-10k idle-100k posts cluster shards)" >&2; exit 2 ;;
  esac
done
if [ ${#scenarios[@]} -eq 0 ]; then
  scenarios=(fanout-10 fanout-100 fanout-1000 idle-10k posts cluster)
  # The smoke run keeps one fan-out; the cluster only where Redis is installed.
  [ $smoke = 1 ] && scenarios=(fanout-10 idle-10k posts cluster)
fi
for f in "$bin" "$load"; do
  [ -x "$f" ] || { echo "run.sh: $f is missing (build first: ./parley.sh build)" >&2; exit 2; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/parley-bench.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

openssl genpkey -algorithm ed25519 -out "$work/signing.pem" 2>/dev/null
export PARLEY_SECRET="bench-$(openssl rand -hex 16)"
# Room for 10 000+ sockets in the server and the tool (children inherit it).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

cores=$(nproc)
server_pin=()
tool_pin=()
if [ $smoke = 0 ] && command -v taskset >/dev/null && [ "$cores" -ge 2 ]; then
  server_pin=(taskset -c 0)
  tool_pin=(taskset -c "1-$((cores - 1))")
fi

# Limits raised so that the load, not a per-user cap, is what is measured.
limits=(--threads 1 --post-rate 1000000 --post-burst 1000000 --max-ws-per-user 0 --max-unauth-per-ip 0
  --max-connections 0 --request-rate 1000000 --request-burst 1000000 --storage-queue 100000)

# Waits until the server on `port` answers /readyz with 200 (storage reached).
wait_ready() {
  local port=$1
  for _ in $(seq 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port" &&
      printf 'GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3 &&
      head -c 12 <&3 | grep -q ' 200') 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "run.sh: the server on port $port never became ready" >&2
  exit 2
}

# Starts one server; sets server_pid and server_port.
start_server() {
  local name=$1
  shift
  mkdir -p "$work/$name"
  # Made before the server starts, so that reading it never races its creation.
  : >"$work/$name/out"
  "${server_pin[@]}" "$bin" --listen 127.0.0.1:0 --data-dir "$work/$name/data" --instance "$name" \
    --signing-key-file "$work/signing.pem" "${limits[@]}" "$@" >"$work/$name/out" 2>"$work/$name/err" &
  server_pid=$!
  pids+=("$server_pid")
  server_port=
  for _ in $(seq 300); do
    server_port=$(sed -n 's#^parley: listening on http://127\.0\.0\.1:\([0-9]*\)/.*#\1#p' "$work/$name/out")
    [ -n "$server_port" ] && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "run.sh: server $name did not start:" >&2
  tail -n 20 "$work/$name/err" >&2
  exit 2
}

stop_server() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# A loopback port nobody listens on.
# Between ctest's integration shards' ranges (10000-30699, tests/CMakeLists.txt)
# and the kernel's ephemeral ports (from 32768), where nothing else picks one.
free_port() {
  local port
  while :; do
    port=$((31000 + RANDOM % 1700))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
  done
}

tool_failed=0
# Runs the load tool; its RESULT line goes to results.jsonl, the rest to the terminal.
run_load() {
  local rc=0
  "${tool_pin[@]}" "$load" "$@" >"$work/load.out" || rc=$?
  grep -v '^RESULT ' "$work/load.out" || true
  grep '^RESULT ' "$work/load.out" | sed 's/^RESULT //' >>"$work/results.jsonl" || true
  if [ $rc -ne 0 ]; then
    echo "run.sh: parley_load exited $rc" >&2
    tool_failed=1
  fi
}

fanout() {
  local rate=$1
  start_server "fanout-$rate"
  if [ $smoke = 1 ]; then
    run_load --label "fanout-$rate" --target "127.0.0.1:$server_port" --server-pid "$server_pid" \
      --subscribers 20 --publishers 1 --rate 20 --duration 2 --drain 5 --settle 0.3 --expect-all
  else
    run_load --label "fanout-$rate" --target "127.0.0.1:$server_port" --server-pid "$server_pid" \
      --subscribers 1000 --publishers 1 --rate "$rate" --duration 10 --drain 5 --settle 2
  fi
  stop_server "$server_pid"
}

idle() {
  start_server idle-10k
  if [ $smoke = 1 ]; then
    run_load --label idle-10k --mode idle --target "127.0.0.1:$server_port" --server-pid "$server_pid" \
      --checkpoints 100,200 --channels 10 --settle 0.3
  else
    run_load --label idle-10k --mode idle --target "127.0.0.1:$server_port" --server-pid "$server_pid" \
      --checkpoints 1000,2000,5000,10000 --channels 100 --sources 4 --settle 2
  fi
  stop_server "$server_pid"
}

# 100 000 connections, or what the hard descriptor limit allows the server and
# the tool (each holds one end), over 8 loopback source addresses (each has
# about 28 000 ephemeral ports towards one server port).
idle_many() {
  local want=100000 limit
  limit=$(ulimit -Hn)
  if [ "$limit" != unlimited ] && [ $((limit - 500)) -lt $want ]; then
    want=$((limit - 500))
    echo "run.sh: idle-100k holds $want connections: the hard descriptor limit here is $limit"
  fi
  start_server idle-100k
  run_load --label idle-100k --mode idle --target "127.0.0.1:$server_port" --server-pid "$server_pid" \
    --checkpoints "1000,10000,$want" --channels 100 --sources 8 --settle 2
  stop_server "$server_pid"
}

posts() {
  start_server posts
  local shape=(--mode posts --target "127.0.0.1:$server_port" --server-pid "$server_pid" --subscribers 0)
  if [ $smoke = 1 ]; then
    run_load "${shape[@]}" --label posts-steady --channels 20 --publishers 10 --rate 20 --duration 2 --settle 0.2
    run_load "${shape[@]}" --label posts-ceiling --channels 20 --publishers 10 --rate 0 --window 4 --duration 2 --settle 0.2
  else
    run_load "${shape[@]}" --label posts-steady --channels 200 --publishers 100 --rate 20 --duration 10 --settle 1
    run_load "${shape[@]}" --label posts-ceiling --channels 200 --publishers 100 --rate 0 --window 16 --duration 10 --settle 1
  fi
  stop_server "$server_pid"
}

cluster() {
  if ! command -v redis-server >/dev/null; then
    echo "run.sh: cluster skipped (no redis-server)"
    return
  fi
  local redis_port
  redis_port=$(free_port)
  mkdir -p "$work/redis"
  # Durable as the protocol recommends for a cluster (appendfsync always); on the tool's cores.
  "${tool_pin[@]}" redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly yes \
    --appendfsync always --dir "$work/redis" --daemonize no --logfile '' >/dev/null 2>&1 &
  local redis_pid=$!
  pids+=("$redis_pid")
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null && break; sleep 0.1; done
  start_server cluster-a --redis "redis://127.0.0.1:$redis_port"
  local a_pid=$server_pid a_port=$server_port
  start_server cluster-b --redis "redis://127.0.0.1:$redis_port"
  # Listening comes before Redis is reached: the tool's hello waits for both to be ready.
  wait_ready "$a_port"
  wait_ready "$server_port"
  local shape=(--label cluster --target "127.0.0.1:$a_port" --target "127.0.0.1:$server_port"
    --server-pid "$a_pid" --server-pid "$server_pid" --publish-target 0)
  if [ $smoke = 1 ]; then
    run_load "${shape[@]}" --subscribers 20 --publishers 1 --rate 20 --duration 2 --drain 5 --settle 0.3
  else
    run_load "${shape[@]}" --subscribers 1000 --publishers 1 --rate 100 --duration 10 --drain 5 --settle 2
  fi
  stop_server "$server_pid"
  stop_server "$a_pid"
  stop_server "$redis_pid"
}

# A Redis Cluster of $1 masters (no replicas: the figures are fan-out's), each
# serving an equal share of the 16384 slots; sets cluster_url and cluster_pids.
start_redis_cluster() {
  local masters=$1 i port bus first= first_bus=
  cluster_url=
  cluster_pids=()
  for i in $(seq "$masters"); do
    port=$(free_port)
    bus=$(free_port)
    mkdir -p "$work/rc-$masters-$i"
    "${tool_pin[@]}" redis-server --port "$port" --cluster-port "$bus" --bind 127.0.0.1 --save '' --appendonly yes \
      --appendfsync always --cluster-enabled yes --cluster-config-file nodes.conf --dir "$work/rc-$masters-$i" \
      --daemonize no --logfile '' >/dev/null 2>&1 &
    cluster_pids+=($!)
    pids+=($!)
    for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    redis-cli -p "$port" cluster addslotsrange $(((i - 1) * 16384 / masters)) $((i * 16384 / masters - 1)) >/dev/null
    # MEET names the bus port too: it is not the default port + 10000.
    if [ -z "$first" ]; then
      first=$port first_bus=$bus
    else
      redis-cli -p "$port" cluster meet 127.0.0.1 "$first" "$first_bus" >/dev/null
    fi
    cluster_url+="${cluster_url:+,}127.0.0.1:$port"
  done
  cluster_url="redis://$cluster_url"
  for _ in $(seq 300); do
    redis-cli -p "$first" cluster info | grep -q 'cluster_state:ok' &&
      [ "$(redis-cli -p "$first" cluster nodes | grep -c master)" = "$masters" ] && return 0
    sleep 0.1
  done
  echo "run.sh: the Redis Cluster of $masters masters never became ok" >&2
  exit 2
}

# Fan-out through sharded pub/sub: publishers on one server, subscribers on
# the other, 30 engagements spread over the masters' slots.
shards() {
  if ! command -v redis-server >/dev/null; then
    echo "run.sh: shards skipped (no redis-server)"
    return
  fi
  local masters pid
  for masters in 1 2 3; do
    start_redis_cluster "$masters"
    start_server "shards-$masters-a" --redis "$cluster_url"
    local a_pid=$server_pid a_port=$server_port
    start_server "shards-$masters-b" --redis "$cluster_url"
    wait_ready "$a_port"
    wait_ready "$server_port"
    local shape=(--label "shards-$masters" --target "127.0.0.1:$a_port" --target "127.0.0.1:$server_port"
      --server-pid "$a_pid" --server-pid "$server_pid" --publish-target 0 --eng-prefix "sh$masters-$$-")
    if [ $smoke = 1 ]; then
      run_load "${shape[@]}" --subscribers 30 --channels 6 --publishers 6 --rate 10 --duration 2 --drain 5 --settle 0.3
    else
      run_load "${shape[@]}" --subscribers 600 --channels 30 --publishers 30 --rate 0 --window 4 --duration 10 \
        --drain 5 --settle 2
    fi
    stop_server "$server_pid"
    stop_server "$a_pid"
    for pid in "${cluster_pids[@]}"; do stop_server "$pid"; done
  done
}

: >"$work/results.jsonl"
for s in "${scenarios[@]}"; do
  echo "== $s"
  case $s in
    fanout-*) fanout "${s#fanout-}" ;;
    idle-10k) idle ;;
    idle-100k) idle_many ;;
    posts) posts ;;
    cluster) cluster ;;
    shards) shards ;;
  esac
done

# The checkout the binary lives in, and when it was built (it may be older than that checkout's HEAD).
commit=$(git -C "$(dirname "$bin")" rev-parse --short HEAD 2>/dev/null || echo unknown)
built=$(date -u -r "$bin" '+%Y-%m-%d %H:%M UTC')
pinning="not pinned"
[ ${#server_pin[@]} -gt 0 ] && pinning="server on core 0 (taskset, --threads 1), tool on cores 1-$((cores - 1))"
echo
echo "Parley load figures: $bin (built $built, checkout at $commit), nproc $cores, $pinning"
node "$root/tests/bench/table.mjs" <"$work/results.jsonl"
exit $tool_failed
