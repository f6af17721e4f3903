//! A userspace delay proxy on loopback (this kernel has no netem): each direction delays
//! every chunk of bytes by `base ± jitter` microseconds, keeping the byte order.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// Delay of one direction: `base_us` plus a uniform value in `[-jitter_us, +jitter_us]`.
#[derive(Clone, Copy, Debug)]
pub struct Delay {
    pub base_us: u64,
    pub jitter_us: u64,
}

pub struct DelayProxy {
    pub port: u16,
    /// Bytes forwarded hub → device so far.
    pub down: Arc<AtomicU64>,
    socks: Arc<Mutex<Vec<TcpStream>>>,
}

impl DelayProxy {
    /// Shut down both ends of every link made so far (new links still work).
    pub fn cut(&self) {
        for s in self.socks.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

impl DelayProxy {
    /// Proxy to `target`; `up` delays device → hub bytes, `down` hub → device.
    pub fn start(target: u16, up: Delay, down: Delay) -> DelayProxy {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let down_bytes = Arc::new(AtomicU64::new(0));
        let socks: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (counter, socks2) = (down_bytes.clone(), socks.clone());
        std::thread::spawn(move || {
            let mut seed = 0x9E37_79B9_7F4A_7C15u64;
            for client in l.incoming() {
                let Ok(client) = client else { return };
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                {
                    let mut g = socks2.lock().unwrap();
                    g.push(client.try_clone().unwrap());
                    g.push(server.try_clone().unwrap());
                }
                let uncounted = Arc::new(AtomicU64::new(0));
                pipe(
                    client.try_clone().unwrap(),
                    server.try_clone().unwrap(),
                    up,
                    seed,
                    uncounted,
                );
                pipe(server, client, down, seed ^ 0xABCDEF, counter.clone());
            }
        });
        DelayProxy {
            port,
            down: down_bytes,
            socks,
        }
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream, d: Delay, mut seed: u64, count: Arc<AtomicU64>) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    std::thread::spawn(move || {
        let mut last = Instant::now();
        let mut buf = vec![0u8; 65536];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => {
                    let _ = tx.send((last, Vec::new()));
                    return;
                }
                Ok(n) => {
                    count.fetch_add(n as u64, Ordering::Relaxed);
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let span = 2 * d.jitter_us + 1;
                    let us = (d.base_us + seed % span).saturating_sub(d.jitter_us);
                    let at = (Instant::now() + Duration::from_micros(us)).max(last);
                    last = at;
                    if tx.send((at, buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
    });
    std::thread::spawn(move || {
        for (at, bytes) in rx {
            let now = Instant::now();
            if at > now {
                std::thread::sleep(at - now);
            }
            if bytes.is_empty() || to.write_all(&bytes).is_err() {
                let _ = to.shutdown(Shutdown::Both);
                return;
            }
        }
    });
}
