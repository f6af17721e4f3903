"""The arsock poller: wait on many servers and connections from one thread.

::

    import arsock

    with arsock.Server("127.0.0.1", 0) as server, arsock.Poller() as poller:
        poller.add(server, arsock.POLL_IN)
        while True:
            for obj, events in poller.wait(timeout=1.0):
                if obj is server:
                    poller.add(server.accept(timeout=0), arsock.POLL_IN)
                elif events & arsock.POLL_IN:
                    ...  # obj.recv_msg(timeout=0) will not wait
                elif events & arsock.POLL_CLOSED:
                    poller.remove(obj)
                    obj.close()

Level-triggered: :meth:`Poller.wait` reports every registered handle that is ready now (at
most ``max_events`` per call; the library rotates so none starves). A handle is in at most
one poller (:class:`StateError` otherwise, also when added twice: use :meth:`Poller.modify`);
closing it removes it. One thread waits on a poller at a time (a second concurrent ``wait``
raises :class:`StateError`). Closing the poller (from any thread) wakes a blocked ``wait``,
which then raises :class:`ConnectionClosed`.
"""

from __future__ import annotations

import ctypes
import threading
from typing import Dict, List, Tuple, Union

from . import _ffi
from ._core import Connection, Server, Timeout, _check, _Handle, _invalid, timeout_to_ms
from ._ffi import lib
from .errors import Status

#: ARSOCK_POLL_IN: server: a connection can be accepted now; connection: a receive would not
#: wait (a whole message in message mode, bytes in raw mode, or end of stream).
POLL_IN = 1
#: ARSOCK_POLL_OUT: connection: a send would not wait (send queue below its limit).
POLL_OUT = 2
#: ARSOCK_POLL_CLOSED: connection: the peer closed, reset or broke the protocol; always reported.
POLL_CLOSED = 4

#: Default and largest number of events one :meth:`Poller.wait` returns.
WAIT_MAX_EVENTS = 64
_WAIT_MAX_EVENTS_LIMIT = 65536

Pollable = Union[Connection, Server, int]


def _raw_handle(obj: Pollable) -> int:
    if isinstance(obj, _Handle):
        return obj.handle  # 0 once closed: the library answers ARSOCK_ERR_INVALID_HANDLE
    if isinstance(obj, int) and not isinstance(obj, bool):
        if not 0 <= obj <= 0xFFFFFFFFFFFFFFFF:
            raise _invalid(f"a handle is a 64-bit unsigned integer, not {obj}")
        return obj
    raise TypeError(f"expected an arsock Connection, Server or raw handle, not {type(obj).__name__}")


def _mask(events: int) -> int:
    if isinstance(events, bool) or not isinstance(events, int):
        raise TypeError(f"events must be an int of POLL_* bits, not {type(events).__name__}")
    if not 0 <= events <= 0xFFFFFFFF:
        raise _invalid(f"events must be in 0..0xFFFFFFFF, not {events}")
    return events  # unknown bits are rejected by the library (InvalidArgument)


class Poller(_Handle):
    """A set of servers and connections to wait on (``arsock_poller_*``). Owns its handle:
    :meth:`close` (or ``with``) closes it. Thread-safe like the C API.

    The poller keeps a reference to every object added, so :meth:`wait` can hand it back,
    until :meth:`remove` or :meth:`close`.
    """

    def __init__(self) -> None:
        h = _ffi.arsock_handle()
        _check(lib.arsock_poller_new(ctypes.byref(h)))
        super().__init__(h.value)
        self._objects: Dict[int, Pollable] = {}
        self._objects_lock = threading.Lock()
        self._events = (_ffi.arsock_poll_event * WAIT_MAX_EVENTS)()
        self._events_lock = threading.Lock()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"handle={self._handle}, {len(self._objects)} registered"
        return f"<arsock.Poller {state}>"

    def __len__(self) -> int:
        """Number of objects added (and not removed) through this Python object."""
        with self._objects_lock:
            return len(self._objects)

    def add(self, obj: Pollable, events: int = POLL_IN) -> None:
        """Watch ``obj`` for ``events`` (POLL_* bits; 0: only POLL_CLOSED is reported).

        Raises :class:`StateError` if it is already in this or another poller,
        :class:`InvalidArgument` for unknown bits, :class:`InvalidHandle` if it is closed.
        """
        h = _raw_handle(obj)
        _check(lib.arsock_poller_add(self._handle, h, _mask(events)))
        with self._objects_lock:
            self._objects[h] = obj

    def modify(self, obj: Pollable, events: int) -> None:
        """Replace the events ``obj`` is watched for; wakes a ``wait`` in another thread if
        it is ready for the new ones."""
        _check(lib.arsock_poller_modify(self._handle, _raw_handle(obj), _mask(events)))

    def remove(self, obj: Pollable) -> None:
        """Stop watching ``obj``."""
        h = _raw_handle(obj)
        status = lib.arsock_poller_remove(self._handle, h)
        with self._objects_lock:
            self._objects.pop(h, None)
        _check(status)

    def wait(self, timeout: Timeout = None, max_events: int = WAIT_MAX_EVENTS) -> List[Tuple[Pollable, int]]:
        """Wait at most ``timeout`` seconds (None: forever, 0: poll) until a watched object is
        ready; returns ``[(obj, events), ...]`` (at most ``max_events``), or ``[]`` if none
        became ready in time. ``obj`` is the object given to :meth:`add` (the raw handle for
        handles added as ints). Raises :class:`ConnectionClosed` if the poller is closed,
        also by another thread while this call waits."""
        max_events = int(max_events)
        if not 1 <= max_events <= _WAIT_MAX_EVENTS_LIMIT:
            raise _invalid(f"max_events must be in 1..{_WAIT_MAX_EVENTS_LIMIT}, not {max_events}")
        ms = timeout_to_ms(timeout)
        n = ctypes.c_size_t()
        shared = max_events <= WAIT_MAX_EVENTS and self._events_lock.acquire(blocking=False)
        try:
            buf = self._events if shared else (_ffi.arsock_poll_event * max_events)()
            status = lib.arsock_poller_wait(self._handle, buf, max_events, ms, ctypes.byref(n))
            if status == Status.ERR_TIMEOUT:
                return []
            _check(status)
            count = n.value
            if not 1 <= count <= max_events:
                raise RuntimeError(f"arsock_poller_wait returned {count} events for {max_events} entries")
            ready = [(buf[i].handle, buf[i].events) for i in range(count)]
        finally:
            if shared:
                self._events_lock.release()
        with self._objects_lock:
            return [(self._objects.get(h, h), ev) for h, ev in ready]

    def close(self) -> None:
        """Close the poller (wakes a blocked :meth:`wait`); calling it again does nothing."""
        super().close()
        lock = getattr(self, "_objects_lock", None)
        if lock is not None:
            with lock:
                self._objects.clear()
