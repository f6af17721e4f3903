#!/usr/bin/env bash
# Install arsock for C and C++ users, into PREFIX (default /usr/local):
#   lib/libarsock.so.X.Y.Z             the shared library, SONAME libarsock.so.X (X = major)
#   lib/libarsock.so.X -> libarsock.so.X.Y.Z   (what programs load at run time)
#   lib/libarsock.so -> libarsock.so.X         (what -larsock finds at link time)
#   lib/libarsock.a                    the static library
#   include/arsock.h, and the C++ wrapper headers bindings/cpp/*.hpp (arsock.hpp, ...)
#   lib/pkgconfig/arsock.pc            pkg-config: cc app.c $(pkg-config --cflags --libs arsock)
#   lib/cmake/arsock/arsockConfig.cmake, arsockConfigVersion.cmake
#                                      CMake: find_package(arsock) gives the imported targets
#                                      arsock::arsock (shared) and arsock::arsock_static
#
# Usage: scripts/install.sh [PREFIX]          (default /usr/local)
#   DESTDIR=/tmp/stage scripts/install.sh /usr  stages into /tmp/stage/usr; arsock.pc still
#                                                says prefix=/usr (for packagers)
#   ARSOCK_LIB_DIR=dir scripts/install.sh ...   installs an existing build from dir instead
#                                                of running `cargo build --release`
# A program linked against a PREFIX the dynamic loader does not search (anything but /usr and
# /usr/local after ldconfig) needs -Wl,-rpath,PREFIX/lib (pkg-config) or finds the library
# through CMake's rpath in its build tree.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX="${1:-/usr/local}"
case "$PREFIX" in
    /*) ;;
    *) echo "install.sh: PREFIX must be an absolute path, not '$PREFIX'" >&2; exit 2 ;;
esac
PREFIX="${PREFIX%/}"
[ -n "$PREFIX" ] || PREFIX=/

if [ -n "${ARSOCK_LIB_DIR:-}" ]; then
    SRC_LIB="$ARSOCK_LIB_DIR"
else
    echo "== cargo build --release --lib"
    (cd "$ROOT" && cargo build --release --lib)
    SRC_LIB="${CARGO_TARGET_DIR:-$ROOT/target}/release"
fi
for f in "$SRC_LIB/libarsock.so" "$SRC_LIB/libarsock.a" "$ROOT/include/arsock.h" \
    "$ROOT/bindings/cpp/arsock.hpp" "$ROOT/bindings/cpp/arsock_session.hpp"; do
    [ -f "$f" ] || { echo "install.sh: missing $f" >&2; exit 1; }
done

# The crate version: the first `version = "..."` of the [package] table.
VERSION="$(sed -n '/^\[package\]/,/^\[/s/^version[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' \
    "$ROOT/Cargo.toml" | head -n 1)"
[ -n "$VERSION" ] || { echo "install.sh: no version in Cargo.toml" >&2; exit 1; }
MAJOR="${VERSION%%.*}"
SONAME="libarsock.so.$MAJOR"
REALNAME="libarsock.so.${VERSION%%[-+]*}"

# The library must carry the SONAME the links below promise (build.rs sets it).
if command -v readelf >/dev/null 2>&1; then
    FOUND_SONAME="$(readelf -d "$SRC_LIB/libarsock.so" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')"
    if [ "$FOUND_SONAME" != "$SONAME" ]; then
        echo "install.sh: $SRC_LIB/libarsock.so has SONAME '${FOUND_SONAME:-none}', not $SONAME;" \
            "rebuild it with cargo build --release" >&2
        exit 1
    fi
fi

# Pointer size of the library (ELF class byte: 1 = 32-bit, 2 = 64-bit), for the CMake check.
case "$(od -An -t u1 -j 4 -N 1 "$SRC_LIB/libarsock.so" | tr -d ' ')" in
    1) PTR_SIZE=4 ;;
    2) PTR_SIZE=8 ;;
    *) echo "install.sh: $SRC_LIB/libarsock.so is not an ELF library" >&2; exit 1 ;;
esac
MINOR="$(echo "$VERSION" | cut -d. -f2)"

DEST="${DESTDIR:-}$PREFIX"
install -d "$DEST/lib/pkgconfig" "$DEST/lib/cmake/arsock" "$DEST/include"
rm -f "$DEST/lib/libarsock.so" "$DEST/lib/$SONAME"
install -m 0755 "$SRC_LIB/libarsock.so" "$DEST/lib/$REALNAME"
ln -s "$REALNAME" "$DEST/lib/$SONAME"
ln -s "$SONAME" "$DEST/lib/libarsock.so"
install -m 0644 "$SRC_LIB/libarsock.a" "$DEST/lib/libarsock.a"
install -m 0644 "$ROOT/include/arsock.h" "$DEST/include/arsock.h"
# Every C++ wrapper header (arsock.hpp and the ones it includes).
CPP_HEADERS=()
for h in "$ROOT"/bindings/cpp/*.hpp; do
    install -m 0644 "$h" "$DEST/include/${h##*/}"
    CPP_HEADERS+=("include/${h##*/}")
done

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
cat >"$TMP/arsock.pc" <<PC
prefix=$PREFIX
exec_prefix=\${prefix}
libdir=\${exec_prefix}/lib
includedir=\${prefix}/include

Name: arsock
Description: Message-oriented sockets with a C ABI for real-time augmented-reality apps
Version: $VERSION
Libs: -L\${libdir} -larsock
Libs.private: -lpthread -ldl -lm
Cflags: -I\${includedir}
PC
install -m 0644 "$TMP/arsock.pc" "$DEST/lib/pkgconfig/arsock.pc"

# CMake package. Relocatable: paths are found from this file's own place (PREFIX/lib/cmake/arsock).
cat >"$TMP/arsockConfig.cmake" <<CMAKE
# arsock $VERSION CMake package (written by scripts/install.sh).
#   find_package(arsock CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE arsock::arsock)          # shared: $SONAME
#   target_link_libraries(app PRIVATE arsock::arsock_static)   # static: libarsock.a
# Both targets carry the include directory (arsock.h, and arsock.hpp for C++17).
get_filename_component(_arsock_prefix "\${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)

if(NOT TARGET arsock::arsock)
  add_library(arsock::arsock SHARED IMPORTED)
  set_target_properties(arsock::arsock PROPERTIES
    IMPORTED_LOCATION "\${_arsock_prefix}/lib/$REALNAME"
    IMPORTED_SONAME "$SONAME"
    INTERFACE_INCLUDE_DIRECTORIES "\${_arsock_prefix}/include")
endif()

if(NOT TARGET arsock::arsock_static)
  add_library(arsock::arsock_static STATIC IMPORTED)
  set_target_properties(arsock::arsock_static PROPERTIES
    IMPORTED_LOCATION "\${_arsock_prefix}/lib/libarsock.a"
    IMPORTED_LINK_INTERFACE_LANGUAGES "C"
    INTERFACE_INCLUDE_DIRECTORIES "\${_arsock_prefix}/include"
    # the Rust standard library inside libarsock.a needs these system libraries
    INTERFACE_LINK_LIBRARIES "pthread;dl;m")
endif()

foreach(_arsock_file "\${_arsock_prefix}/lib/$REALNAME" "\${_arsock_prefix}/lib/libarsock.a"
        "\${_arsock_prefix}/include/arsock.h")
  if(NOT EXISTS "\${_arsock_file}")
    set(arsock_FOUND FALSE)
    set(arsock_NOT_FOUND_MESSAGE "\${_arsock_file} is missing: reinstall arsock (scripts/install.sh)")
  endif()
endforeach()
unset(_arsock_file)
unset(_arsock_prefix)
CMAKE
# Compatible: same major version, and before 1.0 the same minor version too (a 0.x minor
# release may change the ABI); same pointer size.
cat >"$TMP/arsockConfigVersion.cmake" <<CMAKE
set(PACKAGE_VERSION "$VERSION")
if(NOT PACKAGE_FIND_VERSION)
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
elseif(PACKAGE_FIND_VERSION VERSION_GREATER PACKAGE_VERSION)
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
elseif(NOT PACKAGE_FIND_VERSION_MAJOR STREQUAL "$MAJOR")
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
elseif("$MAJOR" STREQUAL "0" AND NOT PACKAGE_FIND_VERSION_MINOR STREQUAL "$MINOR")
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
else()
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
  if(PACKAGE_FIND_VERSION STREQUAL PACKAGE_VERSION)
    set(PACKAGE_VERSION_EXACT TRUE)
  endif()
endif()
if(CMAKE_SIZEOF_VOID_P AND NOT CMAKE_SIZEOF_VOID_P STREQUAL "$PTR_SIZE")
  math(EXPR _arsock_bits "8 * \${CMAKE_SIZEOF_VOID_P}")
  set(PACKAGE_VERSION "\${PACKAGE_VERSION} ($((PTR_SIZE * 8))-bit; this project is \${_arsock_bits}-bit)")
  set(PACKAGE_VERSION_UNSUITABLE TRUE)
  unset(_arsock_bits)
endif()
CMAKE
install -m 0644 "$TMP/arsockConfig.cmake" "$TMP/arsockConfigVersion.cmake" "$DEST/lib/cmake/arsock/"

echo "installed arsock $VERSION into $DEST:"
for f in "lib/$REALNAME" "lib/$SONAME -> $REALNAME" "lib/libarsock.so -> $SONAME" lib/libarsock.a \
    lib/pkgconfig/arsock.pc lib/cmake/arsock/arsockConfig.cmake \
    lib/cmake/arsock/arsockConfigVersion.cmake include/arsock.h "${CPP_HEADERS[@]}"; do
    echo "  $DEST/$f"
done
if [ -z "${DESTDIR:-}" ] && [ "$(id -u)" = 0 ] && command -v ldconfig >/dev/null 2>&1; then
    case "$PREFIX" in
        /usr | /usr/local) ldconfig || true ;;
    esac
fi
case "$PREFIX" in
    /usr | /usr/local) ;;
    *) echo "note: $PREFIX/lib is not searched by the dynamic loader; link programs with" \
        "-Wl,-rpath,$PREFIX/lib (or set LD_LIBRARY_PATH)" ;;
esac
