"""arsock: message-oriented TCP sockets for real-time AR apps (ctypes binding of libarsock).

Textbook-socket style::

    import arsock

    with arsock.Server("127.0.0.1", 0) as server:          # bind + listen
        with arsock.connect("127.0.0.1", server.port, timeout=5) as client:
            with server.accept(timeout=5) as conn:
                client.send_msg(b"hello")
                print(conn.recv_msg(timeout=5))            # b'hello'

Sessions (rooms on a hub, presence, reliable relay, shared state) are :class:`Hub` and
:class:`Session` from :mod:`arsock.session`, also exported here.

Timeouts are seconds (float): None waits forever, 0 polls. Errors raise subclasses of
:class:`ArSockError` (``.status``, ``.message``). The native library is found through
``ARSOCK_LIBRARY``, a copy inside this package, the repository's ``target/release`` or
``target/debug``, then the system loader.
"""

from ._version import __version__
from ._ffi import EXPECTED_ABI_VERSION as ABI_VERSION
from ._ffi import library_path
from ._core import (
    CLOSE_LINGER_MS,
    DEFAULT_FRAME_TIMEOUT_MS,
    DEFAULT_MAX_MESSAGE,
    DEFAULT_SEND_QUEUE_LIMIT,
    RECV_MSGS_MAX,
    REUSABLE_BUFFER_SIZE,
    WAIT_FOREVER,
    BytesLike,
    Connection,
    Server,
    Timeout,
    abi_version,
    connect,
    last_error_message,
    status_str,
    timeout_to_ms,
    version,
)
from .errors import (
    AddressError,
    AddressInUse,
    ArSockError,
    ArSockIOError,
    ArSockTimeout,
    BufferTooSmall,
    ConnectionClosed,
    ConnectionRefused,
    InternalError,
    InvalidArgument,
    InvalidHandle,
    MessageTooLarge,
    ProtocolError,
    StateError,
    Status,
    WouldBlock,
    NotFoundError,
    error_for_status,
)
from . import session as _session
from .session import *  # noqa: F401,F403 - Hub, Session, Event, EventKind, Reason, EVENT_*, ...
from . import poses as _poses
from .poses import *  # noqa: F401,F403 - Pose, BLOB_DELETED, SESSION_MAX_BLOB, ...

#: ARSOCK_VERSION_* of the header this package was released with (equal to __version__).
VERSION_STRING = __version__
VERSION_MAJOR, VERSION_MINOR, VERSION_PATCH = (int(x) for x in __version__.split(".")[:3])

__all__ = [
    "__version__",
    "ABI_VERSION",
    "VERSION_STRING",
    "VERSION_MAJOR",
    "VERSION_MINOR",
    "VERSION_PATCH",
    "library_path",
    "CLOSE_LINGER_MS",
    "DEFAULT_FRAME_TIMEOUT_MS",
    "DEFAULT_MAX_MESSAGE",
    "DEFAULT_SEND_QUEUE_LIMIT",
    "RECV_MSGS_MAX",
    "REUSABLE_BUFFER_SIZE",
    "WAIT_FOREVER",
    "BytesLike",
    "Timeout",
    "Connection",
    "Server",
    "connect",
    "abi_version",
    "version",
    "status_str",
    "last_error_message",
    "timeout_to_ms",
    "Status",
    "error_for_status",
    "ArSockError",
    "AddressError",
    "AddressInUse",
    "ArSockIOError",
    "ArSockTimeout",
    "BufferTooSmall",
    "ConnectionClosed",
    "ConnectionRefused",
    "InternalError",
    "InvalidArgument",
    "InvalidHandle",
    "MessageTooLarge",
    "ProtocolError",
    "StateError",
    "WouldBlock",
    "NotFoundError",
]
__all__ += _session.__all__
__all__ += _poses.__all__
