//! A session on the library's I/O thread: its socket and housekeeping tick are registered
//! with the reactor; application threads send, poll and read under the same lock (never
//! blocking in it), writing inline when the socket takes the bytes.

use super::client_core::{ClientConfig, ClientCore};
use super::hub_io::flush;
use super::stream::{Bytes, Flow, FrameReader};
use super::{limits, reason, wire, Event, TICK};
use crate::error::{Error, Result};
use crate::reactor::{self, Handler, Reactor, Ready};
use crate::timeout::Timeout;
use mio::net::TcpStream;
use mio::{Interest, Token};
use std::cell::RefCell;
use std::io::{self, Read};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

mod ext;
pub use ext::{blob_flag, MAX_POSES_PER_SEND};

/// Session options (the C config after defaults).
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// Auth token (None = none).
    pub token: Option<String>,
    /// Name shown to other peers (≤ 64 bytes).
    pub name: String,
    /// Limit for each connection attempt.
    pub connect_timeout: Duration,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            token: None,
            name: String::new(),
            connect_timeout: Duration::from_millis(5000),
        }
    }
}

/// After close, queued sends keep going to the hub for at most this long.
const CLOSE_LINGER: Duration = Duration::from_secs(2);

/// A device's session in a room of a hub.
pub struct Session {
    shared: Arc<Shared>,
}

struct Shared {
    me: Weak<Shared>,
    inner: Mutex<Inner>,
    cond: Condvar,
}

struct Inner {
    core: ClientCore,
    addrs: Vec<SocketAddr>,
    next_addr: usize,
    /// Reading stopped because the application's events were over their limit.
    held_back: bool,
    /// Addresses not yet tried in the current connection attempt.
    addrs_left: usize,
    sock: Option<(TcpStream, Token)>,
    connected: bool,
    reader: FrameReader,
    timer: Token,
    /// The handle was closed: only lingering writes remain.
    closed: bool,
    linger_until: Option<Instant>,
    /// Payloads of the events of the last poll, by id.
    last_payloads: Vec<(u64, Bytes)>,
    next_payload: u64,
    /// Poses, clock and blobs (`ext.rs`).
    ext: ext::ClientExt,
}

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl Session {
    /// Start joining `room` of the hub at `host:port`; returns at once (JOINED, REJECTED or
    /// DISCONNECTED arrives as an event).
    pub fn open(host: &str, port: u16, room: &str, cfg: SessionConfig) -> Result<Session> {
        if room.is_empty() || room.len() > limits::MAX_ROOM {
            return Err(Error::InvalidArgument(format!(
                "room name of {} bytes; rooms have 1 to {} bytes",
                room.len(),
                limits::MAX_ROOM
            )));
        }
        if cfg.name.len() > limits::MAX_NAME {
            return Err(Error::InvalidArgument(format!(
                "peer name of {} bytes; the limit is {}",
                cfg.name.len(),
                limits::MAX_NAME
            )));
        }
        let token = cfg.token.unwrap_or_default().into_bytes();
        if token.len() > limits::MAX_TOKEN {
            return Err(Error::InvalidArgument(format!(
                "token longer than {} bytes",
                limits::MAX_TOKEN
            )));
        }
        let addrs: Vec<SocketAddr> = (host, port)
            .to_socket_addrs()
            .map_err(|e| Error::Address(format!("{host}: {e}")))?
            .collect();
        if addrs.is_empty() {
            return Err(Error::Address(format!("{host}: no address")));
        }
        let r = reactor::get()?;
        let now = Instant::now();
        let core = ClientCore::new(
            ClientConfig {
                room: room.to_string(),
                name: cfg.name,
                token,
                connect_timeout: cfg.connect_timeout,
                queue_limit: limits::QUEUE_LIMIT,
            },
            now,
        );
        let shared = Arc::new_cyclic(|me| Shared {
            me: me.clone(),
            inner: Mutex::new(Inner {
                core,
                addrs,
                next_addr: 0,
                addrs_left: 0,
                held_back: false,
                sock: None,
                connected: false,
                reader: FrameReader::new(wire::MAX_FRAME_PAYLOAD),
                timer: Token(usize::MAX),
                closed: false,
                linger_until: None,
                last_payloads: Vec::new(),
                next_payload: 1,
                ext: ext::ClientExt::new(),
            }),
            cond: Condvar::new(),
        });
        let timer = r.add_timer_handler(shared.clone());
        {
            let mut g = shared.lock();
            g.timer = timer;
            g.obey(r, &shared);
        }
        r.set_timer(timer, now + TICK, 0);
        Ok(Session { shared })
    }

    /// Wait up to `timeout` for events; returns up to `max` (at least one) with the payload
    /// id of each (0 = none). Payloads of the previous poll are forgotten.
    pub fn poll(&self, max: usize, timeout: Timeout) -> Result<Vec<(Event, u64)>> {
        let deadline = match timeout {
            Timeout::Forever => None,
            Timeout::Poll => Some(Instant::now()),
            Timeout::After(d) => Some(Instant::now() + d),
        };
        let mut g = self.shared.lock();
        g.last_payloads.clear();
        loop {
            if g.closed {
                return Err(Error::Closed("the session was closed".into()));
            }
            if g.core.pending_events() > 0 {
                break;
            }
            g = match deadline {
                None => self.shared.cond.wait(g).unwrap_or_else(|e| e.into_inner()),
                Some(t) => {
                    let now = Instant::now();
                    if now >= t {
                        return Err(Error::Timeout);
                    }
                    self.shared
                        .cond
                        .wait_timeout(g, t - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
        let events = g.core.take_events(max.max(1));
        let mut out = Vec::with_capacity(events.len());
        for e in events {
            let id = match &e.payload {
                Some(p) => {
                    let id = g.next_payload;
                    g.next_payload += 1;
                    g.last_payloads.push((id, p.clone()));
                    id
                }
                None => 0,
            };
            out.push((e, id));
        }
        // The application made room: read what was held back.
        if g.held_back && !g.core.wants_pause() && g.connected {
            if let Ok(r) = reactor::get() {
                g.read();
                g.obey(r, &self.shared);
                g.write();
            }
        }
        Ok(out)
    }

    /// The payload of an event of the last poll.
    pub fn payload(&self, id: u64) -> Result<Bytes> {
        let g = self.shared.lock();
        g.last_payloads
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, p)| p.clone())
            .ok_or_else(|| Error::NotFound(format!("payload {id} is not from the last poll")))
    }

    fn usable(&self) -> Result<MutexGuard<'_, Inner>> {
        let g = self.shared.lock();
        if g.closed {
            return Err(Error::Closed("the session was closed".into()));
        }
        Ok(g)
    }

    /// Send a reliable message to `to` (0 = every other peer).
    pub fn send(&self, to: u32, data: &[u8]) -> Result<()> {
        let mut g = self.usable()?;
        g.core.send(to, data, Instant::now())?;
        g.write();
        Ok(())
    }

    /// Set (`Some`) or delete (`None`) a key of the room's state.
    pub fn set_state(&self, key: &str, value: Option<&[u8]>) -> Result<()> {
        let mut g = self.usable()?;
        g.core.set_state(key, value, Instant::now())?;
        g.write();
        Ok(())
    }

    /// A key's value as last received from the hub.
    pub fn get_state(&self, key: &str) -> Result<Bytes> {
        super::client_core::check_key(key)?;
        let g = self.usable()?;
        if g.core.is_over() {
            return Err(Error::Closed(
                "the session has ended (see its last event)".into(),
            ));
        }
        g.core
            .state(key)
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("no state key {key:?}")))
    }

    /// Own peer id (State until JOINED).
    pub fn peer_id(&self) -> Result<u32> {
        let g = self.usable()?;
        if g.core.is_over() {
            return Err(Error::Closed(
                "the session has ended (see its last event)".into(),
            ));
        }
        g.core
            .peer_id()
            .ok_or_else(|| Error::State("not joined yet (wait for JOINED)".into()))
    }

    /// A peer's name (own id: own name).
    pub fn peer_name(&self, peer: u32) -> Result<String> {
        let g = self.usable()?;
        if g.core.is_over() {
            return Err(Error::Closed(
                "the session has ended (see its last event)".into(),
            ));
        }
        if g.core.peer_id().is_none() {
            return Err(Error::State("not joined yet (wait for JOINED)".into()));
        }
        g.core
            .peer_name(peer)
            .map(str::to_string)
            .ok_or_else(|| Error::NotFound(format!("peer {peer} is not in the room")))
    }

    /// Leave: a BYE follows what is queued (others see PEER_LEFT(REMOTE_CLOSE)); pending polls
    /// return Closed. Idempotent.
    pub fn close(&self) {
        let mut g = self.shared.lock();
        if g.closed {
            return;
        }
        g.closed = true;
        self.shared.cond.notify_all();
        let now = Instant::now();
        g.core.close();
        if g.sock.is_some() && g.connected {
            g.linger_until = Some(now + CLOSE_LINGER);
            g.linger_step();
        } else {
            g.finish_close();
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.close();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    /// Carry out what the core wants: drop the link, open a new one.
    fn obey(&mut self, r: &Reactor, me: &Arc<Shared>) {
        loop {
            let want = self.core.take_want();
            if want.drop_link {
                self.drop_sock();
            }
            if !want.connect || self.closed {
                return;
            }
            self.drop_sock();
            self.addrs_left = self.addrs.len();
            let now = Instant::now();
            self.core.on_connecting(now);
            self.connect_next(r, me);
        }
    }

    /// Try the next address of this attempt; once all failed, the attempt failed.
    fn connect_next(&mut self, r: &Reactor, me: &Arc<Shared>) {
        while self.addrs_left > 0 {
            self.addrs_left -= 1;
            let addr = self.addrs[self.next_addr % self.addrs.len()];
            self.next_addr = self.next_addr.wrapping_add(1);
            let Ok(mut s) = TcpStream::connect(addr) else {
                continue;
            };
            let handler: Arc<dyn Handler> = me.clone();
            if let Ok(t) = r.register(&mut s, Interest::READABLE | Interest::WRITABLE, handler) {
                self.sock = Some((s, t));
                return;
            }
        }
        self.core.on_link_lost(reason::NETWORK, Instant::now());
    }

    fn drop_sock(&mut self) {
        if let Some((mut s, t)) = self.sock.take() {
            if let Ok(r) = reactor::get() {
                r.deregister(&mut s, t);
            }
        }
        self.connected = false;
        self.reader.clear();
    }

    /// A readiness edge on the current socket.
    fn on_ready(&mut self, ready: Ready, me: Option<&Arc<Shared>>) {
        if self.linger_until.is_some() {
            return self.linger_step();
        }
        if !self.connected {
            let Some((s, _)) = self.sock.as_mut() else {
                return;
            };
            if !(ready.writable || ready.error || ready.closed) {
                return;
            }
            let failed = matches!(s.take_error(), Ok(Some(_)) | Err(_)) || ready.error;
            let up = !failed && s.peer_addr().is_ok();
            if up {
                let _ = s.set_nodelay(true);
                self.connected = true;
                self.core.on_connected(Instant::now());
            } else if failed || ready.closed {
                self.drop_sock();
                if let (Ok(r), Some(me)) = (reactor::get(), me) {
                    self.connect_next(r, me);
                } else {
                    self.core.on_link_lost(reason::NETWORK, Instant::now());
                }
                return;
            } else {
                return; // not connected yet (a spurious edge)
            }
        }
        if self.held_back && (ready.closed || ready.error) {
            return self.lost_while_held();
        }
        self.write();
        self.read();
    }

    /// The link ended while reading was held back (the application is not polling): the
    /// hub's last words (a BYE, e.g. SLOW_PEER) may sit unread behind the held frames. Look
    /// for them without delivering anything (what was not acknowledged is resent after the
    /// resume), so the DISCONNECTED event gives the hub's reason.
    fn lost_while_held(&mut self) {
        let mut why = reason::NETWORK;
        if let Some((s, _)) = self.sock.as_mut() {
            let mut rest = Vec::new();
            let _ = s.read_to_end(&mut rest); // bounded by the socket's receive buffer
            let reader = &mut self.reader;
            let mut tail =
                |k: u8, p: &[u8]| -> std::result::Result<Flow, super::client_core::Violation> {
                    if let Ok(Some(wire::Frame::Bye { reason: r })) = wire::decode(k, p) {
                        why = r;
                    }
                    Ok(Flow::Continue)
                };
            let _ = reader.resume(&mut tail);
            let _ = reader.feed(&rest, &mut tail);
        }
        self.reader.clear();
        if why == reason::SLOW_PEER || why == reason::NETWORK {
            self.core.on_link_lost(why, Instant::now());
        } else {
            // Any other BYE ends the session, as if it had been read in turn.
            let bye = wire::encode(&wire::Frame::Bye { reason: why });
            let _ = self
                .core
                .on_frame(bye[2], &bye[crate::frame::HEADER_LEN..], Instant::now());
        }
    }

    /// Feed held and newly received bytes to the core until the socket is drained or the
    /// application's event queue is full.
    fn read(&mut self) {
        if !self.connected || !self.core.link_up() {
            return;
        }
        self.held_back = false;
        let Inner {
            core,
            reader,
            sock,
            ext,
            ..
        } = self;
        let mut on_frame =
            |k: u8, p: &[u8]| -> std::result::Result<Flow, super::client_core::Violation> {
                ext::on_frame(core, ext, k, p, Instant::now())?;
                Ok(if core.wants_pause() || !core.link_up() {
                    Flow::Pause
                } else {
                    Flow::Continue
                })
            };
        if reader.held() > 0 {
            match reader.resume(&mut on_frame) {
                Ok(Flow::Continue) => {}
                Ok(Flow::Pause) => {
                    self.held_back = self.core.wants_pause();
                    return;
                }
                Err(_) => return core.on_violation(Instant::now()),
            }
        }
        let Some((s, _)) = sock.as_mut() else { return };
        #[derive(PartialEq)]
        enum End {
            Drained,
            Lost,
            Violation,
        }
        let end = SCRATCH.with(|buf| {
            let mut buf = buf.borrow_mut();
            if buf.len() < 64 * 1024 {
                buf.resize(64 * 1024, 0);
            }
            loop {
                match s.read(&mut buf) {
                    Ok(0) => return End::Lost,
                    Ok(n) => match reader.feed(&buf[..n], &mut on_frame) {
                        Ok(Flow::Continue) => {}
                        Ok(Flow::Pause) => return End::Drained,
                        Err(_) => return End::Violation,
                    },
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return End::Drained,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return End::Lost,
                }
            }
        });
        match end {
            End::Drained => self.held_back = self.core.wants_pause(),
            End::Lost => self.core.on_link_lost(reason::NETWORK, Instant::now()),
            End::Violation => self.core.on_violation(Instant::now()),
        }
    }

    fn write(&mut self) {
        if !self.connected || (!self.core.link_up() && self.linger_until.is_none()) {
            return;
        }
        loop {
            let (pushed, held) = self.ext_fill();
            if held && !self.ext.timer_armed {
                if let Ok(r) = reactor::get() {
                    self.ext.timer_armed = true;
                    r.set_timer(
                        self.timer,
                        Instant::now() + ext::HELD_RETRY,
                        ext::HELD_TIMER_ID,
                    );
                }
            }
            let Some((s, _)) = self.sock.as_mut() else {
                return;
            };
            if flush(s, self.core.outbox()).is_err() {
                if self.linger_until.is_none() {
                    if self.held_back {
                        return self.lost_while_held();
                    }
                    self.core.on_link_lost(reason::NETWORK, Instant::now());
                }
                return;
            }
            if !pushed || !self.core.outbox().is_empty() {
                return;
            }
        }
    }

    /// While closing: write the rest, then half-close and wait for the hub's end of stream.
    fn linger_step(&mut self) {
        if self.connected {
            self.write();
        }
        self.end_if_done();
    }

    fn end_if_done(&mut self) {
        let expired = self.linger_until.is_some_and(|t| Instant::now() >= t);
        let Some((s, _)) = self.sock.as_mut() else {
            return self.finish_close();
        };
        if !self.connected || expired {
            return self.finish_close();
        }
        if !self.core.outbox().is_empty() {
            return;
        }
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf) {
                Ok(0) => return self.finish_close(),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.finish_close(),
            }
        }
    }

    fn finish_close(&mut self) {
        self.drop_sock();
        self.linger_until = None;
        if let Ok(r) = reactor::get() {
            r.forget(self.timer);
        }
    }
}

impl Handler for Shared {
    fn on_ready(&self, r: &Reactor, token: Token, ready: Ready) {
        let Some(me) = self.me.upgrade() else { return };
        let mut g = self.lock();
        if g.sock.as_ref().map(|(_, t)| *t) != Some(token) {
            return;
        }
        let before = g.core.pending_events();
        g.on_ready(ready, Some(&me));
        if g.linger_until.is_none() && !g.closed {
            g.obey(r, &me);
            g.write();
        }
        if g.core.pending_events() != before {
            self.cond.notify_all();
        }
    }

    fn on_timer(&self, r: &Reactor, token: Token, id: u64) {
        let Some(me) = self.me.upgrade() else { return };
        let mut g = self.lock();
        let now = Instant::now();
        if id == ext::HELD_TIMER_ID {
            g.ext.timer_armed = false;
            if !g.closed && g.ext_has_work() {
                g.write();
            }
            return;
        }
        if g.closed {
            if g.linger_until.is_some() {
                g.linger_step();
                r.set_timer(token, now + TICK, 0);
            }
            return;
        }
        let before = g.core.pending_events();
        if g.core.wants_pause() {
            g.core.note_paused(now);
        }
        g.core.tick(now);
        g.ext_tick(now);
        g.obey(r, &me);
        g.write();
        if g.core.pending_events() != before {
            self.cond.notify_all();
        }
        if !g.core.is_over() || g.sock.is_some() {
            r.set_timer(token, now + TICK, 0);
        }
    }
}
