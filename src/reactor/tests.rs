use super::*;
use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::Duration;

const WATCHDOG: Duration = Duration::from_secs(10);

struct Echo {
    tx: Mutex<mpsc::Sender<(Token, Ready, bool)>>,
}

impl Handler for Echo {
    fn on_ready(&self, r: &Reactor, token: Token, ready: Ready) {
        let _ = self
            .tx
            .lock()
            .unwrap()
            .send((token, ready, r.on_io_thread()));
    }
    fn on_timer(&self, r: &Reactor, token: Token, id: u64) {
        if id == 666 {
            panic!("a handler panic must not end the I/O thread");
        }
        let ready = Ready {
            readable: id == 1,
            ..Ready::default()
        };
        let _ = self
            .tx
            .lock()
            .unwrap()
            .send((token, ready, r.on_io_thread()));
    }
}

fn echo() -> (Arc<Echo>, mpsc::Receiver<(Token, Ready, bool)>) {
    let (tx, rx) = mpsc::channel();
    (Arc::new(Echo { tx: Mutex::new(tx) }), rx)
}

#[test]
fn posted_jobs_run_on_the_io_thread() {
    let r = get().unwrap();
    assert!(!r.on_io_thread());
    let (tx, rx) = mpsc::channel();
    r.post(move |r| tx.send(r.on_io_thread()).unwrap());
    assert!(rx.recv_timeout(WATCHDOG).unwrap());
}

#[test]
fn readiness_of_a_registered_socket_reaches_its_handler_on_the_io_thread() {
    let r = get().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut a = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (b, _) = listener.accept().unwrap();
    b.set_nonblocking(true).unwrap();
    let mut b = mio::net::TcpStream::from_std(b);
    let (h, rx) = echo();
    let token = r.register(&mut b, Interest::READABLE, h).unwrap();
    a.write_all(b"x").unwrap();
    let (t, ready, io) = rx.recv_timeout(WATCHDOG).unwrap();
    assert_eq!(t, token);
    assert!(ready.readable && io);
    let mut buf = [0u8; 4];
    assert_eq!(b.read(&mut buf).unwrap(), 1);
    r.deregister(&mut b, token);
    a.write_all(b"y").unwrap();
    assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
}

#[test]
fn timers_fire_in_order_and_a_panicking_handler_does_not_stop_the_thread() {
    let r = get().unwrap();
    let (h, rx) = echo();
    let token = r.add_timer_handler(h);
    let now = Instant::now();
    r.set_timer(token, now + Duration::from_millis(40), 2);
    r.set_timer(token, now + Duration::from_millis(1), 666);
    r.set_timer(token, now + Duration::from_millis(20), 1);
    let (_, first, io) = rx.recv_timeout(WATCHDOG).unwrap();
    assert!(
        first.readable && io,
        "timer 1 (20 ms) comes before timer 2 (40 ms)"
    );
    let (_, second, _) = rx.recv_timeout(WATCHDOG).unwrap();
    assert!(!second.readable);
    assert!(Instant::now() >= now + Duration::from_millis(40));
    r.forget(token);
    r.set_timer(token, Instant::now(), 1);
    assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
}
