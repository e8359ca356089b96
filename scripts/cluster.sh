#!/usr/bin/env bash
# Starts a local cluster to try the scale-out mode (docs/scale-out.md): one
# PostgreSQL (initdb and pg_ctl in a folder of its own, listening on
# 127.0.0.1 and a free port only; no system service) and three daemons on
# free loopback ports, each with its own LMDB replica, the demo portal
# loaded through the first one. Prints the addresses and a write at one node
# read at another; stops everything (and removes the folder) on Ctrl-C or
# exit. PORTCULLIS_CLUSTER_NODES sets the number of daemons (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release >/dev/null
bin="$PWD/build/release/server/portcullis"
policy="$PWD/policies/workspace.yaml"
pgbin=/usr/lib/postgresql/15/bin
nodes="${PORTCULLIS_CLUSTER_NODES:-3}"

work=$(mktemp -d /tmp/portcullis-cluster-XXXXXX)
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  chown postgres:postgres "$work"
  as_pg=(runuser -u postgres --)
fi
pids=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  "${as_pg[@]}" "$pgbin/pg_ctl" -D "$work/pg" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$work"
  echo "cluster: stopped; removed $work"
}
trap cleanup EXIT INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pgport=$(free_port)
"${as_pg[@]}" "$pgbin/initdb" -D "$work/pg" -A trust -U postgres -E UTF8 \
  >"$work/initdb.log" 2>&1
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$work/pg" -l "$work/postgresql.log" -w \
  -o "-c listen_addresses=127.0.0.1 -k $work -p $pgport" start >/dev/null
source_url="postgresql://postgres@127.0.0.1:$pgport/postgres"

umask 077
check_token=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
admin_token=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
printf 'check %s\nadmin %s\n' "$check_token" "$admin_token" >"$work/tokens"
umask 022

addresses=()
for i in $(seq 1 "$nodes"); do
  port=$(free_port)
  "$bin" serve --listen "127.0.0.1:$port" --data "$work/node$i" \
    --policy "$policy" --tokens "$work/tokens" --source "$source_url" \
    >"$work/node$i.out" 2>"$work/node$i.log" &
  pids+=($!)
  for _ in $(seq 1 100); do
    grep -q "listening on" "$work/node$i.out" 2>/dev/null && break
    kill -0 "${pids[-1]}" 2>/dev/null || { cat "$work/node$i.log" >&2; exit 1; }
    sleep 0.1
  done
  addresses+=("http://127.0.0.1:$port")
done

# The demo portal, imported once through the first node (one transaction:
# one revision, replicated to every node).
curl -sf -X POST "${addresses[0]}/v1/import" \
  -H "Authorization: Bearer $admin_token" \
  --data-binary @policies/demo-data.jsonl >/dev/null

cat <<MSG
cluster: PostgreSQL at $source_url (folder $work)
MSG
for i in $(seq 1 "$nodes"); do
  echo "cluster: node $i at ${addresses[$((i - 1))]} (log $work/node$i.log)"
done
cat <<MSG

Try it (in another shell):
  export TOKEN=$admin_token
  # a write at node 1 returns its revision...
  curl -s -X PUT "${addresses[0]}/v1/bindings" -H "Authorization: Bearer \$TOKEN" \\
    -d '{"subject":"user:dave","resource":"file:budget","roles":["content_creator"]}'
  # ...which node 2 answers at, or after (the import was revision 1, so the write above is 2)
  curl -s "${addresses[1]}/v1/check" -H "Authorization: Bearer \$TOKEN" \\
    -d '{"subject":"user:dave","action":"edit","resource":"file:budget","at_least_revision":"2"}'
  curl -s "${addresses[1]}/readyz"      # the replica's revision and lag

Ctrl-C stops the daemons and PostgreSQL and removes $work.
MSG
wait
