// Unity example: stream this GameObject's pose to a server every frame with arsock.
//
// Each frame sends one message of 28 bytes: position x, y, z then rotation x, y, z, w, as
// IEEE-754 float32, little-endian. Sends never block the render loop (send timeout 0): when
// the send queue is full (ARSOCK_ERR_WOULD_BLOCK) the frame's pose is skipped, since the next
// frame carries a newer one anyway. Incoming messages are polled with TryReceiveMessage.
//
// Needs bindings/csharp/ArSock.cs (and the native library) in the project; see
// bindings/csharp/README.md.

using System;
using ArSock;
using UnityEngine;

public class ArSockPoseSender : MonoBehaviour
{
    [SerializeField, Tooltip("Server address (IP literal or host name)")]
    string host = "127.0.0.1";

    [SerializeField, Tooltip("Server TCP port")]
    int port = 9000;

    [SerializeField, Tooltip("How long Start() may block while connecting, in ms")]
    int connectTimeoutMs = 1000;

    [SerializeField, Tooltip("At most this many incoming messages are handled per frame")]
    int maxMessagesPerFrame = 64;

    ArSockClient _client;
    readonly byte[] _pose = new byte[28];
    byte[] _rx = new byte[256]; // grown by TryReceiveMessage when a bigger message arrives

    /// <summary>Frames whose pose was dropped because the send queue was full.</summary>
    public int SkippedFrames { get; private set; }
    /// <summary>Poses handed to arsock.</summary>
    public int SentFrames { get; private set; }
    /// <summary>Messages received from the server.</summary>
    public int ReceivedMessages { get; private set; }
    /// <summary>Length of the last message received (-1 if none yet).</summary>
    public int LastReceivedLength { get; private set; }

    public bool IsConnected { get { return _client != null; } }

    void Start()
    {
        LastReceivedLength = -1;
        try
        {
            // Blocks the main thread for at most connectTimeoutMs (connect on a worker thread
            // instead if that is too long for your app).
            _client = ArSockClient.Connect(host, port, connectTimeoutMs);
            _client.SetSendTimeout(0); // never block in Update: full queue -> WouldBlock
        }
        catch (ArSockException e)
        {
            Debug.LogError("ArSockPoseSender: cannot connect to " + host + ":" + port + ": " + e.Message);
            enabled = false;
        }
    }

    void Update()
    {
        if (_client == null) return;
        try
        {
            WritePose(transform.position, transform.rotation);
            // TrySendMessage returns false on ARSOCK_ERR_WOULD_BLOCK: skip this frame.
            if (_client.TrySendMessage(_pose)) SentFrames++;
            else SkippedFrames++;

            int length;
            for (int i = 0; i < maxMessagesPerFrame && _client.TryReceiveMessage(ref _rx, out length); i++)
                OnMessage(_rx, length);
        }
        catch (ArSockException e)
        {
            // Closed, Protocol, Io...: the connection is gone.
            Debug.LogWarning("ArSockPoseSender: connection lost: " + e.Message);
            _client.Dispose();
            _client = null;
            enabled = false;
        }
    }

    void OnMessage(byte[] data, int length)
    {
        ReceivedMessages++;
        LastReceivedLength = length;
        // Application-specific: e.g. decode anchor updates from data[0..length).
    }

    void OnDestroy()
    {
        if (_client != null)
        {
            _client.Dispose();
            _client = null;
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

    // Little-endian regardless of the CPU, without allocating (no BitConverter.GetBytes).
    void WriteFloat(int offset, float value)
    {
        var bits = new FloatBits { Float = value };
        uint u = bits.UInt;
        _pose[offset] = (byte)u;
        _pose[offset + 1] = (byte)(u >> 8);
        _pose[offset + 2] = (byte)(u >> 16);
        _pose[offset + 3] = (byte)(u >> 24);
    }

    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Explicit)]
    struct FloatBits
    {
        [System.Runtime.InteropServices.FieldOffset(0)] public float Float;
        [System.Runtime.InteropServices.FieldOffset(0)] public uint UInt;
    }
}
