"""Sessions: a :class:`Hub` with rooms, and :class:`Session` devices that join them.

::

    import arsock

    with arsock.Hub("127.0.0.1", 0) as hub:
        with arsock.Session("127.0.0.1", hub.port, "living-room", name="phone") as s:
            for ev in s.poll(timeout=5):
                if ev.kind == arsock.EventKind.JOINED:
                    print("I am peer", ev.peer)
                elif ev.kind == arsock.EventKind.MESSAGE:
                    print(ev.peer, "says", s.read(ev))

:meth:`Session.poll` returns the events since the last call (an empty list when none came
within the timeout). The payload of an event (a message's bytes, a changed state key) is read
with :meth:`Session.read` and stays readable only until the next poll. Messages are reliable
and ordered; :meth:`Session.send` with ``to_peer`` :data:`EVERYONE` (0) reaches every other peer
in the room. Shared state is a key -> bytes map per room: every change arrives at every peer
as :attr:`EventKind.STATE_CHANGED`. Durations are seconds (float), as in the rest of the package.
"""

from __future__ import annotations

import ctypes
import enum
import math
from typing import List, NamedTuple, Optional, Union

from . import _ffi
from ._core import (
    BytesLike,
    Timeout,
    _check,
    _check_port,
    _encode_host,
    _Handle,
    _invalid,
    _pin,
    timeout_to_ms,
)
from ._ffi import lib
from .errors import NotFoundError, Status
from .poses import SessionPoses

#: Hub defaults and limits (ARSOCK_HUB_* of the header).
HUB_DEFAULT_MAX_PEERS = 32
HUB_MAX_PEERS = 256
HUB_DEFAULT_HEARTBEAT_MS = 500
HUB_DEFAULT_STALE_AFTER_MS = 2500
HUB_DEFAULT_RESUME_GRACE_MS = 30000
#: Session limits (ARSOCK_SESSION_* of the header): message, state value and key sizes in
#: bytes, keys per room, room and peer name lengths in bytes of UTF-8, and the bytes of sends
#: and state writes a session keeps until the hub acknowledges them (beyond: WouldBlock).
SESSION_MAX_MESSAGE = 256 * 1024
SESSION_MAX_VALUE = 64 * 1024
SESSION_MAX_KEY = 255
SESSION_MAX_KEYS = 4096
SESSION_MAX_ROOM = 64
SESSION_MAX_NAME = 64
SESSION_QUEUE_LIMIT = 1024 * 1024

#: ARSOCK_EVENT_* of the header (also the values of :class:`EventKind`).
EVENT_JOINED = 1
EVENT_REJECTED = 2
EVENT_PEER_JOINED = 3
EVENT_PEER_STALE = 4
EVENT_PEER_RESUMED = 5
EVENT_PEER_LEFT = 6
EVENT_MESSAGE = 7
EVENT_STATE_CHANGED = 8
EVENT_DISCONNECTED = 9
EVENT_RECONNECTED = 10
EVENT_BLOB_AVAILABLE = 11
#: ARSOCK_REASON_* of the header (also the values of :class:`Reason`).
REASON_NONE = 0
REASON_LOCAL_CLOSE = 1
REASON_REMOTE_CLOSE = 2
REASON_TIMEOUT = 3
REASON_KICKED = 4
REASON_ROOM_FULL = 5
REASON_VERSION = 6
REASON_AUTH = 7
REASON_PROTOCOL = 8
REASON_NETWORK = 9
REASON_HUB_SHUTDOWN = 10
REASON_SLOW_PEER = 11
#: Reasons from REASON_APP_MIN to REASON_APP_MAX are the application's own.
REASON_APP_MIN = 1000
REASON_APP_MAX = 1999
#: Event flags: ARSOCK_STATE_DELETED (STATE_CHANGED: the key was deleted),
#: ARSOCK_DISCONNECTED_RESUMING (DISCONNECTED: the session is reconnecting; RECONNECTED or a
#: final DISCONNECTED follows), ARSOCK_MESSAGE_DIRECT (MESSAGE: sent to this peer alone).
STATE_DELETED = 1
DISCONNECTED_RESUMING = 2
MESSAGE_DIRECT = 4

#: ``to_peer`` of :meth:`Session.send` that reaches every other peer in the room.
EVERYONE = 0

#: Default number of events one :meth:`Session.poll` call returns at most.
POLL_MAX_EVENTS = 64

_INT32_MAX = 2**31 - 1
_STATE_PROBE = 4096  # get_state() tries this buffer first; larger values get one of their own


class EventKind(enum.IntEnum):
    """``arsock_event.kind``."""

    JOINED = EVENT_JOINED
    REJECTED = EVENT_REJECTED
    PEER_JOINED = EVENT_PEER_JOINED
    PEER_STALE = EVENT_PEER_STALE
    PEER_RESUMED = EVENT_PEER_RESUMED
    PEER_LEFT = EVENT_PEER_LEFT
    MESSAGE = EVENT_MESSAGE
    STATE_CHANGED = EVENT_STATE_CHANGED
    DISCONNECTED = EVENT_DISCONNECTED
    RECONNECTED = EVENT_RECONNECTED
    BLOB_AVAILABLE = EVENT_BLOB_AVAILABLE


class Reason(enum.IntEnum):
    """``arsock_event.reason`` (REJECTED, PEER_LEFT, DISCONNECTED). :data:`REASON_APP_MIN` to
    :data:`REASON_APP_MAX` are the application's own; they come through as plain ints."""

    NONE = REASON_NONE
    LOCAL_CLOSE = REASON_LOCAL_CLOSE
    REMOTE_CLOSE = REASON_REMOTE_CLOSE
    TIMEOUT = REASON_TIMEOUT
    KICKED = REASON_KICKED
    ROOM_FULL = REASON_ROOM_FULL
    VERSION = REASON_VERSION
    AUTH = REASON_AUTH
    PROTOCOL = REASON_PROTOCOL
    NETWORK = REASON_NETWORK
    HUB_SHUTDOWN = REASON_HUB_SHUTDOWN
    SLOW_PEER = REASON_SLOW_PEER


class Event(NamedTuple):
    """One event of :meth:`Session.poll` (the fields of ``struct arsock_event``).

    ``kind`` and ``reason`` are :class:`EventKind` / :class:`Reason` members when the binding
    knows the value, plain ints otherwise (newer library, application reasons).
    """

    kind: Union[EventKind, int]
    #: The peer concerned (sender of a MESSAGE; own id for JOINED); 0 = the hub.
    peer: int
    reason: Union[Reason, int]
    flags: int
    #: Id for :meth:`Session.read` (MESSAGE bytes, STATE_CHANGED key); 0 if none.
    payload: int
    #: Payload size in bytes (RECONNECTED: messages the hub had to drop).
    size: int
    #: Hub time the event was produced, microseconds.
    time_us: int

    @property
    def deleted(self) -> bool:
        """A STATE_CHANGED event for a key that was deleted."""
        return bool(self.flags & STATE_DELETED)

    @property
    def resuming(self) -> bool:
        """A DISCONNECTED event after which the session reconnects on its own."""
        return bool(self.flags & DISCONNECTED_RESUMING)

    @property
    def direct(self) -> bool:
        """A MESSAGE sent to this peer alone (not to everyone)."""
        return bool(self.flags & MESSAGE_DIRECT)

    @classmethod
    def from_c(cls, e: _ffi.arsock_event) -> "Event":
        kind: Union[EventKind, int] = int(e.kind)
        reason: Union[Reason, int] = int(e.reason)
        try:
            kind = EventKind(kind)
        except ValueError:
            pass
        try:
            reason = Reason(reason)
        except ValueError:
            pass
        return cls(
            kind, int(e.peer), reason, int(e.flags), int(e.payload), int(e.size), int(e.time_us)
        )


def _ms_or_default(seconds: Optional[float], what: str) -> int:
    """Seconds (None = the library default) -> ms > 0 for a config field (0 = default)."""
    if seconds is None:
        return 0
    if isinstance(seconds, bool):
        raise TypeError(f"{what} must be a number of seconds or None, not bool")
    t = float(seconds)
    if math.isnan(t) or t <= 0 or math.isinf(t):
        raise _invalid(f"{what} must be None or > 0 seconds, not {seconds!r}")
    return min(max(1, math.ceil(t * 1000)), _INT32_MAX)


def _text(value: Union[str, bytes], what: str) -> bytes:
    raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    if b"\0" in raw:
        raise _invalid(f"{what} contains a NUL character: {value!r}")
    return raw


class Hub(_Handle):
    """A session hub listening on ``host``:``port`` (listening once the constructor returns).

    ``host`` None binds every IPv4 interface (0.0.0.0); ``port`` 0 picks a free port (see
    :attr:`port`). ``max_peers_per_room`` None = 32 (at most 256); ``heartbeat`` None = 0.5 s;
    ``stale_after`` None = 2.5 s; ``resume_grace`` None = 30 s, 0 = no grace (a vanished peer
    leaves at once); ``token`` None = no auth, else sessions must present it (REJECTED with
    :attr:`Reason.AUTH` otherwise). Closing the hub disconnects every session with
    :attr:`Reason.HUB_SHUTDOWN`.
    """

    def __init__(
        self,
        host: Optional[Union[str, bytes]] = None,
        port: int = 0,
        *,
        max_peers_per_room: Optional[int] = None,
        heartbeat: Optional[float] = None,
        stale_after: Optional[float] = None,
        resume_grace: Optional[float] = None,
        token: Optional[Union[str, bytes]] = None,
    ) -> None:
        cfg = _ffi.arsock_hub_config()
        lib.arsock_hub_config_init(ctypes.byref(cfg))
        cfg.host = None if host is None else _encode_host(host)
        cfg.port = _check_port(port)
        if max_peers_per_room is not None:
            n = int(max_peers_per_room)
            if n < 1:
                raise _invalid(f"max_peers_per_room must be >= 1, not {n}")
            cfg.max_peers_per_room = min(n, 2**32 - 1)
        if heartbeat is not None:
            cfg.heartbeat_ms = _ms_or_default(heartbeat, "heartbeat")
        if stale_after is not None:
            cfg.stale_after_ms = _ms_or_default(stale_after, "stale_after")
        if resume_grace is not None:
            cfg.resume_grace_ms = (
                -1 if resume_grace == 0 else _ms_or_default(resume_grace, "resume_grace")
            )
        cfg.token = None if token is None else _text(token, "token")
        out = _ffi.arsock_handle()
        _check(lib.arsock_hub_start(ctypes.byref(cfg), ctypes.byref(out)))
        super().__init__(out.value)
        try:
            p = ctypes.c_uint16()
            _check(lib.arsock_hub_local_port(self._handle, ctypes.byref(p)))
        except BaseException:
            self.close()
            raise
        self._port = p.value

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"handle={self._handle}"
        return f"<arsock.Hub port={self._port} {state}>"

    @property
    def port(self) -> int:
        """The port the hub listens on (the chosen one when created with port 0)."""
        return self._port


class Session(SessionPoses, _Handle):
    """One device in room ``room`` (1-64 bytes of UTF-8) of the hub at ``host``:``port``.

    The constructor returns at once; JOINED (or REJECTED, or DISCONNECTED with
    :attr:`Reason.NETWORK` when the hub cannot be reached within ``connect_timeout`` seconds,
    None = 5 s) arrives through :meth:`poll`. ``name`` (at most 64 bytes) is shown to the other
    peers; ``token`` is the hub's token. After JOINED a broken connection is resumed on its own.
    Closing the session leaves the room: the others see PEER_LEFT with
    :attr:`Reason.REMOTE_CLOSE`.

    Errors: :class:`NotFoundError` (a ``LookupError``) for an unknown peer, state key or payload;
    :class:`StateError` before JOINED; :class:`ConnectionClosed` once the session is over;
    :class:`WouldBlock` when the send queue is full; :class:`InvalidArgument` for bad input.
    """

    def __init__(
        self,
        host: Union[str, bytes],
        port: int,
        room: Union[str, bytes],
        *,
        name: Optional[Union[str, bytes]] = None,
        token: Optional[Union[str, bytes]] = None,
        connect_timeout: Optional[float] = None,
    ) -> None:
        raw_host = _encode_host(host)
        port = _check_port(port)
        raw_room = _text(room, "room")
        cfg = _ffi.arsock_session_config()
        lib.arsock_session_config_init(ctypes.byref(cfg))
        cfg.name = None if name is None else _text(name, "name")
        cfg.token = None if token is None else _text(token, "token")
        if connect_timeout is not None:
            cfg.connect_timeout_ms = _ms_or_default(connect_timeout, "connect_timeout")
        out = _ffi.arsock_handle()
        _check(
            lib.arsock_session_open(
                raw_host, port, raw_room, ctypes.byref(cfg), ctypes.byref(out)
            )
        )
        super().__init__(out.value)

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"handle={self._handle}"
        return f"<arsock.Session {state}>"

    # -- events -----------------------------------------------------------------------------

    def poll(self, timeout: Timeout = None, max_events: int = POLL_MAX_EVENTS) -> List[Event]:
        """The events that arrived, oldest first: waits at most ``timeout`` seconds (None
        forever, 0 just looks) for the first, then takes what else is there, up to
        ``max_events``. An empty list when nothing came in time. Payloads of earlier polls
        stop being readable."""
        if isinstance(max_events, bool):
            raise TypeError("max_events must be an int, not bool")
        max_events = int(max_events)
        if max_events < 1:
            raise _invalid(f"max_events must be >= 1, not {max_events}")
        ms = timeout_to_ms(timeout)
        # One array per call: polls from several threads never share it.
        events = (_ffi.arsock_event * max_events)()
        n = ctypes.c_size_t()
        status = lib.arsock_session_poll(self._handle, events, max_events, ms, ctypes.byref(n))
        if status == Status.ERR_TIMEOUT:
            return []
        _check(status)
        if n.value > max_events:
            raise RuntimeError(f"arsock_session_poll returned {n.value} events for {max_events}")
        return [Event.from_c(events[i]) for i in range(n.value)]

    def read(self, event: Union[Event, int]) -> bytes:
        """The payload of ``event`` (from the last :meth:`poll`): a MESSAGE's bytes, a
        STATE_CHANGED's key, a BLOB_AVAILABLE's key. :class:`NotFoundError` if it is not from the
        last poll."""
        if isinstance(event, Event):
            # BLOB_AVAILABLE: the payload is the key (<= 255 bytes); size is the blob's size.
            blob = event.kind == EVENT_BLOB_AVAILABLE
            payload, size = event.payload, 255 if blob else event.size
        else:
            payload, size = int(event), 0
        out = ctypes.c_size_t()
        while True:
            buf = ctypes.create_string_buffer(max(size, 1))
            status = lib.arsock_session_read(self._handle, payload, buf, size, ctypes.byref(out))
            if status == Status.OK:
                return ctypes.string_at(buf, out.value)
            if status != Status.ERR_BUFFER_TOO_SMALL:
                _check(status)
            size = out.value

    def read_key(self, event: Event) -> str:
        """The key of a STATE_CHANGED event, as text."""
        return self.read(event).decode("utf-8")

    # -- messages ---------------------------------------------------------------------------

    def send(self, to_peer: int, data: BytesLike) -> None:
        """Send ``data`` as one reliable, ordered message to peer ``to_peer``
        (:data:`EVERYONE` = every other peer in the room). :class:`NotFoundError` if that peer
        is not in the room."""
        peer = int(to_peer)
        if not 0 <= peer <= 0xFFFFFFFF:
            raise _invalid(f"to_peer must be a peer id in 0..{0xFFFFFFFF}, not {peer}")
        addr, n, keep = _pin(data)
        _check(lib.arsock_session_send(self._handle, peer, addr, n))
        del keep

    def broadcast(self, data: BytesLike) -> None:
        """``send(EVERYONE, data)``."""
        self.send(EVERYONE, data)

    # -- shared state -----------------------------------------------------------------------

    def set_state(self, key: Union[str, bytes], value: BytesLike) -> None:
        """Set ``key`` (1-255 bytes of UTF-8) to ``value`` (at most 64 KiB) in the room's
        shared state; every peer, this one included, then sees STATE_CHANGED."""
        raw = _text(key, "key")
        addr, n, keep = _pin(value)
        _check(lib.arsock_session_set_state(self._handle, raw, addr, n))
        del keep

    def delete_state(self, key: Union[str, bytes]) -> None:
        """Remove ``key``; every peer sees STATE_CHANGED with :attr:`Event.deleted`."""
        _check(lib.arsock_session_delete_state(self._handle, _text(key, "key")))

    def get_state(self, key: Union[str, bytes]) -> bytes:
        """The value of ``key`` as this session knows it; :class:`NotFoundError` if absent."""
        raw = _text(key, "key")
        out = ctypes.c_size_t()
        size = _STATE_PROBE
        while True:
            buf = ctypes.create_string_buffer(max(size, 1))
            status = lib.arsock_session_get_state(self._handle, raw, buf, size, ctypes.byref(out))
            if status == Status.OK:
                return ctypes.string_at(buf, out.value)
            if status != Status.ERR_BUFFER_TOO_SMALL:
                _check(status)
            size = out.value  # changed meanwhile? then the loop asks again

    def state(self, key: Union[str, bytes], default: Optional[bytes] = None) -> Optional[bytes]:
        """The value of ``key``, or ``default`` if the room has no such key."""
        try:
            return self.get_state(key)
        except NotFoundError:
            return default

    # -- peers ------------------------------------------------------------------------------

    @property
    def peer_id(self) -> int:
        """This session's peer id (>= 1); :class:`StateError` until JOINED."""
        out = ctypes.c_uint32()
        _check(lib.arsock_session_peer_id(self._handle, ctypes.byref(out)))
        return out.value

    def peer_name(self, peer: int) -> str:
        """The name ``peer`` joined with ("" if none); :class:`NotFoundError` if not in the room."""
        p = int(peer)
        if not 0 <= p <= 0xFFFFFFFF:
            raise _invalid(f"peer must be a peer id in 0..{0xFFFFFFFF}, not {p}")
        out = ctypes.c_size_t()
        size = 256  # names are at most 64 bytes
        while True:
            buf = ctypes.create_string_buffer(size)
            status = lib.arsock_session_peer_name(self._handle, p, buf, size, ctypes.byref(out))
            if status == Status.OK:
                return ctypes.string_at(buf, out.value).decode("utf-8", "replace")
            if status != Status.ERR_BUFFER_TOO_SMALL:
                _check(status)
            size = max(out.value, 1)


__all__: List[str] = [
    "Hub",
    "Session",
    "Event",
    "EventKind",
    "Reason",
    "EVERYONE",
    "POLL_MAX_EVENTS",
    "HUB_DEFAULT_MAX_PEERS",
    "HUB_MAX_PEERS",
    "HUB_DEFAULT_HEARTBEAT_MS",
    "HUB_DEFAULT_STALE_AFTER_MS",
    "HUB_DEFAULT_RESUME_GRACE_MS",
    "SESSION_MAX_MESSAGE",
    "SESSION_MAX_VALUE",
    "SESSION_MAX_KEY",
    "SESSION_MAX_KEYS",
    "SESSION_MAX_ROOM",
    "SESSION_MAX_NAME",
    "SESSION_QUEUE_LIMIT",
    "STATE_DELETED",
    "DISCONNECTED_RESUMING",
    "MESSAGE_DIRECT",
    "EVENT_JOINED",
    "EVENT_REJECTED",
    "EVENT_PEER_JOINED",
    "EVENT_PEER_STALE",
    "EVENT_PEER_RESUMED",
    "EVENT_PEER_LEFT",
    "EVENT_MESSAGE",
    "EVENT_STATE_CHANGED",
    "EVENT_DISCONNECTED",
    "EVENT_RECONNECTED",
    "EVENT_BLOB_AVAILABLE",
    "REASON_NONE",
    "REASON_LOCAL_CLOSE",
    "REASON_REMOTE_CLOSE",
    "REASON_TIMEOUT",
    "REASON_KICKED",
    "REASON_ROOM_FULL",
    "REASON_VERSION",
    "REASON_AUTH",
    "REASON_PROTOCOL",
    "REASON_NETWORK",
    "REASON_HUB_SHUTDOWN",
    "REASON_SLOW_PEER",
    "REASON_APP_MIN",
    "REASON_APP_MAX",
]
