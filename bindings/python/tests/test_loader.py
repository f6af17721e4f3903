"""Where the native library is looked for, and the errors when it is not found."""

from __future__ import annotations

import ctypes.util
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from _support import PY_DIR, REPO, arsock

from arsock import _ffi

PACKAGE_DIR = Path(arsock.__file__).resolve().parent


def run_python(code: str, cwd: str, env_extra: dict, drop=("ARSOCK_LIBRARY",)) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in drop and k != "PYTHONPATH"}
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


class SearchOrder(unittest.TestCase):
    def test_candidates_in_order(self) -> None:
        pkg = Path("/r/bindings/python/src/arsock")
        lib = _ffi.LIBRARY_FILE
        got = _ffi.candidate_paths({"ARSOCK_LIBRARY": "/custom/lib.so"}, pkg)
        self.assertEqual(
            [p for _, p in got],
            [
                "/custom/lib.so",
                f"/r/bindings/python/src/arsock/{lib}",
                f"/r/target/release/{lib}",
                f"/r/target/debug/{lib}",
                "find_library('arsock')",
            ],
        )
        self.assertEqual(_ffi.candidate_paths({}, pkg)[0][1], str(pkg / lib))

    def test_an_installed_copy_looks_in_no_target_directory(self) -> None:
        pkg = Path("/venv/lib/python3.11/site-packages/arsock")
        lib = _ffi.LIBRARY_FILE
        got = [p for _, p in _ffi.candidate_paths({}, pkg)]
        self.assertEqual(got, [str(pkg / lib), "find_library('arsock')"])
        self.assertIsNone(_ffi.source_repository(pkg))
        self.assertEqual(_ffi.source_repository(Path("/r/bindings/python/src/arsock")), Path("/r"))

    def test_loaded_library_is_a_file(self) -> None:
        self.assertTrue(Path(arsock.library_path).is_file() or "/" not in arsock.library_path)


class FromTheSourceTree(unittest.TestCase):
    def test_cargo_target_dir_of_the_repository(self) -> None:
        built = [REPO / "target" / p / _ffi.LIBRARY_FILE for p in ("release", "debug")]
        built = [p for p in built if p.is_file()]
        if not built:
            self.skipTest("the library is not built in target/")
        code = "import arsock; print(arsock.library_path)"
        r = run_python(code, str(REPO), {"PYTHONPATH": str(PY_DIR / "src")}, drop=("ARSOCK_LIBRARY",))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), str(built[0]))


class InSubprocess(unittest.TestCase):
    """Import copies of the package placed in a temporary directory."""

    def setUp(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="arsock-loader-")
        shutil.copytree(PACKAGE_DIR, Path(self.tmp) / "arsock",
                        ignore=shutil.ignore_patterns("__pycache__", "libarsock*", "arsock.dll"))

    def tearDown(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_env_var_wins(self) -> None:
        r = run_python("import arsock; print(arsock.library_path)", self.tmp,
                       {"ARSOCK_LIBRARY": arsock.library_path})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), arsock.library_path)

    def test_env_var_pointing_nowhere_is_an_error(self) -> None:
        r = run_python("import arsock", self.tmp, {"ARSOCK_LIBRARY": "/nonexistent/libarsock.so"})
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("ImportError", r.stderr)
        self.assertIn("ARSOCK_LIBRARY", r.stderr)
        self.assertIn("/nonexistent/libarsock.so", r.stderr)

    def test_copy_shipped_in_the_package(self) -> None:
        shipped = Path(self.tmp) / "arsock" / _ffi.LIBRARY_FILE
        shutil.copy(arsock.library_path, shipped)
        code = "import arsock; print(arsock.library_path); print(arsock.version())"
        r = run_python(code, self.tmp, {})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.split()[0], str(shipped))

    def test_nothing_found_lists_where_it_looked(self) -> None:
        if ctypes.util.find_library("arsock") is not None:
            self.skipTest("a system-wide libarsock is installed")
        r = run_python("import arsock", self.tmp, {})
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("ImportError", r.stderr)
        self.assertIn("Looked in", r.stderr)
        self.assertIn(str(Path(self.tmp) / "arsock" / _ffi.LIBRARY_FILE), r.stderr)
        self.assertIn("find_library", r.stderr)
        # An installed copy: what to do is to reinstall from a clone, nothing about target/.
        self.assertIn("pip install ./bindings/python", r.stderr)
        self.assertIn("cargo build --release", r.stderr)
        self.assertIn("ARSOCK_LIBRARY", r.stderr)
        self.assertNotIn("target/release", r.stderr)


if __name__ == "__main__":
    unittest.main()
