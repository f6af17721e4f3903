//! Session benchmark: prints numbers, asserts nothing.
//!
//! 1. Scale: 1,000 sessions in 100 rooms of 10 on one hub (in its own process), each sending
//!    30 reliable 32-byte messages per second to its room: hub CPU, hub RSS per session, and
//!    delivery latency p50/p99 (send to receive, one host clock).
//! 2. Poses as messages: 32 devices in one room, 90 Hz, 64 B each: delivery p50/p99.
//!
//! Usage: cargo run --release --example session_bench [-- --secs N] [--sessions N] [--only scale|room32]
//! Loopback only. The hub runs in a child process (this program with `--hub`) so that its CPU
//! and memory are measured alone.

use arsock::session::hub_core::HubConfig;
use arsock::session::{event_kind, now_us, Session, SessionConfig};
use arsock::Timeout;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--hub") {
        return run_hub();
    }
    let get = |name: &str, default: u64| -> u64 {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let secs = get("--secs", 10);
    let sessions = get("--sessions", 1000) as usize;
    if only.as_deref().map_or(true, |o| o == "scale") {
        scale(sessions, 10, 30.0, 32, Duration::from_secs(secs));
    }
    if only.as_deref().map_or(true, |o| o == "room32") {
        room32(Duration::from_secs(secs.min(10)));
    }
}

/// The hub process: start, print the port, serve until stdin closes.
fn run_hub() {
    let cfg = HubConfig {
        max_peers: 256,
        ..HubConfig::default()
    };
    let hub = arsock::session::Hub::start("127.0.0.1", 0, cfg).expect("hub start");
    println!("PORT {}", hub.local_addr().port());
    std::io::stdout().flush().unwrap();
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    drop(hub);
}

struct HubProc {
    child: std::process::Child,
    port: u16,
}

impl HubProc {
    fn start() -> HubProc {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .arg("--hub")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn hub");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = lines.next().unwrap().unwrap();
        let port = line.strip_prefix("PORT ").unwrap().trim().parse().unwrap();
        HubProc { child, port }
    }

    /// (user + system CPU seconds, resident set in KiB); zeros where /proc is missing.
    #[cfg(not(target_os = "linux"))]
    fn usage(&self) -> (f64, u64) {
        (0.0, 0)
    }

    /// (user + system CPU seconds, resident set in KiB).
    #[cfg(target_os = "linux")]
    fn usage(&self) -> (f64, u64) {
        let pid = self.child.id();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let after = stat.rsplit(')').next().unwrap_or("");
        let f: Vec<&str> = after.split_whitespace().collect();
        let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        let cpu = (f.get(11).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
            + f.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0))
            / tick;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let rss = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        (cpu, rss)
    }
}

impl Drop for HubProc {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

fn join(port: u16, room: &str, name: &str) -> (Session, u32) {
    let cfg = SessionConfig {
        name: name.into(),
        ..SessionConfig::default()
    };
    let s = Session::open("127.0.0.1", port, room, cfg).expect("open");
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < end, "no JOINED");
        if let Ok(evs) = s.poll(64, Timeout::After(Duration::from_millis(100))) {
            if let Some((e, _)) = evs.iter().find(|(e, _)| e.kind == event_kind::JOINED) {
                return (s, e.peer);
            }
        }
    }
}

/// CPU seconds (user + system) of this process (0 where getrusage is missing).
#[cfg(not(unix))]
fn own_cpu() -> f64 {
    0.0
}

/// CPU seconds (user + system) of this process.
#[cfg(unix)]
fn own_cpu() -> f64 {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

fn pct(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Drive `sessions` (in `threads` groups): each sends `rate` messages/s of `size` bytes to its
/// room for `dur`; returns every delivery latency in µs and the count of sends refused.
/// Latencies in µs: send to receive, and send to the hub's relay (the event's hub time).
#[derive(Default)]
struct Lat {
    total: Vec<u32>,
    to_hub: Vec<u32>,
}

impl Lat {
    fn add(&mut self, sent: i64, relayed: i64, now: i64) {
        self.total
            .push((now - sent).clamp(0, u32::MAX as i64) as u32);
        self.to_hub
            .push((relayed - sent).clamp(0, u32::MAX as i64) as u32);
    }
    fn merge(&mut self, o: Lat) {
        self.total.extend(o.total);
        self.to_hub.extend(o.to_hub);
    }
    fn sort(&mut self) {
        self.total.sort_unstable();
        self.to_hub.sort_unstable();
    }
    fn line(&self) -> String {
        format!(
            "latency p50 {} us, p99 {} us, max {} us (of which sender to hub relay: p50 {} us, p99 {} us)",
            pct(&self.total, 0.5),
            pct(&self.total, 0.99),
            self.total.last().copied().unwrap_or(0),
            pct(&self.to_hub, 0.5),
            pct(&self.to_hub, 0.99)
        )
    }
}

fn drive(groups: Vec<Vec<Session>>, rate: f64, size: usize, dur: Duration) -> (Lat, u64) {
    let period = Duration::from_secs_f64(1.0 / rate);
    let handles: Vec<_> = groups
        .into_iter()
        .enumerate()
        .map(|(g, group)| {
            std::thread::spawn(move || {
                let start = Instant::now();
                let n = group.len();
                // Spread the sends over the period.
                let mut next: Vec<Instant> = (0..n)
                    .map(|i| start + period.mul_f64((i as f64 + g as f64 * 0.37) / n as f64 % 1.0))
                    .collect();
                let mut lat = Lat::default();
                let mut refused = 0u64;
                let mut msg = vec![0u8; size.max(8)];
                while start.elapsed() < dur + Duration::from_millis(300) {
                    let now = Instant::now();
                    let sending = start.elapsed() < dur;
                    for (i, s) in group.iter().enumerate() {
                        if sending && now >= next[i] {
                            msg[..8].copy_from_slice(&now_us().to_le_bytes());
                            if s.send(0, &msg).is_err() {
                                refused += 1;
                            }
                            next[i] += period;
                        }
                        if let Ok(evs) = s.poll(256, Timeout::Poll) {
                            let t = now_us();
                            for (e, id) in evs {
                                if e.kind == event_kind::MESSAGE {
                                    if let Ok(p) = s.payload(id) {
                                        let sent = i64::from_le_bytes(p[..8].try_into().unwrap());
                                        lat.add(sent, e.time_us, t);
                                    }
                                }
                            }
                        }
                    }
                    std::thread::sleep(Duration::from_micros(200));
                }
                (lat, refused, group)
            })
        })
        .collect();
    let mut all = Lat::default();
    let mut refused = 0;
    for h in handles {
        let (lat, r, group) = h.join().unwrap();
        all.merge(lat);
        refused += r;
        for s in group {
            s.close();
        }
    }
    all.sort();
    (all, refused)
}

fn scale(total: usize, per_room: usize, rate: f64, size: usize, dur: Duration) {
    let hub = HubProc::start();
    std::thread::sleep(Duration::from_millis(200));
    let (_, rss0) = hub.usage();
    let rooms = total / per_room;
    println!("scale: {total} sessions in {rooms} rooms x {per_room}, {rate} msg/s of {size} B each, {dur:?}");
    let t = Instant::now();
    let mut sessions = Vec::with_capacity(total);
    for r in 0..rooms {
        for i in 0..per_room {
            sessions.push(join(hub.port, &format!("room{r}"), &format!("d{i}")).0);
        }
    }
    println!("  joined in {:?}", t.elapsed());
    std::thread::sleep(Duration::from_millis(500));
    let (_, rss_joined) = hub.usage();
    let threads = 4;
    let mut groups: Vec<Vec<Session>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, s) in sessions.into_iter().enumerate() {
        groups[i % threads].push(s);
    }
    // Drain the presence events first.
    for g in &groups {
        for s in g {
            while s.poll(1024, Timeout::Poll).is_ok() {}
        }
    }
    let (cpu0, _) = hub.usage();
    let own0 = own_cpu();
    let w = Instant::now();
    let mid = std::thread::spawn({
        let pid = hub.child.id();
        let half = dur / 2;
        move || {
            std::thread::sleep(half);
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        }
    });
    let (lat, refused) = drive(groups, rate, size, dur);
    let (cpu1, _) = hub.usage();
    let own1 = own_cpu();
    let rss_busy = mid.join().unwrap();
    let wall = w.elapsed().as_secs_f64();
    println!(
        "  the 1,000 devices (this process, {} polling threads) used {:.0}% of one core",
        4,
        (own1 - own0) / wall * 100.0
    );
    let expected = (total as f64 * rate * dur.as_secs_f64()) as u64 * (per_room as u64 - 1);
    println!(
        "  hub CPU {:.1}% of one core; hub RSS {} KiB idle, {} KiB joined, {} KiB busy: {:.1} KiB per session joined, {:.1} KiB busy",
        (cpu1 - cpu0) / wall * 100.0,
        rss0,
        rss_joined,
        rss_busy,
        (rss_joined.saturating_sub(rss0)) as f64 / total as f64,
        (rss_busy.saturating_sub(rss0)) as f64 / total as f64
    );
    println!(
        "  deliveries {} (expected about {expected}), sends refused {refused}",
        lat.total.len()
    );
    println!("  {}", lat.line());
}

/// One thread per device, blocking in poll until its next send is due (how an app's network
/// thread would run); returns every delivery latency in µs.
fn drive_threads(sessions: Vec<Session>, rate: f64, size: usize, dur: Duration) -> (Lat, u64) {
    let period = Duration::from_secs_f64(1.0 / rate);
    let n = sessions.len();
    let handles: Vec<_> = sessions
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            std::thread::spawn(move || {
                let start = Instant::now();
                let mut next = start + period.mul_f64(i as f64 / n as f64);
                let mut lat = Lat::default();
                let mut refused = 0u64;
                let mut msg = vec![0u8; size.max(8)];
                let stop = start + dur + Duration::from_millis(300);
                while Instant::now() < stop {
                    let now = Instant::now();
                    if now >= next && now < start + dur {
                        msg[..8].copy_from_slice(&now_us().to_le_bytes());
                        if s.send(0, &msg).is_err() {
                            refused += 1;
                        }
                        next += period;
                        continue;
                    }
                    let wait = next
                        .min(stop)
                        .saturating_duration_since(now)
                        .max(Duration::from_micros(100));
                    if let Ok(evs) = s.poll(256, Timeout::After(wait)) {
                        let t = now_us();
                        for (e, id) in evs {
                            if e.kind == event_kind::MESSAGE {
                                if let Ok(p) = s.payload(id) {
                                    let sent = i64::from_le_bytes(p[..8].try_into().unwrap());
                                    lat.add(sent, e.time_us, t);
                                }
                            }
                        }
                    }
                }
                s.close();
                (lat, refused)
            })
        })
        .collect();
    let mut all = Lat::default();
    let mut refused = 0;
    for h in handles {
        let (lat, r) = h.join().unwrap();
        all.merge(lat);
        refused += r;
    }
    all.sort();
    (all, refused)
}

fn room32(dur: Duration) {
    let hub = HubProc::start();
    let sessions: Vec<Session> = (0..32)
        .map(|i| join(hub.port, "room32", &format!("d{i}")).0)
        .collect();
    for s in &sessions {
        while s.poll(1024, Timeout::Poll).is_ok() {}
    }
    let (cpu0, _) = hub.usage();
    let w = Instant::now();
    let (lat, refused) = drive_threads(sessions, 90.0, 64, dur);
    let (cpu1, _) = hub.usage();
    println!(
        "room32: 32 devices x 90 Hz x 64 B, {dur:?}, a thread per device: deliveries {}, refused {refused}; hub CPU {:.1}%",
        lat.total.len(),
        (cpu1 - cpu0) / w.elapsed().as_secs_f64() * 100.0
    );
    println!("  {}", lat.line());
}
