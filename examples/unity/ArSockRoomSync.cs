// Unity example: share this GameObject's pose with every device in an arsock room.
//
// Start() joins `room` on a hub (ArSockHub, in this app or another one). Every Update() polls
// the session's events without allocating and, once joined, sends the pose (28 bytes: position
// x, y, z then rotation x, y, z, w as little-endian float32) to every other peer; TrySend skips
// the frame when the send queue is full. Other peers' latest poses are kept in Peers; PEER_STALE
// marks a peer whose device went quiet (it may come back: PEER_RESUMED), PEER_LEFT removes it.
// The session reconnects on its own after a network switch; only a REJECTED or a final
// DISCONNECTED ends it.
//
// Needs bindings/csharp/ArSock.cs and ArSockSession.cs (and the native library) in the
// project; see bindings/csharp/README.md.

using System.Collections.Generic;
using ArSock;
using UnityEngine;

public class ArSockRoomSync : MonoBehaviour
{
    [SerializeField, Tooltip("Hub address (IP literal or host name)")]
    string host = "127.0.0.1";

    [SerializeField, Tooltip("Hub TCP port")]
    int port = 9100;

    [SerializeField, Tooltip("Room to join (1-64 bytes of UTF-8)")]
    string room = "demo";

    [SerializeField, Tooltip("Name shown to the other devices (at most 64 bytes)")]
    string displayName = "";

    /// <summary>What this device knows about another one.</summary>
    public sealed class RemotePeer
    {
        public string Name;
        public Vector3 Position;
        public Quaternion Rotation = Quaternion.identity;
        public bool HasPose;
        public bool Stale;
    }

    /// <summary>The other peers in the room, by peer id.</summary>
    public readonly Dictionary<uint, RemotePeer> Peers = new Dictionary<uint, RemotePeer>();
    /// <summary>This device's peer id (0 until joined).</summary>
    public uint PeerId { get; private set; }
    public bool IsJoined { get { return PeerId != 0 && _session != null; } }
    /// <summary>Frames whose pose was not sent because the send queue was full.</summary>
    public int SkippedFrames { get; private set; }

    ArSockSession _session;
    readonly ArSockEvent[] _events = new ArSockEvent[64];
    readonly byte[] _pose = new byte[28];
    readonly byte[] _rx = new byte[28];

    void Start()
    {
        try
        {
            // Returns at once: JOINED (or REJECTED / DISCONNECTED) comes through Poll.
            _session = ArSockSession.Open(host, port, room, new ArSockSessionOptions { Name = displayName });
        }
        catch (ArSockException e)
        {
            Debug.LogError("ArSockRoomSync: cannot open a session: " + e.Message);
            enabled = false;
        }
    }

    void Update()
    {
        if (_session == null) return;
        int n = _session.Poll(_events, 0);
        for (int i = 0; i < n && _session != null; i++) OnEvent(_events[i]);
        if (!IsJoined) return;
        WritePose(transform.position, transform.rotation);
        if (!_session.TrySend(ArSockSession.Everyone, _pose, 0, _pose.Length)) SkippedFrames++;
    }

    void OnEvent(ArSockEvent e)
    {
        RemotePeer peer;
        switch (e.Kind)
        {
            case ArSockEventKind.Joined:
                PeerId = e.Peer;
                Debug.Log("ArSockRoomSync: joined room " + room + " as peer " + e.Peer);
                break;
            case ArSockEventKind.PeerJoined:
                Peers[e.Peer] = new RemotePeer { Name = _session.PeerName(e.Peer) };
                break;
            case ArSockEventKind.PeerStale:
                if (Peers.TryGetValue(e.Peer, out peer)) peer.Stale = true;
                break;
            case ArSockEventKind.PeerResumed:
                if (Peers.TryGetValue(e.Peer, out peer)) peer.Stale = false;
                break;
            case ArSockEventKind.PeerLeft:
                Peers.Remove(e.Peer);
                break;
            case ArSockEventKind.Message:
                if (e.Size == (ulong)_pose.Length && Peers.TryGetValue(e.Peer, out peer))
                {
                    _session.Read(e, _rx, 0, _pose.Length);
                    peer.Position = new Vector3(ReadFloat(0), ReadFloat(4), ReadFloat(8));
                    peer.Rotation = new Quaternion(ReadFloat(12), ReadFloat(16), ReadFloat(20), ReadFloat(24));
                    peer.HasPose = true;
                }
                break;
            case ArSockEventKind.Rejected:
            case ArSockEventKind.Disconnected:
                if (e.IsResuming) break; // reconnecting on its own
                Debug.LogWarning("ArSockRoomSync: session over: " + e.Kind + " (" + e.Reason + ")");
                _session.Dispose();
                _session = null;
                PeerId = 0;
                Peers.Clear();
                enabled = false;
                break;
        }
    }

    void OnDestroy()
    {
        if (_session != null)
        {
            _session.Dispose(); // the others see PEER_LEFT(RemoteClose)
            _session = null;
        }
    }

    void WritePose(Vector3 p, Quaternion q)
    {
        WriteFloat(0, p.x);
        WriteFloat(4, p.y);
        WriteFloat(8, p.z);
        WriteFloat(12, q.x);
        WriteFloat(16, q.y);
        WriteFloat(20, q.z);
        WriteFloat(24, q.w);
    }

    // Little-endian regardless of the CPU, without allocating.
    void WriteFloat(int offset, float value)
    {
        uint u = new FloatBits { Float = value }.UInt;
        _pose[offset] = (byte)u;
        _pose[offset + 1] = (byte)(u >> 8);
        _pose[offset + 2] = (byte)(u >> 16);
        _pose[offset + 3] = (byte)(u >> 24);
    }

    float ReadFloat(int offset)
    {
        uint u = (uint)_rx[offset] | (uint)_rx[offset + 1] << 8 | (uint)_rx[offset + 2] << 16 | (uint)_rx[offset + 3] << 24;
        return new FloatBits { UInt = u }.Float;
    }

    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Explicit)]
    struct FloatBits
    {
        [System.Runtime.InteropServices.FieldOffset(0)] public float Float;
        [System.Runtime.InteropServices.FieldOffset(0)] public uint UInt;
    }
}
