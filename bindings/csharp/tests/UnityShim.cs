// Minimal stand-ins for the parts of UnityEngine that examples/unity/ArSockPoseSender.cs uses,
// so the example compiles (and can be driven by a test) under plain mono. NOT Unity's API in
// full, and not its behaviour: e.g. here a MonoBehaviour can be created with `new`.

using System;
using System.Collections.Generic;

namespace UnityEngine
{
    [AttributeUsage(AttributeTargets.Field)]
    public sealed class SerializeField : Attribute { }

    [AttributeUsage(AttributeTargets.Field)]
    public sealed class TooltipAttribute : Attribute
    {
        public readonly string tooltip;
        public TooltipAttribute(string tooltip) { this.tooltip = tooltip; }
    }

    public struct Vector3
    {
        public float x, y, z;
        public Vector3(float x, float y, float z) { this.x = x; this.y = y; this.z = z; }
    }

    public struct Quaternion
    {
        public float x, y, z, w;
        public Quaternion(float x, float y, float z, float w) { this.x = x; this.y = y; this.z = z; this.w = w; }
        public static Quaternion identity { get { return new Quaternion(0f, 0f, 0f, 1f); } }
    }

    public class Object
    {
        public string name = "";
    }

    public class Transform : Object
    {
        public Vector3 position;
        public Quaternion rotation = Quaternion.identity;
    }

    public class Component : Object
    {
        readonly Transform _transform = new Transform();
        public Transform transform { get { return _transform; } }
    }

    public class Behaviour : Component
    {
        public bool enabled = true;
    }

    public class MonoBehaviour : Behaviour { }

    public static class Debug
    {
        /// <summary>Everything logged, as "Level: message" (tests inspect it).</summary>
        public static readonly List<string> Messages = new List<string>();

        static void Add(string level, object message)
        {
            lock (Messages) Messages.Add(level + ": " + message);
        }

        public static void Log(object message) { Add("Log", message); }
        public static void LogWarning(object message) { Add("Warning", message); }
        public static void LogError(object message) { Add("Error", message); }
        public static void LogException(Exception exception) { Add("Exception", exception); }
    }
}
