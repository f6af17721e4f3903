"""Connection.recv_msgs: batch receive (arsock_client_recv_msgs)."""

from __future__ import annotations

import ctypes
import unittest
from typing import List

from _support import PairTestCase, T, arsock, pattern

from arsock import _ffi


class RecvMsgs(PairTestCase):
    def collect(self, total: int, max_count: int = arsock.RECV_MSGS_MAX) -> List[List[bytes]]:
        """Batches from recv_msgs (each wait bounded by T) until ``total`` messages came."""
        batches: List[List[bytes]] = []
        got = 0
        while got < total:
            batch = self.accepted.recv_msgs(max_count=max_count, timeout=T)
            self.assertIsInstance(batch, list)
            self.assertTrue(1 <= len(batch) <= min(max_count, arsock.RECV_MSGS_MAX), len(batch))
            for m in batch:
                self.assertIsInstance(m, bytes)
            batches.append(batch)
            got += len(batch)
        self.assertEqual(got, total, "no more messages than were sent")
        return batches

    def test_many_messages_arrive_in_order_across_several_calls(self) -> None:
        msgs = [pattern(0 if i % 7 == 0 else 1 + i % 90, seed=i) for i in range(1000)]
        for i in range(0, len(msgs), 100):
            self.client.send_msgs(msgs[i : i + 100])
        batches = self.collect(len(msgs), max_count=64)
        self.assertGreaterEqual(len(batches), len(msgs) // 64, "64 per call at most")
        self.assertEqual([m for b in batches for m in b], msgs)
        with self.assertRaises(arsock.ArSockTimeout):
            self.accepted.recv_msgs(timeout=0)  # everything was taken

    def test_default_max_count_is_the_library_limit(self) -> None:
        msgs = [pattern(4, seed=i) for i in range(600)]
        self.client.send_msgs(msgs)
        batches = self.collect(len(msgs))
        self.assertGreaterEqual(len(batches), 3, "at most 256 per call")
        self.assertEqual([m for b in batches for m in b], msgs)
        # a max_count above the limit means the limit
        self.client.send_msgs(msgs)
        batches = self.collect(len(msgs), max_count=10_000)
        self.assertEqual([m for b in batches for m in b], msgs)

    def test_a_batch_fits_the_reusable_buffer(self) -> None:
        size = arsock.REUSABLE_BUFFER_SIZE
        msgs = [pattern(size // 3 + 1, seed=i) for i in range(7)]  # three never fit together
        self.client.send_msgs(msgs)
        batches = self.collect(len(msgs))
        for b in batches:
            self.assertLessEqual(sum(len(m) for m in b), size)
            self.assertLessEqual(len(b), 2)
        self.assertEqual([m for b in batches for m in b], msgs)

    def test_first_message_larger_than_the_buffer(self) -> None:
        size = arsock.REUSABLE_BUFFER_SIZE
        big = pattern(3 * size, seed=1)
        small = [b"a", b"", pattern(100, seed=2)]
        self.client.send_msgs([big] + small)
        first = self.accepted.recv_msgs(timeout=T)
        self.assertEqual(first[0], big)
        rest = first[1:] + [m for b in self.collect(len(small) - len(first) + 1) for m in b]
        self.assertEqual(rest, small)
        # the reusable buffer stays at its size: the big message got a buffer of its own
        self.assertEqual(len(self.accepted._buf), size)

    def test_buffer_too_small_in_the_c_call_keeps_the_message(self) -> None:
        # What recv_msgs relies on: {NULL, size needed} in out_msgs[0], message still queued.
        self.client.send_msg(pattern(1000, seed=3))
        out = (_ffi.arsock_buf * 4)()
        count = ctypes.c_size_t(99)
        buf = ctypes.create_string_buffer(10)
        status = None
        for _ in range(int(T / 0.01)):  # bounded: until the message has arrived
            status = _ffi.lib.arsock_client_recv_msgs(
                self.accepted.handle, buf, 10, out, 4, 10, ctypes.byref(count)
            )
            if status != arsock.Status.ERR_TIMEOUT:
                break
        self.assertEqual(status, arsock.Status.ERR_BUFFER_TOO_SMALL)
        self.assertIsNone(out[0].data)
        self.assertEqual(out[0].len, 1000)
        self.assertEqual(self.accepted.recv_msgs(timeout=T), [pattern(1000, seed=3)])

    def test_while_another_thread_holds_the_reusable_buffer(self) -> None:
        # The path taken when the reusable buffer is busy: size query, then an own buffer.
        with self.accepted._buf_lock:
            self.client.send_msgs([b"", b""])
            batches = self.collect(2)
            self.assertEqual([m for b in batches for m in b], [b"", b""])
            msgs = [pattern(500, seed=4), b"x"]
            self.client.send_msgs(msgs)
            batches = self.collect(2)
            self.assertEqual([m for b in batches for m in b], msgs)

    def test_timeouts_and_arguments(self) -> None:
        with self.assertRaises(arsock.ArSockTimeout):
            self.accepted.recv_msgs(timeout=0)
        with self.assertRaises(TimeoutError):
            self.accepted.recv_msgs(max_count=3, timeout=0.05)
        for bad in (0, -1):
            with self.assertRaises(arsock.InvalidArgument):
                self.accepted.recv_msgs(max_count=bad, timeout=0)
        with self.assertRaises(TypeError):
            self.accepted.recv_msgs(max_count=True, timeout=0)
        with self.assertRaises(arsock.InvalidArgument):
            self.accepted.recv_msgs(timeout=-1)
        # still usable after timeouts
        self.client.send_msg(b"late")
        self.assertEqual(self.accepted.recv_msgs(timeout=T), [b"late"])
        # after the peer closed and everything was read: ConnectionClosed
        self.client.send_msg(b"last")
        self.client.close()
        self.assertEqual(self.accepted.recv_msgs(timeout=T), [b"last"])
        with self.assertRaises(arsock.ConnectionClosed):
            self.accepted.recv_msgs(timeout=T)

    def test_raw_mode_connection_is_a_state_error(self) -> None:
        self.accepted.send(b"raw")
        with self.assertRaises(arsock.StateError):
            self.accepted.recv_msgs(timeout=0)


if __name__ == "__main__":
    unittest.main()
