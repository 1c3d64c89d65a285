#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) in build-fuzz and runs
# each for PARLEY_FUZZ_SECONDS (default 60) from its seed corpus. Fails when
# any target finds a crash, leak, timeout or sanitizer report; the input that
# did it is kept in build-fuzz/artifacts/. Prints one summary line per target.
#   tests/fuzz/run.sh              build and run every target
#   tests/fuzz/run.sh frame token  only these
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${PARLEY_FUZZ_SECONDS:-60}
build_dir=${PARLEY_FUZZ_BUILD_DIR:-build-fuzz}
all_targets=(frame token body decision_log http_target redis_reply platform_inputs websocket log_line)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all_targets[@]}")

if [ ! -f "$build_dir/build.ninja" ]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
    -DPARLEY_FUZZ=ON -DBUILD_TESTING=OFF >/dev/null
fi
started=$(date +%s)
cmake --build "$build_dir" -j "$(nproc)" --target parley_fuzzers
echo "fuzz: build took $(( $(date +%s) - started )) s"

mkdir -p "$build_dir/artifacts"
failed=()
for t in "${targets[@]}"; do
  bin="$build_dir/tests/fuzz/fuzz_$t"
  work="$build_dir/corpus/$t"  # grows here; the committed seeds stay as they are
  mkdir -p "$work"
  log="$build_dir/fuzz_$t.log"
  dict=()
  [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
  rc=0
  "$bin" "${dict[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$build_dir/artifacts/$t-" "$work" "tests/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1 || true)
  cov=$( (grep -o 'cov: [0-9]*' "$log" || true) | tail -1 | cut -d' ' -f2)
  ft=$( (grep -o 'ft: [0-9]*' "$log" || true) | tail -1 | cut -d' ' -f2)
  corpus=$(find "$work" -type f | wc -l)
  if [ "$rc" -eq 0 ]; then
    printf 'fuzz: %-15s ok    %ss execs=%s cov=%s ft=%s corpus=%s\n' "$t" "$seconds" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$corpus"
  else
    printf 'fuzz: %-15s FAIL  exit %s, see %s\n' "$t" "$rc" "$log"
    (grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" || true) | head -5 | sed 's/^/      /'
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}"
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran ${seconds}s each without a finding"
