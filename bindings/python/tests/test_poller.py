"""arsock.Poller against the real library: each rule of the poller contract, through Python."""

from __future__ import annotations

import time
import unittest
from typing import List, Tuple

from _support import T, Background, PairTestCase, arsock, connected_pair


def wait_for(poller: "arsock.Poller", obj: object, want: int) -> int:
    """Wait (bounded by T) until ``obj`` is reported with all bits of ``want``; its events."""
    deadline = time.monotonic() + T
    while time.monotonic() < deadline:
        for o, ev in poller.wait(timeout=0.1):
            if o is obj and ev & want == want:
                return ev
    raise AssertionError(f"{obj!r} was not reported with events {want} within {T} s")


class PollerBasics(unittest.TestCase):
    def test_constants_are_the_headers(self) -> None:
        self.assertEqual((arsock.POLL_IN, arsock.POLL_OUT, arsock.POLL_CLOSED), (1, 2, 4))

    def test_empty_poller_times_out_with_an_empty_list(self) -> None:
        with arsock.Poller() as poller:
            self.assertEqual(poller.wait(timeout=0), [])
            self.assertEqual(poller.wait(timeout=0.02), [])
            self.assertEqual(len(poller), 0)

    def test_close_wakes_a_wait_blocked_in_another_thread(self) -> None:
        poller = arsock.Poller()
        blocked = Background(lambda: poller.wait(timeout=None))
        time.sleep(0.1)
        poller.close()
        with self.assertRaises(arsock.ConnectionClosed):
            blocked.result()
        self.assertTrue(poller.closed)
        poller.close()  # harmless

    def test_bad_arguments(self) -> None:
        with arsock.Poller() as poller:
            with self.assertRaises(arsock.InvalidArgument):
                poller.wait(timeout=0, max_events=0)
            with self.assertRaises(arsock.InvalidArgument):
                poller.add(12345, -1)
            with self.assertRaises(TypeError):
                poller.add("not a handle")  # type: ignore[arg-type]
            with self.assertRaises(arsock.InvalidHandle):
                poller.add(12345, arsock.POLL_IN)  # never issued
            self.assertEqual(poller.wait(timeout=0), [], "still usable")


class ServerInPoller(unittest.TestCase):
    def test_server_is_in_when_a_connection_waits(self) -> None:
        with arsock.Server("127.0.0.1", 0) as server, arsock.Poller() as poller:
            poller.add(server, arsock.POLL_IN)
            self.assertEqual(poller.wait(timeout=0), [])
            with arsock.connect("127.0.0.1", server.port, timeout=T):
                self.assertTrue(wait_for(poller, server, arsock.POLL_IN) & arsock.POLL_IN)
                with server.accept(timeout=0) as accepted:
                    self.assertFalse(accepted.closed)


class ConnectionInPoller(PairTestCase):
    def test_message_is_in_level_triggered_until_received(self) -> None:
        with arsock.Poller() as poller:
            poller.add(self.accepted, arsock.POLL_IN)
            self.assertEqual(poller.wait(timeout=0), [])
            self.client.send_msg(b"pose")
            wait_for(poller, self.accepted, arsock.POLL_IN)
            again = poller.wait(timeout=0)
            self.assertEqual(len(again), 1)
            self.assertIs(again[0][0], self.accepted)
            self.assertEqual(self.accepted.recv_msg(timeout=0), b"pose")
            self.assertEqual(poller.wait(timeout=0), [])

    def test_raw_bytes_make_a_connection_in(self) -> None:
        with arsock.Poller() as poller:
            poller.add(self.accepted, arsock.POLL_IN)
            self.client.send(b"x")
            wait_for(poller, self.accepted, arsock.POLL_IN)
            self.assertEqual(self.accepted.recv(10, timeout=0), b"x")

    def test_out_while_the_send_queue_has_room(self) -> None:
        with arsock.Poller() as poller:
            poller.add(self.client, arsock.POLL_OUT)
            ev = wait_for(poller, self.client, arsock.POLL_OUT)
            self.assertFalse(ev & arsock.POLL_IN)

    def test_closed_is_reported_with_an_empty_mask(self) -> None:
        with arsock.Poller() as poller:
            poller.add(self.accepted, 0)
            self.client.send_msg(b"m")
            time.sleep(0.05)
            self.assertEqual(poller.wait(timeout=0), [], "IN was not asked for")
            self.assertEqual(self.accepted.recv_msg(timeout=T), b"m")
            self.client.close()
            ev = wait_for(poller, self.accepted, arsock.POLL_CLOSED)
            self.assertFalse(ev & arsock.POLL_IN)

    def test_modify_and_remove(self) -> None:
        with arsock.Poller() as poller:
            poller.add(self.accepted, arsock.POLL_OUT)
            wait_for(poller, self.accepted, arsock.POLL_OUT)
            poller.modify(self.accepted, arsock.POLL_IN)
            self.assertEqual(poller.wait(timeout=0), [])
            self.client.send_msg(b"1")
            wait_for(poller, self.accepted, arsock.POLL_IN)
            poller.remove(self.accepted)
            self.assertEqual(len(poller), 0)
            self.assertEqual(poller.wait(timeout=0), [])

    def test_one_poller_per_handle_and_no_double_add(self) -> None:
        with arsock.Poller() as a, arsock.Poller() as b:
            a.add(self.accepted, arsock.POLL_IN)
            with self.assertRaises(arsock.StateError):
                a.add(self.accepted, arsock.POLL_IN)
            with self.assertRaises(arsock.StateError):
                b.add(self.accepted, arsock.POLL_IN)
            a.remove(self.accepted)
            b.add(self.accepted, arsock.POLL_IN)

    def test_unknown_event_bits_are_rejected(self) -> None:
        with arsock.Poller() as poller:
            with self.assertRaises(arsock.InvalidArgument) as cm:
                poller.add(self.accepted, 0x100)
            self.assertTrue(cm.exception.message)
            poller.add(self.accepted, arsock.POLL_IN)  # the handle is still usable

    def test_closing_a_connection_removes_it(self) -> None:
        with arsock.Poller() as poller:
            poller.add(self.accepted, arsock.POLL_IN)
            self.client.send_msg(b"z")
            wait_for(poller, self.accepted, arsock.POLL_IN)
            h = self.accepted.handle
            self.accepted.close()
            self.assertEqual(poller.wait(timeout=0), [])
            with self.assertRaises(arsock.InvalidHandle):
                poller.add(h, arsock.POLL_IN)

    def test_a_message_wakes_a_wait_in_another_thread(self) -> None:
        with arsock.Poller() as poller:
            poller.add(self.accepted, arsock.POLL_IN)
            blocked = Background(lambda: poller.wait(timeout=T))
            time.sleep(0.05)
            self.client.send_msg(b"wake")
            got = blocked.result()
            self.assertEqual([(o, e & arsock.POLL_IN) for o, e in got], [(self.accepted, arsock.POLL_IN)])

    def test_raw_handles_come_back_as_ints(self) -> None:
        with arsock.Poller() as poller:
            poller.add(self.accepted.handle, arsock.POLL_IN)
            self.client.send_msg(b"r")
            wait_for(poller, self.accepted.handle, arsock.POLL_IN)


class Fairness(unittest.TestCase):
    def test_more_ready_than_max_events_are_all_reported_in_turn(self) -> None:
        with arsock.Server("127.0.0.1", 0) as server, arsock.Poller() as poller:
            pairs: List[Tuple["arsock.Connection", "arsock.Connection"]] = []
            try:
                for i in range(5):
                    c, a = connected_pair(server)
                    pairs.append((c, a))
                    poller.add(a, arsock.POLL_IN)
                    c.send_msg(bytes([i]))
                for _, a in pairs:
                    wait_for(poller, a, arsock.POLL_IN)
                seen = set()
                for _ in range(5):
                    got = poller.wait(timeout=T, max_events=1)
                    self.assertEqual(len(got), 1)
                    seen.add(id(got[0][0]))
                self.assertEqual(len(seen), 5, "a ready connection was starved")
                many = poller.wait(timeout=0, max_events=200)  # larger than the shared buffer
                self.assertEqual(len(many), 5)
            finally:
                for c, a in pairs:
                    c.close()
                    a.close()

    def test_a_second_concurrent_wait_is_a_state_error(self) -> None:
        with arsock.Server("127.0.0.1", 0) as server, arsock.Poller() as poller:
            c, a = connected_pair(server)
            try:
                poller.add(a, arsock.POLL_IN)
                blocked = Background(lambda: poller.wait(timeout=T))
                deadline = time.monotonic() + T
                refused = False
                while not refused and time.monotonic() < deadline:
                    try:
                        poller.wait(timeout=0)
                        time.sleep(0.02)  # the other thread is not waiting yet
                    except arsock.StateError:
                        refused = True
                self.assertTrue(refused, "one thread waits on a poller at a time")
                c.send_msg(b"wake")
                self.assertEqual([o for o, _ in blocked.result()], [a])
            finally:
                c.close()
                a.close()

if __name__ == "__main__":
    unittest.main()
