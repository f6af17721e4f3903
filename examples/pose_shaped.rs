//! Poses and a 5 MiB blob through a 20 Mbit/s link: prints numbers, asserts nothing.
//!
//! Needs root, `ip` and `tc`. Creates two network namespaces of its own (`arsock_ps_hub`,
//! `arsock_ps_dev`) joined by a veth pair (10.213.7.1/30 and 10.213.7.2/30, inside those
//! namespaces only), shapes both directions with tbf at 20 Mbit/s, runs a hub in one namespace
//! and two devices in the other, and deletes the namespaces at the end.
//!
//! Both devices send a head pose at 90 Hz; device 1 records pose ages (room time). Then device
//! 0 puts a 5 MiB blob: the time until device 1 holds it is compared with the ideal (5 MiB up
//! then 5 MiB down at 20 Mbit/s: the hub forwards a blob once it holds all of it), and the pose
//! ages meanwhile are printed.
//!
//! Usage: sudo cargo run --release --example pose_shaped

use arsock::pose::Pose;
use arsock::session::hub_core::HubConfig;
use arsock::session::{event_kind, Hub, Session, SessionConfig};
use arsock::Timeout;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const NS_HUB: &str = "arsock_ps_hub";
const NS_DEV: &str = "arsock_ps_dev";
const HUB_IP: &str = "10.213.7.1";
const DEV_IP: &str = "10.213.7.2";
const RATE_BPS: f64 = 20e6;
const BLOB: usize = 5 * 1024 * 1024;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--hub") {
        return run_hub(&args[i + 1]);
    }
    if let Some(i) = args.iter().position(|a| a == "--devices") {
        let port: u16 = args[i + 2].parse().expect("port");
        return run_devices(&args[i + 1], port);
    }
    orchestrate();
}

fn sh(args: &[&str]) -> bool {
    Command::new(args[0])
        .args(&args[1..])
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn cleanup() {
    sh(&["ip", "netns", "del", NS_HUB]);
    sh(&["ip", "netns", "del", NS_DEV]);
}

fn orchestrate() {
    cleanup();
    let ok = sh(&["ip", "netns", "add", NS_HUB])
        && sh(&["ip", "netns", "add", NS_DEV])
        && sh(&[
            "ip", "link", "add", "arsps0", "type", "veth", "peer", "name", "arsps1",
        ])
        && sh(&["ip", "link", "set", "arsps0", "netns", NS_HUB])
        && sh(&["ip", "link", "set", "arsps1", "netns", NS_DEV])
        && sh(&[
            "ip",
            "-n",
            NS_HUB,
            "addr",
            "add",
            &format!("{HUB_IP}/30"),
            "dev",
            "arsps0",
        ])
        && sh(&[
            "ip",
            "-n",
            NS_DEV,
            "addr",
            "add",
            &format!("{DEV_IP}/30"),
            "dev",
            "arsps1",
        ])
        && sh(&["ip", "-n", NS_HUB, "link", "set", "arsps0", "up"])
        && sh(&["ip", "-n", NS_DEV, "link", "set", "arsps1", "up"])
        && sh(&["ip", "-n", NS_HUB, "link", "set", "lo", "up"])
        && sh(&["ip", "-n", NS_DEV, "link", "set", "lo", "up"]);
    let shaped = ok
        && [(NS_HUB, "arsps0"), (NS_DEV, "arsps1")]
            .iter()
            .all(|(ns, dev)| {
                sh(&[
                    "ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", dev, "root", "tbf",
                    "rate", "20mbit", "burst", "16kb", "latency", "400ms",
                ])
            });
    if !shaped {
        cleanup();
        println!("pose_shaped: could not set up the namespaces and tbf (root, ip and tc needed)");
        return;
    }
    let exe = std::env::current_exe().expect("exe");
    let exe = exe.to_str().expect("utf-8 path");
    let mut hub = Command::new("ip")
        .args(["netns", "exec", NS_HUB, exe, "--hub", HUB_IP])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("hub");
    let mut line = String::new();
    BufReader::new(hub.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("port");
    let port = line.trim().to_string();
    let status = Command::new("ip")
        .args(["netns", "exec", NS_DEV, exe, "--devices", HUB_IP, &port])
        .status();
    drop(hub.stdin.take());
    let _ = hub.wait();
    cleanup();
    if !status.map(|s| s.success()).unwrap_or(false) {
        println!("pose_shaped: the devices failed");
    }
}

fn run_hub(host: &str) {
    let hub = Hub::start(host, 0, HubConfig::default()).expect("hub");
    println!("{}", hub.local_addr().port());
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    hub.close();
}

fn join(host: &str, port: u16, name: &str) -> Arc<Session> {
    let s = Session::open(
        host,
        port,
        "shaped",
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
                return Arc::new(s);
            }
        }
    }
}

fn pct(v: &mut [i64], p: f64) -> i64 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    v[((v.len() as f64 * p) as usize).min(v.len() - 1)]
}

fn run_devices(host: &str, port: u16) {
    let a = join(host, port, "uploader");
    let b = join(host, port, "observer");
    for s in [&a, &b] {
        let end = Instant::now() + Duration::from_secs(10);
        while s.room_time().is_err() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let ages = Arc::new(Mutex::new(Vec::<i64>::new()));
    let mut threads = Vec::new();
    for (i, s) in [a.clone(), b.clone()].into_iter().enumerate() {
        let stop = stop.clone();
        threads.push(std::thread::spawn(move || {
            let period = Duration::from_secs_f64(1.0 / 90.0);
            let mut next = Instant::now();
            let mut k = 0f32;
            while !stop.load(Ordering::Relaxed) {
                let now = Instant::now();
                if next > now {
                    std::thread::sleep(next - now);
                }
                next += period;
                k += 1.0;
                let p = Pose {
                    entity: i as u32,
                    position: [k * 0.001, 1.6, 0.0],
                    rotation: [0.0, 0.0, 0.0, 1.0],
                    ..Pose::default()
                };
                let _ = s.send_poses(&[p]);
            }
        }));
    }
    {
        let (b, stop, ages) = (b.clone(), stop.clone(), ages.clone());
        threads.push(std::thread::spawn(move || {
            let mut last = 0u32;
            while !stop.load(Ordering::Relaxed) {
                if let (Ok(Some((seq, t))), Ok((now, _))) = (
                    b.with_latest_poses(|v| v.first().map(|p| (p.seq, p.time_us))),
                    b.room_time(),
                ) {
                    if seq != last {
                        last = seq;
                        ages.lock().expect("ages").push(now - t);
                    }
                }
                std::thread::sleep(Duration::from_micros(200));
            }
        }));
    }
    std::thread::sleep(Duration::from_secs(3));
    let mut steady = std::mem::take(&mut *ages.lock().expect("ages"));
    println!(
        "20 Mbit/s tbf both ways, 2 devices x 90 Hz: pose age p50 {} us, p99 {} us ({} poses)",
        pct(&mut steady, 0.5),
        pct(&mut steady, 0.99),
        steady.len()
    );
    let blob = vec![0xA5u8; BLOB];
    let t0 = Instant::now();
    a.put_blob("map", &blob).expect("put");
    let mut done = None;
    while t0.elapsed() < Duration::from_secs(60) && done.is_none() {
        if let Ok(evs) = b.poll(64, Timeout::After(Duration::from_millis(50))) {
            if evs
                .iter()
                .any(|(e, _)| e.kind == event_kind::BLOB_AVAILABLE)
            {
                done = Some(t0.elapsed());
            }
        }
    }
    let mut during = std::mem::take(&mut *ages.lock().expect("ages"));
    let ideal = 2.0 * BLOB as f64 * 8.0 / RATE_BPS;
    match done {
        Some(d) => println!(
            "5 MiB blob: held by the other device after {:.2} s; ideal (up then down at 20 Mbit/s) {ideal:.2} s; ratio {:.2}; pose age meanwhile p50 {} us, p99 {} us ({} poses)",
            d.as_secs_f64(),
            d.as_secs_f64() / ideal,
            pct(&mut during, 0.5),
            pct(&mut during, 0.99),
            during.len()
        ),
        None => println!("5 MiB blob: not held by the other device after 60 s"),
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    a.close();
    b.close();
}
