#!/usr/bin/env bash
# Runs the Quartz.NET peer in the foreground (exec: this PID is the server's).
# Env: PORT, MAX_CONCURRENCY (default 64), QUARTZ_MAX_BATCH (default: Quartz automatic, 1 in memory). DATA_DIR is ignored (RAMJobStore).
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
exec dotnet out/QuartzPeer.dll
