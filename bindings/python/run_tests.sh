#!/usr/bin/env bash
# Tests of the Python binding: the unittest suite against the source tree, then a
# `pip install` into a fresh venv (bindings/python/build/, git-ignored) and the suite again
# against the installed package. Exits non-zero on any failure.
#
#   bindings/python/run_tests.sh                       # builds with cargo build --release
#   ARSOCK_LIB_DIR=/path/to/dir bindings/python/run_tests.sh   # use an existing build
#   PYTHON=python3.12 bindings/python/run_tests.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY_DIR="$ROOT/bindings/python"
PYTHON="${PYTHON:-python3}"
cd "$ROOT"

if [ -z "${ARSOCK_LIB_DIR:-}" ]; then
    echo "== cargo build --release"
    cargo build --release
    ARSOCK_LIB_DIR="$ROOT/target/release"
fi
ARSOCK_LIB_DIR="$(cd "$ARSOCK_LIB_DIR" && pwd)"  # absolute: tests run from other directories
case "$(uname -s)" in
    Darwin) LIB_FILE=libarsock.dylib ;;
    *) LIB_FILE=libarsock.so ;;
esac
export ARSOCK_LIBRARY="$ARSOCK_LIB_DIR/$LIB_FILE"
if [ ! -f "$ARSOCK_LIBRARY" ]; then
    echo "error: $ARSOCK_LIBRARY does not exist (ARSOCK_LIB_DIR=$ARSOCK_LIB_DIR)" >&2
    exit 1
fi
echo "== using $ARSOCK_LIBRARY"

echo "== unit tests against the source tree"
"$PYTHON" -m unittest discover -s bindings/python/tests -v

echo "== pip install into a fresh venv"
BUILD="$PY_DIR/build"
VENV="$BUILD/venv"
rm -rf "$VENV"
mkdir -p "$BUILD"
"$PYTHON" -m venv "$VENV"
# Builds with setuptools in an isolated environment (pip fetches setuptools if needed).
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$PY_DIR"

# From a directory where the source tree is not on sys.path: the venv copy must be used.
cd "$BUILD"
"$VENV/bin/python" - <<'PYEOF'
import os, pathlib, sys
import arsock
f = pathlib.Path(arsock.__file__).resolve()
venv = pathlib.Path(sys.prefix).resolve()
assert venv in f.parents, f"arsock imported from {f}, not from the venv {venv}"
assert (f.parent / "py.typed").is_file(), "py.typed is not installed"
print(f"installed arsock {arsock.__version__} at {f.parent}, library {arsock.library_path} "
      f"(native {arsock.version()}, ABI {arsock.abi_version()})")
with arsock.Server("127.0.0.1", 0) as s, arsock.connect("127.0.0.1", s.port, timeout=10) as c:
    with s.accept(timeout=10) as a:
        c.send_msg(b"installed")
        assert a.recv_msg(timeout=10) == b"installed"
print("round trip through the installed package: ok")
PYEOF

echo "== unit tests against the installed package"
ARSOCK_TEST_INSTALLED=1 "$VENV/bin/python" -m unittest discover -s "$PY_DIR/tests"

echo "== all Python binding tests passed"
