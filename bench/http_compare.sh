#!/usr/bin/env bash
# Same-run HTTP comparison with wrk: the daemon's /healthz, the constant-answer
# server, /v1/check, /access/v1/evaluation and /v1/check/batch (100 checks),
# measured in interleaved rounds so that a shared machine's drift hits every
# endpoint alike. Prints one line per run and, per endpoint, the median of the
# rounds with its ratio to /healthz and to the constant server.
#
#   bench/http_compare.sh --portcullis BIN --constant BIN [--rounds 3]
#       [--duration 5] [--connections 16] [--threads 2] [--data DIR]
#
# The daemon is started on a fresh copy of the demo data
# (policies/demo-data.jsonl, policies/workspace.yaml) with --no-auth and
# --threads N; the constant server with the same number of threads. wrk runs
# one thread with N connections (keep-alive). Needs wrk (Debian: wrk).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=""; constant=""; rounds=3; duration=5; conns=16; threads=2; data=""
while [ $# -gt 0 ]; do
  case "$1" in
    --portcullis) bin=$2; shift 2 ;;
    --constant) constant=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --connections) conns=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -x "$bin" ] || { echo "--portcullis BIN is required" >&2; exit 2; }
work=$(mktemp -d)
trap 'kill $dpid ${cpid:-} 2>/dev/null || true; rm -rf "$work"' EXIT
[ -n "$data" ] || data=$work/data
"$bin" import --data "$data" --policy "$here/policies/workspace.yaml" \
  "$here/policies/demo-data.jsonl" >/dev/null
"$bin" serve --listen 127.0.0.1:0 --data "$data" \
  --policy "$here/policies/workspace.yaml" --no-auth --threads "$threads" \
  >"$work/daemon.out" 2>"$work/daemon.err" &
dpid=$!
for _ in $(seq 100); do grep -q listening "$work/daemon.out" && break; sleep 0.1; done
port=$(grep -o '127.0.0.1:[0-9]*' "$work/daemon.out" | head -1 | cut -d: -f2)
cport=""
if [ -n "$constant" ]; then
  "$constant" --listen 127.0.0.1:0 --threads "$threads" >"$work/constant.out" 2>&1 &
  cpid=$!
  for _ in $(seq 100); do grep -q listening "$work/constant.out" && break; sleep 0.1; done
  cport=$(grep -o '127.0.0.1:[0-9]*' "$work/constant.out" | head -1 | cut -d: -f2)
fi

# wrk scripts: the request and a one-line summary.
summary='done = function(s, lat, req)
  io.write(string.format("RESULT %.0f %.3f %.3f %.3f %d %d\n",
    s.requests / (s.duration / 1e6), lat:percentile(50) / 1000,
    lat:percentile(99) / 1000, lat:percentile(99.9) / 1000,
    s.errors.connect + s.errors.read + s.errors.write + s.errors.timeout,
    s.errors.status))
end'
post() { printf 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = [[%s]]\n%s\n' "$1" "$summary"; }
printf '%s\n' "$summary" >"$work/get.lua"
post '{"subject":"user:alice","action":"view","resource":"file:logo"}' >"$work/check.lua"
post '{"subject":{"type":"user","id":"alice"},"action":{"name":"view"},"resource":{"type":"file","id":"logo"}}' >"$work/authzen.lua"
batch=$(python3 -c '
import json
s=["user:alice","user:bob","user:carol","user:dave","user:erin"]
r=["file:logo","file:readme","file:budget","file:salaries","file:minutes"]
a=["view","edit","download"]
print(json.dumps({"checks":[{"subject":s[i%5],"action":a[i%3],"resource":r[(i//5)%5]} for i in range(100)]},separators=(",",":")))')
post "$batch" >"$work/batch.lua"

names=(healthz constant check authzen batch100)
declare -A url script
url[healthz]=http://127.0.0.1:$port/healthz; script[healthz]=get.lua
url[constant]=http://127.0.0.1:$cport/v1/check; script[constant]=check.lua
url[check]=http://127.0.0.1:$port/v1/check; script[check]=check.lua
url[authzen]=http://127.0.0.1:$port/access/v1/evaluation; script[authzen]=authzen.lua
url[batch100]=http://127.0.0.1:$port/v1/check/batch; script[batch100]=batch.lua
echo "# $(date -u +%FT%TZ) $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); wrk -t1 -c$conns -d${duration}s; servers --threads $threads"
for r in $(seq "$rounds"); do
  for n in "${names[@]}"; do
    [ "$n" = constant ] && [ -z "$cport" ] && continue
    line=$(wrk -t1 -c"$conns" -d"${duration}s" -s "$work/${script[$n]}" "${url[$n]}" | grep '^RESULT')
    echo "round $r $n $line" | tee -a "$work/results"
  done
done
python3 - "$work/results" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    f = line.split()
    rows.setdefault(f[2], []).append([float(x) for x in f[4:10]])
med = {n: [statistics.median(c) for c in zip(*v)] for n, v in rows.items()}
base = med.get("healthz", [0])[0]; const = med.get("constant", [0])[0]
print("| endpoint | req/s | x100 decisions/s | p50 ms | p99 ms | p99.9 ms | / healthz | / constant | errors | non-2xx |")
print("|---|---|---|---|---|---|---|---|---|---|")
for n, m in med.items():
    dec = "%.0f" % (m[0] * 100) if n == "batch100" else ""
    print("| %s | %.0f | %s | %.3f | %.3f | %.3f | %.2f | %s | %d | %d |" % (
        n, m[0], dec, m[1], m[2], m[3], m[0] / base if base else 0,
        "%.2f" % (m[0] / const) if const else "", m[4], m[5]))
PY
