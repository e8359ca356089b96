#!/usr/bin/env bash
# Installs what is missing, builds, and starts the daemon on the embedded
# default: an LMDB store in ./portcullis-data (the demo portal on first
# run), the default policy, bearer tokens in ./portcullis-tokens, listening
# on 127.0.0.1:8181. Safe to run again: the data is kept, and a daemon
# started earlier by this script is stopped first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release
bin=build/release/server/portcullis
data="${PORTCULLIS_DATA:-portcullis-data}"
tokens="${PORTCULLIS_TOKENS:-portcullis-tokens}"
listen="${PORTCULLIS_LISTEN:-127.0.0.1:8181}"
policy=policies/workspace.yaml

if [ ! -d "$data" ]; then
  # Import into a fresh folder, then move it into place, so an interrupted
  # first run never leaves a half-filled store behind.
  tmp="$data.importing"
  rm -rf "$tmp"
  "$bin" import --data "$tmp" --policy "$policy" policies/demo-data.jsonl
  mv "$tmp" "$data"
fi

if [ ! -f "$tokens" ]; then
  umask 077
  {
    echo "check $(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
    echo "admin $(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
  } > "$tokens"
fi

pidfile="$data.pid"
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  echo "start: stopping the daemon started earlier (pid $(cat "$pidfile"))"
  kill -TERM "$(cat "$pidfile")"
  for _ in $(seq 1 50); do
    kill -0 "$(cat "$pidfile")" 2>/dev/null || break
    sleep 0.1
  done
fi

cat <<MSG
start: tokens are in $tokens; for the README's curl examples:
  export PORTCULLIS=http://$listen
  export TOKEN=$(awk '$1=="admin"{print $2}' "$tokens")
MSG
echo $$ > "$pidfile"
exec "$bin" serve --listen "$listen" --data "$data" --policy "$policy" \
  --tokens "$tokens"
