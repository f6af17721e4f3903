"""Shared helpers: import arsock (from the source tree unless ARSOCK_TEST_INSTALLED=1), paths,
and a bounded way to run code in a thread."""

from __future__ import annotations

import os
import sys
import threading
import unittest
from pathlib import Path
from typing import Any, Callable, List, Optional, Tuple

TESTS_DIR = Path(__file__).resolve().parent
PY_DIR = TESTS_DIR.parent
REPO = PY_DIR.parents[1]
HEADER = REPO / "include" / "arsock.h"
CARGO_TOML = REPO / "Cargo.toml"

if os.environ.get("ARSOCK_TEST_INSTALLED") != "1":
    sys.path.insert(0, str(PY_DIR / "src"))

import arsock  # noqa: E402

#: Upper bound for every wait in the tests (seconds). Generous: the machine is shared.
T = 10.0


class Background:
    """Run ``fn`` in a daemon thread; ``result()`` joins with a timeout and re-raises."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self._fn = fn
        self._value: Any = None
        self._error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._fn()
        except BaseException as e:  # noqa: BLE001 - handed to the joining thread
            self._error = e

    def result(self, timeout: float = T) -> Any:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError(f"background call did not finish within {timeout} s")
        if self._error is not None:
            raise self._error
        return self._value


def connected_pair(
    server: "arsock.Server",
) -> Tuple["arsock.Connection", "arsock.Connection"]:
    """(client, accepted) over ``server``; sends are bounded by T so a bug cannot hang."""
    client = arsock.connect("127.0.0.1", server.port, timeout=T)
    accepted = server.accept(timeout=T)
    client.send_timeout = T
    accepted.send_timeout = T
    return client, accepted


def recv_exact(conn: "arsock.Connection", n: int) -> bytes:
    """Raw mode: exactly n bytes (each recv bounded by T)."""
    parts: List[bytes] = []
    got = 0
    while got < n:
        chunk = conn.recv(min(65536, n - got), timeout=T)
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def sock_recv_exact(sock: Any, n: int) -> bytes:
    """The same for a plain socket (with settimeout already applied)."""
    parts: List[bytes] = []
    got = 0
    while got < n:
        chunk = sock.recv(min(65536, n - got))
        if not chunk:
            raise AssertionError(f"peer closed after {got} of {n} bytes")
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def pattern(n: int, seed: int = 0) -> bytes:
    """n deterministic, position-dependent bytes (detects reordering and truncation)."""
    block = bytes((i * 31 + seed) & 0xFF for i in range(251))
    return (block * (n // 251 + 1))[:n]


class PairTestCase(unittest.TestCase):
    """A server and a connected (client, accepted) pair per test, closed afterwards."""

    def setUp(self) -> None:
        self.server = arsock.Server("127.0.0.1", 0)
        self.client, self.accepted = connected_pair(self.server)

    def tearDown(self) -> None:
        self.client.close()
        self.accepted.close()
        self.server.close()
