// ArSockPoses.cs: C# / Unity binding of a session's poses, room clock and blobs (issue 11).
// Compile together with ArSock.cs and ArSockSession.cs (same rules: unsafe code allowed,
// ARSOCK_NO_SPAN for profiles without System.Span).
//
//   * ArSockPose: struct arsock_pose, blittable (56 bytes; fixed float Position[3] and
//     Rotation[4], with PositionX.. / RotationW accessors).
//   * ArSockSession (partial): SendPoses, LatestPoses / SamplePoses into a caller's array or
//     Span (allocation-free, for Update()), Time / TryGetTime, PutBlob / GetBlob / TryGetBlob /
//     DeleteBlob, BlobKey.
//
// Typical Update():
//     session.SendPoses(myPoses);                                   // ArSockPose[] (reused)
//     ArSockRoomTime now;
//     if (session.TryGetTime(out now)) {
//         int n;
//         if (session.TrySamplePoses(now.RoomUs - 50000, others, out n)) { ... others[0..n) ... }
//     }

using System;
using System.Runtime.InteropServices;
using System.Text;

namespace ArSock
{
    /// <summary>struct arsock_pose: one pose of one entity of one peer. Blittable (56 bytes).
    /// Position in metres; Rotation a unit quaternion x, y, z, w; TimeUs room time of capture
    /// (0 on send = now); Peer and Seq are filled by arsock.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct ArSockPose
    {
        /// <summary>uint32_t peer: the sending peer (filled on receive; ignored on send).</summary>
        public uint Peer;
        /// <summary>uint32_t entity: the app's id of the tracked thing (head, hand, object).</summary>
        public uint Entity;
        /// <summary>int64_t time_us: room time of capture in microseconds; 0 on send = now.</summary>
        public long TimeUs;
        /// <summary>float position[3]: metres.</summary>
        public fixed float Position[3];
        /// <summary>float rotation[4]: unit quaternion x, y, z, w.</summary>
        public fixed float Rotation[4];
        /// <summary>uint32_t seq: per (peer, entity), filled by arsock.</summary>
        public uint Seq;
        /// <summary>uint32_t flags: application bits, passed through.</summary>
        public uint Flags;
        /// <summary>uint32_t reserved: 0.</summary>
        public uint Reserved;

        /// <summary>A pose to send (time 0 = now).</summary>
        public static ArSockPose Create(uint entity, float px, float py, float pz,
                                        float qx, float qy, float qz, float qw, long timeUs = 0, uint flags = 0)
        {
            var p = new ArSockPose { Entity = entity, TimeUs = timeUs, Flags = flags };
            p.Position[0] = px; p.Position[1] = py; p.Position[2] = pz;
            p.Rotation[0] = qx; p.Rotation[1] = qy; p.Rotation[2] = qz; p.Rotation[3] = qw;
            return p;
        }

        float GetP(int i) { fixed (float* f = Position) return f[i]; }
        void SetP(int i, float v) { fixed (float* f = Position) f[i] = v; }
        float GetR(int i) { fixed (float* f = Rotation) return f[i]; }
        void SetR(int i, float v) { fixed (float* f = Rotation) f[i] = v; }

        public float PositionX { get { return GetP(0); } set { SetP(0, value); } }
        public float PositionY { get { return GetP(1); } set { SetP(1, value); } }
        public float PositionZ { get { return GetP(2); } set { SetP(2, value); } }
        public float RotationX { get { return GetR(0); } set { SetR(0, value); } }
        public float RotationY { get { return GetR(1); } set { SetR(1, value); } }
        public float RotationZ { get { return GetR(2); } set { SetR(2, value); } }
        public float RotationW { get { return GetR(3); } set { SetR(3, value); } }

        public override string ToString()
        {
            return "pose(peer " + Peer + ", entity " + Entity + ", seq " + Seq + ", t " + TimeUs + ", p (" +
                   PositionX + ", " + PositionY + ", " + PositionZ + "))";
        }
    }

    /// <summary>Room time now and its error bound, microseconds (ArSockSession.Time).</summary>
    public struct ArSockRoomTime
    {
        public long RoomUs;
        public long ErrorBoundUs;
    }

    public static unsafe partial class ArSockNative
    {
        // ---- pose, clock and blob constants of include/arsock.h ----
        /// <summary>BlobAvailable flag: the blob was deleted from the room (Size 0).</summary>
        public const uint BlobDeleted = 8;
        /// <summary>BlobAvailable flag: this session's upload was refused (room budget full).</summary>
        public const uint BlobRefused = 16;
        /// <summary>Largest blob: 64 MiB.</summary>
        public const int SessionMaxBlob = 64 * 1024 * 1024;
        /// <summary>Blob bytes a room, and a session, holds at most: 256 MiB.</summary>
        public const int SessionBlobBudget = 256 * 1024 * 1024;
        /// <summary>Most poses per SendPoses call.</summary>
        public const int SessionMaxPoses = 4096;
        /// <summary>Most entities per peer.</summary>
        public const int PoseMaxEntities = 256;
        /// <summary>How far SamplePoses extrapolates past an entity's newest pose (µs).</summary>
        public const long PoseMaxExtrapolationUs = 100000;

        // ---- pose, clock and blob functions of include/arsock.h ----
        [DllImport(LibraryName, EntryPoint = "arsock_session_send_poses", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int arsock_session_send_poses(ulong s, ArSockPose* poses, UIntPtr n);

        [DllImport(LibraryName, EntryPoint = "arsock_session_latest_poses", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int arsock_session_latest_poses(ulong s, ArSockPose* @out, UIntPtr cap, out UIntPtr out_n);

        [DllImport(LibraryName, EntryPoint = "arsock_session_sample_poses", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int arsock_session_sample_poses(ulong s, long render_time_us, ArSockPose* @out, UIntPtr cap, out UIntPtr out_n);

        [DllImport(LibraryName, EntryPoint = "arsock_session_time", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int arsock_session_time(ulong s, out long out_room_us, out long out_error_bound_us);

        [DllImport(LibraryName, EntryPoint = "arsock_session_put_blob", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int arsock_session_put_blob(ulong s, byte* key, byte* data, UIntPtr len);

        [DllImport(LibraryName, EntryPoint = "arsock_session_get_blob", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int arsock_session_get_blob(ulong s, byte* key, byte* buf, UIntPtr cap, out UIntPtr out_len);

        [DllImport(LibraryName, EntryPoint = "arsock_session_delete_blob", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int arsock_session_delete_blob(ulong s, byte* key);
    }

    public sealed unsafe partial class ArSockSession
    {
        // ------------------------------------------------------------------ poses

        /// <summary>arsock_session_send_poses: sends poses[offset..offset+count) (all or nothing:
        /// ArSockException(InvalidArgument) for NaN, a rotation norm outside [0.5, 2], a position beyond
        /// ±200 km, and nothing is sent). Allocation-free.</summary>
        public void SendPoses(ArSockPose[] poses, int offset, int count)
        {
            if (poses == null) throw new ArgumentNullException("poses");
            if (offset < 0 || offset > poses.Length) throw new ArgumentOutOfRangeException("offset");
            if (count < 0 || count > poses.Length - offset) throw new ArgumentOutOfRangeException("count");
            fixed (ArSockPose* p = poses) SendPosesCore(count == 0 ? null : p + offset, count);
        }

        public void SendPoses(ArSockPose[] poses)
        {
            if (poses == null) throw new ArgumentNullException("poses");
            SendPoses(poses, 0, poses.Length);
        }

        void SendPosesCore(ArSockPose* p, int count)
        {
            int st = ArSockNative.arsock_session_send_poses(Live(), p, (UIntPtr)(uint)count);
            GC.KeepAlive(this);
            if (st != 0) Fail(st, "arsock_session_send_poses");
        }

        /// <summary>The newest pose of every remote (peer, entity) into buffer; returns how many.
        /// Throws ArSockException(BufferTooSmall, RequiredLength = poses needed) if it is too small
        /// (see TryLatestPoses for the form without exceptions).</summary>
        public int LatestPoses(ArSockPose[] buffer)
        {
            if (buffer == null) throw new ArgumentNullException("buffer");
            int n;
            fixed (ArSockPose* p = buffer) return Checked(PosesCore(false, 0, p, buffer.Length, out n), n, "arsock_session_latest_poses");
        }

        /// <summary>Every remote entity at renderTimeUs (room time) into buffer: interpolated,
        /// extrapolated at most 100 ms past its newest pose, then held. Returns how many; throws
        /// BufferTooSmall like LatestPoses.</summary>
        public int SamplePoses(long renderTimeUs, ArSockPose[] buffer)
        {
            if (buffer == null) throw new ArgumentNullException("buffer");
            int n;
            fixed (ArSockPose* p = buffer) return Checked(PosesCore(true, renderTimeUs, p, buffer.Length, out n), n, "arsock_session_sample_poses");
        }

        /// <summary>LatestPoses without exceptions: false with count = poses needed when buffer is too small.</summary>
        public bool TryLatestPoses(ArSockPose[] buffer, out int count)
        {
            if (buffer == null) throw new ArgumentNullException("buffer");
            fixed (ArSockPose* p = buffer) return TryChecked(PosesCore(false, 0, p, buffer.Length, out count), "arsock_session_latest_poses");
        }

        /// <summary>SamplePoses without exceptions: false with count = poses needed when buffer is too small.</summary>
        public bool TrySamplePoses(long renderTimeUs, ArSockPose[] buffer, out int count)
        {
            if (buffer == null) throw new ArgumentNullException("buffer");
            fixed (ArSockPose* p = buffer) return TryChecked(PosesCore(true, renderTimeUs, p, buffer.Length, out count), "arsock_session_sample_poses");
        }

        int PosesCore(bool sample, long t, ArSockPose* p, int cap, out int count)
        {
            UIntPtr n;
            ArSockPose* q = cap == 0 ? null : p;
            int st = sample
                ? ArSockNative.arsock_session_sample_poses(Live(), t, q, (UIntPtr)(uint)cap, out n)
                : ArSockNative.arsock_session_latest_poses(Live(), q, (UIntPtr)(uint)cap, out n);
            GC.KeepAlive(this);
            count = (int)Math.Min(n.ToUInt64(), int.MaxValue);
            return st;
        }

        static int Checked(int st, int n, string function)
        {
            if (st == (int)ArSockStatus.BufferTooSmall) Fail(st, function, n);
            if (st != 0) Fail(st, function);
            return n;
        }

        static bool TryChecked(int st, string function)
        {
            if (st == 0) return true;
            if (st == (int)ArSockStatus.BufferTooSmall) return false;
            Fail(st, function);
            return false;
        }

        // ------------------------------------------------------------------ clock

        /// <summary>arsock_session_time: room time now and its error bound (µs); throws
        /// ArSockException(State) before the first clock estimate (shortly after Joined).</summary>
        public ArSockRoomTime Time
        {
            get
            {
                ArSockRoomTime t;
                int st = TimeCore(out t);
                if (st != 0) Fail(st, "arsock_session_time");
                return t;
            }
        }

        /// <summary>Time without exceptions: false while there is no estimate yet.</summary>
        public bool TryGetTime(out ArSockRoomTime time)
        {
            int st = TimeCore(out time);
            if (st == 0) return true;
            if (st == (int)ArSockStatus.State) return false;
            Fail(st, "arsock_session_time");
            return false;
        }

        int TimeCore(out ArSockRoomTime t)
        {
            long room, bound;
            int st = ArSockNative.arsock_session_time(Live(), out room, out bound);
            GC.KeepAlive(this);
            t = new ArSockRoomTime { RoomUs = st == 0 ? room : 0, ErrorBoundUs = st == 0 ? bound : 0 };
            return st;
        }

        // ------------------------------------------------------------------ blobs

        /// <summary>arsock_session_put_blob: stores a copy of data[offset..offset+count) (≤ 64 MiB)
        /// under key; returns at once (the upload runs behind poses and messages). Throws
        /// WouldBlock over the 256 MiB budget (see TryPutBlob).</summary>
        public void PutBlob(string key, byte[] data, int offset, int count)
        {
            ArSockNative.CheckRange(data, offset, count);
            int st;
            fixed (byte* p = data) st = PutBlobCore(key, p + offset, count);
            if (st != 0) Fail(st, "arsock_session_put_blob");
        }

        public void PutBlob(string key, byte[] data)
        {
            if (data == null) throw new ArgumentNullException("data");
            PutBlob(key, data, 0, data.Length);
        }

        /// <summary>PutBlob, but false (nothing stored) when the blob budget is full.</summary>
        public bool TryPutBlob(string key, byte[] data)
        {
            if (data == null) throw new ArgumentNullException("data");
            int st;
            fixed (byte* p = data) st = PutBlobCore(key, p, data.Length);
            if (st == (int)ArSockStatus.WouldBlock) return false;
            if (st != 0) Fail(st, "arsock_session_put_blob");
            return true;
        }

        int PutBlobCore(string key, byte* data, int count)
        {
            byte* k = stackalloc byte[KeyStack];
            int st;
            if (ArSockNative.EncodeUtf8Z(key, "key", k, KeyStack) >= 0)
            {
                st = ArSockNative.arsock_session_put_blob(Live(), k, count == 0 ? null : data, (UIntPtr)(uint)count);
            }
            else
            {
                fixed (byte* kh = ArSockNative.ToUtf8Z(key, "key"))
                    st = ArSockNative.arsock_session_put_blob(Live(), kh, count == 0 ? null : data, (UIntPtr)(uint)count);
            }
            GC.KeepAlive(this);
            return st;
        }

        /// <summary>The blob key as a new array; throws NotFound while it is absent or incomplete here.</summary>
        public byte[] GetBlob(string key)
        {
            byte[] data;
            if (!TryGetBlob(key, out data)) Fail((int)ArSockStatus.NotFound, "arsock_session_get_blob");
            return data;
        }

        /// <summary>The blob key as a new array, or false (no exception) while absent or incomplete.</summary>
        public bool TryGetBlob(string key, out byte[] data)
        {
            long needed;
            int len;
            int st = GetBlobCore(key, null, 0, out len, out needed);
            while (true)
            {
                if (st == (int)ArSockStatus.NotFound) { data = null; return false; }
                if (st == 0 && len == 0) { data = Empty; return true; }
                if (st != 0 && st != (int)ArSockStatus.BufferTooSmall) Fail(st, "arsock_session_get_blob");
                var buf = new byte[needed > 0 ? needed : len];
                fixed (byte* p = buf) st = GetBlobCore(key, p, buf.Length, out len, out needed);
                if (st == 0) { data = len == buf.Length ? buf : Trim(buf, len); return true; }
            }
        }

        /// <summary>Copies the blob key into buffer; returns its length (NotFound / BufferTooSmall with
        /// RequiredLength as GetState).</summary>
        public int GetBlob(string key, byte[] buffer, int offset, int count)
        {
            ArSockNative.CheckRange(buffer, offset, count);
            long needed;
            int len;
            int st;
            fixed (byte* p = buffer) st = GetBlobCore(key, p + offset, count, out len, out needed);
            if (st != 0) Fail(st, "arsock_session_get_blob", needed);
            return len;
        }

        static byte[] Trim(byte[] buf, int len)
        {
            var exact = new byte[len];
            Buffer.BlockCopy(buf, 0, exact, 0, len);
            return exact;
        }

        int GetBlobCore(string key, byte* p, int cap, out int len, out long needed)
        {
            byte* k = stackalloc byte[KeyStack];
            UIntPtr n;
            int st;
            if (ArSockNative.EncodeUtf8Z(key, "key", k, KeyStack) >= 0)
            {
                st = ArSockNative.arsock_session_get_blob(Live(), k, cap == 0 ? null : p, (UIntPtr)(uint)cap, out n);
            }
            else
            {
                fixed (byte* kh = ArSockNative.ToUtf8Z(key, "key"))
                    st = ArSockNative.arsock_session_get_blob(Live(), kh, cap == 0 ? null : p, (UIntPtr)(uint)cap, out n);
            }
            GC.KeepAlive(this);
            len = st == 0 ? (int)n.ToUInt64() : 0;
            needed = st == (int)ArSockStatus.BufferTooSmall ? (long)n.ToUInt64() : -1;
            return st;
        }

        /// <summary>arsock_session_delete_blob: deletes key from the room (every peer then gets
        /// BlobAvailable with ArSockNative.BlobDeleted); NotFound if this session knows no such blob.</summary>
        public void DeleteBlob(string key)
        {
            byte* k = stackalloc byte[KeyStack];
            int st;
            if (ArSockNative.EncodeUtf8Z(key, "key", k, KeyStack) >= 0)
            {
                st = ArSockNative.arsock_session_delete_blob(Live(), k);
            }
            else
            {
                fixed (byte* kh = ArSockNative.ToUtf8Z(key, "key")) st = ArSockNative.arsock_session_delete_blob(Live(), kh);
            }
            GC.KeepAlive(this);
            if (st != 0) Fail(st, "arsock_session_delete_blob");
        }

        /// <summary>The key of a BlobAvailable event of the last Poll (its Size is the blob's size).</summary>
        public string BlobKey(ArSockEvent ev)
        {
            byte* buf = stackalloc byte[256];
            int n = ReadCore(ev.Payload, buf, 256);
            var tmp = new byte[n];
            Marshal.Copy((IntPtr)buf, tmp, 0, n);
            return Encoding.UTF8.GetString(tmp);
        }

#if !ARSOCK_NO_SPAN
        /// <summary>SendPoses from a span (e.g. stackalloc'd). Allocation-free.</summary>
        public void SendPoses(ReadOnlySpan<ArSockPose> poses)
        {
            fixed (ArSockPose* p = &MemoryMarshal.GetReference(poses)) SendPosesCore(poses.Length == 0 ? null : p, poses.Length);
        }

        /// <summary>LatestPoses into a span; throws BufferTooSmall like LatestPoses(ArSockPose[]).</summary>
        public int LatestPoses(Span<ArSockPose> buffer)
        {
            int n;
            fixed (ArSockPose* p = &MemoryMarshal.GetReference(buffer)) return Checked(PosesCore(false, 0, p, buffer.Length, out n), n, "arsock_session_latest_poses");
        }

        /// <summary>SamplePoses into a span: allocation-free, for every frame from Update(); throws
        /// BufferTooSmall (RequiredLength = poses needed) if the span is too small.</summary>
        public int SamplePoses(long renderTimeUs, Span<ArSockPose> buffer)
        {
            int n;
            fixed (ArSockPose* p = &MemoryMarshal.GetReference(buffer)) return Checked(PosesCore(true, renderTimeUs, p, buffer.Length, out n), n, "arsock_session_sample_poses");
        }

        /// <summary>SamplePoses into a span without exceptions: false with count = poses needed.</summary>
        public bool TrySamplePoses(long renderTimeUs, Span<ArSockPose> buffer, out int count)
        {
            fixed (ArSockPose* p = &MemoryMarshal.GetReference(buffer)) return TryChecked(PosesCore(true, renderTimeUs, p, buffer.Length, out count), "arsock_session_sample_poses");
        }

        /// <summary>PutBlob from a span (the data is copied).</summary>
        public void PutBlob(string key, ReadOnlySpan<byte> data)
        {
            int st;
            fixed (byte* p = &MemoryMarshal.GetReference(data)) st = PutBlobCore(key, p, data.Length);
            if (st != 0) Fail(st, "arsock_session_put_blob");
        }

        /// <summary>Copies the blob key into buffer; returns its length (NotFound / BufferTooSmall).</summary>
        public int GetBlob(string key, Span<byte> buffer)
        {
            long needed;
            int len;
            int st;
            fixed (byte* p = &MemoryMarshal.GetReference(buffer)) st = GetBlobCore(key, p, buffer.Length, out len, out needed);
            if (st != 0) Fail(st, "arsock_session_get_blob", needed);
            return len;
        }
#endif
    }
}
