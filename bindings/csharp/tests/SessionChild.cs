// Child process for SessionTests: run_tests.sh compiles this file alone (with
// ARSOCK_SESSION_CHILD defined) into SessionChild.exe. Run as `SessionChild.exe PORT ROOM NAME`
// it joins ROOM on the hub at 127.0.0.1:PORT, prints its peer id and keeps polling until it is
// killed (the tests kill it with SIGKILL to see how a vanished device is reported) or 60 s pass.
// In the test assembly it compiles to nothing.
#if ARSOCK_SESSION_CHILD
using System;
using ArSock;

static class SessionChild
{
    static int Main(string[] args)
    {
        var s = ArSockSession.Open("127.0.0.1", int.Parse(args[0]), args[1], new ArSockSessionOptions { Name = args[2] });
        var events = new ArSockEvent[16];
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            int n = s.Poll(events, 100);
            for (int i = 0; i < n; i++)
            {
                if (events[i].Kind == ArSockEventKind.Joined) Console.WriteLine(events[i].Peer);
                if (events[i].Kind == ArSockEventKind.Rejected || events[i].Kind == ArSockEventKind.Disconnected) return 2;
            }
        }
        return 1;
    }
}
#endif
