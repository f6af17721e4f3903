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
# host's python3 cannot run cross; each is SKIPped with the reason. All other tests must pass.
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

# Which test files can run cross.
tests=()
for f in tests/*.rs; do
    name=$(basename "$f" .rs)
    reason=""
    if grep -q 'LD_PRELOAD' "$f"; then
        reason="builds an LD_PRELOAD shim with the host C compiler"
    elif grep -q 'python3' "$f"; then
        reason="loads the library into the host's python3 (an x86_64 process)"
    elif grep -qE 'common::native|Command::new' "$f"; then
        reason="compiles and runs host programs (cc, cargo); the C example runs cross below instead"
    fi
    if [ -n "$reason" ]; then
        skip "aarch64 test $name" "$reason"
    else
        tests+=(--test "$name")
    fi
done

log="$TARGET_DIR/platforms/aarch64-test.log"
mkdir -p "$(dirname "$log")"
echo "== cargo test --target $T (runner: $CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER)"
timeout 900 cargo test -p arsock --no-fail-fast --target "$T" --lib "${tests[@]}" >"$log" 2>&1
rc=$?
grep -E '^(test result|     Running|test .* FAILED|failures:)' "$log"
np=$(grep -oE 'test result: .* ([0-9]+) passed' "$log" | grep -oE '[0-9]+ passed' | awk '{ s += $1 } END { print s + 0 }')
nf=$(grep -oE '[0-9]+ failed' "$log" | awk '{ s += $1 } END { print s + 0 }')
if [ "$rc" -eq 0 ] && [ "$np" -gt 0 ]; then
    pass "aarch64 tests under qemu: $np passed, $nf failed"
else
    tail -40 "$log" >&2
    fail "aarch64 tests under qemu" "exit $rc, $np passed, $nf failed (log: $log)"
fi

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
elif ! file -L "$out/c_client" | grep -q 'ARM aarch64'; then
    fail "aarch64 C example" "$out/c_client is not an aarch64 program: $(file -L "$out/c_client")"
else
    qemu=($CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER)
    timeout 60 "${qemu[@]}" "$dir/examples/server" --clients 2 >"$out/server.log" 2>&1 &
    server=$!
    for _ in $(seq 200); do [ -s "$out/server.log" ] && break; sleep 0.1; done
    ports=($(head -1 "$out/server.log" | grep -oE ':[0-9]+' | tr -d :))
    if [ ${#ports[@]} -ne 2 ]; then
        fail "aarch64 C example" "server did not print its two ports: $(head -3 "$out/server.log")"
    else
        timeout 60 "${qemu[@]}" "$out/c_client" 127.0.0.1 "${ports[0]}" "${ports[1]}" >"$out/client.log" 2>&1
        crc=$?
        if [ "$crc" -eq 0 ] && grep -q 'raw reply: AR content for \[DEVICE phone-1' "$out/client.log" &&
            grep -q '^message reply 5: {"update":5,' "$out/client.log" &&
            [ "$(tail -1 "$out/client.log")" = done ]; then
            pass "aarch64 C example: c_client and the server example exchanged raw and message replies under qemu"
        else
            cat "$out/client.log" >&2
            fail "aarch64 C example" "c_client exit $crc or unexpected output"
        fi
    fi
    kill "$server" 2>/dev/null
    wait "$server" 2>/dev/null
fi
summary aarch64
