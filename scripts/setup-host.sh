#!/usr/bin/env bash
# Installs and starts what pipgate needs on a Debian host: the Docker engine (no bridge, no iptables:
# containers run with --network none) with gVisor's runsc registered beside runc, debootstrap for the
# sandbox image, Debian's wheels of pip, setuptools and wheel that the test index serves, the Debian
# python3-* packages the bench corpus is made from, Chromium for the report test, and PostgreSQL for
# the fleet-mode tests (installed only: each test starts a throwaway server of its own, as the postgres
# user, so Debian's system cluster need not run). Idempotent; root.
set -euo pipefail

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v runsc >/dev/null 2>&1 || need+=(runsc)
ls /usr/share/python-wheels/pip-*.whl >/dev/null 2>&1 || need+=(python3-pip-whl)
ls /usr/share/python-wheels/setuptools-*.whl >/dev/null 2>&1 || need+=(python3-setuptools-whl)
ls /usr/share/python-wheels/wheel-*.whl >/dev/null 2>&1 || need+=(python3-wheel-whl)
ls -d /usr/lib/python3/dist-packages/hatchling-*.dist-info >/dev/null 2>&1 || need+=(python3-hatchling)
ls -d /usr/lib/python3/dist-packages/packaging-*.dist-info >/dev/null 2>&1 || need+=(python3-packaging)
ls -d /usr/lib/python3/dist-packages/pathspec-*.dist-info >/dev/null 2>&1 || need+=(python3-pathspec)
ls -d /usr/lib/python3/dist-packages/pluggy-*-info >/dev/null 2>&1 || need+=(python3-pluggy)
# the bench corpus (bench/corpus/corpus.ts): real distributions as Debian packages them, made into wheels
corpus=()
for pkg in python3-requests python3-fastapi python3-rich python3-numpy python3-pandas; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || corpus+=("$pkg")
done
# tests render the audit report in a real headless browser
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# fleet mode's state store: test/support/postgres.ts runs initdb and pg_ctl from /usr/lib/postgresql/N/bin
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup-host: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ ${#corpus[@]} -gt 0 ]; then
  echo "setup-host: installing the bench corpus's ${corpus[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  [ ${#need[@]} -gt 0 ] || apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${corpus[@]}" >/dev/null
fi

# runsc (sandbox.runtime: runsc) as a runtime of the engine: no network stack of its own (containers
# have none), and host unix sockets may be opened (the index proxy's socket is the build's only way out).
RUNSC_CONFIG='{"runtimes":{"runsc":{"path":"/usr/bin/runsc","runtimeArgs":["--network=none","--host-uds=open"]}}}'
mkdir -p /etc/docker
if [ ! -s /etc/docker/daemon.json ]; then
  echo "$RUNSC_CONFIG" >/etc/docker/daemon.json
elif ! grep -q '"runsc"' /etc/docker/daemon.json; then
  echo "setup-host: /etc/docker/daemon.json exists without a runsc runtime; add $RUNSC_CONFIG to it" >&2
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
if ! docker info --format '{{json .Runtimes}}' | grep -q '"runsc"'; then
  # dockerd reloads its runtimes on SIGHUP
  kill -HUP "$(pidof dockerd)" 2>/dev/null || true
  for _ in $(seq 1 20); do
    docker info --format '{{json .Runtimes}}' | grep -q '"runsc"' && break
    sleep 0.5
  done
fi
docker info --format '{{json .Runtimes}}' | grep -q '"runsc"' || echo "setup-host: runsc is not registered with the Docker engine (see /etc/docker/daemon.json)" >&2
echo "setup-host: docker engine ready" >&2
