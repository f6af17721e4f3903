#!/usr/bin/env bash
# Every test of the project, as CI runs it (README: "Run all tests").
# Rust unit and integration tests (C API, C example under sanitizers, Python interop), then
# each binding's suite against the freshly built library, then the benchmark smoke run.
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
failures=()
suite() {
    local name=$1
    shift
    echo
    echo "=== $name: $* ==="
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failures+=("$name")
    fi
}

suite rust cargo test --all-targets
suite release-build cargo build --release --lib
export ARSOCK_LIB_DIR="$PWD/target/release"
for s in python csharp cpp; do
    if [ -f "bindings/$s/run_tests.sh" ]; then
        suite "$s-binding" bash "bindings/$s/run_tests.sh"
    fi
done
if [ -f bench/run.py ]; then
    suite bench-smoke python3 bench/run.py --smoke
fi

echo
[ ${#failures[@]} -eq 0 ] || echo "failed suites: ${failures[*]}"
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
