"""Loading of the native library and the ctypes declaration of every function of arsock.h.

Search order (the first that exists wins; ``ARSOCK_LIBRARY`` is never skipped silently):

1. the path in the environment variable ``ARSOCK_LIBRARY``;
2. a copy shipped inside this package directory;
3. when this package is the source tree (``<repo>/bindings/python/src/arsock``), the
   repository's cargo target directory (``target/release``, then ``target/debug``);
4. the system loader (``ctypes.util.find_library("arsock")``, e.g. after scripts/install.sh).

``pip install ./bindings/python`` builds the library and ships it inside the package (2.).

Keep :data:`FUNCTIONS` in step with include/arsock.h: tests/test_drift.py parses the header and
fails on any difference in names, argument types or return types.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

#: ARSOCK_ABI_VERSION of the header this binding was written against.
EXPECTED_ABI_VERSION = 1

if sys.platform == "darwin":
    LIBRARY_FILE = "libarsock.dylib"
elif sys.platform == "win32":
    LIBRARY_FILE = "arsock.dll"
else:
    LIBRARY_FILE = "libarsock.so"

_PACKAGE_DIR = Path(__file__).resolve().parent


class arsock_buf(ctypes.Structure):
    """``struct arsock_buf``: one message for ``arsock_client_send_msgs`` or from
    ``arsock_client_recv_msgs``."""

    _fields_ = [("data", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class arsock_hub_config(ctypes.Structure):
    """``struct arsock_hub_config``: settings of ``arsock_hub_start`` (session.py fills it)."""

    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("host", ctypes.c_char_p),
        ("port", ctypes.c_uint16),
        ("max_peers_per_room", ctypes.c_uint32),
        ("heartbeat_ms", ctypes.c_int32),
        ("stale_after_ms", ctypes.c_int32),
        ("resume_grace_ms", ctypes.c_int32),
        ("token", ctypes.c_char_p),
    ]


class arsock_session_config(ctypes.Structure):
    """``struct arsock_session_config``: settings of ``arsock_session_open``."""

    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("token", ctypes.c_char_p),
        ("name", ctypes.c_char_p),
        ("connect_timeout_ms", ctypes.c_int32),
    ]


class arsock_event(ctypes.Structure):
    """``struct arsock_event``: one event of ``arsock_session_poll``."""

    _fields_ = [
        ("kind", ctypes.c_uint32),
        ("peer", ctypes.c_uint32),
        ("reason", ctypes.c_int32),
        ("flags", ctypes.c_uint32),
        ("payload", ctypes.c_uint64),
        ("size", ctypes.c_uint64),
        ("time_us", ctypes.c_int64),
    ]


class arsock_pose(ctypes.Structure):
    """``struct arsock_pose``: one pose of one entity of one peer (56 bytes)."""

    _fields_ = [
        ("peer", ctypes.c_uint32),
        ("entity", ctypes.c_uint32),
        ("time_us", ctypes.c_int64),
        ("position", ctypes.c_float * 3),
        ("rotation", ctypes.c_float * 4),
        ("seq", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("reserved", ctypes.c_uint32),
    ]


arsock_handle = ctypes.c_uint64
arsock_status = ctypes.c_int32

#: name -> (restype, argtypes), one entry per function of include/arsock.h.
#: Byte buffers are declared ``c_void_p`` so that bytes, ctypes arrays and addresses all pass.
FUNCTIONS: Dict[str, Tuple[object, List[object]]] = {
    "arsock_client_connect": (
        arsock_status,
        [ctypes.c_char_p, ctypes.c_uint16, ctypes.c_int32, ctypes.POINTER(arsock_handle)],
    ),
    "arsock_client_send": (arsock_status, [arsock_handle, ctypes.c_void_p, ctypes.c_size_t]),
    "arsock_client_recv": (
        arsock_status,
        [
            arsock_handle,
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_int32,
            ctypes.POINTER(ctypes.c_size_t),
        ],
    ),
    "arsock_client_set_send_timeout": (arsock_status, [arsock_handle, ctypes.c_int32]),
    "arsock_client_set_send_queue_limit": (arsock_status, [arsock_handle, ctypes.c_size_t]),
    "arsock_client_send_queue_len": (
        arsock_status,
        [arsock_handle, ctypes.POINTER(ctypes.c_size_t)],
    ),
    "arsock_client_set_frame_timeout": (arsock_status, [arsock_handle, ctypes.c_int32]),
    "arsock_close": (arsock_status, [arsock_handle]),
    "arsock_last_error_message": (ctypes.c_char_p, []),
    "arsock_client_send_msg": (
        arsock_status,
        [arsock_handle, ctypes.c_void_p, ctypes.c_size_t],
    ),
    "arsock_client_send_msgs": (
        arsock_status,
        [arsock_handle, ctypes.POINTER(arsock_buf), ctypes.c_size_t],
    ),
    "arsock_client_recv_msg": (
        arsock_status,
        [
            arsock_handle,
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_int32,
            ctypes.POINTER(ctypes.c_size_t),
        ],
    ),
    "arsock_client_recv_msgs": (
        arsock_status,
        [
            arsock_handle,
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.POINTER(arsock_buf),
            ctypes.c_size_t,
            ctypes.c_int32,
            ctypes.POINTER(ctypes.c_size_t),
        ],
    ),
    "arsock_client_set_max_message": (arsock_status, [arsock_handle, ctypes.c_size_t]),
    "arsock_server_bind": (
        arsock_status,
        [ctypes.c_char_p, ctypes.c_uint16, ctypes.POINTER(arsock_handle)],
    ),
    "arsock_server_listen": (arsock_status, [arsock_handle, ctypes.c_int32]),
    "arsock_server_accept": (
        arsock_status,
        [arsock_handle, ctypes.c_int32, ctypes.POINTER(arsock_handle)],
    ),
    "arsock_server_local_port": (
        arsock_status,
        [arsock_handle, ctypes.POINTER(ctypes.c_uint16)],
    ),
    "arsock_status_str": (ctypes.c_char_p, [ctypes.c_int32]),
    "arsock_version": (ctypes.c_char_p, []),
    "arsock_abi_version": (ctypes.c_uint32, []),
}

# Sessions (issue 10): hubs and sessions.
FUNCTIONS.update({
    "arsock_hub_config_init": (None, [ctypes.POINTER(arsock_hub_config)]),
    "arsock_hub_start": (
        arsock_status,
        [ctypes.POINTER(arsock_hub_config), ctypes.POINTER(arsock_handle)],
    ),
    "arsock_hub_local_port": (
        arsock_status,
        [arsock_handle, ctypes.POINTER(ctypes.c_uint16)],
    ),
    "arsock_session_config_init": (None, [ctypes.POINTER(arsock_session_config)]),
    "arsock_session_open": (
        arsock_status,
        [
            ctypes.c_char_p,
            ctypes.c_uint16,
            ctypes.c_char_p,
            ctypes.POINTER(arsock_session_config),
            ctypes.POINTER(arsock_handle),
        ],
    ),
    "arsock_session_poll": (
        arsock_status,
        [
            arsock_handle,
            ctypes.POINTER(arsock_event),
            ctypes.c_size_t,
            ctypes.c_int32,
            ctypes.POINTER(ctypes.c_size_t),
        ],
    ),
    "arsock_session_read": (
        arsock_status,
        [
            arsock_handle,
            ctypes.c_uint64,
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.POINTER(ctypes.c_size_t),
        ],
    ),
    "arsock_session_send": (
        arsock_status,
        [arsock_handle, ctypes.c_uint32, ctypes.c_void_p, ctypes.c_size_t],
    ),
    "arsock_session_set_state": (
        arsock_status,
        [arsock_handle, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t],
    ),
    "arsock_session_get_state": (
        arsock_status,
        [
            arsock_handle,
            ctypes.c_char_p,
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.POINTER(ctypes.c_size_t),
        ],
    ),
    "arsock_session_delete_state": (arsock_status, [arsock_handle, ctypes.c_char_p]),
    "arsock_session_peer_id": (
        arsock_status,
        [arsock_handle, ctypes.POINTER(ctypes.c_uint32)],
    ),
    "arsock_session_peer_name": (
        arsock_status,
        [
            arsock_handle,
            ctypes.c_uint32,
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.POINTER(ctypes.c_size_t),
        ],
    ),
})


# Poses, room clock and blobs of a session (issue 11).
FUNCTIONS.update({
    "arsock_session_send_poses": (
        arsock_status,
        [arsock_handle, ctypes.POINTER(arsock_pose), ctypes.c_size_t],
    ),
    "arsock_session_latest_poses": (
        arsock_status,
        [
            arsock_handle,
            ctypes.POINTER(arsock_pose),
            ctypes.c_size_t,
            ctypes.POINTER(ctypes.c_size_t),
        ],
    ),
    "arsock_session_sample_poses": (
        arsock_status,
        [
            arsock_handle,
            ctypes.c_int64,
            ctypes.POINTER(arsock_pose),
            ctypes.c_size_t,
            ctypes.POINTER(ctypes.c_size_t),
        ],
    ),
    "arsock_session_time": (
        arsock_status,
        [arsock_handle, ctypes.POINTER(ctypes.c_int64), ctypes.POINTER(ctypes.c_int64)],
    ),
    "arsock_session_put_blob": (
        arsock_status,
        [arsock_handle, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t],
    ),
    "arsock_session_get_blob": (
        arsock_status,
        [
            arsock_handle,
            ctypes.c_char_p,
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.POINTER(ctypes.c_size_t),
        ],
    ),
    "arsock_session_delete_blob": (arsock_status, [arsock_handle, ctypes.c_char_p]),
})


def candidate_paths(
    environ: Mapping[str, str] = os.environ,
    package_dir: Path = _PACKAGE_DIR,
) -> List[Tuple[str, str]]:
    """The places searched, in order, as (description, path-or-name) pairs."""
    out: List[Tuple[str, str]] = []
    env = environ.get("ARSOCK_LIBRARY")
    if env:
        out.append(("$ARSOCK_LIBRARY", env))
    out.append(("copy shipped in the package", str(package_dir / LIBRARY_FILE)))
    repo = source_repository(package_dir)
    if repo is not None:
        for profile in ("release", "debug"):
            out.append(
                ("cargo target/" + profile, str(repo / "target" / profile / LIBRARY_FILE))
            )
    out.append(("system loader", "find_library('arsock')"))
    return out


def source_repository(package_dir: Path = _PACKAGE_DIR) -> Optional[Path]:
    """The repository root if ``package_dir`` is ``<repo>/bindings/python/src/arsock`` (the
    source tree, or an editable install), else None (an installed copy)."""
    parents = package_dir.parents
    if len(parents) < 4:
        return None
    if [parents[i].name for i in range(3)] != ["src", "python", "bindings"]:
        return None
    return parents[3]


def _load() -> Tuple[ctypes.CDLL, str]:
    looked: List[str] = []
    for what, where in candidate_paths():
        if what == "system loader":
            name = ctypes.util.find_library("arsock")
            if name is None:
                looked.append(f"  {what}: ctypes.util.find_library('arsock') found nothing")
                continue
            try:
                return ctypes.CDLL(name), name
            except OSError as e:
                looked.append(f"  {what}: {name}: {e}")
                continue
        path = Path(where)
        if what == "$ARSOCK_LIBRARY":
            # An explicit choice: fail loudly instead of silently using another copy.
            try:
                return ctypes.CDLL(str(path)), str(path)
            except OSError as e:
                raise ImportError(
                    f"arsock: cannot load the library named by ARSOCK_LIBRARY={where!r}: {e}"
                ) from e
        if not path.is_file():
            looked.append(f"  {what}: {path} (not found)")
            continue
        try:
            return ctypes.CDLL(str(path)), str(path)
        except OSError as e:
            looked.append(f"  {what}: {path}: {e}")
    if source_repository() is not None:
        todo = (
            "Build it: `cargo build --release` in the arsock repository, or set ARSOCK_LIBRARY "
            "to the full path of a libarsock."
        )
    else:
        todo = (
            "This installed copy of the package has no library inside. Reinstall it from an "
            "arsock clone with `pip install ./bindings/python` (runs `cargo build --release` "
            "and puts the library in the package), install the C library system-wide "
            "(`sudo scripts/install.sh`), or set ARSOCK_LIBRARY to the full path of a libarsock."
        )
    raise ImportError(
        f"arsock: cannot find the native library {LIBRARY_FILE}. Looked in, in order:\n"
        + "\n".join(looked)
        + "\n"
        + todo
    )


def check_abi(found: int, expected: int = EXPECTED_ABI_VERSION, path: str = "?") -> None:
    """Raise ImportError unless the library's ABI version is the one this binding expects."""
    if found != expected:
        raise ImportError(
            f"arsock: ABI version mismatch: the library {path} has ABI version {found}, "
            f"this Python binding needs ABI version {expected}. Use a library and a binding "
            "from the same arsock release."
        )


def _declare(lib: ctypes.CDLL) -> None:
    missing = []
    for name, (restype, argtypes) in FUNCTIONS.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            missing.append(name)
            continue
        fn.restype = restype
        fn.argtypes = argtypes
    if missing:
        raise ImportError(
            "arsock: the library does not export " + ", ".join(missing)
            + " (library and binding are from different versions?)"
        )


lib, library_path = _load()
# The ABI version first: with another ABI even the other declarations may be wrong.
lib.arsock_abi_version.restype = ctypes.c_uint32
lib.arsock_abi_version.argtypes = []
check_abi(int(lib.arsock_abi_version()), EXPECTED_ABI_VERSION, library_path)
_declare(lib)


def last_error_message() -> str:
    """Text of ``arsock_last_error_message()`` for the calling thread."""
    raw: Optional[bytes] = lib.arsock_last_error_message()
    return raw.decode("utf-8", "replace") if raw else ""


def status_str(status: int) -> str:
    """Text of ``arsock_status_str(status)``."""
    raw: Optional[bytes] = lib.arsock_status_str(int(status))
    return raw.decode("utf-8", "replace") if raw else ""


def declared_names() -> Sequence[str]:
    return sorted(FUNCTIONS)
