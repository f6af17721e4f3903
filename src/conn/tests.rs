//! Interleavings of `close` with the I/O thread, forced step by step.

use super::*;
use crate::reactor;
use std::io::{Read, Write};
use std::sync::mpsc;

#[test]
fn a_flush_between_close_setting_closed_and_starting_the_linger_keeps_the_queue_for_the_peer() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let conn = Connection::connect("127.0.0.1", port, Timeout::Forever).unwrap();
    let (mut peer, _) = listener.accept().unwrap();
    // Input never read here: releasing the socket early turns the close into a reset.
    peer.write_all(&[0xA5, 1, 1, 0, 4, 0, 0, 0, 1, 2, 3, 4])
        .unwrap();
    let payload: Vec<u8> = (0..16 << 20).map(|i: u32| (i % 251) as u8).collect();
    conn.send_msg(&payload).unwrap();
    let sh = conn.shared();
    assert!(
        sh.lock_send().pending() > 0,
        "the peer reads nothing yet, so some is queued"
    );

    // `close` sets `closed` first ...
    assert!(!sh.closed.swap(true, AcqRel));
    // ... and the I/O thread's flush (or write readiness) runs before the rest of it.
    let r = reactor::get().unwrap();
    let (tx, rx) = mpsc::channel();
    let io_sh = Arc::clone(&sh);
    r.post(move |r| {
        io_sh.drive_now(r, |_| {});
        let _ = tx.send(());
    });
    rx.recv_timeout(Duration::from_secs(10)).unwrap();
    {
        let st = sh.lock_send();
        assert!(
            !st.released && st.pending() > 0,
            "the drive before the linger started dropped the queue (released: {}, queued: {})",
            st.released,
            st.pending()
        );
    }
    sh.finish_close();
    drop(sh);
    drop(conn);

    // Everything accepted before the close arrives, then the end of the stream.
    peer.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut got = Vec::new();
    peer.read_to_end(&mut got).unwrap();
    assert_eq!(got.len(), 8 + payload.len());
    assert!(got[8..] == payload[..]);
}
