#!/usr/bin/env bash
# Tests of the Python binding: the unittest suite against the source tree, then
# `pip install ./bindings/python` into a fresh venv (bindings/python/build/, git-ignored) with
# no ARSOCK_* variable set, as a user would: the package must hold the library (setup.py
# builds it with cargo) in a platform-tagged wheel and work; then the suite again against the
# installed package. Exits non-zero on any failure.
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

echo "== pip install ./bindings/python into a fresh venv, as a user would (no ARSOCK_* set)"
BUILD="$PY_DIR/build"
VENV="$BUILD/venv"
rm -rf "$VENV"
mkdir -p "$BUILD"
"$PYTHON" -m venv "$VENV"
# setup.py runs `cargo build --release --lib` (nothing to do when the build is current) and
# puts the library in the package; pip fetches setuptools for the isolated build.
env -u ARSOCK_LIBRARY -u ARSOCK_LIB_DIR \
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$PY_DIR"

# From a directory where the source tree is not on sys.path: the venv copy must be used.
cd "$BUILD"
env -u ARSOCK_LIBRARY "$VENV/bin/python" - <<'PYEOF'
import os, pathlib, sys
import arsock
from importlib import metadata
f = pathlib.Path(arsock.__file__).resolve()
venv = pathlib.Path(sys.prefix).resolve()
assert venv in f.parents, f"arsock imported from {f}, not from the venv {venv}"
assert (f.parent / "py.typed").is_file(), "py.typed is not installed"
lib = pathlib.Path(arsock.library_path).resolve()
assert lib.parent == f.parent, f"library {lib} is not the copy inside the package {f.parent}"
wheel = metadata.distribution("arsock").read_text("WHEEL")
tags = [l.split(":", 1)[1].strip() for l in wheel.splitlines() if l.startswith("Tag:")]
assert tags and all(not t.endswith("-any") for t in tags), f"wheel tags {tags} name no platform"
print(f"installed arsock {arsock.__version__} at {f.parent}, wheel tag {', '.join(tags)}, "
      f"library {lib.name} inside the package (native {arsock.version()}, ABI {arsock.abi_version()})")
with arsock.Server("127.0.0.1", 0) as s, arsock.connect("127.0.0.1", s.port, timeout=10) as c:
    with s.accept(timeout=10) as a:
        c.send_msg(b"installed")
        assert a.recv_msg(timeout=10) == b"installed"
print("round trip through the installed package, no environment variable: ok")
PYEOF

echo "== ARSOCK_LIBRARY still overrides the shipped copy"
ARSOCK_LIBRARY="$ARSOCK_LIBRARY" "$VENV/bin/python" -c '
import os, arsock
assert arsock.library_path == os.environ["ARSOCK_LIBRARY"], arsock.library_path
print("ARSOCK_LIBRARY wins:", arsock.library_path)'

echo "== unit tests against the installed package"
ARSOCK_TEST_INSTALLED=1 "$VENV/bin/python" -m unittest discover -s "$PY_DIR/tests"

echo "== all Python binding tests passed"
