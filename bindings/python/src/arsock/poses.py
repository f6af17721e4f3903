"""Poses, the room clock and blobs of a :class:`~arsock.Session` (mixed into it).

::

    s.send_poses([arsock.Pose(entity=HEAD, position=(0, 1.6, 0), rotation=(0, 0, 0, 1))])
    for p in s.sample_poses(s.time()[0] - 50_000):   # every remote entity, 50 ms ago
        print(p.peer, p.entity, p.position, p.rotation)
    s.put_blob("world/map", data)                      # returns at once, uploads behind poses
    for ev in s.poll(timeout=1):
        if ev.kind == arsock.EventKind.BLOB_AVAILABLE and not ev.flags & arsock.BLOB_DELETED:
            body = s.get_blob(s.blob_key(ev))

Room time is the hub's clock in microseconds (:meth:`SessionPoses.time`). A pose's
``time_us`` of 0 on send means "now". Only the newest pose per (peer, entity) is kept and
forwarded; a pose older than one already seen is never reported.
"""

from __future__ import annotations

import ctypes
from typing import Iterable, List, NamedTuple, Optional, Sequence, Tuple, Union

from . import _ffi
from ._core import BytesLike, _check, _invalid, _pin
from ._ffi import lib
from .errors import NotFoundError, StateError, Status

#: BLOB_AVAILABLE flags: the blob was deleted (size 0) / this session's upload was refused.
BLOB_DELETED = 8
BLOB_REFUSED = 16
#: Largest blob, and the blob bytes a room (and a session) holds: 64 MiB, 256 MiB.
SESSION_MAX_BLOB = 64 * 1024 * 1024
SESSION_BLOB_BUDGET = 256 * 1024 * 1024
#: Most poses per send_poses call; most entities per peer; extrapolation limit (µs).
SESSION_MAX_POSES = 4096
POSE_MAX_ENTITIES = 256
POSE_MAX_EXTRAPOLATION_US = 100_000

_PROBE = 64  # poses tried first by latest/sample; more get an array of their own


class Pose(NamedTuple):
    """A pose: ``position`` in metres, ``rotation`` a unit quaternion (x, y, z, w),
    ``time_us`` room time of capture (0 on send = now). ``peer`` and ``seq`` are filled by
    arsock (ignored on send)."""

    entity: int = 0
    position: Tuple[float, float, float] = (0.0, 0.0, 0.0)
    rotation: Tuple[float, float, float, float] = (0.0, 0.0, 0.0, 1.0)
    time_us: int = 0
    flags: int = 0
    peer: int = 0
    seq: int = 0

    @classmethod
    def from_c(cls, p: _ffi.arsock_pose) -> "Pose":
        return cls(
            entity=p.entity,
            position=(p.position[0], p.position[1], p.position[2]),
            rotation=(p.rotation[0], p.rotation[1], p.rotation[2], p.rotation[3]),
            time_us=p.time_us,
            flags=p.flags,
            peer=p.peer,
            seq=p.seq,
        )

    def to_c(self, out: _ffi.arsock_pose) -> None:
        if len(self.position) != 3 or len(self.rotation) != 4:
            raise _invalid("a pose has 3 position and 4 rotation components")
        out.peer = 0
        out.entity = int(self.entity)
        out.time_us = int(self.time_us)
        for i in range(3):
            out.position[i] = float(self.position[i])
        for i in range(4):
            out.rotation[i] = float(self.rotation[i])
        out.seq = 0
        out.flags = int(self.flags)
        out.reserved = 0


def _key(key: Union[str, bytes]) -> bytes:
    raw = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if b"\0" in raw:
        raise _invalid("key must not contain NUL")
    return raw


class SessionPoses:
    """The pose, clock and blob methods of :class:`~arsock.Session`."""

    _handle: int

    # -- poses ------------------------------------------------------------------------------

    def send_poses(self, poses: Iterable[Pose]) -> None:
        """Send poses of this device's entities (all or nothing: one bad pose, e.g. NaN, a
        rotation whose norm is outside [0.5, 2] or a position beyond ±200 km, raises
        :class:`InvalidArgument` and nothing is sent)."""
        items: Sequence[Pose] = list(poses)
        arr = (_ffi.arsock_pose * max(len(items), 1))()
        for i, p in enumerate(items):
            if not isinstance(p, Pose):
                raise TypeError(f"poses must be arsock.Pose, not {type(p).__name__}")
            p.to_c(arr[i])
        _check(lib.arsock_session_send_poses(self._handle, arr, len(items)))

    def _poses(self, fn, *args) -> List[Pose]:  # type: ignore[no-untyped-def]
        cap = _PROBE
        n = ctypes.c_size_t()
        while True:
            arr = (_ffi.arsock_pose * cap)()
            status = fn(self._handle, *args, arr, cap, ctypes.byref(n))
            if status == Status.OK:
                return [Pose.from_c(arr[i]) for i in range(min(n.value, cap))]
            if status != Status.ERR_BUFFER_TOO_SMALL:
                _check(status)
            cap = max(n.value, 1)  # grown meanwhile? then ask again

    def latest_poses(self) -> List[Pose]:
        """The newest pose of every remote (peer, entity), sorted by peer then entity."""
        return self._poses(lib.arsock_session_latest_poses)

    def sample_poses(self, render_time_us: int) -> List[Pose]:
        """Every remote entity at ``render_time_us`` (room time): interpolated between received
        poses, extrapolated at most 100 ms past the newest, then held."""
        return self._poses(lib.arsock_session_sample_poses, int(render_time_us))

    # -- clock ------------------------------------------------------------------------------

    def time(self) -> Tuple[int, int]:
        """(room time now, error bound), microseconds; :class:`StateError` until the first
        clock exchange (shortly after JOINED)."""
        t = ctypes.c_int64()
        b = ctypes.c_int64()
        _check(lib.arsock_session_time(self._handle, ctypes.byref(t), ctypes.byref(b)))
        return t.value, b.value

    def try_time(self) -> Optional[Tuple[int, int]]:
        """:meth:`time`, or None while there is no estimate yet."""
        try:
            return self.time()
        except StateError:
            return None

    # -- blobs ------------------------------------------------------------------------------

    def put_blob(self, key: Union[str, bytes], data: BytesLike) -> None:
        """Store a copy of ``data`` (≤ 64 MiB) under ``key`` in the room; returns at once.
        :class:`WouldBlock` over the 256 MiB budget. Every peer gets BLOB_AVAILABLE once it
        holds the whole blob (the uploader once the hub does)."""
        addr, n, keep = _pin(data)
        _check(lib.arsock_session_put_blob(self._handle, _key(key), addr, n))
        del keep

    def get_blob(self, key: Union[str, bytes]) -> bytes:
        """The blob ``key``; :class:`NotFoundError` while it is absent or not complete here."""
        raw = _key(key)
        out = ctypes.c_size_t()
        status = lib.arsock_session_get_blob(self._handle, raw, None, 0, ctypes.byref(out))
        while True:
            if status == Status.OK and out.value == 0:
                return b""
            if status not in (Status.OK, Status.ERR_BUFFER_TOO_SMALL):
                _check(status)
            size = out.value
            buf = ctypes.create_string_buffer(max(size, 1))
            status = lib.arsock_session_get_blob(self._handle, raw, buf, size, ctypes.byref(out))
            if status == Status.OK:
                return ctypes.string_at(buf, out.value)

    def blob(self, key: Union[str, bytes], default: Optional[bytes] = None) -> Optional[bytes]:
        """The blob ``key``, or ``default`` if this session does not hold it (yet)."""
        try:
            return self.get_blob(key)
        except NotFoundError:
            return default

    def delete_blob(self, key: Union[str, bytes]) -> None:
        """Delete ``key`` from the room; :class:`NotFoundError` if this session knows no such
        blob."""
        _check(lib.arsock_session_delete_blob(self._handle, _key(key)))

    def blob_key(self, event: object) -> str:
        """The key of a BLOB_AVAILABLE event (from the last poll)."""
        payload = int(getattr(event, "payload"))
        out = ctypes.c_size_t()
        buf = ctypes.create_string_buffer(256)  # keys are at most 255 bytes
        _check(lib.arsock_session_read(self._handle, payload, buf, 256, ctypes.byref(out)))
        return ctypes.string_at(buf, out.value).decode("utf-8")


__all__: List[str] = [
    "Pose",
    "BLOB_DELETED",
    "BLOB_REFUSED",
    "SESSION_MAX_BLOB",
    "SESSION_BLOB_BUDGET",
    "SESSION_MAX_POSES",
    "POSE_MAX_ENTITIES",
    "POSE_MAX_EXTRAPOLATION_US",
]
