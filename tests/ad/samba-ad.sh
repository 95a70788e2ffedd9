#!/usr/bin/env bash
# hrsync's throwaway Samba 4 Active Directory DC for integration tests and the
# demo, on loopback only. Nothing outside DIR is touched (no /etc/samba, no
# system services) apart from installing the Debian packages when missing.
#
# Usage: tests/ad/samba-ad.sh [start|stop|restart|status|reset|env|destroy [DIR]]
#   start   (default) install packages if missing, provision DIR once, start
#           `samba` (LDAP service only) in the background, wait until an
#           LDAPS bind works, write DIR/env and print it. Idempotent: returns at
#           once when the DC is already up.
#   stop    stop exactly the daemon whose pid is in DIR/run/samba.pid.
#   restart stop + start (keeps the directory data).
#   status  exit 0 if running, 1 if not.
#   reset   stop, restore the pristine just-provisioned copy, start (~2 s).
#   env     print the connection facts (DIR/env) again.
#   destroy stop and delete DIR (only a DIR created by this script).
# DIR defaults to $HRSYNC_AD_DIR or /tmp/hrsync-samba-ad. Layout: DIR/dc (live
# data), DIR/pristine (copy of the fresh provision), DIR/run (pid file),
# DIR/log (log.samba, provision.log), DIR/ca.pem (CA of the LDAPS
# certificate), DIR/env (facts), DIR/settings, DIR/runtime.
#
# DIR/env holds KEY='value' lines (eval-able, and parsed by host/tests):
#   HRSYNC_AD_URL=ldaps://127.0.0.1:636   HRSYNC_AD_LDAP_URL=ldap://127.0.0.1:389
#   HRSYNC_AD_BIND_DN  HRSYNC_AD_PASSWORD  HRSYNC_AD_BASE_DN  HRSYNC_AD_CA_FILE
#   HRSYNC_AD_UPN_SUFFIX  HRSYNC_AD_REALM  HRSYNC_AD_DOMAIN  HRSYNC_AD_PID_FILE
#   HRSYNC_AD_RELAXED_PWD_POLICY (1 when provisioned with SAMBA_AD_RELAX_PWD_POLICY=1)
#
# Provision-time settings (used when DIR is provisioned, remembered after):
#   SAMBA_AD_REALM=EXAMPLE.TEST  SAMBA_AD_DOMAIN=EXAMPLE  SAMBA_AD_HOST=dc1
#   SAMBA_AD_ADMINPASS=Adm1nPassw0rd   (must satisfy the default AD policy)
#   SAMBA_AD_BACKEND=tdb|mdb           (ldb backend store, default tdb)
#   SAMBA_AD_RELAX_PWD_POLICY=0|1      (1: complexity off, min length/age and
#                                       history 0, no expiry; default 0 keeps
#                                       AD's default policy)
#   SAMBA_AD_TEMPLATE=OTHER_DIR        (copy OTHER_DIR's pristine provision
#                                       instead of provisioning: ~0.3 s vs ~5 s)
# Start-time settings:
#   SAMBA_AD_LISTEN=127.0.0.1          (loopback address for 389/636/3268; the
#                                       ports are fixed in Samba, so a second
#                                       instance needs another address, e.g. ::1;
#                                       hrsync's client cannot check LDAPS
#                                       certificates for an IPv6 literal URL)
#   SAMBA_AD_STRONG_AUTH=no|yes        (no: simple bind allowed on plain 389,
#                                       so StartTLS can be tested)
#   SAMBA_AD_MODEL=prefork|single      (samba process model, default prefork)
#   SAMBA_AD_TIMEOUT=60                (seconds to wait for LDAPS)
# Needs root (packages, ports below 1024); re-runs itself with `sudo -n` when
# started by another user and sudo allows it.
set -euo pipefail

cmd=start
case "${1:-}" in
  start|stop|restart|status|reset|env|destroy) cmd=$1; shift ;;
  -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) echo "samba-ad: unknown command '$1' (start|stop|restart|status|reset|env|destroy; see --help)" >&2; exit 2 ;;
esac
DIR=${1:-${HRSYNC_AD_DIR:-/tmp/hrsync-samba-ad}}
DIR=$(realpath -m "$DIR")

log() { echo "samba-ad: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Everything but `env` and `status` needs root; `env` only reads DIR/env.
if [ "$(id -u)" != 0 ] && [ "$cmd" != env ] && [ "$cmd" != status ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    exec sudo -n --preserve-env=SAMBA_AD_REALM,SAMBA_AD_DOMAIN,SAMBA_AD_HOST,SAMBA_AD_ADMINPASS,SAMBA_AD_BACKEND,SAMBA_AD_RELAX_PWD_POLICY,SAMBA_AD_TEMPLATE,SAMBA_AD_LISTEN,SAMBA_AD_STRONG_AUTH,SAMBA_AD_MODEL,SAMBA_AD_TIMEOUT \
      bash "$0" "$cmd" "$DIR"
  fi
  die "must run as root (or with passwordless sudo): samba needs ports 389/636"
fi

DC=$DIR/dc; PRISTINE=$DIR/pristine; RUN=$DIR/run; LOG=$DIR/log
CONF=$DC/etc/smb.conf; PIDFILE=$RUN/samba.pid; MARK=$DIR/.hrsync-samba-ad

REALM=${SAMBA_AD_REALM:-EXAMPLE.TEST}
DOMAIN=${SAMBA_AD_DOMAIN:-EXAMPLE}
HOST=${SAMBA_AD_HOST:-dc1}
ADMINPASS=${SAMBA_AD_ADMINPASS:-Adm1nPassw0rd}
BACKEND=${SAMBA_AD_BACKEND:-tdb}
RELAX=${SAMBA_AD_RELAX_PWD_POLICY:-0}
TEMPLATE=${SAMBA_AD_TEMPLATE:-}
# An already provisioned DIR keeps the settings it was provisioned with.
# shellcheck disable=SC1091
[ -f "$DIR/settings" ] && . "$DIR/settings"
if [ -n "${SAMBA_AD_RELAX_PWD_POLICY:-}" ] && [ "$SAMBA_AD_RELAX_PWD_POLICY" != "$RELAX" ]; then
  die "$DIR was provisioned with SAMBA_AD_RELAX_PWD_POLICY=$RELAX; run '$0 destroy $DIR' to provision again"
fi
# Start-time settings: env, else those of the last start of DIR, else default.
# shellcheck disable=SC1091
[ -f "$DIR/runtime" ] && . "$DIR/runtime"
LISTEN=${SAMBA_AD_LISTEN:-${R_LISTEN:-127.0.0.1}}
STRONG=${SAMBA_AD_STRONG_AUTH:-${R_STRONG:-no}}
MODEL=${SAMBA_AD_MODEL:-${R_MODEL:-prefork}}
TIMEOUT=${SAMBA_AD_TIMEOUT:-60}

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }
case "$LISTEN" in 127.*|::1) ;; *) die "SAMBA_AD_LISTEN must be a loopback address" ;; esac

# Install Debian packages if a needed tool is missing. --no-install-recommends
# keeps libnss-winbind/libpam-winbind (which edit nsswitch/pam) out; winbind
# comes in as a hard dependency of samba-ad-dc. A temporary policy-rc.d stops
# the packages from starting system-wide smbd/nmbd/samba-ad-dc services.
ensure_packages() {
  local missing=0 c
  for c in samba samba-tool ldapsearch openssl; do
    command -v "$c" >/dev/null || missing=1
  done
  [ -f /usr/share/samba/setup/provision.ldif ] || missing=1
  [ "$missing" = 0 ] && return 0
  command -v apt-get >/dev/null || die "samba is missing and this is not a Debian/Ubuntu machine (no apt-get)"
  local pkgs="samba samba-ad-dc samba-ad-provision winbind ldap-utils openssl"
  local prc=/usr/sbin/policy-rc.d made_prc=0
  if [ ! -e "$prc" ]; then printf '#!/bin/sh\nexit 101\n' >"$prc"; chmod 755 "$prc"; made_prc=1; fi
  log "installing: $pkgs"
  export DEBIAN_FRONTEND=noninteractive
  # shellcheck disable=SC2086
  apt-get install -y -q --no-install-recommends $pkgs >&2 \
    || { apt-get update -q >&2 && apt-get install -y -q --no-install-recommends $pkgs >&2; } \
    || { [ "$made_prc" = 1 ] && rm -f "$prc"; die "apt-get install failed"; }
  [ "$made_prc" = 1 ] && rm -f "$prc"
  return 0
}

# Own CA + server cert (SAN 127.0.0.1, ::1, localhost, host FQDN), so clients
# verify LDAPS with DIR/ca.pem instead of skipping the check.
make_tls() {
  local t=$DC/private/tls fqdn
  fqdn=$(echo "$HOST.$REALM" | tr '[:upper:]' '[:lower:]')
  mkdir -p "$t"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=hrsync samba-ad test CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -keyout "$t/ca.key" -out "$t/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$fqdn" -keyout "$t/key.pem" -out "$t/req.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost,DNS:%s\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' "$fqdn" >"$t/ext.cnf"
  openssl x509 -req -in "$t/req.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" -CAcreateserial \
    -days 3650 -extfile "$t/ext.cnf" -out "$t/cert.pem" 2>/dev/null
  chmod 600 "$t/key.pem" "$t/ca.key"   # samba refuses a group/world-readable key
  rm -f "$t/req.csr" "$t/ext.cnf" "$t/ca.srl"
}

# Provision once into DIR/dc (everything under DIR, nothing in /etc), then
# keep a pristine copy for `reset`.
provision() {
  [ -f "$CONF" ] && return 0
  if [ -e "$DIR" ] && [ ! -e "$MARK" ] && [ -n "$(ls -A "$DIR" 2>/dev/null)" ]; then
    die "$DIR exists, is not empty and was not created by this script"
  fi
  mkdir -p "$DIR" "$RUN" "$LOG"; touch "$MARK"
  if [ -f "$PRISTINE/etc/smb.conf" ]; then
    log "restoring the pristine provision from $PRISTINE"
    rm -rf "$DC"; cp -a "$PRISTINE" "$DC"; return 0
  fi
  # Reuse another DIR's pristine provision: only smb.conf holds absolute paths.
  if [ -n "$TEMPLATE" ]; then
    TEMPLATE=$(realpath -m "$TEMPLATE")
    { [ -f "$TEMPLATE/pristine/etc/smb.conf" ] && [ -f "$TEMPLATE/settings" ]; } \
      || die "no pristine provision in $TEMPLATE"
    log "copying the provision of $TEMPLATE"
    rm -rf "$DC"; cp -a "$TEMPLATE/pristine" "$DC"; cp "$TEMPLATE/settings" "$DIR/settings"
    sed -i "s|$TEMPLATE/|$DIR/|g" "$DC/etc/smb.conf"
    rm -rf "$PRISTINE"; cp -a "$DC" "$PRISTINE"
    # shellcheck disable=SC1091
    . "$DIR/settings"; return 0
  fi
  local t0; t0=$(now)
  log "provisioning realm $REALM in $DC"
  rm -rf "$DC"
  # Provision drops some --option values from the written smb.conf (e.g.
  # 'ldap server require strong auth'); those are passed at start.
  samba-tool domain provision --targetdir="$DC" --realm="$REALM" --domain="$DOMAIN" \
    --host-name="$HOST" --server-role=dc --dns-backend=NONE --backend-store="$BACKEND" \
    --adminpass="$ADMINPASS" \
    --option="interfaces=$LISTEN" --option="bind interfaces only=yes" \
    --option="server services=ldap" \
    --option="pid directory=$RUN" --option="log file=$LOG/log.samba" \
    --option="ncalrpc dir=$RUN/ncalrpc" --option="winbindd socket directory=$RUN/winbindd" \
    --option="ntp signd socket directory=$RUN/ntp_signd" \
    >"$LOG/provision.log" 2>&1 || { tail -20 "$LOG/provision.log" >&2; die "provision failed (see $LOG/provision.log)"; }
  make_tls
  if [ "$RELAX" = 1 ]; then
    log "relaxing the password policy (SAMBA_AD_RELAX_PWD_POLICY=1)"
    samba-tool domain passwordsettings set -s "$CONF" -H "$DC/private/sam.ldb" \
      --complexity=off --history-length=0 --min-pwd-length=0 --min-pwd-age=0 --max-pwd-age=0 >&2
  fi
  printf 'REALM=%q\nDOMAIN=%q\nHOST=%q\nADMINPASS=%q\nBACKEND=%q\nRELAX=%q\n' \
    "$REALM" "$DOMAIN" "$HOST" "$ADMINPASS" "$BACKEND" "$RELAX" >"$DIR/settings"
  rm -rf "$PRISTINE"; cp -a "$DC" "$PRISTINE"
  log "provisioned in $(since "$t0") s"
}

pid_alive() {  # prints the pid of the running samba whose pid is in PIDFILE
  local p
  [ -f "$PIDFILE" ] || return 1
  p=$(cat "$PIDFILE" 2>/dev/null) || return 1
  case "$p" in ''|*[!0-9]*) return 1 ;; esac
  [ -d "/proc/$p" ] || return 1   # (kill -0 would fail for a non-root `status`)
  tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q '^samba' || return 1
  echo "$p"
}

ldap_url() { case "$LISTEN" in *:*) echo "$1://[$LISTEN]:$2" ;; *) echo "$1://$LISTEN:$2" ;; esac; }
base_dn() { echo "$REALM" | tr '[:upper:]' '[:lower:]' | sed 's/^/DC=/; s/\./,DC=/g'; }
kv() { printf "%s='%s'\n" "$1" "${2//\'/\'\\\'\'}"; }  # KEY='value', eval-safe

# Connection facts as KEY='value' lines: written to DIR/env and printed.
# The CA is copied out of DIR/dc/private (mode 700) so a non-root test can read it.
facts() {
  local base; base=$(base_dn)
  install -m 644 "$DC/private/tls/ca.pem" "$DIR/ca.pem"
  {
    kv HRSYNC_AD_URL "$(ldap_url ldaps 636)"
    kv HRSYNC_AD_LDAP_URL "$(ldap_url ldap 389)"
    kv HRSYNC_AD_BIND_DN "CN=Administrator,CN=Users,$base"
    kv HRSYNC_AD_PASSWORD "$ADMINPASS"
    kv HRSYNC_AD_BASE_DN "$base"
    kv HRSYNC_AD_CA_FILE "$DIR/ca.pem"
    kv HRSYNC_AD_UPN_SUFFIX "$(echo "$REALM" | tr '[:upper:]' '[:lower:]')"
    kv HRSYNC_AD_REALM "$REALM"
    kv HRSYNC_AD_DOMAIN "$DOMAIN"
    kv HRSYNC_AD_RELAXED_PWD_POLICY "$RELAX"
    kv HRSYNC_AD_PID_FILE "$PIDFILE"
  } >"$DIR/env.tmp"
  chmod 644 "$DIR/env.tmp"; mv -f "$DIR/env.tmp" "$DIR/env"
  chmod 755 "$DIR"
  cat "$DIR/env"
}

stop() {
  local p
  if ! p=$(pid_alive); then rm -f "$PIDFILE"; log "not running"; return 0; fi
  kill -TERM "$p"
  for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$p" 2>/dev/null; then log "pid $p ignored TERM, sending KILL"; kill -KILL "$p"; sleep 1; fi
  rm -f "$PIDFILE"   # samba leaves its pid file behind
  log "stopped pid $p"
}

ldaps_bind_ok() {
  LDAPTLS_CACERT="$DC/private/tls/ca.pem" ldapsearch -x -LLL -o nettimeout=2 \
    -H "$(ldap_url ldaps 636)" -D "CN=Administrator,CN=Users,$(base_dn)" \
    -w "$ADMINPASS" -s base -b '' dnsHostName >/dev/null 2>&1
}

start() {
  local p
  ensure_packages
  provision
  if p=$(pid_alive); then log "already running (pid $p)"; facts; return 0; fi
  rm -f "$PIDFILE"
  (exec 3<>"/dev/tcp/$LISTEN/389") 2>/dev/null && die "something else already listens on $LISTEN:389"
  local t0 ok=0; t0=$(now)
  samba -s "$CONF" -l "$LOG" -D -M "$MODEL" \
    --option="interfaces=$LISTEN" --option="ldap server require strong auth=$STRONG" \
    >>"$LOG/samba.stdout" 2>&1 || die "samba failed to start (see $LOG/)"
  for _ in $(seq 1 $((TIMEOUT * 10))); do
    if ldaps_bind_ok; then ok=1; break; fi
    sleep 0.1
  done
  if [ "$ok" != 1 ]; then
    tail -30 "$LOG/log.samba" >&2 2>/dev/null || true
    stop   # do not leave a half-started daemon behind
    die "LDAPS bind did not succeed within ${TIMEOUT}s (see $LOG/log.samba)"
  fi
  printf 'R_LISTEN=%q\nR_STRONG=%q\nR_MODEL=%q\n' "$LISTEN" "$STRONG" "$MODEL" >"$DIR/runtime"
  log "started pid $(cat "$PIDFILE") in $(since "$t0") s (model $MODEL, strong auth $STRONG)"
  facts
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status)
    if p=$(pid_alive); then log "running (pid $p)"; else log "not running"; exit 1; fi ;;
  reset)
    [ -f "$PRISTINE/etc/smb.conf" ] || die "no pristine copy in $PRISTINE (run start first)"
    stop; rm -rf "$DC"; cp -a "$PRISTINE" "$DC"; start ;;
  env)
    [ -f "$DIR/env" ] || die "$DIR/env does not exist (run '$0 start $DIR' first)"
    cat "$DIR/env" ;;
  destroy)
    stop
    if [ -e "$MARK" ]; then rm -rf "$DIR"; log "removed $DIR"
    elif [ -e "$DIR" ]; then die "$DIR was not created by this script; not removing it"; fi ;;
esac
