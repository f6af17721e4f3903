# Shared helpers for the platform scripts (sourced, not run).
#
# Every step ends in one of three ways, each on its own line so CI logs are easy to scan:
#   PASS <what>   the thing was built / ran and was checked
#   SKIP <what>: <reason>   this machine cannot do it (no target, no tool); never a failure
#   FAIL <what>: <reason>   it could be done here and went wrong
# A script's exit code is non-zero only if something FAILed.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PLAT="$ROOT/scripts/platforms"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
# Tools installed from PyPI (ziglang, cargo-zigbuild) live outside the work tree so CI runs on
# the same machine reuse them.
TOOLS_DIR="${ARSOCK_TOOLS_DIR:-$HOME/.cache/arsock-platforms}"

# Linkers and runners for cross targets, through cargo's environment variables (no committed
# .cargo/config, so nothing changes for a native build).
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER="${CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER:-aarch64-linux-gnu-gcc}"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="${CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER:-qemu-aarch64 -L /usr/aarch64-linux-gnu}"
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER="${CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER:-x86_64-w64-mingw32-gcc}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

N_PASS=0
N_FAIL=0
N_SKIP=0
FAILED_STEPS=()
pass() { N_PASS=$((N_PASS + 1)); echo "PASS $*"; }
skip() { N_SKIP=$((N_SKIP + 1)); echo "SKIP $*"; }
fail() { N_FAIL=$((N_FAIL + 1)); FAILED_STEPS+=("$1"); echo "FAIL $*" >&2; }

# summary NAME: the closing line, then the exit status (0 unless something failed).
summary() {
    [ ${#FAILED_STEPS[@]} -eq 0 ] || echo "$1 failed steps: ${FAILED_STEPS[*]}"
    echo "$1: $N_PASS passed, $N_FAIL failed, $N_SKIP skipped"
    [ "$N_FAIL" -eq 0 ]
}

have() { command -v "$1" >/dev/null 2>&1; }

# have_target TRIPLE: the Rust standard library for TRIPLE is installed, or rustup installs it
# now (bounded; offline or refused -> false).
have_target() {
    rustup target list --installed 2>/dev/null | grep -x "$1" >/dev/null && return 0
    [ "${ARSOCK_NO_INSTALL:-0}" = 1 ] && return 1
    timeout 300 rustup target add "$1" >/dev/null 2>&1
}

# zig_env: put cargo-zigbuild and zig (both from PyPI) on PATH; false if they cannot be had.
zig_env() {
    local venv="$TOOLS_DIR/venv"
    if [ ! -x "$venv/bin/cargo-zigbuild" ] || ! "$venv/bin/python" -m ziglang version >/dev/null 2>&1; then
        [ "${ARSOCK_NO_INSTALL:-0}" = 1 ] && return 1
        mkdir -p "$TOOLS_DIR"
        { python3 -m venv "$venv" && timeout 300 "$venv/bin/pip" install -q ziglang cargo-zigbuild; } >/dev/null 2>&1 ||
            return 1
    fi
    export PATH="$venv/bin:$PATH"
    have cargo-zigbuild && python -m ziglang version >/dev/null 2>&1
}

# LLVM tools that read what this rustc writes (the static libraries hold LLVM bitcode from
# LTO, which an older system llvm-nm cannot read): rustup's llvm-tools, else the system's.
llvm_tool() {
    local bin
    bin="$(rustc --print sysroot 2>/dev/null)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/$1"
    if [ ! -x "$bin" ] && [ "${ARSOCK_NO_INSTALL:-0}" != 1 ]; then
        timeout 300 rustup component add llvm-tools >/dev/null 2>&1 || true
    fi
    if [ -x "$bin" ]; then echo "$bin"; else echo "$1"; fi
}
NM="$(llvm_tool llvm-nm)"
STRIP="$(llvm_tool llvm-strip)"

# exported_symbols FILE: the arsock_* functions FILE exports, one per line, sorted (Mach-O
# names lose their leading underscore): ELF, Mach-O and .a files through llvm-nm, a Windows
# DLL's export table through objdump -p.
exported_symbols() {
    case "$1" in
        *.dll)
            objdump -p "$1" | sed -n 's/^[[:space:]]*\[ *[0-9]*\] \(arsock_[a-z0-9_]*\)$/\1/p' | sort -u
            return
            ;;
    esac
    "$NM" -g --defined-only "$1" 2>/dev/null |
        awk '$2 ~ /^[TtW]$/ { print $3 }' | sed -E 's/^_(arsock_)/\1/' | grep -E '^arsock_' | sort -u
}

# header_functions: the functions include/arsock.h declares, sorted.
header_functions() {
    grep -E '^[A-Za-z].*[[:space:]*]arsock_[a-z0-9_]+\(' "$ROOT/include/arsock.h" |
        grep -oE 'arsock_[a-z0-9_]+\(' | sed 's/($//' | sort -u
}

# check_exports WHAT FILE: every function of the header is exported by FILE.
check_exports() {
    local what=$1 file=$2 missing
    missing=$(comm -23 <(header_functions) <(exported_symbols "$file"))
    if [ -n "$missing" ]; then
        fail "$what" "does not export: $(echo "$missing" | tr '\n' ' ')"
        return 1
    fi
    pass "$what: exports all $(header_functions | wc -l) functions of include/arsock.h"
}

# windows_declared_unsupported: src/ still refuses non-Unix targets with compile_error! (the
# state before the Windows port); Windows steps SKIP then instead of failing.
windows_declared_unsupported() {
    grep -rs -A1 'cfg(not(unix))' "$ROOT/src" | grep 'compile_error!' >/dev/null
}

# cross_test_args LABEL: sets CROSS_TESTS to `--test NAME` for every tests/*.rs file that can
# run on another CPU/OS through a runner (qemu, wine), and SKIPs each of the others with the
# reason: files that build host programs (cc, an LD_PRELOAD shim) or load the library into the
# host's python3.
cross_test_args() {
    local f name reason
    CROSS_TESTS=()
    for f in "$ROOT"/tests/*.rs; do
        name=$(basename "$f" .rs)
        reason=""
        if [ "$name" = session_relay ]; then
            reason="stress test (100k relayed messages, a 10 s freeze): its watchdog is sized for native speed, not qemu"
        elif grep -q 'LD_PRELOAD' "$f"; then
            reason="builds an LD_PRELOAD shim with the host C compiler"
        elif grep -q 'python3' "$f"; then
            reason="loads the library into the host's python3"
        elif grep -qE 'common::native|Command::new' "$f"; then
            reason="compiles and runs host programs (cc, cargo); the C example runs cross in this script instead"
        fi
        if [ -n "$reason" ]; then
            skip "$1 test $name" "$reason"
        else
            CROSS_TESTS+=(--test "$name")
        fi
    done
}

# run_cross_tests LABEL TARGET LOG: cargo test for TARGET (lib + CROSS_TESTS) through its
# runner, bounded to 15 minutes; PASS/FAIL with the counts.
run_cross_tests() {
    local label=$1 target=$2 log=$3 rc np nf
    mkdir -p "$(dirname "$log")"
    timeout 900 cargo test -p arsock --no-fail-fast --target "$target" --lib "${CROSS_TESTS[@]}" >"$log" 2>&1
    rc=$?
    grep -E '^(test result|     Running|test .* FAILED|failures:)' "$log"
    np=$(grep -E '^test result' "$log" | grep -oE '[0-9]+ passed' | awk '{ s += $1 } END { print s + 0 }')
    nf=$(grep -E '^test result' "$log" | grep -oE '[0-9]+ failed' | awk '{ s += $1 } END { print s + 0 }')
    if [ "$rc" -eq 0 ] && [ "$np" -gt 0 ]; then
        pass "$label: $np passed, $nf failed"
    else
        tail -40 "$log" >&2
        fail "$label" "exit $rc, $np passed, $nf failed (log: $log)"
    fi
}

# run_c_demo LABEL OUTDIR RUNNER SERVER CLIENT: the demo of examples/run_demo.sh through a
# runner (e.g. "qemu-aarch64 -L ..." or "wine"): the Rust server example and the C client
# example talk on loopback; PASS if the client saw the raw reply, all five message replies and
# finished.
run_c_demo() {
    local label=$1 out=$2 server_exe=$4 client_exe=$5 server crc ports
    local -a runner
    read -r -a runner <<<"$3"
    mkdir -p "$out"
    : >"$out/server.log"
    timeout 90 "${runner[@]}" "$server_exe" --clients 2 >"$out/server.log" 2>"$out/server.err" &
    server=$!
    for _ in $(seq 300); do grep -qE ':[0-9]+.*:[0-9]+' "$out/server.log" && break; sleep 0.1; done
    read -r -a ports <<<"$(head -1 "$out/server.log" | grep -oE ':[0-9]+' | tr -d : | tr '\n' ' ')"
    if [ ${#ports[@]} -ne 2 ]; then
        fail "$label" "the server did not print its two ports: $(head -3 "$out/server.log" "$out/server.err")"
    else
        timeout 60 "${runner[@]}" "$client_exe" 127.0.0.1 "${ports[0]}" "${ports[1]}" >"$out/client.log" 2>"$out/client.err"
        crc=$?
        if [ "$crc" -eq 0 ] && grep -q 'raw reply: AR content for \[DEVICE phone-1' "$out/client.log" &&
            grep -q '^message reply 5: {"update":5,' "$out/client.log" &&
            [ "$(tail -1 "$out/client.log" | tr -d '\r')" = done ]; then
            pass "$label: raw and message replies exchanged with the Rust server example"
        else
            cat "$out/client.log" "$out/client.err" >&2
            fail "$label" "c_client exit $crc or unexpected output"
        fi
    fi
    kill "$server" 2>/dev/null
    wait "$server" 2>/dev/null
}
