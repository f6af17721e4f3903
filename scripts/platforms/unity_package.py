#!/usr/bin/env python3
"""Stage the Unity package (UPM) com.arsock.unity and pack its tarball.

    python3 scripts/platforms/unity_package.py [--dist DIST] [--branch NAME]

Sources, so that nothing exists twice in the repository:
  bindings/unity/              package.json, README.md, Runtime/ArSock.asmdef (committed)
  bindings/csharp/*.cs         the C# binding -> Runtime/ (every top-level .cs file)
  examples/unity/*.cs          the MonoBehaviour sample -> Samples~/PoseSender/
  DIST/<platform>/...          native libraries built by scripts/package.sh -> Runtime/Plugins/

Writes DIST/unity/com.arsock.unity (the package as Unity sees it, every file and folder with
a .meta) and DIST/com.arsock.unity-<version>.tgz (npm layout: everything under package/, as
"Add package from tarball" expects). GUIDs are derived from each file's path in the package,
so they stay the same from build to build and references in user projects keep working.

--branch NAME also commits the staged package as the tip of the local git branch NAME (work
tree and index untouched), for "Add package from git URL" (<repo>.git#NAME) once pushed.
"""

import argparse
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NAME = "com.arsock.unity"

# dist platform dir -> (Unity folder under Runtime/Plugins, library file names, import settings)
# Settings: the Editor OS/CPU (None: not for the editor) and the one player platform + CPU.
PLUGINS = [
    ("linux-x86_64", "Linux/x86_64", ["libarsock.so"], ("Linux", "x86_64"), ("Standalone", "Linux64", "x86_64")),
    ("windows-x86_64", "Windows/x86_64", ["arsock.dll"], ("Windows", "x86_64"), ("Standalone", "Win64", "x86_64")),
    ("macos-arm64", "macOS/arm64", ["libarsock.dylib"], ("OSX", "ARM64"), ("Standalone", "OSXUniversal", "ARM64")),
    ("macos-x86_64", "macOS/x86_64", ["libarsock.dylib"], ("OSX", "x86_64"), ("Standalone", "OSXUniversal", "x86_64")),
    ("ios-arm64", "iOS", ["libarsock.a"], None, ("iPhone", "iOS", "ARM64")),
    ("android-arm64-v8a", "Android/arm64-v8a", ["libarsock.so"], None, ("Android", "Android", "ARM64")),
    ("android-armeabi-v7a", "Android/armeabi-v7a", ["libarsock.so"], None, ("Android", "Android", "ARMv7")),
    ("android-x86_64", "Android/x86_64", ["libarsock.so"], None, ("Android", "Android", "X86_64")),
]
# Every player platform a plugin .meta names, so each one says explicitly where it is off.
PLAYERS = [("Standalone", "Linux64"), ("Standalone", "OSXUniversal"), ("Standalone", "Win"),
           ("Standalone", "Win64"), ("Android", "Android"), ("iPhone", "iOS")]


def guid(rel):
    """Stable 32-hex-digit GUID of a path inside the package."""
    return hashlib.md5(f"{NAME}/{rel}".encode()).hexdigest()


def tail():
    return "  userData: \n  assetBundleName: \n  assetBundleVariant: \n"


def simple_meta(rel, importer, folder=False):
    head = f"fileFormatVersion: 2\nguid: {guid(rel)}\n"
    if folder:
        head += "folderAsset: yes\n"
    body = f"{importer}:\n  externalObjects: {{}}\n"
    if importer == "MonoImporter":
        body += ("  serializedVersion: 2\n  defaultReferences: []\n  executionOrder: 0\n"
                 "  icon: {instanceID: 0}\n")
    return head + body + tail()


def plugin_meta(rel, editor, player):
    """PluginImporter settings: enabled for the editor on `editor` (OS, CPU) if given and for
    exactly one player platform and CPU; everything else excluded."""
    group, plat, cpu = player
    lines = [
        "fileFormatVersion: 2", f"guid: {guid(rel)}", "PluginImporter:", "  externalObjects: {}",
        "  serializedVersion: 2", "  iconMap: {}", "  executionOrder: {}", "  defineConstraints: []",
        "  isPreloaded: 0", "  isOverridable: 0", "  isExplicitlyReferenced: 0", "  validateReferences: 1",
        "  platformData:",
        "  - first:", "      : Any", "    second:", "      enabled: 0", "      settings:",
    ]
    excl = {f"Exclude {p}": 0 if (g, p) == (group, plat) else 1 for g, p in PLAYERS}
    excl["Exclude Editor"] = 0 if editor else 1
    lines += [f"        {k}: {v}" for k, v in sorted(excl.items())]
    lines += ["  - first:", "      Any: ", "    second:", "      enabled: 0", "      settings: {}"]
    lines += ["  - first:", "      Editor: Editor", "    second:", f"      enabled: {1 if editor else 0}",
              "      settings:", f"        CPU: {editor[1] if editor else 'AnyCPU'}",
              "        DefaultValueInitialized: true", f"        OS: {editor[0] if editor else 'AnyOS'}"]
    for g, p in PLAYERS:
        on = (g, p) == (group, plat)
        lines += ["  - first:", f"      {g}: {p}", "    second:", f"      enabled: {1 if on else 0}", "      settings:"]
        if g == "iPhone":
            lines += ["        AddToEmbeddedBinaries: false", f"        CPU: {cpu if on else 'AnyCPU'}",
                      "        CompileFlags: ", "        FrameworkDependencies: "]
        else:
            lines += [f"        CPU: {cpu if on else 'None'}"]
    return "\n".join(lines) + "\n" + tail()


def file_meta(rel):
    ext = os.path.splitext(rel)[1]
    if ext == ".cs":
        return simple_meta(rel, "MonoImporter")
    if ext == ".asmdef":
        return simple_meta(rel, "AssemblyDefinitionImporter")
    if rel == "package.json":
        return simple_meta(rel, "PackageManifestImporter")
    if ext in (".md", ".txt", ".json"):
        return simple_meta(rel, "TextScriptImporter")
    return simple_meta(rel, "DefaultImporter")


def strip_copy(src, dst):
    """Copy a library without debug information (llvm-strip from rustup's llvm-tools if there,
    else the system's); a plain copy if no strip tool handles the file."""
    shutil.copyfile(src, dst)
    flags = ["--strip-debug"] if dst.endswith(".a") else (["-x"] if dst.endswith(".dylib") else ["--strip-all"])
    for tool in strip_tools():
        if subprocess.run([tool, *flags, dst], capture_output=True).returncode == 0:
            return
        shutil.copyfile(src, dst)


def strip_tools():
    tools = []
    try:
        sysroot = subprocess.run(["rustc", "--print", "sysroot"], capture_output=True, text=True).stdout.strip()
        host = [l.split()[1] for l in subprocess.run(["rustc", "-vV"], capture_output=True, text=True).stdout.splitlines()
                if l.startswith("host:")][0]
        tools.append(os.path.join(sysroot, "lib", "rustlib", host, "bin", "llvm-strip"))
    except (OSError, IndexError):
        pass
    tools.append("llvm-strip")
    return [t for t in tools if shutil.which(t) or os.path.isfile(t)]


def stage(dist, out):
    """Build the package folder `out`; returns the list of (plugin rel path, dist file)."""
    if os.path.exists(out):
        shutil.rmtree(out)
    src = os.path.join(ROOT, "bindings", "unity")
    os.makedirs(os.path.join(out, "Runtime"))
    for rel in ["package.json", "README.md", os.path.join("Runtime", "ArSock.asmdef")]:
        shutil.copyfile(os.path.join(src, rel), os.path.join(out, rel))
    cs_dir = os.path.join(ROOT, "bindings", "csharp")
    runtime_cs = sorted(f for f in os.listdir(cs_dir) if f.endswith(".cs"))
    if not runtime_cs:
        sys.exit(f"no .cs files in {cs_dir}")
    for f in runtime_cs:
        shutil.copyfile(os.path.join(cs_dir, f), os.path.join(out, "Runtime", f))
    sample_dir = os.path.join(out, "Samples~", "PoseSender")
    os.makedirs(sample_dir)
    ex_dir = os.path.join(ROOT, "examples", "unity")
    for f in sorted(os.listdir(ex_dir)):
        if f.endswith(".cs"):
            shutil.copyfile(os.path.join(ex_dir, f), os.path.join(sample_dir, f))

    plugins = []
    metas = {}
    for platform, folder, files, editor, player in PLUGINS:
        for f in files:
            lib = os.path.join(dist, platform, f)
            if not os.path.isfile(lib):
                continue
            rel = "/".join(["Runtime", "Plugins", folder, f])
            os.makedirs(os.path.join(out, os.path.dirname(rel)), exist_ok=True)
            strip_copy(lib, os.path.join(out, rel))
            metas[rel] = plugin_meta(rel, editor, player)
            plugins.append((rel, lib))

    # A .meta for every file and folder (Unity ignores meta-less assets in immutable packages).
    for dirpath, dirnames, filenames in os.walk(out):
        dirnames.sort()
        for name in sorted(dirnames) + sorted(filenames):
            if name.endswith(".meta"):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, out).replace(os.sep, "/")
            if os.path.isdir(path):
                text = simple_meta(rel, "DefaultImporter", folder=True)
            else:
                text = metas.get(rel) or file_meta(rel)
            with open(path + ".meta", "w", newline="\n") as fh:
                fh.write(text)
    return plugins


def pack(out, tgz):
    """npm-style tarball: every entry under package/, sorted, fixed owner and time."""
    with tarfile.open(tgz, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        entries = []
        for dirpath, dirnames, filenames in os.walk(out):
            dirnames.sort()
            for f in sorted(filenames):
                entries.append(os.path.join(dirpath, f))
        for path in sorted(entries):
            rel = os.path.relpath(path, out).replace(os.sep, "/")
            info = tarfile.TarInfo("package/" + rel)
            with open(path, "rb") as fh:
                data = fh.read()
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))


def commit_branch(out, branch):
    """Commit the staged folder as the new tip of `branch` without touching work tree/index."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, GIT_INDEX_FILE=os.path.join(tmp, "index"))
        git = ["git", "-C", ROOT]
        subprocess.run([*git, "--work-tree", out, "add", "-A", "-f", "."], env=env, check=True)
        tree = subprocess.run([*git, "write-tree"], env=env, check=True, capture_output=True, text=True).stdout.strip()
        parent = subprocess.run([*git, "rev-parse", "-q", "--verify", f"refs/heads/{branch}"],
                                capture_output=True, text=True).stdout.strip()
        head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        args = [*git, "commit-tree", tree, "-m", f"{NAME} staged from {head}"]
        if parent:
            args += ["-p", parent]
        commit = subprocess.run(args, env=env, check=True, capture_output=True, text=True).stdout.strip()
        subprocess.run([*git, "update-ref", f"refs/heads/{branch}", commit], check=True)
        print(f"branch {branch} -> {commit}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dist", default=os.path.join(ROOT, "dist"))
    ap.add_argument("--branch")
    args = ap.parse_args()
    dist = os.path.abspath(args.dist)
    with open(os.path.join(ROOT, "bindings", "unity", "package.json")) as fh:
        version = json.load(fh)["version"]
    out = os.path.join(dist, "unity", NAME)
    plugins = stage(dist, out)
    tgz = os.path.join(dist, f"{NAME}-{version}.tgz")
    pack(out, tgz)
    for rel, lib in plugins:
        print(f"plugin {rel} <- {os.path.relpath(lib, dist)}")
    print(f"staged {out} ({len(plugins)} plugins); tarball {tgz} ({os.path.getsize(tgz)} bytes)")
    if args.branch:
        commit_branch(out, args.branch)


if __name__ == "__main__":
    main()
