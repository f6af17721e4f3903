#!/usr/bin/env bash
# Compile checks (`cargo check -p arsock --lib --target T`) for every platform AR apps ship on.
#
#   bash scripts/platforms/check.sh [TARGET...]
#
# A target whose standard library rustup cannot install here is SKIPped (reason printed).
# Windows is SKIPped, with its compiler errors printed, while src/ still declares non-Unix
# targets unsupported with compile_error!; after that its errors are FAILures.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(
        aarch64-unknown-linux-gnu
        x86_64-pc-windows-gnu
        aarch64-apple-darwin x86_64-apple-darwin
        aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios
        aarch64-linux-android armv7-linux-androideabi x86_64-linux-android
    )
fi

ready=()
for t in "${targets[@]}"; do
    if have_target "$t"; then
        ready+=("$t")
    else
        skip "check $t" "rustup cannot install the $t standard library here"
    fi
done

# check_one TARGET: one cargo call, PASS/SKIP/FAIL with the compiler's errors.
check_one() {
    local t=$1 log="$TARGET_DIR/platforms/check-$1.log"
    mkdir -p "$(dirname "$log")"
    if cargo check -p arsock --lib --target "$t" --message-format short >"$log" 2>&1; then
        pass "check $t"
    elif [ "$t" = x86_64-pc-windows-gnu ] && windows_declared_unsupported; then
        skip "check $t" "Windows: source not yet portable (compiler errors below)"
        grep -E '^(src/|error)' "$log" | sed 's/^/    /'
    else
        fail "check $t" "see $log"
        grep -E '^(src/|error)' "$log" | head -30 | sed 's/^/    /' >&2
    fi
}

# Windows on its own; all other targets in one cargo call (one build script, both cores
# busy); if that fails, one call per target tells which.
rest=()
for t in "${ready[@]}"; do
    if [ "$t" = x86_64-pc-windows-gnu ]; then check_one "$t"; else rest+=(--target "$t"); fi
done
if [ ${#rest[@]} -gt 0 ]; then
    if cargo check -q -p arsock --lib "${rest[@]}" 2>/dev/null; then
        for ((i = 1; i < ${#rest[@]}; i += 2)); do pass "check ${rest[i]}"; done
    else
        for ((i = 1; i < ${#rest[@]}; i += 2)); do check_one "${rest[i]}"; done
    fi
fi
summary check
