#!/usr/bin/env bash
# Runs the Hangfire.PostgreSql peer in the foreground (exec: this PID is the server's).
# Env: PORT, MAX_CONCURRENCY (workers, default 64), DATA_DIR (holds the name of this instance's
# PostgreSQL schema), HANGFIRE_POLL_MS (SchedulePollingInterval, default 1000 here),
# HANGFIRE_QUEUE_POLL_MS (Hangfire.PostgreSql QueuePollInterval, default 1000 here),
# BENCH_PG_HOST, BENCH_PG_PORT, BENCH_PG_USER, BENCH_PG_DB (set by bench/run.sh).
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
exec dotnet out/HangfirePgPeer.dll
