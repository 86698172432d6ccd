#!/usr/bin/env bash
# Runs the BullMQ peer in the foreground (exec: this PID is the server's).
# Env: PORT, MAX_CONCURRENCY (worker concurrency, default 64), DATA_DIR (holds this instance's
# key prefix), BENCH_REDIS_PORT (the bench's Redis on 127.0.0.1, set by bench/run.sh).
set -euo pipefail
cd "$(dirname "$0")"
exec node index.mjs
