//! Presence and liveness through the C API: 32 devices, clean close, a device process killed
//! with SIGKILL (stale, then left at grace end), a hub that goes away.

mod sessions;
use sessions::*;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(15);

#[test]
fn thirty_two_devices_each_see_thirty_one_peers_and_a_clean_close_is_remote_close() {
    within(Duration::from_secs(120), || {
        let (hub, port) = hub();
        let mut devs: Vec<Dev> = (0..32)
            .map(|i| Dev::join(port, "presence", &format!("d{i}")))
            .collect();
        let ids: Vec<u32> = devs.iter().map(|d| d.id).collect();
        for d in devs.iter_mut() {
            let mut seen = std::collections::BTreeSet::new();
            while seen.len() < 31 {
                let e = d.next(T).expect("missing PEER_JOINED");
                if e.kind == ARSOCK_EVENT_PEER_JOINED {
                    assert!(seen.insert(e.peer), "peer {} joined twice", e.peer);
                }
            }
            let expected: std::collections::BTreeSet<u32> =
                ids.iter().copied().filter(|&i| i != d.id).collect();
            assert_eq!(seen, expected);
        }
        // Names travel with presence.
        let mut buf = [0u8; 64];
        let mut len = 0;
        ok(unsafe {
            arsock_session_peer_name(devs[0].h, ids[5], buf.as_mut_ptr(), buf.len(), &mut len)
        });
        assert_eq!(&buf[..len], b"d5");

        let leaver = devs.pop().unwrap();
        leaver.close();
        for d in devs.iter_mut() {
            let e = d
                .until(T, |e| e.kind == ARSOCK_EVENT_PEER_LEFT)
                .pop()
                .unwrap();
            assert_eq!((e.peer, e.reason), (leaver.id, ARSOCK_REASON_REMOTE_CLOSE));
        }
        for d in &devs {
            d.close();
        }
        ok(arsock_close(hub));
    });
}

/// Not a test of its own: the device process that the SIGKILL tests start and kill.
#[test]
#[ignore = "helper process for the SIGKILL tests"]
fn helper_device_process() {
    let Ok(spec) = std::env::var("ARSOCK_TEST_DEVICE") else {
        return;
    };
    let (port, room) = spec.split_once(':').unwrap();
    let mut d = Dev::join(port.parse().unwrap(), room, "victim");
    // Straight to the process's stdout (print! may be captured by the test harness).
    let mut out = std::io::stdout();
    writeln!(out, "JOINED {}", d.id).unwrap();
    out.flush().unwrap();
    loop {
        d.next(Duration::from_secs(1));
    }
}

struct Child {
    proc: std::process::Child,
    id: u32,
}

fn spawn_device(port: u16, room: &str) -> Child {
    let mut proc = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "helper_device_process",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("ARSOCK_TEST_DEVICE", format!("{port}:{room}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(proc.stdout.take().unwrap()).lines();
    let id = loop {
        let line = lines
            .next()
            .expect("device process ended before joining")
            .unwrap();
        // The harness prints "test helper_device_process ... " without a newline first.
        if let Some(at) = line.find("JOINED ") {
            break line[at + 7..].trim().parse().unwrap();
        }
    };
    Child { proc, id }
}

#[test]
fn a_device_process_killed_with_sigkill_is_stale_at_the_others_in_twenty_of_twenty_trials() {
    within(Duration::from_secs(240), || {
        let (hub, port) = hub();
        let mut obs = Dev::join(port, "kill", "observer");
        let mut delays = Vec::new();
        for trial in 0..20 {
            let mut child = spawn_device(port, "kill");
            obs.until(T, |e| {
                e.kind == ARSOCK_EVENT_PEER_JOINED && e.peer == child.id
            });
            child.proc.kill().unwrap(); // SIGKILL
            let killed = Instant::now();
            let _ = child.proc.wait();
            let seen = obs.until(T, |e| {
                e.kind == ARSOCK_EVENT_PEER_STALE && e.peer == child.id
            });
            delays.push(killed.elapsed());
            assert!(
                !seen
                    .iter()
                    .any(|e| e.kind == ARSOCK_EVENT_PEER_LEFT && e.peer == child.id),
                "trial {trial}: left before stale"
            );
        }
        delays.sort();
        println!(
            "SIGKILL -> PEER_STALE over 20 trials: min {:?}, median {:?}, max {:?}",
            delays[0], delays[10], delays[19]
        );
        obs.close();
        ok(arsock_close(hub));
    });
}

#[test]
fn a_killed_device_leaves_with_timeout_when_its_grace_ends() {
    within(Duration::from_secs(60), || {
        let (hub, port) = hub_with(|c| c.resume_grace_ms = 1500);
        let mut obs = Dev::join(port, "grace", "observer");
        let mut child = spawn_device(port, "grace");
        obs.until(T, |e| {
            e.kind == ARSOCK_EVENT_PEER_JOINED && e.peer == child.id
        });
        child.proc.kill().unwrap();
        let killed = Instant::now();
        let _ = child.proc.wait();
        let seen = obs.until(T, |e| {
            e.kind == ARSOCK_EVENT_PEER_LEFT && e.peer == child.id
        });
        let kinds: Vec<u32> = seen
            .iter()
            .filter(|e| e.peer == child.id)
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds, [ARSOCK_EVENT_PEER_STALE, ARSOCK_EVENT_PEER_LEFT]);
        assert_eq!(seen.last().unwrap().reason, ARSOCK_REASON_TIMEOUT);
        println!(
            "grace 1500 ms: PEER_LEFT(TIMEOUT) {:?} after SIGKILL",
            killed.elapsed()
        );
        // Its id is not reused.
        let newcomer = Dev::join(port, "grace", "new");
        assert!(newcomer.id > child.id);
        newcomer.close();
        obs.close();
        ok(arsock_close(hub));
    });
}

#[test]
fn without_grace_a_killed_device_leaves_at_once() {
    within(Duration::from_secs(60), || {
        let (hub, port) = hub_with(|c| c.resume_grace_ms = -1);
        let mut obs = Dev::join(port, "nograce", "observer");
        let mut child = spawn_device(port, "nograce");
        obs.until(T, |e| {
            e.kind == ARSOCK_EVENT_PEER_JOINED && e.peer == child.id
        });
        child.proc.kill().unwrap();
        let _ = child.proc.wait();
        let seen = obs.until(T, |e| e.peer == child.id && e.kind != ARSOCK_EVENT_MESSAGE);
        let e = seen.last().unwrap();
        assert_eq!(
            (e.kind, e.reason),
            (ARSOCK_EVENT_PEER_LEFT, ARSOCK_REASON_TIMEOUT)
        );
        obs.close();
        ok(arsock_close(hub));
    });
}

#[test]
fn closing_the_hub_disconnects_every_device_with_hub_shutdown() {
    within(Duration::from_secs(60), || {
        let (hub, port) = hub();
        let mut a = Dev::join(port, "r", "a");
        let mut b = Dev::join(port, "r", "b");
        ok(arsock_close(hub));
        for d in [&mut a, &mut b] {
            let e = d
                .until(T, |e| e.kind == ARSOCK_EVENT_DISCONNECTED)
                .pop()
                .unwrap();
            assert_eq!((e.reason, e.flags), (ARSOCK_REASON_HUB_SHUTDOWN, 0));
            let st = unsafe { arsock_session_send(d.h, 0, b"x".as_ptr(), 1) };
            assert_eq!(st, ARSOCK_ERR_CLOSED);
        }
        a.close();
        b.close();
    });
}
