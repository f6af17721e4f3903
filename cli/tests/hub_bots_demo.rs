//! `arsock hub`, `bots` and `demo` running: bots against a hub process (every message
//! delivered, poses seen, the hub's lines and /stats.json), Ctrl-C shutdown of the hub (its
//! devices get HUB_SHUTDOWN) and of the demo (report, status 0), a killed device process seen
//! stale, `--json` reports parsed, and clear errors for a hub that is absent or refuses.

mod common;
#[path = "common/http.rs"]
mod http;

use arsock::session::{event_kind, reason, Session, SessionConfig};
use arsock::Timeout;
use common::{run, Proc};
use serde_json::Value;
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

/// Start `arsock hub` on a free loopback port; returns it with its device address and, with
/// `http`, its viewer address.
fn start_hub(extra: &[&str]) -> (Proc, String, Option<SocketAddr>) {
    let mut args = vec!["hub", "--host", "127.0.0.1", "--port", "0"];
    args.extend_from_slice(extra);
    let hub = Proc::spawn(&args);
    let addr = if extra.contains(&"--json") {
        let out = hub.wait_stdout_count("\"report\":\"listening\"", 1);
        let v: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
        v["address"].as_str().expect("address in JSON").to_string()
    } else {
        let out = hub.wait_stdout_count("listening on ", 1);
        out.split("listening on ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .expect("hub prints its address")
            .to_string()
    };
    let viewer = if extra.contains(&"--http") {
        let out = hub.wait_stdout_count("viewer on http://", 1);
        let hp = out.split("viewer on http://").nth(1).unwrap();
        let hp = hp.split('/').next().unwrap();
        Some(hp.parse().expect("viewer address"))
    } else {
        None
    };
    (hub, addr, viewer)
}

/// The last line of stdout as JSON.
fn last_json(stdout: &[u8]) -> Value {
    let text = String::from_utf8_lossy(stdout);
    let line = text.lines().last().unwrap_or_else(|| panic!("no output"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?} in\n{text}"))
}

fn check_run_report(r: &Value, devices: u64) {
    assert_eq!(r["report"], "run", "{r}");
    assert_eq!(r["devices"], devices, "{r}");
    let sent = r["messages_sent"].as_u64().unwrap();
    assert!(sent >= devices, "{r}");
    assert_eq!(
        r["messages_delivered"].as_u64().unwrap(),
        sent * (devices - 1),
        "{r}"
    );
    assert_eq!(r["messages_lost"], 0, "{r}");
    assert_eq!(r["messages_duplicated"], 0, "{r}");
    assert!(r["poses_sent"].as_u64().unwrap() > 0, "{r}");
    assert!(r["pose_age"]["samples"].as_u64().unwrap() > 0, "{r}");
    assert!(r["pose_age"]["p99_ms"].as_f64().unwrap() >= 0.0, "{r}");
    assert_eq!(r["final_poses_missing"], 0, "{r}");
    assert!(r["rtt"]["samples"].as_u64().unwrap() > 0, "{r}");
}

#[test]
fn bots_against_a_hub_process_deliver_every_message_and_the_hub_shows_them() {
    let (hub, addr, viewer) = start_hub(&["--http", "0"]);
    let mut bots = Proc::spawn(&[
        "bots",
        "--hub",
        &addr,
        "--room",
        "lab",
        "--devices",
        "3",
        "--hz",
        "20",
        "--seconds",
        "4",
        "--json",
    ]);
    bots.wait_stderr("[   2.0s] 3 devices");
    // While they run, the hub's page data has the room, the devices, their poses and RTTs.
    let stats: Value = serde_json::from_slice(&http::get(viewer.unwrap(), "/stats.json").body)
        .expect("/stats.json is JSON");
    let room = &stats["rooms"][0];
    assert_eq!(room["name"], "lab", "{stats}");
    let peers = room["peers"].as_array().unwrap();
    assert_eq!(peers.len(), 3, "{stats}");
    for p in peers {
        assert_eq!(p["has_pose"], true, "{p}");
        assert_eq!(p["state"], "live", "{p}");
        assert!(p["pose_age_ms"].is_number(), "{p}");
    }
    assert!(
        stats["hub"]["poses_per_s"].as_f64().unwrap() > 0.0,
        "{stats}"
    );
    assert_eq!(stats["hub"]["address"].as_str(), Some(addr.as_str()));

    let done = bots.finish();
    assert_eq!(done.status.code(), Some(0), "{}", done.stderr);
    check_run_report(&last_json(&done.stdout), 3);

    let out = hub.wait_stdout_count("(remote close)", 3);
    assert_eq!(out.matches("joined      room \"lab\"").count(), 3, "{out}");
    assert!(
        out.contains("msg/s") && out.contains("poses/s"),
        "no summary line:\n{out}"
    );
    hub.interrupt();
    let end = hub.finish();
    assert_eq!(end.status.code(), Some(0), "{}", end.stderr);
    let text = String::from_utf8_lossy(&end.stdout).into_owned();
    assert!(text.contains("hub closed"), "{text}");
}

#[test]
fn ctrl_c_closes_the_hub_and_its_devices_are_told_hub_shutdown() {
    let (hub, addr, _) = start_hub(&[]);
    let port: u16 = addr.rsplit(':').next().unwrap().parse().unwrap();
    let cfg = SessionConfig {
        name: "watcher".into(),
        ..SessionConfig::default()
    };
    let s = Session::open("127.0.0.1", port, "r", cfg).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let next = |s: &Session| loop {
        assert!(Instant::now() < deadline, "no event in time");
        if let Ok(ev) = s.poll(1, Timeout::After(Duration::from_millis(100))) {
            return ev[0].0.clone();
        }
    };
    assert_eq!(next(&s).kind, event_kind::JOINED);
    hub.wait_stdout_count("joined      room \"r\" peer 1 \"watcher\"", 1);
    hub.interrupt();
    let e = loop {
        let e = next(&s);
        if e.kind == event_kind::DISCONNECTED {
            break e;
        }
    };
    assert_eq!(e.reason, reason::HUB_SHUTDOWN, "{e:?}");
    let end = hub.finish();
    assert_eq!(end.status.code(), Some(0), "{}", end.stderr);
    let text = String::from_utf8_lossy(&end.stdout).into_owned();
    assert!(
        text.contains("1 connected peers told HUB_SHUTDOWN"),
        "{text}"
    );
}

#[test]
fn a_killed_bots_process_is_announced_stale_by_the_hub() {
    let (hub, addr, _) = start_hub(&["--json"]);
    let mut bots = Proc::spawn(&["bots", "--hub", &addr, "--room", "k", "--devices", "2"]);
    bots.wait_stderr("[   1.0s] 2 devices");
    bots.kill();
    let out = hub.wait_stdout_count("\"event\":\"stale\"", 2);
    let stale: Vec<Value> = out
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["event"] == "stale")
        .collect();
    assert_eq!(stale.len(), 2, "{out}");
    for e in &stale {
        assert_eq!(
            (e["room"].as_str(), e["reason"].as_str()),
            (Some("k"), Some("network"))
        );
    }
    hub.interrupt();
    let end = hub.finish();
    assert_eq!(end.status.code(), Some(0), "{}", end.stderr);
    let last = last_json(&end.stdout);
    assert_eq!(
        (last["report"].as_str(), last["peers_told"].as_u64()),
        (Some("shutdown"), Some(0))
    );
}

#[test]
fn the_demo_runs_for_its_seconds_and_reports_in_json() {
    let out = run(&["demo", "--seconds", "3", "--http", "0", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["report"], "started", "{text}");
    assert!(
        first["viewer"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 2, "{text}");
    check_run_report(&last_json(&out.stdout), 8);
}

#[test]
fn ctrl_c_ends_the_demo_with_its_report_and_status_0() {
    let mut demo = Proc::spawn(&["demo", "--http", "0"]);
    let out = demo.wait_stdout_count("open the viewer at http://127.0.0.1:", 1);
    assert!(out.contains("running until Ctrl-C"), "{out}");
    demo.wait_stderr("[   1.0s] 8 devices");
    demo.interrupt();
    let end = demo.finish();
    assert_eq!(end.status.code(), Some(0), "{}", end.stderr);
    let text = String::from_utf8_lossy(&end.stdout).into_owned();
    assert!(text.contains("8 devices for "), "{text}");
    assert!(text.contains(" 0 lost, 0 duplicated"), "{text}");
    assert!(text.contains("pose age p50 "), "{text}");
}

#[test]
fn bots_and_hub_say_clearly_when_the_hub_is_absent_refuses_or_cannot_start() {
    // Nobody listens on a port we just freed.
    let free = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port().to_string();
    drop(free);
    let hub_arg = format!("127.0.0.1:{port}");
    let out = run(&[
        "bots",
        "--hub",
        &hub_arg,
        "--room",
        "r",
        "--devices",
        "2",
        "--seconds",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("could not join: no hub answered at 127.0.0.1:"),
        "{}",
        out.stderr
    );

    // A hub with a token refuses devices without it.
    let (hub, addr, _) = start_hub(&["--token", "s3cret"]);
    let out = run(&[
        "bots",
        "--hub",
        &addr,
        "--room",
        "r",
        "--devices",
        "2",
        "--seconds",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("the hub refused it: auth"),
        "{}",
        out.stderr
    );
    let ok = run(&[
        "bots",
        "--hub",
        &addr,
        "--room",
        "r",
        "--devices",
        "2",
        "--seconds",
        "1",
        "--token",
        "s3cret",
    ]);
    assert_eq!(ok.status.code(), Some(0), "{}", ok.stderr);
    let text = hub.wait_stdout_count("rejected", 1);
    assert!(text.contains("(auth: wrong or missing token)"), "{text}");

    // A hub cannot take a port that is in use.
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let out = run(&["hub", "--host", "127.0.0.1", "--port", &port]);
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("cannot start the hub on 127.0.0.1:"),
        "{}",
        out.stderr
    );

    // Nor can the demo's viewer.
    let out = run(&["demo", "--http", &port, "--seconds", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("cannot serve the viewer on 127.0.0.1:")
            && out.stderr.contains("--http PORT picks another port"),
        "{}",
        out.stderr
    );
    drop(busy);
    hub.interrupt();
    assert_eq!(hub.finish().status.code(), Some(0));
}
