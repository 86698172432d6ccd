#!/usr/bin/env bash
# Installs the BullMQ peer's locked dependencies (bullmq, ioredis, undici) into ./node_modules.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --omit=dev --loglevel=error
