#!/usr/bin/env bash
# Builds the Hangfire.PostgreSql peer into ./out (framework-dependent, JIT, Release).
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
dotnet publish HangfirePgPeer.csproj -c Release -o out --nologo -v quiet
