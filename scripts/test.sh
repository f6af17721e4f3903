#!/usr/bin/env bash
# Every test of the project, as CI runs it (README: "Run all tests").
# First the Debian packages of scripts/packages.txt (scripts/deps.sh: installed when run as
# root with apt; otherwise the install command is printed and nothing runs). Then the Rust
# unit and integration tests (C API, C example under sanitizers and valgrind, Python interop),
# each binding's suite against the freshly built release library, the install check
# (pkg-config and CMake from an installed prefix), and the benchmark smoke run.
# Every suite runs even when an earlier one failed; the last line is
#   suites: N passed, N failed
set -uo pipefail
cd "$(dirname "$0")/.."

command -v cargo >/dev/null 2>&1 || {
    echo "test.sh: cargo not found: install Rust (https://rustup.rs), then run this again" >&2
    exit 1
}
bash scripts/deps.sh || exit 1

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

# --no-fail-fast: a failing test binary must not keep the others from running.
suite rust cargo test --all-targets --no-fail-fast
suite release-build cargo build --release --lib
export ARSOCK_LIB_DIR="$PWD/target/release"
for s in python csharp cpp; do
    if [ -f "bindings/$s/run_tests.sh" ]; then
        suite "$s-binding" bash "bindings/$s/run_tests.sh"
    fi
done
suite install bash tests/install/run_tests.sh
if [ -f bench/run.py ]; then
    suite bench-smoke python3 bench/run.py --smoke
fi

echo
[ ${#failures[@]} -eq 0 ] || echo "failed suites: ${failures[*]}"
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
