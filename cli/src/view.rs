//! The viewer's model: what the page shows, as plain structs serialised with serde_json.
//!
//! A [`ViewState`] is shared between whoever knows what happens in the rooms (the hub, through
//! method calls such as [`ViewState::peer_pose`]) and the HTTP server that streams
//! [`ViewState::snapshot`] to the page. It is cheap to clone (one `Arc`) and thread-safe.
//!
//! Coordinates are the room's, in metres, seen from above: `x` to the right, `z` towards the
//! viewer (ARKit/ARCore/Unity-style y-up worlds). `yaw` is the heading in radians about +y;
//! yaw 0 looks along -z, yaw +π/2 along -x (counter-clockwise seen from above).

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a peer that left stays on the page (drawn as "left") before it disappears.
pub const LEFT_LINGER: Duration = Duration::from_secs(10);
/// Most rooms, peers per room and anchors per room the view keeps (the page must stay usable;
/// the hub's own limits are lower or equal).
pub const MAX_ROOMS: usize = 256;
pub const MAX_PEERS: usize = 256;
pub const MAX_ANCHORS: usize = 4096;

/// Everything the page shows at one moment.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct View {
    /// Milliseconds since the view state was created (the page shows it as uptime).
    pub time_ms: u64,
    pub hub: HubTotals,
    /// Sorted by name.
    pub rooms: Vec<RoomView>,
}

/// Totals over the whole hub, as its summary line prints them.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct HubTotals {
    /// Address devices connect to, e.g. "127.0.0.1:7700" (empty if unknown).
    pub address: String,
    pub rooms: u32,
    pub peers: u32,
    pub messages_per_s: f64,
    pub poses_per_s: f64,
    pub bytes_in_per_s: f64,
    pub bytes_out_per_s: f64,
    /// Highest number of bytes queued for any one peer.
    pub queue_high_water: u64,
}

/// One room: its peers (sorted by id) and anchors (sorted by key).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RoomView {
    pub name: String,
    pub peers: Vec<PeerView>,
    pub anchors: Vec<AnchorView>,
}

/// Whether a peer is heard from, silent (stale) or gone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PeerState {
    #[default]
    Live,
    Stale,
    Left,
}

/// One device in a room.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PeerView {
    pub id: u32,
    pub name: String,
    pub x: f32,
    pub z: f32,
    pub yaw: f32,
    /// False until the first pose arrived (the page does not draw it on the map until then).
    pub has_pose: bool,
    /// Round-trip time to the hub, if measured.
    pub rtt_ms: Option<f64>,
    /// Age of its newest pose when it arrived (receive time − capture time, room time).
    pub pose_age_ms: Option<f64>,
    pub state: PeerState,
}

/// Something placed in the room.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AnchorView {
    pub key: String,
    pub x: f32,
    pub z: f32,
    /// Peer that placed it (0 = the hub or unknown).
    pub by: u32,
}

#[derive(Default)]
struct Room {
    peers: BTreeMap<u32, (PeerView, Option<Instant>)>,
    anchors: BTreeMap<String, AnchorView>,
}

struct Inner {
    hub: HubTotals,
    rooms: BTreeMap<String, Room>,
}

/// The room, created if there is room for it (pose updates, the common case, allocate nothing).
fn room_mut<'a>(rooms: &'a mut BTreeMap<String, Room>, name: &str) -> Option<&'a mut Room> {
    if !rooms.contains_key(name) {
        if rooms.len() >= MAX_ROOMS {
            return None;
        }
        rooms.insert(name.to_string(), Room::default());
    }
    rooms.get_mut(name)
}

/// The live view model, filled by the hub and read by the viewer. See the module docs.
#[derive(Clone)]
pub struct ViewState {
    inner: Arc<Mutex<Inner>>,
    started: Instant,
}

impl Default for ViewState {
    fn default() -> Self {
        ViewState::new()
    }
}

impl ViewState {
    pub fn new() -> ViewState {
        ViewState {
            inner: Arc::new(Mutex::new(Inner {
                hub: HubTotals::default(),
                rooms: BTreeMap::new(),
            })),
            started: Instant::now(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Run `f` on the peer, creating room and peer if needed (within the limits; beyond them
    /// the update is dropped: the page shows the first 256 rooms and peers).
    fn with_peer(&self, room: &str, id: u32, f: impl FnOnce(&mut PeerView)) {
        let mut inner = self.lock();
        let Some(r) = room_mut(&mut inner.rooms, room) else {
            return;
        };
        if !r.peers.contains_key(&id) && r.peers.len() >= MAX_PEERS {
            return;
        }
        let entry = r.peers.entry(id).or_insert_with(|| {
            (
                PeerView {
                    id,
                    ..PeerView::default()
                },
                None,
            )
        });
        f(&mut entry.0);
    }

    /// A peer joined `room` (or resumed under the same id): it is live, with this name.
    pub fn peer_joined(&self, room: &str, id: u32, name: &str) {
        self.with_peer(room, id, |p| {
            p.name = name.to_string();
            p.state = PeerState::Live;
        });
        self.clear_left(room, id);
    }

    /// The newest pose of a peer: position on the floor, heading, and its age on arrival.
    pub fn peer_pose(&self, room: &str, id: u32, x: f32, z: f32, yaw: f32, age_ms: Option<f64>) {
        if !(x.is_finite() && z.is_finite() && yaw.is_finite()) {
            return;
        }
        self.with_peer(room, id, |p| {
            p.x = x;
            p.z = z;
            p.yaw = yaw;
            p.has_pose = true;
            p.pose_age_ms = age_ms.filter(|a| a.is_finite());
        });
    }

    /// A new round-trip time measurement for a peer.
    pub fn peer_rtt(&self, room: &str, id: u32, rtt_ms: f64) {
        if rtt_ms.is_finite() {
            self.with_peer(room, id, |p| p.rtt_ms = Some(rtt_ms));
        }
    }

    /// A peer went silent (PEER_STALE) or was heard again (PEER_RESUMED: `Live`).
    pub fn peer_state(&self, room: &str, id: u32, state: PeerState) {
        if state == PeerState::Left {
            return self.peer_left(room, id);
        }
        self.with_peer(room, id, |p| p.state = state);
        self.clear_left(room, id);
    }

    /// A peer left: shown as "left" for [`LEFT_LINGER`], then removed.
    pub fn peer_left(&self, room: &str, id: u32) {
        let mut inner = self.lock();
        if let Some((p, left)) = inner.rooms.get_mut(room).and_then(|r| r.peers.get_mut(&id)) {
            p.state = PeerState::Left;
            *left = Some(Instant::now());
        }
    }

    fn clear_left(&self, room: &str, id: u32) {
        let mut inner = self.lock();
        if let Some((_, left)) = inner.rooms.get_mut(room).and_then(|r| r.peers.get_mut(&id)) {
            *left = None;
        }
    }

    /// Something was placed (or moved) at `x, z` under `key`.
    pub fn anchor_placed(&self, room: &str, key: &str, x: f32, z: f32, by: u32) {
        if !(x.is_finite() && z.is_finite()) {
            return;
        }
        let mut inner = self.lock();
        let Some(r) = room_mut(&mut inner.rooms, room) else {
            return;
        };
        if !r.anchors.contains_key(key) && r.anchors.len() >= MAX_ANCHORS {
            return;
        }
        r.anchors.insert(
            key.to_string(),
            AnchorView {
                key: key.to_string(),
                x,
                z,
                by,
            },
        );
    }

    /// An anchor was deleted.
    pub fn anchor_removed(&self, room: &str, key: &str) {
        if let Some(r) = self.lock().rooms.get_mut(room) {
            r.anchors.remove(key);
        }
    }

    /// The hub removed a room (its last peer left long ago).
    pub fn room_removed(&self, room: &str) {
        self.lock().rooms.remove(room);
    }

    /// New hub totals (the summary the hub computes every second or so).
    pub fn set_totals(&self, totals: HubTotals) {
        self.lock().hub = totals;
    }

    /// The view as the page gets it. Peers that left more than [`LEFT_LINGER`] ago are dropped
    /// here; `rooms`/`peers` in the totals are recounted from what is shown when the hub left
    /// them at 0.
    pub fn snapshot(&self) -> View {
        let now = Instant::now();
        let mut inner = self.lock();
        for r in inner.rooms.values_mut() {
            r.peers
                .retain(|_, (_, left)| left.is_none_or(|t| now.duration_since(t) < LEFT_LINGER));
        }
        let rooms: Vec<RoomView> = inner
            .rooms
            .iter()
            .map(|(name, r)| RoomView {
                name: name.clone(),
                peers: r.peers.values().map(|(p, _)| p.clone()).collect(),
                anchors: r.anchors.values().cloned().collect(),
            })
            .collect();
        let mut hub = inner.hub.clone();
        if hub.rooms == 0 && hub.peers == 0 {
            hub.rooms = rooms.len() as u32;
            hub.peers = rooms
                .iter()
                .flat_map(|r| &r.peers)
                .filter(|p| p.state != PeerState::Left)
                .count() as u32;
        }
        View {
            time_ms: now.duration_since(self.started).as_millis() as u64,
            hub,
            rooms,
        }
    }

    /// [`snapshot`](ViewState::snapshot) as JSON.
    pub fn snapshot_json(&self) -> String {
        // Serialising plain structs of numbers and strings cannot fail.
        serde_json::to_string(&self.snapshot()).unwrap_or_else(|_| "{}".into())
    }
}

/// Heading about +y (radians, 0 = looking along -z, counter-clockwise seen from above) of a
/// rotation given as a unit quaternion `[x, y, z, w]`, as in `arsock_pose.rotation`.
pub fn yaw_from_quaternion(q: [f32; 4]) -> f32 {
    let [x, y, z, w] = q;
    // Forward is the rotated -z axis; its projection on the floor gives the heading.
    let fx = -(2.0 * (x * z + w * y));
    let fz = -(1.0 - 2.0 * (x * x + y * y));
    (-fx).atan2(-fz)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f32::consts::FRAC_PI_2;

    #[test]
    fn snapshot_lists_rooms_peers_and_anchors_sorted_with_their_latest_values() {
        let v = ViewState::new();
        v.peer_joined("b", 2, "two");
        v.peer_joined("a", 9, "nine");
        v.peer_joined("a", 1, "one");
        v.peer_pose("a", 1, 1.5, -2.0, 0.25, Some(0.4));
        v.peer_rtt("a", 1, 0.8);
        v.anchor_placed("a", "cube", 0.5, 0.5, 1);
        let s = v.snapshot();
        assert_eq!(
            s.rooms.iter().map(|r| &r.name[..]).collect::<Vec<_>>(),
            ["a", "b"]
        );
        let a = &s.rooms[0];
        assert_eq!(a.peers.iter().map(|p| p.id).collect::<Vec<_>>(), [1, 9]);
        let p = &a.peers[0];
        assert_eq!((p.x, p.z, p.yaw, p.has_pose), (1.5, -2.0, 0.25, true));
        assert_eq!((p.rtt_ms, p.pose_age_ms), (Some(0.8), Some(0.4)));
        assert!(!a.peers[1].has_pose);
        assert_eq!(a.anchors[0].key, "cube");
        assert_eq!((s.hub.rooms, s.hub.peers), (2, 3));
    }

    #[test]
    fn stale_then_left_peers_are_marked_and_a_rejoin_makes_them_live() {
        let v = ViewState::new();
        v.peer_joined("r", 1, "a");
        v.peer_state("r", 1, PeerState::Stale);
        assert_eq!(v.snapshot().rooms[0].peers[0].state, PeerState::Stale);
        v.peer_left("r", 1);
        let s = v.snapshot();
        assert_eq!(s.rooms[0].peers[0].state, PeerState::Left);
        assert_eq!(s.hub.peers, 0);
        v.peer_joined("r", 1, "a");
        assert_eq!(v.snapshot().rooms[0].peers[0].state, PeerState::Live);
    }

    #[test]
    fn json_has_the_documented_field_names() {
        let v = ViewState::new();
        v.peer_joined("r", 3, "héllo \"quoted\"");
        v.peer_state("r", 3, PeerState::Stale);
        let j: serde_json::Value = serde_json::from_str(&v.snapshot_json()).unwrap();
        let p = &j["rooms"][0]["peers"][0];
        assert_eq!(p["id"], 3);
        assert_eq!(p["name"], "héllo \"quoted\"");
        assert_eq!(p["state"], "stale");
        assert!(p["rtt_ms"].is_null());
        for k in ["x", "z", "yaw", "pose_age_ms", "has_pose"] {
            assert!(p.get(k).is_some(), "missing {k}");
        }
        assert!(j["hub"]["messages_per_s"].is_number());
        assert!(j["rooms"][0]["anchors"].is_array());
    }

    #[test]
    fn non_finite_values_are_ignored() {
        let v = ViewState::new();
        v.peer_pose("r", 1, 1.0, 2.0, 0.0, None);
        v.peer_pose("r", 1, f32::NAN, 0.0, 0.0, None);
        v.anchor_placed("r", "k", f32::INFINITY, 0.0, 0);
        let s = v.snapshot();
        assert_eq!((s.rooms[0].peers[0].x, s.rooms[0].peers[0].z), (1.0, 2.0));
        assert!(s.rooms[0].anchors.is_empty());
        assert!(serde_json::from_str::<serde_json::Value>(&v.snapshot_json()).is_ok());
    }

    #[test]
    fn peers_and_rooms_beyond_the_limits_are_not_added() {
        let v = ViewState::new();
        for id in 0..(MAX_PEERS as u32 + 10) {
            v.peer_joined("r", id, "p");
        }
        assert_eq!(v.snapshot().rooms[0].peers.len(), MAX_PEERS);
        for r in 0..(MAX_ROOMS + 5) {
            v.anchor_placed(&format!("room {r}"), "k", 0.0, 0.0, 0);
        }
        v.peer_joined("one too many", 1, "p");
        assert_eq!(v.snapshot().rooms.len(), MAX_ROOMS);
    }

    #[test]
    fn yaw_of_rotations_about_y() {
        let about_y = |a: f32| [0.0, (a / 2.0).sin(), 0.0, (a / 2.0).cos()];
        for a in [0.0, FRAC_PI_2, -FRAC_PI_2, 1.0, 3.0] {
            assert!((yaw_from_quaternion(about_y(a)) - a).abs() < 1e-5, "{a}");
        }
        // Looking down a little (pitch about x) keeps the heading.
        let pitch = [(-0.2f32).sin(), 0.0, 0.0, (-0.2f32).cos()];
        assert!(yaw_from_quaternion(pitch).abs() < 1e-5);
    }
}
