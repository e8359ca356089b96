#!/usr/bin/env bash
# Cluster mode against the embedded mode, on this machine, in one run
# (docs/scale-out.md, "Measurements"):
#   bench/cluster_bench.sh [SCALE] [WRITES]      (SCALE of bench/datagen; small)
# Starts its own PostgreSQL (a folder under /tmp, loopback, a free port,
# default durability: fsync and synchronous commits on, as LMDB's commits
# are) and daemons on free loopback ports; removes everything at the end.
# Reports: import of the data set into PostgreSQL (portcullis import
# --source), a new node's bootstrap time, write latency at one client
# (embedded against cluster), and replication lag (write acknowledged at A
# -> answered at B with at_least_revision) at several write rates.
set -euo pipefail
cd "$(dirname "$0")/.."
scale="${1:-small}"
writes="${2:-1000}"
bin="$PWD/build/release/server/portcullis"
policy="$PWD/policies/workspace.yaml"
pgbin=/usr/lib/postgresql/15/bin
[ -x "$bin" ] || scripts/build.sh release >/dev/null
[ -x build/release/bench/datagen ] || scripts/build.sh release datagen >/dev/null

work=$(mktemp -d /tmp/portcullis-cluster-bench-XXXXXX)
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  chown postgres:postgres "$work"
  as_pg=(runuser -u postgres --)
fi
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  "${as_pg[@]}" "$pgbin/pg_ctl" -D "$work/pg" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
now_ms() { date +%s%3N; }

pgport=$(free_port)
"${as_pg[@]}" "$pgbin/initdb" -D "$work/pg" -A trust -U postgres -E UTF8 >/dev/null
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$work/pg" -l "$work/postgresql.log" -w \
  -o "-c listen_addresses=127.0.0.1 -k $work -p $pgport" start >/dev/null
url="postgresql://postgres@127.0.0.1:$pgport/postgres"
token=benchtoken0123456789
printf 'check %s\nadmin %s\n' "$token" "$token" >"$work/tokens"

# Starts a daemon (extra arguments after the data folder) and sets
# node_url once it listens; says its start-up time on stderr. Runs in this
# shell (not a command substitution), so that cleanup knows its pid.
node_url=""
start_node() {
  local name=$1 data=$2
  shift 2
  local t0
  t0=$(now_ms)
  "$bin" serve --listen 127.0.0.1:0 --data "$data" --policy "$policy" \
    --tokens "$work/tokens" "$@" >"$work/$name.out" 2>"$work/$name.log" &
  pids+=($!)
  for _ in $(seq 1 1200); do
    if grep -q "listening on" "$work/$name.out" 2>/dev/null; then
      echo "$name start-up: $(( $(now_ms) - t0 )) ms" >&2
      node_url=$(sed -n 's/.*listening on \([0-9.]*:[0-9]*\).*/http:\/\/\1/p' "$work/$name.out")
      return
    fi
    sleep 0.05
  done
  cat "$work/$name.log" >&2
  exit 1
}

build/release/bench/datagen --scale "$scale" --out "$work/gen" >/dev/null
mv "$work/gen/workspace.jsonl" "$work/data.jsonl"
python3 bench/loadgen_mixes.py --out "$work/mixes" --refs "$work/gen/refs.json" \
  --only check_hit >/dev/null
records=$(grep -c . "$work/data.jsonl")
group=$(grep -m1 '"type":"group"' "$work/data.jsonl" | sed 's/.*"id":"\([^"]*\)".*/group:\1/')
lag() { bench/cluster_lag.py --token "$token" --writes "$writes" --group "$group" "$@"; }
echo "data: $scale, $records records"

echo "== embedded"
t0=$(now_ms)
"$bin" import --data "$work/embedded" --policy "$policy" "$work/data.jsonl" >/dev/null
echo "import (LMDB): $(( $(now_ms) - t0 )) ms"
start_node embedded "$work/embedded"; emb=$node_url

echo "== cluster"
t0=$(now_ms)
"$bin" import --source "$url" --policy "$policy" "$work/data.jsonl" >/dev/null
echo "import (through PostgreSQL): $(( $(now_ms) - t0 )) ms"
start_node a "$work/a" --source "$url"; a=$node_url; a_pid=${pids[-1]}
grep -h "bootstrapped" "$work/a.log" >&2 || true
start_node b "$work/b" --source "$url"; b=$node_url

# Writes: throughput and latency, embedded against cluster (group commit
# through PostgreSQL), unpaced, one run. Then replication lag A -> B at
# 500 and 2,000 writes/s (paced, 5 s each, 8 and 32 clients: each client
# writes and then reads, one at a time, so the clients must be enough that
# the pace is not bounded by their round trips).
echo "write latency, embedded, 1 client: $(lag --writer "$emb")"
echo "write latency, cluster (at A), 1 client: $(lag --writer "$a")"
# What a cluster write costs: CPU (clock ticks of 10 ms, from /proc) of
# daemon A and of PostgreSQL's processes, and writes per PostgreSQL
# transaction (rows of the change log per distinct xmin), over one run.
ticks() {
  local t=0 p
  for p in "$@"; do
    t=$(( t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0) ))
  done
  echo "$t"
}
pg_pids() { echo "$(head -1 "$work/pg/postmaster.pid") $(pgrep -P "$(head -1 "$work/pg/postmaster.pid")" | tr '\n' ' ')"; }
psql_at() { "$pgbin/psql" -h 127.0.0.1 -p "$pgport" -U postgres -At -c "$1" postgres; }
cost() {  # cost LABEL COMMAND...: runs the command, then says what it cost
  local label=$1 rev0 a0 pg0 out
  shift
  rev0=$(psql_at "SELECT revision FROM portcullis_head")
  a0=$(ticks "$a_pid"); pg0=$(ticks $(pg_pids))
  out=$("$@")
  local writes=$(( $(psql_at "SELECT revision FROM portcullis_head") - rev0 ))
  echo "$label: $out"
  echo "  cost: $writes writes, $(psql_at "SELECT round(count(*)::numeric / greatest(count(DISTINCT xmin::text), 1), 1) FROM portcullis_changes WHERE revision > $rev0") writes per PostgreSQL transaction; CPU per write: daemon A $(( ($(ticks "$a_pid") - a0) * 10000 / (writes > 0 ? writes : 1) )) us, PostgreSQL $(( ($(ticks $(pg_pids)) - pg0) * 10000 / (writes > 0 ? writes : 1) )) us"
}
for clients in 8 32; do
  echo "write throughput, embedded, $clients clients unpaced: $(lag --writer "$emb" --clients "$clients" --writes 4000)"
  cost "write throughput, cluster at A, $clients clients unpaced" lag --writer "$a" --clients "$clients" --writes 4000
done
for rate in 500 2000; do
  clients=$(( rate >= 2000 ? 32 : 8 ))
  cost "lag A->B at $rate writes/s ($clients clients)" lag --writer "$a" --reader "$b" --rate "$rate" --clients "$clients" --writes $(( rate * 5 ))
done
start_node c "$work/c" --source "$url"; c=$node_url
grep -h "bootstrapped" "$work/c.log" || true

# Checks at a follower (B), open loop at 1,000/s, idle and while it applies
# 200 writes/s made at A.
checks() {
  build/release/bench/loadgen --target "${b#http://}" --mix "$work/mixes/check_hit.jsonl" \
    --connections 4 --threads 1 --duration 8 --warmup 1 --rate 1000 \
    --token "$token" --label "$1" --out "$work/$1.json" >/dev/null 2>&1 || true
  python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
l = d["latency_ns"]
print("checks at B, %s: ok %d errors %d, p50 %.0f us, p99 %.0f us, p99.9 %.0f us"
      % (sys.argv[2], d["ok"], d["errors"], l["p50"] / 1e3, l["p99"] / 1e3,
         l["p99_9"] / 1e3))' "$work/$1.json" "$1"
}
checks follower_idle
lag --writer "$a" --writes 2000 --rate 200 >/dev/null &
writer=$!
sleep 0.5
checks follower_applying
wait "$writer" || true

# Check throughput, one node against three (closed loop, 5 s): three
# loadgen processes (8 connections each) at B alone, then one at each of
# A, B and C, so that the clients are the same in both runs.
tput() {
  build/release/bench/loadgen --target "${1#http://}" --mix "$work/mixes/check_hit.jsonl" \
    --connections 8 --threads 1 --duration 5 --warmup 1 \
    --token "$token" --label "$2" --out "$work/$2.json" >/dev/null 2>&1 || true
}
rps() {
  python3 -c '
import json, sys
print(round(sum(json.load(open(f))["throughput_rps"] for f in sys.argv[1:])))' "$@"
}
three() {
  tput "$1" "$4_1" & local p1=$!
  tput "$2" "$4_2" & local p2=$!
  tput "$3" "$4_3" & local p3=$!
  wait "$p1" "$p2" "$p3"
  rps "$work/$4_1.json" "$work/$4_2.json" "$work/$4_3.json"
}
echo "check throughput, one node (B), 3 load generators: $(three "$b" "$b" "$b" one) checks/s"
echo "check throughput, three nodes (A, B, C), 1 load generator each: $(three "$a" "$b" "$c" three) checks/s"
