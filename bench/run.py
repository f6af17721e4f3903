#!/usr/bin/env python3
"""Side-by-side benchmark: arsock vs raw TCP, ZeroMQ, nng and ENet on loopback.

    python3 bench/run.py            full run (5 repetitions, both modes); regenerates
                                    docs/BENCHMARKS.md, docs/benchmarks.svg and
                                    bench/results/latest.json
    python3 bench/run.py --smoke    tiny counts, 1 repetition, writes only to bench/out/;
                                    exits non-zero if any peer program fails. It checks that
                                    every peer builds and runs; its numbers are too small to
                                    judge, so it shows no target verdicts.

See bench/README.md. Standard library only.
"""

import argparse
import datetime
import json
import os
import platform
import selectors
import shutil
import signal
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
OUT = os.path.join(BENCH, "out")
BIN = os.path.join(OUT, "bin")
LIBDIR = os.path.join(ROOT, "target", "release")

# name, label, binary, link flags
CONTENDERS = [
    ("raw", "raw TCP", "peer_raw", []),
    ("arsock", "arsock", "peer_arsock",
     ["-I" + os.path.join(ROOT, "include"), "-L" + LIBDIR, "-larsock", "-Wl,-rpath," + LIBDIR]),
    ("zeromq", "ZeroMQ", "peer_zmq", ["-lzmq"]),
    ("nng", "nng", "peer_nng", ["-lnng"]),
    ("enet", "ENet", "peer_enet", ["-lenet"]),
]
LABEL = {c[0]: c[1] for c in CONTENDERS}
VECTORED = ("raw", "arsock")  # contenders with a many-messages-per-call send

# key, label, peer test, message size, metrics (name, unit, higher_is_better)
TESTS = [
    ("rtt64", "Round trip 64 B", "rtt", 64,
     [("p50_us", "p50 µs", False), ("p99_us", "p99 µs", False)]),
    ("stream64", "Stream 64 B, one call per message", "stream", 64,
     [("msgs_per_s", "msgs/s", True), ("mb_per_s", "MB/s", True)]),
    ("vec64", "Stream 64 B, 64 messages per call", "vec", 64,
     [("msgs_per_s", "msgs/s", True), ("mb_per_s", "MB/s", True)]),
    ("stream64k", "Stream 64 KiB messages", "stream", 65536,
     [("msgs_per_s", "msgs/s", True), ("mb_per_s", "MB/s", True)]),
]
TEST_BY_KEY = {t[0]: t for t in TESTS}

# (count, warm-up) per test
COUNTS_FULL = {"rtt64": (20000, 2000), "stream64": (500000, 50000),
               "vec64": (4000000, 128000), "stream64k": (20000, 1000)}
COUNTS_SMOKE = {"rtt64": (200, 20), "stream64": (2000, 200),
                "vec64": (2048, 128), "stream64k": (200, 20)}

MODES = ["unpinned", "pinned"]
SMOKE_NOTICE = ("SMOKE RUN: counts are tiny and each cell is one repetition, so these numbers are "
                "too small to judge speed; targets are judged only by the full run "
                "(python3 bench/run.py).")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def out_of(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


# ------------------------------------------------------------------------------ setup

def ensure_packages(install):
    """The peers' headers and tools. The Debian packages come from scripts/packages.txt, the
    list the tests and CI share: scripts/deps.sh installs what is missing (as root with apt)
    or prints the command and fails."""
    headers = ["/usr/include/zmq.h", "/usr/include/nng/nng.h", "/usr/include/enet/enet.h"]
    if not all(os.path.exists(h) for h in headers):
        if not install:
            sys.exit("missing peer headers (" + ", ".join(h for h in headers if not os.path.exists(h))
                     + "); install them with: bash scripts/deps.sh")
        log("installing the Debian packages of scripts/packages.txt: bash scripts/deps.sh")
        if subprocess.run(["bash", os.path.join(ROOT, "scripts", "deps.sh")]).returncode != 0:
            sys.exit("bash scripts/deps.sh failed (see above)")
    for tool, package in (("gcc", "gcc"), ("cargo", "Rust, https://rustup.rs"),
                          ("taskset", "util-linux"), ("strip", "binutils")):
        if not shutil.which(tool):
            sys.exit(f"required tool not found: {tool} ({package})")


def build(contenders):
    log("building release library: cargo build --release")
    sh(["cargo", "build", "--release"], cwd=ROOT)
    os.makedirs(BIN, exist_ok=True)
    for name, _, binary, flags in CONTENDERS:
        if name not in contenders:
            continue
        src = os.path.join(BENCH, "peers", binary + ".c")
        cmd = ["gcc", "-O2", "-Wall", "-o", os.path.join(BIN, binary), src] + flags
        log("  " + " ".join(cmd))
        sh(cmd)


def lib_sizes():
    res = {}
    os.makedirs(OUT, exist_ok=True)
    for f in ("libarsock.so", "libarsock.a"):
        src = os.path.join(LIBDIR, f)
        dst = os.path.join(OUT, "stripped-" + f)
        shutil.copyfile(src, dst)
        sh(["strip", dst])
        res[f] = {"unstripped": os.path.getsize(src), "stripped": os.path.getsize(dst)}
    return res


def build_time():
    tdir = os.path.join(OUT, "target-timing")
    shutil.rmtree(tdir, ignore_errors=True)
    log(f"timing a clean release build: CARGO_TARGET_DIR={os.path.relpath(tdir, ROOT)} cargo build --release")
    t0 = time.monotonic()
    sh(["cargo", "build", "--release"], cwd=ROOT, env=dict(os.environ, CARGO_TARGET_DIR=tdir),
       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - t0


def machine_info():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass

    def deb(pkg):
        return out_of(["dpkg-query", "-W", "-f=${Version}", pkg])

    return {
        "nproc": out_of(["nproc"]) or str(os.cpu_count()),
        "cpu": model or platform.processor(),
        "kernel": platform.release(),
        "rustc": out_of(["rustc", "--version"]),
        "gcc": out_of(["gcc", "--version"]).splitlines()[0] if out_of(["gcc", "--version"]) else "",
        "libzmq": deb("libzmq3-dev"),
        "nng": deb("libnng-dev"),
        "enet": deb("libenet-dev"),
        "arsock": out_of(["git", "-C", ROOT, "describe", "--always", "--dirty"]),
    }


# ------------------------------------------------------------------------------ one measurement

def kill_group(p):
    if p and p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def last_json(text):
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                return None
    return None


def run_pair(contender, test, mode, count, warm, timeout):
    """Run server and client of one contender; returns (result dict or None, error text)."""
    binary = os.path.join(BIN, dict((c[0], c[2]) for c in CONTENDERS)[contender])
    _, _, ptest, size, _ = TEST_BY_KEY[test]
    pre = ["taskset", "-c", "0"] if mode == "pinned" else []
    args = [ptest, str(size), str(count), str(warm)]
    env = dict(os.environ, BENCH_PEER_TIMEOUT=str(int(timeout) + 5))
    deadline = time.monotonic() + timeout
    srv = cli = None
    try:
        srv = subprocess.Popen(pre + [binary, "server"] + args, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=env, start_new_session=True)
        # Read "PORT n" from the server without blocking past the deadline.
        sel = selectors.DefaultSelector()
        sel.register(srv.stdout, selectors.EVENT_READ)
        head = b""
        while b"\n" not in head:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(timeout=left):
                return None, "server did not report its port in time"
            chunk = os.read(srv.stdout.fileno(), 4096)
            if not chunk:
                err = srv.stderr.read().decode(errors="replace")
                return None, f"server exited early: {err.strip()}"
            head += chunk
        sel.close()
        first, rest = head.split(b"\n", 1)
        if not first.startswith(b"PORT "):
            return None, f"unexpected server output {first!r}"
        port = first.split()[1].decode()
        cli = subprocess.Popen(pre + [binary, "client"] + args + [port], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=env, start_new_session=True)
        try:
            cout, cerr = cli.communicate(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            return None, f"client timed out after {timeout:.0f} s"
        try:
            sout, serr = srv.communicate(timeout=max(10.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            return None, "server did not finish in time"
        sout = rest + sout
        cres, sres = last_json(cout.decode(errors="replace")), last_json(sout.decode(errors="replace"))
        problems = []
        if cli.returncode != 0:
            problems.append(f"client exit {cli.returncode}: {cerr.decode(errors='replace').strip()}")
        if srv.returncode != 0:
            problems.append(f"server exit {srv.returncode}: {serr.decode(errors='replace').strip()}")
        if not (cres and cres.get("ok")):
            problems.append("client printed no result")
        if not (sres and sres.get("ok")):
            problems.append("server printed no result")
        elif sres.get("received") != count + warm:
            problems.append(f"server received {sres.get('received')} of {count + warm}")
        if problems:
            return None, "; ".join(problems)
        cres["server"] = sres
        return cres, ""
    finally:
        kill_group(cli)
        kill_group(srv)


# ------------------------------------------------------------------------------ statistics

def summarize(runs, contenders, modes, tests):
    summary = {}
    for mode in modes:
        summary[mode] = {}
        for key, _, _, _, metrics in TESTS:
            if key not in tests:
                continue
            entry = summary[mode][key] = {}
            for c in contenders:
                rs = [r for r in runs if r["mode"] == mode and r["test"] == key and r["contender"] == c]
                if not rs:
                    continue
                ok = [r["result"] for r in rs if r["result"]]
                e = entry[c] = {"runs": len(rs), "failed": len(rs) - len(ok)}
                for m, _, _ in metrics:
                    vals = [r[m] for r in ok]
                    if vals:
                        e[m] = {"median": statistics.median(vals), "min": min(vals), "max": max(vals),
                                "n": len(vals)}
            base = entry.get("raw", {})
            for c, e in entry.items():
                for m, _, _ in metrics:
                    if m in e and m in base and base[m]["median"]:
                        e[m]["ratio_to_raw"] = e[m]["median"] / base[m]["median"]
    return summary


def med(summary, mode, test, c, m):
    try:
        return summary[mode][test][c][m]["median"]
    except KeyError:
        return None


def spread(summary, mode, test, cs, m):
    """Largest max/min over the repetitions of the given contenders' metric (1.0 = steady)."""
    worst = 1.0
    for c in cs:
        try:
            s = summary[mode][test][c][m]
        except KeyError:
            continue
        if s["min"] > 0:
            worst = max(worst, s["max"] / s["min"])
    return worst


NOISY = 1.5  # a target whose inputs vary more than this over the repetitions is flagged


def evaluate_targets(summary, sizes, modes):
    targets = []

    def add(desc, mode, value, limit, met, detail, test=None, cs=(), m=None):
        sp = spread(summary, mode, test, cs, m) if test else 1.0
        targets.append({"target": desc, "mode": mode, "value": value, "limit": limit,
                        "met": met, "detail": detail, "spread": sp})

    for mode in modes:
        raw50, ars50 = med(summary, mode, "rtt64", "raw", "p50_us"), med(summary, mode, "rtt64", "arsock", "p50_us")
        raw99, ars99 = med(summary, mode, "rtt64", "raw", "p99_us"), med(summary, mode, "rtt64", "arsock", "p99_us")
        if raw50 and ars50:
            r = ars50 / raw50
            add("Round trip 64 B: arsock p50 ≤ 1.05 × raw TCP", mode, r, 1.05, r <= 1.05,
                f"{ars50:.1f} µs vs {raw50:.1f} µs", "rtt64", ("raw", "arsock"), "p50_us")
        if raw99 and ars99:
            r = ars99 / raw99
            add("Round trip 64 B: arsock p99 ≤ 1.15 × raw TCP", mode, r, 1.15, r <= 1.15,
                f"{ars99:.1f} µs vs {raw99:.1f} µs", "rtt64", ("raw", "arsock"), "p99_us")
        others = [(c, med(summary, mode, "rtt64", c, "p50_us")) for c in ("zeromq", "nng", "enet")]
        others = [(c, v) for c, v in others if v]
        if ars50 and others:
            worst = min(v for _, v in others)
            add("Round trip 64 B: arsock p50 below ZeroMQ, nng and ENet", mode, ars50 / worst, 1.0,
                all(ars50 < v for _, v in others),
                ", ".join(f"{LABEL[c]} {v:.1f} µs" for c, v in others) + f"; arsock {ars50:.1f} µs",
                "rtt64", ["arsock"] + [c for c, _ in others], "p50_us")
        z, a = med(summary, mode, "stream64", "zeromq", "msgs_per_s"), med(summary, mode, "stream64", "arsock", "msgs_per_s")
        if z and a:
            need = 2.0 if mode == "unpinned" else 1.0
            r = a / z
            add("64 B one call per message: arsock " + ("≥ 2 × ZeroMQ msgs/s" if need == 2 else "ahead of ZeroMQ msgs/s"),
                mode, r, need, r >= need if need == 2 else r > 1.0,
                f"{a:,.0f} vs {z:,.0f} msgs/s", "stream64", ("zeromq", "arsock"), "msgs_per_s")
        rv, av = med(summary, mode, "vec64", "raw", "msgs_per_s"), med(summary, mode, "vec64", "arsock", "msgs_per_s")
        if rv and av:
            r = av / rv
            add("Vectored 64 B: arsock ≥ 0.8 × raw TCP 64-per-write", mode, r, 0.8, r >= 0.8,
                f"{av:,.0f} vs {rv:,.0f} msgs/s", "vec64", ("raw", "arsock"), "msgs_per_s")
        rb, ab = med(summary, mode, "stream64k", "raw", "mb_per_s"), med(summary, mode, "stream64k", "arsock", "mb_per_s")
        if rb and ab:
            r = ab / rb
            add("64 KiB: arsock ≥ 0.9 × raw TCP MB/s", mode, r, 0.9, r >= 0.9, f"{ab:,.0f} vs {rb:,.0f} MB/s",
                "stream64k", ("raw", "arsock"), "mb_per_s")
    if sizes:
        s = sizes["libarsock.so"]["stripped"]
        add("Stripped libarsock.so ≤ 1 MiB", "-", s / 2**20, 1.0, s <= 2**20, f"{s:,} bytes")
    return targets


# ------------------------------------------------------------------------------ report

def fmt_val(v, unit):
    if unit == "msgs/s":
        return f"{v / 1e6:.2f} M" if v >= 1e6 else f"{v / 1e3:.0f} k"
    if unit == "MB/s":
        return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"
    return f"{v:.1f}"


def tables(summary, contenders, modes, tests):
    lines = []
    for mode in modes:
        lines.append(f"### {mode.capitalize()}" + (" (both processes on CPU 0: `taskset -c 0`)"
                                                    if mode == "pinned" else " (scheduler's choice of CPUs)"))
        lines.append("")
        lines.append("| Measurement | " + " | ".join(LABEL[c] for c in contenders) + " |")
        lines.append("|---|" + "---|" * len(contenders))
        for key, label, _, _, metrics in TESTS:
            if key not in tests:
                continue
            for m, unit, _ in metrics:
                cells = []
                for c in contenders:
                    e = summary.get(mode, {}).get(key, {}).get(c)
                    if e is None:
                        cells.append("—")
                    elif m not in e:
                        cells.append("FAILED")
                    else:
                        s = e[m]
                        cell = fmt_val(s['median'], unit)
                        # A range only when there are several values (one repetition has none).
                        if s.get("n", 2) > 1 and s["min"] != s["max"]:
                            cell += f" ({fmt_val(s['min'], unit)}–{fmt_val(s['max'], unit)})"
                        if c != "raw" and "ratio_to_raw" in s:
                            cell += f" ×{s['ratio_to_raw']:.2f}"
                        if e["failed"]:
                            cell += f" [{e['failed']} failed]"
                        cells.append(cell)
                lines.append(f"| {label}: {unit} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def targets_table(targets):
    lines = ["| Target | Mode | Measured (medians) | Met? |", "|---|---|---|---|"]
    for t in targets:
        val = f"{t['value']:.2f} MiB" if "MiB" in t["target"] else f"×{t['value']:.2f}"
        verdict = "met" if t["met"] else "**MISSED**"
        if t.get("spread", 1.0) > NOISY:
            verdict += f" (noisy: repetitions vary up to ×{t['spread']:.1f})"
        lines.append(f"| {t['target']} | {t['mode']} | {val} ({t['detail']}) | {verdict} |")
    return "\n".join(lines)


def extras_table(sizes, btime):
    lines = ["| Item | Value |", "|---|---|"]
    if sizes:
        for f, s in sizes.items():
            lines.append(f"| `{f}` release, stripped (unstripped) | {s['stripped']:,} B "
                         f"({s['unstripped']:,} B) |")
    lines.append("| Clean release build of the library | " +
                 (f"{btime:.1f} s |" if btime is not None else "not measured |"))
    return "\n".join(lines)


def svg_plot(summary, contenders, modes, tests):
    """Grouped bars of speed relative to raw TCP (latency inverted), log scale, stdlib only."""
    groups = []
    for key, label, _, _, metrics in TESTS:
        if key not in tests:
            continue
        for m, unit, higher in metrics:
            if unit == "MB/s" and key != "stream64k":
                continue  # MB/s is msgs/s × 64 there: same ratio
            groups.append((key, m, higher, f"{label.replace('Stream ', '')}" +
                           (f" ({unit.split()[0]})" if key == "rtt64" else "")))
    others = [c for c in contenders if c != "raw"]
    colors = {"arsock": "#d62728", "zeromq": "#1f77b4", "nng": "#2ca02c", "enet": "#9467bd"}
    lo, hi = 1 / 64, 64.0
    import math
    W, panel_h, top, left, right = 980, 300, 60, 70, 20
    H = top + len(modes) * (panel_h + 90) + 30
    plot_w = W - left - right
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
         f'font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{W / 2}" y="22" text-anchor="middle" font-size="16">Speed relative to raw TCP '
         f'(higher is better; latency as raw/contender; log scale)</text>']
    for i, c in enumerate(others):
        x = left + i * 130
        o.append(f'<rect x="{x}" y="34" width="14" height="14" fill="{colors.get(c, "#777")}"/>')
        o.append(f'<text x="{x + 20}" y="46">{LABEL[c]}</text>')

    def y_of(v, y0):
        v = min(max(v, lo), hi)
        return y0 + panel_h * (1 - (math.log(v) - math.log(lo)) / (math.log(hi) - math.log(lo)))

    for pi, mode in enumerate(modes):
        y0 = top + 20 + pi * (panel_h + 90)
        o.append(f'<text x="{left}" y="{y0 - 8}" font-size="14" font-weight="bold">{mode}</text>')
        e = 1 / 64
        while e <= hi * 1.001:
            y = y_of(e, y0)
            lab = f"{e:g}" if e >= 1 else f"1/{round(1 / e)}"
            o.append(f'<line x1="{left}" x2="{W - right}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="{"#000" if abs(e - 1) < 1e-9 else "#ddd"}"/>')
            o.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{lab}</text>')
            e *= 2
        gw = plot_w / max(1, len(groups))
        bw = gw * 0.8 / max(1, len(others))
        for gi, (key, m, higher, glabel) in enumerate(groups):
            gx = left + gi * gw + gw * 0.1
            for ci, c in enumerate(others):
                s = summary.get(mode, {}).get(key, {}).get(c, {}).get(m)
                if not s or "ratio_to_raw" not in s:
                    continue
                r = s["ratio_to_raw"] if higher else 1 / s["ratio_to_raw"]
                y1, y2 = y_of(1.0, y0), y_of(r, y0)
                x = gx + ci * bw
                o.append(f'<rect x="{x:.1f}" y="{min(y1, y2):.1f}" width="{bw - 2:.1f}" '
                         f'height="{max(1.0, abs(y2 - y1)):.1f}" fill="{colors.get(c, "#777")}">'
                         f'<title>{LABEL[c]} {glabel}: {r:.2f}× raw TCP</title></rect>')
                ty = y2 - 3 if r >= 1 else y2 + 11
                o.append(f'<text x="{x + (bw - 2) / 2:.1f}" y="{ty:.1f}" text-anchor="middle" '
                         f'font-size="9">{r:.2g}</text>')
            o.append(f'<text x="{gx + gw * 0.4:.1f}" y="{y0 + panel_h + 18}" text-anchor="middle">'
                     f'{glabel}</text>')
    o.append("</svg>")
    return "\n".join(o) + "\n"


def markdown(cmd, machine, config, summary, targets, sizes, btime, contenders, modes, tests, when, failures):
    m = machine
    smoke = config.get("smoke", False)
    parts = [
        "# Benchmarks",
        "",
    ] + ([f"**{SMOKE_NOTICE}**", ""] if smoke else []) + [
        f"<!-- GENERATED by `{cmd}`; do not edit by hand. -->",
        "",
        f"Generated {when} by:",
        "",
        "```sh",
        cmd,
        "```",
        "",
        "Loopback only (127.0.0.1), two processes per measurement (server and client), "
        f"contenders interleaved, {config['reps']} repetition(s) each: cells show the median "
        "(min–max when there are several values) and, after ×, the median's ratio to raw TCP in "
        "the same mode (for latency "
        "lower is better, for throughput higher is better). Compare numbers only within one "
        "mode of one run. What each measurement does: [bench/README.md](../bench/README.md).",
        "",
        "## Machine",
        "",
        f"- CPUs (`nproc`): {m['nproc']}; CPU: {m['cpu']}",
        f"- Kernel: {m['kernel']}",
        f"- {m['rustc']}; {m['gcc']}",
        f"- libzmq {m['libzmq']}, nng {m['nng']}, ENet {m['enet']} (Debian packages); arsock at commit {m['arsock']}",
        "",
        "## Results",
        "",
        tables(summary, contenders, modes, tests),
        "Counts per measurement (after warm-up): " + ", ".join(
            f"{TEST_BY_KEY[k][1]}: {config['counts'][k][0]:,} (+{config['counts'][k][1]:,} warm-up)"
            for k in tests) + ".",
        "",
        "![Speed relative to raw TCP](benchmarks.svg)",
        "",
    ]
    if smoke:
        parts += ["## Targets", "", "Not judged: " + SMOKE_NOTICE, ""]
    else:
        parts += [
            "## Targets",
            "",
            targets_table(targets),
            "",
            f"A verdict marked *noisy* rests on medians whose repetitions varied more than "
            f"×{NOISY} (min to max) on this machine; rerun on a quiet machine before drawing "
            "conclusions.",
            "",
        ]
    parts += [
        "## Library size and build time",
        "",
        extras_table(sizes, btime),
        "",
    ]
    if failures:
        parts += ["## Failed runs", ""] + [f"- {f}" for f in failures] + [""]
    # Profiles and the changes they led to, written by hand, kept across regenerations.
    history = os.path.join(ROOT, "bench", "HISTORY.md")
    if os.path.exists(history):
        with open(history, encoding="utf-8") as f:
            parts += [f.read().rstrip(), ""]
    return "\n".join(parts)


# ------------------------------------------------------------------------------ main

def render(json_path):
    with open(json_path) as f:
        d = json.load(f)
    summary, config = d["summary"], d["config"]
    modes, tests = config["modes"], list(config["counts"])
    present = {c for m in summary.values() for t in m.values() for c in t}
    contenders = [c[0] for c in CONTENDERS if c[0] in present]
    targets = [] if config.get("smoke") else evaluate_targets(summary, d.get("sizes"), modes)
    d["targets"] = targets
    published = os.path.abspath(json_path) == os.path.join(BENCH, "results", "latest.json")
    md_path = os.path.join(ROOT, "docs", "BENCHMARKS.md") if published else os.path.join(OUT, "rendered-BENCHMARKS.md")
    svg_path = os.path.join(ROOT, "docs", "benchmarks.svg") if published else os.path.join(OUT, "benchmarks.svg")
    os.makedirs(os.path.dirname(md_path), exist_ok=True)
    with open(svg_path, "w") as f:
        f.write(svg_plot(summary, contenders, modes, tests))
    with open(md_path, "w") as f:
        f.write(markdown(d["command"], d["machine"], config, summary, targets, d.get("sizes"),
                         d.get("build_time_s"), contenders, modes, tests, d["generated"], d.get("failures", [])))
    if published:
        with open(json_path, "w") as f:
            json.dump(d, f, indent=1)
            f.write("\n")
    print(tables(summary, contenders, modes, tests))
    print(SMOKE_NOTICE if config.get("smoke") else targets_table(targets))
    print(f"\nRe-rendered {os.path.relpath(md_path, ROOT)} and {os.path.relpath(svg_path, ROOT)}.")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true",
                    help="tiny counts, 1 repetition, output to bench/out/; checks that every peer "
                         "runs, judges no targets")
    ap.add_argument("--reps", type=int, help="repetitions per measurement (default 5; smoke 1)")
    ap.add_argument("--modes", default=",".join(MODES), help="comma list of unpinned,pinned")
    ap.add_argument("--only", help="comma list of contenders (raw is always included)")
    ap.add_argument("--tests", default=",".join(t[0] for t in TESTS), help="comma list of tests")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the full counts (development)")
    ap.add_argument("--timeout", type=float, help="seconds before a peer pair is killed (default 60; smoke 20)")
    ap.add_argument("--no-build-time", action="store_true", help="skip the clean-build timing")
    ap.add_argument("--no-install", action="store_true",
                    help="do not run scripts/deps.sh when peer headers are missing")
    ap.add_argument("--render", metavar="JSON",
                    help="measure nothing: re-render the tables, Markdown and SVG from a results "
                         "file (bench/results/latest.json re-renders the committed docs)")
    args = ap.parse_args()
    if args.render:
        return render(args.render)

    contenders = [c[0] for c in CONTENDERS]
    if args.only:
        keep = set(args.only.split(",")) | {"raw"}
        contenders = [c for c in contenders if c in keep]
    modes = [m for m in args.modes.split(",") if m in MODES]
    tests = [t for t in args.tests.split(",") if t in TEST_BY_KEY]
    reps = args.reps or (1 if args.smoke else 5)
    timeout = args.timeout or (20.0 if args.smoke else 60.0)
    counts = dict(COUNTS_SMOKE if args.smoke else COUNTS_FULL)
    if args.scale != 1.0:
        counts = {k: (max(64, int(c * args.scale)), max(64, int(w * args.scale))) for k, (c, w) in counts.items()}
    # Only a full, unrestricted run updates the committed files.
    publish = not args.smoke and reps >= 3 and args.scale == 1.0 and not args.only and \
        modes == MODES and tests == [t[0] for t in TESTS]
    cmd = "python3 bench/run.py" + "".join(" " + a for a in sys.argv[1:])

    if args.smoke:
        print(SMOKE_NOTICE, flush=True)
    ensure_packages(install=not args.no_install)
    build(contenders)
    sizes = lib_sizes() if "arsock" in contenders else None
    btime = None if (args.smoke or args.no_build_time) else build_time()
    machine = machine_info()

    runs, failures = [], []
    t_start = time.monotonic()
    for mode in modes:
        for key in tests:
            _, label, _, _, _ = TEST_BY_KEY[key]
            who = [c for c in contenders if key != "vec64" or c in VECTORED]
            count, warm = counts[key]
            for rep in range(reps):
                for c in who:  # interleaved: A B C ... A B C ...
                    res, err = run_pair(c, key, mode, count, warm, timeout)
                    runs.append({"mode": mode, "test": key, "contender": c, "rep": rep, "result": res,
                                 "error": err or None})
                    if res is None:
                        failures.append(f"{mode} {key} {c} rep {rep + 1}: {err}")
                        log(f"  FAIL {mode:8} {key:9} {c:7} rep {rep + 1}: {err}")
                    else:
                        shown = (f"p50 {res['p50_us']:.1f} µs p99 {res['p99_us']:.1f} µs" if "p50_us" in res
                                 else f"{res['msgs_per_s'] / 1e6:.3f} M msgs/s {res['mb_per_s']:.0f} MB/s")
                        log(f"  {mode:8} {key:9} {c:7} rep {rep + 1}: {shown}")
    elapsed = time.monotonic() - t_start

    summary = summarize(runs, contenders, modes, tests)
    # Verdicts belong to the full run: smoke counts are too small to judge.
    targets = [] if args.smoke else evaluate_targets(summary, sizes, modes)
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    config = {"reps": reps, "counts": {k: counts[k] for k in tests}, "modes": modes, "timeout_s": timeout,
              "smoke": args.smoke}

    if publish:
        json_path = os.path.join(BENCH, "results", "latest.json")
        md_path = os.path.join(ROOT, "docs", "BENCHMARKS.md")
        svg_path = os.path.join(ROOT, "docs", "benchmarks.svg")
    else:
        name = "smoke" if args.smoke else "partial"
        json_path = os.path.join(OUT, f"{name}.json")
        md_path = os.path.join(OUT, f"{name}-BENCHMARKS.md")
        svg_path = os.path.join(OUT, "benchmarks.svg")
    for p in (json_path, md_path, svg_path):
        os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(json_path, "w") as f:
        json.dump({"generated": when, "command": cmd, "machine": machine, "config": config,
                   "elapsed_s": elapsed, "summary": summary, "targets": targets, "sizes": sizes,
                   "build_time_s": btime, "failures": failures, "runs": runs}, f, indent=1)
        f.write("\n")
    with open(svg_path, "w") as f:
        f.write(svg_plot(summary, contenders, modes, tests))
    with open(md_path, "w") as f:
        f.write(markdown(cmd, machine, config, summary, targets, sizes, btime, contenders, modes,
                         tests, when, failures))

    print(tables(summary, contenders, modes, tests))
    if args.smoke:
        print(SMOKE_NOTICE)
    else:
        print("Targets:\n")
        print(targets_table(targets))
    print()
    print(extras_table(sizes, btime))
    print()
    print(f"Measurements took {elapsed:.0f} s. Wrote {os.path.relpath(json_path, ROOT)}, "
          f"{os.path.relpath(md_path, ROOT)}, {os.path.relpath(svg_path, ROOT)}.")
    if failures:
        print(f"{len(failures)} run(s) FAILED:", file=sys.stderr)
        for f_ in failures:
            print("  " + f_, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
