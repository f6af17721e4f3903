// Drives examples/unity/ArSockPoseSender.cs through the UnityShim (Start / Update / OnDestroy
// called by reflection, as Unity would) against a real arsock server on loopback.

using System;
using System.Reflection;
using ArSock;
using NUnit.Framework;
using UnityEngine;

namespace ArSock.Tests
{
    [TestFixture, Timeout(30000)]
    public class ExampleTests
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

        static float F(byte[] b, int off)
        {
            var le = new byte[4];
            Buffer.BlockCopy(b, off, le, 0, 4);
            if (!BitConverter.IsLittleEndian) Array.Reverse(le);
            return BitConverter.ToSingle(le, 0);
        }

        [Test]
        public void PoseSenderStreamsPosesAndPollsReplies()
        {
            Debug.Messages.Clear();
            using (var server = ArSockServer.Bind("127.0.0.1", 0))
            {
                server.Listen();
                var sender = new ArSockPoseSender();
                Set(sender, "host", "127.0.0.1");
                Set(sender, "port", server.LocalPort);
                Call(sender, "Start");
                Assert.IsTrue(sender.IsConnected, string.Join("\n", Debug.Messages.ToArray()));
                using (var peer = server.Accept(Util.Wait))
                {
                    sender.transform.position = new Vector3(1.5f, -2f, 3.25f);
                    sender.transform.rotation = new Quaternion(0.1f, 0.2f, 0.3f, 0.9f);
                    Call(sender, "Update");
                    sender.transform.position = new Vector3(4f, 5f, 6f);
                    Call(sender, "Update");

                    byte[] m1 = peer.ReceiveMessage(Util.Wait);
                    byte[] m2 = peer.ReceiveMessage(Util.Wait);
                    Assert.AreEqual(28, m1.Length);
                    Assert.AreEqual(new[] { 1.5f, -2f, 3.25f, 0.1f, 0.2f, 0.3f, 0.9f },
                        new[] { F(m1, 0), F(m1, 4), F(m1, 8), F(m1, 12), F(m1, 16), F(m1, 20), F(m1, 24) });
                    Assert.AreEqual(4f, F(m2, 0));
                    Assert.AreEqual(0.9f, F(m2, 24));
                    Assert.AreEqual(2, sender.SentFrames);
                    Assert.AreEqual(0, sender.ReceivedMessages);

                    // replies are picked up by a later Update, including one bigger than the 256-byte buffer
                    peer.SendMessage(new byte[] { 1, 2, 3 });
                    peer.SendMessage(new byte[1000]);
                    for (int i = 0; i < 500 && sender.ReceivedMessages < 2; i++)
                    {
                        Call(sender, "Update");
                        System.Threading.Thread.Sleep(10);
                    }
                    Assert.AreEqual(2, sender.ReceivedMessages);
                    Assert.AreEqual(1000, sender.LastReceivedLength);

                    Call(sender, "OnDestroy");
                    Assert.IsFalse(sender.IsConnected);
                    // drain the poses, then the peer sees the close
                    for (int i = 0; i < 1000; i++)
                    {
                        try { peer.ReceiveMessage(Util.Wait); }
                        catch (ArSockException e) { Assert.AreEqual(ArSockStatus.Closed, e.Status); break; }
                    }
                    Call(sender, "OnDestroy"); // twice is harmless
                }
                Assert.IsEmpty(Debug.Messages, string.Join("\n", Debug.Messages.ToArray()));
            }
        }

        [Test]
        public void PoseSenderLogsAndDisablesItselfWhenTheServerIsDown()
        {
            Debug.Messages.Clear();
            using (var bound = ArSockServer.Bind("127.0.0.1", 0)) // bound, not listening: refused
            {
                var sender = new ArSockPoseSender();
                Set(sender, "port", bound.LocalPort);
                Call(sender, "Start");
                Assert.IsFalse(sender.IsConnected);
                Assert.IsFalse(sender.enabled);
                Assert.AreEqual(1, Debug.Messages.Count);
                StringAssert.Contains("ConnectionRefused", Debug.Messages[0]);
                Call(sender, "Update");
                Call(sender, "OnDestroy");
            }
        }
    }
}
