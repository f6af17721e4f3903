"""Build hook of the arsock Python package (the metadata is in pyproject.toml).

``pip install ./bindings/python`` from an arsock clone puts the native library inside the
package, so ``import arsock`` needs no environment variable. The library comes from, in order:

1. ``ARSOCK_LIB_DIR=dir``: ``dir/libarsock.so`` (an existing build);
2. in a clone (``../../Cargo.toml`` next to this file): ``cargo build --release --lib``, which
   does nothing when the release build is up to date;
3. a copy already placed in ``src/arsock/`` (a source tree without the Rust sources).

Otherwise the build stops and says what to do. Because the wheel then holds a native binary,
it is tagged for this platform (``py3-none-linux_x86_64`` on x86_64 Linux): any Python 3, one
operating system and CPU. Editable installs (``pip install -e``) ship nothing: the package
finds the clone's ``target/release`` by itself.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

try:  # setuptools >= 70.1 has its own; before that it came with the `wheel` package
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # pragma: no cover - old setuptools
    from wheel.bdist_wheel import bdist_wheel

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
if sys.platform == "darwin":
    LIBRARY_FILE = "libarsock.dylib"
elif sys.platform == "win32":
    LIBRARY_FILE = "arsock.dll"
else:
    LIBRARY_FILE = "libarsock.so"


class NoLibrary(Exception):
    pass


def cargo_build() -> Path:
    """`cargo build --release --lib` in the clone; the path of the cdylib cargo reports."""
    cargo = os.environ.get("CARGO") or shutil.which("cargo")
    if not cargo:
        raise NoLibrary(
            "cargo (Rust) is not installed, and the arsock Python package needs the native "
            "library built from this clone. Install Rust (https://rustup.rs) and run pip again, "
            f"or set ARSOCK_LIB_DIR to a directory that holds {LIBRARY_FILE}."
        )
    cmd = [cargo, "build", "--release", "--lib", "--message-format=json-render-diagnostics"]
    print("arsock: " + " ".join(cmd[1:]) + f" (in {REPO})", file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, cwd=REPO, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise NoLibrary(f"`cargo build --release --lib` failed in {REPO} (exit {proc.returncode})")
    for line in proc.stdout.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if msg.get("reason") != "compiler-artifact" or msg["target"]["name"] != "arsock":
            continue
        for name in msg.get("filenames", []):
            if Path(name).name == LIBRARY_FILE:
                return Path(name)
    raise NoLibrary(f"`cargo build --release --lib` reported no {LIBRARY_FILE}")


def find_library() -> Path:
    lib_dir = os.environ.get("ARSOCK_LIB_DIR")
    if lib_dir:
        path = Path(lib_dir) / LIBRARY_FILE
        if not path.is_file():
            raise NoLibrary(f"ARSOCK_LIB_DIR={lib_dir}: {path} does not exist")
        return path
    if (REPO / "Cargo.toml").is_file():
        return cargo_build()
    copy = HERE / "src" / "arsock" / LIBRARY_FILE
    if copy.is_file():
        return copy
    raise NoLibrary(
        f"no {LIBRARY_FILE} to put in the package: this is not inside an arsock clone "
        f"({REPO / 'Cargo.toml'} does not exist) and {copy} does not exist. Install from a "
        "clone (`pip install ./bindings/python`), or set ARSOCK_LIB_DIR to a directory that "
        f"holds {LIBRARY_FILE}."
    )


class BuildPyWithLibrary(build_py):
    """build_py, plus the native library copied into the built package."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        try:
            lib = find_library()
        except NoLibrary as e:
            raise SystemExit(f"arsock: {e}") from None
        dest = Path(self.build_lib) / "arsock" / LIBRARY_FILE
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(lib, dest)
        os.chmod(dest, 0o755)
        print(f"arsock: shipping {lib} in the package", file=sys.stderr, flush=True)


class NativeDistribution(Distribution):
    """Holds a native library: installed into platlib, so it sits at the wheel's root."""

    def has_ext_modules(self) -> bool:
        return True


class PlatformWheel(bdist_wheel):
    """A wheel for this platform: any Python 3 (ctypes, no extension module), no ABI tag."""

    def finalize_options(self) -> None:
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):
        _, _, platform = super().get_tag()
        return "py3", "none", platform


setup(
    distclass=NativeDistribution,
    cmdclass={"build_py": BuildPyWithLibrary, "bdist_wheel": PlatformWheel},
)
