#!/usr/bin/env bash
# Set-up, build, run and test Parley on Debian 12. Idempotent: what is already
# installed or built is not done again.
#   ./parley.sh run    the server on the embedded default (SQLite in ./data, no Redis)
#   ./parley.sh test   every test: unit, integration (real binary, real Redis) and browser,
#                      then the fuzzers (PARLEY_FUZZ_SECONDS per target, default 60) and the
#                      ASan+UBSan build with its unit and integration tests
#                      (PARLEY_SKIP_FUZZ=1 / PARLEY_SKIP_SANITIZE=1 leave those out)
#   ./parley.sh build  only the build
#   ./parley.sh bench [scenario ...]  the load scenarios of tests/bench/run.sh, one table of figures
set -euo pipefail
cd "$(dirname "$0")"

build_dir=${PARLEY_BUILD_DIR:-build}
apt_packages=(g++ cmake ninja-build pkg-config ccache libboost1.81-all-dev libssl-dev libhiredis-dev
  libsimdjson-dev catch2 libsqlite3-dev python3-yaml libsystemd-dev
  help2man dpkg-dev)
# The last line: what tests/package/check.sh runs on the Debian package.
test_apt_packages=(redis-server chromium clang libclang-rt-14-dev
  lintian systemd systemd-container man-db file curl openssl sqlite3)

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

install_apt() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  command -v node >/dev/null || missing+=(nodejs npm)
  [ ${#missing[@]} -eq 0 ] && return
  echo "parley.sh: installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_npm() {
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
    npm ci --no-audit --no-fund --loglevel=error
    touch node_modules
  fi
}

# Runs a step and prints its wall time (the CI budget is measured per step).
timed() {
  local name=$1 start=$SECONDS
  shift
  "$@"
  echo "parley.sh: $name took $((SECONDS - start)) s"
}

build() {
  if [ ! -f "$build_dir/build.ninja" ]; then
    cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  fi
  cmake --build "$build_dir" -j "$(nproc)"
}

case "${1:-}" in
  run)
    install_apt "${apt_packages[@]}"
    build
    shift
    exec "$build_dir/server/parley" --dev --data-dir "${PARLEY_DATA_DIR:-data}" --web-root web-client "$@"
    ;;
  test)
    install_apt "${apt_packages[@]}" "${test_apt_packages[@]}"
    install_npm
    timed build build
    # Three times the cores: the six integration shards mostly wait (tests/CMakeLists.txt).
    timed ctest ctest --test-dir "$build_dir" --output-on-failure --timeout 900 -j "$(($(nproc) * 3))"
    [ "${PARLEY_SKIP_FUZZ:-0}" = 1 ] || timed fuzz tests/fuzz/run.sh
    [ "${PARLEY_SKIP_SANITIZE:-0}" = 1 ] || timed sanitize tests/sanitize/run.sh
    ;;
  build)
    install_apt "${apt_packages[@]}"
    build
    ;;
  bench)
    install_apt "${apt_packages[@]}" redis-server
    build
    shift
    PARLEY_BIN=${PARLEY_BIN:-$build_dir/server/parley} PARLEY_LOAD_BIN=${PARLEY_LOAD_BIN:-$build_dir/tests/bench/parley_load} \
      exec tests/bench/run.sh "$@"
    ;;
  *)
    echo "usage: ./parley.sh run [server options] | test | build | bench [scenario ...]" >&2
    exit 2
    ;;
esac
