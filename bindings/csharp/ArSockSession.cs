// ArSockSession.cs: C# / Unity binding of arsock sessions (hubs, rooms, presence, relay,
// shared state). Compile together with ArSock.cs (same rules: unsafe code allowed,
// ARSOCK_NO_SPAN for profiles without System.Span).
//
//   * ArSockNative (partial): the session externs, constants and the blittable structs
//     arsock_hub_config (ArSockHubConfig), arsock_session_config (ArSockSessionConfig) and
//     arsock_event (ArSockEvent), checked against include/arsock.h by the test suite.
//   * ArSockHub: a hub listening for sessions (owns its handle; Dispose stops it and every
//     peer sees DISCONNECTED(HubShutdown)).
//   * ArSockSession: one device in one room. Poll(events, 0) once per frame returns the
//     events since the last call without allocating; Read copies a MESSAGE's bytes or a
//     STATE_CHANGED key out of the library; Send / SetState / GetState / DeleteState.
//
// Typical Update():
//     int n = session.Poll(events, 0);            // ArSockEvent[] events = new ArSockEvent[64]
//     for (int i = 0; i < n; i++) {
//         switch (events[i].Kind) {
//             case ArSockEventKind.Message: int len = session.Read(events[i], buffer); ...; break;
//             case ArSockEventKind.PeerLeft: ...; break;
//         }
//     }

using System;
using System.Runtime.InteropServices;
using System.Text;

namespace ArSock
{
    /// <summary>arsock_event.kind: ARSOCK_EVENT_*.</summary>
    public enum ArSockEventKind : uint
    {
        /// <summary>This session joined its room; Peer is its own peer id.</summary>
        Joined = 1,
        /// <summary>The hub refused the session (Reason says why); the session is over.</summary>
        Rejected = 2,
        /// <summary>Peer is in the room (on joining: one per peer already there).</summary>
        PeerJoined = 3,
        /// <summary>Peer has not been heard for a while (or its connection broke); it may resume.</summary>
        PeerStale = 4,
        /// <summary>A stale peer is heard again.</summary>
        PeerResumed = 5,
        /// <summary>Peer left the room (Reason: RemoteClose, Timeout, ...).</summary>
        PeerLeft = 6,
        /// <summary>A reliable message from Peer: Payload/Size, read it with ArSockSession.Read.</summary>
        Message = 7,
        /// <summary>A shared-state key changed (Payload is the key; IsStateDeleted when removed).</summary>
        StateChanged = 8,
        /// <summary>The connection to the hub is gone (Reason); before JOINED this ends the session.</summary>
        Disconnected = 9,
        /// <summary>The session resumed after a broken connection; Size = messages the hub had to drop.</summary>
        Reconnected = 10,
        /// <summary>ARSOCK_EVENT_BLOB_AVAILABLE (reserved by the header for blobs).</summary>
        BlobAvailable = 11,
    }

    /// <summary>arsock_event.reason: ARSOCK_REASON_*; ArSockNative.ReasonAppMin..ReasonAppMax
    /// (1000-1999) are the application's own.</summary>
    public enum ArSockReason
    {
        None = 0,
        LocalClose = 1,
        RemoteClose = 2,
        Timeout = 3,
        Kicked = 4,
        RoomFull = 5,
        Version = 6,
        Auth = 7,
        Protocol = 8,
        Network = 9,
        HubShutdown = 10,
        SlowPeer = 11,
    }

    /// <summary>struct arsock_event: one event from arsock_session_poll. Blittable (40 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct ArSockEvent
    {
        /// <summary>uint32_t kind: ARSOCK_EVENT_*.</summary>
        public ArSockEventKind Kind;
        /// <summary>uint32_t peer: the peer concerned (sender of a MESSAGE); 0 = the hub.</summary>
        public uint Peer;
        /// <summary>int32_t reason: for Rejected, PeerLeft and Disconnected.</summary>
        public ArSockReason Reason;
        /// <summary>uint32_t flags: ArSockNative.StateDeleted, DisconnectedResuming, MessageDirect.</summary>
        public uint Flags;
        /// <summary>uint64_t payload: id for ArSockSession.Read (Message bytes, StateChanged key); 0 if none.</summary>
        public ulong Payload;
        /// <summary>uint64_t size: payload size in bytes (Reconnected: messages the hub dropped).</summary>
        public ulong Size;
        /// <summary>int64_t time_us: hub time the event was produced, in microseconds.</summary>
        public long TimeUs;

        /// <summary>A StateChanged event for a key that was deleted.</summary>
        public bool IsStateDeleted { get { return (Flags & ArSockNative.StateDeleted) != 0; } }
        /// <summary>A Disconnected event after which the session reconnects on its own
        /// (Reconnected or a final Disconnected follows).</summary>
        public bool IsResuming { get { return (Flags & ArSockNative.DisconnectedResuming) != 0; } }
        /// <summary>A Message sent to this peer alone (not to everyone).</summary>
        public bool IsDirect { get { return (Flags & ArSockNative.MessageDirect) != 0; } }

        public override string ToString()
        {
            return Kind + "(peer " + Peer + (Reason != ArSockReason.None ? ", " + Reason : "") +
                   (Payload != 0 ? ", payload " + Payload + ", " + Size + " bytes" : "") + ")";
        }
    }

    /// <summary>struct arsock_hub_config (raw layer). Strings are pointers to NUL-terminated UTF-8
    /// that the caller keeps alive; ArSockHub.Start(ArSockHubOptions) does that for you.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct ArSockHubConfig
    {
        public uint StructSize;
        public IntPtr Host;
        public ushort Port;
        public uint MaxPeersPerRoom;
        public int HeartbeatMs;
        public int StaleAfterMs;
        public int ResumeGraceMs;
        public IntPtr Token;
    }

    /// <summary>struct arsock_session_config (raw layer); see ArSockSessionOptions.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct ArSockSessionConfig
    {
        public uint StructSize;
        public IntPtr Token;
        public IntPtr Name;
        public int ConnectTimeoutMs;
    }

    public static unsafe partial class ArSockNative
    {
        // ---- session constants of include/arsock.h ----
        public const uint HubDefaultMaxPeers = 32;
        public const uint HubMaxPeers = 256;
        public const int HubDefaultHeartbeatMs = 500;
        public const int HubDefaultStaleAfterMs = 2500;
        public const int HubDefaultResumeGraceMs = 30000;
        public const uint EventJoined = 1;
        public const uint EventRejected = 2;
        public const uint EventPeerJoined = 3;
        public const uint EventPeerStale = 4;
        public const uint EventPeerResumed = 5;
        public const uint EventPeerLeft = 6;
        public const uint EventMessage = 7;
        public const uint EventStateChanged = 8;
        public const uint EventDisconnected = 9;
        public const uint EventReconnected = 10;
        public const uint EventBlobAvailable = 11;
        public const int ReasonNone = 0;
        public const int ReasonLocalClose = 1;
        public const int ReasonRemoteClose = 2;
        public const int ReasonTimeout = 3;
        public const int ReasonKicked = 4;
        public const int ReasonRoomFull = 5;
        public const int ReasonVersion = 6;
        public const int ReasonAuth = 7;
        public const int ReasonProtocol = 8;
        public const int ReasonNetwork = 9;
        public const int ReasonHubShutdown = 10;
        public const int ReasonSlowPeer = 11;
        /// <summary>First reason value reserved for applications.</summary>
        public const int ReasonAppMin = 1000;
        /// <summary>Last reason value reserved for applications.</summary>
        public const int ReasonAppMax = 1999;
        /// <summary>arsock_event.flags bit of a StateChanged event whose key was deleted.</summary>
        public const uint StateDeleted = 1;
        /// <summary>arsock_event.flags bit of a Disconnected event: the session is reconnecting.</summary>
        public const uint DisconnectedResuming = 2;
        /// <summary>arsock_event.flags bit of a Message sent to this peer alone.</summary>
        public const uint MessageDirect = 4;
        /// <summary>Largest reliable message (ArSockSession.Send): 256 KiB.</summary>
        public const int SessionMaxMessage = 256 * 1024;
        /// <summary>Largest state value: 64 KiB.</summary>
        public const int SessionMaxValue = 64 * 1024;
        /// <summary>Longest state key: 255 bytes of UTF-8.</summary>
        public const int SessionMaxKey = 255;
        /// <summary>Most keys in a room's state.</summary>
        public const int SessionMaxKeys = 4096;
        /// <summary>Longest room name: 64 bytes of UTF-8.</summary>
        public const int SessionMaxRoom = 64;
        /// <summary>Longest peer name: 64 bytes of UTF-8.</summary>
        public const int SessionMaxName = 64;
        /// <summary>Bytes of sends and state writes a session keeps until the hub acknowledges them.</summary>
        public const int SessionQueueLimit = 1024 * 1024;

        // ---- session functions of include/arsock.h ----
        [DllImport(LibraryName, EntryPoint = "arsock_hub_config_init", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern void arsock_hub_config_init(ArSockHubConfig* cfg);

        [DllImport(LibraryName, EntryPoint = "arsock_hub_start", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int arsock_hub_start(ArSockHubConfig* cfg, out ulong out_hub);

        [DllImport(LibraryName, EntryPoint = "arsock_hub_local_port", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int arsock_hub_local_port(ulong hub, out ushort out_port);

        [DllImport(LibraryName, EntryPoint = "arsock_session_config_init", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern void arsock_session_config_init(ArSockSessionConfig* cfg);

        [DllImport(LibraryName, EntryPoint = "arsock_session_open", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int arsock_session_open(byte* host, ushort port, byte* room, ArSockSessionConfig* cfg, out ulong out_session);

        [DllImport(LibraryName, EntryPoint = "arsock_session_poll", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int arsock_session_poll(ulong s, ArSockEvent* @out, UIntPtr cap, int timeout_ms, out UIntPtr out_n);

        [DllImport(LibraryName, EntryPoint = "arsock_session_read", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int arsock_session_read(ulong s, ulong payload, byte* buf, UIntPtr cap, out UIntPtr out_len);

        [DllImport(LibraryName, EntryPoint = "arsock_session_send", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int arsock_session_send(ulong s, uint to_peer, byte* data, UIntPtr len);

        [DllImport(LibraryName, EntryPoint = "arsock_session_set_state", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int arsock_session_set_state(ulong s, byte* key, byte* value, UIntPtr len);

        [DllImport(LibraryName, EntryPoint = "arsock_session_get_state", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int arsock_session_get_state(ulong s, byte* key, byte* buf, UIntPtr cap, out UIntPtr out_len);

        [DllImport(LibraryName, EntryPoint = "arsock_session_delete_state", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int arsock_session_delete_state(ulong s, byte* key);

        [DllImport(LibraryName, EntryPoint = "arsock_session_peer_id", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int arsock_session_peer_id(ulong s, out uint out_peer);

        [DllImport(LibraryName, EntryPoint = "arsock_session_peer_name", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int arsock_session_peer_name(ulong s, uint peer, byte* buf, UIntPtr cap, out UIntPtr out_len);

        /// <summary>NUL-terminated UTF-8 of s written into dst (capacity cap), or -1 if it does not fit.
        /// Lets hot paths (state keys) avoid allocating.</summary>
        internal static int EncodeUtf8Z(string s, string paramName, byte* dst, int cap)
        {
            if (s == null) throw new ArgumentNullException(paramName);
            if (s.IndexOf('\0') >= 0) throw new ArgumentException("must not contain NUL characters", paramName);
            if (s.Length * 3 + 1 > cap) return -1; // UTF-8 needs at most 3 bytes per UTF-16 unit
            int n;
            fixed (char* c = s) n = Encoding.UTF8.GetBytes(c, s.Length, dst, cap - 1);
            dst[n] = 0;
            return n;
        }
    }

    /// <summary>Settings of ArSockHub.Start. Zero / null fields mean the library's defaults.</summary>
    public sealed class ArSockHubOptions
    {
        /// <summary>Bind address; null = "0.0.0.0" (every IPv4 interface).</summary>
        public string Host;
        /// <summary>TCP port; 0 = any free port (read it back from ArSockHub.LocalPort).</summary>
        public int Port;
        /// <summary>Most peers in one room (1..256); 0 = 32.</summary>
        public int MaxPeersPerRoom;
        /// <summary>Heartbeat interval on an idle link; 0 = 500 ms.</summary>
        public int HeartbeatMs;
        /// <summary>Silence after which a peer is announced stale; 0 = 2500 ms.</summary>
        public int StaleAfterMs;
        /// <summary>How long a vanished peer may resume; 0 = 30000 ms; -1 = no grace (leaves at once).</summary>
        public int ResumeGraceMs;
        /// <summary>Sessions must present this token (rejected with ArSockReason.Auth otherwise); null = no auth.</summary>
        public string Token;
    }

    /// <summary>Settings of ArSockSession.Open. Zero / null fields mean the library's defaults.</summary>
    public sealed class ArSockSessionOptions
    {
        /// <summary>The hub's token; null = none.</summary>
        public string Token;
        /// <summary>Name shown to the other peers (at most 64 bytes of UTF-8); null = "".</summary>
        public string Name;
        /// <summary>How long the first connection may take; 0 = 5000 ms.</summary>
        public int ConnectTimeoutMs;
    }

    /// <summary>
    /// A session hub: rooms, presence, reliable relay and shared state, served on the library's
    /// I/O thread. Owns its handle: Dispose() (or the finalizer) stops it; every connected peer
    /// then sees DISCONNECTED(HubShutdown). Thread-safe like the C API.
    /// </summary>
    public sealed unsafe class ArSockHub : ArSockHandleOwner
    {
        static ArSockHub() { ArSockNative.CheckAbi(); }

        ArSockHub(ulong handle) : base(handle) { }

        /// <summary>The library's default hub settings (arsock_hub_config_init).</summary>
        public static ArSockHubConfig DefaultConfig()
        {
            ArSockHubConfig cfg;
            ArSockNative.arsock_hub_config_init(&cfg);
            return cfg;
        }

        /// <summary>arsock_hub_start on host:port with every other setting at its default.</summary>
        public static ArSockHub Start(string host, int port)
        {
            return Start(new ArSockHubOptions { Host = host, Port = port });
        }

        /// <summary>arsock_hub_start: the hub is listening when this returns. options null = all defaults
        /// (0.0.0.0, any free port). Throws ArSockException (InvalidArgument for out-of-range settings,
        /// AddressInUse, Address, ...).</summary>
        public static ArSockHub Start(ArSockHubOptions options)
        {
            if (options == null) options = new ArSockHubOptions();
            ushort port = ArSockNative.ToPort(options.Port);
            if (options.MaxPeersPerRoom < 0) throw new ArgumentOutOfRangeException("options", "MaxPeersPerRoom must not be negative");
            byte[] host = options.Host == null ? null : ArSockNative.ToUtf8Z(options.Host, "options.Host");
            byte[] token = options.Token == null ? null : ArSockNative.ToUtf8Z(options.Token, "options.Token");
            // start from the documented defaults; a zero option keeps the default
            ArSockHubConfig cfg = DefaultConfig();
            cfg.Port = port;
            if (options.MaxPeersPerRoom != 0) cfg.MaxPeersPerRoom = (uint)options.MaxPeersPerRoom;
            if (options.HeartbeatMs != 0) cfg.HeartbeatMs = options.HeartbeatMs;
            if (options.StaleAfterMs != 0) cfg.StaleAfterMs = options.StaleAfterMs;
            if (options.ResumeGraceMs != 0) cfg.ResumeGraceMs = options.ResumeGraceMs;
            ulong handle;
            int st;
            fixed (byte* h = host)
            fixed (byte* t = token)
            {
                cfg.Host = (IntPtr)h;
                cfg.Token = (IntPtr)t;
                st = ArSockNative.arsock_hub_start(&cfg, out handle);
            }
            if (st != 0) throw ArSockException.FromLastError(st, "arsock_hub_start", -1);
            return new ArSockHub(handle);
        }

        /// <summary>Takes ownership of a hub handle obtained from the raw layer.</summary>
        public static ArSockHub FromHandle(ulong handle)
        {
            if (handle == 0) throw new ArgumentException("0 is never a valid handle", "handle");
            return new ArSockHub(handle);
        }

        /// <summary>arsock_hub_local_port: the port the hub listens on (the chosen one after port 0).</summary>
        public int LocalPort
        {
            get
            {
                ushort port;
                int st = ArSockNative.arsock_hub_local_port(Live(), out port);
                if (st != 0) throw ArSockException.FromLastError(st, "arsock_hub_local_port", -1);
                GC.KeepAlive(this);
                return port;
            }
        }
    }

    /// <summary>
    /// One device in one room of a hub (arsock_session_open). Open returns at once; JOINED (or
    /// REJECTED / DISCONNECTED) arrives through Poll. A broken connection is resumed on its own
    /// (PeerStale / Reconnected events). Owns its handle: Dispose() leaves the room (the others see
    /// PEER_LEFT(RemoteClose)). Every method may be called from any thread; failures throw
    /// ArSockException (Status NotFound for an unknown peer, key or payload, Closed once the session
    /// is over, State before JOINED, WouldBlock when the send queue is full, ...).
    /// </summary>
    public sealed unsafe partial class ArSockSession : ArSockHandleOwner
    {
        static ArSockSession() { ArSockNative.CheckAbi(); }

        /// <summary>to_peer value of Send that reaches every other peer in the room.</summary>
        public const uint Everyone = 0;

        const int KeyStack = 1024; // keys are at most 255 bytes; this encodes them without allocating

        ArSockSession(ulong handle) : base(handle) { }

        /// <summary>arsock_session_open: starts joining room (1-64 bytes of UTF-8) at host:port and returns
        /// at once. options null = defaults. Throws ArSockException(InvalidArgument) for a bad room name
        /// or options.</summary>
        public static ArSockSession Open(string host, int port, string room, ArSockSessionOptions options = null)
        {
            byte[] h = ArSockNative.ToUtf8Z(host, "host");
            byte[] r = ArSockNative.ToUtf8Z(room, "room");
            ushort p = ArSockNative.ToPort(port);
            byte[] token = options == null || options.Token == null ? null : ArSockNative.ToUtf8Z(options.Token, "options.Token");
            byte[] name = options == null || options.Name == null ? null : ArSockNative.ToUtf8Z(options.Name, "options.Name");
            ArSockSessionConfig cfg;
            ArSockNative.arsock_session_config_init(&cfg);
            if (options != null && options.ConnectTimeoutMs != 0) cfg.ConnectTimeoutMs = options.ConnectTimeoutMs;
            ulong handle;
            int st;
            fixed (byte* hp = h)
            fixed (byte* rp = r)
            fixed (byte* tp = token)
            fixed (byte* np = name)
            {
                cfg.Token = (IntPtr)tp;
                cfg.Name = (IntPtr)np;
                st = ArSockNative.arsock_session_open(hp, p, rp, &cfg, out handle);
            }
            if (st != 0) throw ArSockException.FromLastError(st, "arsock_session_open", -1);
            return new ArSockSession(handle);
        }

        /// <summary>Takes ownership of a session handle obtained from the raw layer.</summary>
        public static ArSockSession FromHandle(ulong handle)
        {
            if (handle == 0) throw new ArgumentException("0 is never a valid handle", "handle");
            return new ArSockSession(handle);
        }

        static void Fail(int st, string function, long needed = -1) { throw ArSockException.FromLastError(st, function, needed); }

        // ------------------------------------------------------------------ poll

        /// <summary>arsock_session_poll into events[offset..offset+count): waits at most timeoutMs
        /// (0 = just look, -1 = forever) for the first event and returns how many were written, 0 when
        /// none came in time. The payloads of these events stay readable (Read) until the next Poll.
        /// Allocation-free.</summary>
        public int Poll(ArSockEvent[] events, int offset, int count, int timeoutMs = 0)
        {
            if (events == null) throw new ArgumentNullException("events");
            if (offset < 0 || offset > events.Length) throw new ArgumentOutOfRangeException("offset");
            if (count < 0 || count > events.Length - offset) throw new ArgumentOutOfRangeException("count");
            fixed (ArSockEvent* p = events) return PollCore(p + offset, count, timeoutMs);
        }

        public int Poll(ArSockEvent[] events, int timeoutMs = 0)
        {
            if (events == null) throw new ArgumentNullException("events");
            return Poll(events, 0, events.Length, timeoutMs);
        }

        /// <summary>Takes one event if one is there (timeout 0): the <c>while (s.TryPoll(out e))</c> loop.
        /// Each call ends the readability of the previous call's payload, so Read it first.</summary>
        public bool TryPoll(out ArSockEvent ev)
        {
            ArSockEvent e;
            int n = PollCore(&e, 1, 0);
            ev = n == 1 ? e : default(ArSockEvent);
            return n == 1;
        }

        int PollCore(ArSockEvent* p, int cap, int timeoutMs)
        {
            if (cap == 0) throw new ArgumentException("must have room for at least one event", "events");
            UIntPtr n;
            int st = ArSockNative.arsock_session_poll(Live(), p, (UIntPtr)(uint)cap, timeoutMs, out n);
            GC.KeepAlive(this);
            if (st == (int)ArSockStatus.Timeout) return 0;
            if (st != 0) Fail(st, "arsock_session_poll");
            ulong c = n.ToUInt64();
            if (c > (ulong)cap) throw new InvalidOperationException("arsock_session_poll returned " + c + " events for " + cap + " entries");
            return (int)c;
        }

        // ------------------------------------------------------------------ read

        /// <summary>arsock_session_read: copies the payload of ev (a Message's bytes, a StateChanged key)
        /// from the last Poll into buffer[offset..]; returns its length. Throws ArSockException
        /// BufferTooSmall (RequiredLength set; still readable) or NotFound (not from the last Poll).</summary>
        public int Read(ArSockEvent ev, byte[] buffer, int offset, int count)
        {
            ArSockNative.CheckRange(buffer, offset, count);
            fixed (byte* p = buffer) return ReadCore(ev.Payload, p + offset, count);
        }

        public int Read(ArSockEvent ev, byte[] buffer)
        {
            if (buffer == null) throw new ArgumentNullException("buffer");
            return Read(ev, buffer, 0, buffer.Length);
        }

        /// <summary>The payload of ev as a new array of exactly its size.</summary>
        public byte[] Read(ArSockEvent ev)
        {
            // BlobAvailable: the payload is the key (≤ 255 bytes); Size is the blob's size.
            ulong size = ev.Kind == ArSockEventKind.BlobAvailable ? 255 : ev.Size;
            if (size > MaxArrayLength) throw new InvalidOperationException("payload of " + size + " bytes does not fit in a managed array");
            byte[] buf = size == 0 ? Empty : new byte[size];
            int n;
            fixed (byte* p = buf) n = ReadCore(ev.Payload, p, buf.Length);
            if (n == buf.Length) return buf;
            var exact = new byte[n];
            Buffer.BlockCopy(buf, 0, exact, 0, n);
            return exact;
        }

        /// <summary>The payload of ev decoded as UTF-8 (a StateChanged key, a text message).</summary>
        public string ReadString(ArSockEvent ev)
        {
            byte[] b = Read(ev);
            return Encoding.UTF8.GetString(b, 0, b.Length);
        }

        int ReadCore(ulong payload, byte* p, int cap)
        {
            UIntPtr n;
            int st = ArSockNative.arsock_session_read(Live(), payload, cap == 0 ? null : p, (UIntPtr)(uint)cap, out n);
            GC.KeepAlive(this);
            if (st == (int)ArSockStatus.BufferTooSmall) Fail(st, "arsock_session_read", (long)n.ToUInt64());
            if (st != 0) Fail(st, "arsock_session_read");
            return (int)n.ToUInt64();
        }

        // ------------------------------------------------------------------ send

        /// <summary>arsock_session_send: one reliable, ordered message to toPeer (Everyone = every other
        /// peer in the room). Throws NotFound for a peer not in the room, WouldBlock when the queue is
        /// full (see TrySend), State before JOINED, Closed once the session is over.</summary>
        public void Send(uint toPeer, byte[] data, int offset, int count)
        {
            ArSockNative.CheckRange(data, offset, count);
            int st;
            fixed (byte* p = data) st = SendCore(toPeer, p + offset, count);
            if (st != 0) Fail(st, "arsock_session_send");
        }

        public void Send(uint toPeer, byte[] data)
        {
            if (data == null) throw new ArgumentNullException("data");
            Send(toPeer, data, 0, data.Length);
        }

        /// <summary>Like Send, but returns false instead of throwing when the queue is full (WouldBlock).</summary>
        public bool TrySend(uint toPeer, byte[] data, int offset, int count)
        {
            ArSockNative.CheckRange(data, offset, count);
            int st;
            fixed (byte* p = data) st = SendCore(toPeer, p + offset, count);
            return SendResult(st);
        }

        int SendCore(uint toPeer, byte* p, int count)
        {
            int st = ArSockNative.arsock_session_send(Live(), toPeer, count == 0 ? null : p, (UIntPtr)(uint)count);
            GC.KeepAlive(this);
            return st;
        }

        static bool SendResult(int st)
        {
            if (st == 0) return true;
            if (st == (int)ArSockStatus.WouldBlock) return false;
            Fail(st, "arsock_session_send");
            return false;
        }

        // ------------------------------------------------------------------ shared state

        /// <summary>arsock_session_set_state: key (1-255 bytes of UTF-8) = value (at most 64 KiB). Every
        /// peer, this one included, sees StateChanged once the hub applied it.</summary>
        public void SetState(string key, byte[] value, int offset, int count)
        {
            ArSockNative.CheckRange(value, offset, count);
            fixed (byte* v = value) SetStateCore(key, v + offset, count);
        }

        public void SetState(string key, byte[] value)
        {
            if (value == null) throw new ArgumentNullException("value");
            SetState(key, value, 0, value.Length);
        }

        /// <summary>Sets key to the UTF-8 bytes of value.</summary>
        public void SetState(string key, string value)
        {
            if (value == null) throw new ArgumentNullException("value");
            SetState(key, Encoding.UTF8.GetBytes(value));
        }

        void SetStateCore(string key, byte* value, int count)
        {
            byte* k = stackalloc byte[KeyStack];
            int st;
            if (ArSockNative.EncodeUtf8Z(key, "key", k, KeyStack) >= 0)
            {
                st = ArSockNative.arsock_session_set_state(Live(), k, count == 0 ? null : value, (UIntPtr)(uint)count);
            }
            else
            {
                fixed (byte* kh = ArSockNative.ToUtf8Z(key, "key"))
                    st = ArSockNative.arsock_session_set_state(Live(), kh, count == 0 ? null : value, (UIntPtr)(uint)count);
            }
            GC.KeepAlive(this);
            if (st != 0) Fail(st, "arsock_session_set_state");
        }

        /// <summary>arsock_session_delete_state: removes key (StateChanged with IsStateDeleted at every peer).</summary>
        public void DeleteState(string key)
        {
            byte* k = stackalloc byte[KeyStack];
            int st;
            if (ArSockNative.EncodeUtf8Z(key, "key", k, KeyStack) >= 0)
            {
                st = ArSockNative.arsock_session_delete_state(Live(), k);
            }
            else
            {
                fixed (byte* kh = ArSockNative.ToUtf8Z(key, "key")) st = ArSockNative.arsock_session_delete_state(Live(), kh);
            }
            GC.KeepAlive(this);
            if (st != 0) Fail(st, "arsock_session_delete_state");
        }

        /// <summary>arsock_session_get_state into buffer[offset..]; returns the value's length. Throws
        /// NotFound if key is absent, BufferTooSmall (RequiredLength) if the value does not fit.</summary>
        public int GetState(string key, byte[] buffer, int offset, int count)
        {
            ArSockNative.CheckRange(buffer, offset, count);
            int len;
            long needed;
            int st;
            fixed (byte* p = buffer) st = GetStateCore(key, p + offset, count, out len, out needed);
            if (st != 0) Fail(st, "arsock_session_get_state", needed);
            return len;
        }

        /// <summary>The value of key as a new array; throws ArSockException(NotFound) if it is absent.</summary>
        public byte[] GetState(string key)
        {
            byte[] value;
            int st = GetStateAlloc(key, out value);
            if (st != 0) Fail(st, "arsock_session_get_state");
            return value;
        }

        /// <summary>The value of key, or false if the room has no such key.</summary>
        public bool TryGetState(string key, out byte[] value)
        {
            int st = GetStateAlloc(key, out value);
            if (st == 0) return true;
            if (st == (int)ArSockStatus.NotFound) return false;
            Fail(st, "arsock_session_get_state");
            return false;
        }

        int GetStateAlloc(string key, out byte[] value)
        {
            value = null;
            byte[] buf = Empty;
            while (true)
            {
                int len;
                long needed;
                int st;
                fixed (byte* p = buf) st = GetStateCore(key, p, buf.Length, out len, out needed);
                if (st == 0)
                {
                    if (len != buf.Length)
                    {
                        var exact = new byte[len];
                        Buffer.BlockCopy(buf, 0, exact, 0, len);
                        buf = exact;
                    }
                    value = buf;
                    return 0;
                }
                if (st != (int)ArSockStatus.BufferTooSmall || needed > MaxArrayLength) return st;
                buf = new byte[needed]; // another writer may change it meanwhile: then try again
            }
        }

        int GetStateCore(string key, byte* p, int cap, out int len, out long needed)
        {
            byte* k = stackalloc byte[KeyStack];
            UIntPtr n;
            int st;
            if (ArSockNative.EncodeUtf8Z(key, "key", k, KeyStack) >= 0)
            {
                st = ArSockNative.arsock_session_get_state(Live(), k, cap == 0 ? null : p, (UIntPtr)(uint)cap, out n);
            }
            else
            {
                fixed (byte* kh = ArSockNative.ToUtf8Z(key, "key"))
                    st = ArSockNative.arsock_session_get_state(Live(), kh, cap == 0 ? null : p, (UIntPtr)(uint)cap, out n);
            }
            GC.KeepAlive(this);
            len = st == 0 ? (int)n.ToUInt64() : 0;
            needed = st == (int)ArSockStatus.BufferTooSmall ? (long)n.ToUInt64() : -1;
            return st;
        }

        // ------------------------------------------------------------------ peers

        /// <summary>arsock_session_peer_id: this session's peer id; throws ArSockException(State) until JOINED.</summary>
        public uint PeerId
        {
            get
            {
                uint id;
                int st = ArSockNative.arsock_session_peer_id(Live(), out id);
                GC.KeepAlive(this);
                if (st != 0) Fail(st, "arsock_session_peer_id");
                return id;
            }
        }

        /// <summary>This session's peer id, or false before JOINED.</summary>
        public bool TryGetPeerId(out uint peerId)
        {
            int st = ArSockNative.arsock_session_peer_id(Live(), out peerId);
            GC.KeepAlive(this);
            if (st == 0) return true;
            if (st == (int)ArSockStatus.State) return false;
            Fail(st, "arsock_session_peer_id");
            return false;
        }

        /// <summary>arsock_session_peer_name: the name peer joined with ("" if none). NotFound if the
        /// peer is not in the room.</summary>
        public string PeerName(uint peer)
        {
            byte* buf = stackalloc byte[NameStack];
            UIntPtr n;
            int st = ArSockNative.arsock_session_peer_name(Live(), peer, buf, (UIntPtr)NameStack, out n);
            GC.KeepAlive(this);
            if (st != 0) Fail(st, "arsock_session_peer_name", st == (int)ArSockStatus.BufferTooSmall ? (long)n.ToUInt64() : -1);
            int len = (int)n.ToUInt64();
            if (len > NameStack) throw new InvalidOperationException("arsock_session_peer_name returned " + len + " bytes");
            if (len == 0) return "";
            var tmp = new byte[len];
            Marshal.Copy((IntPtr)buf, tmp, 0, len);
            return Encoding.UTF8.GetString(tmp);
        }

#if !ARSOCK_NO_SPAN
        // ------------------------------------------------------------------ Span overloads

        /// <summary>Poll into a span (e.g. a stackalloc'd or pooled one); 0 when nothing came within timeoutMs.</summary>
        public int Poll(Span<ArSockEvent> events, int timeoutMs = 0)
        {
            fixed (ArSockEvent* p = &MemoryMarshal.GetReference(events)) return PollCore(p, events.Length, timeoutMs);
        }

        /// <summary>Copies ev's payload into buffer; returns its length (BufferTooSmall / NotFound as Read(byte[])).</summary>
        public int Read(ArSockEvent ev, Span<byte> buffer)
        {
            fixed (byte* p = &MemoryMarshal.GetReference(buffer)) return ReadCore(ev.Payload, p, buffer.Length);
        }

        public void Send(uint toPeer, ReadOnlySpan<byte> data)
        {
            int st;
            fixed (byte* p = &MemoryMarshal.GetReference(data)) st = SendCore(toPeer, p, data.Length);
            if (st != 0) Fail(st, "arsock_session_send");
        }

        public bool TrySend(uint toPeer, ReadOnlySpan<byte> data)
        {
            int st;
            fixed (byte* p = &MemoryMarshal.GetReference(data)) st = SendCore(toPeer, p, data.Length);
            return SendResult(st);
        }

        public void SetState(string key, ReadOnlySpan<byte> value)
        {
            fixed (byte* v = &MemoryMarshal.GetReference(value)) SetStateCore(key, v, value.Length);
        }

        /// <summary>Copies key's value into buffer; returns its length (NotFound / BufferTooSmall as GetState(byte[])).</summary>
        public int GetState(string key, Span<byte> buffer)
        {
            int len;
            long needed;
            int st;
            fixed (byte* p = &MemoryMarshal.GetReference(buffer)) st = GetStateCore(key, p, buffer.Length, out len, out needed);
            if (st != 0) Fail(st, "arsock_session_get_state", needed);
            return len;
        }

        /// <summary>Copies key's value into buffer: false if the key is absent (no exception, no allocation).</summary>
        public bool TryGetState(string key, Span<byte> buffer, out int length)
        {
            long needed;
            int st;
            fixed (byte* p = &MemoryMarshal.GetReference(buffer)) st = GetStateCore(key, p, buffer.Length, out length, out needed);
            if (st == 0) return true;
            if (st == (int)ArSockStatus.NotFound) return false;
            Fail(st, "arsock_session_get_state", needed);
            return false;
        }
#endif

        const int NameStack = 256; // peer names are at most 64 bytes
        static readonly byte[] Empty = new byte[0];
        const long MaxArrayLength = 0x7FFFFFC7; // largest byte[] the CLR allows
    }
}
