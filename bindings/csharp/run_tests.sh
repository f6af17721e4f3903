#!/usr/bin/env bash
# Builds and tests the C# binding under mono (see README.md).
#
#   bindings/csharp/run_tests.sh
#
# ARSOCK_LIB_DIR=dir  use the libarsock.so in dir instead of running `cargo build --release`.
# NUNIT_ARGS="..."    extra nunit-console arguments (e.g. -run=ArSock.Tests.AbiTests).
#
# Steps: library -> header/binding drift check (function names) -> C dump of the header's
# constants, statuses and struct layouts (gcc) -> mcs (warnings as errors) -> nunit-console.
# Exits non-zero if anything fails, including a missing tool. Last line:
#   csharp: N passed, N failed
set -u -o pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BUILD="$HERE/build"
HEADER="$ROOT/include/arsock.h"
BINDING="$HERE/ArSock.cs"
BINDING_FILES=("$HERE"/ArSock*.cs) # one assembly; ArSockNative is partial
EXAMPLE="$ROOT/examples/unity/ArSockPoseSender.cs"

PASSED=0
FAILED=0
finish() {
    echo "csharp: $PASSED passed, $FAILED failed"
    if [ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]; then exit 0; fi
    exit 1
}
die() { # a step that prevents running the suite
    echo "run_tests.sh: ERROR: $*" >&2
    FAILED=$((FAILED + 1))
    finish
}
check_ok() { PASSED=$((PASSED + 1)); echo "ok: $1"; }
check_fail() { FAILED=$((FAILED + 1)); echo "FAIL: $1" >&2; }

need() {
    command -v "$1" >/dev/null 2>&1 || die "'$1' not found ($2)"
}
need mcs "apt-get install mono-mcs"
need mono "apt-get install mono-runtime"
need nunit-console "apt-get install nunit-console"
need gcc "apt-get install gcc"
need timeout "coreutils"

NUNIT_FW=""
for f in /usr/lib/cli/nunit.framework-2.6*/nunit.framework.dll /usr/lib/mono/gac/nunit.framework/2.6*/nunit.framework.dll; do
    if [ -f "$f" ]; then NUNIT_FW="$f"; break; fi
done
[ -n "$NUNIT_FW" ] || die "nunit.framework.dll (NUnit 2.6) not found (apt-get install libnunit-cil-dev)"
[ -f "$HEADER" ] || die "$HEADER not found"

mkdir -p "$BUILD"
rm -rf "$BUILD"/*.dll "$BUILD"/*.exe "$BUILD"/native_abi* "$BUILD"/fake "$BUILD"/nolib "$BUILD"/TestResult.xml

# ---------------------------------------------------------------- 1. the library
if [ -n "${ARSOCK_LIB_DIR:-}" ]; then
    LIB_DIR="$(cd "$ARSOCK_LIB_DIR" && pwd)" || die "ARSOCK_LIB_DIR=$ARSOCK_LIB_DIR is not a directory"
else
    need cargo "install Rust, or set ARSOCK_LIB_DIR"
    echo "== cargo build --release"
    (cd "$ROOT" && cargo build --release) || die "cargo build --release failed"
    LIB_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/release"
    case "$LIB_DIR" in /*) ;; *) LIB_DIR="$ROOT/$LIB_DIR" ;; esac
fi
LIB="$LIB_DIR/libarsock.so"
[ -f "$LIB" ] || die "$LIB not found"
echo "== library: $LIB"

# ---------------------------------------------------------------- 2. function-name drift check
# Every function declared in the header must have an extern of the same name (EntryPoint) in
# ArSock.cs and vice versa. (AbiTests also compares parameter and return types.)
header_funcs() {
    # drop comments and preprocessor lines, then take "name(" of each declaration
    sed -e 's://.*$::' "$HEADER" | awk '
        { line = $0
          out = ""
          while (length(line) > 0) {
              if (incomment) {
                  i = index(line, "*/"); if (i == 0) { line = ""; break }
                  line = substr(line, i + 2); incomment = 0
              } else {
                  i = index(line, "/*"); if (i == 0) { out = out line; line = ""; break }
                  out = out substr(line, 1, i - 1); line = substr(line, i + 2); incomment = 1
              }
          }
          if (out !~ /^[ \t]*#/) print out }' |
        grep -oE '\barsock_[a-z0-9_]+[[:space:]]*\(' | sed -E 's/[[:space:]]*\($//' | sort -u
}
cs_funcs() {
    {
        grep -ohE 'EntryPoint[[:space:]]*=[[:space:]]*"arsock_[a-z0-9_]+"' "${BINDING_FILES[@]}" | grep -oE 'arsock_[a-z0-9_]+'
        grep -ohE 'static[[:space:]]+extern[^(]*[[:space:]]arsock_[a-z0-9_]+[[:space:]]*\(' "${BINDING_FILES[@]}" | grep -oE 'arsock_[a-z0-9_]+'
    } | sort -u
}
header_funcs >"$BUILD/funcs.header"
cs_funcs >"$BUILD/funcs.cs"
# an extern's C# name must equal its EntryPoint
ep_count=$(cat "${BINDING_FILES[@]}" | grep -cE 'EntryPoint[[:space:]]*=')
ex_count=$(cat "${BINDING_FILES[@]}" | grep -cE 'static[[:space:]]+extern')
if [ "$(wc -l <"$BUILD/funcs.header")" -lt 10 ]; then
    check_fail "drift check: found only $(wc -l <"$BUILD/funcs.header") functions in $HEADER"
elif ! diff -u "$BUILD/funcs.header" "$BUILD/funcs.cs" >"$BUILD/funcs.diff"; then
    check_fail "drift check: functions of include/arsock.h (-) and externs of ArSock.cs (+) differ:"
    cat "$BUILD/funcs.diff" >&2
elif [ "$ep_count" -ne "$ex_count" ] || [ "$ex_count" -ne "$(wc -l <"$BUILD/funcs.cs")" ]; then
    check_fail "drift check: $ex_count externs, $ep_count EntryPoints, $(wc -l <"$BUILD/funcs.cs") distinct names (each extern needs EntryPoint = its own name)"
else
    check_ok "drift check: the $(wc -l <"$BUILD/funcs.cs") functions of include/arsock.h and ArSock.cs match"
fi

# ---------------------------------------------------------------- 3. C dump of the header
# A C program, generated from the header itself, prints every ARSOCK_* constant and status
# value and sizeof/offsetof of every struct; AbiTests compares them with the C# side. It also
# takes the address of every declared function, so the link checks that the library exports
# them all.
{
    echo '#include <stdio.h>'
    echo '#include <stddef.h>'
    echo '#include "arsock.h"'
    echo 'int main(void) {'
    grep -E '^#define ARSOCK_[A-Z0-9_]+[[:space:]]+[^[:space:]]' "$HEADER" | while read -r _ name value; do
        short="${name#ARSOCK_}"
        case "$value" in
            \"*) echo "  printf(\"conststr %s %s\\n\", \"$short\", $name);" ;;
            *) echo "  printf(\"const %s %lld\\n\", \"$short\", (long long)($name));" ;;
        esac
    done
    grep -oE '^[[:space:]]*ARSOCK_(OK|ERR_[A-Z0-9_]+)[[:space:]]*=' "$HEADER" | grep -oE 'ARSOCK_[A-Z0-9_]+' | while read -r name; do
        echo "  printf(\"status %s %lld\\n\", \"${name#ARSOCK_}\", (long long)($name));"
    done
    # typedef struct NAME { ... } NAME;  -> fields: last identifier before ';' on non-comment lines
    awk '
        /^typedef struct [a-z0-9_]+ \{/ { s = $3; nf = 0; next }
        s != "" && /^\}/ { printf "  printf(\"sizeof %%s %%zu\\n\", \"%s\", sizeof(struct %s));\n", s, s
                           printf "  printf(\"fields %%s %%d\\n\", \"%s\", %d);\n", s, nf
                           s = ""; next }
        s != "" && $0 !~ /^[ \t]*(\/\*|\*)/ && /;[ \t]*$/ {
            line = $0; sub(/;[ \t]*$/, "", line); sub(/[ \t]*\[[0-9]+\][ \t]*$/, "", line)
            n = split(line, w, /[^A-Za-z0-9_]+/); f = w[n]
            nf++
            printf "  printf(\"offsetof %%s %%s %%zu\\n\", \"%s\", \"%s\", offsetof(struct %s, %s));\n", s, f, s, f }
    ' "$HEADER"
    while read -r fn; do
        echo "  { void *volatile p = (void *)&$fn; printf(\"func %s %d\\n\", \"$fn\", p != NULL); }"
    done <"$BUILD/funcs.header"
    echo '  return 0;'
    echo '}'
} >"$BUILD/native_abi.c"
if gcc -std=c11 -Wall -Wextra -Werror -I"$ROOT/include" -o "$BUILD/native_abi" "$BUILD/native_abi.c" \
        -L"$LIB_DIR" -larsock -Wl,-rpath,"$LIB_DIR" &&
    "$BUILD/native_abi" >"$BUILD/native_abi.txt"; then
    check_ok "C header dump: $(grep -c '^const' "$BUILD/native_abi.txt") constants, $(grep -c '^status' "$BUILD/native_abi.txt") statuses, $(grep -c '^sizeof' "$BUILD/native_abi.txt") structs, $(grep -c '^func' "$BUILD/native_abi.txt") functions linked"
else
    check_fail "could not compile/link/run the C header dump ($BUILD/native_abi.c)"
fi

# fake library with another ABI version, and a directory without any library, for the load probe
mkdir -p "$BUILD/fake" "$BUILD/nolib"
printf '%s\n' '#include <stdint.h>' \
    'uint32_t arsock_abi_version(void) { return 2; }' \
    'const char *arsock_version(void) { return "9.9.9-fake"; }' >"$BUILD/fake/fake.c"
gcc -shared -fPIC -o "$BUILD/fake/libarsock.so" "$BUILD/fake/fake.c" || check_fail "could not build the fake library"

# ---------------------------------------------------------------- 4. compile (warnings as errors)
MCS="mcs -nologo -unsafe -warnaserror -debug"
echo "== mcs"
$MCS -target:library -out:"$BUILD/ArSock.dll" "${BINDING_FILES[@]}" || die "mcs: ${BINDING_FILES[*]##*/}"
# the binding without Span (ARSOCK_NO_SPAN, for old Unity profiles) and the example against it
$MCS -target:library -define:ARSOCK_NO_SPAN -out:"$BUILD/ArSockNoSpan.dll" "${BINDING_FILES[@]}" "$EXAMPLE" "$HERE/tests/UnityShim.cs" ||
    die "mcs: ArSock.cs with ARSOCK_NO_SPAN"
$MCS -target:exe -define:ARSOCK_LOAD_PROBE -r:"$BUILD/ArSock.dll" -out:"$BUILD/LoadProbe.exe" "$HERE/tests/LoadProbe.cs" ||
    die "mcs: LoadProbe.exe"
$MCS -target:exe -define:ARSOCK_SESSION_CHILD -r:"$BUILD/ArSock.dll" -out:"$BUILD/SessionChild.exe" "$HERE/tests/SessionChild.cs" ||
    die "mcs: SessionChild.exe"
$MCS -target:library -r:"$BUILD/ArSock.dll" -r:"$NUNIT_FW" -r:System.Core.dll -out:"$BUILD/ArSock.Tests.dll" \
    "$HERE"/tests/*.cs "$EXAMPLE" "$ROOT/examples/unity/ArSockRoomSync.cs" || die "mcs: tests"

# ---------------------------------------------------------------- 5. nunit
echo "== nunit-console"
export LD_LIBRARY_PATH="$LIB_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export ARSOCK_LIB="$LIB" ARSOCK_HEADER="$HEADER" ARSOCK_NATIVE_ABI="$BUILD/native_abi.txt"
export ARSOCK_PROBE_EXE="$BUILD/LoadProbe.exe" ARSOCK_FAKE_LIB_DIR="$BUILD/fake" ARSOCK_EMPTY_LIB_DIR="$BUILD/nolib"
export ARSOCK_MONO="$(command -v mono)" ARSOCK_SESSION_CHILD_EXE="$BUILD/SessionChild.exe"
# shellcheck disable=SC2086
(cd "$BUILD" && timeout 150 nunit-console -nologo -noshadow -labels -result="$BUILD/TestResult.xml" ${NUNIT_ARGS:-} "$BUILD/ArSock.Tests.dll")
rc=$?
if [ -f "$BUILD/TestResult.xml" ]; then
    np=$(grep -oE '<test-case [^>]*result="Success"' "$BUILD/TestResult.xml" | wc -l)
    nf=$(grep -oE '<test-case [^>]*result="(Failure|Error|Cancelled|NotRunnable)"' "$BUILD/TestResult.xml" | wc -l)
    PASSED=$((PASSED + np))
    FAILED=$((FAILED + nf))
    if [ "$rc" -ne 0 ] && [ "$nf" -eq 0 ]; then check_fail "nunit-console exited with $rc"; fi
else
    check_fail "nunit-console produced no result file (exit $rc)"
fi
finish
