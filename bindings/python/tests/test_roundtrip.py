"""Raw and message round trips between two arsock connections."""

from __future__ import annotations

import array
import unittest

from _support import Background, PairTestCase, T, arsock, pattern, recv_exact

SIZES = [0, 1, 64, 65536, 1024 * 1024]


class RawRoundTrip(PairTestCase):
    def test_client_to_server_and_back(self) -> None:
        data = pattern(100_000, seed=1)
        self.assertEqual(self.client.send(data), len(data))
        self.assertEqual(recv_exact(self.accepted, len(data)), data)
        reply = pattern(70_000, seed=2)
        self.accepted.send(reply)
        self.assertEqual(recv_exact(self.client, len(reply)), reply)

    def test_one_mebibyte_while_the_peer_reads(self) -> None:
        data = pattern(1024 * 1024, seed=3)
        reader = Background(lambda: recv_exact(self.accepted, len(data)))
        self.client.send(data)
        self.assertEqual(reader.result(), data)

    def test_recv_returns_at_most_bufsize(self) -> None:
        self.client.send(b"abcdef")
        first = self.accepted.recv(4, timeout=T)
        self.assertTrue(1 <= len(first) <= 4)
        rest = recv_exact(self.accepted, 6 - len(first))
        self.assertEqual(first + rest, b"abcdef")

    def test_bytes_like_inputs(self) -> None:
        parts = [
            bytearray(b"ab"),
            memoryview(b"xcdx")[1:3],  # read-only slice
            memoryview(bytearray(b"ef")),
            array.array("B", b"gh"),
            array.array("H", [0x6A69]),  # 2 bytes, native order
            memoryview(b"k-l-m")[::2],  # not contiguous
            b"",
        ]
        for p in parts:
            self.client.send(p)
        expected = b"abcdef" + b"gh" + array.array("H", [0x6A69]).tobytes() + b"klm"
        self.assertEqual(recv_exact(self.accepted, len(expected)), expected)

    def test_recv_into(self) -> None:
        self.client.send(b"hello")
        buf = bytearray(16)
        n = self.accepted.recv_into(buf, timeout=T)
        got = bytes(buf[:n]) + recv_exact(self.accepted, 5 - n)
        self.assertEqual(got, b"hello")

    def test_recv_larger_than_reusable_buffer(self) -> None:
        data = pattern(arsock.REUSABLE_BUFFER_SIZE * 2, seed=4)
        reader = Background(lambda: self.accepted.recv(len(data) + 10, timeout=T))
        self.client.send(data)
        got = reader.result()
        self.assertTrue(0 < len(got) <= len(data))
        self.assertEqual(got, data[: len(got)])


class MessageRoundTrip(PairTestCase):
    def test_sizes_both_ways(self) -> None:
        for size in SIZES:
            with self.subTest(size=size):
                msg = pattern(size, seed=size & 0xFF)
                self.client.send_msg(msg)
                got = self.accepted.recv_msg(timeout=T)
                self.assertIsInstance(got, bytes)
                self.assertEqual(len(got), size)
                self.assertEqual(got, msg)
                reply = pattern(size, seed=(size + 7) & 0xFF)
                self.accepted.send_msg(reply)
                self.assertEqual(self.client.recv_msg(timeout=T), reply)

    def test_boundaries_are_kept(self) -> None:
        msgs = [pattern(n, seed=n) for n in (3, 0, 1, 200, 0, 5)]
        for m in msgs:
            self.client.send_msg(m)
        self.assertEqual([self.accepted.recv_msg(timeout=T) for _ in msgs], msgs)

    def test_send_msgs(self) -> None:
        msgs = [b"one", bytearray(b"two"), memoryview(b"three"), b"", pattern(100_000)]
        self.assertEqual(self.client.send_msgs(msgs), len(msgs))
        self.assertEqual(self.client.send_msgs(iter([])), 0)
        self.assertEqual(self.client.send_msgs(m for m in [b"gen1", b"gen2"]), 2)
        got = [self.accepted.recv_msg(timeout=T) for _ in range(len(msgs) + 2)]
        self.assertEqual(got, [bytes(m) for m in msgs] + [b"gen1", b"gen2"])

    def test_recv_msg_grows_past_its_reusable_buffer(self) -> None:
        size = arsock.REUSABLE_BUFFER_SIZE
        sizes = [size, size + 1, 10, 3 * size, 0, 7]
        msgs = [pattern(n, seed=i) for i, n in enumerate(sizes)]
        for m in msgs:
            self.client.send_msg(m)
        for m in msgs:
            got = self.accepted.recv_msg(timeout=T)
            self.assertEqual(len(got), len(m))
            self.assertEqual(got, m)
        # The reusable buffer stays at its size: big messages got a buffer of their own.
        self.assertEqual(len(self.accepted._buf), size)

    def test_concurrent_receivers_share_one_connection(self) -> None:
        big = arsock.REUSABLE_BUFFER_SIZE + 100
        msgs = [pattern(big if i % 10 == 0 else i, seed=i) for i in range(1, 121)]

        def receive_until_empty() -> list:
            out = []
            while True:
                m = self.accepted.recv_msg(timeout=T)
                if not m:
                    return out
                out.append(m)

        readers = [Background(receive_until_empty) for _ in range(2)]
        for m in msgs:
            self.client.send_msg(m)
        self.client.send_msgs([b"", b""])  # one end marker per reader
        got = readers[0].result() + readers[1].result()
        self.assertEqual(sorted(got), sorted(msgs))

    def test_options_round_trip(self) -> None:
        c = self.client
        self.assertEqual(c.max_message, arsock.DEFAULT_MAX_MESSAGE)
        self.assertEqual(c.send_queue_limit, arsock.DEFAULT_SEND_QUEUE_LIMIT)
        self.assertEqual(c.frame_timeout, arsock.DEFAULT_FRAME_TIMEOUT_MS / 1000)
        self.assertEqual(self.accepted.send_timeout, T)
        c.max_message = 1000
        c.send_queue_limit = 4096
        c.send_timeout = None
        c.frame_timeout = 2.5
        self.assertEqual(
            (c.max_message, c.send_queue_limit, c.send_timeout, c.frame_timeout),
            (1000, 4096, None, 2.5),
        )
        c.frame_timeout = None  # disables
        self.assertIsNone(c.frame_timeout)
        c.send_timeout = 0
        self.assertEqual(c.send_timeout, 0.0)
        self.assertEqual(c.send_queue_len, 0)
        c.send_msg(b"still works")
        self.assertEqual(self.accepted.recv_msg(timeout=T), b"still works")


if __name__ == "__main__":
    unittest.main()
