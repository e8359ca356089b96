#!/usr/bin/env bash
# Configures and builds one flavour of Portcullis into build/FLAVOUR.
#   scripts/build.sh release|asan|tsan|fuzz [TARGET...]
# With TARGETs, builds only those (the fuzz flavour builds only its fuzz
# targets: its instrumented libraries do not link into the ordinary tests).
set -euo pipefail
cd "$(dirname "$0")/.."
flavour="${1:-release}"
shift || true
jobs="${PORTCULLIS_JOBS:-2}"
case "$flavour" in
  release) args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  asan)    args=(-DCMAKE_BUILD_TYPE=Debug -DPORTCULLIS_SANITIZE=ON -DPORTCULLIS_BENCH=OFF) ;;
  tsan)    args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DPORTCULLIS_TSAN=ON -DPORTCULLIS_BENCH=OFF) ;;
  fuzz)    args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DPORTCULLIS_FUZZ=ON -DPORTCULLIS_BENCH=OFF
                 -DCMAKE_CXX_COMPILER=clang++) ;;
  *) echo "usage: $0 release|asan|tsan|fuzz" >&2; exit 2 ;;
esac
cmake -S . -B "build/$flavour" -G Ninja "${args[@]}" >/dev/null
ninja -C "build/$flavour" -j "$jobs" "$@"
