// Drives examples/unity/ArSockRoomSync.cs through the UnityShim (Start / Update / OnDestroy
// called by reflection, as Unity would): two devices in a room on a real hub on loopback.

using System;
using System.Reflection;
using ArSock;
using NUnit.Framework;
using UnityEngine;

namespace ArSock.Tests
{
    [TestFixture, Timeout(30000)]
    public class RoomSyncExampleTests
    {
        static void Call(object o, string method)
        {
            MethodInfo m = o.GetType().GetMethod(method, BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public);
            Assert.IsNotNull(m, method);
            m.Invoke(o, null);
        }

        static void Set(object o, string field, object value)
        {
            FieldInfo f = o.GetType().GetField(field, BindingFlags.Instance | BindingFlags.NonPublic);
            Assert.IsNotNull(f, field);
            Assert.IsTrue(f.IsDefined(typeof(SerializeField), false), field + " must be [SerializeField]");
            f.SetValue(o, value);
        }

        static ArSockRoomSync Device(int port, string name)
        {
            var d = new ArSockRoomSync();
            Set(d, "host", "127.0.0.1");
            Set(d, "port", port);
            Set(d, "room", "unity");
            Set(d, "displayName", name);
            Call(d, "Start");
            return d;
        }

        /// <summary>Runs Update on every device (a frame, 10 ms apart) until done() or Util.Wait ms.</summary>
        static void Frames(Func<bool> done, string what, params ArSockRoomSync[] devices)
        {
            var deadline = DateTime.UtcNow.AddMilliseconds(Util.Wait);
            while (!done())
            {
                if (DateTime.UtcNow > deadline) Assert.Fail("not within " + Util.Wait + " ms: " + what + "\n" + string.Join("\n", Debug.Messages.ToArray()));
                foreach (var d in devices) Call(d, "Update");
                System.Threading.Thread.Sleep(10);
            }
        }

        [Test]
        public void TwoDevicesSeeEachOthersNamesAndPosesAndDepartures()
        {
            Debug.Messages.Clear();
            using (var hub = ArSockHub.Start("127.0.0.1", 0))
            {
                var a = Device(hub.LocalPort, "alice");
                var b = Device(hub.LocalPort, "bob");
                try
                {
                    Frames(() => a.IsJoined && b.IsJoined && a.Peers.ContainsKey(b.PeerId) && b.Peers.ContainsKey(a.PeerId),
                           "both joined and see each other", a, b);
                    Assert.AreEqual("bob", a.Peers[b.PeerId].Name);
                    Assert.AreEqual("alice", b.Peers[a.PeerId].Name);

                    a.transform.position = new Vector3(1.5f, -2f, 3.25f);
                    a.transform.rotation = new Quaternion(0.1f, 0.2f, 0.3f, 0.9f);
                    Frames(() => b.Peers[a.PeerId].HasPose && b.Peers[a.PeerId].Position.x == 1.5f, "b has a's pose", a, b);
                    var p = b.Peers[a.PeerId];
                    Assert.AreEqual(-2f, p.Position.y);
                    Assert.AreEqual(3.25f, p.Position.z);
                    Assert.AreEqual(0.3f, p.Rotation.z);
                    Assert.AreEqual(0.9f, p.Rotation.w);
                    Assert.IsFalse(p.Stale);
                    Assert.AreEqual(0, a.SkippedFrames + b.SkippedFrames);

                    uint aId = a.PeerId;
                    Call(a, "OnDestroy");
                    Frames(() => !b.Peers.ContainsKey(aId), "b sees a leave", b);
                    Assert.AreEqual(0, b.Peers.Count);
                }
                finally
                {
                    Call(a, "OnDestroy");
                    Call(b, "OnDestroy");
                }
            }
        }

        [Test]
        public void RejectedDeviceDisablesItself()
        {
            Debug.Messages.Clear();
            using (var hub = ArSockHub.Start(new ArSockHubOptions { Host = "127.0.0.1", Token = "secret" }))
            {
                var d = Device(hub.LocalPort, "intruder");
                try
                {
                    Frames(() => !d.enabled, "the device gives up", d);
                    Assert.IsFalse(d.IsJoined);
                    StringAssert.Contains("Rejected (Auth)", string.Join("\n", Debug.Messages.ToArray()));
                }
                finally
                {
                    Call(d, "OnDestroy");
                }
            }
        }
    }
}
