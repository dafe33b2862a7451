#!/usr/bin/env bash
# The README demo: a 3-member weftd cluster on 127.0.0.1, a workload through /kv, the
# leader SIGKILLed and replaced, the killed member restarted and caught up, the client
# history checked for linearizability, then the dashboard until Ctrl-C (docs/demo.md).
#   ./tools/demo.sh [--no-wait] [--clients N] [--seconds S]
# Build first:  cmake --preset dev && cmake --build --preset dev --target weftd weft_demo
# Another build directory:  WEFT_BUILD_DIR=build/clang ./tools/demo.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${WEFT_BUILD_DIR:-$root/build/dev}"
case "$build" in /*) ;; *) build="$root/$build" ;; esac
demo="$build/examples/weft_demo/weft_demo"
weftd="$build/examples/weftd/weftd"

for binary in "$demo" "$weftd"; do
  if [ ! -x "$binary" ]; then
    echo "error: $binary is not built; run:" >&2
    echo "  ./tools/bootstrap.sh && cmake --preset dev && cmake --build --preset dev --target weftd weft_demo" >&2
    exit 2
  fi
done

exec "$demo" --weftd "$weftd" "$@"
