// Child process for AbiTests: run_tests.sh compiles this file alone (with ARSOCK_LOAD_PROBE
// defined) into LoadProbe.exe; the tests run it with LD_LIBRARY_PATH pointing at the real
// library, a fake one with another ABI version, or nothing, and check what it prints.
// In the test assembly it compiles to nothing.
#if ARSOCK_LOAD_PROBE
using System;
using ArSock;

static class LoadProbe
{
    static string Describe(Exception e)
    {
        string s = e.GetType().FullName;
        if (e is TypeInitializationException && e.InnerException != null)
        {
            e = e.InnerException;
            s += " -> " + e.GetType().FullName;
        }
        return s + ": " + e.Message;
    }

    static int Main()
    {
        int code = 0;
        try
        {
            ArSockNative.CheckAbi();
            Console.WriteLine("CheckAbi: ok " + ArSockNative.LoadedVersion());
        }
        catch (Exception e)
        {
            Console.WriteLine("CheckAbi: " + Describe(e));
            code = 3;
        }
        try
        {
            using (ArSockServer.Bind("127.0.0.1", 0)) { }
            Console.WriteLine("Bind: ok");
        }
        catch (Exception e)
        {
            Console.WriteLine("Bind: " + Describe(e));
            code = 3;
        }
        try
        {
            using (ArSockClient.Connect("127.0.0.1", 1, 0)) { }
            Console.WriteLine("Connect: ok");
        }
        catch (ArSockException e)
        {
            Console.WriteLine("Connect: ArSockException " + e.Status); // the library works: refused
        }
        catch (Exception e)
        {
            Console.WriteLine("Connect: " + Describe(e));
            code = 3;
        }
        return code;
    }
}
#endif
