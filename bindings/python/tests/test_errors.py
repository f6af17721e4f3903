"""Status -> exception mapping, timeouts, and misuse."""

from __future__ import annotations

import math
import socket
import threading
import unittest

from _support import PairTestCase, T, arsock


class Mapping(unittest.TestCase):
    def test_every_error_status_has_its_class(self) -> None:
        for st in arsock.Status:
            if st == arsock.Status.OK:
                continue
            with self.subTest(status=st.name):
                e = arsock.error_for_status(st, "detail")
                self.assertIsInstance(e, arsock.ArSockError)
                self.assertIsNot(type(e), arsock.ArSockError)
                self.assertEqual(e.status, int(st))
                self.assertEqual(e.message, "detail")
                self.assertIn("ARSOCK_" + st.name, str(e))
        classes = {type(arsock.error_for_status(st)) for st in arsock.Status if st}
        self.assertEqual(len(classes), len(arsock.Status) - 1, "one class per status")

    def test_builtin_bases(self) -> None:
        S = arsock.Status
        cases = [
            (S.ERR_TIMEOUT, TimeoutError, arsock.ArSockTimeout),
            (S.ERR_CLOSED, ConnectionError, arsock.ConnectionClosed),
            (S.ERR_CONNECTION_REFUSED, ConnectionRefusedError, arsock.ConnectionRefused),
            (S.ERR_WOULD_BLOCK, BlockingIOError, arsock.WouldBlock),
            (S.ERR_INVALID_ARGUMENT, ValueError, arsock.InvalidArgument),
            (S.ERR_IO, OSError, arsock.ArSockIOError),
            (S.ERR_ADDRESS_IN_USE, OSError, arsock.AddressInUse),
            (S.ERR_ADDRESS, OSError, arsock.AddressError),
            (S.ERR_INVALID_HANDLE, arsock.ArSockError, arsock.InvalidHandle),
            (S.ERR_STATE, arsock.ArSockError, arsock.StateError),
            (S.ERR_PROTOCOL, arsock.ArSockError, arsock.ProtocolError),
            (S.ERR_MESSAGE_TOO_LARGE, arsock.ArSockError, arsock.MessageTooLarge),
            (S.ERR_BUFFER_TOO_SMALL, arsock.ArSockError, arsock.BufferTooSmall),
            (S.ERR_PANIC, arsock.ArSockError, arsock.InternalError),
        ]
        for st, builtin, cls in cases:
            e = arsock.error_for_status(st, "m")
            self.assertIs(type(e), cls)
            self.assertIsInstance(e, builtin)
            self.assertEqual(e.args, (str(e),))  # OSError did not reinterpret the arguments

    def test_unknown_status(self) -> None:
        e = arsock.error_for_status(-999, "x")
        self.assertIs(type(e), arsock.ArSockError)
        self.assertEqual(e.status, -999)

    def test_status_str(self) -> None:
        self.assertTrue(arsock.status_str(0))
        self.assertIn("unknown", arsock.status_str(12345))
        texts = {arsock.status_str(int(st)) for st in arsock.Status}
        self.assertEqual(len(texts), len(arsock.Status))

    def test_abi_check_names_both_numbers(self) -> None:
        from arsock import _ffi

        _ffi.check_abi(1, 1)
        with self.assertRaises(ImportError) as cm:
            _ffi.check_abi(2, 1, "/x/libarsock.so")
        text = str(cm.exception)
        self.assertIn("2", text)
        self.assertIn("1", text)
        self.assertIn("/x/libarsock.so", text)
        self.assertEqual(arsock.abi_version(), arsock.ABI_VERSION)


class AddressErrors(unittest.TestCase):
    def test_connect_to_a_closed_port(self) -> None:
        # A bound socket that does not listen: the port is ours and refuses connections.
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            with self.assertRaises(arsock.ConnectionRefused) as cm:
                arsock.connect("127.0.0.1", port, timeout=T)
        e = cm.exception
        self.assertIsInstance(e, ConnectionRefusedError)
        self.assertEqual(e.status, arsock.Status.ERR_CONNECTION_REFUSED)
        self.assertTrue(e.message)
        self.assertEqual(e.message, arsock.last_error_message())
        self.assertIn(e.message, str(e))

    def test_bad_host_strings(self) -> None:
        # Only strings rejected without asking a DNS server.
        with self.assertRaises(arsock.AddressError) as cm:
            arsock.connect("", 80, timeout=T)
        self.assertEqual(cm.exception.status, arsock.Status.ERR_ADDRESS)
        self.assertTrue(cm.exception.message)
        with self.assertRaises(arsock.AddressError):
            arsock.Server("", 0)
        with self.assertRaises(arsock.AddressError):  # a literal that is not local
            arsock.Server("192.0.2.1", 0)
        with self.assertRaises(arsock.InvalidArgument):
            arsock.connect("127.0.0.1\0evil", 80, timeout=T)
        with self.assertRaises(ValueError):  # InvalidArgument is a ValueError
            arsock.Server("127.0.0.1\0", 0)

    def test_out_of_range_arguments(self) -> None:
        for port in (-1, 65536, 70000):
            with self.assertRaises(arsock.InvalidArgument):
                arsock.connect("127.0.0.1", port, timeout=T)
            with self.assertRaises(arsock.InvalidArgument):
                arsock.Server("127.0.0.1", port)
        with self.assertRaises(arsock.InvalidArgument) as cm:
            arsock.Server("127.0.0.1", 0, backlog=-5)  # rejected by the library itself
        self.assertEqual(cm.exception.message, arsock.last_error_message())

    def test_address_in_use(self) -> None:
        with arsock.Server("127.0.0.1", 0) as first:
            with self.assertRaises(arsock.AddressInUse) as cm:
                arsock.Server("127.0.0.1", first.port)
            self.assertIsInstance(cm.exception, OSError)


class Timeouts(PairTestCase):
    def test_accept(self) -> None:
        for timeout in (0, 0.05):
            with self.assertRaises(arsock.ArSockTimeout) as cm:
                self.server.accept(timeout=timeout)
            self.assertIsInstance(cm.exception, TimeoutError)
            self.assertEqual(cm.exception.status, arsock.Status.ERR_TIMEOUT)

    def test_raw_recv_then_still_usable(self) -> None:
        with self.assertRaises(TimeoutError):
            self.accepted.recv(10, timeout=0)
        with self.assertRaises(arsock.ArSockTimeout):
            self.accepted.recv(10, timeout=0.05)
        self.client.send(b"x")
        self.assertEqual(self.accepted.recv(10, timeout=T), b"x")

    def test_recv_msg_then_still_usable(self) -> None:
        with self.assertRaises(arsock.ArSockTimeout):
            self.accepted.recv_msg(timeout=0)
        with self.assertRaises(TimeoutError):
            self.accepted.recv_msg(timeout=0.05)
        self.client.send_msg(b"late")
        self.assertEqual(self.accepted.recv_msg(timeout=T), b"late")

    def test_timeout_conversion(self) -> None:
        self.assertEqual(arsock.timeout_to_ms(None), -1)
        self.assertEqual(arsock.timeout_to_ms(0), 0)
        self.assertEqual(arsock.timeout_to_ms(0.0001), 1)  # positive never becomes a poll
        self.assertEqual(arsock.timeout_to_ms(1.5), 1500)
        self.assertEqual(arsock.timeout_to_ms(math.inf), -1)
        self.assertEqual(arsock.timeout_to_ms(1e12), 2**31 - 1)
        for bad in (-0.5, -1, math.nan):
            with self.assertRaises(arsock.InvalidArgument):
                arsock.timeout_to_ms(bad)
        with self.assertRaises(arsock.InvalidArgument):
            self.accepted.recv_msg(timeout=-1)


class Misuse(PairTestCase):
    def test_use_after_close(self) -> None:
        c = self.client
        c.close()
        c.close()  # harmless
        calls = [
            lambda: c.send(b"x"),
            lambda: c.recv(1, timeout=0),
            lambda: c.send_msg(b"x"),
            lambda: c.send_msgs([b"x"]),
            lambda: c.recv_msg(timeout=0),
            lambda: setattr(c, "max_message", 10),
            lambda: setattr(c, "send_timeout", 1),
            lambda: setattr(c, "send_queue_limit", 10),
            lambda: setattr(c, "frame_timeout", 1),
            lambda: c.send_queue_len,
        ]
        for i, call in enumerate(calls):
            with self.subTest(call=i):
                with self.assertRaises(arsock.InvalidHandle) as cm:
                    call()
                self.assertEqual(cm.exception.status, arsock.Status.ERR_INVALID_HANDLE)
                self.assertTrue(cm.exception.message)
        self.server.close()
        self.server.close()
        with self.assertRaises(arsock.InvalidHandle):
            self.server.accept(timeout=0)

    def test_mixing_raw_and_message_calls(self) -> None:
        self.client.send_msg(b"m")
        with self.assertRaises(arsock.StateError) as cm:
            self.client.send(b"r")
        self.assertEqual(cm.exception.status, arsock.Status.ERR_STATE)
        self.accepted.send(b"raw")
        with self.assertRaises(arsock.StateError):
            self.accepted.recv_msg(timeout=0)

    def test_message_too_large_is_not_sent(self) -> None:
        self.client.max_message = 10
        with self.assertRaises(arsock.MessageTooLarge):
            self.client.send_msg(b"x" * 11)
        with self.assertRaises(arsock.MessageTooLarge):  # all or nothing
            self.client.send_msgs([b"ok", b"y" * 11])
        self.client.send_msg(b"z" * 10)
        self.assertEqual(self.accepted.recv_msg(timeout=T), b"z" * 10)

    def test_oversized_incoming_frame_is_a_protocol_error(self) -> None:
        self.accepted.max_message = 10
        self.client.send_msg(b"x" * 11)
        with self.assertRaises(arsock.ProtocolError):
            self.accepted.recv_msg(timeout=T)
        with self.assertRaises(arsock.ConnectionClosed):
            self.accepted.recv_msg(timeout=T)

    def test_bad_option_values(self) -> None:
        with self.assertRaises(arsock.InvalidArgument):
            self.client.max_message = 2**32  # above the wire format's limit (library check)
        with self.assertRaises(arsock.InvalidArgument):
            self.client.max_message = -1
        with self.assertRaises(arsock.InvalidArgument):
            self.client.frame_timeout = 0  # library: 0 is not a frame timeout
        self.assertEqual(self.client.max_message, arsock.DEFAULT_MAX_MESSAGE)
        with self.assertRaises(arsock.InvalidArgument):
            self.client.recv(0)

    def test_full_queue_would_block_then_times_out(self) -> None:
        # The peer never reads: the kernel buffers fill, then the send queue.
        c = self.client
        c.send_queue_limit = 1
        c.send_timeout = 0
        chunk = bytes(256 * 1024)
        with self.assertRaises(arsock.WouldBlock) as cm:
            for _ in range(1000):  # bound: 256 MiB; loopback buffers fill long before
                c.send_msg(chunk)
        self.assertIsInstance(cm.exception, BlockingIOError)
        self.assertGreater(c.send_queue_len, 0)
        # With a send timeout the same situation is a timeout. The kernel may still make
        # room now and then (buffer autotuning), so keep sending until it stays full.
        c.send_timeout = 0.05
        with self.assertRaises(arsock.ArSockTimeout):
            for _ in range(1000):
                c.send_msg(chunk)

    def test_errors_are_per_thread(self) -> None:
        with self.assertRaises(arsock.ArSockTimeout):
            self.server.accept(timeout=0)
        mine = arsock.last_error_message()
        seen = []

        def other() -> None:
            seen.append(arsock.last_error_message())
            try:
                arsock.connect("", 1, timeout=0)
            except arsock.AddressError as e:
                seen.append(e.message)

        t = threading.Thread(target=other)
        t.start()
        t.join(T)
        self.assertEqual(seen[0], "")
        self.assertNotEqual(seen[1], mine)
        self.assertEqual(arsock.last_error_message(), mine)


if __name__ == "__main__":
    unittest.main()
