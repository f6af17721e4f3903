#!/usr/bin/env bash
# ARM64 Linux: cross-build the library and its test suite for aarch64-unknown-linux-gnu and run
# them under qemu-user, then the C example (cross-compiled with aarch64-linux-gnu-gcc) against
# the Rust server example, both under qemu.
#
#   bash scripts/platforms/aarch64.sh
#
# Needs: rustup target aarch64-unknown-linux-gnu, gcc-aarch64-linux-gnu, libc6-dev-arm64-cross,
# qemu-user (SKIPped with the reason if any is missing). Linker and runner are set through
# CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_{LINKER,RUNNER} (scripts/platforms/lib.sh).
#
# Test files that build host programs (cc, an LD_PRELOAD shim) or load the library into the
# host's python3 cannot run cross; each is SKIPped with the reason (lib.sh: cross_test_args).
# All other tests must pass.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
T=aarch64-unknown-linux-gnu
SYSROOT=/usr/aarch64-linux-gnu

missing=()
have_target "$T" || missing+=("rustup target $T")
have aarch64-linux-gnu-gcc || missing+=("aarch64-linux-gnu-gcc (apt: gcc-aarch64-linux-gnu)")
[ -f "$SYSROOT/lib/ld-linux-aarch64.so.1" ] || missing+=("$SYSROOT (apt: libc6-dev-arm64-cross)")
have qemu-aarch64 || missing+=("qemu-aarch64 (apt: qemu-user)")
if [ ${#missing[@]} -gt 0 ]; then
    skip "aarch64" "missing: ${missing[*]}"
    summary aarch64
    exit
fi

cross_test_args "aarch64"

echo "== cargo test --target $T (runner: $CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER)"
run_cross_tests "aarch64 tests under qemu" "$T" "$TARGET_DIR/platforms/aarch64-test.log"

# The C example, cross-compiled and linked against the cross-built shared library.
echo "== C example under qemu"
dir="$TARGET_DIR/$T/debug"
out="$TARGET_DIR/platforms/aarch64-demo"
mkdir -p "$out"
if ! cargo build -q -p arsock --target "$T" --lib --example server; then
    fail "aarch64 C example" "cargo build --lib --example server failed"
elif ! aarch64-linux-gnu-gcc -std=c11 -Wall -Wextra -Werror -pedantic -I"$ROOT/include" examples/c_client.c \
    -L"$dir" -larsock -Wl,-rpath,"$dir" -o "$out/c_client"; then
    fail "aarch64 C example" "aarch64-linux-gnu-gcc failed"
elif ! file -L "$out/c_client" | grep 'ARM aarch64' >/dev/null; then
    fail "aarch64 C example" "$out/c_client is not an aarch64 program: $(file -L "$out/c_client")"
else
    run_c_demo "aarch64 C example under qemu" "$out" "$CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER" \
        "$dir/examples/server" "$out/c_client"
fi
summary aarch64
