"""The binding against include/arsock.h: functions, types, struct, statuses, constants."""

from __future__ import annotations

import ctypes
import re
import unittest
from typing import Dict, List, Tuple

from _support import CARGO_TOML, HEADER, arsock

from arsock import _ffi

# C type (without const/struct, spaces normalised) -> the ctypes type the binding must use.
C_TO_CTYPES: Dict[str, object] = {
    "void": None,
    "arsock_status": ctypes.c_int32,
    "arsock_handle": ctypes.c_uint64,
    "arsock_handle *": ctypes.POINTER(ctypes.c_uint64),
    "char *": ctypes.c_char_p,
    "uint8_t *": ctypes.c_void_p,  # byte buffers: c_void_p accepts bytes and ctypes arrays
    "uint16_t": ctypes.c_uint16,
    "uint16_t *": ctypes.POINTER(ctypes.c_uint16),
    "int32_t": ctypes.c_int32,
    "uint32_t": ctypes.c_uint32,
    "size_t": ctypes.c_size_t,
    "size_t *": ctypes.POINTER(ctypes.c_size_t),
    "uint32_t *": ctypes.POINTER(ctypes.c_uint32),
    "uint64_t": ctypes.c_uint64,
    "int64_t": ctypes.c_int64,
    "arsock_hub_config *": ctypes.POINTER(_ffi.arsock_hub_config),
    "arsock_session_config *": ctypes.POINTER(_ffi.arsock_session_config),
    "arsock_event *": ctypes.POINTER(_ffi.arsock_event),
    "arsock_buf *": ctypes.POINTER(_ffi.arsock_buf),
    "arsock_pose *": ctypes.POINTER(_ffi.arsock_pose),
    "int64_t *": ctypes.POINTER(ctypes.c_int64),
}


def header_text() -> str:
    text = HEADER.read_text(encoding="utf-8")
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def code_text() -> str:
    """The header without comments and preprocessor lines."""
    return re.sub(r"^\s*#[^\n]*", " ", header_text(), flags=re.M)


def norm_type(t: str) -> str:
    t = re.sub(r"\b(const|struct)\b", " ", t)
    t = t.replace("*", " * ")
    return " ".join(t.split()).replace(" *", " *").strip()


def split_param(p: str) -> str:
    """'const char *host' -> 'char *'."""
    p = " ".join(p.replace("*", " * ").split())
    m = re.match(r"^(.*?)\s*(\w+)$", p)
    assert m, p
    return norm_type(m.group(1))


def header_functions() -> Dict[str, Tuple[str, List[str]]]:
    text = " ".join(code_text().split())
    out: Dict[str, Tuple[str, List[str]]] = {}
    for m in re.finditer(r"([A-Za-z_][\w\s\*]*?)\b(arsock_\w+)\s*\(([^()]*)\)\s*;", text):
        ret, name, params = m.group(1), m.group(2), m.group(3).strip()
        ret = re.split(r"[;{}]", ret)[-1]
        args = [] if params in ("", "void") else [split_param(p) for p in params.split(",")]
        out[name] = (norm_type(ret), args)
    return out


class FunctionDrift(unittest.TestCase):
    def test_parser_sees_the_header(self) -> None:
        fns = header_functions()
        self.assertGreaterEqual(len(fns), 15)
        self.assertIn("arsock_client_connect", fns)
        self.assertEqual(
            fns["arsock_client_connect"],
            ("arsock_status", ["char *", "uint16_t", "int32_t", "arsock_handle *"]),
        )

    def test_same_function_names(self) -> None:
        in_header = set(header_functions())
        in_python = set(_ffi.FUNCTIONS)
        self.assertEqual(sorted(in_header - in_python), [], "in arsock.h, missing in _ffi.py")
        self.assertEqual(sorted(in_python - in_header), [], "in _ffi.py, not in arsock.h")

    def test_same_signatures(self) -> None:
        for name, (ret, args) in header_functions().items():
            with self.subTest(function=name):
                restype, argtypes = _ffi.FUNCTIONS[name]
                for c in [ret] + args:
                    self.assertIn(c, C_TO_CTYPES, f"no ctypes mapping for C type {c!r}")
                self.assertIs(restype, C_TO_CTYPES[ret], f"return type of {name}")
                self.assertEqual(len(argtypes), len(args), f"argument count of {name}")
                for i, (c, py) in enumerate(zip(args, argtypes)):
                    self.assertIs(py, C_TO_CTYPES[c], f"argument {i} of {name}: {c}")

    def test_declarations_are_applied_to_the_loaded_library(self) -> None:
        for name, (restype, argtypes) in _ffi.FUNCTIONS.items():
            fn = getattr(_ffi.lib, name)
            self.assertIs(fn.restype, restype, name)
            self.assertEqual(list(fn.argtypes), list(argtypes), name)

    def test_struct_arsock_buf(self) -> None:
        m = re.search(r"typedef struct arsock_buf\s*\{(.*?)\}\s*arsock_buf\s*;", header_text(), re.S)
        self.assertIsNotNone(m)
        fields = [f.strip() for f in m.group(1).split(";") if f.strip()]
        parsed = []
        for f in fields:
            f = " ".join(f.replace("*", " * ").split())
            fm = re.match(r"^(.*?)\s*(\w+)$", f)
            parsed.append((fm.group(2), norm_type(fm.group(1))))
        self.assertEqual([n for n, _ in parsed], [n for n, _ in _ffi.arsock_buf._fields_])
        for (name, ctype), (_, pytype) in zip(parsed, _ffi.arsock_buf._fields_):
            self.assertIs(pytype, C_TO_CTYPES[ctype], name)
        self.assertEqual(ctypes.sizeof(_ffi.arsock_buf), 2 * ctypes.sizeof(ctypes.c_void_p))


class ValueDrift(unittest.TestCase):
    def test_status_values(self) -> None:
        m = re.search(r"enum arsock_status[^{]*\{(.*?)\}\s*;", header_text(), re.S)
        self.assertIsNotNone(m)
        in_header = {n: int(v) for n, v in re.findall(r"(ARSOCK_\w+)\s*=\s*(-?\d+)", m.group(1))}
        self.assertGreaterEqual(len(in_header), 15)
        in_python = {"ARSOCK_" + s.name: int(s) for s in arsock.Status}
        self.assertEqual(in_python, in_header)

    def test_defines(self) -> None:
        defines = dict(re.findall(r"^#define (ARSOCK_\w+)[ \t]+(.+?)\s*$", header_text(), re.M))
        self.assertIn("ARSOCK_ABI_VERSION", defines)
        for name, expr in defines.items():
            with self.subTest(define=name):
                if expr.startswith('"'):
                    value: object = expr.strip('"')
                else:
                    self.assertRegex(expr, r"^[\d\s()*+-]+$", "unexpected #define form")
                    value = eval(expr, {"__builtins__": {}})  # digits and operators only
                py_name = name[len("ARSOCK_"):]
                self.assertTrue(hasattr(arsock, py_name), f"arsock.{py_name} is missing")
                self.assertEqual(getattr(arsock, py_name), value)

    def test_session_enums_are_the_header_constants(self) -> None:
        defines = dict(re.findall(r"^#define ARSOCK_(\w+)[ \t]+(-?\d+)\s*$", header_text(), re.M))
        for prefix, enum_cls in (("EVENT_", arsock.EventKind), ("REASON_", arsock.Reason)):
            in_header = {
                n[len(prefix):]: int(v)
                for n, v in defines.items()
                if n.startswith(prefix) and not n.startswith("REASON_APP_")  # a range, not a reason
            }
            self.assertGreaterEqual(len(in_header), 10, prefix)
            self.assertEqual({m.name: int(m) for m in enum_cls}, in_header, enum_cls.__name__)

    def test_package_version_is_the_crate_version(self) -> None:
        m = re.search(r'^\[package\][^\[]*?^version\s*=\s*"([^"]+)"', CARGO_TOML.read_text(), re.M | re.S)
        self.assertIsNotNone(m)
        self.assertEqual(arsock.__version__, m.group(1))
        self.assertEqual(arsock.version(), m.group(1), "the loaded library is another version")


class SessionStructDrift(unittest.TestCase):
    """Every struct of the header has a ctypes Structure in _ffi.py of the same name, with the
    same fields and types (struct fields: ``const char *`` is ``c_char_p``)."""

    def test_every_header_struct_is_bound_with_the_same_fields(self) -> None:
        text = header_text()
        names = re.findall(r"typedef struct (\w+)\s*\{", text)
        for required in ("arsock_hub_config", "arsock_session_config", "arsock_event"):
            self.assertIn(required, names)
        for name in names:
            with self.subTest(struct=name):
                self.assertTrue(hasattr(_ffi, name), f"struct {name} has no ctypes class in _ffi.py")
                m = re.search(r"typedef struct %s\s*\{(.*?)\}\s*%s\s*;" % (name, name), text, re.S)
                assert m is not None
                parsed = []
                for f in (f.strip() for f in m.group(1).split(";")):
                    if f:
                        f = " ".join(f.replace("*", " * ").split())
                        am = re.match(r"^(.*?)\s*(\w+)\s*\[(\d+)\]$", f)  # "float position[3]"
                        fm = am or re.match(r"^(.*?)\s*(\w+)$", f)
                        assert fm is not None, f
                        count = int(am.group(3)) if am else 0
                        parsed.append((fm.group(2), norm_type(fm.group(1)), count))
                fields = getattr(_ffi, name)._fields_
                self.assertEqual([n for n, _, _ in parsed], [f[0] for f in fields])
                for (field, ctype, count), f in zip(parsed, fields):
                    if count:  # an array field: only float arrays so far
                        self.assertEqual(ctype, "float", f"{name}.{field}")
                        self.assertIs(f[1]._type_, ctypes.c_float, f"{name}.{field}")
                        self.assertEqual(f[1]._length_, count, f"{name}.{field}")
                        continue
                    self.assertIn(ctype, C_TO_CTYPES, f"{name}.{field}: no ctypes mapping for {ctype!r}")
                    self.assertIs(f[1], C_TO_CTYPES[ctype], f"{name}.{field}")

    def test_config_init_writes_the_struct_size_the_binding_uses(self) -> None:
        hub = _ffi.arsock_hub_config()
        _ffi.lib.arsock_hub_config_init(ctypes.byref(hub))
        self.assertEqual(hub.struct_size, ctypes.sizeof(_ffi.arsock_hub_config))
        sess = _ffi.arsock_session_config()
        _ffi.lib.arsock_session_config_init(ctypes.byref(sess))
        self.assertEqual(sess.struct_size, ctypes.sizeof(_ffi.arsock_session_config))
        self.assertEqual(ctypes.sizeof(_ffi.arsock_event), 40)
        self.assertEqual(_ffi.arsock_event.payload.offset, 16)
        self.assertEqual(ctypes.sizeof(_ffi.arsock_pose), 56)


if __name__ == "__main__":
    unittest.main()
