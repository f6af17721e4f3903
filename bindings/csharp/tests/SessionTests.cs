// Sessions through the C# binding against the real library: a hub on 127.0.0.1 (port 0),
// sessions joining rooms, presence, relay, shared state, late joiners and misuse.

using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using ArSock;
using NUnit.Framework;

namespace ArSock.Tests
{
    /// <summary>An event as the test saw it, with its payload read at once (it is only readable
    /// until the next poll).</summary>
    sealed class SeenEvent
    {
        public ArSockEvent Ev;
        public byte[] Data;
        public string Text { get { return Data == null ? null : Encoding.UTF8.GetString(Data); } }
        public override string ToString() { return Ev + (Data != null ? " '" + Text + "'" : ""); }
    }

    /// <summary>A session plus everything it has polled so far.</summary>
    sealed class Device : IDisposable
    {
        public readonly ArSockSession S;
        public readonly List<SeenEvent> Log = new List<SeenEvent>();
        readonly ArSockEvent[] _events = new ArSockEvent[16];
        int _cursor; // Log entries before this were returned by Next

        public Device(ArSockSession s) { S = s; }

        public uint Id;

        /// <summary>Polls once (up to timeoutMs), appending to Log; returns how many came.</summary>
        public int PollOnce(int timeoutMs)
        {
            int n = S.Poll(_events, timeoutMs);
            for (int i = 0; i < n; i++)
            {
                var e = new SeenEvent { Ev = _events[i] };
                if (e.Ev.Payload != 0) e.Data = S.Read(e.Ev);
                Log.Add(e);
            }
            return n;
        }

        /// <summary>The next event matching pred (skipping others), polling for at most Util.Wait ms.</summary>
        public SeenEvent WaitFor(Func<SeenEvent, bool> pred, string what)
        {
            var deadline = DateTime.UtcNow.AddMilliseconds(Util.Wait);
            while (true)
            {
                for (; _cursor < Log.Count; _cursor++)
                {
                    if (pred(Log[_cursor])) return Log[_cursor++];
                }
                if (DateTime.UtcNow > deadline)
                    Assert.Fail("no " + what + " within " + Util.Wait + " ms; saw: " + string.Join(", ", Log.Select(x => x.ToString()).ToArray()));
                PollOnce(100);
            }
        }

        public SeenEvent WaitFor(ArSockEventKind kind, uint peer)
        {
            return WaitFor(e => e.Ev.Kind == kind && e.Ev.Peer == peer, kind + " of peer " + peer);
        }

        public SeenEvent WaitFor(ArSockEventKind kind)
        {
            return WaitFor(e => e.Ev.Kind == kind, kind.ToString());
        }

        public void Dispose() { S.Dispose(); }
    }

    [TestFixture, Timeout(60000)]
    public class SessionTests
    {
        ArSockHub _hub;
        readonly List<Device> _devices = new List<Device>();

        [SetUp]
        public void StartHub()
        {
            _hub = ArSockHub.Start(new ArSockHubOptions { Host = "127.0.0.1", Port = 0 });
        }

        [TearDown]
        public void StopHub()
        {
            foreach (var d in _devices) d.Dispose();
            _devices.Clear();
            _hub.Dispose();
        }

        Device Open(string room, string name = null, ArSockHub hub = null, string token = null)
        {
            var d = new Device(ArSockSession.Open("127.0.0.1", (hub ?? _hub).LocalPort, room,
                new ArSockSessionOptions { Name = name, Token = token }));
            _devices.Add(d);
            return d;
        }

        Device Join(string room, string name = null)
        {
            Device d = Open(room, name);
            var joined = d.WaitFor(ArSockEventKind.Joined);
            d.Id = joined.Ev.Peer;
            Assert.AreNotEqual(0u, d.Id, "a peer id is >= 1");
            Assert.AreEqual(d.Id, d.S.PeerId);
            return d;
        }

        [Test]
        public void HubListensOnAFreePortAndDefaultsAreTheDocumentedOnes()
        {
            Assert.Greater(_hub.LocalPort, 0);
            ArSockHubConfig cfg = ArSockHub.DefaultConfig();
            Assert.AreEqual((uint)System.Runtime.InteropServices.Marshal.SizeOf(typeof(ArSockHubConfig)), cfg.StructSize);
            Assert.AreEqual(32u, cfg.MaxPeersPerRoom);
            Assert.AreEqual(500, cfg.HeartbeatMs);
            Assert.AreEqual(2500, cfg.StaleAfterMs);
            Assert.AreEqual(30000, cfg.ResumeGraceMs);
            Assert.AreEqual(IntPtr.Zero, cfg.Host);
            Assert.AreEqual(IntPtr.Zero, cfg.Token);
        }

        [Test]
        public void JoinersSeeJoinedThenThePeersAlreadyThere()
        {
            Device a = Join("lobby", "alice");
            Device b = Join("lobby", "bob");
            b.WaitFor(ArSockEventKind.PeerJoined, a.Id);
            a.WaitFor(ArSockEventKind.PeerJoined, b.Id);
            Assert.AreNotEqual(a.Id, b.Id);
            Assert.AreEqual(ArSockEventKind.Joined, b.Log[0].Ev.Kind, "JOINED comes first");
            Assert.AreEqual("alice", b.S.PeerName(a.Id));
            Assert.AreEqual("bob", a.S.PeerName(b.Id));
            Assert.AreEqual("bob", b.S.PeerName(b.Id), "a session knows its own name");
        }

        [Test]
        public void MessageToOnePeerArrivesWithTheSendersIdAndBytes()
        {
            Device a = Join("relay");
            Device b = Join("relay");
            a.WaitFor(ArSockEventKind.PeerJoined, b.Id);
            byte[] data = Util.Pattern(3000, 7);
            a.S.Send(b.Id, data);
            var m = b.WaitFor(ArSockEventKind.Message, a.Id);
            Assert.AreEqual((ulong)data.Length, m.Ev.Size);
            Assert.IsTrue(m.Ev.IsDirect, "sent to b alone");
            CollectionAssert.AreEqual(data, m.Data);

#if !ARSOCK_NO_SPAN
            b.S.Send(a.Id, new ReadOnlySpan<byte>(new byte[] { 1, 2, 3 }));
            var back = a.WaitFor(ArSockEventKind.Message, b.Id);
            CollectionAssert.AreEqual(new byte[] { 1, 2, 3 }, back.Data);
#endif
            // empty messages are messages too
            a.S.Send(b.Id, new byte[0]);
            var empty = b.WaitFor(ArSockEventKind.Message, a.Id);
            Assert.AreEqual(0UL, empty.Ev.Size);
        }

        [Test]
        public void BroadcastReachesEveryOtherPeerInOrderAndNeverTheSender()
        {
            Device a = Join("bcast");
            Device b = Join("bcast");
            Device c = Join("bcast");
            a.WaitFor(ArSockEventKind.PeerJoined, c.Id);
            b.WaitFor(ArSockEventKind.PeerJoined, c.Id);
            for (int i = 0; i < 20; i++) b.S.Send(ArSockSession.Everyone, BitConverter.GetBytes(i));
            foreach (Device d in new[] { a, c })
            {
                for (int i = 0; i < 20; i++)
                {
                    var m = d.WaitFor(ArSockEventKind.Message, b.Id);
                    Assert.AreEqual(i, BitConverter.ToInt32(m.Data, 0), "per-sender order");
                    Assert.IsFalse(m.Ev.IsDirect, "a broadcast");
                }
            }
            // a answers after seeing all 20; the hub relays in order, so an echo to b would come first
            a.S.Send(b.Id, Encoding.UTF8.GetBytes("done"));
            b.WaitFor(e => e.Ev.Kind == ArSockEventKind.Message && e.Text == "done", "a's 'done'");
            Assert.IsFalse(b.Log.Any(e => e.Ev.Kind == ArSockEventKind.Message && e.Ev.Peer == b.Id), "no echo to the sender");
        }

        [Test]
        public void StateChangeIsSeenByEveryPeerAndReadableThenDeleted()
        {
            Device a = Join("state");
            Device b = Join("state");
            a.WaitFor(ArSockEventKind.PeerJoined, b.Id);
            byte[] value = Util.Pattern(500, 3);
            a.S.SetState("anchor/1", value);
            foreach (Device d in new[] { a, b })
            {
                var ch = d.WaitFor(ArSockEventKind.StateChanged);
                Assert.AreEqual("anchor/1", ch.Text, "the payload of STATE_CHANGED is the key");
                Assert.IsFalse(ch.Ev.IsStateDeleted);
                CollectionAssert.AreEqual(value, d.S.GetState("anchor/1"));
                byte[] got;
                Assert.IsTrue(d.S.TryGetState("anchor/1", out got));
                CollectionAssert.AreEqual(value, got);
                var small = new byte[10];
                var e = Util.Throws(ArSockStatus.BufferTooSmall, () => d.S.GetState("anchor/1", small, 0, small.Length));
                Assert.AreEqual(value.Length, e.RequiredLength);
                var exact = new byte[value.Length];
                Assert.AreEqual(value.Length, d.S.GetState("anchor/1", exact, 0, exact.Length));
            }
            b.S.DeleteState("anchor/1");
            foreach (Device d in new[] { a, b })
            {
                var ch = d.WaitFor(ArSockEventKind.StateChanged);
                Assert.AreEqual("anchor/1", ch.Text);
                Assert.IsTrue(ch.Ev.IsStateDeleted);
                Assert.AreEqual(ArSockNative.StateDeleted, ch.Ev.Flags & ArSockNative.StateDeleted);
                byte[] got;
                Assert.IsFalse(d.S.TryGetState("anchor/1", out got));
                Assert.IsNull(got);
                Util.Throws(ArSockStatus.NotFound, () => d.S.GetState("anchor/1"));
            }
        }

#if !ARSOCK_NO_SPAN
        [Test]
        public unsafe void SpanPollAndStateCallsWorkWithoutArrays()
        {
            Device a = Join("span");
            a.S.SetState("k", new ReadOnlySpan<byte>(new byte[] { 5, 6 }));
            ArSockEvent* pe = stackalloc ArSockEvent[8];
            byte* pb = stackalloc byte[64];
            var events = new Span<ArSockEvent>(pe, 8);
            var buf = new Span<byte>(pb, 64);
            int keyLen = -1;
            var deadline = DateTime.UtcNow.AddMilliseconds(Util.Wait);
            while (keyLen < 0 && DateTime.UtcNow < deadline)
            {
                int n = a.S.Poll(events, 100);
                for (int i = 0; i < n; i++)
                    if (events[i].Kind == ArSockEventKind.StateChanged) keyLen = a.S.Read(events[i], buf);
            }
            Assert.AreEqual(1, keyLen);
            Assert.AreEqual((byte)'k', buf[0]);
            int len;
            Assert.IsTrue(a.S.TryGetState("k", buf, out len));
            Assert.AreEqual(2, len);
            Assert.AreEqual(5, buf[0]);
            Assert.AreEqual(6, buf[1]);
            Assert.AreEqual(2, a.S.GetState("k", buf));
            Assert.IsFalse(a.S.TryGetState("absent", buf, out len));
        }
#endif

#if !ARSOCK_NO_SPAN
        // One Update() of a game loop: send, poll, read payloads, read and write state.
        static unsafe int UpdateOnce(ArSockSession from, uint to, ArSockSession s, Span<ArSockEvent> events, Span<byte> buf)
        {
            from.Send(to, buf.Slice(0, 16));
            s.SetState("pose", buf.Slice(0, 8));
            int messages = 0;
            for (int tries = 0; tries < 100 && messages == 0; tries++)
            {
                int n = s.Poll(events, 100);
                for (int i = 0; i < n; i++)
                {
                    if (events[i].Kind == ArSockEventKind.Message) { s.Read(events[i], buf); messages++; }
                    else if (events[i].Kind == ArSockEventKind.StateChanged) s.Read(events[i], buf);
                }
            }
            int len;
            if (s.TryGetState("pose", buf, out len)) s.GetState("pose", buf);
            return messages;
        }

        [Test]
        public unsafe void UpdateLoopDoesNotAllocate()
        {
            Device a = Join("alloc");
            Device b = Join("alloc");
            a.WaitFor(ArSockEventKind.PeerJoined, b.Id);
            ArSockEvent* pe = stackalloc ArSockEvent[16];
            byte* pb = stackalloc byte[256];
            var events = new Span<ArSockEvent>(pe, 16);
            var buf = new Span<byte>(pb, 256);
            Assert.AreEqual(1, UpdateOnce(a.S, b.Id, b.S, events, buf)); // warm-up (JIT, first-use paths)
            long before = GC.GetAllocatedBytesForCurrentThread();
            int got = 0;
            for (int i = 0; i < 20; i++) got += UpdateOnce(a.S, b.Id, b.S, events, buf);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.AreEqual(20, got);
            Assert.AreEqual(0, allocated, "bytes allocated by 20 updates");
        }
#endif

        [Test]
        public void LateJoinerGetsPeersThenStateBeforeLiveTraffic()
        {
            Device a = Join("late");
            Device b = Join("late");
            a.WaitFor(ArSockEventKind.PeerJoined, b.Id);
            a.S.SetState("x", new byte[] { 1 });
            a.S.SetState("y", new byte[] { 2, 2 });
            a.WaitFor(ArSockEventKind.StateChanged);
            a.WaitFor(ArSockEventKind.StateChanged);
            Device c = Join("late");
            c.WaitFor(e => e.Ev.Kind == ArSockEventKind.StateChanged && e.Text == "y", "snapshot key y");
            var kinds = c.Log.Select(e => e.Ev.Kind).ToList();
            CollectionAssert.AreEqual(new[] { ArSockEventKind.Joined, ArSockEventKind.PeerJoined, ArSockEventKind.PeerJoined,
                                              ArSockEventKind.StateChanged, ArSockEventKind.StateChanged }, kinds.Take(5).ToArray());
            CollectionAssert.AreEquivalent(new[] { a.Id, b.Id }, new[] { c.Log[1].Ev.Peer, c.Log[2].Ev.Peer });
            CollectionAssert.AreEquivalent(new[] { "x", "y" }, new[] { c.Log[3].Text, c.Log[4].Text });
            CollectionAssert.AreEqual(new byte[] { 2, 2 }, c.S.GetState("y"));
        }

        [Test]
        public void CloseIsSeenAsPeerLeftRemoteClose()
        {
            Device a = Join("bye");
            Device b = Join("bye");
            a.WaitFor(ArSockEventKind.PeerJoined, b.Id);
            b.Dispose();
            Assert.IsTrue(b.S.IsDisposed);
            var left = a.WaitFor(ArSockEventKind.PeerLeft, b.Id);
            Assert.AreEqual(ArSockReason.RemoteClose, left.Ev.Reason);
            Util.Throws(ArSockStatus.NotFound, () => a.S.Send(b.Id, new byte[] { 1 }));
            Assert.Throws<ObjectDisposedException>(() => b.S.Send(a.Id, new byte[] { 1 }));
        }

        [Test]
        public void DisposeFromAnotherThreadWakesABlockedPoll()
        {
            Device a = Join("wake");
            Exception error = null;
            int n = -1;
            var t = new System.Threading.Thread(() =>
            {
                try { n = a.S.Poll(new ArSockEvent[4], Util.Wait); }
                catch (Exception e) { error = e; }
            });
            t.Start();
            System.Threading.Thread.Sleep(200); // let it block (if it has not yet, it sees a disposed session)
            a.Dispose();
            Assert.IsTrue(t.Join(Util.Wait), "Poll still blocked after Dispose");
            Assert.IsNotNull(error, "Poll returned " + n + " instead of failing");
            Assert.That(error is ObjectDisposedException ||
                        (error is ArSockException && ((ArSockException)error).Status == ArSockStatus.Closed), error.ToString());
        }

        [Test]
        public void KilledDeviceGoesStaleThenLeavesWithTimeoutAfterGrace()
        {
            // short settings: with the defaults (2.5 s stale, 30 s grace) the watchdog would fire first
            using (var hub = ArSockHub.Start(new ArSockHubOptions { Host = "127.0.0.1", HeartbeatMs = 100, StaleAfterMs = 300, ResumeGraceMs = 1000 }))
            {
                Device a = Open("kill", hub: hub);
                a.WaitFor(ArSockEventKind.Joined);
                var psi = new System.Diagnostics.ProcessStartInfo(Environment.GetEnvironmentVariable("ARSOCK_MONO") ?? "mono",
                    "\"" + Util.EnvFile("ARSOCK_SESSION_CHILD_EXE") + "\" " + hub.LocalPort + " kill doomed")
                {
                    UseShellExecute = false,
                    RedirectStandardOutput = true,
                };
                using (var child = System.Diagnostics.Process.Start(psi))
                {
                    try
                    {
                        var line = child.StandardOutput.ReadLineAsync();
                        Assert.IsTrue(line.Wait(Util.Wait), "the child did not join");
                        uint peer = uint.Parse(line.Result);
                        a.WaitFor(ArSockEventKind.PeerJoined, peer);
                        Assert.AreEqual("doomed", a.S.PeerName(peer));
                        child.Kill(); // SIGKILL: no goodbye
                        a.WaitFor(ArSockEventKind.PeerStale, peer);
                        Assert.AreEqual(ArSockReason.Timeout, a.WaitFor(ArSockEventKind.PeerLeft, peer).Ev.Reason);
                        Util.Throws(ArSockStatus.NotFound, () => a.S.Send(peer, new byte[] { 1 }));
                    }
                    finally
                    {
                        if (!child.HasExited) child.Kill();
                        child.WaitForExit(Util.Wait);
                    }
                }
            }
        }

        [Test]
        public void HubShutdownDisconnectsItsSessions()
        {
            Device a = Join("shutdown");
            _hub.Dispose();
            var d = a.WaitFor(ArSockEventKind.Disconnected);
            Assert.AreEqual(ArSockReason.HubShutdown, d.Ev.Reason);
        }

        [Test]
        public void WrongTokenIsRejectedWithAuthAndTheRightOneJoins()
        {
            using (var hub = ArSockHub.Start(new ArSockHubOptions { Host = "127.0.0.1", Token = "s3cret" }))
            {
                Device bad = Open("r", hub: hub, token: "guess");
                var rej = bad.WaitFor(ArSockEventKind.Rejected);
                Assert.AreEqual(ArSockReason.Auth, rej.Ev.Reason);
                // the session is over: everything but poll, read and close says Closed
                Util.Throws(ArSockStatus.Closed, () => bad.S.Send(ArSockSession.Everyone, new byte[] { 1 }));
                Util.Throws(ArSockStatus.Closed, () => bad.S.SetState("k", new byte[] { 1 }));
                Device none = Open("r", hub: hub);
                Assert.AreEqual(ArSockReason.Auth, none.WaitFor(ArSockEventKind.Rejected).Ev.Reason);
                Device good = Open("r", hub: hub, token: "s3cret");
                good.WaitFor(ArSockEventKind.Joined);
            }
        }

        [Test]
        public void FullRoomRejectsWithRoomFull()
        {
            using (var hub = ArSockHub.Start(new ArSockHubOptions { Host = "127.0.0.1", MaxPeersPerRoom = 2 }))
            {
                Open("small", hub: hub).WaitFor(ArSockEventKind.Joined);
                Open("small", hub: hub).WaitFor(ArSockEventKind.Joined);
                var third = Open("small", hub: hub);
                Assert.AreEqual(ArSockReason.RoomFull, third.WaitFor(ArSockEventKind.Rejected).Ev.Reason);
                Open("other", hub: hub).WaitFor(ArSockEventKind.Joined); // the limit is per room
            }
        }

        [Test]
        public void PayloadIsReadableUntilTheNextPollOnly()
        {
            Device a = Join("payload");
            Device b = Join("payload");
            a.WaitFor(ArSockEventKind.PeerJoined, b.Id);
            byte[] data = Util.Pattern(100, 9);
            a.S.Send(b.Id, data);
            var events = new ArSockEvent[1];
            ArSockEvent msg = default(ArSockEvent);
            var deadline = DateTime.UtcNow.AddMilliseconds(Util.Wait);
            while (msg.Kind != ArSockEventKind.Message && DateTime.UtcNow < deadline)
                if (b.S.Poll(events, 100) == 1) msg = events[0];
            Assert.AreEqual(ArSockEventKind.Message, msg.Kind);
            var small = new byte[10];
            var e = Util.Throws(ArSockStatus.BufferTooSmall, () => b.S.Read(msg, small));
            Assert.AreEqual(100, e.RequiredLength);
            var buf = new byte[200];
            Assert.AreEqual(100, b.S.Read(msg, buf, 50, 150), "still readable after BUFFER_TOO_SMALL");
            CollectionAssert.AreEqual(data, buf.Skip(50).Take(100).ToArray());
            Assert.AreEqual(0, b.S.Poll(events, 0), "nothing else pending");
            Util.Throws(ArSockStatus.NotFound, () => b.S.Read(msg, buf));
            var bogus = msg;
            bogus.Payload = 0xDEADBEEF;
            Util.Throws(ArSockStatus.NotFound, () => b.S.Read(bogus, buf));
        }

        [Test]
        public void TryPollTakesOneEventAtATime()
        {
            Device a = Join("trypoll");
            Device b = Join("trypoll");
            a.WaitFor(ArSockEventKind.PeerJoined, b.Id);
            a.S.Send(b.Id, new byte[] { 1 });
            a.S.Send(b.Id, new byte[] { 2 });
            var got = new List<byte>();
            var deadline = DateTime.UtcNow.AddMilliseconds(Util.Wait);
            while (got.Count < 2 && DateTime.UtcNow < deadline)
            {
                ArSockEvent ev;
                if (!b.S.TryPoll(out ev)) { System.Threading.Thread.Sleep(10); continue; }
                if (ev.Kind == ArSockEventKind.Message) got.Add(b.S.Read(ev)[0]);
            }
            CollectionAssert.AreEqual(new byte[] { 1, 2 }, got);
            ArSockEvent none;
            Assert.IsFalse(b.S.TryPoll(out none));
            Assert.AreEqual(default(ArSockEvent), none);
        }

        [Test]
        public void MisuseGivesTheRightStatus()
        {
            Device a = Join("misuse");
            Util.Throws(ArSockStatus.NotFound, () => a.S.Send(9999, new byte[] { 1 }));
            Util.Throws(ArSockStatus.NotFound, () => a.S.PeerName(9999));
            Util.Throws(ArSockStatus.InvalidArgument,
                () => ArSockSession.Open("127.0.0.1", _hub.LocalPort, new string('r', 300)));
            Util.Throws(ArSockStatus.InvalidArgument, () => ArSockSession.Open("127.0.0.1", _hub.LocalPort, ""));
            Util.Throws(ArSockStatus.InvalidArgument, () => ArSockSession.Open("127.0.0.1", _hub.LocalPort, "r",
                new ArSockSessionOptions { Name = new string('n', ArSockNative.SessionMaxName + 1) }));
            using (ArSockSession.Open("127.0.0.1", _hub.LocalPort, new string('\u00e9', 32))) { } // 64 bytes of UTF-8: fine
            Util.Throws(ArSockStatus.InvalidArgument, () => a.S.SetState(new string('k', 256), new byte[] { 1 }));
            Util.Throws(ArSockStatus.InvalidArgument, () => a.S.SetState("big", new byte[ArSockNative.SessionMaxValue + 1]));
            Util.Throws(ArSockStatus.MessageTooLarge, () => a.S.Send(ArSockSession.Everyone, new byte[ArSockNative.SessionMaxMessage + 1]));
            Util.Throws(ArSockStatus.InvalidArgument, () => a.S.Send(a.Id, new byte[] { 1 })); // not to itself
            Util.Throws(ArSockStatus.InvalidArgument,
                () => ArSockHub.Start(new ArSockHubOptions { Host = "127.0.0.1", MaxPeersPerRoom = 257 }));
            Util.Throws(ArSockStatus.InvalidArgument,
                () => ArSockHub.Start(new ArSockHubOptions { Host = "127.0.0.1", ResumeGraceMs = -2 }));
            Assert.Throws<ArgumentNullException>(() => ArSockSession.Open("127.0.0.1", 1, null));
            Assert.Throws<ArgumentException>(() => a.S.GetState("a\0b"));

            // a raw handle that was closed is InvalidHandle, never a crash
            ulong h = a.S.Handle;
            a.Dispose();
            uint id;
            Assert.AreEqual((int)ArSockStatus.InvalidHandle, ArSockNative.arsock_session_peer_id(h, out id));
            Assert.Throws<ObjectDisposedException>(() => a.S.Poll(new ArSockEvent[1]));
        }

        [Test]
        public void PeerIdIsAStateErrorUntilJoined()
        {
            // a plain server accepts the connection but never answers: the session stays unjoined
            using (var server = ArSockServer.Bind("127.0.0.1", 0))
            {
                server.Listen();
                using (var s = ArSockSession.Open("127.0.0.1", server.LocalPort, "wait"))
                {
                    uint id;
                    Assert.IsFalse(s.TryGetPeerId(out id));
                    Util.Throws(ArSockStatus.State, () => GC.KeepAlive(s.PeerId));
                    Util.Throws(ArSockStatus.State, () => s.Send(ArSockSession.Everyone, new byte[] { 1 }));
                    Util.Throws(ArSockStatus.State, () => s.SetState("k", new byte[] { 1 }));
                    Assert.AreEqual(0, s.Poll(new ArSockEvent[4], 50));
                }
            }
        }

        [Test]
        public void UnreachableHubGivesOneDisconnectedNetworkThenClosed()
        {
            int port;
            using (var probe = ArSockServer.Bind("127.0.0.1", 0)) port = probe.LocalPort; // now closed
            var d = new Device(ArSockSession.Open("127.0.0.1", port, "nobody", new ArSockSessionOptions { ConnectTimeoutMs = 2000 }));
            _devices.Add(d);
            Assert.AreEqual(ArSockReason.Network, d.WaitFor(ArSockEventKind.Disconnected).Ev.Reason);
            Util.Throws(ArSockStatus.Closed, () => d.S.Send(ArSockSession.Everyone, new byte[] { 1 }));
        }
    }
}
