using System;
using System.Collections.Generic;
using System.Reflection;
using System.Threading;
using ArSock;
using NUnit.Framework;

namespace ArSock.Tests
{
    [TestFixture, Timeout(30000)]
    public class RawModeTests
    {
        [Test]
        public void ConnectAcceptSendReceiveBothWays()
        {
            using (var p = new Pair())
            {
                Assert.AreNotEqual(0UL, p.Client.Handle);
                Assert.AreNotEqual(p.Client.Handle, p.Peer.Handle);
                byte[] data = Util.Pattern(100000, 1);
                p.Client.Send(data, 0, data.Length);

                var got = new byte[data.Length];
                int have = 0;
                while (have < got.Length)
                {
                    int n = p.Peer.Receive(got, have, got.Length - have, Util.Wait);
                    Assert.Greater(n, 0);
                    have += n;
                }
                CollectionAssert.AreEqual(data, got);

                p.Peer.Send(new ArraySegment<byte>(new byte[] { 9, 1, 2, 3, 9 }, 1, 3));
                var small = new byte[10];
                int m = p.Client.Receive(small, 2, 8, Util.Wait);
                Assert.That(m >= 1 && m <= 3);
                while (m < 3) m += p.Client.Receive(small, 2 + m, 8 - m, Util.Wait);
                CollectionAssert.AreEqual(new byte[] { 0, 0, 1, 2, 3, 0, 0, 0, 0, 0 }, small);
            }
        }

        [Test]
        public void EmptySendIsANoOpAndReceiveStillTimesOut()
        {
            using (var p = new Pair())
            {
                p.Client.Send(new byte[0]);
                var buf = new byte[4];
                int n;
                Assert.IsFalse(p.Peer.TryReceive(buf, 0, 4, out n));
                Assert.AreEqual(0, n);
                Util.Throws(ArSockStatus.Timeout, () => p.Peer.Receive(buf, 0, 4, 50));
            }
        }

        [Test]
        public void TryReceiveReturnsTrueWhenDataIsThere()
        {
            using (var p = new Pair())
            {
                p.Client.Send(new byte[] { 42 });
                var buf = new byte[4];
                int n = 0;
                bool got = false;
                // poll with a bound: the byte is in flight on loopback
                for (int i = 0; i < 500 && !got; i++)
                {
                    got = p.Peer.TryReceive(buf, out n);
                    if (!got) Thread.Sleep(10);
                }
                Assert.IsTrue(got);
                Assert.AreEqual(1, n);
                Assert.AreEqual(42, buf[0]);
            }
        }

        [Test]
        public void ReceiveAfterPeerClosedGivesClosed()
        {
            using (var p = new Pair())
            {
                p.Client.Send(new byte[] { 1, 2 });
                p.Client.Dispose();
                var buf = new byte[16];
                int have = 0;
                while (have < 2) have += p.Peer.Receive(buf, have, 16 - have, Util.Wait);
                Util.Throws(ArSockStatus.Closed, () => p.Peer.Receive(buf, 0, 16, Util.Wait));
            }
        }

        [Test]
        public void ZeroCapacityIsInvalidArgument()
        {
            using (var p = new Pair())
            {
                Util.Throws(ArSockStatus.InvalidArgument, () => p.Peer.Receive(new byte[4], 0, 0, 0));
            }
        }

        [Test]
        public void ArgumentRangesAreCheckedBeforeNativeCode()
        {
            using (var p = new Pair())
            {
                Assert.Throws<ArgumentNullException>(() => p.Client.Send((byte[])null));
                Assert.Throws<ArgumentOutOfRangeException>(() => p.Client.Send(new byte[4], 3, 2));
                Assert.Throws<ArgumentOutOfRangeException>(() => p.Client.Receive(new byte[4], -1, 2, 0));
                Assert.Throws<ArgumentOutOfRangeException>(() => ArSockClient.Connect("127.0.0.1", 70000, 0));
                Assert.Throws<ArgumentException>(() => ArSockClient.Connect("127.0.0.1\0x", 1, 0));
                Assert.Throws<ArgumentNullException>(() => ArSockServer.Bind(null, 0));
            }
        }

#if !ARSOCK_NO_SPAN
        [Test]
        public void SpanOverloads()
        {
            using (var p = new Pair())
            {
                byte[] data = { 5, 6, 7, 8 };
                p.Client.Send(new ReadOnlySpan<byte>(data, 1, 2));
                var buf = new byte[8];
                int have = 0;
                while (have < 2) have += p.Peer.Receive(new Span<byte>(buf, have, 8 - have), Util.Wait);
                Assert.AreEqual(6, buf[0]);
                Assert.AreEqual(7, buf[1]);
                int n;
                Assert.IsFalse(p.Peer.TryReceive(new Span<byte>(buf), out n));
            }
        }
#endif
    }

    [TestFixture, Timeout(60000)]
    public class MessageModeTests
    {
        [Test]
        public void MessagesArriveWholeAndInOrder()
        {
            using (var p = new Pair())
            {
                byte[] a = Util.Pattern(10, 2), b = Util.Pattern(3000, 3);
                p.Client.SendMessage(a);
                p.Client.SendMessage(new byte[0]);
                p.Client.SendMessage(b, 1000, 500);
                p.Client.SendMessage(new ArraySegment<byte>(a, 2, 5));

                var buf = new byte[4096];
                int n = p.Peer.ReceiveMessage(buf, 0, buf.Length, Util.Wait);
                Assert.AreEqual(10, n);
                CollectionAssert.AreEqual(a, Sub(buf, 0, n));

                n = p.Peer.ReceiveMessage(buf, 0, buf.Length, Util.Wait);
                Assert.AreEqual(0, n, "empty message");

                n = p.Peer.ReceiveMessage(buf, 100, 1000, Util.Wait);
                Assert.AreEqual(500, n);
                CollectionAssert.AreEqual(Sub(b, 1000, 500), Sub(buf, 100, 500));

                byte[] last = p.Peer.ReceiveMessage(Util.Wait);
                CollectionAssert.AreEqual(Sub(a, 2, 5), last);
            }
        }

        [Test]
        public void EmptyMessageIntoEmptyBufferAndAllocatingReceive()
        {
            using (var p = new Pair())
            {
                p.Client.SendMessage(new byte[0]);
                p.Client.SendMessage(new byte[0]);
                Assert.AreEqual(0, p.Peer.ReceiveMessage(new byte[0], 0, 0, Util.Wait));
                byte[] m = p.Peer.ReceiveMessage(Util.Wait);
                Assert.IsNotNull(m);
                Assert.AreEqual(0, m.Length);
            }
        }

        [Test]
        public void OneMiBMessage()
        {
            using (var p = new Pair())
            {
                byte[] big = Util.Pattern(1 << 20, 4);
                p.Client.SendMessage(big);
                p.Client.SendMessage(new byte[] { 1 });
                var buf = new byte[1 << 20];
                int n = p.Peer.ReceiveMessage(buf, 0, buf.Length, Util.Wait);
                Assert.AreEqual(1 << 20, n);
                CollectionAssert.AreEqual(big, buf);
                // and the same size through the allocating and the growing variants
                p.Peer.SendMessage(big);
                byte[] got = p.Client.ReceiveMessage(Util.Wait);
                CollectionAssert.AreEqual(big, got);
                byte[] small = new byte[1];
                Assert.AreEqual(1, p.Peer.ReceiveMessage(ref small, Util.Wait));
                Assert.AreEqual(1, small[0]);
            }
        }

        [Test]
        public void SendMessagesBatch()
        {
            using (var p = new Pair())
            {
                byte[] a = Util.Pattern(7, 5), b = Util.Pattern(70000, 6);
                p.Client.SendMessages(new List<byte[]> { a, new byte[0], null, b });
                p.Client.SendMessages(new[] { new ArraySegment<byte>(b, 10, 20), new ArraySegment<byte>() });
                p.Client.SendMessages(new byte[0][]); // nothing
                Assert.IsTrue(p.Client.TrySendMessages(new List<byte[]> { a }));

                CollectionAssert.AreEqual(a, p.Peer.ReceiveMessage(Util.Wait));
                Assert.AreEqual(0, p.Peer.ReceiveMessage(Util.Wait).Length);
                Assert.AreEqual(0, p.Peer.ReceiveMessage(Util.Wait).Length);
                CollectionAssert.AreEqual(b, p.Peer.ReceiveMessage(Util.Wait));
                CollectionAssert.AreEqual(Sub(b, 10, 20), p.Peer.ReceiveMessage(Util.Wait));
                Assert.AreEqual(0, p.Peer.ReceiveMessage(Util.Wait).Length);
                CollectionAssert.AreEqual(a, p.Peer.ReceiveMessage(Util.Wait));
                byte[] none;
                Assert.IsFalse(p.Peer.TryReceiveMessage(out none));
            }
        }

        [Test]
        public void SendMessagesIsAllOrNothing()
        {
            using (var p = new Pair())
            {
                p.Client.SetMaxMessage(100);
                var e = Util.Throws(ArSockStatus.MessageTooLarge,
                    () => p.Client.SendMessages(new List<byte[]> { new byte[10], new byte[101] }));
                StringAssert.Contains("arsock_client_send_msgs", e.Message);
                p.Client.SendMessage(new byte[] { 77 });
                byte[] m = p.Peer.ReceiveMessage(Util.Wait);
                CollectionAssert.AreEqual(new byte[] { 77 }, m, "the 10-byte message must not have been sent");
            }
        }

        [Test]
        public void TryReceiveMessageVariants()
        {
            using (var p = new Pair())
            {
                int len;
                byte[] grow = null;
                byte[] msg;
                var fixedBuf = new byte[8];
                Assert.IsFalse(p.Peer.TryReceiveMessage(fixedBuf, 0, 8, out len));
                Assert.IsFalse(p.Peer.TryReceiveMessage(ref grow, out len));
                Assert.IsFalse(p.Peer.TryReceiveMessage(out msg));
                Assert.IsNull(msg);

                byte[] data = Util.Pattern(300, 7);
                p.Client.SendMessage(data);
                p.Client.SendMessage(data, 0, 4);
                // wait (bounded) until the first message is there, without consuming it
                WaitForMessage(p.Peer);
                Assert.IsTrue(p.Peer.TryReceiveMessage(ref grow, out len));
                Assert.AreEqual(300, len);
                Assert.GreaterOrEqual(grow.Length, 300);
                CollectionAssert.AreEqual(data, Sub(grow, 0, 300));
                WaitForMessage(p.Peer);
                Assert.IsTrue(p.Peer.TryReceiveMessage(fixedBuf, 2, 6, out len));
                Assert.AreEqual(4, len);
                CollectionAssert.AreEqual(Sub(data, 0, 4), Sub(fixedBuf, 2, 4));
            }
        }

        // ReceiveMessage into a 0-byte buffer: BufferTooSmall for a pending non-empty message,
        // Timeout when none; the message stays queued.
        static void WaitForMessage(ArSockClient c)
        {
            for (int i = 0; i < 500; i++)
            {
                try
                {
                    c.ReceiveMessage(new byte[0], 0, 0, 10);
                    Assert.Fail("unexpected empty message");
                }
                catch (ArSockException e)
                {
                    if (e.Status == ArSockStatus.BufferTooSmall) return;
                    Assert.AreEqual(ArSockStatus.Timeout, e.Status, e.Message);
                }
            }
            Assert.Fail("no message within 5 s");
        }

        [Test]
        public void BufferTooSmallReportsSizeAndKeepsMessage()
        {
            using (var p = new Pair())
            {
                byte[] data = Util.Pattern(1000, 8);
                p.Client.SendMessage(data);
                var small = new byte[10];
                var e = Util.Throws(ArSockStatus.BufferTooSmall, () => p.Peer.ReceiveMessage(small, 0, 10, Util.Wait));
                Assert.AreEqual(1000, e.RequiredLength);
                Assert.IsNotEmpty(e.NativeMessage);
                // the (NULL, 0) size query through the raw layer sees the same size
                UIntPtr need;
                int st;
                unsafe { st = ArSockNative.arsock_client_recv_msg(p.Peer.Handle, null, UIntPtr.Zero, 0, out need); }
                Assert.AreEqual((int)ArSockStatus.BufferTooSmall, st);
                Assert.AreEqual(1000UL, need.ToUInt64());
                // TryReceiveMessage into a fixed buffer also reports it
                int len;
                e = Util.Throws(ArSockStatus.BufferTooSmall, () => p.Peer.TryReceiveMessage(small, 0, 10, out len));
                Assert.AreEqual(1000, e.RequiredLength);
                // still queued: the growing variant gets it whole
                byte[] buf = new byte[4];
                byte[] before = buf;
                int n = p.Peer.ReceiveMessage(ref buf, Util.Wait);
                Assert.AreEqual(1000, n);
                Assert.AreNotSame(before, buf);
                CollectionAssert.AreEqual(data, Sub(buf, 0, 1000));
                // a buffer that is big enough is reused as is
                p.Client.SendMessage(data, 0, 3);
                byte[] keep = buf;
                Assert.AreEqual(3, p.Peer.ReceiveMessage(ref buf, Util.Wait));
                Assert.AreSame(keep, buf);
            }
        }

        [Test]
        public void AllocatingReceiveAboveTheStackProbe()
        {
            using (var p = new Pair())
            {
                foreach (int size in new[] { 255, 256, 257, 5000 })
                {
                    byte[] data = Util.Pattern(size, size);
                    p.Client.SendMessage(data);
                    byte[] got = p.Peer.ReceiveMessage(Util.Wait);
                    CollectionAssert.AreEqual(data, got, "size " + size);
                }
            }
        }

        [Test]
        public void MessageLargerThanMaxIsRejected()
        {
            using (var p = new Pair())
            {
                p.Client.SetMaxMessage(64);
                var e = Util.Throws(ArSockStatus.MessageTooLarge, () => p.Client.SendMessage(new byte[65]));
                Assert.IsNotEmpty(e.NativeMessage);
                StringAssert.Contains("arsock_client_send_msg", e.Message);
                Assert.IsFalse(p.Client.IsDisposed);
                p.Client.SendMessage(new byte[64]); // the limit is inclusive
                Assert.AreEqual(64, p.Peer.ReceiveMessage(Util.Wait).Length);
            }
        }

        [Test]
        public void ReceiverMaxMessageMakesOversizedFrameAProtocolError()
        {
            using (var p = new Pair())
            {
                p.Peer.SetMaxMessage(16);
                p.Client.SendMessage(new byte[17]);
                Util.Throws(ArSockStatus.Protocol, () => p.Peer.ReceiveMessage(Util.Wait));
                Util.Throws(ArSockStatus.Closed, () => p.Peer.ReceiveMessage(Util.Wait));
            }
        }

        [Test]
        public void SettersAcceptValidAndRejectInvalidValues()
        {
            using (var p = new Pair())
            {
                p.Client.SetSendTimeout(-1);
                p.Client.SetSendTimeout(0);
                p.Client.SetSendTimeout(100);
                Util.Throws(ArSockStatus.InvalidArgument, () => p.Client.SetSendTimeout(-2));
                p.Client.SetFrameTimeout(-1);
                p.Client.SetFrameTimeout(5000);
                Util.Throws(ArSockStatus.InvalidArgument, () => p.Client.SetFrameTimeout(0));
                p.Client.SetSendQueueLimit(0);
                p.Client.SetSendQueueLimit(ArSockNative.DefaultSendQueueLimit);
                p.Client.SetMaxMessage(uint.MaxValue);
                if (UIntPtr.Size == 8)
                    Util.Throws(ArSockStatus.InvalidArgument, () => p.Client.SetMaxMessage((long)uint.MaxValue + 1));
                Assert.Throws<ArgumentOutOfRangeException>(() => p.Client.SetMaxMessage(-1));
                Assert.AreEqual(0, p.Client.SendQueueLength);
            }
        }

        [Test]
        public void NonBlockingSendReportsWouldBlockWhenTheQueueIsFull()
        {
            using (var p = new Pair())
            {
                p.Client.SetSendTimeout(0);
                p.Client.SetSendQueueLimit(4096);
                byte[] chunk = new byte[64 * 1024];
                bool blocked = false;
                int sent = 0;
                // The peer never reads: kernel buffers plus the 4 KiB queue fill up after at most a
                // few tens of MiB; bounded at 256 MiB.
                for (int i = 0; i < 4096 && !blocked; i++)
                {
                    if (p.Client.TrySendMessage(chunk)) sent++;
                    else blocked = true;
                }
                Assert.IsTrue(blocked, "no WouldBlock after " + sent + " messages of 64 KiB");
                Assert.Greater(p.Client.SendQueueLength, 0);
                // The kernel may still make room now and then (socket buffer autotuning), so each
                // check below sends until the queue stays full, within the same bound.
                var e = Util.Throws(ArSockStatus.WouldBlock, () => SendUntilRefused(p.Client, chunk));
                Assert.IsNotEmpty(e.NativeMessage);
#if !ARSOCK_NO_SPAN
                Assert.IsTrue(TryUntilFalse(() => p.Client.TrySendMessage(new ReadOnlySpan<byte>(chunk))));
#endif
                // with a send timeout > 0 a full queue is a Timeout, and TrySendMessage says false too
                p.Client.SetSendTimeout(20);
                Util.Throws(ArSockStatus.Timeout, () => SendUntilRefused(p.Client, chunk));
                Assert.IsTrue(TryUntilFalse(() => p.Client.TrySendMessage(chunk)));
            }
        }

        /// <summary>SendMessage until it throws (at most 4096 times; returns if it never does).</summary>
        static void SendUntilRefused(ArSockClient c, byte[] chunk)
        {
            for (int i = 0; i < 4096; i++) c.SendMessage(chunk);
        }

        /// <summary>True once `trySend` returns false (at most 4096 calls).</summary>
        static bool TryUntilFalse(Func<bool> trySend)
        {
            for (int i = 0; i < 4096; i++)
                if (!trySend()) return true;
            return false;
        }

        [Test]
        public void ReceiveTimeouts()
        {
            using (var p = new Pair())
            {
                var buf = new byte[16];
                Util.Throws(ArSockStatus.Timeout, () => p.Peer.ReceiveMessage(buf, 0, 16, 0));
                Util.Throws(ArSockStatus.Timeout, () => p.Peer.ReceiveMessage(buf, 0, 16, 50));
                Util.Throws(ArSockStatus.Timeout, () => p.Peer.ReceiveMessage(50));
                byte[] g = null;
                Util.Throws(ArSockStatus.Timeout, () => p.Peer.ReceiveMessage(ref g, 0));
                Util.Throws(ArSockStatus.InvalidArgument, () => p.Peer.ReceiveMessage(buf, 0, 16, -5));
                // still usable after timeouts
                p.Client.SendMessage(new byte[] { 3 });
                Assert.AreEqual(1, p.Peer.ReceiveMessage(buf, 0, 16, Util.Wait));
            }
        }

        [Test]
        public void MixingRawAndMessageModeIsStateError()
        {
            using (var p = new Pair())
            {
                p.Client.Send(new byte[] { 1 });
                var e = Util.Throws(ArSockStatus.State, () => p.Client.SendMessage(new byte[] { 1 }));
                Assert.IsNotEmpty(e.NativeMessage);
                p.Peer.SendMessage(new byte[] { 1 });
                Util.Throws(ArSockStatus.State, () => p.Peer.Receive(new byte[4], 0, 4, 0));
            }
        }

        [Test]
        public void ReceiveAfterPeerClosedGivesClosedAfterLastMessage()
        {
            using (var p = new Pair())
            {
                p.Client.SendMessage(new byte[] { 1, 2, 3 });
                p.Client.Dispose();
                Assert.AreEqual(3, p.Peer.ReceiveMessage(Util.Wait).Length);
                Util.Throws(ArSockStatus.Closed, () => p.Peer.ReceiveMessage(Util.Wait));
            }
        }

        // ------------------------------------------------------------------ batch receive

        [Test]
        public void ReceiveMessagesBatchArrivesInOrderAcrossCalls()
        {
            using (var p = new Pair())
            {
                const int total = 1000;
                var sent = new List<byte[]>();
                for (int i = 0; i < total; i++) sent.Add(Util.Pattern(i % 7 == 0 ? 0 : 1 + i % 90, i));
                for (int i = 0; i < total; i += 100) p.Client.SendMessages(sent.GetRange(i, 100));

                var buf = new byte[2048];
                var segs = new ArraySegment<byte>[64];
                var got = new List<byte[]>();
                int calls = 0;
                while (got.Count < total)
                {
                    int n = p.Peer.ReceiveMessages(buf, segs, Util.Wait);
                    calls++;
                    Assert.That(n, Is.InRange(1, segs.Length), "count of call " + calls);
                    int packed = 0;
                    for (int i = 0; i < n; i++)
                    {
                        Assert.AreSame(buf, segs[i].Array, "segment " + i + " points into the buffer");
                        Assert.AreEqual(packed, segs[i].Offset, "payloads are packed back to back");
                        packed += segs[i].Count;
                        got.Add(Sub(buf, segs[i].Offset, segs[i].Count));
                    }
                    Assert.LessOrEqual(packed, buf.Length);
                }
                Assert.GreaterOrEqual(calls, total / segs.Length, "64 entries per call at most");
                Assert.AreEqual(total, got.Count);
                for (int i = 0; i < total; i++) CollectionAssert.AreEqual(sent[i], got[i], "message " + i);
                int none;
                Assert.IsFalse(p.Peer.TryReceiveMessages(buf, segs, out none), "everything was taken");
                Assert.AreEqual(0, none);
            }
        }

        [Test]
        public void ReceiveMessagesUsesAtMost256EntriesAndTheTryFormsPoll()
        {
            using (var p = new Pair())
            {
                const int total = 600;
                var sent = new List<byte[]>();
                for (int i = 0; i < total; i++) sent.Add(Util.Pattern(4, i));
                p.Client.SendMessages(sent);

                byte[] grow = null; // grown by the first call
                var segs = new ArraySegment<byte>[1000];
                var got = new List<byte[]>();
                while (got.Count < total)
                {
                    int n;
                    if (!p.Peer.TryReceiveMessages(ref grow, segs, out n))
                    {
                        // nothing there yet: wait (bounded) for the next one
                        n = p.Peer.ReceiveMessages(ref grow, segs, Util.Wait);
                    }
                    Assert.That(n, Is.InRange(1, ArSockClient.MaxMessagesPerBatch));
                    for (int i = 0; i < n; i++) got.Add(Sub(grow, segs[i].Offset, segs[i].Count));
                }
                for (int i = 0; i < total; i++) CollectionAssert.AreEqual(sent[i], got[i], "message " + i);
            }
        }

        [Test]
        public void ReceiveMessagesBufferTooSmallReportsSizeAndKeepsMessages()
        {
            using (var p = new Pair())
            {
                byte[] big = Util.Pattern(1000, 11), small = Util.Pattern(3, 12);
                p.Client.SendMessages(new List<byte[]> { big, small });
                var buf = new byte[10];
                var segs = new ArraySegment<byte>[8];
                var e = Util.Throws(ArSockStatus.BufferTooSmall, () => p.Peer.ReceiveMessages(buf, segs, Util.Wait));
                Assert.AreEqual(1000, e.RequiredLength);
                Assert.AreEqual("arsock_client_recv_msgs", e.Function);
                Assert.IsNotEmpty(e.NativeMessage);
                Assert.IsNull(segs[0].Array, "messages untouched on failure");
                int count;
                e = Util.Throws(ArSockStatus.BufferTooSmall, () => p.Peer.TryReceiveMessages(buf, segs, out count));
                Assert.AreEqual(1000, e.RequiredLength);
                // the raw layer: out_msgs[0] = {NULL, size needed}
                unsafe
                {
                    ArSockBuf* raw = stackalloc ArSockBuf[4];
                    UIntPtr n;
                    int st = ArSockNative.arsock_client_recv_msgs(p.Peer.Handle, null, UIntPtr.Zero, raw, (UIntPtr)4u, 0, out n);
                    Assert.AreEqual((int)ArSockStatus.BufferTooSmall, st);
                    Assert.AreEqual(IntPtr.Zero, raw[0].Data);
                    Assert.AreEqual(1000UL, raw[0].Len.ToUInt64());
                }
                // still queued: the growing form gets it (and maybe the small one after it)
                byte[] grown = buf;
                int got = p.Peer.ReceiveMessages(ref grown, segs, Util.Wait);
                Assert.AreNotSame(buf, grown);
                Assert.GreaterOrEqual(grown.Length, 1000);
                Assert.That(got, Is.InRange(1, 2));
                CollectionAssert.AreEqual(big, Sub(grown, segs[0].Offset, segs[0].Count));
                if (got == 1) got = p.Peer.ReceiveMessages(grown, segs, Util.Wait); // the small one came later
                CollectionAssert.AreEqual(small, Sub(grown, segs[got - 1].Offset, segs[got - 1].Count));

                // the first fits, the second does not: one per call, the second stays queued
                byte[] m1 = Util.Pattern(100, 13), m2 = Util.Pattern(100, 14);
                p.Client.SendMessages(new List<byte[]> { m1, m2 });
                var buf150 = new byte[150];
                Assert.AreEqual(1, p.Peer.ReceiveMessages(buf150, segs, Util.Wait));
                CollectionAssert.AreEqual(m1, Sub(buf150, segs[0].Offset, segs[0].Count));
                Assert.AreEqual(1, p.Peer.ReceiveMessages(buf150, segs, Util.Wait));
                CollectionAssert.AreEqual(m2, Sub(buf150, segs[0].Offset, segs[0].Count));

                // empty messages fit even an empty buffer
                p.Client.SendMessages(new List<byte[]> { new byte[0], new byte[0] });
                int e0 = p.Peer.ReceiveMessages(new byte[0], segs, Util.Wait);
                Assert.That(e0, Is.InRange(1, 2));
                for (int i = 0; i < e0; i++) Assert.AreEqual(0, segs[i].Count);
            }
        }

        [Test]
        public void ReceiveMessagesTimeoutsAndArguments()
        {
            using (var p = new Pair())
            {
                var buf = new byte[64];
                var segs = new ArraySegment<byte>[4];
                Util.Throws(ArSockStatus.Timeout, () => p.Peer.ReceiveMessages(buf, segs, 0));
                Util.Throws(ArSockStatus.Timeout, () => p.Peer.ReceiveMessages(buf, segs, 50));
                byte[] g = null;
                Util.Throws(ArSockStatus.Timeout, () => p.Peer.ReceiveMessages(ref g, segs, 0));
                int count;
                Assert.IsFalse(p.Peer.TryReceiveMessages(buf, segs, out count));
                Assert.AreEqual(0, count);
                Assert.IsFalse(p.Peer.TryReceiveMessages(ref g, segs, out count));
                Util.Throws(ArSockStatus.InvalidArgument, () => p.Peer.ReceiveMessages(buf, segs, -5));
                Assert.Throws<ArgumentNullException>(() => p.Peer.ReceiveMessages(null, segs, 0));
                Assert.Throws<ArgumentNullException>(() => p.Peer.ReceiveMessages(buf, null, 0));
                Assert.Throws<ArgumentException>(() => p.Peer.ReceiveMessages(buf, new ArraySegment<byte>[0], 0));
                // still usable after timeouts
                p.Client.SendMessage(new byte[] { 3 });
                Assert.AreEqual(1, p.Peer.ReceiveMessages(buf, segs, Util.Wait));
                CollectionAssert.AreEqual(new byte[] { 3 }, Sub(buf, segs[0].Offset, segs[0].Count));
                // after the peer closed (and everything was read): Closed
                p.Client.Dispose();
                Util.Throws(ArSockStatus.Closed, () => p.Peer.ReceiveMessages(buf, segs, Util.Wait));
            }
        }

        [Test]
        public void ReceiveMessagesOnARawConnectionIsStateError()
        {
            using (var p = new Pair())
            {
                p.Peer.Send(new byte[] { 1 });
                Util.Throws(ArSockStatus.State, () => p.Peer.ReceiveMessages(new byte[8], new ArraySegment<byte>[2], 0));
            }
        }

#if !ARSOCK_NO_SPAN
        [Test]
        public void SpanMessageOverloads()
        {
            using (var p = new Pair())
            {
                byte[] data = Util.Pattern(40, 9);
                p.Client.SendMessage(new ReadOnlySpan<byte>(data, 5, 30));
                p.Client.SendMessage(ReadOnlySpan<byte>.Empty);
                var buf = new byte[64];
                int n = p.Peer.ReceiveMessage(new Span<byte>(buf, 10, 40), Util.Wait);
                Assert.AreEqual(30, n);
                CollectionAssert.AreEqual(Sub(data, 5, 30), Sub(buf, 10, 30));
                Assert.AreEqual(0, p.Peer.ReceiveMessage(Span<byte>.Empty, Util.Wait));
                int len;
                Assert.IsFalse(p.Peer.TryReceiveMessage(new Span<byte>(buf), out len));
                p.Client.SendMessage(new ReadOnlySpan<byte>(data));
                var e = Util.Throws(ArSockStatus.BufferTooSmall, () => p.Peer.ReceiveMessage(new Span<byte>(buf, 0, 8), Util.Wait));
                Assert.AreEqual(40, e.RequiredLength);
                Assert.AreEqual(40, p.Peer.ReceiveMessage(new Span<byte>(buf), Util.Wait));
            }
        }
#endif

        static byte[] Sub(byte[] a, int off, int n)
        {
            var r = new byte[n];
            Buffer.BlockCopy(a, off, r, 0, n);
            return r;
        }
    }

    [TestFixture, Timeout(30000)]
    public class ServerTests
    {
        [Test]
        public void BindListenAcceptAndLocalPort()
        {
            using (var s = ArSockServer.Bind("127.0.0.1", 0))
            {
                int port = s.LocalPort;
                Assert.That(port > 0 && port <= 65535);
                s.Listen(16);
                ArSockClient c;
                Assert.IsFalse(s.TryAccept(out c));
                Assert.IsNull(c);
                Util.Throws(ArSockStatus.Timeout, () => s.Accept(50));
                using (var client = ArSockClient.Connect("127.0.0.1", port, Util.Wait))
                {
                    Assert.IsTrue(s.TryAccept(Util.Wait, out c));
                    using (c)
                    {
                        client.SendMessage(new byte[] { 1 });
                        Assert.AreEqual(1, c.ReceiveMessage(Util.Wait).Length);
                    }
                }
            }
        }

        [Test]
        public void StateErrors()
        {
            using (var s = ArSockServer.Bind("127.0.0.1", 0))
            {
                Util.Throws(ArSockStatus.State, () => s.Accept(0));
                s.Listen();
                var e = Util.Throws(ArSockStatus.State, () => s.Listen());
                Assert.IsNotEmpty(e.NativeMessage);
                Util.Throws(ArSockStatus.InvalidArgument, () => s.Accept(-7));
            }
        }

        [Test]
        public void SecondListenerOnAPortIsAddressInUse()
        {
            using (var s = ArSockServer.Bind("127.0.0.1", 0))
            {
                s.Listen();
                ArSockServer s2 = null;
                try
                {
                    var e = Assert.Throws<ArSockException>(() => { s2 = ArSockServer.Bind("127.0.0.1", s.LocalPort); s2.Listen(); });
                    Assert.AreEqual(ArSockStatus.AddressInUse, e.Status, e.Message);
                }
                finally
                {
                    if (s2 != null) s2.Dispose();
                }
            }
        }

        [Test]
        public void BadAddresses()
        {
            // No name lookups (they could leave the machine): a non-local literal, a bad timeout.
            Util.Throws(ArSockStatus.Address, () => ArSockServer.Bind("192.0.2.1", 0));
            Util.Throws(ArSockStatus.InvalidArgument, () => ArSockClient.Connect("127.0.0.1", 1, -2));
        }

        [Test]
        public void Ipv6Loopback()
        {
            ArSockServer s;
            try { s = ArSockServer.Bind("::1", 0); }
            catch (ArSockException e) { Assert.Ignore("no IPv6 loopback here: " + e.Message); return; }
            using (s)
            {
                s.Listen();
                using (var c = ArSockClient.Connect("::1", s.LocalPort, Util.Wait))
                using (var peer = s.Accept(Util.Wait))
                {
                    c.SendMessage(new byte[] { 6 });
                    CollectionAssert.AreEqual(new byte[] { 6 }, peer.ReceiveMessage(Util.Wait));
                }
            }
        }

        [Test]
        public void DisposeWakesABlockedAccept()
        {
            var s = ArSockServer.Bind("127.0.0.1", 0);
            s.Listen();
            Exception caught = null;
            var t = new Thread(() =>
            {
                try { s.Accept(Util.Wait); }
                catch (Exception e) { caught = e; }
            });
            t.Start();
            Thread.Sleep(100);
            s.Dispose();
            Assert.IsTrue(t.Join(Util.Wait), "accept did not return");
            // Closed if the accept was blocked; ObjectDisposedException if the thread only got there after Dispose
            if (!(caught is ObjectDisposedException))
            {
                Assert.IsInstanceOf<ArSockException>(caught, caught == null ? "no exception" : caught.ToString());
                Assert.AreEqual(ArSockStatus.Closed, ((ArSockException)caught).Status);
            }
        }
    }

    [TestFixture, Timeout(30000)]
    public class ErrorMappingTests
    {
        [Test]
        public void BadHandleIsInvalidHandleWithMessage()
        {
            using (var c = ArSockClient.FromHandle(0xDEADBEEF12345UL))
            {
                var e = Util.Throws(ArSockStatus.InvalidHandle, () => c.SendMessage(new byte[] { 1 }));
                Assert.IsNotEmpty(e.NativeMessage);
                StringAssert.Contains(e.NativeMessage, e.Message);
                Assert.AreEqual("arsock_client_send_msg", e.Function);
                Util.Throws(ArSockStatus.InvalidHandle, () => c.SetSendTimeout(0));
                Util.Throws(ArSockStatus.InvalidHandle, () => { var unused = c.SendQueueLength; });
            }
            using (var s = ArSockServer.FromHandle(0xDEADBEEF12345UL))
                Util.Throws(ArSockStatus.InvalidHandle, () => { var unused = s.LocalPort; });
            Assert.Throws<ArgumentException>(() => ArSockClient.FromHandle(0));
        }

        [Test]
        public void RawLayerHandleZeroAndCheck()
        {
            int st = ArSockNative.arsock_close(0);
            Assert.AreEqual((int)ArSockStatus.InvalidHandle, st);
            string msg = ArSockNative.LastErrorMessage();
            Assert.IsNotEmpty(msg);
            var e = Assert.Throws<ArSockException>(() => ArSockNative.Check(ArSockNative.arsock_close(0), "arsock_close"));
            Assert.AreEqual(ArSockStatus.InvalidHandle, e.Status);
            Assert.IsNotEmpty(e.NativeMessage);
            ArSockNative.Check(0, "nothing"); // OK does not throw
        }

        [Test]
        public void LastErrorIsPerThreadAndReadRightAfterTheFailure()
        {
            // fail on this thread with one error, on another thread with a different one
            using (var c = ArSockClient.FromHandle(0xBADUL))
            {
                var e1 = Util.Throws(ArSockStatus.InvalidHandle, () => c.SetFrameTimeout(100));
                string other = null;
                var t = new Thread(() =>
                {
                    int st = ArSockNative.arsock_server_listen(0x1234UL, -1);
                    other = ArSockNative.StatusString(st) + "|" + ArSockNative.LastErrorMessage();
                });
                t.Start();
                Assert.IsTrue(t.Join(Util.Wait));
                Assert.IsNotNull(other);
                Assert.AreEqual(e1.NativeMessage, ArSockNative.LastErrorMessage(), "another thread's failure must not change this thread's message");
            }
        }

        [Test]
        public void ConnectToClosedPortIsConnectionRefused()
        {
            // A bound but not listening socket: connecting to it is refused, and nobody else can take the port meanwhile.
            using (var s = ArSockServer.Bind("127.0.0.1", 0))
            {
                var e = Util.Throws(ArSockStatus.ConnectionRefused, () => ArSockClient.Connect("127.0.0.1", s.LocalPort, Util.Wait));
                Assert.IsNotEmpty(e.NativeMessage);
                Assert.AreEqual("arsock_client_connect", e.Function);
            }
        }

        [Test]
        public void StatusStrings()
        {
            foreach (ArSockStatus s in Enum.GetValues(typeof(ArSockStatus)))
            {
                string text = ArSockNative.StatusString((int)s);
                Assert.IsNotEmpty(text, s.ToString());
                Assert.AreNotEqual(ArSockNative.StatusString(-1000), text, s + " must have its own text");
            }
            Assert.IsNotEmpty(ArSockNative.StatusString(-1000));
            Assert.IsNotEmpty(ArSockNative.StatusString(int.MaxValue));
        }

        [Test]
        public void ExceptionMessageNamesStatusAndFunction()
        {
            var e = new ArSockException(-3, "arsock_x", "detail text", -1);
            StringAssert.Contains("arsock_x", e.Message);
            StringAssert.Contains("Timeout", e.Message);
            StringAssert.Contains("detail text", e.Message);
            var u = new ArSockException(-99, "f", "", -1);
            Assert.AreEqual(-99, u.StatusCode);
            StringAssert.Contains("-99", u.Message);
        }
    }

    [TestFixture, Timeout(30000)]
    public class DisposeTests
    {
        [Test]
        public void DoubleDisposeIsHarmless()
        {
            var p = new Pair();
            p.Client.Dispose();
            p.Client.Dispose();
            p.Server.Dispose();
            p.Server.Dispose();
            p.Dispose();
            Assert.IsTrue(p.Client.IsDisposed);
            Assert.IsTrue(p.Server.IsDisposed);
        }

        [Test]
        public void UseAfterDisposeThrowsObjectDisposed()
        {
            var p = new Pair();
            p.Dispose();
            var c = p.Client;
            var s = p.Server;
            var buf = new byte[4];
            int n;
            byte[] g = null;
            byte[] m;
            Assert.Throws<ObjectDisposedException>(() => c.Send(buf));
            Assert.Throws<ObjectDisposedException>(() => c.Receive(buf, 0, 4, 0));
            Assert.Throws<ObjectDisposedException>(() => c.TryReceive(buf, out n));
            Assert.Throws<ObjectDisposedException>(() => c.SendMessage(buf));
            Assert.Throws<ObjectDisposedException>(() => c.TrySendMessage(buf));
            Assert.Throws<ObjectDisposedException>(() => c.SendMessages(new List<byte[]> { buf }));
            Assert.Throws<ObjectDisposedException>(() => c.ReceiveMessage(buf, 0, 4, 0));
            Assert.Throws<ObjectDisposedException>(() => c.ReceiveMessage(ref g, 0));
            Assert.Throws<ObjectDisposedException>(() => c.ReceiveMessage(0));
            Assert.Throws<ObjectDisposedException>(() => c.TryReceiveMessage(out m));
            Assert.Throws<ObjectDisposedException>(() => c.TryReceiveMessage(ref g, out n));
            Assert.Throws<ObjectDisposedException>(() => c.SetSendTimeout(0));
            Assert.Throws<ObjectDisposedException>(() => c.SetMaxMessage(10));
            Assert.Throws<ObjectDisposedException>(() => c.SetSendQueueLimit(10));
            Assert.Throws<ObjectDisposedException>(() => c.SetFrameTimeout(10));
            Assert.Throws<ObjectDisposedException>(() => { var unused = c.SendQueueLength; });
            Assert.Throws<ObjectDisposedException>(() => { var unused = c.Handle; });
#if !ARSOCK_NO_SPAN
            Assert.Throws<ObjectDisposedException>(() => c.SendMessage(new ReadOnlySpan<byte>(buf)));
            Assert.Throws<ObjectDisposedException>(() => c.ReceiveMessage(new Span<byte>(buf), 0));
#endif
            Assert.Throws<ObjectDisposedException>(() => s.Listen());
            Assert.Throws<ObjectDisposedException>(() => s.Accept(0));
            Assert.Throws<ObjectDisposedException>(() => { var unused = s.LocalPort; });
        }

        [Test]
        public void DisposeClosesTheNativeHandle()
        {
            using (var p = new Pair())
            {
                ulong h = p.Client.Handle;
                p.Client.Dispose();
                Assert.AreEqual((int)ArSockStatus.InvalidHandle, ArSockNative.arsock_close(h), "handle still open after Dispose");
                Util.Throws(ArSockStatus.Closed, () => p.Peer.ReceiveMessage(Util.Wait));
            }
        }

        [Test]
        public void DisposeAfterNativeCloseDoesNotThrow()
        {
            using (var p = new Pair())
            {
                Assert.AreEqual(0, ArSockNative.arsock_close(p.Client.Handle));
                Util.Throws(ArSockStatus.InvalidHandle, () => p.Client.SendMessage(new byte[1]));
                p.Client.Dispose();
            }
        }

        [Test]
        public void FinalizerClosesTheHandleAndNeverThrows()
        {
            using (var p = new Pair())
            {
                var c = p.Client;
                ulong h = c.Handle;
                MethodInfo fin = typeof(ArSockClient).GetMethod("Finalize", BindingFlags.Instance | BindingFlags.NonPublic);
                Assert.IsNotNull(fin);
                fin.Invoke(c, null);
                Assert.IsTrue(c.IsDisposed);
                Assert.AreEqual((int)ArSockStatus.InvalidHandle, ArSockNative.arsock_close(h), "finalizer did not close the handle");
                fin.Invoke(c, null); // second run: nothing to do, no exception
                c.Dispose();

                // a finalizer of an object whose handle was closed behind its back does not throw either
                var bogus = ArSockClient.FromHandle(0xBADBADUL);
                fin.Invoke(bogus, null);
                GC.SuppressFinalize(bogus);

                var s = p.Server;
                ulong sh = s.Handle;
                typeof(ArSockServer).GetMethod("Finalize", BindingFlags.Instance | BindingFlags.NonPublic).Invoke(s, null);
                Assert.AreEqual((int)ArSockStatus.InvalidHandle, ArSockNative.arsock_close(sh));
            }
        }

        [Test]
        public void GcFinalizesUnreferencedObjectsWithoutCrashing()
        {
            using (var s = ArSockServer.Bind("127.0.0.1", 0))
            {
                s.Listen();
                for (int i = 0; i < 20; i++) Abandon(s);
                GC.Collect();
                GC.WaitForPendingFinalizers();
                GC.Collect();
            }
        }

        static void Abandon(ArSockServer s)
        {
            ArSockClient.Connect("127.0.0.1", s.LocalPort, Util.Wait);
            ArSockClient peer;
            if (s.TryAccept(Util.Wait, out peer)) { /* dropped without Dispose */ }
        }

        [Test]
        public void DisposeFromAnotherThreadWakesABlockedReceive()
        {
            using (var p = new Pair())
            {
                Exception caught = null;
                var t = new Thread(() =>
                {
                    try { p.Peer.ReceiveMessage(Util.Wait); }
                    catch (Exception e) { caught = e; }
                });
                t.Start();
                Thread.Sleep(100);
                p.Peer.Dispose();
                Assert.IsTrue(t.Join(Util.Wait), "receive did not return");
                if (!(caught is ObjectDisposedException)) // (thread only got there after Dispose)
                {
                    Assert.IsInstanceOf<ArSockException>(caught, caught == null ? "no exception" : caught.ToString());
                    var st = ((ArSockException)caught).Status;
                    Assert.That(st == ArSockStatus.Closed || st == ArSockStatus.InvalidHandle, st.ToString());
                }
            }
        }
    }
}
