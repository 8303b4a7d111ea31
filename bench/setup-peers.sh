#!/usr/bin/env bash
# Installs and starts the peers that `npm run bench` compares slipway against. Never needed by tests.
#
#   - Debian's docker.io (dockerd + containerd + runc), docker-compose (1.29, scenario 9), podman, skopeo, umoci, slirp4netns, passt (pasta)
#   - a Docker engine started by hand when none answers (this VM has no systemd), logging to
#     /var/log/slipway-bench-dockerd.log
#   - the fixture images (redis, postgres, debian, busybox) loaded into Docker from their OCI layouts
#     (built by scripts/fixtures/build.sh into /var/cache/slipway-fixtures)
#   - a one-time check whether podman can run a container here; the verdict is written to
#     /var/cache/slipway-bench/podman.status so the bench can skip podman with the reason
#     (Debian's podman needs lower rlimits than its defaults on this VM; see below)
#
# Run as root. Usage: bash bench/setup-peers.sh [--no-install] [--no-images]
set -euo pipefail

FIXDIR=${SLIPWAY_FIXTURES_DIR:-/var/cache/slipway-fixtures}
STATE=/var/cache/slipway-bench
DOCKERD_LOG=/var/log/slipway-bench-dockerd.log
INSTALL=1 IMAGES=1
for a in "$@"; do
  case $a in
    --no-install) INSTALL=0 ;;
    --no-images) IMAGES=0 ;;
    *) echo "unknown option $a (use --no-install, --no-images)" >&2; exit 2 ;;
  esac
done

log() { printf '[setup-peers] %s\n' "$*" >&2; }
die() { printf '[setup-peers] ERROR: %s\n' "$*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "run as root: sudo bash bench/setup-peers.sh"
mkdir -p "$STATE"

if ((INSTALL)); then
  log "installing docker.io docker-compose podman skopeo umoci runc slirp4netns passt (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # policy-rc.d stops the package scripts from trying to start services (there is no init system here).
  had_policy=0; [[ -e /usr/sbin/policy-rc.d ]] && had_policy=1
  ((had_policy)) || { printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; }
  apt-get install -y -qq --no-install-recommends docker.io docker-compose podman skopeo umoci runc slirp4netns passt \
    uidmap fuse-overlayfs iptables >/dev/null || { ((had_policy)) || rm -f /usr/sbin/policy-rc.d; die "apt-get install failed"; }
  ((had_policy)) || rm -f /usr/sbin/policy-rc.d
fi

# ------------------------------------------------------------------------------------------------
# Docker engine: use one that answers, else start dockerd by hand in the background.
docker_ok() { timeout 5 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }
if docker_ok; then
  log "docker engine answers: $(docker version --format '{{.Server.Version}}')"
else
  command -v dockerd >/dev/null || die "no dockerd; install docker.io (run without --no-install)"
  log "starting dockerd (logs: $DOCKERD_LOG)"
  # setsid: the engine outlives this script; nohup ignores the terminal's hangup.
  setsid nohup dockerd --host unix:///var/run/docker.sock >>"$DOCKERD_LOG" 2>&1 </dev/null &
  echo $! >"$STATE/dockerd.pid"
  for _ in $(seq 1 60); do docker_ok && break; sleep 0.5; done
  docker_ok || { tail -n 30 "$DOCKERD_LOG" >&2; die "dockerd did not answer within 30 s (see $DOCKERD_LOG)"; }
  log "docker engine up: $(docker version --format '{{.Server.Version}}') (pid $(cat "$STATE/dockerd.pid"))"
fi

# ------------------------------------------------------------------------------------------------
# Fixture images into Docker, under the same names the loopback registry serves (library/<name>:<tag>)
# and the short ones (<name>:<tag>).
if ((IMAGES)); then
  if [[ ! -f $FIXDIR/fixtures.json ]]; then
    log "no fixtures at $FIXDIR (run: sudo bash scripts/setup-host.sh); skipping image load"
  else
    for name in busybox debian redis postgres nginx; do
      layout=$FIXDIR/oci/$name
      [[ -f $layout/index.json ]] || { log "no layout for $name"; continue; }
      for tag in $(jq -r --arg n "$name" '.images[$n].tags[]' "$FIXDIR/fixtures.json"); do
        [[ $tag == multi ]] && continue
        if docker image inspect "$name:$tag" >/dev/null 2>&1; then continue; fi
        log "loading $name:$tag into docker"
        skopeo copy -q "oci:$layout:$tag" "docker-daemon:$name:$tag" >/dev/null
        docker tag "$name:$tag" "library/$name:$tag"
      done
    done
  fi
fi

# ------------------------------------------------------------------------------------------------
# Podman: try one container once and record the verdict for the bench. Its default rlimits
# (nofile/nproc 1048576) exceed this VM's hard limits, so runc fails with `setting rlimit: operation
# not permitted`; the bench passes lower ones (PODMAN_RUN_ARGS in bench/lib/context.mjs), tried here too.
if command -v podman >/dev/null; then
  out=$(mktemp)
  img=""
  [[ -f $FIXDIR/oci/busybox/index.json ]] && img="oci:$FIXDIR/oci/busybox:latest"
  if [[ -z $img ]]; then
    echo "skip: no busybox fixture to try podman with" >"$STATE/podman.status"
  elif timeout 60 podman run --rm --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 "$img" true >"$out" 2>&1; then
    echo "ok (with --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)" >"$STATE/podman.status"
  else
    echo "skip: podman cannot run a container here: $(grep -m1 -iE 'error|denied|EPERM|cgroup' "$out" | cut -c1-200)" >"$STATE/podman.status"
  fi
  rm -f "$out"
  log "podman: $(cat "$STATE/podman.status")"
fi

log "versions:"
for t in docker podman skopeo umoci runc slirp4netns pasta; do
  printf '  %-12s %s\n' "$t" "$(command -v "$t" >/dev/null && "$t" --version 2>&1 | head -n1 || echo missing)" >&2
done
log "done"
