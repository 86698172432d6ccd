#!/usr/bin/env bash
# Ksana's one entry point.
#   ./build.sh run       publish the native binary and start it on :7100 with ./data (quick start)
#   ./build.sh test      build and run every test (unit, integration, end-to-end on the binary)
#   ./build.sh publish   build dist/ksana only
#   ./build.sh bench     publish, then run the benchmark suite (bench/run.sh)
#   ./build.sh release   dist/release/: ksana-<version>-linux-x64, ksana-<version>-linux-arm64 (cross-compiled),
#                        ksana.service and SHA256SUMS
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)

say() { printf 'build.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

rid() {
  case "$(uname -m)" in
    x86_64|amd64) echo linux-x64 ;;
    aarch64|arm64) echo linux-arm64 ;;
    *) die "unsupported CPU $(uname -m): Ksana publishes for linux-x64 and linux-arm64" ;;
  esac
}

# What a fresh machine needs: the .NET 10 SDK, a C toolchain for the native AOT link step, and
# Debian's tzdata, which the build embeds.
check_tools() {
  if ! command -v dotnet >/dev/null 2>&1 || ! dotnet --list-sdks 2>/dev/null | grep -q '^10\.'; then
    die "the .NET 10 SDK is missing (found: $(dotnet --list-sdks 2>/dev/null | tr '\n' ' ' || echo none)).
  Install it: https://learn.microsoft.com/dotnet/core/install/linux (package dotnet-sdk-10.0),
  or: curl -sSL https://dot.net/v1/dotnet-install.sh | bash -s -- --channel 10.0"
  fi
  local missing=()
  command -v clang >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 || missing+=(clang)
  [ -e /usr/include/zlib.h ] || missing+=(zlib1g-dev)
  # The IANA time-zone data is built into the binary from here (Scheduling/Cron/TimeZoneData.targets).
  [ -e /usr/share/zoneinfo/tzdata.zi ] || missing+=(tzdata)
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      say "installing ${missing[*]} for the build"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
      die "the build needs a C toolchain and zlib headers (native AOT) and the tz data; missing: ${missing[*]}.
  Install them, e.g.: sudo apt-get install -y clang zlib1g-dev tzdata"
    fi
  fi
}

publish() {
  check_tools
  say "publishing dist/ksana ($(rid), native AOT)"
  dotnet publish Ksana.csproj -c Release -r "$(rid)" -o dist -p:TreatWarningsAsErrors=true --nologo -v quiet
  rm -f dist/*.dbg dist/*.json 2>/dev/null || true
  [ -x dist/ksana ] || die "publish produced no dist/ksana"
  say "dist/ksana: $(du -h dist/ksana | cut -f1)"
}

# Publishes the native binary for one RID into a directory of its own (release and the arm64 test).
publish_rid() {
  local rid=$1 out=$2
  say "publishing $out/ksana ($rid, native AOT)"
  dotnet publish Ksana.csproj -c Release -r "$rid" -o "$out" -p:TreatWarningsAsErrors=true --nologo -v quiet
  rm -f "$out"/*.dbg "$out"/*.json 2>/dev/null || true
  [ -x "$out/ksana" ] || die "publish produced no $out/ksana"
}

version() { sed -n 's:.*<Version>\([^<]*\)</Version>.*:\1:p' Ksana.csproj | head -n 1; }

# Cross-compiling native AOT for linux-arm64 on an x64 Debian box (the .NET docs, "Native AOT
# cross-compilation"): clang drives the link for the arm64 target with GNU's arm64 binutils (ld),
# gcc's arm64 start-up objects and libgcc, the arm64 C library, arm64 zlib (multiarch) and an
# objcopy that reads arm64 (llvm-objcopy). The ILCompiler arm64 pack comes from NuGet by itself.
arm64_missing() {
  local missing=()
  command -v clang >/dev/null 2>&1 || missing+=(clang)
  command -v llvm-objcopy >/dev/null 2>&1 || missing+=(llvm)
  command -v aarch64-linux-gnu-ld >/dev/null 2>&1 || missing+=(binutils-aarch64-linux-gnu)
  compgen -G "/usr/lib/gcc-cross/aarch64-linux-gnu/*/crtbegin.o" >/dev/null || missing+=(gcc-aarch64-linux-gnu)
  [ -e /usr/aarch64-linux-gnu/lib/crt1.o ] || missing+=(libc6-dev-arm64-cross)
  [ -e /usr/lib/aarch64-linux-gnu/libz.a ] || missing+=(zlib1g-dev:arm64)
  [ "${1:-}" = with-qemu ] && ! command -v qemu-aarch64-static >/dev/null 2>&1 && missing+=(qemu-user-static)
  echo "${missing[*]}"
}

can_install() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && command -v dpkg >/dev/null 2>&1; }

# Installs Debian packages (arm64 ones through multiarch), or names them and stops.
install_debs() {
  local pkgs=("$@")
  can_install || die "missing: ${pkgs[*]}. Install them as root on Debian/Ubuntu:
  dpkg --add-architecture arm64 && apt-get update && apt-get install -y ${pkgs[*]}"
  if printf '%s\n' "${pkgs[@]}" | grep -q ':arm64$' && ! dpkg --print-foreign-architectures | grep -qx arm64; then
    say "dpkg --add-architecture arm64"
    dpkg --add-architecture arm64
  fi
  say "installing ${pkgs[*]}"
  apt-get update -qq -o DPkg::Lock::Timeout=600
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 "${pkgs[@]}" >/dev/null
}

# The highest GLIBC_x.y symbol version a binary asks for: the oldest glibc it runs on.
glibc_needed() {
  local objdump=objdump
  file -b "$1" 2>/dev/null | grep -q aarch64 && command -v aarch64-linux-gnu-objdump >/dev/null 2>&1 && objdump=aarch64-linux-gnu-objdump
  "$objdump" -T "$1" 2>/dev/null | grep -oE 'GLIBC_[0-9]+(\.[0-9]+)+' | sort -uV | tail -n 1 | sed 's/GLIBC_//'
}

release() {
  check_tools
  [ "$(rid)" = linux-x64 ] || die "release builds on an x64 machine (it cross-compiles arm64 from there)"
  local missing v out=dist/release
  missing=$(arm64_missing)
  # shellcheck disable=SC2086 # a list of package names
  [ -z "$missing" ] || install_debs $missing
  v=$(version)
  [ -n "$v" ] || die "no <Version> in Ksana.csproj"
  publish_rid linux-x64 dist/linux-x64
  publish_rid linux-arm64 dist/linux-arm64
  rm -rf "$out"
  mkdir -p "$out"
  cp dist/linux-x64/ksana "$out/ksana-$v-linux-x64"
  cp dist/linux-arm64/ksana "$out/ksana-$v-linux-arm64"
  cp deploy/ksana.service "$out/ksana.service"
  (cd "$out" && sha256sum "ksana-$v-linux-x64" "ksana-$v-linux-arm64" ksana.service > SHA256SUMS)
  if command -v qemu-aarch64-static >/dev/null 2>&1; then
    qemu-aarch64-static "$out/ksana-$v-linux-arm64" --version >/dev/null || die "the arm64 binary does not run under qemu"
  fi
  local f
  for f in "$out/ksana-$v-linux-x64" "$out/ksana-$v-linux-arm64"; do
    say "$f: $(stat -c %s "$f") bytes, needs glibc >= $(glibc_needed "$f")"
  done
  cat "$out/SHA256SUMS"
}

# For ./build.sh test: the arm64 binary for Arm64Tests, when it can be built and run here (under CI,
# as root on Debian, the toolchain and qemu are installed first). Prints its path, or nothing.
arm64_for_tests() {
  [ "$(rid)" = linux-x64 ] || return 0
  local missing
  missing=$(arm64_missing with-qemu)
  if [ -n "$missing" ]; then
    if [ "${CI:-}" = true ] && can_install; then
      # shellcheck disable=SC2086 # a list of package names
      install_debs $missing >&2
    else
      say "the arm64 test will be skipped: missing $missing (./build.sh release names how to install them)"
      return 0
    fi
  fi
  publish_rid linux-arm64 dist/linux-arm64 >&2
  echo "$ROOT/dist/linux-arm64/ksana"
}

run() {
  publish
  export DATA_DIR="${DATA_DIR:-./data}"
  mkdir -p "$DATA_DIR"
  if [ -z "${AUTH_KEYS_FILE:-}" ]; then
    export AUTH_KEYS_FILE="$DATA_DIR/dev.keys"
    if [ ! -s "$AUTH_KEYS_FILE" ]; then
      (umask 077; printf '# Development key made by ./build.sh run\n%s\n' "$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')" > "$AUTH_KEYS_FILE")
    fi
  fi
  local key port
  key=$(grep -v '^#' "$AUTH_KEYS_FILE" | grep -m1 . | tr -d '[:space:]' || true)
  port="${PORT:-7100}"
  cat <<TXT

Ksana is starting on http://localhost:$port (data in $DATA_DIR, keys in $AUTH_KEYS_FILE).
API key: $key
Try:
  curl http://localhost:$port/health
  curl -H "Authorization: ApiKey $key" http://localhost:$port/jobs

TXT
  exec ./dist/ksana "$@"
}

# What the tests need beyond .NET, all from Debian packages: Node.js and npm (the npm
# standardwebhooks verifier, the OpenAPI validator, Playwright's driver), Chromium (the status
# page in a real browser) and promtool from prometheus (the /metrics format). As root on Debian
# they are installed; otherwise the line says what to install, and the tests that need them fail.
check_test_tools() {
  local missing=()
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
  command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || [ -n "${KSANA_CHROMIUM:-}" ] || missing+=(chromium)
  command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
  # Cluster mode's tests start their own PostgreSQL (initdb + pg_ctl, as an unprivileged user).
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null 2>&1 || missing+=(postgresql)
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      say "installing ${missing[*]} for the tests"
      # The packages' own services must not start: the tests run their own servers on private ports.
      local policy_added=0
      if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && policy_added=1
      fi
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
      if [ "$policy_added" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
    else
      say "the tests need: ${missing[*]}. Install them, e.g.: sudo apt-get install -y ${missing[*]} (the tests that need them fail otherwise)"
    fi
  fi
  local dir
  for dir in Ksana.Tests/Support/node Ksana.Tests/Support/openapi; do
    if [ ! -d "$dir/node_modules" ] && command -v npm >/dev/null 2>&1; then
      say "npm ci in $dir"
      (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci in $dir failed"
    fi
  done
}

test_all() {
  publish
  check_test_tools
  local arm64
  arm64=$(arm64_for_tests)
  say "running the tests"
  local log="$ROOT/TestResults/test-output.txt" status=0
  mkdir -p "$ROOT/TestResults"
  KSANA_BIN="$ROOT/dist/ksana" KSANA_ARM64_BIN="$arm64" dotnet test --project Ksana.Tests/Ksana.Tests.csproj -c Release \
    2>&1 | tee "$log" || status=$?
  # The runner's own summary: lines "total: N", "failed: F", "succeeded: S", "skipped: K".
  local passed failed skipped
  count() { grep -E "^[[:space:]]*$1: [0-9]+" "$log" | tail -n 1 | grep -oE '[0-9]+' || true; }
  passed=$(count succeeded); failed=$(count failed); skipped=$(count skipped)
  if [ -z "$passed" ] || [ -z "$failed" ]; then
    say "no test summary found in the runner's output"
    echo "0 passed, 1 failed"
    exit 1
  fi
  echo "$passed passed, $failed failed, $skipped skipped"
  [ "$status" -eq 0 ] && [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
}

bench() {
  publish
  [ -x bench/run.sh ] || die "bench/run.sh is missing"
  KSANA_BIN="$ROOT/dist/ksana" exec bench/run.sh "$@"
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
  run) run "$@" ;;
  test) test_all ;;
  publish) publish ;;
  bench) bench "$@" ;;
  release) release ;;
  *) echo "usage: ./build.sh run|test|publish|bench|release" >&2; exit 2 ;;
esac
