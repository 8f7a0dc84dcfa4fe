#!/usr/bin/env bash
# Builds pipgate's sandbox image without a container registry: a minimal Debian root from debootstrap
# (python3, pip, venv), pipgate's forwarder added, loaded with `docker import` and tagged with the
# Python minor version it carries (pipgate-sandbox:py3.X). Where a registry is reachable,
# sandbox/Dockerfile builds the equivalent image from the official slim Python image.
# Usage: sandbox/build-image.sh [--expect-python 3.X] [--tag NAME]   (needs root and a Docker engine)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
expect=""
tag=""
while [ $# -gt 0 ]; do
  case "$1" in
    --expect-python) expect="$2"; shift 2 ;;
    --tag) tag="$2"; shift 2 ;;
    *) echo "build-image: unknown argument $1" >&2; exit 2 ;;
  esac
done

cache=${PIPGATE_ROOTFS_CACHE:-/var/cache/pipgate/rootfs-bookworm}
if [ ! -x "$cache/usr/bin/python3" ]; then
  echo "build-image: debootstrap bookworm into $cache (a few minutes)" >&2
  rm -rf "$cache.tmp"
  mkdir -p "$(dirname "$cache")"
  debootstrap --variant=minbase --include=python3,python3-pip,python3-venv bookworm "$cache.tmp" >&2
  rm -rf "$cache.tmp/var/cache/apt/archives/"*.deb "$cache.tmp/var/lib/apt/lists/"*
  mv "$cache.tmp" "$cache"
fi

minor=$(chroot "$cache" /usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ -n "$expect" ] && [ "$expect" != "$minor" ]; then
  echo "build-image: this root carries Python $minor but $expect was asked for; the sandbox must match the environment's Python minor version" >&2
  exit 3
fi
tag=${tag:-pipgate-sandbox:py$minor}

mkdir -p "$cache/opt/pipgate"
install -m 0644 "$here/runtime/forwarder.py" "$cache/opt/pipgate/forwarder.py"
# pip inside the sandbox must never read a config of its own
rm -f "$cache/etc/pip.conf"

echo "build-image: importing as $tag" >&2
tar -C "$cache" -c . | docker import \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
  --change 'ENV HOME=/tmp' \
  --change "LABEL org.pipgate.python=$minor" \
  --change 'USER 65534:65534' \
  --change 'WORKDIR /tmp' \
  - "$tag" >/dev/null
echo "$tag"
