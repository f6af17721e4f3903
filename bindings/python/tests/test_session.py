"""Sessions through the Python binding against the real library: a hub on 127.0.0.1 (port 0),
sessions in rooms, presence, relay, shared state, late joiners and misuse."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import unittest
from pathlib import Path
from typing import Callable, List, Optional, Tuple

from _support import T, Background, arsock, pattern

from arsock import EventKind, Reason


class Device:
    """A session plus every event it has polled, with payloads read at once (they are only
    readable until the next poll)."""

    def __init__(self, session: "arsock.Session") -> None:
        self.s = session
        self.log: List[Tuple["arsock.Event", Optional[bytes]]] = []
        self._cursor = 0
        self.id = 0

    def poll_once(self, timeout: float) -> int:
        events = self.s.poll(timeout)
        for e in events:
            self.log.append((e, self.s.read(e) if e.payload else None))
        return len(events)

    def wait_for(
        self, pred: Callable[["arsock.Event", Optional[bytes]], bool], what: str
    ) -> Tuple["arsock.Event", Optional[bytes]]:
        """The next logged event matching ``pred`` (skipping others), polling for at most T."""
        deadline = time.monotonic() + T
        while True:
            while self._cursor < len(self.log):
                e, data = self.log[self._cursor]
                self._cursor += 1
                if pred(e, data):
                    return e, data
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {T} s; saw {self.log}")
            self.poll_once(0.1)

    def wait_kind(
        self, kind: EventKind, peer: Optional[int] = None
    ) -> Tuple["arsock.Event", Optional[bytes]]:
        return self.wait_for(
            lambda e, _d: e.kind == kind and (peer is None or e.peer == peer),
            f"{kind.name} (peer {peer})",
        )


class SessionTestCase(unittest.TestCase):
    def setUp(self) -> None:
        self.hub = arsock.Hub("127.0.0.1", 0)
        self.devices: List[Device] = []

    def tearDown(self) -> None:
        for d in self.devices:
            d.s.close()
        self.hub.close()

    def open(self, room: str, hub: "Optional[arsock.Hub]" = None, **kw: object) -> Device:
        h = hub or self.hub
        d = Device(arsock.Session("127.0.0.1", h.port, room, **kw))
        self.devices.append(d)
        return d

    def join(self, room: str, **kw: object) -> Device:
        d = self.open(room, **kw)
        e, _ = d.wait_kind(EventKind.JOINED)
        self.assertGreaterEqual(e.peer, 1)
        self.assertEqual(d.s.peer_id, e.peer)
        d.id = e.peer
        return d


class EventValues(unittest.TestCase):
    """Event.from_c without a network: known values become enum members, others stay ints."""

    def test_known_kinds_and_reasons_become_enum_members_with_flags(self) -> None:
        from arsock import _ffi

        raw = _ffi.arsock_event(
            kind=arsock.EVENT_PEER_LEFT, peer=7, reason=arsock.REASON_TIMEOUT,
            flags=arsock.MESSAGE_DIRECT, payload=0, size=0, time_us=-5,
        )
        e = arsock.Event.from_c(raw)
        self.assertIs(e.kind, EventKind.PEER_LEFT)
        self.assertIs(e.reason, Reason.TIMEOUT)
        self.assertEqual((e.peer, e.time_us), (7, -5))
        self.assertTrue(e.direct)
        self.assertFalse(e.deleted or e.resuming)

    def test_unknown_kinds_and_app_reasons_stay_ints(self) -> None:
        from arsock import _ffi

        raw = _ffi.arsock_event(kind=99, reason=arsock.REASON_APP_MIN + 5,
                                flags=arsock.DISCONNECTED_RESUMING | arsock.STATE_DELETED)
        e = arsock.Event.from_c(raw)
        self.assertEqual(type(e.kind), int)
        self.assertEqual(e.kind, 99)
        self.assertEqual(type(e.reason), int)
        self.assertEqual(e.reason, 1005)
        self.assertTrue(e.resuming and e.deleted)


class Presence(SessionTestCase):
    def test_hub_listens_on_a_free_port(self) -> None:
        self.assertGreater(self.hub.port, 0)
        self.assertIn(str(self.hub.port), repr(self.hub))

    def test_joiner_sees_joined_then_the_peers_already_there_with_names(self) -> None:
        a = self.join("lobby", name="alice")
        b = self.join("lobby", name="bob")
        b.wait_kind(EventKind.PEER_JOINED, a.id)
        a.wait_kind(EventKind.PEER_JOINED, b.id)
        self.assertNotEqual(a.id, b.id)
        self.assertEqual(b.log[0][0].kind, EventKind.JOINED)
        self.assertIsInstance(b.log[0][0].kind, EventKind)
        self.assertEqual(b.s.peer_name(a.id), "alice")
        self.assertEqual(a.s.peer_name(b.id), "bob")

    def test_close_is_seen_as_peer_left_remote_close(self) -> None:
        a = self.join("bye")
        with arsock.Session("127.0.0.1", self.hub.port, "bye") as s:
            b = Device(s)
            b_id = b.wait_kind(EventKind.JOINED)[0].peer
            a.wait_kind(EventKind.PEER_JOINED, b_id)
        self.assertTrue(s.closed)
        e, _ = a.wait_kind(EventKind.PEER_LEFT, b_id)
        self.assertEqual(e.reason, Reason.REMOTE_CLOSE)
        with self.assertRaises(arsock.NotFoundError):
            a.s.send(b_id, b"gone")

    def test_message_sent_just_before_close_arrives_before_peer_left(self) -> None:
        a = self.join("linger")
        with arsock.Session("127.0.0.1", self.hub.port, "linger") as s:
            b = Device(s)
            b_id = b.wait_kind(EventKind.JOINED)[0].peer
            s.send(a.id, b"last words")
        e, data = a.wait_for(lambda e, _d: e.peer == b_id and e.kind in
                             (EventKind.MESSAGE, EventKind.PEER_LEFT), "b's message or departure")
        self.assertEqual((e.kind, data), (EventKind.MESSAGE, b"last words"))
        self.assertEqual(a.wait_kind(EventKind.PEER_LEFT, b_id)[0].reason, Reason.REMOTE_CLOSE)

    def test_hub_close_disconnects_sessions_with_hub_shutdown(self) -> None:
        a = self.join("shutdown")
        self.hub.close()
        e, _ = a.wait_kind(EventKind.DISCONNECTED)
        self.assertEqual(e.reason, Reason.HUB_SHUTDOWN)

    def test_wrong_or_missing_token_is_rejected_with_auth(self) -> None:
        with arsock.Hub("127.0.0.1", 0, token="s3cret") as hub:
            bad = self.open("r", hub=hub, token="guess")
            e, _ = bad.wait_kind(EventKind.REJECTED)
            self.assertEqual(e.reason, Reason.AUTH)
            with self.assertRaises(arsock.ConnectionClosed):
                bad.s.broadcast(b"x")
            none = self.open("r", hub=hub)
            self.assertEqual(none.wait_kind(EventKind.REJECTED)[0].reason, Reason.AUTH)
            good = self.open("r", hub=hub, token=b"s3cret")
            good.wait_kind(EventKind.JOINED)

    def test_full_room_rejects_with_room_full(self) -> None:
        with arsock.Hub("127.0.0.1", 0, max_peers_per_room=2) as hub:
            self.open("small", hub=hub).wait_kind(EventKind.JOINED)
            self.open("small", hub=hub).wait_kind(EventKind.JOINED)
            third = self.open("small", hub=hub)
            self.assertEqual(third.wait_kind(EventKind.REJECTED)[0].reason, Reason.ROOM_FULL)
            self.open("other", hub=hub).wait_kind(EventKind.JOINED)

    def test_unreachable_hub_gives_disconnected_network_then_closed(self) -> None:
        with arsock.Server("127.0.0.1", 0) as probe:
            port = probe.port  # closed below: nobody listens there any more
        d = Device(arsock.Session("127.0.0.1", port, "nobody", connect_timeout=2))
        self.devices.append(d)
        self.assertEqual(d.wait_kind(EventKind.DISCONNECTED)[0].reason, Reason.NETWORK)
        with self.assertRaises(arsock.ConnectionClosed):
            d.s.send(arsock.EVERYONE, b"x")

    def test_peer_id_is_a_state_error_until_joined(self) -> None:
        # A plain server takes the connection but never answers: the session stays unjoined.
        with arsock.Server("127.0.0.1", 0) as server:
            with arsock.Session("127.0.0.1", server.port, "wait") as s:
                with self.assertRaises(arsock.StateError):
                    s.peer_id
                with self.assertRaises(arsock.StateError):
                    s.broadcast(b"too early")
                with self.assertRaises(arsock.StateError):
                    s.set_state("k", b"too early")
                self.assertEqual(s.poll(0.05), [])


class Proxy:
    """A loopback TCP forwarder to 127.0.0.1:``target``; :meth:`cut` ends every link it
    carries at both ends (the session and the hub each see the connection end) and keeps
    accepting new ones, so a session behind it can reconnect."""

    def __init__(self, target: int) -> None:
        self._target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._socks: List[socket.socket] = []
        self._stop = False
        self.links = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                down, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            up = socket.create_connection(("127.0.0.1", self._target), timeout=T)
            up.settimeout(None)
            down.settimeout(None)
            with self._lock:
                self._socks += [down, up]
                self.links += 1
            for a, b in ((down, up), (up, down)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self) -> None:
        with self._lock:
            socks, self._socks = self._socks, []
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def close(self) -> None:
        self._stop = True
        self._listener.close()
        self.cut()


class Resume(SessionTestCase):
    def test_cut_link_resumes_with_the_same_id_and_no_message_lost_or_repeated(self) -> None:
        proxy = Proxy(self.hub.port)
        self.addCleanup(proxy.close)
        a = self.join("resume")
        b = Device(arsock.Session("127.0.0.1", proxy.port, "resume"))
        self.devices.append(b)
        b.id = b.wait_kind(EventKind.JOINED)[0].peer
        a.wait_kind(EventKind.PEER_JOINED, b.id)
        a.s.send(b.id, b"before")
        b.wait_kind(EventKind.MESSAGE, a.id)

        proxy.cut()
        a.s.send(b.id, b"during")  # kept by the hub for b during the grace period
        e, _ = b.wait_kind(EventKind.DISCONNECTED)
        self.assertTrue(e.resuming, "DISCONNECTED says the session reconnects")
        b.wait_kind(EventKind.RECONNECTED)
        self.assertEqual(b.s.peer_id, b.id, "same peer id after the resume")
        self.assertGreaterEqual(proxy.links, 2)
        a.wait_kind(EventKind.PEER_STALE, b.id)
        a.wait_kind(EventKind.PEER_RESUMED, b.id)

        b.s.send(a.id, b"after")
        a.wait_for(lambda e, d: e.kind == EventKind.MESSAGE and d == b"after", "b's after")
        a.s.send(b.id, b"end")
        b.wait_for(lambda e, d: e.kind == EventKind.MESSAGE and d == b"end", "a's end")
        got = [d for e, d in b.log if e.kind == EventKind.MESSAGE]
        self.assertEqual(got, [b"before", b"during", b"end"], "each message exactly once, in order")
        self.assertFalse([e for e, _ in a.log if e.kind == EventKind.PEER_LEFT])


class Liveness(SessionTestCase):
    # A device in another process: it joins, prints its peer id, then waits to be killed.
    CHILD = """
import sys, arsock
s = arsock.Session("127.0.0.1", int(sys.argv[1]), "kill", name="doomed")
while True:
    for e in s.poll(5):
        if e.kind == arsock.EventKind.JOINED:
            print(e.peer, flush=True)
"""

    def test_killed_device_goes_stale_then_leaves_with_timeout_after_grace(self) -> None:
        # Short settings so that the defaults (2.5 s stale, 30 s grace) would miss the watchdog.
        hub = arsock.Hub("127.0.0.1", 0, heartbeat=0.1, stale_after=0.3, resume_grace=1.0)
        self.addCleanup(hub.close)
        a = self.open("kill", hub=hub)
        a.wait_kind(EventKind.JOINED)
        env = dict(os.environ)
        env["PYTHONPATH"] = str(Path(arsock.__file__).resolve().parent.parent)
        child = subprocess.Popen(
            [sys.executable, "-c", self.CHILD, str(hub.port)],
            stdout=subprocess.PIPE, env=env, text=True,
        )
        self.addCleanup(child.wait, T)
        self.addCleanup(child.kill)
        assert child.stdout is not None
        out = child.stdout
        self.addCleanup(out.close)
        peer = int(Background(out.readline).result(T))
        a.wait_kind(EventKind.PEER_JOINED, peer)
        self.assertEqual(a.s.peer_name(peer), "doomed")
        child.kill()  # SIGKILL: no goodbye
        a.wait_kind(EventKind.PEER_STALE, peer)
        e, _ = a.wait_kind(EventKind.PEER_LEFT, peer)
        self.assertEqual(e.reason, Reason.TIMEOUT)
        with self.assertRaises(arsock.NotFoundError):
            a.s.send(peer, b"gone")

    def test_close_from_another_thread_wakes_a_blocked_poll(self) -> None:
        a = self.join("wake")
        waiting = Background(lambda: a.s.poll(timeout=T))
        time.sleep(0.2)  # let the poll block (if it has not yet, it sees a closed handle)
        a.s.close()
        with self.assertRaises((arsock.ConnectionClosed, arsock.InvalidHandle)):
            waiting.result(T)


class Relay(SessionTestCase):
    def test_message_to_one_peer_arrives_with_sender_id_and_bytes(self) -> None:
        a = self.join("relay")
        b = self.join("relay")
        a.wait_kind(EventKind.PEER_JOINED, b.id)
        data = pattern(3000, 5)
        a.s.send(b.id, data)
        e, got = b.wait_kind(EventKind.MESSAGE, a.id)
        self.assertEqual(got, data)
        self.assertEqual(e.size, len(data))
        self.assertTrue(e.direct)
        b.s.send(a.id, bytearray(b"back"))
        self.assertEqual(a.wait_kind(EventKind.MESSAGE, b.id)[1], b"back")
        a.s.send(b.id, memoryview(b"")[:0])
        e, got = b.wait_kind(EventKind.MESSAGE, a.id)
        self.assertEqual((e.size, got), (0, b""))

    def test_broadcast_reaches_every_other_peer_in_order_never_the_sender(self) -> None:
        a = self.join("bcast")
        b = self.join("bcast")
        c = self.join("bcast")
        a.wait_kind(EventKind.PEER_JOINED, c.id)
        b.wait_kind(EventKind.PEER_JOINED, c.id)
        for i in range(20):
            b.s.broadcast(i.to_bytes(4, "little"))
        for d in (a, c):
            got = [int.from_bytes(d.wait_kind(EventKind.MESSAGE, b.id)[1] or b"", "little")
                   for _ in range(20)]
            self.assertEqual(got, list(range(20)))
        # a answers after all 20; an echo to b would be relayed before it
        a.s.send(b.id, b"done")
        b.wait_for(lambda e, d: e.kind == EventKind.MESSAGE and d == b"done", "a's done")
        self.assertFalse([e for e, _ in b.log if e.kind == EventKind.MESSAGE and e.peer == b.id])

    def test_payload_is_readable_until_the_next_poll_only(self) -> None:
        a = self.join("payload")
        b = self.join("payload")
        a.wait_kind(EventKind.PEER_JOINED, b.id)
        a.s.send(b.id, pattern(100, 1))
        msg: Optional[arsock.Event] = None
        deadline = time.monotonic() + T
        while msg is None and time.monotonic() < deadline:
            for e in b.s.poll(0.1):
                if e.kind == EventKind.MESSAGE:
                    msg = e
        assert msg is not None
        self.assertEqual(b.s.read(msg), pattern(100, 1))
        self.assertEqual(b.s.read(msg.payload), pattern(100, 1), "by id, growing the buffer")
        self.assertEqual(b.s.poll(0), [])
        with self.assertRaises(arsock.NotFoundError):
            b.s.read(msg)
        with self.assertRaises(LookupError):
            b.s.read(0xDEADBEEF)


class SharedState(SessionTestCase):
    def test_state_change_reaches_every_peer_then_delete(self) -> None:
        a = self.join("state")
        b = self.join("state")
        a.wait_kind(EventKind.PEER_JOINED, b.id)
        value = pattern(6000, 2)  # larger than the first get_state buffer
        a.s.set_state("anchor/1", value)
        for d in (a, b):
            e, key = d.wait_kind(EventKind.STATE_CHANGED)
            self.assertEqual(key, b"anchor/1")
            self.assertFalse(e.deleted)
            self.assertEqual(d.s.get_state("anchor/1"), value)
            self.assertEqual(d.s.state(b"anchor/1"), value)
        b.s.delete_state("anchor/1")
        for d in (a, b):
            e, key = d.wait_kind(EventKind.STATE_CHANGED)
            self.assertEqual(key, b"anchor/1")
            self.assertTrue(e.deleted)
            self.assertEqual(e.flags & arsock.STATE_DELETED, arsock.STATE_DELETED)
            with self.assertRaises(arsock.NotFoundError):
                d.s.get_state("anchor/1")
            self.assertIsNone(d.s.state("anchor/1"))
            self.assertEqual(d.s.state("anchor/1", b"dflt"), b"dflt")

    def test_late_joiner_gets_peers_then_state_before_live_traffic(self) -> None:
        a = self.join("late")
        b = self.join("late")
        a.wait_kind(EventKind.PEER_JOINED, b.id)
        a.s.set_state("x", b"\x01")
        a.s.set_state("y", b"\x02\x02")
        a.wait_kind(EventKind.STATE_CHANGED)
        a.wait_kind(EventKind.STATE_CHANGED)
        c = self.join("late")
        c.wait_for(lambda e, k: e.kind == EventKind.STATE_CHANGED and k == b"y", "snapshot key y")
        kinds = [e.kind for e, _ in c.log[:5]]
        self.assertEqual(kinds, [EventKind.JOINED, EventKind.PEER_JOINED, EventKind.PEER_JOINED,
                                 EventKind.STATE_CHANGED, EventKind.STATE_CHANGED])
        self.assertEqual({c.log[1][0].peer, c.log[2][0].peer}, {a.id, b.id})
        self.assertEqual({c.log[3][1], c.log[4][1]}, {b"x", b"y"})
        self.assertEqual(c.s.get_state("y"), b"\x02\x02")


class Misuse(SessionTestCase):
    def test_unknown_peer_is_not_found(self) -> None:
        a = self.join("misuse")
        with self.assertRaises(arsock.NotFoundError) as cm:
            a.s.send(9999, b"x")
        self.assertEqual(cm.exception.status, arsock.Status.ERR_NOT_FOUND)
        self.assertTrue(cm.exception.message)
        with self.assertRaises(arsock.NotFoundError):
            a.s.peer_name(9999)

    def test_bad_names_keys_and_values_are_invalid_arguments(self) -> None:
        with self.assertRaises(arsock.InvalidArgument):
            arsock.Session("127.0.0.1", self.hub.port, "r" * 300)
        with self.assertRaises(arsock.InvalidArgument):
            arsock.Session("127.0.0.1", self.hub.port, "")
        with self.assertRaises(arsock.InvalidArgument):
            arsock.Session("127.0.0.1", self.hub.port, "room\0x")
        with self.assertRaises(arsock.InvalidArgument):
            arsock.Session("127.0.0.1", self.hub.port, "r", name="n" * (arsock.SESSION_MAX_NAME + 1))
        with arsock.Session("127.0.0.1", self.hub.port, "é" * 32):  # 64 bytes of UTF-8: fine
            pass
        a = self.join("misuse")
        with self.assertRaises(arsock.InvalidArgument):
            a.s.set_state("k" * 256, b"x")
        with self.assertRaises(arsock.InvalidArgument):
            a.s.set_state("big", bytes(arsock.SESSION_MAX_VALUE + 1))
        with self.assertRaises(arsock.MessageTooLarge):
            a.s.broadcast(bytes(arsock.SESSION_MAX_MESSAGE + 1))
        with self.assertRaises(arsock.InvalidArgument):
            a.s.send(a.id, b"to myself")
        with self.assertRaises(arsock.InvalidArgument):
            arsock.Hub("127.0.0.1", 0, max_peers_per_room=257)
        with self.assertRaises(arsock.InvalidArgument):
            arsock.Hub("127.0.0.1", 0, heartbeat=-1)
        with self.assertRaises(arsock.InvalidArgument):
            a.s.send(-1, b"x")

    def test_session_used_after_close_is_invalid_handle(self) -> None:
        a = self.join("closed")
        a.s.close()
        a.s.close()  # harmless
        with self.assertRaises(arsock.InvalidHandle):
            a.s.send(arsock.EVERYONE, b"x")
        with self.assertRaises(arsock.InvalidHandle):
            a.s.poll(0)


if __name__ == "__main__":
    unittest.main()
