#!/usr/bin/env bash
# Runs the Quartz.NET AdoJobStore peer in the foreground (exec: this PID is the server's).
# Env: PORT, MAX_CONCURRENCY (default 64), DATA_DIR (state: the SQLite file, or the name of this
# instance's PostgreSQL schema), QUARTZ_STORE=postgres|sqlite, and for postgres BENCH_PG_HOST,
# BENCH_PG_PORT, BENCH_PG_USER (set by bench/run.sh).
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
exec dotnet out/QuartzAdoPeer.dll
