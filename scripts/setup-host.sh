#!/usr/bin/env bash
# Prepares a Debian/Ubuntu host for slipway's tests. Idempotent; run as root:
#   sudo bash scripts/setup-host.sh
#
# 1. installs the packages that tests, rootless containers and the fixture build use;
# 2. makes /dev/net/tun usable by non-root (slirp4netns/pasta need it);
# 3. creates the unprivileged test user `slipway-test` (override: SLIPWAY_TEST_USER) with
#    /etc/subuid and /etc/subgid ranges of 65536 that overlap no existing range;
# 4. builds the fixture images (scripts/fixtures/build.sh) into $SLIPWAY_FIXTURES_DIR
#    (default /var/cache/slipway-fixtures), cached, so a rerun takes seconds.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TEST_USER=${SLIPWAY_TEST_USER:-slipway-test}
PACKAGES=(slirp4netns passt uidmap fuse-overlayfs docker-registry busybox-static debootstrap skopeo umoci
  jq zstd xz-utils bzip2 iproute2 build-essential libseccomp-dev util-linux ca-certificates clang libclang-rt-dev)

log() { printf '[setup-host] %s\n' "$*" >&2; }
die() { printf '[setup-host] ERROR: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || die "must run as root: sudo bash scripts/setup-host.sh"
command -v apt-get >/dev/null || die "this script needs apt-get (Debian or Ubuntu)"
command -v node >/dev/null || die "node (>= 20) is required; install it first"

started=$SECONDS

# --- packages -----------------------------------------------------------------------------------
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing: ${missing[*]}"
  out=$(mktemp)
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$out" 2>&1; then
    tail -n 30 "$out" >&2
    rm -f "$out"
    die "apt-get install failed (output above); check that the Debian mirror is reachable"
  fi
  rm -f "$out"
else
  log "packages: all present"
fi

# --- /dev/net/tun -------------------------------------------------------------------------------
if [[ ! -e /dev/net/tun ]]; then
  modprobe tun 2>/dev/null || true
  if [[ ! -e /dev/net/tun ]]; then
    mkdir -p /dev/net && mknod -m 666 /dev/net/tun c 10 200 || die "cannot create /dev/net/tun (is the tun module available?)"
  fi
fi
chmod 666 /dev/net/tun

# --- test user with subordinate id ranges --------------------------------------------------------
if ! id "$TEST_USER" >/dev/null 2>&1; then
  useradd --create-home --home-dir "/home/$TEST_USER" --shell /bin/bash --user-group "$TEST_USER" \
    || die "useradd $TEST_USER failed"
  log "created user $TEST_USER"
fi
# Picks a start above every range in either file (and at least 100000) so nothing overlaps.
next_free_start() {
  awk -F: 'BEGIN { max = 100000 } NF >= 3 { end = $2 + $3; if (end > max) max = end } END { print max }' /etc/subuid /etc/subgid
}
for f in /etc/subuid /etc/subgid; do touch "$f"; done
for f in /etc/subuid /etc/subgid; do
  if ! grep -q "^$TEST_USER:" "$f"; then
    start=$(next_free_start)
    echo "$TEST_USER:$start:65536" >>"$f"
    log "$f: $TEST_USER:$start:65536"
  fi
done
for f in /etc/subuid /etc/subgid; do
  count=$(awk -F: -v u="$TEST_USER" '$1 == u { s += $3 } END { print s + 0 }' "$f")
  ((count >= 65536)) || die "$f gives $TEST_USER only $count ids; fix the line or remove it and rerun"
done
[[ -u /usr/bin/newuidmap || -n $(getcap /usr/bin/newuidmap 2>/dev/null) ]] \
  || die "/usr/bin/newuidmap is neither setuid nor has file capabilities; reinstall uidmap"

# Ubuntu 24.04+ restricts unprivileged user namespaces through AppArmor; say so instead of failing later.
if [[ $(cat /proc/sys/kernel/apparmor_restrict_unprivileged_userns 2>/dev/null || echo 0) == 1 ]]; then
  log "WARNING: kernel.apparmor_restrict_unprivileged_userns=1 blocks rootless containers;"
  log "         run: sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 (or add an AppArmor profile)"
fi
if [[ $(cat /proc/sys/kernel/unprivileged_userns_clone 2>/dev/null || echo 1) == 0 ]]; then
  log "WARNING: kernel.unprivileged_userns_clone=0 blocks rootless containers; run: sysctl -w kernel.unprivileged_userns_clone=1"
fi

log "host ready in $((SECONDS - started))s; building fixture images"

# --- fixtures ------------------------------------------------------------------------------------
bash "$HERE/fixtures/build.sh"
log "done in $((SECONDS - started))s"
