"""Poses, the room clock and blobs through the Python binding against the real library."""

from __future__ import annotations

import math
import time
import unittest
from typing import Callable, List, Optional, TypeVar

from _support import T, arsock

from arsock import EventKind, Pose

R = TypeVar("R")


def until(fn: Callable[[], Optional[R]], what: str) -> R:
    deadline = time.monotonic() + T
    while True:
        v = fn()
        if v is not None:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {T} s")
        time.sleep(0.005)


def joined(s: "arsock.Session") -> int:
    deadline = time.monotonic() + T
    while time.monotonic() < deadline:
        for e in s.poll(0.1):
            if e.kind == EventKind.JOINED:
                return e.peer
    raise AssertionError("no JOINED")


def wait_blob(s: "arsock.Session", key: str, flags: int = 0) -> "arsock.Event":
    """The first BLOB_AVAILABLE for ``key`` with every bit of ``flags`` (others are dropped)."""
    deadline = time.monotonic() + T
    while time.monotonic() < deadline:
        for e in s.poll(0.1, max_events=1):
            if e.kind == EventKind.BLOB_AVAILABLE and s.blob_key(e) == key and e.flags & flags == flags:
                return e
    raise AssertionError(f"no BLOB_AVAILABLE for {key} with flags {flags}")


class PosesTest(unittest.TestCase):
    def setUp(self) -> None:
        self.hub = arsock.Hub("127.0.0.1", 0)
        self.a = arsock.Session("127.0.0.1", self.hub.port, "py-poses", name="a")
        self.b = arsock.Session("127.0.0.1", self.hub.port, "py-poses", name="b")
        self.aid = joined(self.a)
        self.bid = joined(self.b)

    def tearDown(self) -> None:
        self.a.close()
        self.b.close()
        self.hub.close()

    def test_poses_reach_the_other_device_within_wire_precision(self) -> None:
        s = math.sqrt(0.5)
        self.a.send_poses([
            Pose(entity=1, position=(1.2345, -0.5, 3.0), rotation=(0.0, s, 0.0, s), time_us=42),
            Pose(entity=2, position=(0.0, 1.6, 0.0), flags=5),
        ])

        def both() -> Optional[List[Pose]]:
            v = self.b.latest_poses()
            return v if len(v) == 2 else None

        got = until(both, "two poses")
        p1, p2 = got
        self.assertEqual((p1.peer, p1.entity, p1.seq, p1.time_us), (self.aid, 1, 1, 42))
        for g, w in zip(p1.position, (1.2345, -0.5, 3.0)):
            self.assertLess(abs(g - w), 1e-4)
        self.assertLess(abs(p1.rotation[1] - s), 2e-4)
        self.assertEqual((p2.entity, p2.flags), (2, 5))
        self.assertGreater(p2.time_us, 0, "time_us 0 = now")
        sampled = self.b.sample_poses(42)
        self.assertEqual([p.entity for p in sampled], [1, 2])
        self.assertEqual(sampled[0].time_us, 42)

    def test_bad_poses_raise_invalid_argument_and_send_nothing(self) -> None:
        with self.assertRaises(arsock.InvalidArgument):
            self.a.send_poses([Pose(entity=1), Pose(entity=2, position=(math.nan, 0, 0))])
        with self.assertRaises(arsock.InvalidArgument):
            self.a.send_poses([Pose(entity=3, rotation=(0, 0, 0, 0.1))])
        with self.assertRaises(TypeError):
            self.a.send_poses([(1, 2, 3)])  # type: ignore[list-item]
        self.a.send_poses([Pose(entity=9)])
        got = until(lambda: self.b.latest_poses() or None, "a pose")
        self.assertEqual([(p.entity, p.seq) for p in got], [(9, 1)])

    def test_room_time_has_a_bound_and_never_decreases(self) -> None:
        t0, bound = until(self.a.try_time, "a clock estimate")
        self.assertGreaterEqual(bound, 0)
        last = t0
        for _ in range(200):
            t, b = self.a.time()
            self.assertGreaterEqual(t, last)
            self.assertGreaterEqual(b, 0)
            last = t

    def test_blob_round_trip_not_found_before_and_delete(self) -> None:
        data = bytes(range(256)) * 4096 + b"tail"  # 1 MiB + 4
        self.a.put_blob("mesh/1", data)
        with self.assertRaises(arsock.NotFoundError):
            self.a.get_blob("mesh/1")
        self.assertIsNone(self.b.blob("mesh/1"))
        e = wait_blob(self.b, "mesh/1")
        self.assertEqual((e.peer, e.size), (self.aid, len(data)))
        self.assertEqual(self.b.get_blob("mesh/1"), data)
        self.a.put_blob("empty", b"")
        wait_blob(self.b, "empty")
        self.assertEqual(self.b.get_blob("empty"), b"")
        self.b.delete_blob("mesh/1")
        e = wait_blob(self.a, "mesh/1", arsock.BLOB_DELETED)
        self.assertEqual(e.size, 0)
        with self.assertRaises(arsock.NotFoundError):
            self.a.get_blob("mesh/1")
        with self.assertRaises(arsock.InvalidArgument):
            self.a.put_blob("x" * 256, b"1")
        with self.assertRaises(arsock.NotFoundError):
            self.a.delete_blob("never")


if __name__ == "__main__":
    unittest.main()
