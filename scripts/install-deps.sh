#!/usr/bin/env bash
# Installs the Debian 12 packages Portcullis needs, if any are missing.
# Idempotent: does nothing (and needs no network) when all are present.
set -euo pipefail

PACKAGES=(
  cmake ninja-build g++ pkg-config python3
  clang libclang-rt-14-dev            # libFuzzer and sanitizer runtimes
  libboost1.81-dev                     # Beast and Asio (header-only)
  libyaml-cpp-dev liblmdb-dev lmdb-utils rapidjson-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  libcli11-dev libexpected-dev
  libssl-dev                   # libcrypto: AES-GCM page tokens
  postgresql-15 libpq-dev      # cluster mode's source of truth and its client
  curl wrk
  python3-matplotlib           # benchmark reports and charts
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# PostgreSQL is only a tool of the tests and scripts/cluster.sh, which run
# their own servers in folders of their own: the package must not create
# (and start) a system cluster of its own.
if printf '%s\n' "${missing[@]}" | grep -qx postgresql-15; then
  $SUDO mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" |
    $SUDO tee /etc/postgresql-common/createcluster.d/portcullis.conf >/dev/null
fi
$SUDO apt-get update -qq
# Boost 1.81 conflicts with Debian's default 1.74 development headers.
$SUDO apt-get install -y -qq "${missing[@]}" libboost-dev- libboost1.74-dev- >/dev/null
