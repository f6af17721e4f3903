#!/usr/bin/env bash
# Tests of the C++ wrapper and of the C packaging:
#   1. bindings/cpp/example.cpp built with -std=c++17 -Wall -Wextra -Werror -pedantic,
#      linked against the shared library, then against the static one; both run.
#   2. scripts/install.sh into a temporary prefix; a C program and the C++ example built
#      with `pkg-config --cflags --libs arsock` and run; a DESTDIR install is checked too.
# Uses $ARSOCK_LIB_DIR if set, else builds with `cargo build --release`. Exits non-zero on
# any failure. Everything is built in a temporary directory that is removed at the end.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
CXX="${CXX:-g++}"
CC="${CC:-cc}"
CXXFLAGS=(-std=c++17 -Wall -Wextra -Werror -pedantic)
RUN_TIMEOUT="${RUN_TIMEOUT:-60}"

if [ -z "${ARSOCK_LIB_DIR:-}" ]; then
    echo "== cargo build --release --lib"
    cargo build --release --lib
    ARSOCK_LIB_DIR="$ROOT/target/release"
fi
ARSOCK_LIB_DIR="$(cd "$ARSOCK_LIB_DIR" && pwd)"
export ARSOCK_LIB_DIR
for f in libarsock.so libarsock.a; do
    [ -f "$ARSOCK_LIB_DIR/$f" ] || { echo "error: $ARSOCK_LIB_DIR/$f does not exist" >&2; exit 1; }
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/arsock-cpp.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

run() {  # run a test program with a time limit and show its last lines
    local exe=$1
    echo "-- running $exe"
    if ! timeout "$RUN_TIMEOUT" "$exe" >"$WORK/out.txt" 2>&1; then
        cat "$WORK/out.txt"
        echo "FAILED: $exe" >&2
        exit 1
    fi
    tail -n 3 "$WORK/out.txt"
}

echo "== example against the shared library"
"$CXX" "${CXXFLAGS[@]}" -Iinclude -Ibindings/cpp bindings/cpp/example.cpp \
    -L"$ARSOCK_LIB_DIR" -larsock -Wl,-rpath,"$ARSOCK_LIB_DIR" -pthread -o "$WORK/example_shared"
run "$WORK/example_shared"

echo "== example against the static library"
"$CXX" "${CXXFLAGS[@]}" -Iinclude -Ibindings/cpp bindings/cpp/example.cpp \
    "$ARSOCK_LIB_DIR/libarsock.a" -lpthread -ldl -lm -o "$WORK/example_static"
# (ldd output is captured first: `ldd | grep -q` can fail under pipefail via SIGPIPE)
STATIC_LDD="$(ldd "$WORK/example_static" 2>&1 || true)"
if grep -q libarsock <<<"$STATIC_LDD"; then
    echo "FAILED: the static build loads libarsock.so" >&2
    exit 1
fi
run "$WORK/example_static"

# Sessions (arsock_session.hpp): bindings/cpp/session_example.cpp, built like example.cpp,
# against the shared and the static library, and from the installed headers below.
echo "== sessions (session_example.cpp) against the shared and the static library"
"$CXX" "${CXXFLAGS[@]}" -Iinclude -Ibindings/cpp bindings/cpp/session_example.cpp \
    -L"$ARSOCK_LIB_DIR" -larsock -Wl,-rpath,"$ARSOCK_LIB_DIR" -pthread -o "$WORK/session_shared"
run "$WORK/session_shared"
"$CXX" "${CXXFLAGS[@]}" -Iinclude -Ibindings/cpp bindings/cpp/session_example.cpp \
    "$ARSOCK_LIB_DIR/libarsock.a" -lpthread -ldl -lm -o "$WORK/session_static"
run "$WORK/session_static"

echo "== poses, clock and blobs (poses_example.cpp) against the shared and the static library"
"$CXX" "${CXXFLAGS[@]}" -Iinclude -Ibindings/cpp bindings/cpp/poses_example.cpp \
    -L"$ARSOCK_LIB_DIR" -larsock -Wl,-rpath,"$ARSOCK_LIB_DIR" -pthread -o "$WORK/poses_shared"
run "$WORK/poses_shared"
"$CXX" "${CXXFLAGS[@]}" -Iinclude -Ibindings/cpp bindings/cpp/poses_example.cpp \
    "$ARSOCK_LIB_DIR/libarsock.a" -lpthread -ldl -lm -o "$WORK/poses_static"
run "$WORK/poses_static"

echo "== scripts/install.sh into a temporary prefix + pkg-config"
PREFIX="$WORK/prefix"
scripts/install.sh "$PREFIX" >"$WORK/install.txt"
tail -n 6 "$WORK/install.txt"
export PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
CARGO_VERSION="$(sed -n '/^\[package\]/,/^\[/s/^version[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' Cargo.toml | head -n 1)"
PC_VERSION="$(pkg-config --modversion arsock)"
[ "$PC_VERSION" = "$CARGO_VERSION" ] || { echo "FAILED: arsock.pc version $PC_VERSION != Cargo.toml $CARGO_VERSION" >&2; exit 1; }
STATIC_LIBS="$(pkg-config --static --libs arsock)"
for l in -lpthread -ldl -lm; do
    case " $STATIC_LIBS " in *" $l "*) ;; *) echo "FAILED: pkg-config --static lacks $l" >&2; exit 1 ;; esac
done
for f in lib/libarsock.so lib/libarsock.a include/arsock.h include/arsock.hpp include/arsock_session.hpp \
    include/arsock_poses.hpp; do
    [ -f "$PREFIX/$f" ] || { echo "FAILED: $PREFIX/$f not installed" >&2; exit 1; }
done

cat >"$WORK/hello.c" <<'C'
#include <arsock.h>
#include <stdio.h>
int main(void) {
    printf("arsock %s, ABI %u\n", arsock_version(), (unsigned)arsock_abi_version());
    return arsock_abi_version() == ARSOCK_ABI_VERSION ? 0 : 1;
}
C
# shellcheck disable=SC2046
"$CC" -Wall -Wextra -Werror "$WORK/hello.c" $(pkg-config --cflags --libs arsock) \
    -o "$WORK/hello_pkgconfig"
LD_LIBRARY_PATH="$PREFIX/lib" run "$WORK/hello_pkgconfig"
HELLO_LDD="$(LD_LIBRARY_PATH="$PREFIX/lib" ldd "$WORK/hello_pkgconfig" 2>&1 || true)"
if ! grep -qF "$PREFIX/lib/libarsock.so" <<<"$HELLO_LDD"; then
    echo "FAILED: hello_pkgconfig does not use the installed library" >&2
    exit 1
fi

# The C++ example from the installed headers only (no -Iinclude of the source tree).
# shellcheck disable=SC2046
"$CXX" "${CXXFLAGS[@]}" bindings/cpp/example.cpp $(pkg-config --cflags --libs arsock) \
    -pthread -o "$WORK/example_pkgconfig"
LD_LIBRARY_PATH="$PREFIX/lib" run "$WORK/example_pkgconfig"
# shellcheck disable=SC2046
"$CXX" "${CXXFLAGS[@]}" bindings/cpp/session_example.cpp $(pkg-config --cflags --libs arsock) \
    -pthread -o "$WORK/session_pkgconfig"
LD_LIBRARY_PATH="$PREFIX/lib" run "$WORK/session_pkgconfig"
# shellcheck disable=SC2046
"$CXX" "${CXXFLAGS[@]}" bindings/cpp/poses_example.cpp $(pkg-config --cflags --libs arsock) \
    -pthread -o "$WORK/poses_pkgconfig"
LD_LIBRARY_PATH="$PREFIX/lib" run "$WORK/poses_pkgconfig"

echo "== DESTDIR staging"
DESTDIR="$WORK/stage" scripts/install.sh /usr/local >/dev/null
[ -f "$WORK/stage/usr/local/lib/pkgconfig/arsock.pc" ] || { echo "FAILED: DESTDIR install" >&2; exit 1; }
grep -qx "prefix=/usr/local" "$WORK/stage/usr/local/lib/pkgconfig/arsock.pc" \
    || { echo "FAILED: arsock.pc under DESTDIR must say prefix=/usr/local" >&2; exit 1; }
echo "ok: $WORK/stage/usr/local (arsock.pc prefix=/usr/local)"

echo "== all C++ and packaging tests passed"
