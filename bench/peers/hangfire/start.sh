#!/usr/bin/env bash
# Runs the Hangfire peer in the foreground (exec: this PID is the server's).
# Env: PORT, MAX_CONCURRENCY (workers, default 64), HANGFIRE_POLL_MS (unset = Hangfire's default
# SchedulePollingInterval, 15 s), HANGFIRE_RETENTION_S (finished-job retention, default 60).
# DATA_DIR is ignored (Hangfire.InMemory).
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
exec dotnet out/HangfirePeer.dll
