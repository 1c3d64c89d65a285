#!/usr/bin/env bash
# parley.service under a real systemd where systemd is not PID 1 (CI
# containers): boots this machine's /usr, with the package installed, in a
# throwaway systemd-nspawn container (empty /etc and /var, no network but
# loopback), starts the unit with its sandbox, DynamicUser and credentials,
# and checks what systemd reports. It serves TLS as the conffile's comments
# tell an operator to set it up: a drop-in hands the service root's
# certificate and key (LoadCredential), and parley.conf names the copies
# (here through an extra ExecStart flag, /etc/parley being the package's).
# Called by install_check.sh.
set -euo pipefail
cd "$(dirname "$0")"
fail() { echo "package container: FAIL: $*" >&2; exit 1; }
out=$(mktemp -d /tmp/parley-container.XXXXXX)
trap 'rm -rf "$out"' EXIT

# A test CA and a certificate for 127.0.0.1, root's alone like a real one.
tls=$out/tls
mkdir -m 700 "$tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=Parley package CA" \
  -keyout "$tls/ca-key.pem" -out "$tls/ca.pem" -addext basicConstraints=critical,CA:TRUE 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
  -keyout "$tls/privkey.pem" -out "$tls/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$tls/server.ext"
openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca-key.pem" -set_serial 0x51 -days 2 \
  -extfile "$tls/server.ext" -out "$tls/fullchain.pem" 2>/dev/null
chmod 600 "$tls/privkey.pem"
mkdir -p "$out/dropin"
cat >"$out/dropin/tls.conf" <<'UNIT'
[Service]
LoadCredential=tls-cert:/tls/fullchain.pem
LoadCredential=tls-key:/tls/privkey.pem
ExecStart=
ExecStart=/usr/bin/parley --config /etc/parley/parley.conf --tls-cert /run/credentials/parley.service/tls-cert --tls-key /run/credentials/parley.service/tls-key
UNIT

# systemd.firstboot=off: no wizard waiting on a console; the wait-online
# service masked: there is no network to wait for (the unit wants network-online).
timeout 120 systemd-nspawn --quiet --directory=/ --volatile=yes --private-network --register=no --keep-unit \
  --machine=parley-check --console=pipe --bind="$out:/out" --bind-ro=/etc/parley --bind-ro="$tls:/tls" \
  --bind-ro="$out/dropin:/etc/systemd/system/parley.service.d" \
  --bind-ro="$PWD/parley-probe.service:/etc/systemd/system/parley-probe.service" \
  --boot systemd.unit=parley-probe.service systemd.firstboot=off \
  systemd.mask=systemd-networkd-wait-online.service >"$out/nspawn.log" 2>&1 </dev/null ||
  { tail -20 "$out/nspawn.log"; fail "systemd-nspawn"; }
[ -f "$out/stopped" ] || { cat "$out/nspawn.log" "$out/journal" 2>/dev/null | tail -30; fail "the probe did not finish"; }

grep -q '"ok"' "$out/healthz" || { cat "$out/journal"; fail "/healthz: $(cat "$out/healthz")"; }
[ "$(cat "$out/root")" = 200 ] || fail "/ answered $(cat "$out/root")"
grep -q '^HTTP/1.1 101' "$out/wss" || fail "the WebSocket upgrade over TLS: $(head -3 "$out/wss")"
grep -q 'event=tls_reloaded' "$out/journal" || fail "systemctl reload did not reload the TLS pair"
for want in Type=notify ActiveState=active SubState=running NRestarts=0 WatchdogUSec=30s \
  "StatusText=listening on https://127.0.0.1:8080/"; do
  grep -qx "$want" "$out/show" || fail "systemctl show: no $want in $(tr '\n' ' ' <"$out/show")"
done
grep -qx 'CapEff:	0000000000000000' "$out/status" || fail "the service has capabilities"
grep -qx 'NoNewPrivs:	1' "$out/status" || fail "NoNewPrivs is off"
grep -qx 'Seccomp:	2' "$out/status" || fail "no system call filter"
! grep -q '^Uid:	0' "$out/status" || fail "the service runs as root"
[ "$(head -1 "$out/data")" = "700 $(awk '{print $2}' <<<"$(head -1 "$out/data")")" ] && ! grep -q root "$out/data" ||
  fail "data directory: $(tr '\n' ' ' <"$out/data")"
grep -qx 'Result=success' "$out/stopped" && grep -qx 'ExecMainStatus=0' "$out/stopped" ||
  fail "stop: $(tr '\n' ' ' <"$out/stopped")"
grep -q 'event=draining' "$out/journal" && grep -q 'event=stopped' "$out/journal" || fail "no drain in the journal"
exposure=$(sed -n 's/\x1b\[[0-9;]*m//g; s/^→ Overall exposure level for parley.service: //p' "$out/security")
echo "package container: parley.service under systemd: Type=notify active (running), $(grep -o 'listening on [^ ]*' "$out/show"), /healthz and wss:// ok with a certificate handed over by LoadCredential, reload ok, no capabilities, seccomp, dynamic user, data 0700; stopped: success, exit 0; exposure ${exposure:-?}"
