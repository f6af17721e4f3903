#!/usr/bin/env bash
# The installed C/C++ package (scripts/install.sh) as a user meets it:
#   1. install into a temporary prefix; SONAME, symlinks, headers, arsock.pc, CMake package;
#   2. tests/install/app.c built with pkg-config and the README's rpath flag, run with no
#      LD_LIBRARY_PATH; also linked statically through pkg-config;
#   3. the CMake project tests/install/CMakeLists.txt (find_package(arsock), targets
#      arsock::arsock and arsock::arsock_static, plus arsock.hpp in C++17) built and run.
# Uses $ARSOCK_LIB_DIR if set, else scripts/install.sh runs `cargo build --release`.
# Exits non-zero on the first failure. Needs cc, c++, pkg-config, cmake, readelf.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/tests/install"
cd "$ROOT"
RUN_TIMEOUT="${RUN_TIMEOUT:-60}"

for tool in cc c++ pkg-config cmake readelf; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "FAILED: '$tool' not found (bash scripts/deps.sh installs the Debian packages)" >&2
        exit 1
    }
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/arsock-install.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAILED: $*" >&2; exit 1; }
run() { # run a built program with a time limit and no LD_LIBRARY_PATH
    echo "-- $1"
    env -u LD_LIBRARY_PATH timeout "$RUN_TIMEOUT" "$1" || fail "$1 exited with $?"
}
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\].*/\1/p'; }

echo "== scripts/install.sh $WORK/prefix"
PREFIX="$WORK/prefix"
scripts/install.sh "$PREFIX"
LIB="$PREFIX/lib"
VERSION="$(pkg-config --modversion "$LIB/pkgconfig/arsock.pc")"
SONAME="libarsock.so.${VERSION%%.*}"

echo "== files, links, SONAME"
[ -f "$LIB/libarsock.so.$VERSION" ] && [ ! -L "$LIB/libarsock.so.$VERSION" ] \
    || fail "$LIB/libarsock.so.$VERSION is not a regular file"
[ "$(readlink "$LIB/$SONAME")" = "libarsock.so.$VERSION" ] || fail "$LIB/$SONAME -> libarsock.so.$VERSION"
[ "$(readlink "$LIB/libarsock.so")" = "$SONAME" ] || fail "$LIB/libarsock.so -> $SONAME"
for f in lib/libarsock.a include/arsock.h include/arsock.hpp lib/pkgconfig/arsock.pc \
    lib/cmake/arsock/arsockConfig.cmake lib/cmake/arsock/arsockConfigVersion.cmake; do
    [ -f "$PREFIX/$f" ] || fail "$PREFIX/$f not installed"
done
GOT_SONAME="$(readelf -d "$LIB/libarsock.so.$VERSION" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')"
[ "$GOT_SONAME" = "$SONAME" ] || fail "SONAME is '$GOT_SONAME', expected $SONAME"
echo "ok: SONAME $GOT_SONAME; libarsock.so -> $SONAME -> libarsock.so.$VERSION"

echo "== pkg-config, shared, with -Wl,-rpath,$LIB"
export PKG_CONFIG_PATH="$LIB/pkgconfig"
# shellcheck disable=SC2046
cc -Wall -Wextra -Werror "$HERE/app.c" $(pkg-config --cflags --libs arsock) -Wl,-rpath,"$LIB" \
    -o "$WORK/app_pkgconfig"
[ "$(needed "$WORK/app_pkgconfig" | grep arsock)" = "$SONAME" ] \
    || fail "app_pkgconfig does not need $SONAME: $(needed "$WORK/app_pkgconfig" | tr '\n' ' ')"
LDD="$(env -u LD_LIBRARY_PATH ldd "$WORK/app_pkgconfig" 2>&1 || true)"
grep -qF "$SONAME => $LIB/$SONAME" <<<"$LDD" || fail "app_pkgconfig does not load $LIB/$SONAME:
$LDD"
run "$WORK/app_pkgconfig"

echo "== pkg-config, static"
# shellcheck disable=SC2046
cc -Wall -Wextra -Werror "$HERE/app.c" $(pkg-config --cflags arsock) \
    "$(pkg-config --variable=libdir arsock)/libarsock.a" $(pkg-config --static --libs-only-l arsock | sed 's/-larsock//') \
    -o "$WORK/app_pkgconfig_static"
needed "$WORK/app_pkgconfig_static" | grep -q arsock && fail "the static build needs a libarsock.so"
run "$WORK/app_pkgconfig_static"

echo "== CMake: find_package(arsock 0.1), arsock::arsock, arsock::arsock_static, arsock.hpp"
unset PKG_CONFIG_PATH
cmake -S "$HERE" -B "$WORK/cmake" -DCMAKE_PREFIX_PATH="$PREFIX" -DCMAKE_BUILD_TYPE=Release \
    >"$WORK/cmake.log" 2>&1 || { cat "$WORK/cmake.log"; fail "cmake configure"; }
cmake --build "$WORK/cmake" >>"$WORK/cmake.log" 2>&1 || { cat "$WORK/cmake.log"; fail "cmake build"; }
[ "$(needed "$WORK/cmake/app_shared" | grep arsock)" = "$SONAME" ] || fail "app_shared does not need $SONAME"
needed "$WORK/cmake/app_static" | grep -q arsock && fail "app_static needs a libarsock.so"
for exe in app_shared app_static app_cpp; do
    run "$WORK/cmake/$exe"
done

echo "== CMake: an incompatible version request is refused"
mkdir -p "$WORK/wrong"
cat >"$WORK/wrong/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.16)
project(wrong LANGUAGES C)
find_package(arsock 1.0 CONFIG QUIET)
if(arsock_FOUND)
  message(FATAL_ERROR "arsock ${arsock_VERSION} accepted for a 1.0 request")
endif()
find_package(arsock 0.1 CONFIG REQUIRED)
message(STATUS "arsock ${arsock_VERSION} found; 1.0 refused")
CM
cmake -S "$WORK/wrong" -B "$WORK/wrong/build" -DCMAKE_PREFIX_PATH="$PREFIX" >"$WORK/wrong.log" 2>&1 \
    || { cat "$WORK/wrong.log"; fail "version check"; }
grep "1.0 refused" "$WORK/wrong.log"

echo "== all install checks passed"
