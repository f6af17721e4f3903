#!/usr/bin/env bash
# Install arsock for C and C++ users:
#   PREFIX/lib/libarsock.so, PREFIX/lib/libarsock.a, PREFIX/include/arsock.h,
#   PREFIX/include/arsock.hpp, PREFIX/include/arsock_session.hpp and
#   PREFIX/lib/pkgconfig/arsock.pc.
#
# Usage: scripts/install.sh [PREFIX]          (default /usr/local)
#   DESTDIR=/tmp/stage scripts/install.sh /usr  stages into /tmp/stage/usr; arsock.pc still
#                                                says prefix=/usr (for packagers)
#   ARSOCK_LIB_DIR=dir scripts/install.sh ...   installs an existing build from dir instead
#                                                of running `cargo build --release`
# Then: cc app.c $(pkg-config --cflags --libs arsock)
#       (PKG_CONFIG_PATH=PREFIX/lib/pkgconfig if PREFIX is not a default search path)
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
    SRC_LIB="$ROOT/target/release"
fi
for f in "$SRC_LIB/libarsock.so" "$SRC_LIB/libarsock.a" "$ROOT/include/arsock.h" \
    "$ROOT/bindings/cpp/arsock.hpp" "$ROOT/bindings/cpp/arsock_session.hpp"; do
    [ -f "$f" ] || { echo "install.sh: missing $f" >&2; exit 1; }
done

# The crate version: the first `version = "..."` of the [package] table.
VERSION="$(sed -n '/^\[package\]/,/^\[/s/^version[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' \
    "$ROOT/Cargo.toml" | head -n 1)"
[ -n "$VERSION" ] || { echo "install.sh: no version in Cargo.toml" >&2; exit 1; }

DEST="${DESTDIR:-}$PREFIX"
install -d "$DEST/lib/pkgconfig" "$DEST/include"
install -m 0755 "$SRC_LIB/libarsock.so" "$DEST/lib/libarsock.so"
install -m 0644 "$SRC_LIB/libarsock.a" "$DEST/lib/libarsock.a"
install -m 0644 "$ROOT/include/arsock.h" "$DEST/include/arsock.h"
install -m 0644 "$ROOT/bindings/cpp/arsock.hpp" "$DEST/include/arsock.hpp"
install -m 0644 "$ROOT/bindings/cpp/arsock_session.hpp" "$DEST/include/arsock_session.hpp"

PC_TMP="$(mktemp)"
trap 'rm -f "$PC_TMP"' EXIT
cat >"$PC_TMP" <<PC
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
install -m 0644 "$PC_TMP" "$DEST/lib/pkgconfig/arsock.pc"

echo "installed arsock $VERSION into $DEST:"
for f in lib/libarsock.so lib/libarsock.a lib/pkgconfig/arsock.pc include/arsock.h \
    include/arsock.hpp include/arsock_session.hpp; do
    echo "  $DEST/$f"
done
if [ -z "${DESTDIR:-}" ] && [ "$(id -u)" = 0 ] && command -v ldconfig >/dev/null 2>&1; then
    case "$PREFIX" in
        /usr | /usr/local) ldconfig || true ;;
    esac
fi
