#!/usr/bin/env bash
# Sustained load: a mix of checks (95%) and writes (5%) at 80% of the
# measured maximum for several minutes, against `portcullis serve` on a
# generated dataset. Reports, per minute, the throughput, errors and latency
# percentiles (open loop, from the scheduled send time), and the daemon's RSS
# at the start and end of each minute. Fails if any request failed, if RSS
# (heap, RssAnon) grew by more than 64 MiB after the first minute, or if the last minute's
# p99 is over 3x the first minute's (and over 5 ms).
#   tests/soak/load.sh [--build DIR] [--minutes N] [--scale small|medium]
#                      [--fraction 0.8] [--out FILE.md]
# Not in CI (it takes minutes and both CPUs); see docs/reliability.md.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$ROOT/build
MINUTES=5
SCALE=small
FRACTION=0.8
OUT=""
CONNECTIONS=16
while [ $# -gt 0 ]; do
  case "$1" in
    --build) BUILD=$2; shift 2 ;;
    --minutes) MINUTES=$2; shift 2 ;;
    --scale) SCALE=$2; shift 2 ;;
    --fraction) FRACTION=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    *) echo "load.sh: unknown flag $1" >&2; exit 2 ;;
  esac
done
PORTCULLIS=$BUILD/server/portcullis
LOADGEN=$BUILD/bench/loadgen
DATAGEN=$BUILD/bench/datagen
for b in "$PORTCULLIS" "$LOADGEN" "$DATAGEN"; do
  [ -x "$b" ] || { echo "load.sh: $b is not built" >&2; exit 2; }
done
WORK=$(mktemp -d /tmp/portcullis_load_XXXXXX)
DAEMON_PID=""
cleanup() {
  [ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "== dataset ($SCALE)" >&2
"$DATAGEN" --scale "$SCALE" --out "$WORK/dataset" >&2
DATASET=$(ls "$WORK"/dataset/*.jsonl | head -1)
POLICY=$ROOT/policies/workspace.yaml
"$PORTCULLIS" import --data "$WORK/data" --policy "$POLICY" "$DATASET" >&2
# The mix, from the dataset's own entities: checks a binding allows (via the
# group, folders below), checks it does not, batches of 10, actions, and 5%
# writes (a binding set, one cleared, a resource rewritten).
python3 - "$DATASET" > "$WORK/mixed.jsonl" <<'PY'
import json, random, sys
random.seed(7)
parent, group_members, files, users, res_lines = {}, {}, [], [], {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["kind"] == "resource":
        ref = r["type"] + ":" + r["id"]
        parent[ref] = r.get("parent", "")
        res_lines[ref] = r
        if r["type"] == "file":
            files.append(ref)
    elif r["kind"] == "subject" and r["type"] == "user":
        users.append("user:" + r["id"])
    elif r["kind"] == "binding" and r["resource"].startswith("group:") \
            and r.get("state", "active") == "active":
        group_members.setdefault(r["resource"], []).append(r["subject"])
def group_of(ref):
    while ref and not ref.startswith("group:"):
        ref = parent.get(ref, "")
    return ref
hits, misses = [], []
for f in random.sample(files, min(400, len(files))):
    g = group_of(f)
    if group_members.get(g):
        hits.append({"subject": random.choice(group_members[g]), "action": "view", "resource": f})
    misses.append({"subject": random.choice(users), "action": "edit", "resource": f})
out = []
def add(name, method, path, body, weight, decisions=1):
    out.append({"name": name, "method": method, "path": path, "body": body,
                "weight": weight, "decisions": decisions})
for c in hits[:50]: add("check_hit", "POST", "/v1/check", c, 50 / min(50, len(hits)))
for c in misses[:30]: add("check_miss", "POST", "/v1/check", c, 25 / min(30, len(misses)))
for k in range(5):
    add("batch_10", "POST", "/v1/check/batch",
        {"checks": random.sample(hits, 5) + random.sample(misses, 5)}, 1, 10)
for c in hits[:10]:
    add("actions", "POST", "/v1/actions", {"subject": c["subject"], "resource": c["resource"]}, 1.5)
g = next(iter(group_members))
f = res_lines[files[0]]
add("write_binding_set", "PUT", "/v1/bindings",
    {"subject": users[0], "resource": g, "roles": ["member"]}, 2)
add("write_binding_clear", "PUT", "/v1/bindings",
    {"subject": users[1], "resource": g, "roles": []}, 1.5)
add("write_resource", "PUT", "/v1/resources/file/" + f["id"],
    {"parent": f["parent"], "attributes": f.get("attributes", {})}, 1.5)
for t in out:
    print(json.dumps(t))
PY
echo "== daemon" >&2
"$PORTCULLIS" serve --listen 127.0.0.1:0 --data "$WORK/data" --policy "$POLICY" \
  --threads 2 --no-auth > "$WORK/daemon.out" 2> "$WORK/daemon.err" &
DAEMON_PID=$!
for i in $(seq 1 500); do
  PORT=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$WORK/daemon.out" 2>/dev/null | grep -o '[0-9]*$' || true)
  [ -n "$PORT" ] && break
  sleep 0.02
done
[ -n "$PORT" ] || { cat "$WORK/daemon.err" >&2; exit 1; }
# Resident memory, KiB: heap and stacks (RssAnon), and the mapped store
# (RssFile: LMDB pages touched; it follows the data file, which every write
# makes grow by its changelog entry).
rss() { awk '/RssAnon/ {a=$2} /RssFile/ {f=$2} END {print a, f}' "/proc/$DAEMON_PID/status"; }

echo "== maximum (closed loop, 20 s)" >&2
"$LOADGEN" --target "127.0.0.1:$PORT" --mix "$WORK/mixed.jsonl" \
  --connections "$CONNECTIONS" --threads 1 --duration 20 --warmup 3 \
  --label max --out "$WORK/max.json" >/dev/null
MAX=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ok_rps"])' "$WORK/max.json")
RATE=$(python3 -c 'import sys; print(int(float(sys.argv[1]) * float(sys.argv[2])))' "$MAX" "$FRACTION")
echo "== sustained: $RATE req/s (${FRACTION} of $MAX) for $MINUTES minute(s)" >&2

echo "minute anon_start file_start anon_end file_end load" > "$WORK/rss.txt"
for m in $(seq 1 "$MINUTES"); do
  r0=$(rss)
  "$LOADGEN" --target "127.0.0.1:$PORT" --mix "$WORK/mixed.jsonl" \
    --connections "$CONNECTIONS" --threads 1 --duration 60 --warmup 0 \
    --rate "$RATE" --label "minute$m" --out "$WORK/minute$m.json" >/dev/null || true
  echo "$m $r0 $(rss) $(cut -d' ' -f1 /proc/loadavg)" >> "$WORK/rss.txt"
  echo "   minute $m done" >&2
done

python3 - "$WORK" "$MINUTES" "$MAX" "$RATE" "${OUT:-/dev/stdout}" <<'PY'
import json, sys
work, minutes, mx, rate, out = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
rss = {}
for line in open(work + "/rss.txt").read().split("\n")[1:]:
    if line.strip():
        m, a0, f0, a1, f1, load = line.split()
        rss[int(m)] = (int(a0), int(a1), int(f0), int(f1), float(load))
rows, fail = [], []
for m in range(1, minutes + 1):
    d = json.load(open(f"{work}/minute{m}.json"))
    lat = d["latency_ns"]
    rows.append((m, d["ok_rps"], d["errors"] + d.get("unsent", 0), lat["p50"] / 1e6,
                 lat["p99"] / 1e6, lat["p99_9"] / 1e6, lat["max"] / 1e6, *rss[m]))
    if d["errors"] or d.get("unsent", 0):
        fail.append(f"minute {m}: {d['errors']} errors, {d.get('unsent', 0)} unsent {d.get('errors_by_kind')}")
first, last = rows[0], rows[-1]
if last[8] - first[8] > 64 * 1024:
    fail.append(f"heap (RssAnon) grew from {first[8]} to {last[8]} KiB after the first minute")
if last[4] > 3 * first[4] and last[4] > 5:
    fail.append(f"p99 drifted from {first[4]:.2f} ms to {last[4]:.2f} ms")
with open(out, "w") as f:
    f.write(f"Maximum (closed loop, 16 connections): {mx:.0f} req/s; sustained at {rate} req/s "
            f"(about 80% single checks, 5% batches of 10, 10% actions, 5% writes), open loop.\n\n")
    f.write("| minute | ok req/s | errors | p50 ms | p99 ms | p99.9 ms | max ms | heap KiB start/end | mapped store KiB start/end | load avg |\n")
    f.write("|---|---|---|---|---|---|---|---|---|---|\n")
    for r in rows:
        f.write("| %d | %.0f | %d | %.3f | %.3f | %.3f | %.2f | %d / %d | %d / %d | %.1f |\n" % r)
    f.write("\n" + ("FAIL: " + "; ".join(fail) if fail else "OK: no errors, RSS bounded, p99 stable") + "\n")
sys.exit(1 if fail else 0)
PY
