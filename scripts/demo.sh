#!/usr/bin/env bash
# The demo in one command: installs what is missing, builds slipway, makes a tiny busybox image locally
# (offline, with umoci: no registry or internet needed) and runs examples/demo.mjs against it.
# Usage: sudo bash scripts/demo.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

need=()
for pair in busybox:busybox-static umoci:umoci newuidmap:uidmap slirp4netns:slirp4netns make:build-essential; do
  command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}")
done
[[ -e /usr/include/seccomp.h ]] || need+=(libseccomp-dev)
if ((${#need[@]})); then
  [[ $(id -u) == 0 ]] || { echo "demo: missing packages ${need[*]}; run as root (sudo bash scripts/demo.sh) or install them" >&2; exit 1; }
  echo "demo: installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
fi
[[ -d node_modules ]] || npm ci --no-audit --no-fund
npm run --silent build >/dev/null

image_dir=${SLIPWAY_DEMO_IMAGE_DIR:-${TMPDIR:-/tmp}/slipway-demo-image}
if [[ ! -f $image_dir/index.json ]]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  rm -rf "$image_dir"
  umoci init --layout "$image_dir" >/dev/null
  umoci new --image "$image_dir:latest" >/dev/null
  umoci unpack --rootless --image "$image_dir:latest" "$work/bundle" >/dev/null
  root=$work/bundle/rootfs
  mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/www"
  cp /bin/busybox "$root/bin/busybox"
  for applet in $("$root/bin/busybox" --list); do [[ $applet == busybox ]] || ln -sf busybox "$root/bin/$applet"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  umoci repack --image "$image_dir:latest" "$work/bundle" >/dev/null
  umoci config --image "$image_dir:latest" --config.cmd sh >/dev/null
  chmod -R a+rX "$image_dir"
fi
exec node examples/demo.mjs "oci-layout:$image_dir:latest"
