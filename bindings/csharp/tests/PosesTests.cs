// Poses, the room clock and blobs through the C# binding against the real library.

using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using ArSock;
using NUnit.Framework;

namespace ArSock.Tests
{
    [TestFixture, Timeout(60000)]
    public class PosesTests
    {
        ArSockHub _hub;
        readonly List<Device> _devices = new List<Device>();

        [SetUp]
        public void StartHub() { _hub = ArSockHub.Start(new ArSockHubOptions { Host = "127.0.0.1", Port = 0 }); }

        [TearDown]
        public void StopHub()
        {
            foreach (var d in _devices) d.Dispose();
            _devices.Clear();
            _hub.Dispose();
        }

        Device Join(string room)
        {
            var d = new Device(ArSockSession.Open("127.0.0.1", _hub.LocalPort, room));
            _devices.Add(d);
            d.Id = d.WaitFor(ArSockEventKind.Joined).Ev.Peer;
            return d;
        }

        static void Until(Func<bool> done, string what)
        {
            var deadline = DateTime.UtcNow.AddMilliseconds(Util.Wait);
            while (!done())
            {
                if (DateTime.UtcNow > deadline) Assert.Fail("no " + what + " within " + Util.Wait + " ms");
                Thread.Sleep(2);
            }
        }

        [Test]
        public void ArSockPoseIs56BlittableBytes()
        {
            unsafe { Assert.AreEqual(56, sizeof(ArSockPose)); }
            var p = ArSockPose.Create(3, 1f, 2f, 3f, 0f, 0f, 0f, 1f, 77, 9);
            Assert.AreEqual(new float[] { 1f, 2f, 3f, 0f, 0f, 0f, 1f },
                new[] { p.PositionX, p.PositionY, p.PositionZ, p.RotationX, p.RotationY, p.RotationZ, p.RotationW });
            Assert.AreEqual(3u, p.Entity);
            Assert.AreEqual(77L, p.TimeUs);
            Assert.AreEqual(9u, p.Flags);
        }

        [Test]
        public void PosesArriveWithinATenthOfAMillimetreAndBadOnesAreRefused()
        {
            Device a = Join("cs-poses");
            Device b = Join("cs-poses");
            float h = (float)Math.Sqrt(0.5);
            a.S.SendPoses(new[] { ArSockPose.Create(1, 1.2345f, 1.6f, -2f, 0f, h, 0f, h, 5000000), ArSockPose.Create(2, 0f, 0f, 0f, 0f, 0f, 0f, 1f) });
            var buf = new ArSockPose[8];
            Until(() => b.S.LatestPoses(buf) == 2, "two poses");
            Assert.AreEqual(a.Id, buf[0].Peer);
            Assert.AreEqual(1u, buf[0].Seq);
            Assert.AreEqual(5000000L, buf[0].TimeUs);
            Assert.LessOrEqual(Math.Abs(buf[0].PositionX - 1.2345f), 1e-4f);
            Assert.LessOrEqual(Math.Abs(buf[0].RotationY - h), 2e-4f);
            Assert.Greater(buf[1].TimeUs, 0L, "time 0 = now");
            var bad = new[] { ArSockPose.Create(3, float.NaN, 0f, 0f, 0f, 0f, 0f, 1f) };
            var ex = Assert.Throws<ArSockException>(() => a.S.SendPoses(bad));
            Assert.AreEqual(ArSockStatus.InvalidArgument, ex.Status);
            // BUFFER_TOO_SMALL: RequiredLength, and the Try form without exceptions.
            var one = new ArSockPose[1];
            ex = Assert.Throws<ArSockException>(() => b.S.LatestPoses(one));
            Assert.AreEqual(ArSockStatus.BufferTooSmall, ex.Status);
            Assert.AreEqual(2L, ex.RequiredLength);
            int needed;
            Assert.IsFalse(b.S.TrySamplePoses(0, one, out needed));
            Assert.AreEqual(2, needed);
            // Sampling extrapolates at most 100 ms, then holds.
            a.S.SendPoses(new[] { ArSockPose.Create(1, 2.2345f, 1.6f, -2f, 0f, h, 0f, h, 5100000) });
            Until(() => b.S.LatestPoses(buf) == 2 && buf[0].Seq == 2, "the newer pose");
            b.S.SamplePoses(5150000, buf);
            Assert.AreEqual(2.7345f, buf[0].PositionX, 1e-3f);
            b.S.SamplePoses(9000000, buf);
            Assert.AreEqual(3.2345f, buf[0].PositionX, 1e-3f);
        }

#if !ARSOCK_NO_SPAN
        [Test]
        public unsafe void SamplingIntoASpanEveryFrameAllocatesNothing()
        {
            Device a = Join("cs-alloc");
            Device b = Join("cs-alloc");
            var mine = new ArSockPose[3];
            for (uint e = 0; e < 3; e++) mine[e] = ArSockPose.Create(e, e, 1f, 0f, 0f, 0f, 0f, 1f);
            a.S.SendPoses(mine);
            var warm = new ArSockPose[16];
            Until(() => b.S.SamplePoses(0, warm) == 3, "three poses");
            ArSockPose* p = stackalloc ArSockPose[16];
            var span = new Span<ArSockPose>(p, 16);
            ArSockRoomTime t;
            Until(() => b.S.TryGetTime(out t), "a clock estimate");
            // Warm-up: every call once (JIT, first-use paths).
            a.S.SendPoses(new ReadOnlySpan<ArSockPose>(mine));
            b.S.TryGetTime(out t);
            b.S.SamplePoses(t.RoomUs, span);
            long before = GC.GetAllocatedBytesForCurrentThread();
            int total = 0;
            for (int i = 0; i < 100; i++)
            {
                a.S.SendPoses(new ReadOnlySpan<ArSockPose>(mine));
                b.S.TryGetTime(out t);
                total += b.S.SamplePoses(t.RoomUs - 50000, span);
            }
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.AreEqual(300, total);
            Assert.AreEqual(0, allocated, "bytes allocated by 100 frames of send + time + sample");
        }
#endif

        [Test]
        public void RoomTimeHasABoundAndNeverDecreases()
        {
            Device a = Join("cs-clock");
            ArSockRoomTime t = default(ArSockRoomTime);
            Until(() => a.S.TryGetTime(out t), "a clock estimate");
            long last = t.RoomUs;
            for (int i = 0; i < 500; i++)
            {
                ArSockRoomTime now = a.S.Time;
                Assert.GreaterOrEqual(now.RoomUs, last);
                Assert.GreaterOrEqual(now.ErrorBoundUs, 0L);
                last = now.RoomUs;
            }
        }

        [Test]
        public void BlobsRoundTripAreNotFoundBeforeAndDeletionIsAnnounced()
        {
            Device a = Join("cs-blobs");
            Device b = Join("cs-blobs");
            var data = new byte[1024 * 1024 + 5];
            for (int i = 0; i < data.Length; i++) data[i] = (byte)(i * 31 + 1);
            a.S.PutBlob("mesh", data);
            byte[] got;
            Assert.IsFalse(a.S.TryGetBlob("mesh", out got), "not complete before the hub holds it");
            var ev = b.WaitFor(e => e.Ev.Kind == ArSockEventKind.BlobAvailable && e.Text == "mesh", "BlobAvailable at b");
            Assert.AreEqual(a.Id, ev.Ev.Peer);
            Assert.AreEqual((ulong)data.Length, ev.Ev.Size);
            CollectionAssert.AreEqual(data, b.S.GetBlob("mesh"));
            a.WaitFor(e => e.Ev.Kind == ArSockEventKind.BlobAvailable && e.Text == "mesh", "BlobAvailable at the uploader");
            var small = new byte[4];
            var ex = Assert.Throws<ArSockException>(() => a.S.GetBlob("mesh", small, 0, 4));
            Assert.AreEqual(ArSockStatus.BufferTooSmall, ex.Status);
            Assert.AreEqual((long)data.Length, ex.RequiredLength);
            b.S.DeleteBlob("mesh");
            var del = a.WaitFor(e => e.Ev.Kind == ArSockEventKind.BlobAvailable && (e.Ev.Flags & ArSockNative.BlobDeleted) != 0, "deletion");
            Assert.AreEqual("mesh", del.Text);
            Assert.IsFalse(a.S.TryGetBlob("mesh", out got));
            Assert.AreEqual(ArSockStatus.NotFound, Assert.Throws<ArSockException>(() => a.S.GetBlob("mesh")).Status);
            Assert.AreEqual(ArSockStatus.NotFound, Assert.Throws<ArSockException>(() => a.S.DeleteBlob("never")).Status);
            Assert.AreEqual(ArSockStatus.InvalidArgument, Assert.Throws<ArSockException>(() => a.S.PutBlob(new string('k', 256), data)).Status);
        }
    }
}
