#!/usr/bin/env bash
# The Debian package, built and checked as CI does (issue #15):
#   1. `cmake --build BUILD --target package` makes parley_<version>_amd64.deb;
#   2. dpkg-deb lists the expected files, modes, conffile and dependencies;
#   3. lintian finds no error;
#   4. systemd-analyze verifies the unit against the extracted tree;
#   5. the packaged binary, started as the unit starts it (its conffile,
#      NOTIFY_SOCKET, a watchdog), sends READY=1 and WATCHDOG=1, serves
#      /healthz and the packaged web client, and sends STOPPING=1 on SIGTERM;
#   6. with CI=true or PARLEY_PACKAGE_INSTALL=1 only (it changes the machine):
#      apt-get installs the .deb, checks what postinst made and the unit in
#      place, runs the service, then purges the package.
# Usage: tests/package/check.sh [BUILD_DIR]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/../.."
build_dir=${1:-${PARLEY_BUILD_DIR:-build}}
here=tests/package

fail() { echo "package check: FAIL: $*" >&2; exit 1; }
step() { echo "package check: $*"; }

work=$(mktemp -d /tmp/parley-package.XXXXXX)
server_pid= listener_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  [ -n "$listener_pid" ] && kill "$listener_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# 1. The package.
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build_dir/CMakeCache.txt")
[ -n "$version" ] || fail "no project version in $build_dir/CMakeCache.txt (configure first: ./parley.sh build)"
rm -f "$build_dir"/parley_*.deb
cmake --build "$build_dir" --target package >"$work/cpack.log" 2>&1 || { cat "$work/cpack.log"; fail "cpack"; }
deb="$build_dir/parley_${version}_amd64.deb"
[ -f "$deb" ] || fail "no $deb"
step "built $deb ($(du -k "$deb" | cut -f1) KiB)"

# 2. Contents, modes, control fields.
dpkg-deb -c "$deb" >"$work/contents"
expect_file() {  # MODE PATH
  grep -qE "^$1 root/root +[0-9]+ [0-9-]+ [0-9:]+ \./${2#/}\$" "$work/contents" || fail "dpkg-deb -c: no $1 $2"
}
expect_file -rwxr-xr-x /usr/bin/parley
expect_file -rw-r--r-- /etc/parley/parley.conf
expect_file -rw-r--r-- /lib/systemd/system/parley.service
expect_file -rw-r--r-- /usr/share/man/man1/parley.1.gz
expect_file -rw-r--r-- /usr/share/doc/parley/copyright
expect_file -rw-r--r-- /usr/share/doc/parley/changelog.gz
expect_file -rw-r--r-- /usr/share/parley/web-client/index.html
expect_file -rw-r--r-- /usr/share/parley/web-client/app.js
expect_file -rw-r--r-- /usr/share/parley/web-client/lib/client.js
! grep -qE '\.md$|/examples/|node_modules' "$work/contents" || fail "dpkg-deb -c: READMEs, examples or node_modules shipped"
served=$(find web-client -type f ! -name '*.md' ! -path '*/examples/*' | wc -l)
shipped=$(grep -c '^-.* \./usr/share/parley/web-client/' "$work/contents")
[ "$served" = "$shipped" ] || fail "web client: $shipped files shipped, $served in web-client/"
dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles | grep -qx /etc/parley/parley.conf || fail "parley.conf is not a conffile"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libc6 libssl3 libsqlite3-0 libhiredis0.14 libsystemd0 openssl procps; do
  [[ "$depends" == *"$lib"* ]] || fail "Depends has no $lib: $depends"
done
dpkg-deb -x "$deb" "$work/root"
file "$work/root/usr/bin/parley" | grep -q ', stripped' || fail "/usr/bin/parley is not stripped"
step "dpkg-deb: $(grep -c '' "$work/contents") entries ($shipped of the web client), conffile, Depends: $depends"

# 3. lintian: no error; warnings are printed, overrides are in deploy/debian/lintian-overrides.
start=$SECONDS
lintian --fail-on error --display-info "$deb" | tee "$work/lintian" || fail "lintian reports errors"
step "lintian: $(grep -c '^E:' "$work/lintian" || true) errors, $(grep -c '^W:' "$work/lintian" || true) warnings ($((SECONDS - start)) s)"

# 4. The unit, against the extracted tree: ExecStart's binary is found under
#    --root, and so must be the targets it names (the machine's own units are
#    copied in) and ExecReload's kill (procps, a Depends of the package).
#    Its Documentation= man page is checked by man itself.
mkdir -p "$work/root/bin" && cp /bin/kill "$work/root/bin/kill"
mkdir -p "$work/units"
cp -a /lib/systemd/system/. "$work/units/"
cp -a "$work/root/lib/systemd/system/." "$work/units/"
rm -rf "$work/root/lib/systemd/system" && mv "$work/units" "$work/root/lib/systemd/system"
systemd-analyze verify --man=no --root="$work/root" parley.service >"$work/verify" 2>&1 \
  || { cat "$work/verify"; fail "systemd-analyze verify"; }
[ ! -s "$work/verify" ] || { cat "$work/verify"; fail "systemd-analyze verify has complaints"; }
man -l "$work/root/usr/share/man/man1/parley.1.gz" 2>&1 >/dev/null | { ! grep .; } || fail "man parley.1 warns"
systemd-analyze security --offline=yes --root="$work/root" parley.service >"$work/security" 2>&1 || true
exposure=$(sed -n 's/\x1b\[[0-9;]*m//g; s/^→ Overall exposure level for parley.service: //p' "$work/security")
step "systemd-analyze verify: clean; security exposure ${exposure:-not measured}"

# 5. The packaged binary as the unit runs it: its ExecStart, conffile and web root from the
#    package; the paths systemd would provide (state directory, credentials) given as flags.
exec_start=$(sed -n 's/^ExecStart=//p' "$work/root/lib/systemd/system/parley.service")
[ "$exec_start" = "/usr/bin/parley --config /etc/parley/parley.conf" ] || fail "unexpected ExecStart=$exec_start"
openssl rand -hex 32 >"$work/secret"
openssl genpkey -algorithm ed25519 -out "$work/signing-key.pem" 2>/dev/null
sed "s|= /usr/share/parley/|= $work/root/usr/share/parley/|" "$work/root/etc/parley/parley.conf" >"$work/parley.conf"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$here/notify_listener.py" "$work/notify" "$work/notified" &
listener_pid=$!
for _ in $(seq 50); do [ -S "$work/notify" ] && break; sleep 0.1; done
# WATCHDOG_PID must name the server: the shell sets it to its own pid, then becomes the server.
NOTIFY_SOCKET="$work/notify" WATCHDOG_USEC=1000000 sh -c 'export WATCHDOG_PID=$$; exec "$@"' sh \
  "$work/root/usr/bin/parley" --config "$work/parley.conf" --listen "127.0.0.1:$port" \
  --data-dir "$work/data" --secret-file "$work/secret" --signing-key-file "$work/signing-key.pem" \
  >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do grep -q '^READY=1$' "$work/notified" 2>/dev/null && break; sleep 0.1; done
grep -q '^READY=1$' "$work/notified" || { cat "$work/server.log"; fail "no READY=1"; }
curl -fsS "http://127.0.0.1:$port/healthz" | grep -q '"ok"' || fail "/healthz"
curl -fsS "http://127.0.0.1:$port/" | cmp -s - web-client/index.html || fail "/ is not the packaged web client"
sleep 1.2  # two watchdog periods of 0.5 s
[ "$(grep -c '^WATCHDOG=1$' "$work/notified")" -ge 2 ] || fail "fewer than two WATCHDOG=1 in 1.2 s"
kill -TERM "$server_pid"
status=0; wait "$server_pid" || status=$?
server_pid=
[ "$status" = 0 ] || { cat "$work/server.log"; fail "exit status $status after SIGTERM"; }
grep -q '^STOPPING=1$' "$work/notified" || fail "no STOPPING=1"
step "as the unit runs it: READY=1, $(grep -c '^WATCHDOG=1$' "$work/notified") × WATCHDOG=1, /healthz and / ok, STOPPING=1, exit 0"

# 6. Installed for real: only where the machine is throwaway.
if [ "${CI:-}" != true ] && [ "${PARLEY_PACKAGE_INSTALL:-0}" != 1 ]; then
  step "not installed (set CI=true or PARLEY_PACKAGE_INSTALL=1 to install and purge it on this machine)"
  exit 0
fi
"$here/install_check.sh" "$deb"
