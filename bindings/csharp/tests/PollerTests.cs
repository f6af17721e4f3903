// ArSockPoller against the real library: every rule of the poller contract the binding
// exposes (level-triggered IN, OUT, CLOSED always reported, one poller per handle, fairness
// beyond the buffer size, close waking a blocked wait, argument errors) and the Span overload.

using System;
using System.Collections.Generic;
using System.Threading;
using ArSock;
using NUnit.Framework;

namespace ArSock.Tests
{
    [TestFixture, Timeout(30000)]
    public class PollerTests
    {
        static ArSockPollEvent[] Buf(int n) { return new ArSockPollEvent[n]; }

        /// <summary>Waits (bounded) until the poller reports handle with all of `want`; returns its event.</summary>
        static ArSockPollEvent WaitFor(ArSockPoller poller, ulong handle, ArSockPollEvents want)
        {
            var evs = Buf(16);
            var deadline = DateTime.UtcNow.AddMilliseconds(Util.Wait);
            while (DateTime.UtcNow < deadline)
            {
                int n = poller.Wait(evs, 100);
                for (int i = 0; i < n; i++)
                    if (evs[i].Handle == handle && (evs[i].Flags & want) == want) return evs[i];
            }
            Assert.Fail("handle " + handle + " was not reported with " + want + " within " + Util.Wait + " ms");
            return default(ArSockPollEvent);
        }

        [Test]
        public void EmptyPollerTimesOutWithZeroEventsAndLeavesTheBufferAlone()
        {
            using (var poller = new ArSockPoller())
            {
                var evs = Buf(2);
                evs[0].Handle = 77;
                Assert.AreEqual(0, poller.Wait(evs, 0));
                Assert.AreEqual(0, poller.Wait(evs, 20));
                Assert.AreEqual(77UL, evs[0].Handle);
            }
        }

        [Test]
        public void ServerIsReportedInWhenAConnectionWaitsToBeAccepted()
        {
            using (var server = ArSockServer.Bind("127.0.0.1", 0))
            using (var poller = new ArSockPoller())
            {
                server.Listen();
                poller.Add(server, ArSockPollEvents.In);
                Assert.AreEqual(0, poller.Wait(Buf(4), 0), "nothing to accept yet");
                using (var client = ArSockClient.Connect("127.0.0.1", server.LocalPort, Util.Wait))
                {
                    var ev = WaitFor(poller, server.Handle, ArSockPollEvents.In);
                    Assert.IsTrue(ev.IsIn);
                    ArSockHandleOwner owner;
                    Assert.IsTrue(poller.TryGetOwner(ev.Handle, out owner));
                    Assert.AreSame(server, owner);
                    using (var accepted = server.Accept(0)) Assert.IsFalse(accepted.IsDisposed);
                }
            }
        }

        [Test]
        public void MessageMakesAConnectionInAndItStaysInUntilReceived()
        {
            using (var p = new Pair())
            using (var poller = new ArSockPoller())
            {
                poller.Add(p.Peer, ArSockPollEvents.In);
                Assert.AreEqual(0, poller.Wait(Buf(4), 0));
                p.Client.SendMessage(new byte[] { 1, 2, 3 });
                WaitFor(poller, p.Peer.Handle, ArSockPollEvents.In);
                // level-triggered: still ready while the message is unread
                var evs = Buf(4);
                Assert.AreEqual(1, poller.Wait(evs, 0));
                Assert.AreEqual(p.Peer.Handle, evs[0].Handle);
                Assert.IsTrue(evs[0].IsIn);
                CollectionAssert.AreEqual(new byte[] { 1, 2, 3 }, p.Peer.ReceiveMessage(0));
                Assert.AreEqual(0, poller.Wait(evs, 0), "nothing left to receive");
            }
        }

        [Test]
        public void RawModeBytesMakeAConnectionIn()
        {
            using (var p = new Pair())
            using (var poller = new ArSockPoller())
            {
                poller.Add(p.Peer, ArSockPollEvents.In);
                p.Client.Send(new byte[] { 9 });
                WaitFor(poller, p.Peer.Handle, ArSockPollEvents.In);
                var buf = new byte[4];
                Assert.AreEqual(1, p.Peer.Receive(buf, 0, 4, 0));
                Assert.AreEqual(9, buf[0]);
            }
        }

        [Test]
        public void OutIsReportedWhileTheSendQueueHasRoom()
        {
            using (var p = new Pair())
            using (var poller = new ArSockPoller())
            {
                poller.Add(p.Client, ArSockPollEvents.Out);
                var ev = WaitFor(poller, p.Client.Handle, ArSockPollEvents.Out);
                Assert.IsFalse(ev.IsIn);
            }
        }

        [Test]
        public void ClosedIsReportedEvenWithAnEmptyMask()
        {
            using (var p = new Pair())
            using (var poller = new ArSockPoller())
            {
                poller.Add(p.Peer, ArSockPollEvents.None);
                p.Client.SendMessage(new byte[] { 5 });
                Thread.Sleep(50);
                Assert.AreEqual(0, poller.Wait(Buf(4), 0), "IN is not asked for");
                CollectionAssert.AreEqual(new byte[] { 5 }, p.Peer.ReceiveMessage(Util.Wait));
                p.Client.Dispose();
                var ev = WaitFor(poller, p.Peer.Handle, ArSockPollEvents.Closed);
                Assert.IsTrue(ev.IsClosed);
                Assert.IsFalse(ev.IsIn, "IN is not asked for");
            }
        }

        [Test]
        public void ModifyChangesTheEventsAndRemoveStopsReports()
        {
            using (var p = new Pair())
            using (var poller = new ArSockPoller())
            {
                poller.Add(p.Peer, ArSockPollEvents.Out);
                WaitFor(poller, p.Peer.Handle, ArSockPollEvents.Out);
                poller.Modify(p.Peer, ArSockPollEvents.In);
                Assert.AreEqual(0, poller.Wait(Buf(4), 0), "OUT no longer asked for, no message yet");
                p.Client.SendMessage(new byte[] { 1 });
                WaitFor(poller, p.Peer.Handle, ArSockPollEvents.In);
                poller.Remove(p.Peer);
                Assert.AreEqual(0, poller.Wait(Buf(4), 0));
                ArSockHandleOwner owner;
                Assert.IsFalse(poller.TryGetOwner(p.Peer.Handle, out owner));
                Assert.Throws<ArSockException>(() => poller.Remove(p.Peer.Handle), "not in the poller any more");
            }
        }

        [Test]
        public void AHandleIsInOnePollerOnlyAndAddingTwiceIsAStateError()
        {
            using (var p = new Pair())
            using (var a = new ArSockPoller())
            using (var b = new ArSockPoller())
            {
                a.Add(p.Peer, ArSockPollEvents.In);
                Util.Throws(ArSockStatus.State, () => a.Add(p.Peer, ArSockPollEvents.In));
                Util.Throws(ArSockStatus.State, () => b.Add(p.Peer, ArSockPollEvents.In));
                a.Remove(p.Peer);
                b.Add(p.Peer, ArSockPollEvents.In);
            }
        }

        [Test]
        public void UnknownEventBitsAreAnInvalidArgument()
        {
            using (var p = new Pair())
            using (var poller = new ArSockPoller())
            {
                var e = Util.Throws(ArSockStatus.InvalidArgument, () => poller.Add(p.Peer, (ArSockPollEvents)0x100));
                StringAssert.Contains("arsock_poller_add", e.Message);
                Assert.IsNotEmpty(e.NativeMessage);
                poller.Add(p.Peer, ArSockPollEvents.In); // still usable
                Util.Throws(ArSockStatus.InvalidArgument, () => poller.Modify(p.Peer, (ArSockPollEvents)8));
            }
        }

        [Test]
        public void ClosedHandlesAreRejectedAndLeaveThePoller()
        {
            using (var p = new Pair())
            using (var poller = new ArSockPoller())
            {
                poller.Add(p.Peer, ArSockPollEvents.In);
                ulong h = p.Peer.Handle;
                p.Client.SendMessage(new byte[] { 1 });
                WaitFor(poller, h, ArSockPollEvents.In);
                p.Peer.Dispose(); // closing removes it
                Assert.AreEqual(0, poller.Wait(Buf(4), 0));
                Util.Throws(ArSockStatus.InvalidHandle, () => poller.Add(h, ArSockPollEvents.In));
                Assert.Throws<ObjectDisposedException>(() => poller.Add(p.Peer, ArSockPollEvents.In));
            }
        }

        [Test]
        public void MoreReadyHandlesThanRoomAreAllReportedInTurn()
        {
            using (var server = ArSockServer.Bind("127.0.0.1", 0))
            using (var poller = new ArSockPoller())
            {
                server.Listen();
                var clients = new List<ArSockClient>();
                var peers = new List<ArSockClient>();
                try
                {
                    for (int i = 0; i < 4; i++)
                    {
                        clients.Add(ArSockClient.Connect("127.0.0.1", server.LocalPort, Util.Wait));
                        peers.Add(server.Accept(Util.Wait));
                        poller.Add(peers[i], ArSockPollEvents.In);
                        clients[i].SendMessage(new byte[] { (byte)i });
                    }
                    foreach (var peer in peers) WaitFor(poller, peer.Handle, ArSockPollEvents.In);
                    // all four stay ready (nothing is received); with room for one event per wait,
                    // four waits must name four different handles
                    var seen = new HashSet<ulong>();
                    var one = Buf(1);
                    for (int i = 0; i < 4; i++)
                    {
                        Assert.AreEqual(1, poller.Wait(one, Util.Wait));
                        seen.Add(one[0].Handle);
                    }
                    Assert.AreEqual(4, seen.Count, "a ready handle was starved");
                }
                finally
                {
                    foreach (var c in clients) c.Dispose();
                    foreach (var c in peers) c.Dispose();
                }
            }
        }

        [Test]
        public void DisposeWakesAWaitBlockedInAnotherThread()
        {
            var poller = new ArSockPoller();
            ArSockException caught = null;
            var t = new Thread(() =>
            {
                try { poller.Wait(Buf(4), -1); }
                catch (ArSockException e) { caught = e; }
            });
            t.Start();
            Thread.Sleep(100);
            poller.Dispose();
            Assert.IsTrue(t.Join(Util.Wait), "the blocked Wait did not return");
            Assert.IsNotNull(caught);
            Assert.AreEqual(ArSockStatus.Closed, caught.Status);
            Assert.Throws<ObjectDisposedException>(() => poller.Wait(Buf(1), 0));
        }

        [Test]
        public void AMessageWakesAWaitBlockedInAnotherThread()
        {
            using (var p = new Pair())
            using (var poller = new ArSockPoller())
            {
                poller.Add(p.Peer, ArSockPollEvents.In);
                int n = -1;
                var evs = Buf(4);
                var t = new Thread(() => { n = poller.Wait(evs, Util.Wait); });
                t.Start();
                Thread.Sleep(50);
                p.Client.SendMessage(new byte[] { 7 });
                Assert.IsTrue(t.Join(Util.Wait + 1000));
                Assert.AreEqual(1, n);
                Assert.AreEqual(p.Peer.Handle, evs[0].Handle);
            }
        }

        [Test]
        public void EmptyBufferIsRejectedBeforeCallingTheLibrary()
        {
            using (var poller = new ArSockPoller())
            {
                Assert.Throws<ArgumentException>(() => poller.Wait(new ArSockPollEvent[0], 0));
                Assert.Throws<ArgumentNullException>(() => poller.Wait((ArSockPollEvent[])null, 0));
            }
        }

#if !ARSOCK_NO_SPAN
        [Test]
        public unsafe void SpanWaitIntoStackMemory()
        {
            using (var p = new Pair())
            using (var poller = new ArSockPoller())
            {
                poller.Add(p.Peer, ArSockPollEvents.In);
                p.Client.SendMessage(new byte[] { 3 });
                WaitFor(poller, p.Peer.Handle, ArSockPollEvents.In);
                ArSockPollEvent* raw = stackalloc ArSockPollEvent[8];
                var evs = new Span<ArSockPollEvent>(raw, 8);
                int n = poller.Wait(evs, 0);
                Assert.AreEqual(1, n);
                Assert.AreEqual(p.Peer.Handle, evs[0].Handle);
                Assert.AreEqual(ArSockNative.PollIn, evs[0].Events & ArSockNative.PollIn);
                Assert.AreEqual(0u, evs[0].Reserved);
            }
        }
#endif
    }
}
