#!/usr/bin/env bash
# Runs the croner peer in the foreground (exec: this PID is the server's).
# Env: PORT, MAX_CONCURRENCY (default 64), NODE_HEAP_MB (V8 old-space limit, default 16384:
# each croner job holds ~83 KB, so 50 000 jobs need ~4.7 GB and 100 000 ~9 GB, above Node's ~4.3 GB default).
# DATA_DIR is ignored (in memory).
set -euo pipefail
cd "$(dirname "$0")"
exec node --max-old-space-size="${NODE_HEAP_MB:-16384}" index.mjs
