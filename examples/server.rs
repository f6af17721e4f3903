//! An AR content server on arsock: the Rust side of the demo (see README, "Quick start").
//!
//! It listens on two ports: one in raw mode, which answers a textbook socket client exactly as
//! a plain socket server would, and one in message mode, which answers each device update
//! message with an AR content message. It prints both ports on its first line of output.
//!
//! Usage: server [--host HOST] [--port PORT] [--clients N]
//!   --port 0 (default) picks free ports; otherwise raw is PORT and messages PORT+1.
//!   --clients N exits after serving N connections (default: serve forever).

use arsock::{Connection, Error, Server, Timeout};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

fn main() {
    if let Err(e) = run() {
        eprintln!("server: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut host = "127.0.0.1".to_string();
    let mut port: u16 = 0;
    let mut clients: Option<usize> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--host" => host = value()?,
            "--port" => port = value()?.parse()?,
            "--clients" => clients = Some(value()?.parse()?),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let raw = Server::bind(&host, port)?;
    let msg = Server::bind(&host, if port == 0 { 0 } else { port + 1 })?;
    raw.listen(0)?;
    msg.listen(0)?;
    println!(
        "arsock AR content server: raw on {}, messages on {}",
        raw.local_addr(),
        msg.local_addr()
    );
    std::io::stdout().flush()?;

    let served = Arc::new(AtomicUsize::new(0));
    let limit = clients.unwrap_or(usize::MAX);
    let mut workers = Vec::new();
    for (server, handler) in [
        (raw, serve_raw as fn(Connection)),
        (msg, serve_messages as fn(Connection)),
    ] {
        let served = served.clone();
        workers.push(thread::spawn(move || {
            let mut handlers = Vec::new();
            while served.load(Ordering::SeqCst) < limit {
                match server.accept(Timeout::After(std::time::Duration::from_millis(100))) {
                    Ok(conn) => {
                        served.fetch_add(1, Ordering::SeqCst);
                        handlers.push(thread::spawn(move || handler(conn)));
                    }
                    Err(Error::Timeout) => {}
                    Err(e) => eprintln!("server: accept failed: {e}"),
                }
            }
            for h in handlers {
                let _ = h.join();
            }
        }));
    }
    for w in workers {
        let _ = w.join();
    }
    Ok(())
}

/// Raw mode: read one device update line, answer with AR content, close (like a plain socket).
fn serve_raw(conn: Connection) {
    let mut update = Vec::new();
    let mut buf = [0u8; 1024];
    while !update.contains(&b'\n') && update.len() < 64 * 1024 {
        match conn.recv(&mut buf, Timeout::After(std::time::Duration::from_secs(10))) {
            Ok(n) => update.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    let line = String::from_utf8_lossy(&update).trim().to_string();
    println!("raw update: {line}");
    let reply = format!("AR content for [{line}]: anchor table-1 at 0.00 0.75 -1.20\n");
    if let Err(e) = conn.send(reply.as_bytes()) {
        eprintln!("server: raw reply failed: {e}");
    }
    conn.close();
}

/// Message mode: answer every device update message with one AR content message.
fn serve_messages(conn: Connection) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut n_updates = 0u32;
    loop {
        match conn.recv_msg(&mut buf, Timeout::After(std::time::Duration::from_secs(30))) {
            Ok(n) => {
                n_updates += 1;
                let update = String::from_utf8_lossy(&buf[..n]).to_string();
                println!("message update {n_updates}: {update}");
                let reply = format!("{{\"update\":{n_updates},\"anchors\":[{{\"id\":\"table-1\",\"pos\":[0.0,0.75,-1.2]}}],\"echo\":\"{update}\"}}");
                if let Err(e) = conn.send_msg(reply.as_bytes()) {
                    eprintln!("server: message reply failed: {e}");
                    return;
                }
            }
            Err(Error::Closed(_)) => return,
            Err(e) => {
                eprintln!("server: message connection ended: {e}");
                return;
            }
        }
    }
}
