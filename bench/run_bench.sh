#!/usr/bin/env bash
# The Portcullis benchmark: decision latency and throughput over HTTP, each
# figure beside the ceiling of this machine measured in the same run.
#
#   bench/run_bench.sh --scale small|medium|large [options]
#
# Steps (each announced on stderr as it starts):
#   1. request mixes (bench/loadgen_mixes.py; real entities from the data
#      generator's refs file when there is one);
#   2. dataset: the data generator writes JSON Lines, `portcullis import`
#      loads them into a fresh LMDB folder (the real import path);
#   3. the daemon (`portcullis serve --listen 127.0.0.1:0`) and the
#      constant-answer server (bench/constant_server) start; the time from
#      exec to the first answered check is recorded;
#   4. ceiling: GET /healthz on the daemon, and every mix against the
#      constant server (closed loop);
#   5. every mix against the daemon (closed loop: maximum throughput);
#   6. open loop: check_hit at fractions of the maximum just measured;
#   7. in-process check latency from Google Benchmark (bench/storage_bench)
#      on the same data set (the generator is deterministic: same scale, same
#      seed, same records), over LMDB and over the in-memory data, if built;
#   8. bench/report.py writes report.md, report.json and chart.png.
#
# Without a daemon binary, a data generator or a policy (or with
# --constant-only), steps 2, 5 and the daemon parts of 3-4 are skipped and the
# report says so: the harness then measures the constant server only.
#
# CPU placement: with 4 or more CPUs the servers are pinned (taskset) to the
# first half and the load threads (pthread_setaffinity_np) to the second
# half, so the load generator does not steal the server's cores. With fewer
# CPUs nothing is pinned and the load generator runs one thread beside the
# server: its CPU time is then taken from the server, which depresses the
# absolute numbers; the ratios against the constant server, which suffers
# the same cost in the same run, remain comparable. --server-cpus and
# --load-cpus override the choice.
set -euo pipefail

usage() {
  cat >&2 <<'EOF'
usage: bench/run_bench.sh --scale small|medium|large [options]
  --build DIR          build folder with the binaries (default: ./build)
  --out DIR            results folder (default: bench/results/<scale>)
  --duration S         measured seconds per run (default 10)
  --warmup S           warm-up seconds per run (default 2)
  --connections N      keep-alive connections (default 16)
  --rates LIST         open-loop rates as fractions of the maximum
                       (default 0.1,0.25,0.5,0.75,0.9)
  --quick              short runs for tests: 0.5 s, 0.2 s warm-up, 2 rates
  --check              fail unless the report validates (report.py --check):
                       files present, numbers finite and ordered, no errors
  --constant-only      measure the constant server only
  --portcullis BIN     the daemon binary (default: found in the build folder)
  --datagen BIN        the data generator (default: found in the build folder)
  --policy FILE        the policy the daemon loads (default: the generator's)
  --refs FILE          real entities for the mixes (default: the generator's)
  --store DIR          an LMDB folder that already holds this scale's data
                       set (as \`portcullis import\` wrote it): served as it
                       is instead of generating and importing one (give the
                       generator's --policy and --refs; the report then has
                       no import time)
  --server-threads N   I/O threads of both servers (default: CPUs, max 4)
  --server-cpus LIST   pin both servers to these CPUs (taskset -c LIST)
  --load-cpus LIST     pin the load threads to these CPUs
EOF
  exit 2
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCALE="" BUILD="$ROOT/build" OUT="" DURATION=10 WARMUP=2 CONNECTIONS=16
RATES="0.1,0.25,0.5,0.75,0.9" QUICK=0 CONSTANT_ONLY=0 CHECK=0 PORTCULLIS="" DATAGEN=""
POLICY="" REFS="" STORE="" SERVER_THREADS="" SERVER_CPUS="" LOAD_CPUS="" PER_MIX=64
COMMAND="bench/run_bench.sh $*"
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) SCALE=${2:?}; shift 2 ;;
    --build) BUILD=${2:?}; shift 2 ;;
    --out) OUT=${2:?}; shift 2 ;;
    --duration) DURATION=${2:?}; shift 2 ;;
    --warmup) WARMUP=${2:?}; shift 2 ;;
    --connections) CONNECTIONS=${2:?}; shift 2 ;;
    --rates) RATES=${2:?}; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --constant-only) CONSTANT_ONLY=1; shift ;;
    --check) CHECK=1; shift ;;
    --portcullis) PORTCULLIS=${2:?}; shift 2 ;;
    --datagen) DATAGEN=${2:?}; shift 2 ;;
    --policy) POLICY=${2:?}; shift 2 ;;
    --refs) REFS=${2:?}; shift 2 ;;
    --store) STORE=${2:?}; shift 2 ;;
    --server-threads) SERVER_THREADS=${2:?}; shift 2 ;;
    --server-cpus) SERVER_CPUS=${2:?}; shift 2 ;;
    --load-cpus) LOAD_CPUS=${2:?}; shift 2 ;;
    -h|--help) usage ;;
    *) echo "run_bench: unknown argument $1" >&2; usage ;;
  esac
done
case "$SCALE" in
  small|medium|large) ;;
  *) echo "run_bench: --scale must be small, medium or large" >&2; usage ;;
esac
if [ "$QUICK" = 1 ]; then
  DURATION=0.5 WARMUP=0.2 RATES="0.25,0.75" PER_MIX=16
fi
OUT=${OUT:-$ROOT/bench/results/$SCALE}
# Debian's interpreter, which has python3-matplotlib, unless told otherwise.
if [ -z "${PYTHON:-}" ]; then
  PYTHON=python3
  [ -x /usr/bin/python3 ] && PYTHON=/usr/bin/python3
fi
LOADGEN="$BUILD/bench/loadgen"
CONSTANT="$BUILD/bench/constant_server"
for bin in "$LOADGEN" "$CONSTANT"; do
  [ -x "$bin" ] || { echo "run_bench: $bin is missing: build first" >&2; exit 1; }
done

find_bin() {  # the first executable among the arguments
  for c in "$@"; do [ -x "$c" ] && [ -f "$c" ] && { echo "$c"; return; }; done
  echo ""
}
PORTCULLIS=${PORTCULLIS:-$(find_bin "$BUILD/server/portcullis" "$BUILD/portcullis")}
DATAGEN=${DATAGEN:-$(find_bin "$BUILD/bench/datagen")}
STORAGE_BENCH=$(find_bin "$BUILD/bench/storage_bench")

NCPU=$(nproc)
SERVER_THREADS=${SERVER_THREADS:-$(( NCPU < 4 ? NCPU : 4 ))}
LOAD_THREADS=1
if [ -z "$SERVER_CPUS" ] && [ -z "$LOAD_CPUS" ] && [ "$NCPU" -ge 4 ]; then
  half=$(( NCPU / 2 ))
  SERVER_CPUS="0-$(( half - 1 ))"
  LOAD_CPUS=$(seq -s, "$half" $(( NCPU - 1 )))
  SERVER_THREADS=$half
  LOAD_THREADS=$(( half < 4 ? half : 4 ))
fi
TASKSET=()
[ -n "$SERVER_CPUS" ] && TASKSET=(taskset -c "$SERVER_CPUS")
LOAD_PIN=()
[ -n "$LOAD_CPUS" ] && LOAD_PIN=(--cpus "$LOAD_CPUS")

RAW="$OUT/raw"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/portcullis-bench.XXXXXX")
rm -rf "$RAW"
mkdir -p "$RAW"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

STEP=0
step() { STEP=$((STEP + 1)); printf '[bench %s %s] %s\n' "$(date +%H:%M:%S)" "$STEP" "$*" >&2; }
now_ms() { date +%s%3N; }

# Starts a server whose first line names 127.0.0.1:PORT; sets PORT.
start_server() {  # log-file command...
  local log=$1; shift
  "${TASKSET[@]}" "$@" >"$log" 2>&1 &
  PIDS+=($!)
  local pid=$! i
  PORT=""
  for i in $(seq 1 600); do
    PORT=$(grep -oE '(127\.0\.0\.1|localhost|\[::1\]|0\.0\.0\.0):[0-9]+' "$log" 2>/dev/null | head -1 | sed 's/.*://') || true
    [ -n "$PORT" ] && return 0
    kill -0 "$pid" 2>/dev/null || { echo "run_bench: server exited:" >&2; cat "$log" >&2; exit 1; }
    sleep 0.1
  done
  echo "run_bench: no port on the start-up line of $*" >&2; cat "$log" >&2; exit 1
}

# loadgen against one target: run <target-name> <port> <mix> [extra flags]
run_load() {
  local target=$1 port=$2 mix=$3; shift 3
  local label="${target}__${mix}" extra=("$@")
  if [ "${#extra[@]}" -gt 0 ] && [ "${extra[0]}" = "--rate" ]; then
    label="${label}__open_${extra[1]}"
  fi
  local rc=0
  "$LOADGEN" --target "127.0.0.1:$port" --mix "$WORK/mixes/$mix.jsonl" \
    --connections "$CONNECTIONS" --threads "$LOAD_THREADS" "${LOAD_PIN[@]}" \
    --duration "$DURATION" --warmup "$WARMUP" --label "$label" \
    --out "$RAW/$label.json" "${extra[@]}" || rc=$?
  if [ "$rc" != 0 ] && [ "$rc" != 3 ]; then
    echo "run_bench: loadgen failed ($rc) on $label" >&2; exit 1
  fi
}

DAEMON_NOTE=""
if [ "$CONSTANT_ONLY" = 1 ]; then
  DAEMON_NOTE="skipped (--constant-only)"
elif [ -z "$PORTCULLIS" ]; then
  DAEMON_NOTE="not built (no portcullis binary in $BUILD)"
elif ! "$PORTCULLIS" --help 2>/dev/null | grep -qE "^ +serve( |$)"; then
  DAEMON_NOTE="the portcullis binary has no serve subcommand yet"
elif [ -z "$DATAGEN" ]; then
  DAEMON_NOTE="no data generator (bench/datagen) in $BUILD"
fi

[ -n "$DAEMON_NOTE" ] && step "daemon: $DAEMON_NOTE; measuring the constant server only"

# 1-2. Dataset and mixes.
DATA="$WORK/data"
DATASET=""
if [ -n "$STORE" ] && [ -z "$DAEMON_NOTE" ]; then
  [ -f "$STORE/data.mdb" ] || { echo "run_bench: --store $STORE holds no data.mdb" >&2; exit 1; }
  [ -n "$POLICY" ] && [ -n "$REFS" ] || { echo "run_bench: --store needs --policy and --refs" >&2; exit 1; }
  step "dataset: serving the store in $STORE (not imported)"
  DATA="$STORE"
elif [ -z "$DAEMON_NOTE" ]; then
  step "dataset: generating scale $SCALE with $DATAGEN"
  mkdir -p "$WORK/dataset"
  "$DATAGEN" --scale "$SCALE" --out "$WORK/dataset" >&2
  DATASET=$(ls "$WORK"/dataset/*.jsonl 2>/dev/null | head -1 || true)
  [ -n "$DATASET" ] || { echo "run_bench: the generator wrote no .jsonl" >&2; exit 1; }
  [ -z "$REFS" ] && [ -f "$WORK/dataset/refs.json" ] && REFS="$WORK/dataset/refs.json"
  [ -z "$POLICY" ] && POLICY=$(ls "$WORK"/dataset/*.yaml 2>/dev/null | head -1 || true)
  [ -n "$POLICY" ] || { echo "run_bench: no policy (--policy FILE)" >&2; exit 1; }
  step "dataset: portcullis import $(basename "$DATASET") ($(du -h "$DATASET" | cut -f1))"
  t0=$(now_ms)
  "$PORTCULLIS" import --data "$DATA" --policy "$POLICY" "$DATASET" >&2
  IMPORT_MS=$(( $(now_ms) - t0 ))
fi
step "mixes: writing request mixes${REFS:+ from $REFS}"
"$PYTHON" "$ROOT/bench/loadgen_mixes.py" --out "$WORK/mixes" --per-mix "$PER_MIX" \
  ${REFS:+--refs "$REFS"} >/dev/null
cp "$WORK/mixes/mixes.json" "$RAW/mixes.json"
MIXES=(check_hit check_miss check_deep check_override check_condition
       batch_10 batch_100 actions lookup_small lookup_large authzen_evaluation)

# 3. Servers.
step "servers: constant_server (threads $SERVER_THREADS${SERVER_CPUS:+, CPUs $SERVER_CPUS})"
start_server "$WORK/constant.log" "$CONSTANT" --threads "$SERVER_THREADS" --listen 127.0.0.1:0
CONSTANT_PORT=$PORT
DAEMON_PORT=""
START_MS=""
if [ -z "$DAEMON_NOTE" ]; then
  step "servers: portcullis serve on $DATA"
  first=$(head -1 "$WORK/mixes/check_hit.jsonl" | "$PYTHON" -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["body"]))')
  t0=$(now_ms)
  start_server "$WORK/daemon.log" "$PORTCULLIS" serve --listen 127.0.0.1:0 \
    --data "$DATA" --policy "$POLICY" --threads "$SERVER_THREADS" --no-auth
  DAEMON_PORT=$PORT
  for i in $(seq 1 1000); do
    if curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' \
        --data "$first" "http://127.0.0.1:$DAEMON_PORT/v1/check"; then
      START_MS=$(( $(now_ms) - t0 )); break
    fi
    sleep 0.01
  done
  [ -n "$START_MS" ] || { echo "run_bench: the daemon never answered a check" >&2; cat "$WORK/daemon.log" >&2; exit 1; }
  step "servers: first check answered ${START_MS} ms after exec"
fi

# 4-5. Closed loop: ceiling, then the daemon.
if [ -n "$DAEMON_PORT" ]; then
  step "ceiling: daemon GET /healthz"
  "$PYTHON" "$ROOT/bench/loadgen_mixes.py" --out "$WORK/mixes" --only healthz >/dev/null
  run_load daemon "$DAEMON_PORT" healthz
fi
for mix in "${MIXES[@]}"; do
  step "ceiling: constant server, $mix"
  run_load constant "$CONSTANT_PORT" "$mix"
done
if [ -n "$DAEMON_PORT" ]; then
  # Each mix only if the daemon serves its endpoint (a daemon built without
  # AuthZEN answers 404 on its discovery document).
  DAEMON_MIXES=()
  for mix in "${MIXES[@]}"; do
    if [ "$mix" = authzen_evaluation ] && ! curl -sf -o /dev/null \
        "http://127.0.0.1:$DAEMON_PORT/.well-known/authzen-configuration"; then
      step "daemon: skipping $mix (no AuthZEN endpoint)"
      continue
    fi
    DAEMON_MIXES+=("$mix")
  done
  for mix in "${DAEMON_MIXES[@]}"; do
    step "daemon: $mix"
    run_load daemon "$DAEMON_PORT" "$mix"
  done
fi

# 6. Open loop on the main target at fractions of its maximum.
if [ -n "$DAEMON_PORT" ]; then OPEN_TARGET=daemon OPEN_PORT=$DAEMON_PORT
else OPEN_TARGET=constant OPEN_PORT=$CONSTANT_PORT; fi
MAX=$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["ok_rps"])' \
  "$RAW/${OPEN_TARGET}__check_hit.json")
for frac in ${RATES//,/ }; do
  rate=$("$PYTHON" -c 'import sys; print(max(1, int(float(sys.argv[1]) * float(sys.argv[2]))))' "$frac" "$MAX")
  step "open loop: $OPEN_TARGET check_hit at $rate/s ($frac of $(printf '%.0f' "$MAX")/s)"
  run_load "$OPEN_TARGET" "$OPEN_PORT" check_hit --rate "$rate"
done

# 7. In process.
if [ -n "$STORAGE_BENCH" ]; then
  step "in process: $(basename "$STORAGE_BENCH") at scale $SCALE"
  min_time=1
  [ "$QUICK" = 1 ] && min_time=0.05
  # The daemon's store holds this very data set: measure it rather than
  # importing it a second time.
  store_env=()
  [ -f "$DATA/data.mdb" ] && store_env=(PORTCULLIS_BENCH_STORE="$DATA")
  env "${store_env[@]}" PORTCULLIS_BENCH_SCALE="$SCALE" "$STORAGE_BENCH" --benchmark_min_time="$min_time" \
    --benchmark_out="$RAW/storage_bench.json" --benchmark_out_format=json \
    >"$RAW/storage_bench.txt" || echo "run_bench: storage_bench failed; continuing" >&2
fi

# 8. Report.
COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
git -C "$ROOT" diff --quiet HEAD -- 2>/dev/null || COMMIT="$COMMIT+dirty"
export SCALE COMMAND COMMIT NCPU DURATION WARMUP CONNECTIONS SERVER_THREADS \
  SERVER_CPUS LOAD_THREADS LOAD_CPUS DAEMON_NOTE
export START_MS=${START_MS:-} IMPORT_MS=${IMPORT_MS:-}
"$PYTHON" - "$RAW/meta.json" <<'EOF'
import json, os, platform, sys, time
e = os.environ
cpu = ""
with open("/proc/cpuinfo") as f:
    for line in f:
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
with open("/proc/meminfo") as f:
    mem_gb = round(int(f.readline().split()[1]) / 1048576, 1)
num = lambda k: float(e[k]) if e.get(k) else None
json.dump({
    "scale": e["SCALE"], "command": e["COMMAND"], "commit": e["COMMIT"],
    "machine": {"cpu": cpu, "cpus": int(e["NCPU"]),
                "kernel": platform.release(), "memory_gb": mem_gb},
    "duration_s": float(e["DURATION"]), "warmup_s": float(e["WARMUP"]),
    "connections": int(e["CONNECTIONS"]),
    "server_threads": int(e["SERVER_THREADS"]),
    "server_cpus": e["SERVER_CPUS"], "load_threads": int(e["LOAD_THREADS"]),
    "load_cpus": e["LOAD_CPUS"],
    "daemon": e["DAEMON_NOTE"] or "portcullis serve",
    "start_to_first_check_ms": num("START_MS"), "import_ms": num("IMPORT_MS"),
    "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
}, open(sys.argv[1], "w"), indent=1)
EOF
step "report: $OUT/report.md"
"$PYTHON" "$ROOT/bench/report.py" --raw "$RAW" --out "$OUT"
if [ "$CHECK" = 1 ]; then
  "$PYTHON" "$ROOT/bench/report.py" --check "$OUT" >&2
fi
echo "$OUT/report.md"
