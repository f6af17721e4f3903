//! `arsock hub`: a session hub in the foreground, with presence lines, a periodic summary and
//! (with `--http`) the viewer page; and [`HubService`], the same hub plus viewer that
//! `arsock demo` embeds.

use crate::args::HubArgs;
use crate::feed::{event_json, event_line, Feed};
use crate::report::{summary_json, summary_line};
use crate::view::{HubTotals, ViewState};
use crate::viewer::{Viewer, DEFAULT_RATE_HZ};
use crate::{interrupt, Failure};
use arsock::session::hub_core::observe::ObservedEvent;
use arsock::session::hub_core::HubConfig;
use arsock::session::Hub;
use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

/// How often the hub is observed (and the view updated): 30 times a second.
pub const OBSERVE_PERIOD: Duration = Duration::from_millis(33);
/// How often `arsock hub` prints its summary line.
pub const SUMMARY_PERIOD: Duration = Duration::from_secs(3);

/// A hub, the view fed from it and, if asked, the viewer page.
pub struct HubService {
    hub: Hub,
    view: ViewState,
    viewer: Option<Viewer>,
    feed: Feed,
}

impl HubService {
    /// Start a hub on `host:port` and, with `http = Some((host, port))`, the viewer page.
    pub fn start(
        host: &str,
        port: u16,
        cfg: HubConfig,
        http: Option<(&str, u16)>,
    ) -> Result<HubService, Failure> {
        let hub = Hub::start(host, port, cfg)
            .map_err(|e| Failure::new(format!("cannot start the hub on {host}:{port}: {e}")))?;
        let view = ViewState::new();
        let viewer = match http {
            None => None,
            Some((h, p)) => Some(
                Viewer::start(h, p, view.clone(), DEFAULT_RATE_HZ)
                    .map_err(|e| Failure::new(e.to_string()))?,
            ),
        };
        let feed = Feed::new(view.clone(), hub.local_addr().to_string());
        Ok(HubService {
            hub,
            view,
            viewer,
            feed,
        })
    }

    /// Where devices connect.
    pub fn addr(&self) -> SocketAddr {
        self.hub.local_addr()
    }

    /// The viewer's URL, if it runs.
    pub fn url(&self) -> Option<String> {
        self.viewer.as_ref().map(|v| v.url())
    }

    /// The view model (the demo's devices add what only they measure).
    pub fn view(&self) -> &ViewState {
        &self.view
    }

    /// Observe the hub once: update the view and return the presence events since last time.
    pub fn refresh(&mut self) -> Vec<ObservedEvent> {
        let events = self.hub.take_observed_events(usize::MAX);
        let obs = self.hub.observe();
        self.feed.update(&obs, Instant::now());
        events
    }

    /// Totals as of the last [`refresh`](HubService::refresh).
    pub fn totals(&self) -> &HubTotals {
        self.feed.totals()
    }

    /// Close the hub (every peer gets HUB_SHUTDOWN) and stop the page; returns the number of
    /// peers that were connected.
    pub fn close(self) -> u32 {
        let peers = self
            .hub
            .observe()
            .rooms
            .iter()
            .map(|r| r.peers.iter().filter(|p| p.connected).count() as u32)
            .sum();
        self.hub.close();
        drop(self.viewer);
        peers
    }
}

fn stamp(start: Instant) -> String {
    format!("[{:8.3}s]", start.elapsed().as_secs_f64())
}

/// `arsock hub`.
pub fn run(a: &HubArgs) -> Result<(), Failure> {
    let cfg = HubConfig {
        max_peers: a.max_peers,
        token: a.token.as_ref().map(|t| t.as_bytes().to_vec()),
        ..HubConfig::default()
    };
    if a.token
        .as_ref()
        .is_some_and(|t| t.is_empty() || t.len() > 1024)
    {
        return Err(Failure::usage("--token must be 1-1024 bytes"));
    }
    let mut svc = HubService::start(&a.host, a.port, cfg, a.http.map(|p| (a.host.as_str(), p)))?;
    let start = Instant::now();
    if a.json {
        let v = serde_json::json!({"report": "listening", "address": svc.addr().to_string(),
            "viewer": svc.url()});
        println!("{v}");
    } else {
        println!(
            "arsock hub: listening on {} (rooms of up to {} peers{})",
            svc.addr(),
            a.max_peers,
            if a.token.is_some() {
                ", token required"
            } else {
                ""
            }
        );
        if let Some(url) = svc.url() {
            println!("arsock hub: viewer on {url}");
        }
    }
    let mut next_summary = start + SUMMARY_PERIOD;
    while !interrupt::requested() {
        for e in svc.refresh() {
            if a.json {
                println!("{}", event_json(&e));
            } else {
                println!("{} {}", stamp(start), event_line(&e));
            }
        }
        if Instant::now() >= next_summary {
            next_summary += SUMMARY_PERIOD;
            if a.json {
                println!("{}", summary_json(svc.totals()));
            } else {
                println!("{} {}", stamp(start), summary_line(svc.totals()));
            }
        }
        thread::sleep(OBSERVE_PERIOD);
    }
    let peers = svc.close();
    if a.json {
        println!(
            "{}",
            serde_json::json!({"report": "shutdown", "peers_told": peers})
        );
    } else {
        println!(
            "{} hub closed: {peers} connected peers told HUB_SHUTDOWN",
            stamp(start)
        );
    }
    Ok(())
}
