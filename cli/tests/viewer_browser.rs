//! The viewer page in a real browser (headless Chromium, Debian's package): 8 devices walking
//! in a room must appear as 8 markers that move between two looks, with their names, headings
//! and side-panel rows, and /stats.json must be valid JSON that agrees with the page.
//!
//! What the page shows comes from `start_source`: the real `arsock demo --seconds 20` (an
//! embedded hub, 8 bot devices sending head poses through sessions, the viewer fed by the
//! hub's observation API), so this is the whole path from `send_poses` to the pixels.

#[path = "common/cdp.rs"]
mod cdp;
#[path = "common/http.rs"]
mod http;

use arsock_cli::view::ViewState;
use arsock_cli::viewer::Viewer;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

const DEVICES: usize = 8;

/// Something serving the viewer page, with `devices` devices walking in it.
struct Source {
    url: String,
    addr: SocketAddr,
    devices: usize,
    _running: Box<dyn Send>,
}

/// The one place to swap: the page's data source for this test.
fn start_source() -> Source {
    demo_source()
}

/// `arsock demo --seconds 20 --http 0`: it prints its viewer URL on stdout as a line
/// containing `http://HOST:PORT/`; the process is killed when the test ends.
fn demo_source() -> Source {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_arsock"))
        .args(["demo", "--seconds", "20", "--http", "0"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("arsock demo starts");
    struct Demo(std::process::Child);
    impl Drop for Demo {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let out = child.stdout.take().unwrap();
    let demo = Demo(child);
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let url = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .expect("arsock demo printed no viewer URL");
        if let Some(at) = line.find("http://") {
            break line[at..].split_whitespace().next().unwrap().to_string();
        }
    };
    let hostport = url.trim_start_matches("http://").trim_end_matches('/');
    let addr = std::net::ToSocketAddrs::to_socket_addrs(hostport)
        .expect("viewer URL has HOST:PORT")
        .next()
        .unwrap();
    Source {
        url,
        addr,
        devices: DEVICES,
        _running: Box::new(demo),
    }
}

/// Markers drawn on the map: room/id → (x, z, transform, label, inside its map, state).
fn markers(b: &mut cdp::Browser) -> BTreeMap<String, Value> {
    let v = b.eval(
        r#"(() => [...document.querySelectorAll("g.peer")]
            .filter((g) => g.style.display !== "none")
            .map((g) => {
              const box = g.querySelector("circle").getBoundingClientRect();
              const map = g.ownerSVGElement.getBoundingClientRect();
              return {
                key: `${g.dataset.room}/${g.dataset.peer}`,
                x: +g.dataset.x, z: +g.dataset.z, yaw: +g.dataset.yaw, state: g.dataset.state,
                transform: g.getAttribute("transform"),
                heading: g.firstElementChild.getAttribute("transform"),
                label: g.querySelector("text").textContent,
                inside: box.left >= map.left && box.right <= map.right &&
                        box.top >= map.top && box.bottom <= map.bottom && box.width > 4,
              };
            }))()"#,
    );
    v.as_array()
        .expect("marker list")
        .iter()
        .map(|m| (m["key"].as_str().unwrap().to_string(), m.clone()))
        .collect()
}

fn stats(addr: SocketAddr) -> Value {
    let r = http::get(addr, "/stats.json");
    assert_eq!(r.status, 200);
    serde_json::from_slice(&r.body).expect("/stats.json is valid JSON")
}

#[test]
fn eight_walking_devices_appear_as_markers_that_move_in_a_real_browser() {
    let source = start_source();
    let n = source.devices;
    let mut b = cdp::Browser::launch(1360, 860);
    b.navigate(&source.url);
    // Live markers, anchors, and every device's RTT in the panel (the devices publish it with
    // their second status write, within about 2 s; the first anchors come after 2-4 s).
    let ready = format!(
        r#"document.querySelectorAll("g.peer[data-state=live]:not([style*=none])").length >= {n}
           && +document.body.dataset.updates > 5
           && document.querySelectorAll("g.anchor").length >= 4
           && [...document.querySelectorAll("aside .ptable tbody tr")]
                .filter((tr) => !isNaN(parseFloat(tr.children[1].textContent))).length >= {n}"#
    );
    assert!(
        b.wait_for(&ready, Duration::from_secs(30)),
        "the page never showed {n} live markers; it has: {:?}",
        markers(&mut b).keys().collect::<Vec<_>>()
    );

    let s = stats(source.addr);
    let names: BTreeMap<String, String> = s["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            let room = r["name"].as_str().unwrap().to_string();
            r["peers"].as_array().unwrap().iter().map(move |p| {
                (
                    format!("{room}/{}", p["id"]),
                    p["name"].as_str().unwrap().to_string(),
                )
            })
        })
        .collect();
    assert_eq!(names.len(), n, "stats.json lists {} peers", names.len());
    let anchors_listed: usize = s["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["anchors"].as_array().unwrap().len())
        .sum();

    let look_a = Instant::now();
    let updates_a = b.eval("+document.body.dataset.updates");
    let first = markers(&mut b);
    let shot_a = b.screenshot();
    thread::sleep(Duration::from_millis(800));
    let second = markers(&mut b);
    let shot_b = b.screenshot();
    let updates_b = b.eval("+document.body.dataset.updates");
    let between = look_a.elapsed().as_secs_f64();

    assert_eq!(
        first.len(),
        n,
        "markers: {:?}",
        first.keys().collect::<Vec<_>>()
    );
    assert_eq!(second.len(), n);
    for (key, a) in &first {
        let b2 = &second[key];
        assert_eq!(a["state"], "live", "{key}");
        assert_eq!(
            a["label"].as_str(),
            names.get(key).map(String::as_str),
            "{key} label"
        );
        assert!(
            a["heading"].as_str().unwrap().starts_with("rotate("),
            "{key} has no heading"
        );
        assert_eq!(a["inside"], true, "{key} is drawn outside its map: {a}");
        let dist = ((a["x"].as_f64().unwrap() - b2["x"].as_f64().unwrap()).powi(2)
            + (a["z"].as_f64().unwrap() - b2["z"].as_f64().unwrap()).powi(2))
        .sqrt();
        assert!(dist > 0.01, "{key} did not move: {a} then {b2}");
        assert_ne!(
            a["transform"], b2["transform"],
            "{key}'s marker did not move on screen"
        );
    }
    assert!(
        updates_b.as_f64() > updates_a.as_f64(),
        "the live stream stopped"
    );
    let got = updates_b.as_f64().unwrap() - updates_a.as_f64().unwrap();
    eprintln!(
        "the page received {got} updates in {between:.2} s: {:.1} per second (stream: 30)",
        got / between
    );

    let rows = b.eval(
        r#"[...document.querySelectorAll("aside .ptable tbody tr")].map((tr) =>
             [...tr.children].map((td) => td.textContent))"#,
    );
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), n, "side panel rows: {rows:?}");
    for r in rows {
        let cells: Vec<&str> = r
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        assert!(
            names
                .values()
                .any(|name| cells[0].starts_with(name.as_str())),
            "{cells:?}"
        );
        assert!(cells[1].parse::<f64>().is_ok(), "RTT cell {cells:?}");
        assert!(cells[2].parse::<f64>().is_ok(), "pose age cell {cells:?}");
        assert_eq!(cells[3], "live");
    }
    let anchors_drawn = b.eval(r#"document.querySelectorAll("g.anchor").length"#);
    assert!(anchors_drawn.as_u64().unwrap() as usize >= anchors_listed);

    for (name, shot) in [("viewer-a.png", &shot_a), ("viewer-b.png", &shot_b)] {
        assert!(
            shot.starts_with(b"\x89PNG\r\n\x1a\n") && shot.len() > 10_000,
            "{name}"
        );
        let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
        std::fs::write(&path, shot).unwrap();
        eprintln!("screenshot: {}", path.display());
    }
    assert_ne!(shot_a, shot_b, "the two screenshots are identical");
}

#[test]
fn stale_and_left_devices_and_several_rooms_are_shown_with_their_state() {
    let state = ViewState::new();
    let viewer = Viewer::start("127.0.0.1", 0, state.clone(), 30).expect("viewer starts");
    // The browser first: a peer that left is shown for 10 s from `peer_left`, and a browser
    // can take that long to start on a loaded machine.
    let mut b = cdp::Browser::launch(1360, 860);
    state.peer_joined("lobby", 1, "Quest 3 · Ben");
    state.peer_pose("lobby", 1, 0.5, 0.5, 1.0, Some(0.4));
    state.peer_joined("lobby", 2, "iPhone 15 · Chloe");
    state.peer_pose("lobby", 2, -1.0, 1.0, -0.5, Some(0.5));
    state.peer_state("lobby", 2, arsock_cli::view::PeerState::Stale);
    state.peer_joined("lobby", 3, "Pixel 8 · Dev");
    state.peer_pose("lobby", 3, 2.0, -1.0, 0.0, None);
    state.peer_left("lobby", 3);
    state.peer_joined("studio", 1, "Vision Pro · Ana");
    state.peer_pose("studio", 1, 0.0, 0.0, 0.0, Some(0.3));
    state.peer_joined("studio", 2, "no pose yet");
    state.anchor_placed("studio", "<b>not markup</b>", 1.0, 1.0, 1);

    b.navigate(&viewer.url());
    assert!(b.wait_for(
        r#"document.querySelectorAll(".room").length === 2 && +document.body.dataset.updates > 2"#,
        Duration::from_secs(30)
    ));
    let states = b.eval(
        r#"Object.fromEntries([...document.querySelectorAll("g.peer")].map((g) =>
             [`${g.dataset.room}/${g.dataset.peer}`,
              [g.getAttribute("class"), g.style.display !== "none"]]))"#,
    );
    assert_eq!(states["lobby/1"], serde_json::json!(["peer live", true]));
    assert_eq!(states["lobby/2"], serde_json::json!(["peer stale", true]));
    assert_eq!(states["lobby/3"], serde_json::json!(["peer left", true]));
    assert_eq!(states["studio/1"], serde_json::json!(["peer live", true]));
    // A peer without a pose is listed but not drawn.
    assert_eq!(states["studio/2"], serde_json::json!(["peer live", false]));
    let badges = b.eval(
        r#"[...document.querySelectorAll("aside .ptable")].map((t) => [t.dataset.room,
             [...t.querySelectorAll("tbody tr")].map((tr) =>
               [tr.children[0].textContent, tr.querySelector(".badge").textContent])])"#,
    );
    let expected = serde_json::json!([
        [
            "lobby",
            [
                ["Quest 3 · Ben#1", "live"],
                ["iPhone 15 · Chloe#2", "stale"],
                ["Pixel 8 · Dev#3", "left"]
            ]
        ],
        [
            "studio",
            [["Vision Pro · Ana#1", "live"], ["no pose yet#2", "live"]]
        ]
    ]);
    assert_eq!(badges, expected);
    // Names and keys are text, never markup.
    let anchor = b.eval(r#"document.querySelector("g.anchor text").textContent"#);
    assert_eq!(anchor, "<b>not markup</b>");
    assert_eq!(
        b.eval(r#"document.querySelectorAll("g.anchor b").length"#),
        0
    );
    let shot = b.screenshot();
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("viewer-states.png");
    std::fs::write(&path, &shot).unwrap();
    eprintln!("screenshot: {}", path.display());
}
