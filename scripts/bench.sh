#!/usr/bin/env bash
# Reproduces BENCHMARKS.md with one command: builds the release binaries, then
# RUNS times (interleaved, so drift hits every series alike):
#   1. stableport on a fresh SQLite file       + stableport-bench
#   2. stableport on a fresh PostgreSQL database + stableport-bench
#   3. pgbench tpcb-like on a scratch PostgreSQL database (baseline)
#   4. sqlite3 CLI: durable single-row autocommits (baseline)
# and prints the medians. Servers are stopped (by PID) and databases dropped on exit.
#
# Knobs (environment): SCENARIO=create-conversion|create-orchestration|read-balances RUNS=3 CONCURRENCY=64 DURATION=15 WARMUP=3 PORT=18080
#   PG_URL_BASE=postgres://postgres@127.0.0.1:5432  PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres
#   BACKENDS="sqlite postgres"  OUT=<dir for raw results>  SKIP_BUILD=1  KEEP_DB=1 (keep SQLite files)
#   BEFORE=<dir with an earlier build's stableport binary>: each run also measures that
#     server (series sqlite-before, postgres-before), interleaved, with the same load generator,
#     so a change is judged side by side in one session.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
CONCURRENCY=${CONCURRENCY:-64}
SCENARIO=${SCENARIO:-create-conversion}   # or create-orchestration
DURATION=${DURATION:-15}   # seconds
WARMUP=${WARMUP:-3}        # seconds
PORT=${PORT:-18080}
BACKENDS=${BACKENDS:-"sqlite postgres"}
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
PG_URL_BASE=${PG_URL_BASE:-postgres://$PGUSER@$PGHOST:$PGPORT}
OUT=${OUT:-$(mktemp -d /tmp/stableport-bench.XXXXXX)}
mkdir -p "$OUT"
PGBENCH=${PGBENCH:-$(command -v pgbench || ls /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | tail -n1 || true)}
CLIENT_ID=bench-client
CLIENT_SECRET=bench-secret-$$-$RANDOM
TAG=sp_bench_$$
SERVER_PID=
DATABASES=()

log() { printf '==> %s\n' "$*" >&2; }

# "busy total" jiffies of the whole machine, and how many CPUs it has.
cpu_sample() { awk '/^cpu /{t=0; for(i=2;i<=9;i++) t+=$i; print t-$5-$6, t} /^cpu[0-9]/{n++} END{print n}' /proc/stat | paste -sd' '; }
cpus_busy() { # sample-before sample-after
    echo "$1 $2" | awk '{printf "%.2f", ($4-$1)/($5-$2)*$3}'
}

# Before each measurement: flush dirty pages (PostgreSQL's included) so that
# one series' write-back does not land in the next one's window.
settle() {
    sync
    if [[ " $BACKENDS " == *" postgres "* ]]; then psql -q -c CHECKPOINT >/dev/null; fi
    sleep 1
}

stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    kill -INT "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}

cleanup() {
    stop_server
    for db in "${DATABASES[@]}"; do
        psql -q -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_server() { # name url
    if curl -s -o /dev/null "http://127.0.0.1:$PORT/health"; then
        echo "port $PORT is already in use; set PORT=" >&2
        exit 1
    fi
    "${SERVER_BIN:-$OUT/bin/stableport}" serve --listen "127.0.0.1:$PORT" --database-url "$2" \
        --client-id "$CLIENT_ID" --client-secret "$CLIENT_SECRET" --settlement-delay 1s \
        >"$OUT/server-$1.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 300); do
        if curl -sf -o /dev/null "http://127.0.0.1:$PORT/health"; then return 0; fi
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then break; fi
        sleep 0.1
    done
    echo "server $1 did not become healthy; see $OUT/server-$1.log" >&2
    exit 1
}

bench() { # name
    "$OUT/bin/stableport-bench" --url "http://127.0.0.1:$PORT" \
        --client-id "$CLIENT_ID" --client-secret "$CLIENT_SECRET" \
        --scenario "$SCENARIO" --concurrency "$CONCURRENCY" \
        --duration "${DURATION}s" --warmup "${WARMUP}s" \
        --server-pid "$SERVER_PID" --json >"$OUT/$1.json"
    jq -c '{requests, errors, throughput_rps, latency_ms, server_cpu_s, bench_cpu_s, machine_cpus_busy}' "$OUT/$1.json" >&2
}

run_sqlite() { # run [series]
    local series=${2:-sqlite}
    local db="$OUT/$series-$1.db"
    rm -f "$db" "$db-wal" "$db-shm"
    start_server "$series-$1" "sqlite://$db"
    settle
    bench "$series-$1"
    stop_server
    [ -n "${KEEP_DB:-}" ] || rm -f "$db" "$db-wal" "$db-shm"
}

run_postgres() { # run [series]
    local series=${2:-postgres}
    local db="${TAG}_${series//-/_}_$1"
    psql -q -c "CREATE DATABASE $db" >/dev/null
    DATABASES+=("$db")
    start_server "$series-$1" "$PG_URL_BASE/$db"
    settle
    bench "$series-$1"
    stop_server
    psql -q -c "DROP DATABASE IF EXISTS $db" >/dev/null
}

run_pgbench() { # run
    local dir="$OUT/pgbench-$1"
    mkdir -p "$dir"
    settle
    # -l: per-transaction log, for the percentiles pgbench does not print.
    local before after
    before=$(cpu_sample)
    (cd "$dir" && "$PGBENCH" -b tpcb-like -c "$CONCURRENCY" -j 2 -T "$DURATION" -l) \
        >"$OUT/pgbench-$1.txt" 2>&1
    after=$(cpu_sample)
    local tps failed latencies
    tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$OUT/pgbench-$1.txt" | head -n1)
    failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$OUT/pgbench-$1.txt" | head -n1)
    latencies=$(cat "$dir"/pgbench_log.* | awk '{print $3 / 1000}' | sort -n)
    local n
    n=$(printf '%s\n' "$latencies" | wc -l)
    pct() { printf '%s\n' "$latencies" | sed -n "$(( ($1 * n + 999) / 1000 ))p"; }
    jq -n --argjson tps "$tps" --argjson failed "${failed:-0}" --argjson p50 "$(pct 500)" --argjson p90 "$(pct 900)" \
        --argjson p99 "$(pct 990)" --argjson max "$(pct 1000)" --argjson busy "$(cpus_busy "$before" "$after")" \
        '{throughput_rps: $tps, errors: $failed, latency_ms: {p50: $p50, p90: $p90, p99: $p99, max: $max},
          machine_cpus_busy: {busy: $busy}}' \
        >"$OUT/pgbench-$1.json"
    rm -rf "$dir"
    jq -c . "$OUT/pgbench-$1.json" >&2
}

run_sqlite_baseline() { # run
    local db="$OUT/baseline-$1.db" n=10000
    rm -f "$db" "$db-wal" "$db-shm"
    sqlite3 "$db" "PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);" >/dev/null
    {
        echo "PRAGMA synchronous=FULL;"
        for _ in $(seq "$n"); do echo "INSERT INTO t(v) VALUES('x');"; done
    } >"$OUT/baseline.sql"
    settle
    local start end
    start=$(date +%s.%N)
    sqlite3 "$db" <"$OUT/baseline.sql"
    end=$(date +%s.%N)
    jq -n --argjson n "$n" --argjson s "$(echo "$end - $start" | bc -l)" \
        '{throughput_rps: ($n / $s), commits: $n, seconds: $s}' >"$OUT/sqlite3-$1.json"
    rm -f "$db" "$db-wal" "$db-shm"
    jq -c . "$OUT/sqlite3-$1.json" >&2
}

if [ -z "${SKIP_BUILD:-}" ]; then
    log "building"
    cargo build --release -p stableport-server -p stableport-bench
fi
# Run private copies, so that a rebuild in the same tree cannot change the binaries mid-run.
mkdir -p "$OUT/bin"
cp target/release/stableport target/release/stableport-bench "$OUT/bin/"
if [ -n "${BEFORE:-}" ]; then
    mkdir -p "$OUT/before"
    cp "$BEFORE/stableport" "$OUT/before/"
fi
# Runs the earlier build's server on the same backend, when BEFORE is set.
before() { # run backend
    [ -n "${BEFORE:-}" ] || return 0
    log "run $1: the earlier build on $2"
    SERVER_BIN="$OUT/before/stableport" "run_$2" "$1" "$2-before"
}
{ git rev-parse --short HEAD; git status --short; } >"$OUT/git.txt" 2>/dev/null || true

if [[ " $BACKENDS " == *" postgres "* ]]; then
    [ -n "$PGBENCH" ] || { echo "pgbench not found; set PGBENCH=" >&2; exit 1; }
    psql -q -c "CREATE DATABASE ${TAG}_pgbench" >/dev/null
    DATABASES+=("${TAG}_pgbench")
    log "pgbench -i -s 10"
    PGDATABASE=${TAG}_pgbench "$PGBENCH" -i -s 10 -q >"$OUT/pgbench-init.txt" 2>&1
fi
for run in $(seq "$RUNS"); do
    if [[ " $BACKENDS " == *" sqlite "* ]]; then
        log "run $run: stableport on SQLite"
        run_sqlite "$run"
        before "$run" sqlite
        if command -v sqlite3 >/dev/null && command -v bc >/dev/null; then
            log "run $run: sqlite3 durable autocommits"
            run_sqlite_baseline "$run"
        fi
    fi
    if [[ " $BACKENDS " == *" postgres "* ]]; then
        log "run $run: stableport on PostgreSQL"
        run_postgres "$run"
        before "$run" postgres
        log "run $run: pgbench tpcb-like"
        PGDATABASE=${TAG}_pgbench run_pgbench "$run"
    fi
done

median() { # series jq-path
    local files=("$OUT"/"$1"-[0-9]*.json)
    [ -e "${files[0]}" ] || { echo "-"; return; }
    jq -rs "map($2) | sort | .[length / 2 | floor]" "${files[@]}"
}

summary() {
    echo "Medians of $RUNS runs, concurrency $CONCURRENCY, ${DURATION}s window (raw results in $OUT):"
    printf '%-12s %12s %9s %9s %9s %9s %8s %11s %9s\n' series "req/s" "p50 ms" "p90 ms" "p99 ms" "max ms" errors \
        "srv cpu %" "CPUs busy"
    for s in sqlite sqlite-before postgres postgres-before pgbench sqlite3; do
        [ -e "$OUT/$s-1.json" ] || continue
        if [ "$s" = sqlite3 ]; then
            printf '%-12s %12.0f %9s %9s %9s %9s %8s\n' "$s" "$(median $s .throughput_rps)" - - - - -
        else
            printf '%-12s %12.0f %9.2f %9.2f %9.2f %9.2f %8s %11s %9s\n' "$s" "$(median $s .throughput_rps)" \
                "$(median $s .latency_ms.p50)" "$(median $s .latency_ms.p90)" "$(median $s .latency_ms.p99)" \
                "$(median $s .latency_ms.max)" "$(median $s .errors)" \
                "$(median $s "if .server_cpu_s then (.server_cpu_s.user + .server_cpu_s.system) / .duration_s * 100 | round else \"-\" end")" \
                "$(median $s .machine_cpus_busy.busy)"
        fi
    done
    ratio() { jq -n "$(median "$1" .throughput_rps) / $(median "$2" .throughput_rps)"; }
    [ -e "$OUT/postgres-1.json" ] && [ -e "$OUT/pgbench-1.json" ] &&
        printf 'stableport(PostgreSQL) / pgbench tpcb-like: %.2f\n' "$(ratio postgres pgbench)"
    [ -e "$OUT/sqlite-1.json" ] && [ -e "$OUT/sqlite3-1.json" ] &&
        printf 'stableport(SQLite) / sqlite3 single-row durable commits: %.2f\n' "$(ratio sqlite sqlite3)"
    for b in sqlite postgres; do
        [ -e "$OUT/$b-1.json" ] && [ -e "$OUT/$b-before-1.json" ] &&
            printf 'this build / the earlier build (%s): %.2f\n' "$b" "$(ratio "$b" "$b-before")"
    done
    return 0
}
echo
summary | tee "$OUT/summary.txt"
