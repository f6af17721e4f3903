"""Status values of arsock.h and the exceptions they map to.

Every failing call raises a subclass of :class:`ArSockError` carrying ``.status`` (the
negative ``arsock_status``) and ``.message`` (the text of ``arsock_last_error_message()``
read right after the failing call; for an argument the binding rejects before calling the
library, such as a port above 65535 or a host containing NUL, the binding's own text).
Where the standard library has a matching exception the class also derives from it, so code
written for the ``socket`` module keeps working:
``except TimeoutError``, ``except ConnectionError``, ``except OSError`` ...
"""

from __future__ import annotations

import enum
from typing import Dict, Tuple, Type


class Status(enum.IntEnum):
    """``enum arsock_status``; member names are the header names without ``ARSOCK_``."""

    OK = 0
    ERR_INVALID_ARGUMENT = -1
    ERR_INVALID_HANDLE = -2
    ERR_TIMEOUT = -3
    ERR_CLOSED = -4
    ERR_ADDRESS_IN_USE = -5
    ERR_CONNECTION_REFUSED = -6
    ERR_ADDRESS = -7
    ERR_STATE = -8
    ERR_IO = -9
    ERR_PANIC = -10
    ERR_BUFFER_TOO_SMALL = -11
    ERR_MESSAGE_TOO_LARGE = -12
    ERR_PROTOCOL = -13
    ERR_WOULD_BLOCK = -14
    ERR_NOT_FOUND = -15


class ArSockError(Exception):
    """A failed arsock call. ``status``: the ``arsock_status`` value; ``message``: detail."""

    status: int
    message: str

    def __init__(self, status: int, message: str = "") -> None:
        self.status = int(status)
        self.message = message
        try:
            name = "ARSOCK_" + Status(self.status).name
        except ValueError:
            name = f"arsock status {self.status}"
        # One argument only: keeps OSError-derived subclasses from reading it as (errno, text).
        super().__init__(f"{name}: {message}" if message else name)

    def __reduce__(self) -> Tuple[Type["ArSockError"], Tuple[int, str]]:  # keeps both fields
        return (type(self), (self.status, self.message))


class InvalidArgument(ArSockError, ValueError):
    """ARSOCK_ERR_INVALID_ARGUMENT (also raised by the binding for out-of-range arguments)."""


class InvalidHandle(ArSockError):
    """ARSOCK_ERR_INVALID_HANDLE: the object is closed (or the handle never existed)."""


class ArSockTimeout(ArSockError, TimeoutError):
    """ARSOCK_ERR_TIMEOUT: nothing happened within the timeout; the object stays usable."""


class ConnectionClosed(ArSockError, ConnectionError):
    """ARSOCK_ERR_CLOSED: the peer closed or reset the connection, or it was closed locally."""


class AddressInUse(ArSockError, OSError):
    """ARSOCK_ERR_ADDRESS_IN_USE."""


class ConnectionRefused(ArSockError, ConnectionRefusedError):
    """ARSOCK_ERR_CONNECTION_REFUSED: nobody accepts connections at the address."""


class AddressError(ArSockError, OSError):
    """ARSOCK_ERR_ADDRESS: the host cannot be parsed or resolved (or is not local for bind)."""


class StateError(ArSockError):
    """ARSOCK_ERR_STATE: e.g. mixing raw and message calls on one connection."""


class ArSockIOError(ArSockError, OSError):
    """ARSOCK_ERR_IO: another operating-system error (see ``message``)."""


class InternalError(ArSockError):
    """ARSOCK_ERR_PANIC: a bug inside arsock was caught at the C boundary; please report."""


class BufferTooSmall(ArSockError):
    """ARSOCK_ERR_BUFFER_TOO_SMALL (Connection.recv_msg / recv_msgs grow their buffer instead of raising)."""


class MessageTooLarge(ArSockError):
    """ARSOCK_ERR_MESSAGE_TOO_LARGE: above the connection's ``max_message``; nothing sent."""


class ProtocolError(ArSockError):
    """ARSOCK_ERR_PROTOCOL: the peer broke the framing; the connection is now closed."""


class WouldBlock(ArSockError, BlockingIOError):
    """ARSOCK_ERR_WOULD_BLOCK: non-blocking send (send_timeout 0) and the queue is full."""


class NotFoundError(ArSockError, LookupError):
    """ARSOCK_ERR_NOT_FOUND: no such peer in the room, state key, or payload of the last poll."""


ERROR_CLASSES: Dict[int, Type[ArSockError]] = {
    Status.ERR_INVALID_ARGUMENT: InvalidArgument,
    Status.ERR_INVALID_HANDLE: InvalidHandle,
    Status.ERR_TIMEOUT: ArSockTimeout,
    Status.ERR_CLOSED: ConnectionClosed,
    Status.ERR_ADDRESS_IN_USE: AddressInUse,
    Status.ERR_CONNECTION_REFUSED: ConnectionRefused,
    Status.ERR_ADDRESS: AddressError,
    Status.ERR_STATE: StateError,
    Status.ERR_IO: ArSockIOError,
    Status.ERR_PANIC: InternalError,
    Status.ERR_BUFFER_TOO_SMALL: BufferTooSmall,
    Status.ERR_MESSAGE_TOO_LARGE: MessageTooLarge,
    Status.ERR_PROTOCOL: ProtocolError,
    Status.ERR_WOULD_BLOCK: WouldBlock,
    Status.ERR_NOT_FOUND: NotFoundError,
}


def error_for_status(status: int, message: str = "") -> ArSockError:
    """The exception object for a (negative) status; unknown values give ArSockError."""
    return ERROR_CLASSES.get(int(status), ArSockError)(status, message)
