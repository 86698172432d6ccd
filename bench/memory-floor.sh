#!/usr/bin/env bash
# The smallest memory limit under which Ksana keeps every slot of N `every 1s` jobs.
#
#   KSANA_BIN=dist/ksana bench/memory-floor.sh                 # 1000 and 10000 jobs, default limits
#   KSANA_BIN=dist/ksana bench/memory-floor.sh 1000            # one job count
#   MF_LIMITS_MB="24 32 48" bench/memory-floor.sh 1000         # limits to try, smallest first
#   MF_LIMITS_MB=none bench/memory-floor.sh 1000               # no limit: the CPU-per-callback figure
#
# For each job count it tries the limits in order and stops at the first one that passes. A trial:
# start a loopback nginx callee (answers 204) and ksana under the limit, create the jobs, let them
# settle for MF_SETTLE_S seconds, then count the callbacks that reach nginx in a window of
# MF_WINDOW_S seconds. It passes when ksana is still alive, was never OOM-killed, and at least
# MF_MIN_PERCENT (default 99) % of jobs x window callbacks arrived (slots are whole seconds, so a
# job fires window times). On a busy machine, run MF_LIMITS_MB=none first: slots lost without a
# limit are CPU, not memory.
#
# The limit is a cgroup v1 or v2 memory limit (the whole process: heap, code, stacks, page cache
# of the journal) when /sys/fs/cgroup can be written, as root in most containers; otherwise it
# falls back to DOTNET_GCHeapHardLimit, which bounds the GC heap only, and says so.
# Loopback only; every process and directory it makes is removed on exit. Bounded: each trial
# ends after settle + window + 60 s at most.
set -euo pipefail

: "${KSANA_BIN:?KSANA_BIN must name the ksana binary}"
KSANA_BIN="$(readlink -f "$KSANA_BIN")"
WINDOW_S="${MF_WINDOW_S:-30}"
SETTLE_S="${MF_SETTLE_S:-5}"
COUNTS=("$@")
[ ${#COUNTS[@]} -gt 0 ] || COUNTS=(1000 10000)

log() { printf '[memory-floor] %s\n' "$*" >&2; }
command -v curl >/dev/null || { log "needs curl (apt-get install -y curl)"; exit 2; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { log "needs nginx (apt-get install -y nginx-light)"; exit 2; }

WORK=$(mktemp -d /tmp/ksana-memory-floor.XXXXXX)
NGINX_PID="" KSANA_PID="" CGROUP=""

stop_ksana() {
  if [ -n "$KSANA_PID" ] && kill -0 "$KSANA_PID" 2>/dev/null; then
    kill -KILL "$KSANA_PID" 2>/dev/null || true
    wait "$KSANA_PID" 2>/dev/null || true
  fi
  KSANA_PID=""
  if [ -n "$CGROUP" ]; then rmdir "$CGROUP" 2>/dev/null || true; CGROUP=""; fi
}
cleanup() {
  stop_ksana
  if [ -n "$NGINX_PID" ] && kill -0 "$NGINX_PID" 2>/dev/null; then
    kill -QUIT "$NGINX_PID" 2>/dev/null || true
    wait "$NGINX_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  local p
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 20000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
  log "no free port"; exit 1
}

# ---- where a memory limit can be set ---------------------------------------------------------
CG_KIND=""
CG_PARENT=""
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  CG_PARENT="/sys/fs/cgroup$(awk -F: '$1=="0"{print $3}' /proc/self/cgroup)"
  # cgroup v2: a process may only sit in a leaf, so the child is made next to us.
  [ -w "$CG_PARENT" ] && grep -qw memory "$CG_PARENT/cgroup.controllers" && CG_KIND=v2
elif [ -d /sys/fs/cgroup/memory ]; then
  CG_PARENT="/sys/fs/cgroup/memory$(awk -F: '$2=="memory"{print $3}' /proc/self/cgroup)"
  [ -w "$CG_PARENT" ] && CG_KIND=v1
fi
[ -n "$CG_KIND" ] && log "limits are cgroup $CG_KIND memory limits (under $CG_PARENT)" \
  || log "cannot write /sys/fs/cgroup: limits are DOTNET_GCHeapHardLimit (GC heap only)"

# ---- the callee --------------------------------------------------------------------------------
CALLEE_PORT=$(free_port)
mkdir -p "$WORK/nginx/tmp"
cat > "$WORK/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
user root;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
  log_format floor '\$msec';
  access_log $WORK/nginx/access.log floor buffer=256k flush=1s;
  client_body_temp_path $WORK/nginx/tmp;
  keepalive_requests 10000000;
  keepalive_timeout 300s;
  server {
    listen 127.0.0.1:$CALLEE_PORT backlog=4096;
    location /hook { return 204; }
  }
}
CONF
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" &
NGINX_PID=$!
for _ in $(seq 50); do curl -sf -o /dev/null -X POST "http://127.0.0.1:$CALLEE_PORT/hook" && break; sleep 0.1; done

# ---- one trial ---------------------------------------------------------------------------------
# trial JOBS LIMIT_MB|none → prints "jobs limit expected got percent cpu_us_per_callback peak_mb verdict"
trial() {
  local jobs=$1 limit=$2 port key data env=() peak_file=""
  port=$(free_port)
  data="$WORK/data-$jobs-$limit"
  rm -rf "$data"; mkdir -p "$data"
  key=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  printf '%s\n' "$key" > "$WORK/keys"
  env=(PORT="$port" DATA_DIR="$data" AUTH_KEYS_FILE="$WORK/keys" LOG_LEVEL=Warning MAX_RETRIES=0)

  if [ "$limit" != none ] && [ -n "$CG_KIND" ]; then
    CGROUP="$CG_PARENT/ksana-floor-$$"
    mkdir -p "$CGROUP"
    if [ "$CG_KIND" = v1 ]; then
      echo $((limit << 20)) > "$CGROUP/memory.limit_in_bytes"
      peak_file="$CGROUP/memory.max_usage_in_bytes"
    else
      echo $((limit << 20)) > "$CGROUP/memory.max"
      echo 0 > "$CGROUP/memory.swap.max" 2>/dev/null || true
      peak_file="$CGROUP/memory.peak"
    fi
    # The shell moves itself into the cgroup, then becomes ksana.
    env "${env[@]}" sh -c 'echo $$ > "$1/cgroup.procs"; shift; exec "$@"' sh "$CGROUP" "$KSANA_BIN" \
      > "$WORK/ksana.log" 2>&1 &
  elif [ "$limit" != none ]; then
    env "${env[@]}" DOTNET_GCHeapHardLimit="$(printf '0x%x' $((limit << 20)))" "$KSANA_BIN" > "$WORK/ksana.log" 2>&1 &
  else
    env "${env[@]}" "$KSANA_BIN" > "$WORK/ksana.log" 2>&1 &
  fi
  KSANA_PID=$!
  for _ in $(seq 300); do curl -sf -o /dev/null "http://127.0.0.1:$port/health" && break; sleep 0.1; done

  # All the creates in one curl process, 8 at a time.
  local cfg="$WORK/creates.cfg" i
  : > "$cfg"
  for ((i = 0; i < jobs; i++)); do
    [ "$i" -eq 0 ] || echo next >> "$cfg"
    printf 'url = "http://127.0.0.1:%s/jobs"\nrequest = "POST"\nheader = "Authorization: ApiKey %s"\nheader = "Content-Type: application/json"\ndata = "{\\"name\\":\\"f%s\\",\\"http\\":{\\"method\\":\\"POST\\",\\"url\\":\\"http://127.0.0.1:%s/hook\\"},\\"schedule\\":{\\"kind\\":\\"every\\",\\"every\\":\\"1s\\"}}"\noutput = "/dev/null"\nwrite-out = "%%{http_code} %%{errormsg}\\n"\n' \
      "$port" "$key" "$i" "$CALLEE_PORT" >> "$cfg"
  done
  local created
  timeout 120 curl -s --no-progress-meter -Z --parallel-max 8 -K "$cfg" > "$WORK/creates.out" 2> "$WORK/creates.err" || true
  created=$(grep -c "^201 " "$WORK/creates.out" || true)
  [ "$created" -eq "$jobs" ] || log "creates answered: $(sort "$WORK/creates.out" | uniq -c | tr "\n" " ") $(head -c 300 "$WORK/creates.err")"

  sleep "$SETTLE_S" & wait $!
  local t0 cpu0 cpu1 t1
  t0=$(date +%s)
  cpu0=$(awk '{print $14 + $15}' "/proc/$KSANA_PID/stat" 2>/dev/null || echo 0)
  sleep "$WINDOW_S" & wait $!
  cpu1=$(awk '{print $14 + $15}' "/proc/$KSANA_PID/stat" 2>/dev/null || echo "")
  t1=$((t0 + WINDOW_S))
  local alive=yes oom=0 peak_mb
  kill -0 "$KSANA_PID" 2>/dev/null || alive=no
  if [ -n "$peak_file" ]; then
    peak_mb=$(( $(cat "$peak_file") >> 20 ))
    oom=$(awk '$1=="oom_kill"{print $2}' "$CGROUP/memory.oom_control" "$CGROUP/memory.events" 2>/dev/null | tail -n 1)
  else
    peak_mb=$(( $(awk '/VmHWM/{print $2}' "/proc/$KSANA_PID/status" 2>/dev/null || echo 0) >> 10 ))
  fi
  stop_ksana
  sleep 1.5 # nginx flushes its log buffer every second
  local got expected pct cpu_us verdict
  got=$(awk -v a="$t0" -v b="$t1" '$1 >= a && $1 < b' "$WORK/nginx/access.log" | wc -l)
  expected=$((created * WINDOW_S))
  pct=$(awk -v g="$got" -v e="$expected" 'BEGIN{printf "%.1f", e ? 100*g/e : 0}')
  if [ -n "$cpu1" ] && [ "$got" -gt 0 ]; then
    cpu_us=$(awk -v c="$((cpu1 - cpu0))" -v hz="$(getconf CLK_TCK)" -v g="$got" 'BEGIN{printf "%.1f", c / hz * 1e6 / g}')
  else
    cpu_us="-"
  fi
  verdict=pass
  [ "$alive" = yes ] || verdict="fail(exited)"
  [ "${oom:-0}" = 0 ] || verdict="fail(oom-killed)"
  [ "$created" -eq "$jobs" ] || verdict="fail(created $created)"
  awk -v g="$got" -v e="$expected" -v p="${MF_MIN_PERCENT:-99}" 'BEGIN{exit !(g >= p / 100 * e)}' || [ "$verdict" != pass ] || verdict="fail(slots lost)"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$jobs" "$limit" "$expected" "$got" "$pct" "$cpu_us" "$peak_mb" "$verdict"
  [ "$verdict" = pass ]
}

printf 'jobs\tlimit_mb\texpected\tgot\tpercent\tcpu_us_per_callback\tpeak_mb\tverdict\n'
for jobs in "${COUNTS[@]}"; do
  case "${MF_LIMITS_MB:-}" in
    "") if [ "$jobs" -le 1000 ]; then limits="24 32 48 64 96"; else limits="48 64 96 128 192 256"; fi ;;
    *) limits="$MF_LIMITS_MB" ;;
  esac
  for limit in $limits; do
    if trial "$jobs" "$limit"; then break; fi
  done
done
