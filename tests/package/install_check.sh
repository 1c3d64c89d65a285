#!/usr/bin/env bash
# Installs parley_*.deb on this machine (throwaway CI only: tests/package/check.sh
# calls it with CI=true or PARLEY_PACKAGE_INSTALL=1), checks what postinst made
# and the installed unit, runs the service, and purges the package again.
# Usage: tests/package/install_check.sh PATH/TO/parley_VERSION_amd64.deb
set -euo pipefail
deb=$(realpath "$1")
fail() { echo "package install: FAIL: $*" >&2; exit 1; }
step() { echo "package install: $*"; }
[ "$(id -u)" = 0 ] || fail "needs root"

server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq parley >/dev/null 2>&1 || true
}
trap cleanup EXIT

DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb" >/dev/null
step "installed $(dpkg-query -W -f='${Package} ${Version}' parley)"

# The secret and the key: root's alone, accepted by the server.
for f in /etc/parley/secret /etc/parley/signing-key.pem; do
  [ "$(stat -c '%a %U %G' "$f")" = "600 root root" ] || fail "$f is $(stat -c '%a %U %G' "$f"), not 600 root root"
done
[ "$(stat -c '%a' /etc/parley)" = 755 ] || fail "/etc/parley is not 0755 (the service must read parley.conf)"
[ "$(tr -d '\n' </etc/parley/secret | wc -c)" -ge 32 ] || fail "the secret is too short"
openssl pkey -in /etc/parley/signing-key.pem -noout -text 2>/dev/null | grep -q ED25519 || fail "the signing key is not Ed25519"

systemd-analyze verify /lib/systemd/system/parley.service || fail "systemd-analyze verify"
step "secret and signing key 0600 root; unit verified in place"

if [ "$(ps -o comm= -p 1)" = systemd ]; then
  systemctl start parley.service
  for _ in $(seq 50); do curl -fsS http://127.0.0.1:8080/healthz >/dev/null 2>&1 && break; sleep 0.2; done
  curl -fsS http://127.0.0.1:8080/healthz | grep -q '"ok"' || fail "/healthz of parley.service"
  step "$(systemctl show -p Type,ActiveState,SubState,NRestarts,StatusText parley.service | tr '\n' ' ')"
  systemctl stop parley.service
else
  # No systemd here: run the installed binary on the installed conffile; the
  # credentials systemd would copy are given by their /etc paths.
  work=$(mktemp -d /tmp/parley-install.XXXXXX)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  /usr/bin/parley --config /etc/parley/parley.conf --listen "127.0.0.1:$port" --data-dir "$work/data" \
    --secret-file /etc/parley/secret --signing-key-file /etc/parley/signing-key.pem >"$work/log" 2>&1 &
  server_pid=$!
  for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
  curl -fsS "http://127.0.0.1:$port/healthz" | grep -q '"ok"' || { cat "$work/log"; fail "/healthz"; }
  curl -fsS "http://127.0.0.1:$port/" | cmp -s - /usr/share/parley/web-client/index.html || fail "/ is not the web client"
  kill -TERM "$server_pid"; wait "$server_pid"; server_pid=
  rm -rf "$work"
  step "systemd is not PID 1: the installed binary ran on the installed conffile, /healthz ok, exit 0"
  # The unit itself, under a systemd booted in a container (systemd-container).
  if command -v systemd-nspawn >/dev/null; then
    "$(dirname "$0")/container_check.sh"
  else
    step "no systemd-nspawn: the unit was not started"
  fi
fi

DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq parley >/dev/null
[ ! -e /etc/parley ] || fail "/etc/parley left after purge: $(ls -A /etc/parley)"
step "purged: /etc/parley removed"
