#!/usr/bin/env bash
# Every platform this machine can build or run arsock for, as CI runs it:
#
#   bash scripts/platforms.sh
#
#   check     cargo check --lib for every target (scripts/platforms/check.sh)
#   aarch64   Linux ARM64: test suite + C example under qemu-user (scripts/platforms/aarch64.sh)
#   windows   MinGW build, DLL import check, tests + C example under wine (scripts/platforms/windows.sh)
#   package   dist/: libraries for Linux, Windows, macOS, iOS, Android + the Unity package (scripts/package.sh)
#   unity     checks on the Unity package (bindings/unity/tests/test_package.py)
#
# ARSOCK_PLATFORMS_SKIP="windows package ..." leaves steps out; ARSOCK_NO_INSTALL=1 installs
# nothing (no apt, rustup or pip), so what is missing is skipped. A step SKIPs what this
# machine cannot do (with the reason) and FAILs only what it could do and got wrong; this
# script exits non-zero if any step failed. Each step is bounded to 15 minutes.
# Last line: "platforms: N passed, N failed, N skipped" (the steps' checks added up).
set -uo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive CARGO_TERM_COLOR=never

# Debian packages for the cross builds and runners: the `[platforms]` group of
# scripts/packages.txt (the project's one package list). Missing ones make steps skip.
if [ "${ARSOCK_NO_INSTALL:-0}" != 1 ]; then
    timeout 1200 bash scripts/deps.sh --group platforms ||
        echo "note: not all platform packages could be installed; steps that need them will be skipped"
fi

steps=(check aarch64 windows package unity)
total_p=0
total_f=0
total_s=0
failed=()
started=$SECONDS
for step in "${steps[@]}"; do
    case " ${ARSOCK_PLATFORMS_SKIP:-} " in
        *" $step "*)
            echo "SKIP step $step: ARSOCK_PLATFORMS_SKIP"
            total_s=$((total_s + 1))
            continue
            ;;
    esac
    case $step in
        check | aarch64 | windows) cmd=(bash "scripts/platforms/$step.sh") ;;
        package) cmd=(bash scripts/package.sh) ;;
        unity) cmd=(python3 bindings/unity/tests/test_package.py) ;;
    esac
    echo
    echo "=== platforms: $step (${cmd[*]}) ==="
    t0=$SECONDS
    log=$(mktemp)
    timeout 900 "${cmd[@]}" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    counts=$(grep -E '^[a-z0-9-]+: [0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
    rm -f "$log"
    p=$(echo "$counts" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' || echo 0)
    f=$(echo "$counts" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+' || echo 0)
    s=$(echo "$counts" | grep -oE '[0-9]+ skipped' | grep -oE '[0-9]+' || echo 0)
    total_p=$((total_p + ${p:-0}))
    total_f=$((total_f + ${f:-0}))
    total_s=$((total_s + ${s:-0}))
    if [ "$rc" -ne 0 ]; then
        failed+=("$step")
        [ "${f:-0}" -gt 0 ] || total_f=$((total_f + 1)) # e.g. timed out before its summary
        echo "step $step FAILED (exit $rc) after $((SECONDS - t0)) s"
    else
        echo "step $step done in $((SECONDS - t0)) s"
    fi
done
echo
echo "platforms took $((SECONDS - started)) s"
[ ${#failed[@]} -eq 0 ] || echo "failed steps: ${failed[*]}"
echo "platforms: $total_p passed, $total_f failed, $total_s skipped"
[ ${#failed[@]} -eq 0 ]
