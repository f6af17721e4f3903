//! The hub on the library's I/O thread: a listener and its connections registered with the
//! reactor, bytes fed to [`HubCore`], outboxes written back, a housekeeping tick.

use super::hub_core::observe::{HubObservation, ObservedEvent};
use super::hub_core::{ConnId, HubConfig, HubCore};
use super::stream::{Flow, FrameReader, Outbox};
use super::{wire, TICK};
use crate::error::{Error, Result};
use crate::reactor::{self, Handler, Reactor, Ready};
use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Token};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Instant;

/// A running hub. Closing it (or dropping the last [`Hub`]) sends every peer
/// BYE(HUB_SHUTDOWN) and closes all connections.
pub struct Hub {
    shared: Arc<HubShared>,
}

struct HubShared {
    me: Weak<HubShared>,
    addr: SocketAddr,
    inner: Mutex<HubInner>,
}

struct ConnIo {
    stream: TcpStream,
    token: Token,
    reader: FrameReader,
    /// A job to go on reading this connection (its turn ended) is queued.
    read_posted: bool,
}

struct HubInner {
    core: HubCore,
    listener: Option<(TcpListener, Token)>,
    timer: Token,
    conns: HashMap<ConnId, ConnIo>,
    tokens: HashMap<Token, ConnId>,
    next_conn: ConnId,
    scratch: Vec<u8>,
    closed: bool,
    /// The timer that re-checks connections whose poses or chunks wait for the kernel is set.
    held_timer: bool,
    /// A job to write out every connection's new output is queued on the I/O thread.
    flush_posted: bool,
}

/// Re-check delay while poses or chunks wait only for the kernel to drain.
const HELD_RETRY: std::time::Duration = std::time::Duration::from_millis(1);
/// Timer id of that re-check (the housekeeping tick uses 0).
const HELD_TIMER_ID: u64 = 1;

const SCRATCH: usize = 64 * 1024;
/// Before its HELLO is accepted a connection may send frames of at most this size (a HELLO
/// has at most 1,370 bytes), so unauthenticated connections cannot make the hub hold much.
const MAX_HELLO_PAYLOAD: usize = 2048;
const MAX_SLICES: usize = 64;
/// Bytes read from one connection per turn; then the others, the timers and the writes get
/// theirs (a peer streaming faster than the hub relays cannot hold the I/O thread).
const READ_TURN: usize = 256 * 1024;

impl Hub {
    /// Bind `host:port` (port 0 = any free port) and start serving on the I/O thread; the hub
    /// is listening when this returns.
    pub fn start(host: &str, port: u16, cfg: HubConfig) -> Result<Hub> {
        let addr = (host, port)
            .to_socket_addrs()
            .map_err(|e| Error::Address(format!("{host}: {e}")))?
            .next()
            .ok_or_else(|| Error::Address(format!("{host}: no address")))?;
        let mut listener = TcpListener::bind(addr).map_err(Error::from_connect)?;
        let addr = listener.local_addr()?;
        let r = reactor::get()?;
        let shared = Arc::new_cyclic(|me| HubShared {
            me: me.clone(),
            addr,
            inner: Mutex::new(HubInner {
                core: HubCore::new(cfg),
                listener: None,
                timer: Token(usize::MAX),
                conns: HashMap::new(),
                tokens: HashMap::new(),
                next_conn: 1,
                scratch: Vec::new(),
                closed: false,
                held_timer: false,
                flush_posted: false,
            }),
        });
        let handler: Arc<dyn Handler> = shared.clone();
        let token = r.register(&mut listener, Interest::READABLE, handler.clone())?;
        let timer = r.add_timer_handler(handler);
        {
            let mut g = shared.lock();
            g.listener = Some((listener, token));
            g.timer = timer;
        }
        r.set_timer(timer, Instant::now() + TICK, 0);
        Ok(Hub { shared })
    }

    /// The bound address (with the port chosen for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// Stop: BYE(HUB_SHUTDOWN) to every peer, close every connection and the listener.
    /// Idempotent.
    pub fn close(&self) {
        let Ok(r) = reactor::get() else {
            // Forked child: just drop the sockets.
            let mut g = self.shared.lock();
            g.closed = true;
            g.conns.clear();
            g.listener = None;
            return;
        };
        let mut g = self.shared.lock();
        if g.closed {
            return;
        }
        g.closed = true;
        g.core.shutdown();
        g.pump(r);
        let HubInner {
            conns,
            listener,
            timer,
            ..
        } = &mut *g;
        for (_, mut c) in conns.drain() {
            r.deregister(&mut c.stream, c.token);
        }
        if let Some((mut l, t)) = listener.take() {
            r.deregister(&mut l, t);
        }
        r.forget(*timer);
    }

    /// Ids of the peers in a room (diagnostics and tests).
    pub fn room_peers(&self, room: &str) -> Vec<u32> {
        self.shared.lock().core.room_peers(room)
    }

    /// Rooms, peers, state and counters now (see [`HubCore::observe`]).
    pub fn observe(&self) -> HubObservation {
        self.shared.lock().core.observe(Instant::now())
    }

    /// Take up to `max` of the oldest presence events logged (joins, stale, leaves, rejects).
    pub fn take_observed_events(&self, max: usize) -> Vec<ObservedEvent> {
        self.shared.lock().core.take_observed_events(max)
    }

    /// What the hub holds for a peer's connection: pose keys and batch, blob downloads,
    /// outbox bytes (diagnostics and tests).
    pub fn conn_memory(&self, room: &str, peer: u32) -> Option<super::ConnPoseMemory> {
        self.shared.lock().core.conn_memory(room, peer)
    }

    /// The newest poses the hub holds for a room (diagnostics and tests).
    pub fn room_poses(&self, room: &str) -> Vec<crate::pose::Pose> {
        self.shared.lock().core.room_poses(room)
    }

    /// Keys and sizes of a room's complete blobs (diagnostics and tests).
    pub fn room_blobs(&self, room: &str) -> Vec<(String, u64)> {
        self.shared.lock().core.room_blobs(room)
    }

    /// A room's state as key, writer, value (diagnostics and tests).
    pub fn room_state(&self, room: &str) -> Option<Vec<(String, u32, Vec<u8>)>> {
        self.shared.lock().core.room_state(room)
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.close();
    }
}

impl HubShared {
    fn lock(&self) -> MutexGuard<'_, HubInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Write what fits of `out` without blocking. Err: the connection is broken.
pub(super) fn flush(stream: &mut TcpStream, out: &mut Outbox) -> io::Result<()> {
    while !out.is_empty() {
        let slices = out.slices(MAX_SLICES);
        match stream.write_vectored(&slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                drop(slices);
                out.advance(n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

impl HubInner {
    fn accept(&mut self, r: &Reactor, me: &Arc<HubShared>) {
        loop {
            let Some((l, _)) = self.listener.as_mut() else {
                return;
            };
            match l.accept() {
                Ok((mut stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let handler: Arc<dyn Handler> = me.clone();
                    let Ok(token) = r.register(
                        &mut stream,
                        Interest::READABLE | Interest::WRITABLE,
                        handler,
                    ) else {
                        continue;
                    };
                    let id = self.next_conn;
                    self.next_conn += 1;
                    self.tokens.insert(token, id);
                    self.conns.insert(
                        id,
                        ConnIo {
                            stream,
                            token,
                            reader: FrameReader::new(MAX_HELLO_PAYLOAD),
                            read_posted: false,
                        },
                    );
                    self.core.on_connect(id, Instant::now());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // WouldBlock, or out of descriptors: wait for the next readiness edge.
                Err(_) => return,
            }
        }
    }

    /// Read what is available on a connection, up to [`READ_TURN`] bytes, and feed it to
    /// the core. True: the turn ended with bytes perhaps left (read again later).
    fn read(&mut self, id: ConnId) -> bool {
        if self.scratch.len() < SCRATCH {
            self.scratch.resize(SCRATCH, 0);
        }
        let HubInner {
            core,
            conns,
            scratch,
            ..
        } = self;
        let mut ended = false;
        let mut budget = READ_TURN;
        loop {
            let Some(c) = conns.get_mut(&id) else {
                return false;
            };
            if budget == 0 {
                return true;
            }
            match c.stream.read(scratch) {
                Ok(0) => {
                    ended = true;
                    break;
                }
                Ok(n) => {
                    budget = budget.saturating_sub(n);
                    let now = Instant::now();
                    core.observer().bytes_in(n);
                    let fed = c.reader.feed(&scratch[..n], &mut |k, p| {
                        core.on_frame(id, k, p, now)?;
                        Ok::<_, super::hub_core::Violation>(Flow::Continue)
                    });
                    if fed.is_err() {
                        core.fail(id, now);
                        return false;
                    }
                    if core.outbox(id).is_none() {
                        return false; // the core ended this connection (BYE, reject)
                    }
                    if core.joined(id) {
                        c.reader.set_max_payload(wire::MAX_FRAME_PAYLOAD);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    ended = true;
                    break;
                }
            }
        }
        if ended {
            core.on_closed(id, Instant::now());
            self.drop_conn(id);
        }
        false
    }

    /// Read a connection's next turn now, and queue one more turn if it has more.
    fn read_turn(&mut self, r: &Reactor, me: &Arc<HubShared>, id: ConnId) {
        if !self.read(id) {
            return;
        }
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        if c.read_posted {
            return;
        }
        c.read_posted = true;
        let me2 = me.clone();
        r.post(move |r| {
            let mut g = me2.lock();
            if g.closed {
                return;
            }
            if let Some(c) = g.conns.get_mut(&id) {
                c.read_posted = false;
            }
            g.read_turn(r, &me2, id);
            g.pump(r);
        });
    }

    fn drop_conn(&mut self, id: ConnId) {
        if let Some(mut c) = self.conns.remove(&id) {
            self.tokens.remove(&c.token);
            if let Ok(r) = reactor::get() {
                r.deregister(&mut c.stream, c.token);
            }
        }
    }

    /// Write new output and carry out the core's closes.
    fn pump(&mut self, _r: &Reactor) {
        let mut dirty = self.core.take_dirty();
        dirty.sort_unstable();
        dirty.dedup();
        for id in dirty {
            self.write(id);
        }
        for (id, mut out) in self.core.take_closed() {
            if let Some(c) = self.conns.get_mut(&id) {
                let before = out.len();
                let _ = flush(&mut c.stream, &mut out);
                self.core.observer().bytes_out(before - out.len());
                let _ = c.stream.shutdown(std::net::Shutdown::Write);
            }
            self.drop_conn(id);
        }
    }

    fn write(&mut self, id: ConnId) {
        let mut held = false;
        loop {
            let Some(c) = self.conns.get_mut(&id) else {
                return;
            };
            let unsent = kernel_unsent(&c.stream);
            let pushed = self.core.ext_fill(id, unsent, &mut held);
            let Some(out) = self.core.outbox(id) else {
                return;
            };
            if out.is_empty() {
                break;
            }
            let before = out.len();
            let flushed = flush(&mut c.stream, out);
            let written = before - out.len();
            let still_queued = !out.is_empty();
            self.core.observer().bytes_out(written);
            if flushed.is_err() {
                self.core.on_closed(id, Instant::now());
                self.drop_conn(id);
                return;
            }
            if !pushed || still_queued {
                break;
            }
        }
        if held && !self.held_timer {
            if let Ok(r) = reactor::get() {
                self.held_timer = true;
                r.set_timer(self.timer, Instant::now() + HELD_RETRY, HELD_TIMER_ID);
            }
        }
    }
}

#[cfg(unix)]
fn kernel_unsent(s: &TcpStream) -> usize {
    use std::os::fd::AsRawFd;
    super::ext_wire::kernel_unsent(s.as_raw_fd())
}

#[cfg(not(unix))]
fn kernel_unsent(_s: &TcpStream) -> usize {
    0
}

impl Handler for HubShared {
    fn on_ready(&self, r: &Reactor, token: Token, ready: Ready) {
        let Some(me) = self.me.upgrade() else { return };
        let mut g = self.lock();
        if g.closed {
            return;
        }
        if g.listener.as_ref().is_some_and(|(_, t)| *t == token) {
            g.accept(r, &me);
        } else if let Some(&id) = g.tokens.get(&token) {
            if ready.writable {
                g.write(id);
            }
            if ready.readable || ready.closed || ready.error {
                g.read_turn(r, &me, id);
            }
        }
        // Write after every readiness event of this round has been handled: a message relayed
        // from several senders in one round costs each receiver one write, not one per sender.
        if !g.flush_posted {
            g.flush_posted = true;
            r.post(move |r| {
                let mut g = me.lock();
                g.flush_posted = false;
                if !g.closed {
                    g.pump(r);
                }
            });
        }
    }

    fn on_timer(&self, r: &Reactor, token: Token, id: u64) {
        let mut g = self.lock();
        if g.closed {
            return;
        }
        if id == HELD_TIMER_ID {
            g.held_timer = false;
            g.core.ext_wake();
            g.pump(r);
            return;
        }
        g.core.tick(Instant::now());
        g.pump(r);
        r.set_timer(token, Instant::now() + TICK, 0);
    }
}
