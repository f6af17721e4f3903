"""The Pythonic layer: Server, Connection and connect() over the C functions."""

from __future__ import annotations

import ctypes
import math
import threading
from types import TracebackType
from typing import Iterable, List, Optional, Tuple, Type, TypeVar, Union

from . import _ffi
from ._ffi import lib
from .errors import InvalidArgument, Status, error_for_status

#: Anything with the buffer protocol: bytes, bytearray, memoryview, array.array, ...
BytesLike = Union[bytes, bytearray, memoryview]
#: Seconds as a float; None waits forever, 0 polls.
Timeout = Optional[float]

#: ARSOCK_DEFAULT_MAX_MESSAGE and friends (checked against the header by the tests).
WAIT_FOREVER = -1
DEFAULT_MAX_MESSAGE = 16 * 1024 * 1024
DEFAULT_SEND_QUEUE_LIMIT = 1024 * 1024
CLOSE_LINGER_MS = 2000
DEFAULT_FRAME_TIMEOUT_MS = 30000

#: Size of the per-connection buffer reused by recv_msg(), recv_msgs() and recv(); larger
#: messages get a buffer of their own, sized from the ARSOCK_ERR_BUFFER_TOO_SMALL answer.
REUSABLE_BUFFER_SIZE = 64 * 1024

#: Most messages one recv_msgs() call returns (the limit of ``arsock_client_recv_msgs``).
RECV_MSGS_MAX = 256

_INT32_MAX = 2**31 - 1
_SIZE_MAX = 2 ** (8 * ctypes.sizeof(ctypes.c_size_t)) - 1


def _check(status: int) -> None:
    if status != Status.OK:
        raise error_for_status(status, _ffi.last_error_message())


def _invalid(message: str) -> InvalidArgument:
    return InvalidArgument(Status.ERR_INVALID_ARGUMENT, message)


def timeout_to_ms(timeout: Timeout) -> int:
    """Seconds (None = forever, 0 = poll) to the C ``timeout_ms`` (-1, 0, > 0).

    A positive timeout never becomes 0 (it is rounded up to whole ms); very long ones are
    capped at 2**31-1 ms (about 24.8 days); ``math.inf`` means forever.
    """
    if timeout is None:
        return WAIT_FOREVER
    if isinstance(timeout, bool):
        raise TypeError("timeout must be a number of seconds or None, not bool")
    t = float(timeout)
    if math.isnan(t) or t < 0:
        raise _invalid(f"timeout must be None or >= 0 seconds, not {timeout!r}")
    if math.isinf(t):
        return WAIT_FOREVER
    if t == 0:
        return 0
    return min(max(1, math.ceil(t * 1000)), _INT32_MAX)


def _ms_to_timeout(ms: int) -> Timeout:
    return None if ms < 0 else ms / 1000.0


def _encode_host(host: Union[str, bytes]) -> bytes:
    raw = host.encode("utf-8") if isinstance(host, str) else bytes(host)
    if b"\0" in raw:
        raise _invalid(f"host contains a NUL character: {host!r}")
    return raw


def _check_port(port: int) -> int:
    port = int(port)
    if not 0 <= port <= 0xFFFF:
        raise _invalid(f"port must be in 0..65535, not {port}")
    return port


def _check_size(value: int, what: str) -> int:
    value = int(value)
    if not 0 <= value <= _SIZE_MAX:
        raise _invalid(f"{what} must be in 0..{_SIZE_MAX}, not {value}")
    return value


def _pin(data: BytesLike) -> Tuple[Optional[int], int, object]:
    """(address, length, keep-alive) of a bytes-like object, without copying where possible.

    The keep-alive object must stay referenced for as long as the address is used.
    """
    if isinstance(data, bytes):
        if not data:
            return None, 0, None
        p = ctypes.c_char_p(data)  # points into the bytes object itself
        return ctypes.cast(p, ctypes.c_void_p).value, len(data), (data, p)
    mv = memoryview(data)
    if mv.nbytes == 0:
        return None, 0, None
    if mv.readonly or not mv.c_contiguous:
        b = mv.tobytes()
        p = ctypes.c_char_p(b)
        return ctypes.cast(p, ctypes.c_void_p).value, len(b), (b, p)
    flat = mv.cast("B")
    arr = (ctypes.c_char * flat.nbytes).from_buffer(flat)
    return ctypes.addressof(arr), flat.nbytes, (flat, arr)


def _unpack(msgs: "ctypes.Array[_ffi.arsock_buf]", count: int) -> List[bytes]:
    """Copies of the first ``count`` messages described by ``msgs`` (they point into a buffer
    that the next receive reuses). An empty message's ``data`` is never read."""
    return [ctypes.string_at(m.data, m.len) if m.len else b"" for m in msgs[:count]]


_H = TypeVar("_H", bound="_Handle")


class _Handle:
    """Ownership of one arsock handle: close() at most once, also from __del__."""

    _handle: int = 0

    def __init__(self, handle: int) -> None:
        self._handle = int(handle)
        self._close_lock = threading.Lock()

    @property
    def handle(self) -> int:
        """The raw ``arsock_handle`` (0 once closed)."""
        return self._handle

    @property
    def closed(self) -> bool:
        return self._handle == 0

    def close(self) -> None:
        """Close the handle. Calling it again is harmless (does nothing)."""
        lock = getattr(self, "_close_lock", None)
        if lock is None:
            return
        with lock:
            h, self._handle = self._handle, 0
        if h:
            _check(lib.arsock_close(h))

    def __enter__(self: _H) -> _H:
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from a finalizer (also at shutdown)
            pass


class Connection(_Handle):
    """A connected client handle (from :func:`connect` or :meth:`Server.accept`).

    Raw calls (:meth:`send`, :meth:`recv`, :meth:`recv_into`) are byte-identical to plain TCP;
    message calls (:meth:`send_msg`, :meth:`send_msgs`, :meth:`recv_msg`, :meth:`recv_msgs`)
    keep message boundaries. The first call fixes the mode; mixing the two raises
    :class:`StateError`.
    Unlike ``socket.recv``, receiving after the peer closed raises :class:`ConnectionClosed`
    instead of returning ``b""``.
    """

    def __init__(self, handle: int) -> None:
        super().__init__(handle)
        self._buf: "Optional[ctypes.Array[ctypes.c_char]]" = None  # reusable receive buffer, made on first use
        # recv_msgs() entries, made on first use, guarded by _buf_lock like _buf
        self._msgs: "Optional[ctypes.Array[_ffi.arsock_buf]]" = None
        self._buf_lock = threading.Lock()
        self._max_message = DEFAULT_MAX_MESSAGE
        self._send_timeout_ms = WAIT_FOREVER
        self._send_queue_limit = DEFAULT_SEND_QUEUE_LIMIT
        self._frame_timeout_ms = DEFAULT_FRAME_TIMEOUT_MS

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"handle={self._handle}"
        return f"<arsock.Connection {state}>"

    # -- raw mode ---------------------------------------------------------------------------

    def send(self, data: BytesLike) -> int:
        """Raw mode: send all bytes (like ``socket.sendall``); returns the number sent."""
        addr, n, keep = _pin(data)
        _check(lib.arsock_client_send(self._handle, addr, n))
        del keep
        return n

    sendall = send

    def recv(self, bufsize: int, timeout: Timeout = None) -> bytes:
        """Raw mode: receive 1 to ``bufsize`` bytes, waiting at most ``timeout`` seconds."""
        bufsize = int(bufsize)
        if bufsize <= 0:
            raise _invalid(f"bufsize must be > 0, not {bufsize}")
        ms = timeout_to_ms(timeout)
        out = ctypes.c_size_t()
        if bufsize <= REUSABLE_BUFFER_SIZE and self._buf_lock.acquire(blocking=False):
            try:
                buf = self._reusable()
                _check(lib.arsock_client_recv(self._handle, buf, bufsize, ms, ctypes.byref(out)))
                return ctypes.string_at(buf, out.value)
            finally:
                self._buf_lock.release()
        own = ctypes.create_string_buffer(bufsize)
        _check(lib.arsock_client_recv(self._handle, own, bufsize, ms, ctypes.byref(out)))
        return ctypes.string_at(own, out.value)

    def recv_into(self, buffer: Union[bytearray, memoryview], nbytes: int = 0,
                  timeout: Timeout = None) -> int:
        """Raw mode: receive into a writable buffer (like ``socket.recv_into``); returns count."""
        mv = memoryview(buffer).cast("B")
        if mv.readonly:
            raise TypeError("recv_into needs a writable buffer")
        n = mv.nbytes if nbytes == 0 else int(nbytes)
        if not 0 < n <= mv.nbytes:
            raise _invalid(f"nbytes must be in 1..{mv.nbytes}, not {n}")
        ms = timeout_to_ms(timeout)
        arr = (ctypes.c_char * mv.nbytes).from_buffer(mv)
        out = ctypes.c_size_t()
        try:
            _check(lib.arsock_client_recv(self._handle, arr, n, ms, ctypes.byref(out)))
        finally:
            del arr
            mv.release()
        return out.value

    # -- message mode -----------------------------------------------------------------------

    def send_msg(self, data: BytesLike) -> None:
        """Message mode: send ``data`` as one whole message (empty is fine)."""
        addr, n, keep = _pin(data)
        _check(lib.arsock_client_send_msg(self._handle, addr, n))
        del keep

    def send_msgs(self, messages: Iterable[BytesLike]) -> int:
        """Message mode: send several messages at once, all or nothing; returns the count."""
        pinned = [_pin(m) for m in messages]
        count = len(pinned)
        if count == 0:
            _check(lib.arsock_client_send_msgs(self._handle, None, 0))
            return 0
        bufs = (_ffi.arsock_buf * count)()
        for i, (addr, n, _keep) in enumerate(pinned):
            bufs[i].data = addr
            bufs[i].len = n
        _check(lib.arsock_client_send_msgs(self._handle, bufs, count))
        del pinned
        return count

    def recv_msg(self, timeout: Timeout = None) -> bytes:
        """Message mode: the next whole message, waiting at most ``timeout`` seconds."""
        ms = timeout_to_ms(timeout)
        out = ctypes.c_size_t()
        if self._buf_lock.acquire(blocking=False):
            try:
                buf = self._reusable()
                status = lib.arsock_client_recv_msg(
                    self._handle, buf, REUSABLE_BUFFER_SIZE, ms, ctypes.byref(out)
                )
                if status == Status.OK:
                    return ctypes.string_at(buf, out.value)
                if status != Status.ERR_BUFFER_TOO_SMALL:
                    _check(status)
            finally:
                self._buf_lock.release()
        else:
            # Another thread is using the reusable buffer: ask for the size instead.
            status = lib.arsock_client_recv_msg(self._handle, None, 0, ms, ctypes.byref(out))
            if status == Status.OK:
                return b""
            if status != Status.ERR_BUFFER_TOO_SMALL:
                _check(status)
        # The message stays queued; receive it into a buffer of the size it needs. Loop in
        # case another thread took it meanwhile and the next one is larger still.
        while True:
            needed = out.value
            own = ctypes.create_string_buffer(max(needed, 1))
            status = lib.arsock_client_recv_msg(self._handle, own, needed, ms, ctypes.byref(out))
            if status == Status.OK:
                return ctypes.string_at(own, out.value)
            if status != Status.ERR_BUFFER_TOO_SMALL:
                _check(status)

    def recv_msgs(self, max_count: int = RECV_MSGS_MAX, timeout: Timeout = None) -> List[bytes]:
        """Message mode: a batch of whole messages (a frame's worth), oldest first.

        Waits at most ``timeout`` seconds for the next message, then also takes every further
        message that has already arrived whole, without waiting again, up to ``max_count``
        (at most :data:`RECV_MSGS_MAX`, 256, per call; larger values mean 256) and as many as
        fit the reusable buffer. Returns a non-empty list; messages not taken stay queued for
        the next call. A first message larger than the reusable buffer is received into a
        buffer of its own, sized from the ``ARSOCK_ERR_BUFFER_TOO_SMALL`` answer (like
        :meth:`recv_msg`), so it never raises :class:`BufferTooSmall`.
        """
        if isinstance(max_count, bool):
            raise TypeError("max_count must be an int, not bool")
        max_count = int(max_count)
        if max_count < 1:
            raise _invalid(f"max_count must be >= 1, not {max_count}")
        n = min(max_count, RECV_MSGS_MAX)
        ms = timeout_to_ms(timeout)
        count = ctypes.c_size_t()
        if self._buf_lock.acquire(blocking=False):
            try:
                buf = self._reusable()
                if self._msgs is None:
                    self._msgs = (_ffi.arsock_buf * RECV_MSGS_MAX)()
                msgs = self._msgs
                status = lib.arsock_client_recv_msgs(
                    self._handle, buf, REUSABLE_BUFFER_SIZE, msgs, n, ms, ctypes.byref(count)
                )
                if status == Status.OK:
                    return _unpack(msgs, count.value)
                if status != Status.ERR_BUFFER_TOO_SMALL:
                    _check(status)
                needed = msgs[0].len
            finally:
                self._buf_lock.release()
        else:
            # Another thread is using the reusable buffer: ask for the size instead (a batch
            # of empty messages is received by this call already).
            msgs = (_ffi.arsock_buf * n)()
            status = lib.arsock_client_recv_msgs(
                self._handle, None, 0, msgs, n, ms, ctypes.byref(count)
            )
            if status == Status.OK:
                return [b""] * count.value
            if status != Status.ERR_BUFFER_TOO_SMALL:
                _check(status)
            needed = msgs[0].len
        # The first message stays queued; receive it into a buffer of the size it needs. Loop
        # in case another thread took it meanwhile and the next one is larger still.
        while True:
            own = ctypes.create_string_buffer(max(needed, 1))
            msgs = (_ffi.arsock_buf * n)()
            status = lib.arsock_client_recv_msgs(
                self._handle, own, needed, msgs, n, ms, ctypes.byref(count)
            )
            if status == Status.OK:
                return _unpack(msgs, count.value)
            if status != Status.ERR_BUFFER_TOO_SMALL:
                _check(status)
            needed = msgs[0].len

    def _reusable(self) -> "ctypes.Array[ctypes.c_char]":
        if self._buf is None:
            self._buf = ctypes.create_string_buffer(REUSABLE_BUFFER_SIZE)
        return self._buf

    # -- options ----------------------------------------------------------------------------

    @property
    def max_message(self) -> int:
        """Largest message this connection sends and accepts (bytes, inclusive)."""
        return self._max_message

    @max_message.setter
    def max_message(self, value: int) -> None:
        value = _check_size(value, "max_message")
        _check(lib.arsock_client_set_max_message(self._handle, value))
        self._max_message = value

    @property
    def send_timeout(self) -> Timeout:
        """Seconds a send may wait for room in the send queue; None = forever; 0 = never."""
        return _ms_to_timeout(self._send_timeout_ms)

    @send_timeout.setter
    def send_timeout(self, value: Timeout) -> None:
        ms = timeout_to_ms(value)
        _check(lib.arsock_client_set_send_timeout(self._handle, ms))
        self._send_timeout_ms = ms

    @property
    def send_queue_limit(self) -> int:
        """Bytes the send queue may hold."""
        return self._send_queue_limit

    @send_queue_limit.setter
    def send_queue_limit(self, value: int) -> None:
        value = _check_size(value, "send_queue_limit")
        _check(lib.arsock_client_set_send_queue_limit(self._handle, value))
        self._send_queue_limit = value

    @property
    def frame_timeout(self) -> Timeout:
        """Seconds a started message may take to arrive whole; None disables the check."""
        return _ms_to_timeout(self._frame_timeout_ms)

    @frame_timeout.setter
    def frame_timeout(self, value: Timeout) -> None:
        ms = timeout_to_ms(value)
        _check(lib.arsock_client_set_frame_timeout(self._handle, ms))
        self._frame_timeout_ms = ms

    @property
    def send_queue_len(self) -> int:
        """Bytes accepted by sends that the OS has not taken yet."""
        out = ctypes.c_size_t()
        _check(lib.arsock_client_send_queue_len(self._handle, ctypes.byref(out)))
        return out.value


class Server(_Handle):
    """A listening TCP server: ``Server(host, port)`` binds and listens at once.

    ``port`` 0 picks a free port; read it back from :attr:`port`.
    """

    def __init__(self, host: Union[str, bytes], port: int = 0, backlog: int = 0) -> None:
        raw_host = _encode_host(host)
        port = _check_port(port)
        backlog = int(backlog)
        if backlog > _INT32_MAX:
            raise _invalid(f"backlog must be at most {_INT32_MAX}, not {backlog}")
        out = _ffi.arsock_handle()
        _check(lib.arsock_server_bind(raw_host, port, ctypes.byref(out)))
        super().__init__(out.value)
        try:
            _check(lib.arsock_server_listen(self._handle, max(backlog, -1)))
            p = ctypes.c_uint16()
            _check(lib.arsock_server_local_port(self._handle, ctypes.byref(p)))
        except BaseException:
            self.close()
            raise
        self._port = p.value

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"handle={self._handle}"
        return f"<arsock.Server port={self._port} {state}>"

    @property
    def port(self) -> int:
        """The local port (the chosen one when created with port 0)."""
        return self._port

    def accept(self, timeout: Timeout = None) -> Connection:
        """Wait at most ``timeout`` seconds (None forever, 0 poll) for one connection."""
        ms = timeout_to_ms(timeout)
        out = _ffi.arsock_handle()
        _check(lib.arsock_server_accept(self._handle, ms, ctypes.byref(out)))
        return Connection(out.value)


def connect(host: Union[str, bytes], port: int, timeout: Timeout = None) -> Connection:
    """Connect to ``host``:``port`` (IPv4/IPv6 literal or name), waiting at most ``timeout``."""
    raw_host = _encode_host(host)
    port = _check_port(port)
    ms = timeout_to_ms(timeout)
    out = _ffi.arsock_handle()
    _check(lib.arsock_client_connect(raw_host, port, ms, ctypes.byref(out)))
    return Connection(out.value)


def status_str(status: int) -> str:
    """Short static description of a status value (``arsock_status_str``)."""
    return _ffi.status_str(status)


def version() -> str:
    """Version of the loaded native library (``arsock_version``)."""
    raw: Optional[bytes] = lib.arsock_version()
    return raw.decode("ascii") if raw else ""


def abi_version() -> int:
    """ABI version of the loaded native library (``arsock_abi_version``)."""
    return int(lib.arsock_abi_version())


def last_error_message() -> str:
    """``arsock_last_error_message()`` of the calling thread."""
    return _ffi.last_error_message()


__all__: List[str] = [
    "Connection",
    "Server",
    "connect",
    "status_str",
    "version",
    "abi_version",
    "last_error_message",
    "timeout_to_ms",
]
