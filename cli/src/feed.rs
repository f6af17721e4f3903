//! From the hub's observation API to the viewer's model: each [`Feed::update`] turns one
//! [`HubObservation`] into [`ViewState`] calls (presence, anchors, RTTs, poses) and the
//! hub's rates, and [`event_line`] words the hub's presence events for the terminal.
//!
//! Room state conventions the bots follow (any app may use them to appear on the page):
//! - `anchor/<name>` = JSON `{"x": m, "y": m, "z": m}`: an anchor drawn at (x, z);
//! - `status/<peer id>` = JSON `{"rtt_ms": number|null, ...}`: that peer's round-trip time
//!   to the hub as the device measured it (see docs/CLI.md).

use crate::view::{yaw_from_quaternion, HubTotals, PeerState, ViewState};
use arsock::session::hub_core::observe::{
    HubCounters, HubObservation, ObservedEvent, ObservedKind,
};
use arsock::session::reason;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

/// Rates are counted over windows of this length (the page and the summary line show the
/// last complete one).
pub const RATE_WINDOW: std::time::Duration = std::time::Duration::from_secs(1);

/// The pose entity drawn as a device's marker: its head (the bots send their head as 0).
pub const HEAD_ENTITY: u32 = 0;

/// State key prefix of anchors.
pub const ANCHOR_PREFIX: &str = "anchor/";
/// State key prefix of device status (RTT).
pub const STATUS_PREFIX: &str = "status/";

/// Keeps what the view was told, so that departures (peers, anchors, rooms) are noticed.
pub struct Feed {
    view: ViewState,
    address: String,
    peers: BTreeSet<(String, u32)>,
    anchors: BTreeSet<(String, String)>,
    rooms: BTreeSet<String>,
    last: Option<(Instant, HubCounters)>,
    totals: HubTotals,
}

/// An anchor's position from its JSON value.
pub fn anchor_position(value: &[u8]) -> Option<(f32, f32)> {
    let v: Value = serde_json::from_slice(value).ok()?;
    let x = v.get("x")?.as_f64()? as f32;
    let z = v.get("z")?.as_f64()? as f32;
    (x.is_finite() && z.is_finite()).then_some((x, z))
}

/// The RTT published in a status value.
pub fn status_rtt(value: &[u8]) -> Option<f64> {
    let v: Value = serde_json::from_slice(value).ok()?;
    v.get("rtt_ms")?
        .as_f64()
        .filter(|r| r.is_finite() && *r >= 0.0)
}

impl Feed {
    /// A feed into `view`; `address` is what devices connect to (shown on the page).
    pub fn new(view: ViewState, address: String) -> Feed {
        Feed {
            view,
            address,
            peers: BTreeSet::new(),
            anchors: BTreeSet::new(),
            rooms: BTreeSet::new(),
            last: None,
            totals: HubTotals::default(),
        }
    }

    /// The totals computed by the last update (rates over the time since the one before).
    pub fn totals(&self) -> &HubTotals {
        &self.totals
    }

    /// Apply one observation taken at `at`.
    pub fn update(&mut self, obs: &HubObservation, at: Instant) {
        let mut peers = BTreeSet::new();
        let mut anchors = BTreeSet::new();
        let mut rooms = BTreeSet::new();
        let mut peer_count = 0u32;
        for room in &obs.rooms {
            let name = room.name.to_string();
            for p in &room.peers {
                if self.peers.contains(&(name.clone(), p.id)) {
                    let state = if p.stale {
                        PeerState::Stale
                    } else {
                        PeerState::Live
                    };
                    self.view.peer_state(&name, p.id, state);
                } else {
                    self.view.peer_joined(&name, p.id, &p.name);
                    if p.stale {
                        self.view.peer_state(&name, p.id, PeerState::Stale);
                    }
                }
                peers.insert((name.clone(), p.id));
                peer_count += 1;
            }
            for pose in room.poses.iter().filter(|p| p.entity == HEAD_ENTITY) {
                let Some(p) = room.peers.iter().find(|p| p.id == pose.peer) else {
                    continue;
                };
                let age_ms = p.pose_arrival_age_us.map(|us| us as f64 / 1000.0);
                let yaw = yaw_from_quaternion(pose.rotation);
                let [x, _, z] = pose.position;
                self.view.peer_pose(&name, p.id, x, z, yaw, age_ms);
            }
            for (key, writer, value) in &room.state {
                if let Some(anchor) = key.strip_prefix(ANCHOR_PREFIX) {
                    if let Some((x, z)) = anchor_position(value) {
                        self.view.anchor_placed(&name, anchor, x, z, *writer);
                        anchors.insert((name.clone(), anchor.to_string()));
                    }
                } else if let Some(id) = key.strip_prefix(STATUS_PREFIX) {
                    let id = id.parse::<u32>().ok().filter(|id| *id == *writer);
                    if let (Some(id), Some(rtt)) = (id, status_rtt(value)) {
                        if peers.contains(&(name.clone(), id)) {
                            self.view.peer_rtt(&name, id, rtt);
                        }
                    }
                }
            }
            rooms.insert(name);
        }
        for (room, id) in self.peers.difference(&peers) {
            self.view.peer_left(room, *id);
        }
        for (room, key) in self.anchors.difference(&anchors) {
            self.view.anchor_removed(room, key);
        }
        for room in self.rooms.difference(&rooms) {
            self.view.room_removed(room);
        }
        (self.peers, self.anchors, self.rooms) = (peers, anchors, rooms);

        let c = obs.counters;
        let mut t = HubTotals {
            address: self.address.clone(),
            rooms: obs.rooms.len() as u32,
            peers: peer_count,
            queue_high_water: c.queue_high_water,
            ..self.totals.clone()
        };
        match self.last {
            None => self.last = Some((at, c)),
            Some((then, before)) => {
                let dt = at.saturating_duration_since(then).as_secs_f64();
                if dt >= RATE_WINDOW.as_secs_f64() {
                    let per_s = |now: u64, was: u64| now.saturating_sub(was) as f64 / dt;
                    t.messages_per_s = per_s(c.messages_in, before.messages_in);
                    t.poses_per_s = per_s(c.poses_in, before.poses_in);
                    t.bytes_in_per_s = per_s(c.bytes_in, before.bytes_in);
                    t.bytes_out_per_s = per_s(c.bytes_out, before.bytes_out);
                    self.last = Some((at, c));
                }
            }
        }
        self.view.set_totals(t.clone());
        self.totals = t;
    }
}

/// A reason as a word ("timeout", "remote close", "app 1001").
pub fn reason_name(r: i32) -> String {
    let s = match r {
        reason::NONE => "none",
        reason::LOCAL_CLOSE => "local close",
        reason::REMOTE_CLOSE => "remote close",
        reason::TIMEOUT => "timeout",
        reason::KICKED => "kicked",
        reason::ROOM_FULL => "room full",
        reason::VERSION => "version",
        reason::AUTH => "auth",
        reason::PROTOCOL => "protocol",
        reason::NETWORK => "network",
        reason::HUB_SHUTDOWN => "hub shutdown",
        reason::SLOW_PEER => "slow peer",
        1000..=1999 => return format!("app {r}"),
        _ => return format!("reason {r}"),
    };
    s.to_string()
}

fn kind_word(k: ObservedKind) -> &'static str {
    match k {
        ObservedKind::Joined => "joined",
        ObservedKind::Reconnected => "reconnected",
        ObservedKind::Stale => "stale",
        ObservedKind::Resumed => "resumed",
        ObservedKind::SlowPeer => "slow",
        ObservedKind::Left => "left",
        ObservedKind::Rejected => "rejected",
    }
}

/// One line for the terminal: `joined  room "demo" peer 3 "Pixel 8 · Dev"`,
/// `left    room "demo" peer 3 "Pixel 8 · Dev" (remote close)`.
pub fn event_line(e: &ObservedEvent) -> String {
    let word = kind_word(e.kind);
    if e.kind == ObservedKind::Rejected {
        return format!(
            "{word:<11} a connection ({}: {})",
            reason_name(e.reason),
            e.text
        );
    }
    let mut line = format!(
        "{word:<11} room {:?} peer {} {:?}",
        &*e.room, e.peer, e.name
    );
    let why = match (e.reason, e.text.is_empty()) {
        (reason::NONE, true) => None,
        (reason::NONE, false) => Some(e.text.clone()),
        (r, true) => Some(reason_name(r)),
        (r, false) => Some(format!("{}: {}", reason_name(r), e.text)),
    };
    if let Some(why) = why {
        line.push_str(&format!(" ({why})"));
    }
    line
}

/// The same event as one JSON object (`--json`).
pub fn event_json(e: &ObservedEvent) -> String {
    let mut v = BTreeMap::new();
    v.insert("report", Value::from("event"));
    v.insert("event", Value::from(kind_word(e.kind)));
    v.insert("time_us", Value::from(e.time_us));
    v.insert("room", Value::from(&*e.room));
    v.insert("peer", Value::from(e.peer));
    v.insert("name", Value::from(e.name.as_str()));
    v.insert("reason", Value::from(reason_name(e.reason)));
    v.insert("text", Value::from(e.text.as_str()));
    serde_json::to_string(&v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arsock::session::hub_core::observe::{ObservedPeer, ObservedRoom};
    use std::sync::Arc;

    fn peer(id: u32, stale: bool) -> ObservedPeer {
        ObservedPeer {
            id,
            name: format!("p{id}"),
            stale,
            connected: !stale,
            queue_bytes: 0,
            silent_ms: 0,
            pose_arrival_age_us: None,
        }
    }

    #[test]
    fn presence_anchors_and_status_reach_the_view_and_departures_are_noticed() {
        let view = ViewState::new();
        let mut feed = Feed::new(view.clone(), "127.0.0.1:1".into());
        let v = |s: &str| -> Arc<[u8]> { Arc::from(s.as_bytes()) };
        let mut obs = HubObservation {
            rooms: vec![ObservedRoom {
                name: Arc::from("r"),
                peers: vec![peer(1, false), peer(2, true)],
                state: vec![
                    ("anchor/cube".into(), 1, v(r#"{"x":1.5,"y":0,"z":-2}"#)),
                    ("anchor/bad".into(), 1, v("not json")),
                    ("status/1".into(), 1, v(r#"{"rtt_ms":0.25}"#)),
                    ("status/2".into(), 1, v(r#"{"rtt_ms":9}"#)), // written by 1: ignored
                ],
                poses: vec![],
            }],
            ..HubObservation::default()
        };
        let t0 = Instant::now();
        feed.update(&obs, t0);
        let s = view.snapshot();
        let r = &s.rooms[0];
        assert_eq!(r.peers[0].rtt_ms, Some(0.25));
        assert_eq!(r.peers[1].state, PeerState::Stale);
        assert_eq!(r.peers[1].rtt_ms, None);
        assert_eq!(r.anchors.len(), 1);
        assert_eq!((r.anchors[0].x, r.anchors[0].z), (1.5, -2.0));
        assert_eq!((s.hub.rooms, s.hub.peers), (1, 2));

        obs.rooms[0].peers.truncate(1);
        obs.rooms[0].state.clear();
        obs.counters.messages_in = 50;
        obs.counters.bytes_out = 2000;
        feed.update(&obs, t0 + std::time::Duration::from_millis(500));
        let s = view.snapshot();
        assert_eq!(s.rooms[0].peers[1].state, PeerState::Left);
        assert!(s.rooms[0].anchors.is_empty());
        assert_eq!(s.hub.messages_per_s, 0.0, "not a whole window yet");
        feed.update(&obs, t0 + std::time::Duration::from_millis(2000));
        let s = view.snapshot();
        assert_eq!(s.hub.messages_per_s, 25.0);
        assert_eq!(s.hub.bytes_out_per_s, 1000.0);

        obs.rooms.clear();
        feed.update(&obs, t0 + std::time::Duration::from_millis(2100));
        assert!(view.snapshot().rooms.is_empty());
    }

    #[test]
    fn event_lines_name_the_reason() {
        let e = ObservedEvent {
            time_us: 0,
            kind: ObservedKind::Left,
            room: Arc::from("demo"),
            peer: 3,
            name: "Dev".into(),
            reason: reason::REMOTE_CLOSE,
            text: String::new(),
        };
        assert_eq!(
            event_line(&e),
            "left        room \"demo\" peer 3 \"Dev\" (remote close)"
        );
        let j: Value = serde_json::from_str(&event_json(&e)).unwrap();
        assert_eq!(
            (j["event"].as_str(), j["reason"].as_str()),
            (Some("left"), Some("remote close"))
        );
        assert_eq!(reason_name(1001), "app 1001");
    }
}
