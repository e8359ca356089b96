#!/usr/bin/env bash
# Installs what is missing, builds, and answers a question on the demo data
# with the default policy.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release >/dev/null
bin=build/release/server/portcullis
echo "\$ portcullis check user:bob edit file:roadmap"
"$bin" check user:bob edit file:roadmap || true
