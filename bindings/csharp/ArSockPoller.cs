// ArSockPoller.cs: the arsock poller (arsock_poller_*) for C# / Unity: wait on many servers
// and connections from one thread, e.g. once per frame in Update() with timeout 0.
//
// Compiled together with ArSock.cs (same assembly): the raw externs join ArSockNative (a
// partial class), ArSockPoller owns its handle through ArSockHandleOwner like ArSockServer
// and ArSockClient. bindings/csharp/run_tests.sh checks these externs, the POLL constants and
// the arsock_poll_event layout against include/arsock.h.
//
// Level-triggered: Wait reports every registered handle that is ready now (at most as many
// as the buffer holds; the library rotates so none starves). Reading or accepting is still
// done with the usual calls, with timeout 0.

using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;

namespace ArSock
{
    /// <summary>Event bits of the poller (ARSOCK_POLL_*).</summary>
    [Flags]
    public enum ArSockPollEvents : uint
    {
        /// <summary>Only ARSOCK_POLL_CLOSED is reported (it always is).</summary>
        None = 0,
        /// <summary>ARSOCK_POLL_IN: server: a connection can be accepted now; client: a receive would
        /// not wait (a whole message in message mode, bytes in raw mode, or end of stream).</summary>
        In = 1,
        /// <summary>ARSOCK_POLL_OUT: client: a send would not wait (send queue below its limit).</summary>
        Out = 2,
        /// <summary>ARSOCK_POLL_CLOSED: client: peer closed, reset or broke the protocol; always reported.</summary>
        Closed = 4,
    }

    /// <summary>struct arsock_poll_event: one ready handle reported by arsock_poller_wait (blittable).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct ArSockPollEvent
    {
        /// <summary>arsock_handle handle: the registered server or connection.</summary>
        public ulong Handle;
        /// <summary>uint32_t events: ARSOCK_POLL_* bits that hold now.</summary>
        public uint Events;
        /// <summary>uint32_t reserved: 0.</summary>
        public uint Reserved;

        /// <summary>Events as flags.</summary>
        public ArSockPollEvents Flags { get { return (ArSockPollEvents)Events; } }
        public bool IsIn { get { return (Events & ArSockNative.PollIn) != 0; } }
        public bool IsOut { get { return (Events & ArSockNative.PollOut) != 0; } }
        public bool IsClosed { get { return (Events & ArSockNative.PollClosed) != 0; } }
    }

    public static unsafe partial class ArSockNative
    {
        // ---- poller constants of include/arsock.h ----
        /// <summary>ARSOCK_POLL_IN (see ArSockPollEvents.In).</summary>
        public const uint PollIn = 1;
        /// <summary>ARSOCK_POLL_OUT (see ArSockPollEvents.Out).</summary>
        public const uint PollOut = 2;
        /// <summary>ARSOCK_POLL_CLOSED (see ArSockPollEvents.Closed).</summary>
        public const uint PollClosed = 4;

        // ---- poller functions of include/arsock.h ----
        [DllImport(LibraryName, EntryPoint = "arsock_poller_new", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int arsock_poller_new(out ulong out_poller);

        [DllImport(LibraryName, EntryPoint = "arsock_poller_add", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int arsock_poller_add(ulong poller, ulong h, uint events);

        [DllImport(LibraryName, EntryPoint = "arsock_poller_modify", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int arsock_poller_modify(ulong poller, ulong h, uint events);

        [DllImport(LibraryName, EntryPoint = "arsock_poller_remove", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int arsock_poller_remove(ulong poller, ulong h);

        [DllImport(LibraryName, EntryPoint = "arsock_poller_wait", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int arsock_poller_wait(ulong poller, ArSockPollEvent* @out, UIntPtr cap, int timeout_ms, out UIntPtr out_n);
    }

    /// <summary>
    /// Waits on many ArSockServer / ArSockClient objects at once (arsock_poller_*). Owns its handle:
    /// Dispose() (or the finalizer) closes the poller and wakes a Wait blocked in another thread,
    /// which then throws ArSockException(Closed). One thread waits at a time (a second concurrent
    /// Wait throws ArSockException(State)). A server or connection is in at most one poller;
    /// disposing it removes it. The poller keeps a reference to every object added (so
    /// TryGetOwner can map an event back to it) until Remove or Dispose.
    /// </summary>
    public sealed unsafe class ArSockPoller : ArSockHandleOwner
    {
        static ArSockPoller() { ArSockNative.CheckAbi(); }

        readonly Dictionary<ulong, ArSockHandleOwner> _owners = new Dictionary<ulong, ArSockHandleOwner>();

        /// <summary>arsock_poller_new: an empty poller.</summary>
        public ArSockPoller() : base(Create()) { }

        static ulong Create()
        {
            ulong h;
            int st = ArSockNative.arsock_poller_new(out h);
            if (st != 0) throw ArSockException.FromLastError(st, "arsock_poller_new", -1);
            return h;
        }

        /// <summary>arsock_poller_add: watch target for events (None: only Closed). Throws
        /// ArSockException State if target is already in this or another poller (use Modify),
        /// InvalidArgument for unknown bits, InvalidHandle if target is closed.</summary>
        public void Add(ArSockHandleOwner target, ArSockPollEvents events)
        {
            if (target == null) throw new ArgumentNullException("target");
            ulong h = target.Live();
            int st = ArSockNative.arsock_poller_add(Live(), h, (uint)events);
            if (st != 0) throw ArSockException.FromLastError(st, "arsock_poller_add", -1);
            lock (_owners) _owners[h] = target;
            GC.KeepAlive(this);
        }

        /// <summary>arsock_poller_add for a raw handle (no owner object is remembered).</summary>
        public void Add(ulong handle, ArSockPollEvents events)
        {
            int st = ArSockNative.arsock_poller_add(Live(), handle, (uint)events);
            if (st != 0) throw ArSockException.FromLastError(st, "arsock_poller_add", -1);
            GC.KeepAlive(this);
        }

        /// <summary>arsock_poller_modify: replace the events target is watched for; wakes a Wait
        /// in another thread if target is ready for the new events.</summary>
        public void Modify(ArSockHandleOwner target, ArSockPollEvents events)
        {
            if (target == null) throw new ArgumentNullException("target");
            Modify(target.Live(), events);
        }

        /// <summary>arsock_poller_modify for a raw handle.</summary>
        public void Modify(ulong handle, ArSockPollEvents events)
        {
            int st = ArSockNative.arsock_poller_modify(Live(), handle, (uint)events);
            if (st != 0) throw ArSockException.FromLastError(st, "arsock_poller_modify", -1);
            GC.KeepAlive(this);
        }

        /// <summary>arsock_poller_remove: stop watching target.</summary>
        public void Remove(ArSockHandleOwner target)
        {
            if (target == null) throw new ArgumentNullException("target");
            Remove(target.Live());
        }

        /// <summary>arsock_poller_remove for a raw handle.</summary>
        public void Remove(ulong handle)
        {
            int st = ArSockNative.arsock_poller_remove(Live(), handle);
            lock (_owners) _owners.Remove(handle);
            if (st != 0) throw ArSockException.FromLastError(st, "arsock_poller_remove", -1);
            GC.KeepAlive(this);
        }

        /// <summary>The object added for an event's handle (false for raw handles or after Remove).</summary>
        public bool TryGetOwner(ulong handle, out ArSockHandleOwner owner)
        {
            lock (_owners) return _owners.TryGetValue(handle, out owner);
        }

        /// <summary>arsock_poller_wait: waits at most timeoutMs (-1 forever, 0 poll) until a watched
        /// handle is ready, then fills events[0..n) and returns n (&gt;= 1); returns 0 when none became
        /// ready in time (entries are then left as they were). Throws ArSockException(Closed) when the
        /// poller is disposed, also from another thread while this call waits.</summary>
        public int Wait(ArSockPollEvent[] events, int timeoutMs)
        {
            if (events == null) throw new ArgumentNullException("events");
            if (events.Length == 0) throw new ArgumentException("must have room for at least one event", "events");
            fixed (ArSockPollEvent* p = events) return WaitCore(p, events.Length, timeoutMs);
        }

#if !ARSOCK_NO_SPAN
        /// <summary>Like Wait(ArSockPollEvent[], int) into a Span (e.g. stackalloc): allocates nothing,
        /// for a per-frame Update().</summary>
        public int Wait(Span<ArSockPollEvent> events, int timeoutMs)
        {
            if (events.Length == 0) throw new ArgumentException("must have room for at least one event", "events");
            fixed (ArSockPollEvent* p = &MemoryMarshal.GetReference(events)) return WaitCore(p, events.Length, timeoutMs);
        }
#endif

        int WaitCore(ArSockPollEvent* p, int cap, int timeoutMs)
        {
            UIntPtr n;
            int st = ArSockNative.arsock_poller_wait(Live(), p, (UIntPtr)(uint)cap, timeoutMs, out n);
            GC.KeepAlive(this);
            if (st == (int)ArSockStatus.Timeout) return 0;
            if (st != 0) throw ArSockException.FromLastError(st, "arsock_poller_wait", -1);
            ulong count = n.ToUInt64();
            if (count == 0 || count > (ulong)cap)
                throw new InvalidOperationException("arsock_poller_wait returned " + count + " events for " + cap + " entries");
            return (int)count;
        }
    }
}
