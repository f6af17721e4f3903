using System;
using System.IO;
using System.Threading;
using ArSock;
using NUnit.Framework;

namespace ArSock.Tests
{
    /// <summary>A connected pair over loopback: Client (from Connect) and Peer (from Accept).</summary>
    sealed class Pair : IDisposable
    {
        public readonly ArSockServer Server;
        public readonly ArSockClient Client;
        public readonly ArSockClient Peer;

        public Pair()
        {
            Server = ArSockServer.Bind("127.0.0.1", 0);
            Server.Listen();
            Client = ArSockClient.Connect("127.0.0.1", Server.LocalPort, 5000);
            Peer = Server.Accept(5000);
        }

        public void Dispose()
        {
            if (Client != null) Client.Dispose();
            if (Peer != null) Peer.Dispose();
            Server.Dispose();
        }
    }

    static class Util
    {
        public const int Wait = 5000; // every blocking call in the tests waits at most this long

        public static byte[] Pattern(int n, int seed)
        {
            var b = new byte[n];
            uint x = (uint)seed * 2654435761u + 1;
            for (int i = 0; i < n; i++) { x = x * 1103515245u + 12345u; b[i] = (byte)(x >> 16); }
            return b;
        }

        public static ArSockException Throws(ArSockStatus expected, TestDelegate code)
        {
            var e = Assert.Throws<ArSockException>(code);
            Assert.AreEqual(expected, e.Status, "status; message: " + e.Message);
            Assert.AreEqual((int)expected, e.StatusCode);
            return e;
        }

        /// <summary>Value of environment variable `name` set by run_tests.sh (test fails if missing).</summary>
        public static string Env(string name)
        {
            string v = Environment.GetEnvironmentVariable(name);
            if (string.IsNullOrEmpty(v))
                Assert.Fail(name + " is not set: run the suite through bindings/csharp/run_tests.sh");
            return v;
        }

        public static string EnvFile(string name)
        {
            string v = Env(name);
            Assert.IsTrue(File.Exists(v), name + "=" + v + " does not exist");
            return v;
        }
    }
}
