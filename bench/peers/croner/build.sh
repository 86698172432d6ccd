#!/usr/bin/env bash
# Installs the croner peer's locked dependencies (croner, undici) into ./node_modules.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --omit=dev --loglevel=error
