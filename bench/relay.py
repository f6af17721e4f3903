#!/usr/bin/env python3
"""Relay, resource and finite-timeout benchmarks of issue 9 (one I/O thread, the poller).

    python3 bench/relay.py            full run (about 4 minutes); writes bench/results/relay.json,
                                      bench/results/relay.md and its section of docs/BENCHMARKS.md
    python3 bench/relay.py --smoke    seconds; writes only under bench/out/; for CI
    python3 bench/relay.py --only relay,resources,rtt

(a) relay: the arsock relay (examples/relay.c: one thread, arsock poller, send timeout 0) and a
    plain C epoll relay (bench/peers/relay_epoll.c), side by side and interleaved, under the same
    load (bench/peers/relay_load.c: 8 senders x 90 Hz x 64 B, synchronised, to 32 and to 256
    receivers, all reading): the relay's CPU time per delivery (all its threads) and the p99
    delivery latency, and the ratio arsock / C. Then once more with one extra receiver that never
    reads (its buffers filled during the warm-up, so the relay refuses every message to it while
    measuring): the reading devices' delivery rate with and without it.
(b) resources (bench/peers/res_idle.c): 1,000 idle connections after bursts: threads started by
    arsock, RSS per connection, wake-ups per second (also with a blocked accept); closing 1,000
    connections with undelivered data: CPU seconds, threads; close waking a blocked accept,
    receive, send and poller wait: latency.
(c) round trip 64 B, both processes pinned to CPU 0: raw TCP, arsock with timeout -1 and arsock
    with timeout 1000 ms (bench/peers/peer_arsock.c with BENCH_ARSOCK_RECV_TIMEOUT_MS), p50.

Loopback only; every process is bounded by a timeout. Standard library only. See bench/README.md.
"""

import argparse
import datetime
import json
import os
import selectors
import signal
import statistics
import subprocess
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)
import run as base  # noqa: E402  (the peers, build and machine info of bench/run.py)

ROOT, OUT, BIN, LIBDIR = base.ROOT, base.OUT, base.BIN, base.LIBDIR
SECTION_BEGIN = "<!-- BEGIN bench/relay.py: generated, do not edit by hand -->"
SECTION_END = "<!-- END bench/relay.py -->"

FULL = {"receivers": [32, 256], "reps": 5, "warm_s": 1.5, "measure_s": 5.0, "stall_receivers": 32,
        "conns": 1000, "idle_s": 3, "wake_reps": 20, "rtt": (20000, 2000), "rtt_reps": 3}
SMOKE = {"receivers": [8], "reps": 1, "warm_s": 0.5, "measure_s": 1.0, "stall_receivers": 8,
         "conns": 100, "idle_s": 1, "wake_reps": 3, "rtt": (500, 50), "rtt_reps": 1}
SENDERS, HZ, SIZE = 8, 90, 64
QUEUE_LIMIT = 65536  # both relays: per-receiver queue before messages are dropped
ARSOCK_FLAGS = ["-I" + os.path.join(ROOT, "include"), "-L" + LIBDIR, "-larsock", "-Wl,-rpath," + LIBDIR]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def build():
    base.build(["raw", "arsock"])  # cargo build --release + peer_raw, peer_arsock
    progs = [
        ("relay_epoll", os.path.join(BENCH, "peers", "relay_epoll.c"), []),
        ("relay_load", os.path.join(BENCH, "peers", "relay_load.c"), []),
        ("relay_arsock", os.path.join(ROOT, "examples", "relay.c"), ARSOCK_FLAGS + ["-lpthread"]),
        ("res_idle", os.path.join(BENCH, "peers", "res_idle.c"), ARSOCK_FLAGS + ["-lpthread"]),
    ]
    for name, src, flags in progs:
        cmd = ["gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", os.path.join(BIN, name), src] + flags
        log("  " + " ".join(cmd))
        base.sh(cmd)


def start_with_port(cmd, timeout):
    """Start cmd (it prints 'PORT n' first); returns (process, port)."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ)
    head, deadline = b"", time.monotonic() + timeout
    while b"\n" not in head:
        left = deadline - time.monotonic()
        if left <= 0 or not sel.select(timeout=left):
            base.kill_group(p)
            raise RuntimeError(f"{cmd[0]} did not report its port")
        chunk = os.read(p.stdout.fileno(), 4096)
        if not chunk:
            raise RuntimeError(f"{cmd[0]} exited: {p.stderr.read().decode(errors='replace')}")
        head += chunk
    sel.close()
    first, rest = head.split(b"\n", 1)
    if not first.startswith(b"PORT "):
        raise RuntimeError(f"unexpected first line {first!r}")
    p.early_output = rest
    return p, int(first.split()[1])


STALL_PREFILL_KIB = 6144  # warm-up traffic that fills the stalled receiver's socket buffers (Linux: <= 4 MiB)
STALL_WARM_S = 3.0


def run_relay(kind, receivers, stalled, cfg):
    """One measurement of one relay; returns the load generator's JSON plus the relay's counters."""
    relay = os.path.join(BIN, "relay_epoll" if kind == "epoll" else "relay_arsock")
    p, port = start_with_port([relay, "--queue-limit", str(QUEUE_LIMIT), "--max-drops", "0"], 10)
    try:
        warm = max(cfg["warm_s"], STALL_WARM_S) if stalled else cfg["warm_s"]
        load = [os.path.join(BIN, "relay_load"), str(port), str(SENDERS), str(receivers), str(HZ), str(SIZE),
                str(warm), str(cfg["measure_s"]), str(p.pid), str(stalled), str(STALL_PREFILL_KIB if stalled else 0)]
        r = subprocess.run(load, capture_output=True, text=True, timeout=warm + cfg["measure_s"] + 60)
        res = base.last_json(r.stdout)
        if r.returncode != 0 or not res or not res.get("ok"):
            raise RuntimeError(f"relay_load ({kind}) failed: {r.returncode} {r.stderr.strip()}")
        os.killpg(p.pid, signal.SIGTERM)
        out, err = p.communicate(timeout=10)
        counters = base.last_json((p.early_output + out).decode(errors="replace"))
        if p.returncode != 0 or not counters:
            raise RuntimeError(f"relay {kind} exited {p.returncode}: {err.decode(errors='replace').strip()}")
        res["relay"] = counters
        return res
    finally:
        base.kill_group(p)


def bench_relay(cfg, results):
    rows = []
    for n in cfg["receivers"]:
        for rep in range(cfg["reps"]):
            for kind in ("epoll", "arsock"):  # interleaved
                r = run_relay(kind, n, 0, cfg)
                log(f"  relay {kind:6} {n:3} receivers rep {rep + 1}: {r['cpu_per_delivery_us']:.3f} µs CPU/delivery, "
                    f"p99 {r['p99_us']:.0f} µs, {r['rate']:.0f} deliveries/s, lost {r['lost']}")
                rows.append({"relay": kind, "receivers": n, "stalled": 0, "rep": rep, "result": r})
    n = cfg["stall_receivers"]
    for kind in ("epoll", "arsock"):
        r = run_relay(kind, n, 1, cfg)
        log(f"  relay {kind:6} {n:3} receivers + 1 stalled: {r['rate']:.0f} deliveries/s "
            f"(slowest device {r['min_device_rate']:.0f}/s), relay dropped {r['relay']['dropped']}")
        rows.append({"relay": kind, "receivers": n, "stalled": 1, "rep": 0, "result": r})
    results["relay_runs"] = rows


def bench_resources(cfg, results):
    exe = os.path.join(BIN, "res_idle")
    r = subprocess.run([exe, str(cfg["conns"]), str(cfg["idle_s"]), str(cfg["wake_reps"])],
                       capture_output=True, text=True, timeout=120 + 3 * cfg["idle_s"])
    res = base.last_json(r.stdout)
    if r.returncode != 0 or not res:
        raise RuntimeError(f"res_idle failed ({r.returncode}): {r.stderr.strip()}")
    log("  resources: " + json.dumps(res))
    results["resources"] = res


def bench_rtt(cfg, results):
    count, warm = cfg["rtt"]
    rows = []
    for rep in range(cfg["rtt_reps"]):
        for label, contender, tmo in (("raw TCP", "raw", None), ("arsock, timeout -1", "arsock", None),
                                      ("arsock, timeout 1000 ms", "arsock", "1000")):
            if tmo:
                os.environ["BENCH_ARSOCK_RECV_TIMEOUT_MS"] = tmo
            else:
                os.environ.pop("BENCH_ARSOCK_RECV_TIMEOUT_MS", None)
            res, err = base.run_pair(contender, "rtt64", "pinned", count, warm, 60.0)
            os.environ.pop("BENCH_ARSOCK_RECV_TIMEOUT_MS", None)
            if res is None:
                raise RuntimeError(f"round trip {label} failed: {err}")
            log(f"  rtt pinned {label:24} rep {rep + 1}: p50 {res['p50_us']:.2f} µs, p99 {res['p99_us']:.2f} µs")
            rows.append({"label": label, "rep": rep, "p50_us": res["p50_us"], "p99_us": res["p99_us"]})
    results["rtt_runs"] = rows


# ------------------------------------------------------------------------------ report

def med(xs):
    return statistics.median(xs) if xs else float("nan")


def summarize(results):
    s = {}
    for row in results.get("relay_runs", []):
        key = f"{row['relay']}/{row['receivers']}/{row['stalled']}"
        s.setdefault(key, []).append(row["result"])
    out = {}
    for key, rs in s.items():
        out[key] = {m: med([r[m] for r in rs]) for m in
                    ("cpu_per_delivery_us", "p50_us", "p99_us", "rate", "min_device_rate", "lost")}
        # share of the offered deliveries that arrived within the window: well below 1, the
        # machine could not keep up and latencies only measure the backlog
        out[key]["served"] = med([r["deliveries"] / r["expected"] if r["expected"] else 0.0 for r in rs])
        out[key]["over_2s"] = med([r["over_2s"] / r["deliveries"] if r["deliveries"] else 0.0 for r in rs])
        out[key]["dropped"] = med([r["relay"]["dropped"] for r in rs])
        out[key]["n"] = len(rs)
    rtt = {}
    for row in results.get("rtt_runs", []):
        rtt.setdefault(row["label"], []).append(row)
    out["rtt"] = {k: {"p50_us": med([r["p50_us"] for r in v]), "p99_us": med([r["p99_us"] for r in v])}
                  for k, v in rtt.items()}
    return out


def lat(us):
    """A latency cell; the histogram of relay_load ends at 2 s."""
    return "≥ 2000000" if us >= 2000000 else f"{us:.0f}"


def verdict(ok):
    return "met" if ok else "**MISSED**"


def report(results, cfg):
    s = summarize(results)
    lines, targets = [], []
    if results.get("relay_runs"):
        lines += ["### Relay: one thread with the arsock poller vs a C epoll relay", "",
                  f"{SENDERS} senders × {HZ} Hz × {SIZE} B (synchronised) through the relay to every other "
                  f"device; medians of {cfg['reps']} interleaved run(s) of {cfg['measure_s']:g} s after "
                  f"{cfg['warm_s']:g} s of warm-up. CPU: all threads of the relay process "
                  "(`/proc/<pid>/task/*/schedstat`) per delivery. Latency: send to receive, CLOCK_MONOTONIC.", "",
                  "| receivers | relay | CPU µs / delivery | p50 µs | p99 µs | deliveries/s | of offered | lost |",
                  "|---:|---|---:|---:|---:|---:|---:|---:|"]
        for n in cfg["receivers"]:
            for kind in ("epoll", "arsock"):
                r = s.get(f"{kind}/{n}/0")
                if r:
                    lines.append(f"| {n} | {'C epoll' if kind == 'epoll' else 'arsock poller'} | "
                                 f"{r['cpu_per_delivery_us']:.3f} | {lat(r['p50_us'])} | {lat(r['p99_us'])} | "
                                 f"{r['rate']:,.0f} | {100 * r['served']:.0f} % | {r['lost']:.0f} |")
            e, a = s.get(f"epoll/{n}/0"), s.get(f"arsock/{n}/0")
            if e and a:
                rc = a["cpu_per_delivery_us"] / e["cpu_per_delivery_us"]
                rp = a["p99_us"] / e["p99_us"]
                overloaded = min(a["served"], e["served"]) < 0.95
                targets.append((f"Relay to {n} receivers: CPU per delivery ≤ 1.2× C epoll",
                                f"×{rc:.2f} ({a['cpu_per_delivery_us']:.3f} vs {e['cpu_per_delivery_us']:.3f} µs)",
                                verdict(rc <= 1.2)))
                if overloaded:
                    targets.append((f"Relay to {n} receivers: p99 latency ≤ 1.2× C epoll",
                                    f"not measurable: this machine delivered only {100 * a['served']:.0f} % (arsock) / "
                                    f"{100 * e['served']:.0f} % (C) of the offered load, latency is backlog",
                                    "n/a (overloaded)"))
                else:
                    targets.append((f"Relay to {n} receivers: p99 latency ≤ 1.2× C epoll",
                                    f"×{rp:.2f} ({a['p99_us']:.0f} vs {e['p99_us']:.0f} µs)", verdict(rp <= 1.2)))
        n = cfg["stall_receivers"]
        lines += ["", f"With one more receiver that never reads (4 KiB receive buffer; both relays drop a "
                      f"message for a receiver whose queue holds {QUEUE_LIMIT // 1024} KiB; during a "
                      f"{STALL_WARM_S:g} s warm-up sender 0 sends {STALL_PREFILL_KIB // 1024} MiB of 60 KiB messages so "
                      f"that its socket buffers are full and every message to it is refused while measuring), "
                      f"{n} reading receivers:", "",
                  "| relay | deliveries/s, all reading | deliveries/s, one stalled | slowest reading device /s "
                  "(all reading → one stalled) | messages the relay dropped for the stalled one |",
                  "|---|---:|---:|---:|---:|"]
        for kind in ("epoll", "arsock"):
            a, b = s.get(f"{kind}/{n}/0"), s.get(f"{kind}/{n}/1")
            if a and b:
                lines.append(f"| {'C epoll' if kind == 'epoll' else 'arsock poller'} | {a['rate']:,.0f} | "
                             f"{b['rate']:,.0f} | {a['min_device_rate']:.0f} → {b['min_device_rate']:.0f} | "
                             f"{b['dropped']:.0f} |")
                if kind == "arsock":
                    ratio = b["rate"] / a["rate"]
                    targets.append(("A receiver that stops reading does not lower the others' delivery rate "
                                    "(≥ 0.95×, noise)", f"×{ratio:.3f} ({b['rate']:,.0f} vs {a['rate']:,.0f}/s)",
                                    verdict(ratio >= 0.95 and b["lost"] == 0)))
        lines.append("")
    r = results.get("resources")
    if r:
        lines += [f"### Resources: {r['conns']:,} connections", "",
                  f"{r['conns']} connections (plain-socket peers in the same process) that each exchanged a "
                  f"burst of 20 × 1 KiB messages both ways, then 2 s to settle, then idle ({r['idle_s']} s windows):", "",
                  "| measure | value |", "|---|---:|",
                  f"| threads started by arsock, idle | {r['arsock_threads_idle']} |",
                  f"| threads started by arsock, with a blocked accept (ours not counted) | {r['arsock_threads_with_accept']} |",
                  f"| RSS per idle connection | {r['rss_per_conn_kib']:.2f} KiB |",
                  f"| wake-ups in the 2 s after the bursts (one-shot timers; all threads but main) | {r.get('wakeups_settle_2s', 'n/a')} |",
                  f"| wake-ups per second while idle (all threads but main) | {r['wakeups_per_s_idle']:.2f} |",
                  f"| wake-ups per second with a thread blocked in accept | {r['wakeups_per_s_blocked_accept']:.2f} |",
                  f"| closing {r['conns']} connections with undelivered data ({r['close_queued_msgs']:,} messages of 8 KiB "
                  f"sent to peers that never read, {r['close_queued_bytes']:,} B of them still in arsock's queues): "
                  f"the close calls | {r['close_calls_ms']:.1f} ms |",
                  f"| … CPU of the whole process over the 2.5 s after the first close | {r['close_cpu_s']:.3f} s |",
                  f"| … most threads started by arsock meanwhile | {r['close_max_arsock_threads']} |"]
        for k in ("accept", "recv", "send", "poller_wait"):
            if f"wake_{k}_p50_us" in r:
                lines.append(f"| close wakes a blocked {k.replace('_', ' ')}: p50 / max of {cfg['wake_reps']} "
                             f"| {r[f'wake_{k}_p50_us']:.0f} / {r[f'wake_{k}_max_us']:.0f} µs |")
        lines.append("")
        targets += [
            (f"Threads started by arsock ≤ 2 ({r['conns']:,} idle connections, also with a blocked accept)",
             f"{r['arsock_threads_idle']} / {r['arsock_threads_with_accept']}",
             verdict(max(r["arsock_threads_idle"], r["arsock_threads_with_accept"]) <= 2)),
            ("RSS per idle connection ≤ 16 KiB", f"{r['rss_per_conn_kib']:.2f} KiB", verdict(r["rss_per_conn_kib"] <= 16)),
            ("Zero wake-ups per second while idle (also with a blocked accept)",
             f"{r['wakeups_per_s_idle']:.2f} / {r['wakeups_per_s_blocked_accept']:.2f}",
             verdict(r["wakeups_per_s_idle"] == 0 and r["wakeups_per_s_blocked_accept"] == 0)),
            (f"Closing {r['conns']:,} connections with undelivered data ≤ 0.1 CPU-s, no thread per close",
             f"{r['close_cpu_s']:.3f} s, {r['close_max_arsock_threads']} threads",
             verdict(r["close_cpu_s"] <= 0.1 and r["close_max_arsock_threads"] <= 2)),
        ]
        for k in ("accept", "recv", "send", "poller_wait"):
            if f"wake_{k}_max_us" in r:
                # verdict on the median: on a shared machine the max is mostly scheduling delay
                targets.append((f"Close wakes a blocked {k.replace('_', ' ')} ≤ 1 ms (p50 of {cfg['wake_reps']}; max shown)",
                                f"{r[f'wake_{k}_p50_us']:.0f} µs (max {r[f'wake_{k}_max_us']:.0f} µs)",
                                verdict(r[f"wake_{k}_p50_us"] <= 1000 and r[f"wake_{k}_bad"] == 0)))
    rt = s.get("rtt")
    if rt:
        raw = rt.get("raw TCP")
        lines += ["### Round trip 64 B with a finite timeout (pinned: both processes on CPU 0)", "",
                  f"{cfg['rtt'][0]:,} round trips after {cfg['rtt'][1]:,} of warm-up, median of {cfg['rtt_reps']} run(s); "
                  "the arsock peer is `peer_arsock` with `BENCH_ARSOCK_RECV_TIMEOUT_MS` (every receive waits at most "
                  "that long instead of -1).", "",
                  "| peer | p50 µs | p99 µs | p50 ratio to raw TCP |", "|---|---:|---:|---:|"]
        for label, v in rt.items():
            ratio = v["p50_us"] / raw["p50_us"] if raw else float("nan")
            lines.append(f"| {label} | {v['p50_us']:.2f} | {v['p99_us']:.2f} | ×{ratio:.3f} |")
        lines.append("")
        if raw:
            for label, limit in (("arsock, timeout 1000 ms", 1.05), ("arsock, timeout -1", 1.0)):
                if label in rt:
                    ratio = rt[label]["p50_us"] / raw["p50_us"]
                    targets.append((f"Round trip 64 B pinned, {label.split(', ')[1]}: p50 ≤ {limit:.2f}× raw TCP",
                                    f"×{ratio:.3f}", verdict(ratio <= limit)))
    tl = ["### Targets of issue 9", "", "| target | measured | verdict |", "|---|---|---|"]
    tl += [f"| {t} | {m} | {v} |" for t, m, v in targets]
    return "\n".join(lines), "\n".join(tl) + "\n", targets


def write_docs(section):
    path = os.path.join(ROOT, "docs", "BENCHMARKS.md")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    block = f"{SECTION_BEGIN}\n{section.rstrip()}\n{SECTION_END}"
    if SECTION_BEGIN in text and SECTION_END in text:
        head, rest = text.split(SECTION_BEGIN, 1)
        tail = rest.split(SECTION_END, 1)[1]
        text = head + block + tail
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="seconds; output only under bench/out/")
    ap.add_argument("--only", default="relay,resources,rtt", help="comma list of relay,resources,rtt")
    ap.add_argument("--no-build", action="store_true", help="use the binaries already in bench/out/bin")
    args = ap.parse_args()
    cfg = dict(SMOKE if args.smoke else FULL)
    parts = [p for p in args.only.split(",") if p]
    publish = not args.smoke and set(parts) == {"relay", "resources", "rtt"}
    cmd = "python3 bench/relay.py" + "".join(" " + a for a in sys.argv[1:])
    os.makedirs(BIN, exist_ok=True)
    if not args.no_build:
        build()
    results = {"command": cmd, "machine": base.machine_info(), "config": cfg,
               "generated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    t0 = time.monotonic()
    failures = []
    for part, fn in (("relay", bench_relay), ("resources", bench_resources), ("rtt", bench_rtt)):
        if part in parts:
            log(f"== {part}")
            try:
                fn(cfg, results)
            except (RuntimeError, subprocess.SubprocessError, OSError) as e:
                failures.append(f"{part}: {e}")
                log(f"  FAILED: {e}")
    results["elapsed_s"] = time.monotonic() - t0
    results["failures"] = failures
    body, targets_md, targets = report(results, cfg)
    results["targets"] = [{"target": t, "measured": m, "verdict": v} for t, m, v in targets]
    m = results["machine"]
    section = "\n".join([
        "## One I/O thread and the poller (issue 9)", "",
        f"Generated {results['generated']} by `{cmd}` ({results['elapsed_s']:.0f} s of measurements) on "
        f"{m['nproc']} CPUs ({m['cpu']}), arsock at {m['arsock']}. Loopback only. What each measurement "
        "does: the docstring of [bench/relay.py](../bench/relay.py).", "",
        targets_md, body, ""] + (["Failed parts: " + "; ".join(failures), ""] if failures else []))
    print(section)
    if publish:
        with open(os.path.join(BENCH, "results", "relay.json"), "w") as f:
            json.dump(results, f, indent=1)
            f.write("\n")
        with open(os.path.join(BENCH, "results", "relay.md"), "w") as f:
            f.write(section)
        write_docs(section)
        log(f"wrote bench/results/relay.json, bench/results/relay.md and its section of docs/BENCHMARKS.md "
            f"({results['elapsed_s']:.0f} s)")
    else:
        name = "relay-smoke" if args.smoke else "relay-partial"
        with open(os.path.join(OUT, name + ".json"), "w") as f:
            json.dump(results, f, indent=1)
            f.write("\n")
        with open(os.path.join(OUT, name + ".md"), "w") as f:
            f.write(section)
        log(f"wrote bench/out/{name}.json and .md ({results['elapsed_s']:.0f} s)")
    if failures:
        print(f"{len(failures)} part(s) FAILED", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
