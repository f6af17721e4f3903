//! The relay example (examples/relay.c: one thread, the arsock poller, send timeout 0) built
//! with -Wall -Wextra -Werror -pedantic against the shared library and run: three devices
//! send paced messages through it while a fourth connects with a tiny receive buffer and never
//! reads. Each reading device must get every message of the other two, complete and in order,
//! and the relay must drop the messages for the device that stopped reading and disconnect it
//! (instead of stalling the room), then shut down cleanly on SIGTERM and report its counters.
//! Run once as built and once built with -fsanitize=address,undefined (leaks checked at exit).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

mod common;
use common::native::{build_artifacts, compile_c, shared_link, ROOT};

const SENDERS: usize = 3;
const MESSAGES: u32 = 400;
const SIZE: usize = 16 * 1024;
const MAX_DROPS: u32 = 20;
/// Per-device send queue in the relay: large, so a reading device never falls this far behind
/// on a busy machine, yet far below what the stalled device is sent (SENDERS x MESSAGES x SIZE
/// = 19.7 MB; it holds at most this queue, the relay's socket send buffer, at most 4 MiB with
/// Linux defaults, and its own 4 KiB receive buffer).
const QUEUE_LIMIT: usize = 6 << 20;
const WATCHDOG: Duration = Duration::from_secs(90);

fn relay_binary(name: &str, extra: &[&str]) -> PathBuf {
    let dir = build_artifacts();
    let mut link = shared_link(dir);
    link.push("-lpthread".into());
    compile_c(name, &format!("{ROOT}/examples/relay.c"), extra, &link)
}

struct Relay(Child);
impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One frame of arsock's message framing (docs/PROTOCOL.md): 0xA5, version 1, kind 1, flags 0,
/// u32 little-endian length, payload.
fn frame(payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0xA5, 1, 1, 0];
    f.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    f.extend_from_slice(payload);
    f
}

/// Payload of message `seq` from `sender`: both in the first 8 bytes, then a pattern.
fn payload(sender: u32, seq: u32) -> Vec<u8> {
    let mut p = vec![0u8; SIZE];
    p[..4].copy_from_slice(&sender.to_le_bytes());
    p[4..8].copy_from_slice(&seq.to_le_bytes());
    for (i, b) in p[8..].iter_mut().enumerate() {
        *b = (i as u32).wrapping_mul(31).wrapping_add(sender * 7 + seq) as u8;
    }
    p
}

/// Read frames until `expected` messages arrived; checks each one's content and the order per
/// sender. Returns the number received.
fn read_all(mut s: TcpStream, me: u32, expected: usize) -> Result<usize, String> {
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let mut next = [0u32; SENDERS];
    let mut got = 0;
    let mut header = [0u8; 8];
    let mut body = vec![0u8; SIZE];
    while got < expected {
        s.read_exact(&mut header)
            .map_err(|e| format!("device {me}: after {got} messages: {e}"))?;
        if header[..4] != [0xA5, 1, 1, 0] {
            return Err(format!("device {me}: bad frame header {header:?}"));
        }
        let len = u32::from_le_bytes(header[4..8].try_into().unwrap()) as usize;
        if len != SIZE {
            return Err(format!("device {me}: message of {len} bytes"));
        }
        s.read_exact(&mut body)
            .map_err(|e| format!("device {me}: body: {e}"))?;
        let sender = u32::from_le_bytes(body[..4].try_into().unwrap());
        let seq = u32::from_le_bytes(body[4..8].try_into().unwrap());
        if sender as usize >= SENDERS || sender == me {
            return Err(format!("device {me}: message from device {sender}"));
        }
        if seq != next[sender as usize] {
            return Err(format!(
                "device {me}: from device {sender} got message {seq}, expected {} (lost or reordered)",
                next[sender as usize]
            ));
        }
        if body != payload(sender, seq) {
            return Err(format!(
                "device {me}: message {seq} of device {sender} corrupted"
            ));
        }
        next[sender as usize] += 1;
        got += 1;
    }
    Ok(got)
}

#[test]
fn relay_forwards_everything_to_readers_and_disconnects_a_device_that_stops_reading() {
    run_room(&relay_binary("relay_example", &[]), &[]);
}

#[test]
fn relay_runs_clean_under_address_and_undefined_behaviour_sanitizers() {
    let exe = relay_binary(
        "relay_example_asan",
        &["-fsanitize=address,undefined", "-fno-omit-frame-pointer"],
    );
    run_room(
        &exe,
        &[
            ("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1"),
            ("UBSAN_OPTIONS", "halt_on_error=1"),
        ],
    );
}

/// The whole scenario against the relay built as `exe`, run with `env`.
fn run_room(exe: &Path, env: &[(&str, &str)]) {
    let mut child = Command::new(exe)
        .envs(env.iter().copied())
        .args([
            "--queue-limit",
            &QUEUE_LIMIT.to_string(),
            "--max-drops",
            &MAX_DROPS.to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the relay example runs");
    let stdout = child.stdout.take().unwrap();
    let relay = Relay(child);
    let (line_tx, line_rx) = mpsc::channel::<String>();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line_tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = line_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the relay prints its port");
    let port: u16 = first
        .strip_prefix("PORT ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("first line names the port: {first:?}"));
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();

    // The device that never reads: a 4 KiB receive buffer, connected first.
    let stalled = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    stalled.set_recv_buffer_size(4096).unwrap();
    stalled.connect(&addr.into()).unwrap();

    let devices: Vec<TcpStream> = (0..SENDERS)
        .map(|_| {
            let s = TcpStream::connect(addr).unwrap();
            s.set_nodelay(true).unwrap();
            // a relay that stalls (stops reading) fails the senders instead of hanging them
            s.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
            s
        })
        .collect();
    // The relay accepts asynchronously: give it the time to take everyone in before the
    // first message (a message sent earlier would not reach a device not yet accepted).
    thread::sleep(Duration::from_millis(500));

    let expected = (SENDERS - 1) * MESSAGES as usize;
    let (done_tx, done_rx) = mpsc::channel();
    let mut writers = Vec::new();
    for (me, dev) in devices.iter().enumerate() {
        let reader = dev.try_clone().unwrap();
        let tx = done_tx.clone();
        thread::spawn(move || {
            let _ = tx.send(read_all(reader, me as u32, expected));
        });
        let mut w = dev.try_clone().unwrap();
        writers.push(thread::spawn(move || {
            for seq in 0..MESSAGES {
                w.write_all(&frame(&payload(me as u32, seq))).unwrap();
                thread::sleep(Duration::from_millis(1));
            }
        }));
    }
    drop(done_tx);
    let started = Instant::now();
    for w in writers {
        w.join().expect("a sender failed");
    }
    for _ in 0..SENDERS {
        let left = WATCHDOG.saturating_sub(started.elapsed());
        let result = done_rx
            .recv_timeout(left)
            .expect("every reading device finished in time");
        assert_eq!(result, Ok(expected));
    }

    // The relay dropped messages for the stalled device and then disconnected it.
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !lines.iter().any(|l: &String| l.contains("disconnected")) && Instant::now() < deadline {
        if let Ok(l) = line_rx.recv_timeout(Duration::from_millis(100)) {
            lines.push(l);
        }
    }
    assert!(
        lines.iter().any(|l| l.contains("stopped reading")),
        "the relay reports the device it disconnected: {lines:?}"
    );
    drop(stalled);

    // SIGTERM: the signal thread closes the poller, the blocked wait returns, the relay exits.
    let pid = relay.0.id() as libc::pid_t;
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut summary = None;
    while summary.is_none() && Instant::now() < deadline {
        if let Ok(l) = line_rx.recv_timeout(Duration::from_millis(100)) {
            if l.starts_with('{') {
                summary = Some(l);
            }
        }
    }
    let summary = summary.expect("the relay prints its counters on SIGTERM");
    let mut relay = relay;
    let status = loop {
        if let Some(s) = relay.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the relay did not exit after SIGTERM"
        );
        thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "relay exit status {status}: {summary}");
    let field = |name: &str| -> u64 {
        let key = format!("\"{name}\":");
        let at = summary
            .find(&key)
            .unwrap_or_else(|| panic!("{name} in {summary}"))
            + key.len();
        summary[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap()
    };
    assert_eq!(field("accepted"), SENDERS as u64 + 1, "{summary}");
    assert_eq!(
        field("messages"),
        SENDERS as u64 * MESSAGES as u64,
        "{summary}"
    );
    assert_eq!(field("disconnected"), 1, "{summary}");
    assert!(field("dropped") >= MAX_DROPS as u64, "{summary}");
    // every message reached both other readers; the stalled device got the rest before the drops
    assert!(
        field("deliveries") >= (SENDERS * (SENDERS - 1)) as u64 * MESSAGES as u64,
        "{summary}"
    );
}
