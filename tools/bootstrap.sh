#!/usr/bin/env bash
# Installs the Debian packages weft's build, tests, fuzzers and benchmarks need.
# Idempotent and quiet: prints nothing and touches nothing when every package is present.
set -euo pipefail

packages=(
  # build and tests
  g++ cmake make pkg-config git ninja-build
  libfmt-dev catch2 librapidcheck-dev libsodium-dev libbenchmark-dev
  # second compiler, libFuzzer and sanitizer runtimes
  clang libclang-rt-14-dev
  # comparison peers for bench/ and tests/ (never linked into weft itself)
  libcbor-dev nlohmann-json3-dev libspdlog-dev sqlite3 libsqlite3-dev librocksdb-dev
  # exporter validation (promtool)
  prometheus
  # weftd: HTTP/WebSocket (Boost.Beast), TOML config (toml++); dashboard end-to-end test
  libboost-dev libtomlplusplus-dev chromium
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "bootstrap: installing ${missing[*]}" >&2
sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq >/dev/null
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
