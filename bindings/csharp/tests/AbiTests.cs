// Checks the binding against the real C header and library:
//  * constants, status values and struct layouts against the output of a C program that
//    run_tests.sh compiles with gcc against include/arsock.h (ARSOCK_NATIVE_ABI);
//  * every extern's parameter/return types, names and DllImport settings against the
//    prototypes parsed from include/arsock.h (ARSOCK_HEADER), in both directions;
//  * the load-time ABI check, in-process and in child processes with a fake library and
//    with no library at all (ARSOCK_PROBE_EXE, ARSOCK_FAKE_LIB_DIR, ARSOCK_EMPTY_LIB_DIR).

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using ArSock;
using NUnit.Framework;

namespace ArSock.Tests
{
    [TestFixture, Timeout(60000)]
    public class AbiTests
    {
        // C struct name -> C# struct (fields are matched by name: data -> Data, time_us -> TimeUs)
        static readonly Dictionary<string, Type> Structs = new Dictionary<string, Type>
        {
            { "arsock_hub_config", typeof(ArSockHubConfig) },
            { "arsock_session_config", typeof(ArSockSessionConfig) },
            { "arsock_event", typeof(ArSockEvent) },
            { "arsock_buf", typeof(ArSockBuf) },
            { "arsock_pose", typeof(ArSockPose) },
        };

        /// <summary>ARSOCK_DEFAULT_MAX_MESSAGE -> DefaultMaxMessage; ERR_BUFFER_TOO_SMALL -> BufferTooSmall.</summary>
        static string Pascal(string upperSnake)
        {
            var sb = new StringBuilder();
            foreach (string w in upperSnake.Split('_'))
                if (w.Length > 0) sb.Append(char.ToUpperInvariant(w[0])).Append(w.Substring(1).ToLowerInvariant());
            return sb.ToString();
        }

        static List<string[]> NativeLines()
        {
            string path = Util.EnvFile("ARSOCK_NATIVE_ABI");
            var lines = File.ReadAllLines(path).Where(l => l.Trim().Length > 0).Select(l => l.Split(new[] { ' ' }, 3)).ToList();
            Assert.Greater(lines.Count, 10, "native ABI dump looks empty: " + path);
            return lines;
        }

        [Test]
        public void ConstantsMatchTheHeader()
        {
            var csConsts = typeof(ArSockNative).GetFields(BindingFlags.Public | BindingFlags.Static)
                .Where(f => f.IsLiteral && f.Name != "LibraryName").ToDictionary(f => f.Name);
            var seen = new HashSet<string>();
            int n = 0;
            foreach (var l in NativeLines())
            {
                if (l[0] != "const" && l[0] != "conststr") continue;
                n++;
                string name = Pascal(l[1]);
                FieldInfo f;
                Assert.IsTrue(csConsts.TryGetValue(name, out f), "ARSOCK_" + l[1] + " has no C# constant ArSockNative." + name);
                seen.Add(name);
                object v = f.GetRawConstantValue();
                if (l[0] == "conststr")
                    Assert.AreEqual(l[2], (string)v, "ARSOCK_" + l[1]);
                else
                    Assert.AreEqual(long.Parse(l[2]), Convert.ToInt64(v), "ARSOCK_" + l[1]);
            }
            Assert.Greater(n, 5);
            foreach (string name in csConsts.Keys)
                Assert.IsTrue(seen.Contains(name), "C# constant ArSockNative." + name + " is not in include/arsock.h");
        }

        [Test]
        public void StatusValuesMatchTheHeader()
        {
            var seen = new HashSet<string>();
            foreach (var l in NativeLines())
            {
                if (l[0] != "status") continue;
                string cname = l[1];
                string name = Pascal(cname.StartsWith("ERR_") ? cname.Substring(4) : cname);
                Assert.IsTrue(Enum.IsDefined(typeof(ArSockStatus), name), "ARSOCK_" + cname + " has no ArSockStatus." + name);
                Assert.AreEqual(int.Parse(l[2]), (int)Enum.Parse(typeof(ArSockStatus), name), "ARSOCK_" + cname);
                seen.Add(name);
            }
            Assert.Greater(seen.Count, 10);
            foreach (string name in Enum.GetNames(typeof(ArSockStatus)))
                Assert.IsTrue(seen.Contains(name), "ArSockStatus." + name + " is not in include/arsock.h");
            Assert.AreEqual(typeof(int), Enum.GetUnderlyingType(typeof(ArSockStatus)));
        }

        [Test]
        public unsafe void StructLayoutsMatchTheHeader()
        {
            int checkedStructs = 0;
            foreach (var l in NativeLines())
            {
                if (l[0] == "sizeof")
                {
                    Type t;
                    Assert.IsTrue(Structs.TryGetValue(l[1], out t), "struct " + l[1] + " of the header has no C# struct");
                    Assert.AreEqual(int.Parse(l[2]), Marshal.SizeOf(t), "sizeof(" + l[1] + ")");
                    checkedStructs++;
                }
                else if (l[0] == "fields")
                {
                    Type t = Structs[l[1]];
                    Assert.AreEqual(int.Parse(l[2]), t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic).Length,
                        "field count of " + l[1]);
                }
                else if (l[0] == "offsetof")
                {
                    string[] parts = l[2].Split(' ');
                    Type t = Structs[l[1]];
                    string field = Pascal(parts[0]);
                    Assert.IsNotNull(t.GetField(field), l[1] + "." + parts[0] + " has no C# field " + field);
                    Assert.AreEqual(int.Parse(parts[1]), (int)Marshal.OffsetOf(t, field), "offsetof(" + l[1] + ", " + parts[0] + ")");
                }
            }
            Assert.AreEqual(Structs.Count, checkedStructs, "every C# struct must be described by the header");
            Assert.AreEqual(Marshal.SizeOf(typeof(ArSockEvent)), sizeof(ArSockEvent), "ArSockEvent is blittable");
            Assert.AreEqual(Marshal.SizeOf(typeof(ArSockHubConfig)), sizeof(ArSockHubConfig), "ArSockHubConfig is blittable");
            Assert.AreEqual(Marshal.SizeOf(typeof(ArSockSessionConfig)), sizeof(ArSockSessionConfig), "ArSockSessionConfig is blittable");
            Assert.AreEqual(Marshal.SizeOf(typeof(ArSockBuf)), sizeof(ArSockBuf), "blittable: managed size = native size");
            Assert.AreEqual(Marshal.SizeOf(typeof(ArSockPose)), sizeof(ArSockPose), "ArSockPose is blittable");
        }

        // C field type -> the C# field types that fit it (enums by their underlying type)
        static readonly Dictionary<string, Type> CFieldTypes = new Dictionary<string, Type>
        {
            { "uint32_t", typeof(uint) }, { "int32_t", typeof(int) }, { "uint16_t", typeof(ushort) },
            { "uint64_t", typeof(ulong) }, { "int64_t", typeof(long) }, { "size_t", typeof(UIntPtr) },
            { "arsock_handle", typeof(ulong) },
        };

        [Test]
        public void StructFieldTypesMatchTheHeader()
        {
            string text = File.ReadAllText(Util.EnvFile("ARSOCK_HEADER"));
            text = Regex.Replace(text, @"/\*.*?\*/", " ", RegexOptions.Singleline);
            int seen = 0;
            foreach (var kv in Structs)
            {
                var m = Regex.Match(text, @"typedef struct " + kv.Key + @"\s*\{(.*?)\}\s*" + kv.Key + @"\s*;", RegexOptions.Singleline);
                Assert.IsTrue(m.Success, "struct " + kv.Key + " not found in the header");
                foreach (string decl in m.Groups[1].Value.Split(';'))
                {
                    string d = Regex.Replace(decl, @"\s+", " ").Trim();
                    if (d.Length == 0) continue;
                    var am = Regex.Match(d, @"^(.*?)(\w+)\s*\[(\d+)\]$"); // float position[3]: a fixed buffer
                    if (am.Success)
                    {
                        FieldInfo af = kv.Value.GetField(Pascal(am.Groups[2].Value));
                        Assert.IsNotNull(af, kv.Key + "." + am.Groups[2].Value + " has no C# field");
                        var fb = (System.Runtime.CompilerServices.FixedBufferAttribute)af.GetCustomAttributes(
                            typeof(System.Runtime.CompilerServices.FixedBufferAttribute), false).FirstOrDefault();
                        Assert.IsNotNull(fb, kv.Key + "." + am.Groups[2].Value + " must be a fixed buffer");
                        Assert.AreEqual("float", Norm(am.Groups[1].Value), "teach the test other array element types");
                        Assert.AreEqual(typeof(float), fb.ElementType, kv.Key + "." + am.Groups[2].Value);
                        Assert.AreEqual(int.Parse(am.Groups[3].Value), fb.Length, kv.Key + "." + am.Groups[2].Value + " length");
                        seen++;
                        continue;
                    }
                    var fm = Regex.Match(d, @"^(.*?)(\w+)$");
                    string ctype = Norm(fm.Groups[1].Value);
                    FieldInfo f = kv.Value.GetField(Pascal(fm.Groups[2].Value));
                    Assert.IsNotNull(f, kv.Key + "." + fm.Groups[2].Value + " has no C# field");
                    Type t = f.FieldType.IsEnum ? Enum.GetUnderlyingType(f.FieldType) : f.FieldType;
                    Type want;
                    if (ctype.EndsWith("*")) want = typeof(IntPtr);
                    else Assert.IsTrue(CFieldTypes.TryGetValue(ctype, out want), "unknown C field type '" + ctype + "' (teach the test)");
                    Assert.AreEqual(want, t, kv.Key + "." + fm.Groups[2].Value + " (" + ctype + ")");
                    seen++;
                }
            }
            Assert.Greater(seen, 10);
        }

        /// <summary>ARSOCK_EVENT_* and ARSOCK_REASON_* (but the app range REASON_APP_MIN/MAX) are also the
        /// members of ArSockEventKind and ArSockReason.</summary>
        [Test]
        public void SessionEnumsMatchTheHeader()
        {
            var kinds = new HashSet<string>();
            var reasons = new HashSet<string>();
            foreach (var l in NativeLines())
            {
                if (l[0] != "const") continue;
                Type e = l[1].StartsWith("EVENT_") ? typeof(ArSockEventKind) : l[1].StartsWith("REASON_APP_") ? null :
                         l[1].StartsWith("REASON_") ? typeof(ArSockReason) : null;
                if (e == null) continue;
                string name = Pascal(l[1].Substring(l[1].IndexOf('_') + 1));
                Assert.IsTrue(Enum.IsDefined(e, name), "ARSOCK_" + l[1] + " has no " + e.Name + "." + name);
                Assert.AreEqual(long.Parse(l[2]), Convert.ToInt64(Enum.Parse(e, name)), "ARSOCK_" + l[1]);
                (e == typeof(ArSockEventKind) ? kinds : reasons).Add(name);
            }
            Assert.GreaterOrEqual(kinds.Count, 10);
            Assert.GreaterOrEqual(reasons.Count, 12);
            foreach (string name in Enum.GetNames(typeof(ArSockEventKind)))
                Assert.IsTrue(kinds.Contains(name), "ArSockEventKind." + name + " is not in include/arsock.h");
            foreach (string name in Enum.GetNames(typeof(ArSockReason)))
                Assert.IsTrue(reasons.Contains(name), "ArSockReason." + name + " is not in include/arsock.h");
            Assert.AreEqual(typeof(uint), Enum.GetUnderlyingType(typeof(ArSockEventKind)));
            Assert.AreEqual(typeof(int), Enum.GetUnderlyingType(typeof(ArSockReason)));
        }

        // ------------------------------------------------------------------ signatures

        class Proto { public string Name, Ret; public List<KeyValuePair<string, string>> Params; }

        static List<Proto> HeaderPrototypes()
        {
            string text = File.ReadAllText(Util.EnvFile("ARSOCK_HEADER"));
            text = Regex.Replace(text, @"/\*.*?\*/", " ", RegexOptions.Singleline);
            text = Regex.Replace(text, @"//[^\n]*", " ");
            text = Regex.Replace(text, @"^\s*#[^\n]*", " ", RegexOptions.Multiline);
            var protos = new List<Proto>();
            foreach (Match m in Regex.Matches(text, @"([A-Za-z_][\w\s\*]*?)\b(arsock_\w+)\s*\(([^()]*)\)\s*;"))
            {
                var p = new Proto { Ret = Norm(m.Groups[1].Value), Name = m.Groups[2].Value, Params = new List<KeyValuePair<string, string>>() };
                string args = m.Groups[3].Value.Trim();
                if (args != "void" && args != "")
                {
                    foreach (string a in args.Split(','))
                    {
                        var pm = Regex.Match(a.Trim(), @"^(.*?)(\w+)$", RegexOptions.Singleline);
                        Assert.IsTrue(pm.Success, "cannot parse parameter '" + a + "' of " + p.Name);
                        p.Params.Add(new KeyValuePair<string, string>(Norm(pm.Groups[1].Value), pm.Groups[2].Value));
                    }
                }
                protos.Add(p);
            }
            return protos;
        }

        static string Norm(string ctype)
        {
            string t = Regex.Replace(ctype, @"\s+", " ").Trim();
            t = Regex.Replace(t, @"\s*\*", "*");
            return t;
        }

        static readonly Dictionary<string, Type> CScalars = new Dictionary<string, Type>
        {
            { "arsock_status", typeof(int) }, { "int32_t", typeof(int) }, { "uint32_t", typeof(uint) },
            { "uint16_t", typeof(ushort) }, { "arsock_handle", typeof(ulong) }, { "uint64_t", typeof(ulong) },
            { "size_t", typeof(UIntPtr) }, { "void", typeof(void) }, { "int64_t", typeof(long) },
        };

        /// <summary>Why the C# type t does not fit the C type c, or null if it does.</summary>
        static string Mismatch(string c, Type t)
        {
            bool isConst = c.StartsWith("const ");
            string bare = isConst ? c.Substring(6) : c;
            if (!bare.EndsWith("*"))
            {
                Type want;
                if (!CScalars.TryGetValue(bare, out want)) return "unknown C type '" + c + "' (teach the test)";
                return t == want ? null : "C '" + c + "' needs C# " + want + ", not " + t;
            }
            string pointee = bare.Substring(0, bare.Length - 1).Trim();
            if (pointee.EndsWith("*")) return "pointer to pointer '" + c + "' (teach the test)";
            if (t == typeof(IntPtr)) return null; // opaque pointer fits any C pointer
            if (t.IsByRef)
            {
                if (isConst) return "C '" + c + "' is an input pointer; C# must not use ref/out";
                Type want;
                if (!CScalars.TryGetValue(pointee, out want)) return "C '" + c + "' cannot be ref/out";
                return t.GetElementType() == want ? null : "C '" + c + "' needs out " + want + ", not " + t;
            }
            if (t.IsPointer)
            {
                Type elem = t.GetElementType();
                if (pointee == "char" || pointee == "uint8_t" || pointee == "int8_t")
                    return elem == typeof(byte) ? null : "C '" + c + "' needs byte*, not " + t;
                if (pointee.StartsWith("struct ")) pointee = pointee.Substring(7);
                Type st;
                if (Structs.TryGetValue(pointee, out st)) return elem == st ? null : "C '" + c + "' needs " + st + "*, not " + t;
                Type want;
                if (CScalars.TryGetValue(pointee, out want)) return elem == want ? null : "C '" + c + "' needs " + want + "*, not " + t;
                return "unknown C pointee in '" + c + "' (teach the test)";
            }
            return "C pointer '" + c + "' mapped to non-pointer " + t;
        }

        static Dictionary<string, MethodInfo> Externs()
        {
            return typeof(ArSockNative).GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)
                .Where(m => (m.Attributes & MethodAttributes.PinvokeImpl) != 0).ToDictionary(m => m.Name);
        }

        [Test]
        public void EveryHeaderFunctionHasAMatchingExtern()
        {
            var protos = HeaderPrototypes();
            Assert.GreaterOrEqual(protos.Count, 20, "parsed too few prototypes from the header");
            var externs = Externs();
            var errors = new List<string>();
            foreach (var p in protos)
            {
                MethodInfo m;
                if (!externs.TryGetValue(p.Name, out m)) { errors.Add(p.Name + ": no extern in ArSockNative"); continue; }
                string r = Mismatch(p.Ret, m.ReturnType);
                if (r != null) errors.Add(p.Name + " return: " + r);
                var ps = m.GetParameters();
                if (ps.Length != p.Params.Count) { errors.Add(p.Name + ": " + p.Params.Count + " C parameters, " + ps.Length + " in C#"); continue; }
                for (int i = 0; i < ps.Length; i++)
                {
                    string e = Mismatch(p.Params[i].Key, ps[i].ParameterType);
                    if (e != null) errors.Add(p.Name + " parameter " + p.Params[i].Value + ": " + e);
                    if (ps[i].Name != p.Params[i].Value)
                        errors.Add(p.Name + " parameter " + i + " is '" + p.Params[i].Value + "' in C, '" + ps[i].Name + "' in C#");
                    if (ps[i].ParameterType.IsByRef && !ps[i].IsOut)
                        errors.Add(p.Name + " parameter " + ps[i].Name + ": use out (written by C), not ref");
                }
            }
            var names = new HashSet<string>(protos.Select(p => p.Name));
            foreach (string name in externs.Keys)
                if (!names.Contains(name)) errors.Add(name + ": extern in C# but not declared in include/arsock.h");
            Assert.IsEmpty(errors, string.Join("\n", errors.ToArray()));
        }

        [Test]
        public void ExternsUseCdeclExactEntryPointsAndResolve()
        {
            var externs = Externs();
            Assert.GreaterOrEqual(externs.Count, 20);
            foreach (var m in externs.Values)
            {
                var attr = (DllImportAttribute)m.GetCustomAttributes(typeof(DllImportAttribute), false).FirstOrDefault();
                Assert.IsNotNull(attr, m.Name + ": no DllImport attribute visible");
                Assert.AreEqual(CallingConvention.Cdecl, attr.CallingConvention, m.Name);
                Assert.AreEqual(m.Name, attr.EntryPoint ?? m.Name, m.Name + " entry point");
                Assert.AreEqual(ArSockNative.LibraryName, attr.Value, m.Name + " library");
                Marshal.Prelink(m); // throws EntryPointNotFoundException if the .so lacks the symbol
            }
        }

        // ------------------------------------------------------------------ load-time check

        [Test]
        public void LoadedLibraryHasTheBindingsAbiAndVersion()
        {
            ArSockNative.CheckAbi();
            Assert.AreEqual(ArSockNative.AbiVersion, ArSockNative.arsock_abi_version());
            string header = NativeLines().Where(l => l[0] == "conststr" && l[1] == "VERSION_STRING").Select(l => l[2]).Single();
            Assert.AreEqual(header, ArSockNative.LoadedVersion(), "library version differs from include/arsock.h");
        }

        [Test]
        public void VerifyAbiNamesBothVersionsAndTheLoadedVersion()
        {
            ArSockNative.VerifyAbi(7, 7, "x");
            var e = Assert.Throws<ArSockAbiException>(() => ArSockNative.VerifyAbi(1, 2, "9.8.7"));
            StringAssert.Contains("ABI version 1", e.Message);
            StringAssert.Contains("ABI version 2", e.Message);
            StringAssert.Contains("9.8.7", e.Message);
            Assert.AreEqual(1u, e.BindingAbiVersion);
            Assert.AreEqual(2u, e.LoadedAbiVersion);
            Assert.AreEqual("9.8.7", e.LoadedVersion);
        }

        static string RunProbe(string libDir, out int exitCode)
        {
            string exe = Util.EnvFile("ARSOCK_PROBE_EXE");
            Assert.IsTrue(Directory.Exists(libDir), libDir);
            var psi = new ProcessStartInfo(Environment.GetEnvironmentVariable("ARSOCK_MONO") ?? "mono", "\"" + exe + "\"")
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            psi.EnvironmentVariables["LD_LIBRARY_PATH"] = libDir;
            using (var p = Process.Start(psi))
            {
                var err = p.StandardError.ReadToEndAsync();
                string output = p.StandardOutput.ReadToEnd();
                if (!p.WaitForExit(30000)) { p.Kill(); Assert.Fail("probe did not exit"); }
                exitCode = p.ExitCode;
                return output + err.Result;
            }
        }

        [Test]
        public void ProbeWithWrongAbiLibraryGetsAClearError()
        {
            int code;
            string output = RunProbe(Util.Env("ARSOCK_FAKE_LIB_DIR"), out code);
            StringAssert.Contains("CheckAbi: ArSock.ArSockAbiException", output);
            StringAssert.Contains("ABI version 1", output);
            StringAssert.Contains("ABI version 2", output);
            StringAssert.Contains("9.9.9-fake", output);
            // through the static constructor of the idiomatic classes
            StringAssert.Contains("Bind: System.TypeInitializationException -> ArSock.ArSockAbiException", output);
            Assert.AreEqual(3, code, output);
        }

        [Test]
        public void ProbeWithoutLibraryGetsAClearError()
        {
            int code;
            string output = RunProbe(Util.Env("ARSOCK_EMPTY_LIB_DIR"), out code);
            StringAssert.Contains("CheckAbi: System.DllNotFoundException", output);
            StringAssert.Contains("Assets/Plugins", output);
            StringAssert.Contains("LD_LIBRARY_PATH", output);
            StringAssert.Contains("Connect: System.TypeInitializationException -> System.DllNotFoundException", output);
            Assert.AreEqual(3, code, output);
        }

        [Test]
        public void ProbeWithTheRealLibraryLoads()
        {
            int code;
            string output = RunProbe(Path.GetDirectoryName(Util.EnvFile("ARSOCK_LIB")), out code);
            StringAssert.Contains("CheckAbi: ok", output);
            Assert.AreEqual(0, code, output);
        }
    }
}
