#!/usr/bin/env python3
"""Checks on the Unity package that need no Unity.

    python3 bindings/unity/tests/test_package.py [--package DIR] [--tarball TGZ]

Without --package it checks dist/unity/com.arsock.unity (built by scripts/package.sh), or, if
that does not exist, stages the package from whatever dist/ holds into a temporary folder.

  * package.json and Runtime/ArSock.asmdef are valid JSON with the fields Unity needs
    (name, version = Cargo.toml's, samples that exist; allowUnsafeCode);
  * Runtime/*.cs are byte-for-byte the files of bindings/csharp/ (one source of truth) and the
    sample is examples/unity/;
  * every file and folder has a .meta, every .meta a well-formed GUID, all GUIDs unique, no
    .meta without its asset;
  * every native plugin is enabled for exactly one player platform and CPU (plus the editor of
    that same OS and CPU for desktop libraries), and the file really is a binary for that CPU;
  * the runtime and the sample compile with `mcs -unsafe` against the UnityEngine stand-in
    (bindings/csharp/tests/UnityShim.cs), once as for desktop and once as for iOS;
  * the tarball holds exactly the package's files under package/.
Last line: "unity-package: N passed, N failed".
"""

import argparse
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
NAME = "com.arsock.unity"

passed = 0
failed = 0


def check(ok, what, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok: {what}")
    else:
        failed += 1
        print(f"FAIL: {what}{': ' + detail if detail else ''}", file=sys.stderr)
    return ok


def read(path, mode="r"):
    with open(path, mode) as fh:
        return fh.read()


# ------------------------------------------------------------------ binaries: which CPU
ELF_MACHINE = {62: "x86_64", 183: "ARM64", 40: "ARMv7", 3: "x86"}
MACHO_CPU = {0x01000007: "x86_64", 0x0100000C: "ARM64"}
PE_MACHINE = {0x8664: "x86_64", 0xAA64: "ARM64", 0x14C: "x86"}


def object_cpu(data):
    """(format, cpu) of one object or library image, or None."""
    if data[:4] == b"\x7fELF":
        endian = "<" if data[5] == 1 else ">"
        return "ELF", ELF_MACHINE.get(struct.unpack(endian + "H", data[18:20])[0])
    if data[:4] in (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe"):
        return "Mach-O", MACHO_CPU.get(struct.unpack("<I", data[4:8])[0])
    if data[:2] == b"MZ" and len(data) > 0x40:
        pe = struct.unpack("<I", data[0x3C:0x40])[0]
        if data[pe:pe + 4] == b"PE\0\0":
            return "PE", PE_MACHINE.get(struct.unpack("<H", data[pe + 4:pe + 6])[0])
    return None


def archive_cpus(data):
    """The set of (format, cpu) of the object members of an ar archive (GNU or BSD)."""
    cpus = set()
    if data[:8] != b"!<arch>\n":
        return cpus
    pos = 8
    while pos + 60 <= len(data):
        header = data[pos:pos + 60]
        name = header[:16].decode("ascii", "replace").strip()
        size = int(header[48:58].decode().strip() or 0)
        body = data[pos + 60:pos + 60 + size]
        if name.startswith("#1/"):  # BSD: the name follows the header
            n = int(name[3:])
            body = body[n:]
        found = object_cpu(body)
        if found and found[1]:
            cpus.add(found)
        pos += 60 + size + (size & 1)
    return cpus


# ------------------------------------------------------------------ .meta parsing
def meta_guid(text):
    m = re.search(r"^guid: (\S+)$", text, re.M)
    return m.group(1) if m else None


def plugin_platforms(text):
    """[(group, platform, enabled, settings dict)] of a PluginImporter .meta."""
    out = []
    blocks = re.split(r"^  - first:\n", text, flags=re.M)[1:]
    for b in blocks:
        key = re.match(r"\s+(\S*):\s*(\S*)\n", b)
        enabled = re.search(r"^      enabled: (\d)", b, re.M)
        settings = dict(re.findall(r"^        ([^:\n]+): ?(.*)$", b, re.M))
        out.append((key.group(1), key.group(2), enabled and enabled.group(1) == "1", settings))
    return out


EXPECTED_FORMAT = {".so": "ELF", ".dylib": "Mach-O", ".dll": "PE"}
EXPECTED_IOS_FORMAT = "Mach-O"


def check_plugin(pkg, rel):
    path = os.path.join(pkg, rel)
    text = read(path + ".meta")
    if not check("PluginImporter:" in text, f"{rel}: .meta is a PluginImporter"):
        return
    entries = plugin_platforms(text)
    players = [(g, p, s) for g, p, on, s in entries if on and g not in ("Editor", "Any", "")]
    editor = [(s.get("OS"), s.get("CPU")) for g, p, on, s in entries if on and g == "Editor"]
    any_on = [1 for g, p, on, s in entries if on and g in ("Any", "")]
    if not check(len(players) == 1 and not any_on, f"{rel}: enabled for exactly one player platform",
                 f"players {[(g, p) for g, p, _ in players]}, Any enabled: {bool(any_on)}"):
        return
    group, plat, settings = players[0]
    cpu = settings.get("CPU")
    check(cpu not in (None, "", "None", "AnyCPU"), f"{rel}: {group}/{plat} names one CPU ({cpu})")
    desktop_os = {"Win64": "Windows", "OSXUniversal": "OSX", "Linux64": "Linux"}.get(plat)
    if desktop_os:
        check(editor == [(desktop_os, cpu)], f"{rel}: editor enabled only on {desktop_os} {cpu}", f"editor: {editor}")
    else:
        check(editor == [], f"{rel}: not enabled for the editor (player-only platform {plat})", f"editor: {editor}")
    # Exclude flags agree with the enabled entries.
    excl = {k[len("Exclude "):]: v for g, p, on, s in entries if g == "" for k, v in s.items() if k.startswith("Exclude ")}
    wrong = [k for k, v in excl.items() if (v == "0") != (k == plat or (k == "Editor" and bool(desktop_os)))]
    check(not wrong, f"{rel}: Exclude flags match", f"wrong: {wrong}")
    # The binary is what the settings say.
    data = read(path, "rb")
    ext = os.path.splitext(rel)[1]
    if ext == ".a":
        fmt = EXPECTED_IOS_FORMAT if group == "iPhone" else "ELF"
        cpus = archive_cpus(data)
        check(cpus == {(fmt, cpu)}, f"{rel}: static library of {fmt} {cpu} objects", f"found {cpus}")
        if group == "iPhone":
            check("__Internal" in read(os.path.join(pkg, "Runtime", "ArSock.cs")),
                  f"{rel}: the binding imports __Internal on iOS")
    else:
        found = object_cpu(data)
        check(found == (EXPECTED_FORMAT.get(ext), cpu), f"{rel}: {EXPECTED_FORMAT.get(ext)} {cpu} binary", f"found {found}")


# ------------------------------------------------------------------ the checks
def check_json(pkg):
    try:
        manifest = json.loads(read(os.path.join(pkg, "package.json")))
    except ValueError as e:
        check(False, "package.json is valid JSON", str(e))
        return
    check(True, "package.json is valid JSON")
    check(manifest.get("name") == NAME, f"package.json name is {NAME}", str(manifest.get("name")))
    cargo_version = re.search(r'^version = "(.*)"', read(os.path.join(ROOT, "Cargo.toml")), re.M).group(1)
    check(manifest.get("version") == cargo_version, f"package.json version = Cargo.toml's ({cargo_version})",
          str(manifest.get("version")))
    check(re.fullmatch(r"\d{4}\.\d", str(manifest.get("unity", ""))) is not None, "package.json names a Unity version")
    for s in manifest.get("samples", []):
        check(os.path.isdir(os.path.join(pkg, s.get("path", ""))) and s.get("displayName"),
              f"sample '{s.get('displayName')}' at {s.get('path')} exists")
    try:
        asmdef = json.loads(read(os.path.join(pkg, "Runtime", "ArSock.asmdef")))
    except ValueError as e:
        check(False, "Runtime/ArSock.asmdef is valid JSON", str(e))
        return
    check(asmdef.get("allowUnsafeCode") is True and asmdef.get("name") == "ArSock",
          "Runtime/ArSock.asmdef: assembly ArSock with allowUnsafeCode")


def check_sources(pkg):
    cs_dir = os.path.join(ROOT, "bindings", "csharp")
    want = sorted(f for f in os.listdir(cs_dir) if f.endswith(".cs"))
    have = sorted(f for f in os.listdir(os.path.join(pkg, "Runtime")) if f.endswith(".cs"))
    check(want == have, f"Runtime/ holds the {len(want)} .cs files of bindings/csharp/", f"{have} vs {want}")
    same = [f for f in want if f in have and read(os.path.join(cs_dir, f), "rb") == read(os.path.join(pkg, "Runtime", f), "rb")]
    check(same == want, "Runtime/*.cs are byte-identical to bindings/csharp/*.cs")
    ex = os.path.join(ROOT, "examples", "unity", "ArSockPoseSender.cs")
    sample = os.path.join(pkg, "Samples~", "PoseSender", "ArSockPoseSender.cs")
    check(os.path.isfile(sample) and read(ex, "rb") == read(sample, "rb"), "the sample is examples/unity/ArSockPoseSender.cs")


def check_metas(pkg):
    guids = {}
    missing, bad, orphans = [], [], []
    for dirpath, dirnames, filenames in os.walk(pkg):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, pkg)
            if name.endswith(".meta"):
                if not os.path.exists(path[:-5]):
                    orphans.append(rel)
                    continue
                text = read(path)
                g = meta_guid(text)
                if not text.startswith("fileFormatVersion: 2\n") or not g or not re.fullmatch(r"[0-9a-f]{32}", g):
                    bad.append(rel)
                else:
                    guids.setdefault(g, []).append(rel)
            elif not os.path.exists(path + ".meta"):
                missing.append(rel)
    check(not missing, f"every file and folder has a .meta ({sum(len(v) for v in guids.values())} metas)", f"missing: {missing}")
    check(not bad, "every .meta has fileFormatVersion 2 and a 32-hex-digit GUID", f"bad: {bad}")
    check(not orphans, "no .meta without its asset", f"orphans: {orphans}")
    dups = {g: v for g, v in guids.items() if len(v) > 1}
    check(not dups, "GUIDs are unique", f"duplicates: {dups}")


def check_plugins(pkg):
    plugins_dir = os.path.join(pkg, "Runtime", "Plugins")
    libs = []
    for dirpath, _, filenames in os.walk(plugins_dir):
        libs += [os.path.relpath(os.path.join(dirpath, f), pkg) for f in filenames if not f.endswith(".meta")]
    if not libs:
        print("SKIP: no native plugins in the package (run scripts/package.sh first)")
        return
    for rel in sorted(libs):
        check_plugin(pkg, rel)
    # Two plugins for the same platform and CPU would collide in Unity.
    seen = {}
    for rel in libs:
        for g, p, on, s in plugin_platforms(read(os.path.join(pkg, rel) + ".meta")):
            if on and g not in ("Any", ""):
                seen.setdefault((g, p, s.get("OS"), s.get("CPU")), []).append(rel)
    clash = {k: v for k, v in seen.items() if len(v) > 1}
    check(not clash, f"no two of the {len(libs)} plugins share a platform and CPU", str(clash))


def check_compiles(pkg):
    mcs = shutil.which("mcs")
    if not check(mcs is not None, "mcs is installed (apt: mono-mcs)"):
        return
    shim = os.path.join(ROOT, "bindings", "csharp", "tests", "UnityShim.cs")
    runtime = sorted(os.path.join(pkg, "Runtime", f) for f in os.listdir(os.path.join(pkg, "Runtime")) if f.endswith(".cs"))
    samples = []
    for dirpath, _, filenames in os.walk(os.path.join(pkg, "Samples~")):
        samples += [os.path.join(dirpath, f) for f in filenames if f.endswith(".cs")]
    with tempfile.TemporaryDirectory() as tmp:
        for label, defines in [("desktop", []), ("iOS player", ["-define:UNITY_IOS"])]:
            engine = os.path.join(tmp, "UnityEngine.dll")
            r = subprocess.run([mcs, "-nologo", "-target:library", "-out:" + engine, shim], capture_output=True, text=True)
            if not check(r.returncode == 0, "the UnityEngine stand-in compiles", r.stdout + r.stderr):
                return
            out = os.path.join(tmp, f"ArSock-{len(defines)}.dll")
            r = subprocess.run([mcs, "-nologo", "-unsafe", "-warnaserror", "-target:library", *defines,
                                "-r:" + engine, "-out:" + out, *runtime], capture_output=True, text=True)
            check(r.returncode == 0, f"Runtime/*.cs compile with mcs -unsafe ({label})", r.stdout + r.stderr)
            r = subprocess.run([mcs, "-nologo", "-warnaserror", "-target:library", *defines, "-r:" + engine,
                                "-r:" + out, "-out:" + os.path.join(tmp, f"Sample-{len(defines)}.dll"), *samples],
                               capture_output=True, text=True)
            check(r.returncode == 0, f"Samples~ compile against the runtime ({label})", r.stdout + r.stderr)


def check_tarball(pkg, tgz):
    if not tgz or not os.path.isfile(tgz):
        print(f"SKIP: no tarball to check ({tgz})")
        return
    want = set()
    for dirpath, _, filenames in os.walk(pkg):
        want |= {"package/" + os.path.relpath(os.path.join(dirpath, f), pkg).replace(os.sep, "/") for f in filenames}
    with tarfile.open(tgz, "r:gz") as tar:
        members = {m.name: m for m in tar.getmembers()}
        same = all(m.isfile() and tar.extractfile(m).read() == read(os.path.join(pkg, n[len("package/"):]), "rb")
                   for n, m in members.items() if n in want)
    check(set(members) == want and same, f"{os.path.basename(tgz)} holds the package's {len(want)} files under package/",
          f"extra {sorted(set(members) - want)[:5]}, missing {sorted(want - set(members))[:5]}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--package")
    ap.add_argument("--tarball")
    args = ap.parse_args()
    tmp = None
    pkg = args.package
    tgz = args.tarball
    version = json.loads(read(os.path.join(ROOT, "bindings", "unity", "package.json")))["version"]
    if not pkg:
        pkg = os.path.join(ROOT, "dist", "unity", NAME)
        tgz = tgz or os.path.join(ROOT, "dist", f"{NAME}-{version}.tgz")
        if not os.path.isdir(pkg):
            tmp = tempfile.mkdtemp()
            dist = os.path.join(tmp, "dist")
            if os.path.isdir(os.path.join(ROOT, "dist")):
                shutil.copytree(os.path.join(ROOT, "dist"), dist)
            else:
                os.makedirs(dist)
            subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "platforms", "unity_package.py"),
                            "--dist", dist], check=True)
            pkg = os.path.join(dist, "unity", NAME)
            tgz = os.path.join(dist, f"{NAME}-{version}.tgz")
    print(f"checking {pkg}")
    try:
        check_json(pkg)
        check_sources(pkg)
        check_metas(pkg)
        check_plugins(pkg)
        check_compiles(pkg)
        check_tarball(pkg, tgz)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"unity-package: {passed} passed, {failed} failed")
    sys.exit(1 if failed or not passed else 0)


if __name__ == "__main__":
    main()
