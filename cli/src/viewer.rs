//! The viewer's HTTP server (tiny_http): the page, its script and style (compiled into the
//! binary), `/stats.json` (one snapshot of the [`ViewState`]) and `/events`, a server-sent
//! event stream of snapshots at a fixed rate (30 per second by default).
//!
//! Routes: `GET /` (HTML), `/viewer.js`, `/viewer.css`, `/stats.json`, `/events`; anything
//! else is 404, any method other than GET/HEAD is 405.

use crate::view::ViewState;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use tiny_http::{Header, Method, Request, Response, Server};

const INDEX_HTML: &str = include_str!("../web/index.html");
const VIEWER_JS: &str = include_str!("../web/viewer.js");
const VIEWER_CSS: &str = include_str!("../web/viewer.css");

/// Default rate of the live stream (snapshots per second).
pub const DEFAULT_RATE_HZ: u32 = 30;
/// Most live streams served at once; more get 503 (each one holds a thread).
pub const MAX_STREAMS: usize = 16;
/// Bytes per second one stream may carry; larger snapshots are sent less often.
const MAX_STREAM_RATE: f64 = 4e6;

/// A running viewer server. Dropping it stops it (open streams end within one period).
pub struct Viewer {
    server: Arc<Server>,
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Viewer {
    /// Serve `state` on `host:port` (port 0 = any free port), streaming `rate_hz` snapshots per
    /// second (1-120) to each page.
    pub fn start(host: &str, port: u16, state: ViewState, rate_hz: u32) -> io::Result<Viewer> {
        if !(1..=120).contains(&rate_hz) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("stream rate must be 1-120 per second, got {rate_hz}"),
            ));
        }
        let server = Server::http((host, port)).map_err(|e| {
            io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                format!("cannot serve the viewer on {host}:{port}: {e}"),
            )
        })?;
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| io::Error::other("viewer is not on an IP address"))?;
        let server = Arc::new(server);
        let stop = Arc::new(AtomicBool::new(false));
        let period = Duration::from_secs(1) / rate_hz;
        let thread = {
            let (server, stop) = (server.clone(), stop.clone());
            thread::Builder::new()
                .name("arsock-viewer".into())
                .spawn(move || serve(&server, &state, &stop, period))?
        };
        Ok(Viewer {
            server,
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// The address the page is served on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The page's URL, with 127.0.0.1 (or ::1) in place of an any-address.
    pub fn url(&self) -> String {
        let ip = self.addr.ip();
        let host = if ip.is_unspecified() {
            if ip.is_ipv4() {
                "127.0.0.1".to_string()
            } else {
                "[::1]".to_string()
            }
        } else if ip.is_ipv6() {
            format!("[{ip}]")
        } else {
            ip.to_string()
        };
        format!("http://{host}:{}/", self.addr.port())
    }
}

impl Drop for Viewer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn header(name: &str, value: &str) -> Header {
    // Only called with the constant ASCII names and values below.
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("constant ASCII header")
}

/// What the accept loop and the stream threads share.
struct Shared {
    state: ViewState,
    stop: Arc<AtomicBool>,
    streams: AtomicUsize,
    period: Duration,
    /// The newest snapshot as JSON and when it was made: streams within half a period of each
    /// other share one serialisation.
    latest: Mutex<Option<(Instant, Arc<String>)>>,
}

impl Shared {
    fn snapshot(&self) -> Arc<String> {
        let mut latest = self.latest.lock().unwrap_or_else(|e| e.into_inner());
        match &*latest {
            Some((made, json)) if made.elapsed() < self.period / 2 => json.clone(),
            _ => {
                let json = Arc::new(self.state.snapshot_json());
                *latest = Some((Instant::now(), json.clone()));
                json
            }
        }
    }
}

fn serve(server: &Server, state: &ViewState, stop: &Arc<AtomicBool>, period: Duration) {
    let shared = Arc::new(Shared {
        state: state.clone(),
        stop: stop.clone(),
        streams: AtomicUsize::new(0),
        period,
        latest: Mutex::new(None),
    });
    while !stop.load(Ordering::Acquire) {
        let request = match server.recv() {
            Ok(r) => r,
            Err(_) => break, // unblocked or the listener failed: stop serving
        };
        if stop.load(Ordering::Acquire) {
            break;
        }
        route(request, &shared);
    }
}

fn route(request: Request, shared: &Arc<Shared>) {
    if !matches!(request.method(), Method::Get | Method::Head) {
        let r = Response::from_string("only GET\n")
            .with_status_code(405)
            .with_header(header("Allow", "GET, HEAD"));
        let _ = request.respond(r);
        return;
    }
    let path = request.url().split('?').next().unwrap_or("/").to_string();
    let (body, kind) = match path.as_str() {
        "/" | "/index.html" => (INDEX_HTML.to_string(), "text/html; charset=utf-8"),
        "/viewer.js" => (VIEWER_JS.to_string(), "text/javascript; charset=utf-8"),
        "/viewer.css" => (VIEWER_CSS.to_string(), "text/css; charset=utf-8"),
        "/stats.json" => (shared.state.snapshot_json(), "application/json"),
        "/events" if *request.method() == Method::Head => {
            let r = Response::empty(200).with_header(header("Content-Type", "text/event-stream"));
            let _ = request.respond(r);
            return;
        }
        "/events" => return start_stream(request, shared),
        "/favicon.ico" => {
            let _ = request.respond(Response::empty(204));
            return;
        }
        _ => {
            let _ = request.respond(Response::from_string("not found\n").with_status_code(404));
            return;
        }
    };
    let r = Response::from_string(body)
        .with_header(header("Content-Type", kind))
        .with_header(header("Cache-Control", "no-store"));
    let _ = request.respond(r);
}

/// Hand the request to a thread that writes one snapshot per period until the page goes away
/// or the viewer stops.
fn start_stream(request: Request, shared: &Arc<Shared>) {
    if shared.streams.fetch_add(1, Ordering::AcqRel) >= MAX_STREAMS {
        shared.streams.fetch_sub(1, Ordering::AcqRel);
        let r = Response::from_string("too many live viewers\n").with_status_code(503);
        let _ = request.respond(r);
        return;
    }
    let mine = shared.clone();
    let spawned = thread::Builder::new()
        .name("arsock-viewer-stream".into())
        .spawn(move || {
            // tiny_http's own chunked writer buffers 8 KiB; a raw writer lets each event go
            // out at once.
            let mut w = request.into_writer();
            let _ = stream(&mut *w, &mine);
            mine.streams.fetch_sub(1, Ordering::AcqRel);
        });
    if spawned.is_err() {
        shared.streams.fetch_sub(1, Ordering::AcqRel);
    }
}

fn stream(w: &mut dyn Write, shared: &Shared) -> io::Result<()> {
    w.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n\
          Connection: close\r\nX-Accel-Buffering: no\r\n\r\nretry: 1000\n\n",
    )?;
    w.flush()?;
    let mut next = Instant::now();
    while !shared.stop.load(Ordering::Acquire) {
        let json = shared.snapshot();
        w.write_all(b"event: view\ndata: ")?;
        w.write_all(json.as_bytes())?;
        w.write_all(b"\n\n")?;
        w.flush()?;
        next += gap_after(shared.period, json.len());
        let now = Instant::now();
        if next > now {
            thread::sleep(next - now);
        } else {
            next = now; // fell behind (slow page or busy machine): do not burst to catch up
        }
    }
    Ok(())
}

/// Time until the next snapshot of a stream: the period, or longer for a snapshot so big that
/// the stream would carry more than [`MAX_STREAM_RATE`] bytes/s (a big hub's page updates less
/// often instead of falling behind).
fn gap_after(period: Duration, snapshot_len: usize) -> Duration {
    period.max(Duration::from_secs_f64(
        snapshot_len as f64 / MAX_STREAM_RATE,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_snapshots_go_at_the_stream_rate_and_big_ones_are_spaced_out() {
        let period = Duration::from_secs(1) / 30;
        assert_eq!(gap_after(period, 2_000), period);
        assert_eq!(gap_after(period, 400_000), Duration::from_millis(100));
        assert_eq!(gap_after(period, 4_000_000), Duration::from_secs(1));
    }
}
