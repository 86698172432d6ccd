#!/usr/bin/env bash
# Ksana's benchmark suite (see bench/README.md). Run by `./build.sh bench` as
#   KSANA_BIN=/abs/path/dist/ksana bench/run.sh
# Environment:
#   KSANA_BIN          the ksana binary to measure (required)
#   BENCH_QUICK=1      one short run per scenario, for development; writes results/quick.{md,json}
#   BENCH_ONLY=ksana   Ksana alone, no peers
#   BENCH_BUDGET_MIN   minutes after which nothing new starts (default 26; the suite must end within 30)
#   BENCH_KEEP=1       keep the temporary run directory (logs of every process) for inspection
#   BENCH_SKIP_PEER_BUILD=1  use the peers as already built (development only)
# Installs nginx and wrk from Debian packages if missing, builds the peers and the harness,
# starts the nginx callee, runs every scenario, writes bench/results/latest.{md,json}, prints
# the table, and ends every process it started.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${KSANA_BIN:?KSANA_BIN must name the ksana binary to measure}"
QUICK="${BENCH_QUICK:-0}"
ONLY="${BENCH_ONLY:-}"
BUDGET_MIN="${BENCH_BUDGET_MIN:-26}"
START_EPOCH=$(date +%s)
DEADLINE=$((START_EPOCH + BUDGET_MIN * 60))
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

log() { printf '[bench %4ss] %s\n' "$(($(date +%s) - START_EPOCH))" "$*" >&2; }

RUN_DIR="$(mktemp -d /tmp/ksana-bench.XXXXXX)"
mkdir -p "$RUN_DIR/logs" "$RUN_DIR/pids" "$RUN_DIR/callee/tmp" "$RUN_DIR/callee/logs"
NGINX_PID=""
HARNESS_PID=""

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

# ---- tools --------------------------------------------------------------------------------
have() { command -v "$1" >/dev/null 2>&1 || [[ -x "/usr/sbin/$1" ]]; }
missing=()
have nginx || missing+=(nginx)
have wrk || missing+=(wrk)
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

peers=()
failed_peers=()
if [[ "$ONLY" != "ksana" ]]; then
    for dir in "$HERE"/peers/*/; do
        name="$(basename "$dir")"
        [[ -f "$dir/build.sh" && -f "$dir/start.sh" ]] || continue
        if [[ -n "$ONLY" && ",$ONLY," != *",$name,"* ]]; then continue; fi
        if [[ "${BENCH_SKIP_PEER_BUILD:-0}" == 1 ]]; then peers+=("$name"); continue; fi
        log "building peer $name"
        if bash "$dir/build.sh" >"$RUN_DIR/logs/build-$name.log" 2>&1; then
            peers+=("$name")
        else
            log "peer $name did not build (left out): $(tail -3 "$RUN_DIR/logs/build-$name.log" | tr '\n' ' ')"
            failed_peers+=("$name")
        fi
    done
fi

# ---- the callee ---------------------------------------------------------------------------
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
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
      --deadline-unix "$DEADLINE")
[[ "$QUICK" == 1 ]] && args+=(--quick)
log "running the scenarios (systems: ksana ${peers[*]})"
dotnet "$RUN_DIR/harness/KsanaBench.dll" "${args[@]}" &
HARNESS_PID=$!
set +e
wait "$HARNESS_PID"
harness_rc=$?
set -e
HARNESS_PID=""

# ---- cluster mode (issue 13): 1 node against 3 on one PostgreSQL, appended to the report ----
if [[ "${BENCH_CLUSTER:-1}" == 1 ]] && (( $(date +%s) < DEADLINE )); then
    cluster_jobs=10000
    [[ "$QUICK" == 1 ]] && cluster_jobs=1000
    log "cluster mode: 1 node against 3 nodes on $cluster_jobs jobs (bench/cluster.py)"
    if python3 "$HERE/cluster.py" --ksana "$RUN_DIR/ksana" --jobs "$cluster_jobs" --out "$RESULTS_TMP/cluster.md" \
        >"$RUN_DIR/logs/cluster.out" 2>"$RUN_DIR/logs/cluster.err"; then
        if [[ -f "$RESULTS_TMP/latest.md" ]]; then { echo; cat "$RESULTS_TMP/cluster.md"; } >>"$RESULTS_TMP/latest.md"; fi
    else
        log "the cluster scenario failed: $(tail -3 "$RUN_DIR/logs/cluster.err")"
    fi
fi

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
