#!/usr/bin/env bash
# Installs and starts what pipgate needs on a Debian host: the Docker engine (no bridge, no iptables:
# containers run with --network none), debootstrap for the sandbox image, Debian's wheels of pip,
# setuptools and wheel that the test index serves, and Chromium for the report test. Idempotent; root.
set -euo pipefail

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
ls /usr/share/python-wheels/pip-*.whl >/dev/null 2>&1 || need+=(python3-pip-whl)
ls /usr/share/python-wheels/setuptools-*.whl >/dev/null 2>&1 || need+=(python3-setuptools-whl)
ls /usr/share/python-wheels/wheel-*.whl >/dev/null 2>&1 || need+=(python3-wheel-whl)
ls -d /usr/lib/python3/dist-packages/hatchling-*.dist-info >/dev/null 2>&1 || need+=(python3-hatchling)
ls -d /usr/lib/python3/dist-packages/packaging-*.dist-info >/dev/null 2>&1 || need+=(python3-packaging)
ls -d /usr/lib/python3/dist-packages/pathspec-*.dist-info >/dev/null 2>&1 || need+=(python3-pathspec)
ls -d /usr/lib/python3/dist-packages/pluggy-*-info >/dev/null 2>&1 || need+=(python3-pluggy)
# tests render the audit report in a real headless browser
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup-host: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  echo "setup-host: starting dockerd (--bridge=none --iptables=false)" >&2
  mkdir -p /var/log
  nohup dockerd --bridge=none --iptables=false --ip6tables=false >/var/log/pipgate-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { echo "setup-host: dockerd did not start; see /var/log/pipgate-dockerd.log" >&2; exit 1; }
fi
echo "setup-host: docker engine ready" >&2
