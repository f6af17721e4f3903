"""Handles are closed by close(), `with`, and the finalizer; double close is harmless."""

from __future__ import annotations

import ctypes
import gc
import time
import unittest

from _support import T, Background, arsock, connected_pair

lib = arsock._ffi.lib
INVALID = arsock.Status.ERR_INVALID_HANDLE


def handle_is_open(handle: int) -> bool:
    """True if the library still knows the handle (asked without closing it)."""
    port, qlen = ctypes.c_uint16(), ctypes.c_size_t()
    as_server = lib.arsock_server_local_port(handle, ctypes.byref(port))
    as_client = lib.arsock_client_send_queue_len(handle, ctypes.byref(qlen))
    return as_server != INVALID or as_client != INVALID


class ContextManagers(unittest.TestCase):
    def test_server_and_connections(self) -> None:
        with arsock.Server("127.0.0.1", 0) as server:
            sh = server.handle
            self.assertTrue(handle_is_open(sh))
            with arsock.connect("127.0.0.1", server.port, timeout=T) as client:
                ch = client.handle
                with server.accept(timeout=T) as accepted:
                    ah = accepted.handle
                    self.assertNotIn(0, (sh, ch, ah))
                    self.assertEqual(len({sh, ch, ah}), 3)
                self.assertTrue(accepted.closed)
                self.assertEqual(accepted.handle, 0)
                self.assertFalse(handle_is_open(ah))
                # The peer sees the close.
                with self.assertRaises(arsock.ConnectionClosed):
                    client.recv(1, timeout=T)
            self.assertTrue(client.closed)
            self.assertFalse(handle_is_open(ch))
        self.assertTrue(server.closed)
        self.assertFalse(handle_is_open(sh))
        # The library confirms: closing the old handles again is "invalid handle".
        for h in (sh, ch, ah):
            self.assertEqual(lib.arsock_close(h), INVALID)

    def test_exception_inside_with_still_closes(self) -> None:
        with self.assertRaises(RuntimeError):
            with arsock.Server("127.0.0.1", 0) as server:
                raise RuntimeError("boom")
        self.assertTrue(server.closed)

    def test_repr(self) -> None:
        with arsock.Server("127.0.0.1", 0) as server:
            self.assertIn(str(server.port), repr(server))
        self.assertIn("closed", repr(server))


class Finalizer(unittest.TestCase):
    def test_del_closes_the_handle(self) -> None:
        with arsock.Server("127.0.0.1", 0) as server:
            client, accepted = connected_pair(server)
            h = client.handle
            del client
            gc.collect()
            self.assertFalse(handle_is_open(h))
            with self.assertRaises(arsock.ConnectionClosed):
                accepted.recv(1, timeout=T)
            accepted.close()

    def test_del_after_close_is_quiet(self) -> None:
        server = arsock.Server("127.0.0.1", 0)
        server.close()
        server.__del__()
        del server
        gc.collect()


class CloseFromAnotherThread(unittest.TestCase):
    def test_wakes_a_blocked_recv_msg(self) -> None:
        with arsock.Server("127.0.0.1", 0) as server:
            client, accepted = connected_pair(server)
            with client:
                waiter = Background(lambda: accepted.recv_msg(timeout=T))
                time.sleep(0.2)  # let it block (either outcome below is a correct wake-up)
                accepted.close()
                with self.assertRaises((arsock.ConnectionClosed, arsock.InvalidHandle)):
                    waiter.result()

    def test_wakes_a_blocked_accept(self) -> None:
        server = arsock.Server("127.0.0.1", 0)
        waiter = Background(lambda: server.accept(timeout=T))
        time.sleep(0.2)
        server.close()
        with self.assertRaises((arsock.ConnectionClosed, arsock.InvalidHandle)):
            waiter.result()


if __name__ == "__main__":
    unittest.main()
