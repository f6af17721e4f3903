//! `arsock bots` (a fleet against any hub) and `arsock demo` (an embedded hub, its viewer and
//! 8 devices in one process on loopback).

use crate::args::{BotsArgs, DemoArgs};
use crate::bots::{Fleet, FleetConfig, Progress};
use crate::hub::{HubService, OBSERVE_PERIOD};
use crate::report::RunReport;
use crate::{interrupt, Failure};
use arsock::session::hub_core::HubConfig;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

/// How long the devices may take to join.
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(15);
/// Devices of the demo, and their pose rate.
pub const DEMO_DEVICES: u32 = 8;
pub const DEMO_HZ: f64 = 30.0;
/// The demo's room.
pub const DEMO_ROOM: &str = "demo";

fn progress_line(t: f64, p: &Progress, devices: u32) -> String {
    format!(
        "[{t:6.1}s] {devices} devices · {} messages sent, {} received · {} poses sent, {} received · {} anchors",
        p.messages_sent.load(Ordering::Relaxed),
        p.messages_received.load(Ordering::Relaxed),
        p.poses_sent.load(Ordering::Relaxed),
        p.poses_received.load(Ordering::Relaxed),
        p.anchors_placed.load(Ordering::Relaxed),
    )
}

fn print_report(report: &RunReport, json: bool) {
    if json {
        println!("{}", report.json());
    } else {
        println!("{}", report.text());
    }
}

/// The end of a run: the report, and a failure if a device failed or messages were lost.
fn conclude(report: RunReport, failure: Option<String>, json: bool) -> Result<(), Failure> {
    print_report(&report, json);
    if let Some(f) = failure {
        return Err(Failure::new(f));
    }
    if report.messages_lost > 0 || report.messages_duplicated > 0 || report.final_poses_missing > 0
    {
        return Err(Failure::new(format!(
            "{} messages lost, {} duplicated, {} final poses missing",
            report.messages_lost, report.messages_duplicated, report.final_poses_missing
        )));
    }
    Ok(())
}

/// Run `fleet` until `seconds` pass or Ctrl-C, calling `each` every [`OBSERVE_PERIOD`] and
/// printing a progress line on stderr every second.
fn drive(
    fleet: &mut Fleet,
    devices: u32,
    seconds: Option<f64>,
    mut each: impl FnMut(),
) -> Result<bool, Failure> {
    if !fleet.wait_ready(JOIN_TIMEOUT, interrupt::requested)? {
        return Ok(false);
    }
    let start = Instant::now();
    let end = seconds.map(|s| start + Duration::from_secs_f64(s));
    let mut next_progress = start + Duration::from_secs(1);
    while !interrupt::requested() && end.is_none_or(|e| Instant::now() < e) {
        if fleet.failure().is_some() {
            break;
        }
        each();
        if Instant::now() >= next_progress {
            next_progress += Duration::from_secs(1);
            let t = start.elapsed().as_secs_f64();
            eprintln!("{}", progress_line(t, fleet.progress(), devices));
        }
        thread::sleep(OBSERVE_PERIOD);
    }
    Ok(true)
}

/// `arsock bots`.
pub fn run_bots(a: &BotsArgs) -> Result<(), Failure> {
    let mut fleet = Fleet::start(FleetConfig {
        host: a.hub.host.clone(),
        port: a.hub.port,
        room: a.room.clone(),
        devices: a.devices,
        hz: a.hz,
        token: a.token.clone(),
        seed: 1,
    })?;
    eprintln!(
        "arsock bots: {} devices joining room {:?} of {} ({} poses/s each)",
        a.devices, a.room, a.hub, a.hz
    );
    let ran = drive(&mut fleet, a.devices, a.seconds, || {});
    let (report, failure) = fleet.finish();
    match ran {
        Err(f) => Err(f),
        Ok(false) => Err(Failure::interrupted()),
        Ok(true) => conclude(report, failure, a.json),
    }
}

/// `arsock demo`.
pub fn run_demo(a: &DemoArgs) -> Result<(), Failure> {
    let mut svc = HubService::start(
        "127.0.0.1",
        0,
        HubConfig::default(),
        Some(("127.0.0.1", a.http)),
    )
    .map_err(|f| {
        Failure::new(format!(
            "{f} (--http PORT picks another port, 0 any free one)"
        ))
    })?;
    let addr = svc.addr();
    let url = svc.url().unwrap_or_default();
    if a.json {
        let v = serde_json::json!({"report": "started", "hub": addr.to_string(), "viewer": url});
        println!("{v}");
    } else {
        println!(
            "arsock demo: hub on {addr}, {DEMO_DEVICES} devices walking in room {DEMO_ROOM:?}"
        );
        println!("arsock demo: open the viewer at {url}");
        match a.seconds {
            Some(s) => println!("arsock demo: running for {s} s (Ctrl-C stops sooner)"),
            None => println!("arsock demo: running until Ctrl-C"),
        }
    }
    let mut fleet = Fleet::start(FleetConfig {
        host: addr.ip().to_string(),
        port: addr.port(),
        room: DEMO_ROOM.into(),
        devices: DEMO_DEVICES,
        hz: DEMO_HZ,
        token: None,
        seed: 1,
    })?;
    let ran = drive(&mut fleet, DEMO_DEVICES, a.seconds, || {
        svc.refresh();
    });
    let (report, failure) = fleet.finish();
    svc.refresh();
    svc.close();
    match ran {
        Err(f) => Err(f),
        Ok(false) => Err(Failure::interrupted()),
        Ok(true) => conclude(report, failure, a.json),
    }
}
