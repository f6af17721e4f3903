//! Pose benchmark: prints numbers, asserts nothing.
//!
//! 32 devices in one room of a hub (in its own process, this program with `--hub`), each
//! sending its head pose at 90 Hz (`time_us` 0 = now, room time). Observer devices poll
//! `latest_poses` every ~100 µs and record, for every pose newer than the last one seen of its
//! peer, its age: the observer's room time minus the capture time. One device is connected
//! through a counting proxy: its bytes per second from the hub are compared with
//! 1.2 × (31 × 90 × wire size of a pose).
//!
//! Phases: 1. steady; 2. a 5 MiB blob put every second by one device (every other device
//! downloads it) — pose age meanwhile; 3. a hand-made device joins and stops reading its
//! socket for 5 s — pose age of the others meanwhile.
//!
//! Usage: cargo run --release --example pose_bench [-- --secs N] [--observers N]
//! Loopback only. Pose ages include up to ~0.1 ms of polling granularity.

use arsock::pose::wire::pose_wire_len;
use arsock::pose::Pose;
use arsock::session::hub_core::HubConfig;
use arsock::session::{event_kind, Hub, Session, SessionConfig};
use arsock::Timeout;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const DEVICES: usize = 32;
const HZ: f64 = 90.0;

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
    let secs = get("--secs", 10);
    let observers = get("--observers", 2).clamp(1, 8) as usize;
    run(Duration::from_secs(secs), observers);
}

fn run_hub() {
    let cfg = HubConfig {
        max_peers: 64,
        ..HubConfig::default()
    };
    let hub = Hub::start("127.0.0.1", 0, cfg).expect("hub");
    println!("{}", hub.local_addr().port());
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    hub.close();
}

struct HubProc {
    child: std::process::Child,
    port: u16,
}

impl HubProc {
    fn start() -> HubProc {
        let exe = std::env::current_exe().expect("current exe");
        let mut child = Command::new(exe)
            .arg("--hub")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn hub");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("hub port");
        HubProc {
            child,
            port: line.trim().parse().expect("port"),
        }
    }
}

impl Drop for HubProc {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// A loopback proxy counting the bytes it forwards hub → device.
fn counting_proxy(target: u16, down: Arc<AtomicU64>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(c) = c else { return };
            let Ok(s) = TcpStream::connect(("127.0.0.1", target)) else {
                continue;
            };
            let _ = c.set_nodelay(true);
            let _ = s.set_nodelay(true);
            let (c2, s2) = (c.try_clone().expect("clone"), s.try_clone().expect("clone"));
            std::thread::spawn(move || pipe(c2, s2, None));
            let d = down.clone();
            std::thread::spawn(move || pipe(s, c, Some(d)));
        }
    });
    port
}

fn pipe(mut from: TcpStream, mut to: TcpStream, count: Option<Arc<AtomicU64>>) {
    let mut buf = vec![0u8; 65536];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => {
                let _ = to.shutdown(std::net::Shutdown::Both);
                return;
            }
            Ok(n) => {
                if let Some(c) = &count {
                    c.fetch_add(n as u64, Ordering::Relaxed);
                }
                if to.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

fn join(port: u16, name: &str) -> Session {
    let s = Session::open(
        "127.0.0.1",
        port,
        "poses",
        SessionConfig {
            name: name.into(),
            ..SessionConfig::default()
        },
    )
    .expect("open");
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(Instant::now() < end, "no JOINED");
        if let Ok(evs) = s.poll(64, Timeout::After(Duration::from_millis(100))) {
            if evs.iter().any(|(e, _)| e.kind == event_kind::JOINED) {
                return s;
            }
        }
    }
}

fn room_now(s: &Session) -> Option<i64> {
    s.room_time().ok().map(|(t, _)| t)
}

/// Ages (µs) recorded by the observers, and seq-older poses surfaced.
#[derive(Default)]
struct Record {
    ages: Vec<i64>,
    older: u64,
}

fn pct(v: &mut [i64], p: f64) -> i64 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    v[((v.len() as f64 * p) as usize).min(v.len() - 1)]
}

fn run(dur: Duration, observers: usize) {
    let hub = HubProc::start();
    let down = Arc::new(AtomicU64::new(0));
    let proxied = counting_proxy(hub.port, down.clone());
    let sessions: Vec<Arc<Session>> = (0..DEVICES)
        .map(|i| {
            let port = if i == 0 { proxied } else { hub.port };
            Arc::new(join(port, &format!("d{i}")))
        })
        .collect();
    // Wait for every clock estimate.
    for s in &sessions {
        let end = Instant::now() + Duration::from_secs(10);
        while room_now(s).is_none() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let record = Arc::new(Mutex::new(Record::default()));
    let mut threads = Vec::new();
    // Senders: one head pose per device at 90 Hz.
    for (i, s) in sessions.iter().enumerate() {
        let (s, stop) = (s.clone(), stop.clone());
        threads.push(std::thread::spawn(move || {
            let period = Duration::from_secs_f64(1.0 / HZ);
            let mut next = Instant::now() + period.mul_f64(i as f64 / DEVICES as f64);
            let mut k = 0f32;
            while !stop.load(Ordering::Relaxed) {
                let now = Instant::now();
                if next > now {
                    std::thread::sleep(next - now);
                }
                next += period;
                k += 1.0;
                let p = Pose {
                    entity: 0,
                    position: [k * 0.001, 1.6, i as f32],
                    rotation: [0.0, 0.0, 0.0, 1.0],
                    ..Pose::default()
                };
                let _ = s.send_poses(&[p]);
                // Keep the event queue short (BLOB_AVAILABLE, presence).
                let _ = s.poll(256, Timeout::Poll);
            }
        }));
    }
    // Observers: devices 1..=observers poll latest_poses.
    for s in sessions.iter().skip(1).take(observers) {
        let (s, stop, record) = (s.clone(), stop.clone(), record.clone());
        threads.push(std::thread::spawn(move || {
            let mut last = vec![0u32; 512];
            let mut ages = Vec::with_capacity(1 << 20);
            let mut older = 0;
            while !stop.load(Ordering::Relaxed) {
                let seen = s.with_latest_poses(|v| {
                    let mut out = Vec::new();
                    for p in v {
                        out.push((p.peer, p.seq, p.time_us));
                    }
                    out
                });
                let now = room_now(&s);
                if let (Ok(seen), Some(now)) = (seen, now) {
                    for (peer, seq, t) in seen {
                        let l = &mut last[(peer as usize).min(511)];
                        if seq != *l {
                            if *l != 0 && !arsock::pose::seq::seq_newer(seq, *l) {
                                older += 1;
                            } else {
                                ages.push(now - t);
                            }
                            *l = seq;
                        }
                    }
                }
                {
                    let mut r = record.lock().expect("record");
                    r.ages.append(&mut ages);
                    r.older += older;
                    older = 0;
                }
                std::thread::sleep(Duration::from_micros(100));
            }
        }));
    }
    let take =
        |r: &Arc<Mutex<Record>>| -> Record { std::mem::take(&mut *r.lock().expect("record")) };

    // Phase 1: steady.
    std::thread::sleep(Duration::from_millis(500));
    take(&record);
    let b0 = down.load(Ordering::Relaxed);
    let t0 = Instant::now();
    std::thread::sleep(dur);
    let bytes = down.load(Ordering::Relaxed) - b0;
    let secs = t0.elapsed().as_secs_f64();
    let mut r = take(&record);
    let typical = Pose {
        peer: 17,
        seq: 500,
        ..Pose::default()
    };
    let wire = pose_wire_len(&typical, 0);
    let budget = 1.2 * 31.0 * HZ * wire as f64;
    println!(
        "steady: {DEVICES} devices x {HZ} Hz, {secs:.1} s, {observers} observers: {} poses seen, pose age p50 {} us, p99 {} us, max {} us; seq-older surfaced {}",
        r.ages.len(),
        pct(&mut r.ages, 0.5),
        pct(&mut r.ages, 0.99),
        r.ages.last().copied().unwrap_or(0),
        r.older
    );
    println!(
        "bytes hub -> one device: {:.0} B/s; 1.2 x (31 x 90 x {wire} B) = {budget:.0} B/s; ratio {:.2}",
        bytes as f64 / secs,
        bytes as f64 / secs / budget
    );

    // Phase 2: a 5 MiB blob every second from the last device.
    let blob = vec![0x5Au8; 5 * 1024 * 1024];
    let uploader = sessions[DEVICES - 1].clone();
    let t0 = Instant::now();
    let mut puts = 0;
    while t0.elapsed() < dur {
        if uploader.put_blob("map", &blob).is_ok() {
            puts += 1;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let mut r = take(&record);
    // How many devices hold the last version now (bodies may still be on their way).
    let held = sessions
        .iter()
        .filter(|s| s.get_blob("map").is_ok())
        .count();
    println!(
        "blob in flight: {puts} puts of 5 MiB in {:.1} s (each to {} devices): pose age p50 {} us, p99 {} us, max {} us; {held}/{DEVICES} devices hold the blob at the end; seq-older surfaced {}",
        t0.elapsed().as_secs_f64(),
        DEVICES - 1,
        pct(&mut r.ages, 0.5),
        pct(&mut r.ages, 0.99),
        r.ages.last().copied().unwrap_or(0),
        r.older
    );

    // Phase 3: a reader that stops for 5 s.
    let mut raw = raw_join(hub.port);
    take(&record);
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(500));
        let _ = raw.write_all(&arsock::session::wire::encode(
            &arsock::session::wire::Frame::Ack { count: 0 },
        ));
    }
    let mut r = take(&record);
    println!(
        "a reader paused 5 s: others' pose age p50 {} us, p99 {} us, max {} us",
        pct(&mut r.ages, 0.5),
        pct(&mut r.ages, 0.99),
        r.ages.last().copied().unwrap_or(0)
    );
    drop(raw);

    // Phase 4: a late joiner (32 entities moving, 100 keys, a 1 MiB and a 5 MiB blob).
    let writer = sessions[2].clone();
    for i in 0..100 {
        let _ = writer.set_state(&format!("key{i}"), Some(format!("value {i}").as_bytes()));
    }
    let _ = writer.put_blob("small", &vec![1u8; 1024 * 1024]);
    let t = Instant::now();
    while (writer.get_blob("small").is_err() || writer.get_state("key99").is_err())
        && t.elapsed() < Duration::from_secs(30)
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    let t0 = Instant::now();
    let late =
        Session::open("127.0.0.1", hub.port, "poses", SessionConfig::default()).expect("open");
    let (mut joined, mut keys, mut blobs, mut blobs_at) = (None, 0, 0, None);
    let mut keys_at = None;
    let mut poses_at_join = 0;
    while t0.elapsed() < Duration::from_secs(30) && (joined.is_none() || keys < 100 || blobs < 2) {
        if let Ok(evs) = late.poll(256, Timeout::After(Duration::from_millis(50))) {
            for (e, _) in evs {
                match e.kind {
                    event_kind::JOINED => {
                        joined = Some(t0.elapsed());
                        poses_at_join = late.with_latest_poses(|v| v.len()).unwrap_or(0);
                    }
                    event_kind::STATE_CHANGED => {
                        keys += 1;
                        if keys == 100 {
                            keys_at = Some(t0.elapsed());
                        }
                    }
                    event_kind::BLOB_AVAILABLE => {
                        blobs += 1;
                        blobs_at = Some(t0.elapsed());
                    }
                    _ => {}
                }
            }
        }
    }
    println!(
        "late joiner: JOINED after {:.1} ms with {poses_at_join} poses already there; {keys} keys by {:.1} ms; {blobs} blobs (1 MiB, 5 MiB) readable after {:.1} ms",
        joined.map_or(f64::NAN, |d| d.as_secs_f64() * 1e3),
        keys_at.map_or(f64::NAN, |d| d.as_secs_f64() * 1e3),
        blobs_at.map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
    );
    late.close();

    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    for s in &sessions {
        s.close();
    }
}

/// A hand-made device: HELLO, read up to SNAPSHOT_END, then read nothing more.
fn raw_join(port: u16) -> TcpStream {
    use arsock::session::wire::{self, Frame, Hello};
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(&wire::encode(&Frame::Hello(Hello {
        version: wire::PROTOCOL_VERSION,
        resume_peer: 0,
        resume_key: 0,
        ack: 0,
        room: "poses",
        name: "paused",
        token: b"",
    })))
    .expect("hello");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        while buf.len() >= 8 {
            let len = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]) as usize;
            if buf.len() < 8 + len {
                break;
            }
            let kind = buf[2];
            buf.drain(..8 + len);
            if kind == wire::kind::SNAPSHOT_END {
                return s;
            }
        }
        let n = s.read(&mut chunk).expect("read");
        assert!(n > 0, "hub closed");
        buf.extend_from_slice(&chunk[..n]);
    }
}
