// ArSock.cs: C# / Unity binding for arsock (libarsock), written for ARSOCK_ABI_VERSION 1.
//
// Two layers:
//   * ArSockNative: one [DllImport] per function of include/arsock.h, blittable types only
//     (ulong handles, int status, UIntPtr for size_t, byte* / IntPtr for pointers), plus the
//     header's constants and the arsock_buf struct (ArSockBuf).
//   * ArSockServer / ArSockClient: classes that own a handle (IDisposable + finalizer) and
//     turn failures into ArSockException (status + arsock_last_error_message()).
//
// Compile with unsafe code allowed (Unity: "Allow 'unsafe' Code" in the Player settings or
// in the .asmdef). Define ARSOCK_NO_SPAN for profiles without System.Span (Unity < 2021.2).
// No callbacks cross the C boundary: everything is polling, which suits IL2CPP.
//
// The test suite (bindings/csharp/run_tests.sh) checks every extern, constant, status value
// and struct layout here against include/arsock.h; keep them in sync with the header.

using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;

namespace ArSock
{
    /// <summary>Status of every fallible arsock call; values are exactly the header's arsock_status.</summary>
    public enum ArSockStatus
    {
        Ok = 0,                 // ARSOCK_OK
        InvalidArgument = -1,   // ARSOCK_ERR_INVALID_ARGUMENT
        InvalidHandle = -2,     // ARSOCK_ERR_INVALID_HANDLE
        Timeout = -3,           // ARSOCK_ERR_TIMEOUT
        Closed = -4,            // ARSOCK_ERR_CLOSED
        AddressInUse = -5,      // ARSOCK_ERR_ADDRESS_IN_USE
        ConnectionRefused = -6, // ARSOCK_ERR_CONNECTION_REFUSED
        Address = -7,           // ARSOCK_ERR_ADDRESS
        State = -8,             // ARSOCK_ERR_STATE
        Io = -9,                // ARSOCK_ERR_IO
        Panic = -10,            // ARSOCK_ERR_PANIC
        BufferTooSmall = -11,   // ARSOCK_ERR_BUFFER_TOO_SMALL
        MessageTooLarge = -12,  // ARSOCK_ERR_MESSAGE_TOO_LARGE
        Protocol = -13,         // ARSOCK_ERR_PROTOCOL
        WouldBlock = -14,       // ARSOCK_ERR_WOULD_BLOCK
        NotFound = -15,         // ARSOCK_ERR_NOT_FOUND
    }

    /// <summary>struct arsock_buf: one message for arsock_client_send_msgs, or one received by
    /// arsock_client_recv_msgs (Data then points into the caller's buffer).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct ArSockBuf
    {
        /// <summary>const uint8_t *data: first byte of the message (may be zero when Len is 0).</summary>
        public IntPtr Data;
        /// <summary>size_t len: length of the message in bytes.</summary>
        public UIntPtr Len;

        public ArSockBuf(IntPtr data, UIntPtr len) { Data = data; Len = len; }
    }

    /// <summary>
    /// Raw P/Invoke layer: exactly the functions of include/arsock.h, with the same names.
    /// Statuses are returned as int (compare with ArSockStatus); nothing here throws except
    /// the runtime's DllNotFoundException / EntryPointNotFoundException.
    /// </summary>
    public static unsafe partial class ArSockNative
    {
#if (UNITY_IOS || UNITY_TVOS || UNITY_VISIONOS) && !UNITY_EDITOR
        /// <summary>iOS links libarsock.a statically into the player.</summary>
        public const string LibraryName = "__Internal";
#else
        /// <summary>libarsock.so (Linux, Android), libarsock.dylib / arsock.bundle (macOS).</summary>
        public const string LibraryName = "arsock";
#endif

        // ---- constants of include/arsock.h (names: ARSOCK_FOO_BAR -> FooBar) ----
        public const int VersionMajor = 0;
        public const int VersionMinor = 1;
        public const int VersionPatch = 0;
        /// <summary>Version of the header this binding was written against (not of the loaded library).</summary>
        public const string VersionString = "0.1.0";
        /// <summary>timeout_ms value meaning "wait as long as it takes".</summary>
        public const int WaitForever = -1;
        /// <summary>Largest message a new connection sends and accepts: 16 MiB.</summary>
        public const int DefaultMaxMessage = 16 * 1024 * 1024;
        /// <summary>Default send-queue limit of a new connection: 1 MiB.</summary>
        public const int DefaultSendQueueLimit = 1024 * 1024;
        /// <summary>After close, queued data keeps going to the peer for at most this long.</summary>
        public const int CloseLingerMs = 2000;
        /// <summary>Default frame timeout (see arsock_client_set_frame_timeout).</summary>
        public const int DefaultFrameTimeoutMs = 30000;
        /// <summary>The C ABI version this binding was written for; checked by CheckAbi().</summary>
        public const uint AbiVersion = 1;

        // ---- functions of include/arsock.h, in header order ----
        [DllImport(LibraryName, EntryPoint = "arsock_client_connect", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int arsock_client_connect(byte* host, ushort port, int timeout_ms, out ulong out_client);

        [DllImport(LibraryName, EntryPoint = "arsock_client_send", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int arsock_client_send(ulong client, byte* data, UIntPtr len);

        [DllImport(LibraryName, EntryPoint = "arsock_client_recv", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int arsock_client_recv(ulong client, byte* buf, UIntPtr cap, int timeout_ms, out UIntPtr out_len);

        [DllImport(LibraryName, EntryPoint = "arsock_client_set_send_timeout", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int arsock_client_set_send_timeout(ulong client, int timeout_ms);

        [DllImport(LibraryName, EntryPoint = "arsock_client_set_send_queue_limit", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int arsock_client_set_send_queue_limit(ulong client, UIntPtr max_bytes);

        [DllImport(LibraryName, EntryPoint = "arsock_client_send_queue_len", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int arsock_client_send_queue_len(ulong client, out UIntPtr out_len);

        [DllImport(LibraryName, EntryPoint = "arsock_client_set_frame_timeout", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int arsock_client_set_frame_timeout(ulong client, int timeout_ms);

        [DllImport(LibraryName, EntryPoint = "arsock_close", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int arsock_close(ulong handle);

        /// <summary>Returns a const char* owned by arsock (never NULL); see LastErrorMessage().</summary>
        [DllImport(LibraryName, EntryPoint = "arsock_last_error_message", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern IntPtr arsock_last_error_message();

        [DllImport(LibraryName, EntryPoint = "arsock_client_send_msg", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int arsock_client_send_msg(ulong client, byte* data, UIntPtr len);

        [DllImport(LibraryName, EntryPoint = "arsock_client_send_msgs", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int arsock_client_send_msgs(ulong client, ArSockBuf* msgs, UIntPtr count);

        [DllImport(LibraryName, EntryPoint = "arsock_client_recv_msg", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int arsock_client_recv_msg(ulong client, byte* buf, UIntPtr cap, int timeout_ms, out UIntPtr out_len);

        [DllImport(LibraryName, EntryPoint = "arsock_client_recv_msgs", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int arsock_client_recv_msgs(ulong client, byte* buf, UIntPtr cap, ArSockBuf* out_msgs, UIntPtr max_msgs, int timeout_ms, out UIntPtr out_count);

        [DllImport(LibraryName, EntryPoint = "arsock_client_set_max_message", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int arsock_client_set_max_message(ulong client, UIntPtr max_len);

        [DllImport(LibraryName, EntryPoint = "arsock_server_bind", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int arsock_server_bind(byte* host, ushort port, out ulong out_server);

        [DllImport(LibraryName, EntryPoint = "arsock_server_listen", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int arsock_server_listen(ulong server, int backlog);

        [DllImport(LibraryName, EntryPoint = "arsock_server_accept", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int arsock_server_accept(ulong server, int timeout_ms, out ulong out_client);

        [DllImport(LibraryName, EntryPoint = "arsock_server_local_port", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int arsock_server_local_port(ulong server, out ushort out_port);

        /// <summary>Returns a static const char* (never NULL); see StatusString().</summary>
        [DllImport(LibraryName, EntryPoint = "arsock_status_str", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern IntPtr arsock_status_str(int status);

        /// <summary>Returns a static const char* (never NULL); see LoadedVersion().</summary>
        [DllImport(LibraryName, EntryPoint = "arsock_version", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern IntPtr arsock_version();

        [DllImport(LibraryName, EntryPoint = "arsock_abi_version", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern uint arsock_abi_version();

        // ---- helpers ----

        /// <summary>Copy of arsock_last_error_message() for the calling thread ("" if none).</summary>
        public static string LastErrorMessage() { return Utf8ToString(arsock_last_error_message()); }

        /// <summary>arsock_status_str(status) as a managed string.</summary>
        public static string StatusString(int status) { return Utf8ToString(arsock_status_str(status)); }

        /// <summary>Version string of the loaded library (arsock_version()).</summary>
        public static string LoadedVersion() { return Utf8ToString(arsock_version()); }

        /// <summary>Throws ArSockException (with the calling thread's last-error text) unless status is ARSOCK_OK.
        /// Call it right after the failing function, on the same thread.</summary>
        public static void Check(int status, string function)
        {
            if (status != 0) throw ArSockException.FromLastError(status, function, -1);
        }

        static volatile bool s_abiChecked;

        /// <summary>
        /// Loads the native library and compares arsock_abi_version() with AbiVersion (the ABI
        /// this binding was written for). Throws ArSockAbiException on a mismatch and a
        /// DllNotFoundException saying where the library must be if it cannot be loaded.
        /// Called from the static constructors of ArSockServer and ArSockClient.
        /// </summary>
        public static void CheckAbi()
        {
            if (s_abiChecked) return;
            uint loaded;
            string version;
            try
            {
                loaded = arsock_abi_version();
                version = LoadedVersion();
            }
            catch (DllNotFoundException e)
            {
                throw new DllNotFoundException(LibraryMissingMessage(e), e);
            }
            catch (EntryPointNotFoundException e)
            {
                throw new ArSockAbiException(
                    "a native library named '" + LibraryName + "' was loaded but it does not export " +
                    "arsock_abi_version/arsock_version: it is not arsock, or an arsock older than ABI 1 " +
                    "(this binding needs ABI " + AbiVersion + ").", AbiVersion, 0, null, e);
            }
            catch (BadImageFormatException e)
            {
                throw new DllNotFoundException(
                    "arsock: the native library '" + LibraryName + "' was found but could not be loaded " +
                    "(wrong CPU architecture or a corrupt file; the process is " + (IntPtr.Size * 8) +
                    "-bit). " + e.Message, e);
            }
            VerifyAbi(AbiVersion, loaded, version);
            s_abiChecked = true;
        }

        /// <summary>Throws ArSockAbiException unless expected == loaded. Split out of CheckAbi for tests.</summary>
        public static void VerifyAbi(uint expected, uint loaded, string loadedVersion)
        {
            if (expected == loaded) return;
            throw new ArSockAbiException(
                "arsock ABI mismatch: this C# binding was written for ABI version " + expected +
                " but the loaded native library (version \"" + loadedVersion + "\") has ABI version " +
                loaded + ". Use the libarsock build that matches this ArSock.cs (or update the binding).",
                expected, loaded, loadedVersion, null);
        }

        static string LibraryMissingMessage(Exception e)
        {
            return "arsock: the native library '" + LibraryName + "' could not be loaded. " +
                   "Unity: put libarsock.so in Assets/Plugins/x86_64 (Linux / Linux Editor), " +
                   "Assets/Plugins/Android/libs/<ABI>/libarsock.so (Android), " +
                   "Assets/Plugins/iOS/libarsock.a (iOS, linked as __Internal), " +
                   "libarsock.dylib or arsock.bundle in Assets/Plugins (macOS), and enable it for the " +
                   "platform in its import settings. Mono / .NET outside Unity: put libarsock.so next to " +
                   "the executable or in a directory listed in LD_LIBRARY_PATH (DYLD_LIBRARY_PATH on macOS). " +
                   "The process is " + (IntPtr.Size * 8) + "-bit. Runtime said: " + e.Message;
        }

        /// <summary>Reads a NUL-terminated UTF-8 string owned by native code.</summary>
        public static string Utf8ToString(IntPtr p)
        {
            if (p == IntPtr.Zero) return "";
            byte* s = (byte*)p;
            int n = 0;
            while (s[n] != 0) n++;
            if (n == 0) return "";
            byte[] tmp = new byte[n];
            Marshal.Copy(p, tmp, 0, n);
            return Encoding.UTF8.GetString(tmp);
        }

        /// <summary>NUL-terminated UTF-8 bytes of s for const char* parameters.</summary>
        internal static byte[] ToUtf8Z(string s, string paramName)
        {
            if (s == null) throw new ArgumentNullException(paramName);
            if (s.IndexOf('\0') >= 0) throw new ArgumentException("must not contain NUL characters", paramName);
            int n = Encoding.UTF8.GetByteCount(s);
            byte[] b = new byte[n + 1];
            Encoding.UTF8.GetBytes(s, 0, s.Length, b, 0);
            return b;
        }

        /// <summary>long -> size_t, rejecting negatives and values that do not fit (32-bit).</summary>
        internal static UIntPtr ToSizeT(long value, string paramName)
        {
            if (value < 0) throw new ArgumentOutOfRangeException(paramName, "must not be negative");
            if (UIntPtr.Size == 4 && value > uint.MaxValue)
                throw new ArgumentOutOfRangeException(paramName, "does not fit in size_t on this 32-bit platform");
            return new UIntPtr((ulong)value);
        }

        internal static ushort ToPort(int port)
        {
            if (port < 0 || port > 65535) throw new ArgumentOutOfRangeException("port", "must be 0..65535");
            return (ushort)port;
        }

        internal static void CheckRange(byte[] buffer, int offset, int count)
        {
            if (buffer == null) throw new ArgumentNullException("buffer");
            if (offset < 0 || offset > buffer.Length) throw new ArgumentOutOfRangeException("offset");
            if (count < 0 || count > buffer.Length - offset) throw new ArgumentOutOfRangeException("count");
        }
    }

    /// <summary>A failed arsock call: the status and arsock_last_error_message() read right after it.</summary>
    [Serializable]
    public class ArSockException : Exception
    {
        /// <summary>The arsock status (negative).</summary>
        public ArSockStatus Status { get; private set; }
        /// <summary>The raw status code (equal to (int)Status; kept for codes this binding does not name).</summary>
        public int StatusCode { get; private set; }
        /// <summary>Name of the C function that failed.</summary>
        public string Function { get; private set; }
        /// <summary>arsock_last_error_message() right after the failure ("" if the library set none).</summary>
        public string NativeMessage { get; private set; }
        /// <summary>For BufferTooSmall: the size of the queued message in bytes; otherwise -1.</summary>
        public long RequiredLength { get; private set; }

        public ArSockException(int status, string function, string nativeMessage, long requiredLength)
            : base(Format(status, function, nativeMessage, requiredLength))
        {
            Status = (ArSockStatus)status;
            StatusCode = status;
            Function = function ?? "";
            NativeMessage = nativeMessage ?? "";
            RequiredLength = requiredLength;
        }

        /// <summary>Builds the exception, reading arsock_last_error_message() now: call it on the
        /// failing thread before any other arsock call.</summary>
        public static ArSockException FromLastError(int status, string function, long requiredLength)
        {
            string detail = ArSockNative.LastErrorMessage();
            return new ArSockException(status, function, detail, requiredLength);
        }

        static string Format(int status, string function, string detail, long required)
        {
            string name = Enum.IsDefined(typeof(ArSockStatus), status)
                ? ((ArSockStatus)status).ToString() : ("status " + status);
            var sb = new StringBuilder();
            sb.Append(function).Append(" failed: ").Append(name).Append(" (").Append(status).Append(')');
            if (!string.IsNullOrEmpty(detail)) sb.Append(": ").Append(detail);
            if (required >= 0) sb.Append(" [").Append(required).Append(" bytes needed]");
            return sb.ToString();
        }
    }

    /// <summary>The loaded libarsock has a different C ABI version than this binding was written for.</summary>
    [Serializable]
    public class ArSockAbiException : Exception
    {
        public uint BindingAbiVersion { get; private set; }
        public uint LoadedAbiVersion { get; private set; }
        public string LoadedVersion { get; private set; }

        public ArSockAbiException(string message, uint bindingAbi, uint loadedAbi, string loadedVersion, Exception inner)
            : base(message, inner)
        {
            BindingAbiVersion = bindingAbi;
            LoadedAbiVersion = loadedAbi;
            LoadedVersion = loadedVersion;
        }
    }

    /// <summary>
    /// Owns one arsock handle (a server or a connection). Dispose() closes it with arsock_close
    /// exactly once, from any thread; a second call does nothing; the finalizer closes it if
    /// Dispose was never called. For a connection, data already accepted by sends keeps going to
    /// the peer for at most ArSockNative.CloseLingerMs after closing.
    /// </summary>
    public abstract class ArSockHandleOwner : IDisposable
    {
        long _handle; // arsock_handle as long for Interlocked; 0 = disposed

        internal ArSockHandleOwner(ulong handle) { _handle = (long)handle; }

        /// <summary>The raw handle (for ArSockNative calls); still owned by this object.</summary>
        public ulong Handle { get { return Live(); } }

        public bool IsDisposed { get { return Interlocked.Read(ref _handle) == 0; } }

        /// <summary>The handle, or ObjectDisposedException after Dispose.</summary>
        internal ulong Live()
        {
            long h = Interlocked.Read(ref _handle);
            if (h == 0) throw new ObjectDisposedException(GetType().Name);
            return (ulong)h;
        }

        /// <summary>Closes the handle (arsock_close). A second call does nothing.</summary>
        public void Dispose()
        {
            long h = Interlocked.Exchange(ref _handle, 0);
            if (h != 0) ArSockNative.arsock_close((ulong)h); // INVALID_HANDLE (closed elsewhere) is ignored
            GC.SuppressFinalize(this);
        }

        ~ArSockHandleOwner()
        {
            // Only the handle field and a P/Invoke: no other managed object, never throws.
            try
            {
                long h = Interlocked.Exchange(ref _handle, 0);
                if (h != 0) ArSockNative.arsock_close((ulong)h);
            }
            catch
            {
            }
        }
    }

    /// <summary>
    /// A listening TCP server. Owns its handle: Dispose() (or the finalizer) closes it.
    /// Thread-safe like the C API; Dispose from another thread wakes a blocked Accept (CLOSED).
    /// </summary>
    public sealed class ArSockServer : ArSockHandleOwner
    {
        static ArSockServer() { ArSockNative.CheckAbi(); }

        ArSockServer(ulong handle) : base(handle) { }

        /// <summary>arsock_server_bind: a server bound to host:port (port 0 picks a free port). Call Listen next.</summary>
        public static unsafe ArSockServer Bind(string host, int port)
        {
            byte[] h = ArSockNative.ToUtf8Z(host, "host");
            ushort p = ArSockNative.ToPort(port);
            ulong handle;
            int st;
            fixed (byte* hp = h) st = ArSockNative.arsock_server_bind(hp, p, out handle);
            if (st != 0) throw ArSockException.FromLastError(st, "arsock_server_bind", -1);
            return new ArSockServer(handle);
        }

        /// <summary>Takes ownership of a server handle obtained from the raw layer.</summary>
        public static ArSockServer FromHandle(ulong handle)
        {
            if (handle == 0) throw new ArgumentException("0 is never a valid handle", "handle");
            return new ArSockServer(handle);
        }

        /// <summary>arsock_server_listen; backlog 0 means 128.</summary>
        public void Listen(int backlog = 0)
        {
            int st = ArSockNative.arsock_server_listen(Live(), backlog);
            if (st != 0) throw ArSockException.FromLastError(st, "arsock_server_listen", -1);
            GC.KeepAlive(this);
        }

        /// <summary>arsock_server_local_port: the bound port (the chosen one after Bind(host, 0)).</summary>
        public int LocalPort
        {
            get
            {
                ushort port;
                int st = ArSockNative.arsock_server_local_port(Live(), out port);
                if (st != 0) throw ArSockException.FromLastError(st, "arsock_server_local_port", -1);
                GC.KeepAlive(this);
                return port;
            }
        }

        /// <summary>arsock_server_accept: waits at most timeoutMs (-1 forever, 0 poll); throws
        /// ArSockException (Timeout) when nobody connected in time.</summary>
        public ArSockClient Accept(int timeoutMs = ArSockNative.WaitForever)
        {
            ArSockClient c;
            int st = AcceptCore(timeoutMs, out c);
            if (st != 0) throw ArSockException.FromLastError(st, "arsock_server_accept", -1);
            return c;
        }

        /// <summary>Polls for a connection (timeout 0): false if none is pending.</summary>
        public bool TryAccept(out ArSockClient client) { return TryAccept(0, out client); }

        /// <summary>Like Accept, but returns false instead of throwing on ARSOCK_ERR_TIMEOUT.</summary>
        public bool TryAccept(int timeoutMs, out ArSockClient client)
        {
            int st = AcceptCore(timeoutMs, out client);
            if (st == 0) return true;
            if (st == (int)ArSockStatus.Timeout) return false;
            throw ArSockException.FromLastError(st, "arsock_server_accept", -1);
        }

        int AcceptCore(int timeoutMs, out ArSockClient client)
        {
            ulong h;
            int st = ArSockNative.arsock_server_accept(Live(), timeoutMs, out h);
            GC.KeepAlive(this);
            client = st == 0 ? ArSockClient.FromHandle(h) : null;
            return st;
        }
    }

    /// <summary>
    /// One TCP connection (from ArSockClient.Connect or ArSockServer.Accept). Owns its handle:
    /// Dispose() (or the finalizer) closes it. A connection is in raw mode (Send/Receive) or
    /// message mode (SendMessage/ReceiveMessage), fixed by its first send or receive.
    /// Thread-safe like the C API; Dispose from another thread wakes a blocked receive (CLOSED).
    /// </summary>
    public sealed unsafe class ArSockClient : ArSockHandleOwner
    {
        static ArSockClient() { ArSockNative.CheckAbi(); }

        const int StackProbe = 256; // first attempt of ReceiveMessage(int) uses a stack buffer this big

        /// <summary>Most messages one arsock_client_recv_msgs call returns (the C library's limit).</summary>
        public const int MaxMessagesPerBatch = 256;

        ArSockClient(ulong handle) : base(handle) { }

        /// <summary>arsock_client_connect: connects to host:port waiting at most timeoutMs
        /// (-1 forever, 0 a single attempt).</summary>
        public static ArSockClient Connect(string host, int port, int timeoutMs = ArSockNative.WaitForever)
        {
            byte[] h = ArSockNative.ToUtf8Z(host, "host");
            ushort p = ArSockNative.ToPort(port);
            ulong handle;
            int st;
            fixed (byte* hp = h) st = ArSockNative.arsock_client_connect(hp, p, timeoutMs, out handle);
            if (st != 0) throw ArSockException.FromLastError(st, "arsock_client_connect", -1);
            return new ArSockClient(handle);
        }

        /// <summary>Takes ownership of a client handle obtained from the raw layer.</summary>
        public static ArSockClient FromHandle(ulong handle)
        {
            if (handle == 0) throw new ArgumentException("0 is never a valid handle", "handle");
            return new ArSockClient(handle);
        }

        void Fail(int st, string function) { throw ArSockException.FromLastError(st, function, -1); }

        // ------------------------------------------------------------------ settings

        /// <summary>arsock_client_set_send_timeout: -1 (default) blocks, 0 never blocks (WouldBlock), > 0 ms.</summary>
        public void SetSendTimeout(int timeoutMs)
        {
            int st = ArSockNative.arsock_client_set_send_timeout(Live(), timeoutMs);
            if (st != 0) Fail(st, "arsock_client_set_send_timeout");
            GC.KeepAlive(this);
        }

        /// <summary>arsock_client_set_send_queue_limit (default 1 MiB).</summary>
        public void SetSendQueueLimit(long maxBytes)
        {
            UIntPtr v = ArSockNative.ToSizeT(maxBytes, "maxBytes");
            int st = ArSockNative.arsock_client_set_send_queue_limit(Live(), v);
            if (st != 0) Fail(st, "arsock_client_set_send_queue_limit");
            GC.KeepAlive(this);
        }

        /// <summary>arsock_client_set_max_message: largest message sent and accepted (inclusive; default 16 MiB).</summary>
        public void SetMaxMessage(long maxLen)
        {
            UIntPtr v = ArSockNative.ToSizeT(maxLen, "maxLen");
            int st = ArSockNative.arsock_client_set_max_message(Live(), v);
            if (st != 0) Fail(st, "arsock_client_set_max_message");
            GC.KeepAlive(this);
        }

        /// <summary>arsock_client_set_frame_timeout: max time for a started message to arrive whole (-1 disables).</summary>
        public void SetFrameTimeout(int timeoutMs)
        {
            int st = ArSockNative.arsock_client_set_frame_timeout(Live(), timeoutMs);
            if (st != 0) Fail(st, "arsock_client_set_frame_timeout");
            GC.KeepAlive(this);
        }

        /// <summary>arsock_client_send_queue_len: bytes accepted by sends that the OS has not taken yet.</summary>
        public long SendQueueLength
        {
            get
            {
                UIntPtr n;
                int st = ArSockNative.arsock_client_send_queue_len(Live(), out n);
                if (st != 0) Fail(st, "arsock_client_send_queue_len");
                GC.KeepAlive(this);
                return (long)n.ToUInt64();
            }
        }

        // ------------------------------------------------------------------ raw mode

        public void Send(byte[] data)
        {
            if (data == null) throw new ArgumentNullException("data");
            Send(data, 0, data.Length);
        }

        /// <summary>arsock_client_send: all count bytes, no framing (blocking per the send timeout).</summary>
        public void Send(byte[] data, int offset, int count)
        {
            ArSockNative.CheckRange(data, offset, count);
            fixed (byte* p = data) SendRawCore(p + offset, count);
        }

        public void Send(ArraySegment<byte> data) { Send(data.Array ?? Empty, data.Array == null ? 0 : data.Offset, data.Count); }

        void SendRawCore(byte* p, int count)
        {
            int st = ArSockNative.arsock_client_send(Live(), count == 0 ? null : p, (UIntPtr)(uint)count);
            if (st != 0) Fail(st, "arsock_client_send");
            GC.KeepAlive(this);
        }

        public int Receive(byte[] buffer, int timeoutMs = ArSockNative.WaitForever)
        {
            if (buffer == null) throw new ArgumentNullException("buffer");
            return Receive(buffer, 0, buffer.Length, timeoutMs);
        }

        /// <summary>arsock_client_recv: 1..count bytes, waiting at most timeoutMs. Throws ArSockException
        /// (Timeout, Closed when the peer closed and everything was read, ...). count 0 is InvalidArgument.</summary>
        public int Receive(byte[] buffer, int offset, int count, int timeoutMs = ArSockNative.WaitForever)
        {
            ArSockNative.CheckRange(buffer, offset, count);
            int n;
            int st;
            fixed (byte* p = buffer) st = RecvRawCore(p + offset, count, timeoutMs, out n);
            if (st != 0) Fail(st, "arsock_client_recv");
            return n;
        }

        public int Receive(ArraySegment<byte> buffer, int timeoutMs = ArSockNative.WaitForever)
        {
            if (buffer.Array == null) throw new ArgumentNullException("buffer");
            return Receive(buffer.Array, buffer.Offset, buffer.Count, timeoutMs);
        }

        /// <summary>Polls (timeout 0): false if no byte is available (ARSOCK_ERR_TIMEOUT), otherwise like Receive.</summary>
        public bool TryReceive(byte[] buffer, int offset, int count, out int received)
        {
            ArSockNative.CheckRange(buffer, offset, count);
            int st;
            fixed (byte* p = buffer) st = RecvRawCore(p + offset, count, 0, out received);
            if (st == 0) return true;
            if (st == (int)ArSockStatus.Timeout) return false;
            Fail(st, "arsock_client_recv");
            return false;
        }

        public bool TryReceive(byte[] buffer, out int received)
        {
            if (buffer == null) throw new ArgumentNullException("buffer");
            return TryReceive(buffer, 0, buffer.Length, out received);
        }

        int RecvRawCore(byte* p, int cap, int timeoutMs, out int received)
        {
            UIntPtr n;
            int st = ArSockNative.arsock_client_recv(Live(), cap == 0 ? null : p, (UIntPtr)(uint)cap, timeoutMs, out n);
            GC.KeepAlive(this);
            received = st == 0 ? (int)n.ToUInt64() : 0;
            return st;
        }

        // ------------------------------------------------------------------ message mode: send

        public void SendMessage(byte[] data)
        {
            if (data == null) throw new ArgumentNullException("data");
            SendMessage(data, 0, data.Length);
        }

        /// <summary>arsock_client_send_msg: one whole message (empty is valid). Blocking per the send
        /// timeout; with send timeout 0 a full queue throws ArSockException(WouldBlock): see TrySendMessage.</summary>
        public void SendMessage(byte[] data, int offset, int count)
        {
            ArSockNative.CheckRange(data, offset, count);
            int st;
            fixed (byte* p = data) st = SendMsgCore(p + offset, count);
            if (st != 0) Fail(st, "arsock_client_send_msg");
        }

        public void SendMessage(ArraySegment<byte> data) { SendMessage(data.Array ?? Empty, data.Array == null ? 0 : data.Offset, data.Count); }

        public bool TrySendMessage(byte[] data)
        {
            if (data == null) throw new ArgumentNullException("data");
            return TrySendMessage(data, 0, data.Length);
        }

        /// <summary>Like SendMessage, but returns false (nothing queued) on WouldBlock or Timeout, i.e. when
        /// the send queue is full; for render loops with SetSendTimeout(0).</summary>
        public bool TrySendMessage(byte[] data, int offset, int count)
        {
            ArSockNative.CheckRange(data, offset, count);
            int st;
            fixed (byte* p = data) st = SendMsgCore(p + offset, count);
            return SendResult(st, "arsock_client_send_msg");
        }

        public bool TrySendMessage(ArraySegment<byte> data) { return TrySendMessage(data.Array ?? Empty, data.Array == null ? 0 : data.Offset, data.Count); }

        int SendMsgCore(byte* p, int count)
        {
            int st = ArSockNative.arsock_client_send_msg(Live(), count == 0 ? null : p, (UIntPtr)(uint)count);
            GC.KeepAlive(this);
            return st;
        }

        bool SendResult(int st, string function)
        {
            if (st == 0) return true;
            if (st == (int)ArSockStatus.WouldBlock || st == (int)ArSockStatus.Timeout) return false;
            Fail(st, function);
            return false;
        }

        /// <summary>arsock_client_send_msgs: all messages or none (a null entry is an empty message).</summary>
        public void SendMessages(IList<byte[]> messages)
        {
            int st = SendMsgsCore(ToSegments(messages));
            if (st != 0) Fail(st, "arsock_client_send_msgs");
        }

        public void SendMessages(IList<ArraySegment<byte>> messages)
        {
            if (messages == null) throw new ArgumentNullException("messages");
            int st = SendMsgsCore(messages);
            if (st != 0) Fail(st, "arsock_client_send_msgs");
        }

        /// <summary>Like SendMessages, but false (nothing queued) when the send queue is full.</summary>
        public bool TrySendMessages(IList<byte[]> messages) { return SendResult(SendMsgsCore(ToSegments(messages)), "arsock_client_send_msgs"); }

        public bool TrySendMessages(IList<ArraySegment<byte>> messages)
        {
            if (messages == null) throw new ArgumentNullException("messages");
            return SendResult(SendMsgsCore(messages), "arsock_client_send_msgs");
        }

        static IList<ArraySegment<byte>> ToSegments(IList<byte[]> messages)
        {
            if (messages == null) throw new ArgumentNullException("messages");
            var segs = new ArraySegment<byte>[messages.Count];
            for (int i = 0; i < segs.Length; i++)
                segs[i] = new ArraySegment<byte>(messages[i] ?? Empty);
            return segs;
        }

        int SendMsgsCore(IList<ArraySegment<byte>> messages)
        {
            ulong h = Live();
            int n = messages.Count;
            var bufs = new ArSockBuf[n];
            var pins = new GCHandle[n];
            try
            {
                for (int i = 0; i < n; i++)
                {
                    ArraySegment<byte> m = messages[i];
                    if (m.Array == null || m.Count == 0) continue; // (NULL, 0): empty message
                    pins[i] = GCHandle.Alloc(m.Array, GCHandleType.Pinned);
                    bufs[i].Data = IntPtr.Add(pins[i].AddrOfPinnedObject(), m.Offset);
                    bufs[i].Len = (UIntPtr)(uint)m.Count;
                }
                int st;
                fixed (ArSockBuf* pb = bufs)
                    st = ArSockNative.arsock_client_send_msgs(h, n == 0 ? null : pb, (UIntPtr)(uint)n);
                GC.KeepAlive(this);
                return st;
            }
            finally
            {
                for (int i = 0; i < n; i++) if (pins[i].IsAllocated) pins[i].Free();
            }
        }

        // ------------------------------------------------------------------ message mode: receive

        /// <summary>arsock_client_recv_msg into buffer[offset..offset+count), waiting at most timeoutMs.
        /// Returns the message length. If the buffer is too small: ArSockException with Status
        /// BufferTooSmall and RequiredLength set; the message stays queued.</summary>
        public int ReceiveMessage(byte[] buffer, int offset, int count, int timeoutMs = ArSockNative.WaitForever)
        {
            ArSockNative.CheckRange(buffer, offset, count);
            int len;
            long needed;
            int st;
            fixed (byte* p = buffer) st = RecvMsgCore(p + offset, count, timeoutMs, out len, out needed);
            if (st != 0) throw ArSockException.FromLastError(st, "arsock_client_recv_msg", needed);
            return len;
        }

        public int ReceiveMessage(ArraySegment<byte> buffer, int timeoutMs = ArSockNative.WaitForever)
        {
            if (buffer.Array == null) return ReceiveMessage(Empty, 0, 0, timeoutMs);
            return ReceiveMessage(buffer.Array, buffer.Offset, buffer.Count, timeoutMs);
        }

        /// <summary>Receives the next message into buffer[0..], replacing buffer by a larger array when the
        /// message does not fit (buffer may start null). Returns the message length.</summary>
        public int ReceiveMessage(ref byte[] buffer, int timeoutMs = ArSockNative.WaitForever)
        {
            int len;
            long needed;
            int st = RecvGrowCore(ref buffer, timeoutMs, out len, out needed);
            if (st != 0) throw ArSockException.FromLastError(st, "arsock_client_recv_msg", needed);
            return len;
        }

        /// <summary>Receives the next message into a new array of exactly its length.</summary>
        public byte[] ReceiveMessage(int timeoutMs = ArSockNative.WaitForever)
        {
            byte[] msg;
            long needed;
            int st = RecvAllocCore(timeoutMs, out msg, out needed);
            if (st != 0) throw ArSockException.FromLastError(st, "arsock_client_recv_msg", needed);
            return msg;
        }

        /// <summary>Polls (timeout 0): false if no whole message is there (ARSOCK_ERR_TIMEOUT). Throws
        /// ArSockException(BufferTooSmall, RequiredLength) if the message does not fit.</summary>
        public bool TryReceiveMessage(byte[] buffer, int offset, int count, out int length)
        {
            ArSockNative.CheckRange(buffer, offset, count);
            long needed;
            int st;
            fixed (byte* p = buffer) st = RecvMsgCore(p + offset, count, 0, out length, out needed);
            if (st == 0) return true;
            if (st == (int)ArSockStatus.Timeout) return false;
            throw ArSockException.FromLastError(st, "arsock_client_recv_msg", needed);
        }

        /// <summary>Polls (timeout 0) into buffer[0..], growing it when needed: false if no message is there.</summary>
        public bool TryReceiveMessage(ref byte[] buffer, out int length)
        {
            long needed;
            int st = RecvGrowCore(ref buffer, 0, out length, out needed);
            if (st == 0) return true;
            if (st == (int)ArSockStatus.Timeout) return false;
            throw ArSockException.FromLastError(st, "arsock_client_recv_msg", needed);
        }

        /// <summary>Polls (timeout 0): a new array holding the next message, or false if none is there.</summary>
        public bool TryReceiveMessage(out byte[] message)
        {
            long needed;
            int st = RecvAllocCore(0, out message, out needed);
            if (st == 0) return true;
            if (st == (int)ArSockStatus.Timeout) return false;
            throw ArSockException.FromLastError(st, "arsock_client_recv_msg", needed);
        }

        int RecvMsgCore(byte* p, int cap, int timeoutMs, out int length, out long needed)
        {
            UIntPtr n;
            int st = ArSockNative.arsock_client_recv_msg(Live(), cap == 0 ? null : p, (UIntPtr)(uint)cap, timeoutMs, out n);
            GC.KeepAlive(this);
            length = 0;
            needed = -1;
            if (st == 0) length = (int)n.ToUInt64();
            else if (st == (int)ArSockStatus.BufferTooSmall) needed = (long)n.ToUInt64();
            return st;
        }

        // Returns a status; on failure the last-error text is still unread (callers read it at once).
        // needed: the message size when the result is BufferTooSmall (too big for one managed array).
        int RecvGrowCore(ref byte[] buffer, int timeoutMs, out int length, out long needed)
        {
            if (buffer == null) buffer = Empty;
            while (true)
            {
                int st;
                fixed (byte* p = buffer) st = RecvMsgCore(p, buffer.Length, timeoutMs, out length, out needed);
                if (st != (int)ArSockStatus.BufferTooSmall) return st;
                if (needed > MaxArrayLength) return st; // cannot be held in one managed array
                // The message stays queued: retry with a buffer of the size needed. (Another thread
                // may take it first; then this loop simply receives the next message.)
                buffer = new byte[needed];
            }
        }

        int RecvAllocCore(int timeoutMs, out byte[] message, out long needed)
        {
            message = null;
            byte* probe = stackalloc byte[StackProbe];
            int len;
            int st = RecvMsgCore(probe, StackProbe, timeoutMs, out len, out needed);
            if (st == 0)
            {
                message = len == 0 ? Empty : new byte[len];
                if (len > 0) Marshal.Copy((IntPtr)probe, message, 0, len);
                return 0;
            }
            if (st != (int)ArSockStatus.BufferTooSmall || needed > MaxArrayLength) return st;
            byte[] buf = new byte[needed];
            st = RecvGrowCore(ref buf, timeoutMs, out len, out needed);
            if (st != 0) return st;
            if (len != buf.Length)
            {
                var exact = new byte[len];
                Buffer.BlockCopy(buf, 0, exact, 0, len);
                buf = exact;
            }
            message = buf;
            return 0;
        }

        // ------------------------------------------------------------------ message mode: batch receive

        /// <summary>arsock_client_recv_msgs: waits at most timeoutMs for the next message, then also takes
        /// every further message that has already arrived whole, while buffer and messages have room
        /// (at most MaxMessagesPerBatch per call). The payloads are packed into buffer back to back;
        /// messages[0..count) are set to segments of buffer (valid until buffer is reused). Returns count
        /// (&gt;= 1). Messages that did not fit stay queued for the next call. If even the first message
        /// does not fit: ArSockException with Status BufferTooSmall and RequiredLength set; the message
        /// stays queued (the ref overload grows the buffer instead). Entries from count on are left as they were.</summary>
        public int ReceiveMessages(byte[] buffer, ArraySegment<byte>[] messages, int timeoutMs = ArSockNative.WaitForever)
        {
            if (buffer == null) throw new ArgumentNullException("buffer");
            int count;
            long needed;
            int st = RecvMsgsCore(buffer, messages, timeoutMs, out count, out needed);
            if (st != 0) throw ArSockException.FromLastError(st, "arsock_client_recv_msgs", needed);
            return count;
        }

        /// <summary>Like ReceiveMessages(byte[], ...), but when the first message does not fit, buffer is
        /// replaced by an array of the size it needs (buffer may start null) and the call is retried.</summary>
        public int ReceiveMessages(ref byte[] buffer, ArraySegment<byte>[] messages, int timeoutMs = ArSockNative.WaitForever)
        {
            int count;
            long needed;
            int st = RecvMsgsGrowCore(ref buffer, messages, timeoutMs, out count, out needed);
            if (st != 0) throw ArSockException.FromLastError(st, "arsock_client_recv_msgs", needed);
            return count;
        }

        /// <summary>Polls (timeout 0): false (count 0) if no whole message is there (ARSOCK_ERR_TIMEOUT),
        /// otherwise like ReceiveMessages(byte[], ...); throws ArSockException(BufferTooSmall,
        /// RequiredLength) if the first message does not fit.</summary>
        public bool TryReceiveMessages(byte[] buffer, ArraySegment<byte>[] messages, out int count)
        {
            if (buffer == null) throw new ArgumentNullException("buffer");
            long needed;
            int st = RecvMsgsCore(buffer, messages, 0, out count, out needed);
            if (st == 0) return true;
            if (st == (int)ArSockStatus.Timeout) return false;
            throw ArSockException.FromLastError(st, "arsock_client_recv_msgs", needed);
        }

        /// <summary>Polls (timeout 0) like TryReceiveMessages, growing buffer when the first message does not fit.
        /// The usual per-frame loop: <c>while (c.TryReceiveMessages(ref buf, segs, out n)) { ... }</c>.</summary>
        public bool TryReceiveMessages(ref byte[] buffer, ArraySegment<byte>[] messages, out int count)
        {
            long needed;
            int st = RecvMsgsGrowCore(ref buffer, messages, 0, out count, out needed);
            if (st == 0) return true;
            if (st == (int)ArSockStatus.Timeout) return false;
            throw ArSockException.FromLastError(st, "arsock_client_recv_msgs", needed);
        }

        // Returns a status; on failure the last-error text is still unread (callers read it at once).
        // needed: the first message's size when the result is BufferTooSmall, else -1.
        int RecvMsgsCore(byte[] buffer, ArraySegment<byte>[] messages, int timeoutMs, out int count, out long needed)
        {
            if (messages == null) throw new ArgumentNullException("messages");
            if (messages.Length == 0) throw new ArgumentException("must have room for at least one message", "messages");
            int max = Math.Min(messages.Length, MaxMessagesPerBatch);
            ArSockBuf* bufs = stackalloc ArSockBuf[max];
            UIntPtr n;
            int st;
            count = 0;
            needed = -1;
            fixed (byte* p = buffer)
            {
                st = ArSockNative.arsock_client_recv_msgs(Live(), buffer.Length == 0 ? null : p, (UIntPtr)(uint)buffer.Length,
                                                          bufs, (UIntPtr)(uint)max, timeoutMs, out n);
                GC.KeepAlive(this);
                if (st == 0)
                {
                    ulong c = n.ToUInt64();
                    if (c > (ulong)max) throw new InvalidOperationException("arsock_client_recv_msgs returned " + c + " messages for " + max + " entries");
                    count = (int)c;
                    long end = 0; // where the previous message ended
                    for (int i = 0; i < count; i++)
                    {
                        ulong len = bufs[i].Len.ToUInt64();
                        // An empty message's data pointer is never read (with cap 0 it need not point
                        // into buf at all): it becomes an empty segment where the previous one ended.
                        long off = len == 0 ? end : (long)((byte*)bufs[i].Data - p);
                        if (len > 0 && (p == null || off < 0 || len > (ulong)buffer.Length || (ulong)off > (ulong)buffer.Length - len))
                            throw new InvalidOperationException("arsock_client_recv_msgs returned a message outside the buffer");
                        messages[i] = new ArraySegment<byte>(buffer, (int)off, (int)len);
                        end = off + (long)len;
                    }
                }
                else if (st == (int)ArSockStatus.BufferTooSmall)
                {
                    needed = (long)bufs[0].Len.ToUInt64();
                }
            }
            return st;
        }

        int RecvMsgsGrowCore(ref byte[] buffer, ArraySegment<byte>[] messages, int timeoutMs, out int count, out long needed)
        {
            if (buffer == null) buffer = Empty;
            while (true)
            {
                int st = RecvMsgsCore(buffer, messages, timeoutMs, out count, out needed);
                if (st != (int)ArSockStatus.BufferTooSmall) return st;
                if (needed > MaxArrayLength) return st; // cannot be held in one managed array
                // The first message stays queued: retry with a buffer of at least its size (doubled
                // when that is more, since the buffer holds whole batches). Another thread may take
                // the message first; then this loop simply receives the next messages.
                buffer = new byte[Math.Max(needed, Math.Min(2L * buffer.Length, MaxArrayLength))];
            }
        }

#if !ARSOCK_NO_SPAN
        // ------------------------------------------------------------------ Span overloads

        public void Send(ReadOnlySpan<byte> data)
        {
            fixed (byte* p = &MemoryMarshal.GetReference(data)) SendRawCore(p, data.Length);
        }

        public int Receive(Span<byte> buffer, int timeoutMs = ArSockNative.WaitForever)
        {
            int n;
            int st;
            fixed (byte* p = &MemoryMarshal.GetReference(buffer)) st = RecvRawCore(p, buffer.Length, timeoutMs, out n);
            if (st != 0) Fail(st, "arsock_client_recv");
            return n;
        }

        public bool TryReceive(Span<byte> buffer, out int received)
        {
            int st;
            fixed (byte* p = &MemoryMarshal.GetReference(buffer)) st = RecvRawCore(p, buffer.Length, 0, out received);
            if (st == 0) return true;
            if (st == (int)ArSockStatus.Timeout) return false;
            Fail(st, "arsock_client_recv");
            return false;
        }

        public void SendMessage(ReadOnlySpan<byte> data)
        {
            int st;
            fixed (byte* p = &MemoryMarshal.GetReference(data)) st = SendMsgCore(p, data.Length);
            if (st != 0) Fail(st, "arsock_client_send_msg");
        }

        public bool TrySendMessage(ReadOnlySpan<byte> data)
        {
            int st;
            fixed (byte* p = &MemoryMarshal.GetReference(data)) st = SendMsgCore(p, data.Length);
            return SendResult(st, "arsock_client_send_msg");
        }

        public int ReceiveMessage(Span<byte> buffer, int timeoutMs = ArSockNative.WaitForever)
        {
            int len;
            long needed;
            int st;
            fixed (byte* p = &MemoryMarshal.GetReference(buffer)) st = RecvMsgCore(p, buffer.Length, timeoutMs, out len, out needed);
            if (st != 0) throw ArSockException.FromLastError(st, "arsock_client_recv_msg", needed);
            return len;
        }

        public bool TryReceiveMessage(Span<byte> buffer, out int length)
        {
            long needed;
            int st;
            fixed (byte* p = &MemoryMarshal.GetReference(buffer)) st = RecvMsgCore(p, buffer.Length, 0, out length, out needed);
            if (st == 0) return true;
            if (st == (int)ArSockStatus.Timeout) return false;
            throw ArSockException.FromLastError(st, "arsock_client_recv_msg", needed);
        }
#endif

        static readonly byte[] Empty = new byte[0];
        const long MaxArrayLength = 0x7FFFFFC7; // largest byte[] the CLR allows
    }
}
