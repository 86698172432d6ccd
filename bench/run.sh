#!/usr/bin/env bash
# Ksana's benchmark suite (see bench/README.md). Run by `./build.sh bench` as
#   KSANA_BIN=/abs/path/dist/ksana bench/run.sh
# Environment:
#   KSANA_BIN          the ksana binary to measure (required)
#   BENCH_QUICK=1      one short run per scenario, for development; writes results/quick.{md,json}
#   BENCH_ONLY=ksana   Ksana alone, no peers
#   BENCH_BUDGET_MIN   minutes after which nothing new starts (default 38, so that `./build.sh bench` ends within 45)
#   BENCH_KEEP=1       keep the temporary run directory (logs of every process) for inspection
#   BENCH_SKIP_PEER_BUILD=1  use the peers as already built (development only)
#   BENCH_SCENARIOS    e.g. creates,kill9 (of creates, kill9, resources, delivery, slow, firing-kill): only those (development)
# Installs nginx, wrk and gcc (and redis-server, PostgreSQL when a durable peer needs them) from Debian
# packages if missing, builds the peers and the harness, starts the nginx callee and the durable
# peers' PostgreSQL and Redis (private ports, loopback, in the run directory), runs every scenario, writes bench/results/latest.{md,json}, prints
# the table, and ends every process it started.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${KSANA_BIN:?KSANA_BIN must name the ksana binary to measure}"
QUICK="${BENCH_QUICK:-0}"
ONLY="${BENCH_ONLY:-}"
BUDGET_MIN="${BENCH_BUDGET_MIN:-38}"
START_EPOCH=$(date +%s)
DEADLINE=$((START_EPOCH + BUDGET_MIN * 60))
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

log() { printf '[bench %4ss] %s\n' "$(($(date +%s) - START_EPOCH))" "$*" >&2; }

RUN_DIR="$(mktemp -d /tmp/ksana-bench.XXXXXX)"
mkdir -p "$RUN_DIR/logs" "$RUN_DIR/pids" "$RUN_DIR/callee/tmp" "$RUN_DIR/callee/logs"
NGINX_PID=""
HARNESS_PID=""
REDIS_PID=""
PG_DATA=""
PG_USER_OS=ksana-bench
PG_CTL=""

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n "$HARNESS_PID" ]] && kill -0 "$HARNESS_PID" 2>/dev/null; then
        kill -TERM "$HARNESS_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$HARNESS_PID" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$HARNESS_PID" 2>/dev/null || true
    fi
    # Whatever the harness started and did not reap (it records each child's PID here).
    for f in "$RUN_DIR"/pids/*; do
        [[ -e "$f" ]] || continue
        kill -KILL "${f##*/}" 2>/dev/null || true
    done
    # The durable peers' stores: PostgreSQL (pg_ctl, then its postmaster's PID) and Redis.
    if [[ -n "$PG_DATA" && -f "$PG_DATA/postmaster.pid" ]]; then
        pg_pid="$(head -1 "$PG_DATA/postmaster.pid" 2>/dev/null || true)"
        runuser -u "$PG_USER_OS" -- "$PG_CTL" -D "$PG_DATA" -m immediate -w -t 20 stop >/dev/null 2>&1 || true
        if [[ -n "$pg_pid" ]] && kill -0 "$pg_pid" 2>/dev/null; then kill -KILL "$pg_pid" 2>/dev/null || true; fi
    fi
    if [[ -n "$REDIS_PID" ]] && kill -0 "$REDIS_PID" 2>/dev/null; then
        kill -TERM "$REDIS_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$REDIS_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$REDIS_PID" 2>/dev/null || true
    fi
    if [[ -n "$NGINX_PID" ]] && kill -0 "$NGINX_PID" 2>/dev/null; then
        kill -QUIT "$NGINX_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$NGINX_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$NGINX_PID" 2>/dev/null || true
    fi
    wait 2>/dev/null || true
    if [[ "${BENCH_KEEP:-0}" == 1 ]]; then log "run directory kept: $RUN_DIR"; else rm -rf "$RUN_DIR"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- the peers to run, and the stores they need ------------------------------------------
selected=()
if [[ "$ONLY" != "ksana" ]]; then
    for dir in "$HERE"/peers/*/; do
        name="$(basename "$dir")"
        [[ -f "$dir/build.sh" && -f "$dir/start.sh" ]] || continue
        if [[ -n "$ONLY" && ",$ONLY," != *",$name,"* ]]; then continue; fi
        selected+=("$name")
    done
fi
# A peer's `needs` file names the stores it runs on (postgres, redis), one a line.
needs() { [[ -f "$HERE/peers/$1/needs" ]] && grep -qx "$2" "$HERE/peers/$1/needs"; }
need_pg=0; need_redis=0
for name in "${selected[@]}"; do
    needs "$name" postgres && need_pg=1
    needs "$name" redis && need_redis=1
done
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

# ---- tools --------------------------------------------------------------------------------
have() { command -v "$1" >/dev/null 2>&1 || [[ -x "/usr/sbin/$1" ]]; }
missing=()
have nginx || missing+=(nginx)
have wrk || missing+=(wrk)
# gcc only builds the floor (optional): installed when we can, else the floor is left out.
if ! have cc && [[ $(id -u) -eq 0 ]]; then missing+=(gcc); fi
((need_redis)) && ! have redis-server && missing+=(redis-server)
((need_pg)) && [[ -z "$(pg_bin)" ]] && missing+=(postgresql)
if ((${#missing[@]})); then
    log "installing ${missing[*]} from Debian packages"
    export DEBIAN_FRONTEND=noninteractive
    # Keep the package's own service from starting: the suite runs its own nginx.
    policy_added=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && policy_added=1
    fi
    apt-get -o DPkg::Lock::Timeout=600 update -qq >"$RUN_DIR/logs/apt.log" 2>&1
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >>"$RUN_DIR/logs/apt.log" 2>&1 \
        || { tail -20 "$RUN_DIR/logs/apt.log" >&2; exit 1; }
    if ((policy_added)); then rm -f /usr/sbin/policy-rc.d; fi
fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
WRK="$(command -v wrk)"

# ---- the binary under test ----------------------------------------------------------------
[[ -x "$KSANA_BIN" ]] || { echo "KSANA_BIN=$KSANA_BIN is not an executable file" >&2; exit 1; }
# A private copy: the original may be rebuilt while the suite runs.
cp "$KSANA_BIN" "$RUN_DIR/ksana"
KSANA_SHA="$(sha256sum "$RUN_DIR/ksana" | cut -c1-64)"

# ---- harness and peers --------------------------------------------------------------------
log "building the harness"
dotnet build "$HERE/harness/KsanaBench.csproj" -c Release -o "$RUN_DIR/harness" --nologo -v quiet \
    >"$RUN_DIR/logs/build-harness.log" 2>&1 || { tail -30 "$RUN_DIR/logs/build-harness.log" >&2; exit 1; }

# The machine's floor for the delivery cases (bench/floor/floor.c): left out, with a note, if it does not build.
FLOOR_BIN=""
if cc -O2 -Wall -o "$RUN_DIR/floor" "$HERE/floor/floor.c" >"$RUN_DIR/logs/build-floor.log" 2>&1; then FLOOR_BIN="$RUN_DIR/floor"
else log "the floor (bench/floor/floor.c) did not build (left out): $(tail -3 "$RUN_DIR/logs/build-floor.log" | tr '\n' ' ')"; fi
# BENCH_FLOOR_BIN (development): another program with floor.c's arguments measured in its place,
# such as bench/spikes/evloop; the report says so.
if [[ -n "${BENCH_FLOOR_BIN:-}" ]]; then
    [[ -x "$BENCH_FLOOR_BIN" ]] || { echo "BENCH_FLOOR_BIN=$BENCH_FLOOR_BIN is not an executable file" >&2; exit 2; }
    FLOOR_BIN="$(realpath "$BENCH_FLOOR_BIN")"
    log "the floor's rows measure $FLOOR_BIN (BENCH_FLOOR_BIN), not bench/floor/floor.c"
fi

peers=()
failed_peers=()
left_out=()
for name in "${selected[@]}"; do
    dir="$HERE/peers/$name"
    if [[ "${BENCH_SKIP_PEER_BUILD:-0}" == 1 ]]; then peers+=("$name"); continue; fi
    log "building peer $name"
    if bash "$dir/build.sh" >"$RUN_DIR/logs/build-$name.log" 2>&1; then
        peers+=("$name")
    else
        log "peer $name did not build (left out): $(tail -3 "$RUN_DIR/logs/build-$name.log" | tr '\n' ' ')"
        failed_peers+=("$name")
    fi
done

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
chmod 755 "$RUN_DIR"
# Leaves out (with a note) every peer that needs a store that did not start.
drop_peers_needing() {
    local store="$1" why="$2" kept=() p
    for p in "${peers[@]}"; do
        if needs "$p" "$store"; then left_out+=("$p: $why"); log "peer $p left out: $why"; else kept+=("$p"); fi
    done
    peers=("${kept[@]}")
}
peers_need() { local p; for p in "${peers[@]}"; do needs "$p" "$1" && return 0; done; return 1; }

# ---- PostgreSQL for the durable peers -----------------------------------------------------
# A private cluster in the run directory, owned by an unprivileged system user (PostgreSQL
# refuses to run as root), on 127.0.0.1 and a private port, with fsync and synchronous_commit
# on: a commit returns once the WAL is on disk.
start_postgres() {
    local bin; bin="$(pg_bin)"
    [[ -n "$bin" ]] || { echo "no PostgreSQL binaries under /usr/lib/postgresql"; return 1; }
    PG_CTL="$bin/pg_ctl"
    id -u "$PG_USER_OS" >/dev/null 2>&1 || useradd -r -M -d /nonexistent -s /usr/sbin/nologin "$PG_USER_OS" || return 1
    PG_PORT=25432
    while port_in_use "$PG_PORT"; do PG_PORT=$((PG_PORT + 1)); done
    mkdir -p "$RUN_DIR/pg" "$RUN_DIR/pg-run"
    chown "$PG_USER_OS:" "$RUN_DIR/pg" "$RUN_DIR/pg-run"
    runuser -u "$PG_USER_OS" -- "$bin/initdb" -D "$RUN_DIR/pg/data" -U bench --auth=trust -E UTF8 --no-instructions \
        >"$RUN_DIR/logs/pg-initdb.log" 2>&1 || { tail -5 "$RUN_DIR/logs/pg-initdb.log"; return 1; }
    PG_DATA="$RUN_DIR/pg/data"
    runuser -u "$PG_USER_OS" -- "$PG_CTL" -D "$PG_DATA" -l "$RUN_DIR/pg-run/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories=$RUN_DIR/pg-run -c fsync=on -c synchronous_commit=on -c full_page_writes=on -c max_connections=400 -c shared_buffers=128MB" \
        start >"$RUN_DIR/logs/pg-start.log" 2>&1 || { tail -5 "$RUN_DIR/pg-run/server.log" 2>/dev/null; return 1; }
    "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U bench -d postgres -v ON_ERROR_STOP=1 -qc "CREATE DATABASE bench" \
        >>"$RUN_DIR/logs/pg-start.log" 2>&1 || { tail -5 "$RUN_DIR/logs/pg-start.log"; return 1; }
    export BENCH_PG_HOST=127.0.0.1 BENCH_PG_PORT="$PG_PORT" BENCH_PG_USER=bench BENCH_PG_DB=bench
    log "PostgreSQL $("$bin/postgres" -V | awk '{print $3}') on 127.0.0.1:$PG_PORT (data in the run directory, fsync and synchronous_commit on)"
}
if peers_need postgres; then
    # Not in a $(...) subshell: the EXIT trap must know PG_DATA, and the peers BENCH_PG_*.
    if start_postgres >"$RUN_DIR/logs/pg.log" 2>&1; then cat "$RUN_DIR/logs/pg.log" >&2
    else drop_peers_needing postgres "PostgreSQL did not start ($(tail -2 "$RUN_DIR/logs/pg.log" | tr '\n' ' '))"; fi
fi

# ---- Redis for the durable peers ----------------------------------------------------------
# appendonly yes + appendfsync always: Redis answers a write only after the AOF is fsync'd.
start_redis() {
    local rs; rs="$(command -v redis-server || echo /usr/bin/redis-server)"
    [[ -x "$rs" ]] || { echo "redis-server is not installed"; return 1; }
    REDIS_PORT=26379
    while port_in_use "$REDIS_PORT"; do REDIS_PORT=$((REDIS_PORT + 1)); done
    mkdir -p "$RUN_DIR/redis"
    "$rs" --port "$REDIS_PORT" --bind 127.0.0.1 --protected-mode yes --dir "$RUN_DIR/redis" \
        --appendonly yes --appendfsync always --save '' --daemonize no --logfile "$RUN_DIR/logs/redis.log" &
    REDIS_PID=$!
    for _ in $(seq 100); do port_in_use "$REDIS_PORT" && break; sleep 0.05; done
    port_in_use "$REDIS_PORT" || { tail -5 "$RUN_DIR/logs/redis.log" 2>/dev/null; return 1; }
    export BENCH_REDIS_PORT="$REDIS_PORT"
    log "Redis $("$rs" -v | grep -o 'v=[^ ]*' | cut -c3-) on 127.0.0.1:$REDIS_PORT (pid $REDIS_PID, appendonly yes, appendfsync always)"
}
if peers_need redis; then
    # Not in a $(...) subshell: the EXIT trap must know REDIS_PID.
    if start_redis >"$RUN_DIR/logs/redis-start.log" 2>&1; then cat "$RUN_DIR/logs/redis-start.log" >&2
    else drop_peers_needing redis "Redis did not start ($(tail -2 "$RUN_DIR/logs/redis-start.log" | tr '\n' ' '))"; fi
fi

# ---- the callee ---------------------------------------------------------------------------
CALLEE_PORT=18089
while port_in_use "$CALLEE_PORT"; do CALLEE_PORT=$((CALLEE_PORT + 1)); done
CALLEE_DIR="$RUN_DIR/callee"
chmod 755 "$RUN_DIR" "$CALLEE_DIR"
NOFILE="$(ulimit -Hn)"; [[ "$NOFILE" == unlimited || "$NOFILE" -gt 65536 ]] && NOFILE=65536
sed -e "s|@PREFIX@|$CALLEE_DIR|g" -e "s|@PORT@|$CALLEE_PORT|g" -e "s|@NOFILE@|$NOFILE|g" "$HERE/callee/nginx.conf.template" >"$CALLEE_DIR/nginx.conf"
"$NGINX" -t -q -p "$CALLEE_DIR" -c "$CALLEE_DIR/nginx.conf" 2>"$RUN_DIR/logs/nginx-test.log" \
    || { cat "$RUN_DIR/logs/nginx-test.log" >&2; exit 1; }
"$NGINX" -p "$CALLEE_DIR" -c "$CALLEE_DIR/nginx.conf" 2>>"$CALLEE_DIR/error.log" &
NGINX_PID=$!
for _ in $(seq 100); do port_in_use "$CALLEE_PORT" && break; sleep 0.05; done
port_in_use "$CALLEE_PORT" || { echo "nginx did not start:" >&2; cat "$CALLEE_DIR/error.log" >&2; exit 1; }
code="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$CALLEE_PORT/hook/0/0/1000")"
[[ "$code" == 204 ]] || { echo "the callee answered $code, not 204" >&2; exit 1; }
log "callee: nginx on 127.0.0.1:$CALLEE_PORT (pid $NGINX_PID)"

# ---- the suite ----------------------------------------------------------------------------
if [[ "$QUICK" == 1 ]]; then RESULTS_NAME=quick; else RESULTS_NAME=latest; fi
RESULTS_TMP="$RUN_DIR/results"
tools="$("$NGINX" -v 2>&1 | sed 's/^nginx version: //'); $("$WRK" -v 2>&1 | head -1 | cut -d' ' -f1-2); .NET $(dotnet --list-runtimes | awk '/NETCore/{print $2}' | tail -1); Node.js $(node -v 2>/dev/null || echo none)"
args=(suite --ksana-bin "$RUN_DIR/ksana" --ksana-sha "$KSANA_SHA" --run-dir "$RUN_DIR" --results-dir "$RESULTS_TMP"
      --callee-port "$CALLEE_PORT" --callee-log "$CALLEE_DIR/access.log" --nginx-pid "$NGINX_PID"
      --nginx-version "$("$NGINX" -v 2>&1 | sed 's/^nginx version: //')" --wrk "$WRK" --tools "$tools"
      --peers-dir "$HERE/peers" --peers "$(IFS=,; echo "${peers[*]}")" --failed-peers "$(IFS=,; echo "${failed_peers[*]}")"
      --left-out "$(IFS=';'; echo "${left_out[*]}")"
      --deadline-unix "$DEADLINE")
[[ -n "$FLOOR_BIN" ]] && args+=(--floor-bin "$FLOOR_BIN")
[[ -n "${BENCH_FLOOR_BIN:-}" ]] && args+=(--floor-replaced)
[[ "$QUICK" == 1 ]] && args+=(--quick)
# ---- cluster mode (issue 13): 1 node against 3 on one PostgreSQL --------------------------
# First, so that the harness's deadline counts its few minutes; appended to the report after it.
mkdir -p "$RESULTS_TMP"
if [[ "${BENCH_CLUSTER:-1}" == 1 && -z "$ONLY" ]]; then
    cluster_jobs=10000
    [[ "$QUICK" == 1 ]] && cluster_jobs=1000
    log "cluster mode: 1 node against 3 nodes on $cluster_jobs jobs (bench/cluster.py)"
    python3 "$HERE/cluster.py" --ksana "$RUN_DIR/ksana" --jobs "$cluster_jobs" --out "$RESULTS_TMP/cluster.md" \
        >"$RUN_DIR/logs/cluster.out" 2>"$RUN_DIR/logs/cluster.err" \
        || log "the cluster scenario failed: $(tail -3 "$RUN_DIR/logs/cluster.err")"
fi

log "running the scenarios (systems: ksana ${peers[*]})"
dotnet "$RUN_DIR/harness/KsanaBench.dll" "${args[@]}" &
HARNESS_PID=$!
set +e
wait "$HARNESS_PID"
harness_rc=$?
set -e
HARNESS_PID=""

if [[ -f "$RESULTS_TMP/cluster.md" && -f "$RESULTS_TMP/latest.md" ]]; then { echo; cat "$RESULTS_TMP/cluster.md"; } >>"$RESULTS_TMP/latest.md"; fi

mkdir -p "$HERE/results"
for ext in md json; do
    [[ -f "$RESULTS_TMP/latest.$ext" ]] && cp "$RESULTS_TMP/latest.$ext" "$HERE/results/$RESULTS_NAME.$ext"
done
if [[ -f "$HERE/results/$RESULTS_NAME.md" ]]; then
    echo
    cat "$HERE/results/$RESULTS_NAME.md"
fi
log "results: bench/results/$RESULTS_NAME.md and .json ($(( ($(date +%s) - START_EPOCH) / 60 )) min $(( ($(date +%s) - START_EPOCH) % 60 )) s)"
exit "$harness_rc"
