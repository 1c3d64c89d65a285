#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer build (gcc, -fno-omit-frame-pointer,
# leak detection on) of the unit tests and the server in build-asan; runs the
# unit tests, then the integration suite against the sanitized server.
#   tests/sanitize/run.sh                          local engine
#   PARLEY_SANITIZE_ENGINES="local redis" tests/sanitize/run.sh
#   PARLEY_SANITIZE_ALL=1 tests/sanitize/run.sh    also the timer-driven files
# By default the integration files driven by timers (crash loops, service
# levels, proposal expiry) are left out: under the sanitizers they mostly wait
# for their clocks (about 100 s of the step) and run no code path the other
# files leave unexercised; the plain build runs them in ctest.
# Sanitizer reports go to files (build-asan/sanitizer-reports/) and any report
# fails the run, also one from a server whose test passed. Prints each step's
# wall time.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

build_dir=${PARLEY_ASAN_BUILD_DIR:-build-asan}
engines=${PARLEY_SANITIZE_ENGINES:-local}

step_start=0
begin() { step_start=$(date +%s); echo "sanitize: $1"; }
took() { echo "sanitize: $1 took $(( $(date +%s) - step_start )) s"; }

if [ ! -f "$build_dir/build.ninja" ]; then
  # -O1, as the sanitizers recommend, and -g1 (line tables only): good stacks, and a faster build.
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
    -DPARLEY_SANITIZE=ON >/dev/null
fi
begin "build (parley, parley_unit_tests)"
cmake --build "$build_dir" -j "$(nproc)" --target parley parley_unit_tests
took build

reports="$root/$build_dir/sanitizer-reports"
rm -rf "$reports"
mkdir -p "$reports"
# Reports are files named by pid; the test output stays readable. Leaks are
# checked when a process exits normally (not after SIGKILL).
export ASAN_OPTIONS="detect_leaks=1:log_path=$reports/asan:strict_string_checks=1:check_initialization_order=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$reports/ubsan"
export LSAN_OPTIONS="suppressions=$root/tests/sanitize/lsan.supp:print_suppressions=0"

status=0
begin "unit tests"
"$build_dir/tests/parley_unit_tests" || status=1
took "unit tests"

timer_driven='crash_loop|service_levels|proposal_expiry'
integration_files=()
for f in tests/integration/*.test.mjs; do
  if [ "${PARLEY_SANITIZE_ALL:-0}" = 1 ] || ! [[ $(basename "$f" .test.mjs) =~ ^($timer_driven)$ ]]; then
    integration_files+=("$f")
  fi
done

# Two shards of the files side by side, as in ctest: they mostly wait on
# their servers. Each shard's output is printed whole once it ends.
shards=2
for engine in $engines; do
  begin "integration tests, $engine engine (${#integration_files[@]} files, $shards shards)"
  shard_pids=()
  for shard in $(seq "$shards"); do
    PARLEY_BIN="$root/$build_dir/server/parley" PARLEY_ENGINE=$engine PARLEY_SANITIZED=1 \
      PARLEY_TEST_PORTS="$((5000 + shard * 5000))-$((9999 + shard * 5000))" node --test --test-concurrency=1 --test-shard="$shard/$shards" "${integration_files[@]}" \
      >"$root/$build_dir/integration-$engine-$shard.log" 2>&1 &
    shard_pids+=($!)
  done
  for shard in $(seq "$shards"); do
    wait "${shard_pids[$((shard - 1))]}" || status=1
    cat "$root/$build_dir/integration-$engine-$shard.log"
  done
  took "integration tests ($engine)"
done

if [ -n "$(ls -A "$reports")" ]; then
  echo "sanitize: sanitizer reports:"
  for f in "$reports"/*; do
    echo "---- $f"
    head -60 "$f"
  done
  status=1
fi
if [ "$status" -ne 0 ]; then
  echo "sanitize: FAILED"
  exit 1
fi
echo "sanitize: unit and integration tests ($engines) pass under ASan+UBSan with no report"
