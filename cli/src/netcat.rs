//! `arsock send` and `arsock recv`: one connection (connected, or the first one accepted on a
//! listening port), raw bytes or whole messages, stdin to the socket and the socket to stdout.

use crate::args::{ConnArgs, RecvArgs, SendArgs};
use crate::{interrupt, Failure};
use arsock::{Connection, Error, Server, Timeout};
use std::io::{self, BufRead, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Size of one raw read from stdin or the socket.
const CHUNK: usize = 64 << 10;
/// First buffer for a received message; grows to the next message's size (up to --max-message).
const FIRST_MSG_BUF: usize = 64 << 10;
/// Longest wait for queued data to reach the socket after the end of stdin.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);
/// How often blocked waits check for Ctrl-C.
const TICK: Duration = Duration::from_millis(100);
/// What the core says when the peer closed cleanly and everything was read.
const CLEAN_EOF: &str = "the peer closed the connection";

fn net_error(what: &str, e: Error) -> Failure {
    let why = match &e {
        Error::ConnectionRefused(_) => "connection refused (nothing listens there)".to_string(),
        Error::Timeout => "timed out (no answer; is the address right and reachable?)".to_string(),
        Error::AddressInUse(_) => "address in use (another program has that port)".to_string(),
        _ => e.to_string(),
    };
    Failure::new(format!("{what}: {why}"))
}

/// Connect, or listen and accept one connection (printing "listening on ADDR" on stderr).
fn open(args: &ConnArgs) -> Result<Connection, Failure> {
    if args.host.is_some() && args.listen.is_none() {
        return Err(Failure::usage(
            "--host is the address to listen on and needs --listen PORT; to connect, give HOST:PORT",
        ));
    }
    let conn = if let Some(port) = args.listen {
        let host = args.host.as_deref().unwrap_or("0.0.0.0");
        let server = Server::bind(host, port)
            .map_err(|e| net_error(&format!("cannot listen on {host}:{port}"), e))?;
        server
            .listen(1)
            .map_err(|e| net_error("cannot listen", e))?;
        eprintln!("arsock: listening on {}", server.local_addr());
        let conn = loop {
            if interrupt::requested() {
                return Err(Failure::interrupted());
            }
            match server.accept(Timeout::After(TICK)) {
                Ok(c) => break c,
                Err(Error::Timeout) => continue,
                Err(e) => return Err(net_error("accept failed", e)),
            }
        };
        if let Ok(peer) = conn.peer_addr() {
            eprintln!("arsock: connection from {peer}");
        }
        conn
    } else {
        let target = args
            .target
            .as_ref()
            .ok_or_else(|| Failure::usage("give HOST:PORT to connect to, or --listen PORT"))?;
        let timeout = Timeout::After(Duration::from_millis(u64::from(args.connect_timeout_ms)));
        Connection::connect(&target.host, target.port, timeout)
            .map_err(|e| net_error(&format!("cannot connect to {target}"), e))?
    };
    conn.set_max_message(args.max_message as usize)
        .map_err(|e| net_error("bad --max-message", e))?;
    Ok(conn)
}

/// `arsock recv`: the connection's data to stdout until the peer closes.
pub fn recv(args: &RecvArgs) -> Result<(), Failure> {
    let conn = open(&args.conn)?;
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let end = copy_to(&conn, args.conn.msg, &mut out, &AtomicBool::new(false));
    let _ = out.flush();
    end
}

/// Copy what arrives on `conn` to `out` until the peer closes (Ok), `stop` is set (Ok), or an
/// error. In message mode every message is followed by "\n".
fn copy_to(
    conn: &Connection,
    msg: bool,
    out: &mut dyn Write,
    stop: &AtomicBool,
) -> Result<(), Failure> {
    let tick = Timeout::After(TICK);
    let mut buf = vec![0u8; if msg { FIRST_MSG_BUF } else { CHUNK }];
    loop {
        if stop.load(Ordering::Acquire) {
            return Ok(());
        }
        if interrupt::requested() {
            return Err(Failure::interrupted());
        }
        let got = if msg {
            conn.recv_msg(&mut buf, tick)
        } else {
            conn.recv(&mut buf, tick)
        };
        let written = match got {
            Ok(n) if msg => out
                .write_all(&buf[..n])
                .and_then(|()| out.write_all(b"\n"))
                .and_then(|()| out.flush()),
            Ok(n) => out.write_all(&buf[..n]).and_then(|()| out.flush()),
            Err(Error::Timeout) => continue,
            Err(Error::BufferTooSmall { needed }) => {
                buf.resize(needed, 0); // needed ≤ the connection's --max-message
                continue;
            }
            Err(Error::Closed(why)) if why == CLEAN_EOF || stop.load(Ordering::Acquire) => {
                return Ok(())
            }
            Err(e) => return Err(net_error("connection failed", e)),
        };
        match written {
            Ok(()) => {}
            // The reader of stdout went away (`| head`): nothing more to do.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(Failure::new(format!("cannot write to stdout: {e}"))),
        }
    }
}

/// `arsock send`: stdin to the connection; replies to stdout meanwhile.
pub fn send(args: &SendArgs) -> Result<(), Failure> {
    let conn = Arc::new(open(&args.conn)?);
    let msg = args.conn.msg;
    let stop = Arc::new(AtomicBool::new(false));
    let stdin_done = Arc::new(AtomicBool::new(false));
    let replies = {
        let (conn, stop, stdin_done) = (conn.clone(), stop.clone(), stdin_done.clone());
        thread::spawn(move || {
            let mut out = io::stdout();
            let end = copy_to(&conn, msg, &mut out, &stop);
            let _ = out.flush();
            if !stop.load(Ordering::Acquire) && !stdin_done.load(Ordering::Acquire) {
                // The connection ended while the main thread may be blocked reading stdin:
                // end here, as netcat does. A clean close by the peer is a normal end (0);
                // a reset or a protocol error is not (1).
                match end {
                    Ok(()) => std::process::exit(crate::EXIT_OK),
                    Err(f) => {
                        eprintln!("arsock: {f}");
                        std::process::exit(f.code);
                    }
                }
            }
            end
        })
    };
    let sent = if msg {
        send_lines(&conn, args.conn.max_message as usize)
    } else {
        send_raw(&conn)
    };
    stdin_done.store(true, Ordering::Release);
    let drained = sent.and_then(|()| drain(&conn));
    if drained.is_ok() && args.wait_ms > 0 {
        let until = Instant::now() + Duration::from_millis(u64::from(args.wait_ms));
        while Instant::now() < until && !replies.is_finished() {
            thread::sleep(Duration::from_millis(10));
        }
    }
    stop.store(true, Ordering::Release);
    let reply_end = replies
        .join()
        .unwrap_or_else(|_| Err(Failure::new("reply reader panicked")));
    conn.close();
    drained?;
    reply_end
}

fn send_raw(conn: &Connection) -> Result<(), Failure> {
    let mut stdin = io::stdin().lock();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Failure::new(format!("cannot read stdin: {e}"))),
        };
        conn.send(&buf[..n])
            .map_err(|e| net_error("send failed", e))?;
    }
}

/// One message per line of stdin, without its "\n". A line longer than `max` is an error
/// (nothing of it is sent).
fn send_lines(conn: &Connection, max: usize) -> Result<(), Failure> {
    let mut stdin = io::stdin().lock();
    let mut line = Vec::new();
    for number in 1u64.. {
        line.clear();
        // At most max + 1 bytes (+1 for the "\n"); one more means the line is too long.
        let n = (&mut stdin)
            .take(max as u64 + 2)
            .read_until(b'\n', &mut line)
            .map_err(|e| Failure::new(format!("cannot read stdin: {e}")))?;
        if n == 0 {
            return Ok(());
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        if line.len() > max {
            return Err(Failure::new(format!(
                "line {number} of stdin is longer than the message limit of {max} bytes \
                 (--max-message); nothing of it was sent"
            )));
        }
        conn.send_msg(&line)
            .map_err(|e| net_error("send failed", e))?;
    }
    Ok(())
}

/// Wait until everything queued was handed to the operating system.
fn drain(conn: &Connection) -> Result<(), Failure> {
    let until = Instant::now() + DRAIN_LIMIT;
    while conn.send_queue_len() > 0 {
        if interrupt::requested() {
            return Err(Failure::interrupted());
        }
        if Instant::now() >= until {
            return Err(Failure::new(format!(
                "the peer did not take the last {} bytes within {} s",
                conn.send_queue_len(),
                DRAIN_LIMIT.as_secs()
            )));
        }
        thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}
