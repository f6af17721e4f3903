//! The viewer's HTTP server without a browser: routes, content types, /stats.json and the live
//! /events stream, served from a ViewState the test changes.

#[path = "common/http.rs"]
mod http;

use arsock_cli::view::{HubTotals, PeerState, ViewState};
use arsock_cli::viewer::{Viewer, MAX_STREAMS};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

fn serve(state: &ViewState) -> Viewer {
    Viewer::start("127.0.0.1", 0, state.clone(), 30).expect("viewer starts on loopback")
}

#[test]
fn page_script_and_style_are_served_from_the_binary() {
    let v = serve(&ViewState::new());
    let page = http::get(v.local_addr(), "/");
    assert_eq!(page.status, 200);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    let html = String::from_utf8(page.body).unwrap();
    assert!(html.contains("<script src=\"/viewer.js\">") && html.contains("/viewer.css"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "page must not load anything from outside"
    );
    let js = http::get(v.local_addr(), "/viewer.js");
    assert_eq!(js.status, 200);
    assert!(js
        .header("content-type")
        .unwrap()
        .starts_with("text/javascript"));
    assert!(String::from_utf8(js.body)
        .unwrap()
        .contains("EventSource(\"/events\")"));
    let css = http::get(v.local_addr(), "/viewer.css");
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").unwrap().starts_with("text/css"));
}

#[test]
fn unknown_paths_are_404_and_other_methods_405() {
    let v = serve(&ViewState::new());
    assert_eq!(http::get(v.local_addr(), "/nope").status, 404);
    assert_eq!(http::get(v.local_addr(), "/../Cargo.toml").status, 404);
    let head = http::request(v.local_addr(), "HEAD", "/events");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    let post = http::request(v.local_addr(), "POST", "/stats.json");
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow").as_deref(), Some("GET, HEAD"));
}

#[test]
fn stats_json_is_the_current_view() {
    let state = ViewState::new();
    let v = serve(&state);
    state.peer_joined("lab", 1, "quest-1");
    state.peer_pose("lab", 1, 1.25, -0.5, 0.3, Some(0.7));
    state.peer_rtt("lab", 1, 0.4);
    state.peer_joined("lab", 2, "phone-2");
    state.peer_state("lab", 2, PeerState::Stale);
    state.anchor_placed("lab", "table", 0.0, 2.0, 1);
    state.set_totals(HubTotals {
        address: "127.0.0.1:7700".into(),
        rooms: 1,
        peers: 2,
        poses_per_s: 60.0,
        ..HubTotals::default()
    });
    let r = http::get(v.local_addr(), "/stats.json");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
    let j: serde_json::Value = serde_json::from_slice(&r.body).expect("valid JSON");
    assert_eq!(j["hub"]["address"], "127.0.0.1:7700");
    assert_eq!(j["hub"]["poses_per_s"], 60.0);
    let room = &j["rooms"][0];
    assert_eq!(room["name"], "lab");
    assert_eq!(room["peers"][0]["name"], "quest-1");
    assert_eq!(room["peers"][0]["x"], 1.25);
    assert_eq!(room["peers"][0]["rtt_ms"], 0.4);
    assert_eq!(room["peers"][1]["state"], "stale");
    assert_eq!(room["anchors"][0]["key"], "table");
}

/// Read one `event: view` from an SSE stream and return its data as JSON.
fn next_event(r: &mut impl BufRead) -> serde_json::Value {
    let mut line = String::new();
    let mut kind = String::new();
    loop {
        line.clear();
        assert!(r.read_line(&mut line).unwrap() > 0, "stream ended");
        let l = line.trim_end();
        if let Some(k) = l.strip_prefix("event: ") {
            kind = k.to_string();
        } else if let Some(data) = l.strip_prefix("data: ") {
            assert_eq!(kind, "view");
            return serde_json::from_str(data).expect("event data is JSON");
        }
    }
}

fn open_stream(v: &Viewer) -> BufReader<TcpStream> {
    let mut s = TcpStream::connect(v.local_addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(s, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut r = BufReader::new(s);
    let mut status = String::new();
    r.read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    let mut head = String::new();
    loop {
        let mut l = String::new();
        r.read_line(&mut l).unwrap();
        if l == "\r\n" {
            break;
        }
        head.push_str(&l);
    }
    assert!(head.contains("Content-Type: text/event-stream"), "{head}");
    r
}

#[test]
fn the_event_stream_sends_snapshots_that_follow_the_state() {
    let state = ViewState::new();
    let v = serve(&state);
    state.peer_joined("r", 7, "walker");
    state.peer_pose("r", 7, 0.0, 0.0, 0.0, None);
    let mut r = open_stream(&v);
    let first = next_event(&mut r);
    assert_eq!(first["rooms"][0]["peers"][0]["x"], 0.0);
    state.peer_pose("r", 7, 2.5, 1.0, 0.0, None);
    // Within a few periods the stream carries the new position.
    let moved = (0..30).any(|_| next_event(&mut r)["rooms"][0]["peers"][0]["x"] == 2.5);
    assert!(moved, "the stream never showed the new position");
    let t1 = next_event(&mut r)["time_ms"].as_u64().unwrap();
    let t2 = next_event(&mut r)["time_ms"].as_u64().unwrap();
    assert!(t2 >= t1);
}

#[test]
fn live_streams_are_limited_and_a_freed_slot_is_reused() {
    let v = serve(&ViewState::new());
    let mut streams: Vec<_> = (0..MAX_STREAMS).map(|_| open_stream(&v)).collect();
    let refused = http::get(v.local_addr(), "/events");
    assert_eq!(refused.status, 503);
    // Pages still load while the streams are busy.
    assert_eq!(http::get(v.local_addr(), "/stats.json").status, 200);
    drop(streams.pop());
    // The server notices the closed stream at its next write; then a new one is accepted.
    let mut ok = false;
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(20));
        let mut s = TcpStream::connect(v.local_addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        write!(s, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut status = String::new();
        BufReader::new(s).read_line(&mut status).unwrap();
        if status.starts_with("HTTP/1.1 200") {
            ok = true;
            break;
        }
    }
    assert!(ok, "no stream slot was freed");
}

#[test]
fn dropping_the_viewer_stops_the_streams_and_the_listener() {
    let v = serve(&ViewState::new());
    let addr = v.local_addr();
    let mut r = open_stream(&v);
    next_event(&mut r);
    drop(v);
    // At most the events already in flight arrive; then the stream goes quiet.
    r.get_ref()
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut after = 0;
    let mut line = String::new();
    while matches!(r.read_line(&mut line), Ok(n) if n > 0) {
        after += usize::from(line.starts_with("data: "));
        line.clear();
        assert!(
            after <= 3,
            "the stream kept going after the viewer was dropped"
        );
    }
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err());
}
