//! A userspace TCP proxy on loopback whose links the test can cut (shutdown of both socket
//! ends) or silence (bytes are swallowed, the sockets stay open).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

pub struct Proxy {
    pub port: u16,
    socks: Arc<Mutex<Vec<TcpStream>>>,
    silent: Arc<AtomicBool>,
}

impl Proxy {
    pub fn start(target: u16) -> Proxy {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let socks: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let silent = Arc::new(AtomicBool::new(false));
        let (s2, q2) = (socks.clone(), silent.clone());
        std::thread::spawn(move || {
            for client in l.incoming() {
                let Ok(client) = client else { return };
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                {
                    let mut g = s2.lock().unwrap();
                    g.push(client.try_clone().unwrap());
                    g.push(server.try_clone().unwrap());
                }
                pump(
                    client.try_clone().unwrap(),
                    server.try_clone().unwrap(),
                    q2.clone(),
                );
                pump(server, client, q2.clone());
            }
        });
        Proxy {
            port,
            socks,
            silent,
        }
    }

    /// Shut down both ends of every link made so far (new links still work).
    pub fn cut(&self) {
        for s in self.socks.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// Swallow every byte (true) or forward again (false).
    pub fn silence(&self, on: bool) {
        self.silent.store(on, Ordering::SeqCst);
    }
}

fn pump(mut from: TcpStream, mut to: TcpStream, silent: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if !silent.load(Ordering::SeqCst) && to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}
