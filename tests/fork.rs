//! Defects 3 and 4 of issue 9: a forked child closes inherited handles without touching the
//! parent's connection or hanging on a lock a parent thread held at fork time; any other call
//! on an inherited handle in the child is ARSOCK_ERR_STATE.

mod common;
use common::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const WATCHDOG: Duration = Duration::from_secs(10);

/// Fork; run `child` in the child and `_exit` with its code; return the child's exit code,
/// or None if it did not finish within the watchdog (it is killed then).
fn in_child(child: impl FnOnce() -> i32) -> Option<i32> {
    // SAFETY: fork in a test; the child only calls arsock functions and _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(child)).unwrap_or(99);
        // SAFETY: ends the child without running the parent's atexit handlers or test harness.
        unsafe { libc::_exit(code) };
    }
    let deadline = Instant::now() + WATCHDOG;
    loop {
        let mut status = 0;
        // SAFETY: waits for our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            return libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
        }
        if Instant::now() > deadline {
            // SAFETY: kills and reaps our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            return None;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_forked_child_closing_inherited_handles_leaves_the_parents_connection_alive() {
    let (server, client, accepted) = pair();
    send_msg(client, b"before fork");
    assert_eq!(recv_msg(accepted, 64), b"before fork");
    let code = in_child(move || {
        // Any use but close is a clear STATE error; close only drops the child's copy.
        let st = arsock_client_send_msg(client, b"x".as_ptr(), 1);
        if st != ARSOCK_ERR_STATE {
            return 1;
        }
        let mut b = [0u8; 8];
        let mut n = 0;
        if arsock_client_recv_msg(accepted, b.as_mut_ptr(), 8, 0, &mut n) != ARSOCK_ERR_STATE {
            return 2;
        }
        let mut c = 0;
        if arsock_server_accept(server, 0, &mut c) != ARSOCK_ERR_STATE {
            return 3;
        }
        for h in [client, accepted, server] {
            if arsock_close(h) != ARSOCK_OK {
                return 4;
            }
        }
        0
    });
    assert_eq!(code, Some(0));
    // The parent's connection and server still work both ways.
    send_msg(client, b"after fork");
    assert_eq!(recv_msg(accepted, 64), b"after fork");
    send_msg(accepted, b"reply");
    assert_eq!(recv_msg(client, 64), b"reply");
    let (_p, port) = (0, {
        let mut p = 0;
        ok(arsock_server_local_port(server, &mut p));
        p
    });
    let c2 = connect("127.0.0.1", port);
    let a2 = accept(server);
    send_msg(c2, b"new");
    assert_eq!(recv_msg(a2, 64), b"new");
}

#[test]
fn a_forked_child_never_hangs_on_a_lock_a_parent_thread_held_at_fork_time() {
    let (_s, client, accepted) = pair();
    // A thread keeps the send and receive locks busy (small coalesced sends, a reader).
    let stop = Arc::new(AtomicBool::new(false));
    let (s1, s2) = (stop.clone(), stop.clone());
    let sender = thread::spawn(move || {
        while !s1.load(Ordering::Relaxed) {
            let _ = arsock_client_send_msg(client, [0u8; 32].as_ptr(), 32);
        }
    });
    let reader = thread::spawn(move || {
        let mut b = vec![0u8; 64];
        let mut n = 0;
        while !s2.load(Ordering::Relaxed) {
            let _ = arsock_client_recv_msg(accepted, b.as_mut_ptr(), 64, 10, &mut n);
        }
    });
    thread::sleep(Duration::from_millis(50));
    for round in 0..30 {
        let code = in_child(move || {
            let mut q = 0;
            let _ = arsock_client_send_queue_len(client, &mut q);
            if arsock_client_send_msg(client, b"x".as_ptr(), 1) != ARSOCK_ERR_STATE {
                return 1;
            }
            if arsock_close(client) != ARSOCK_OK || arsock_close(accepted) != ARSOCK_OK {
                return 2;
            }
            0
        });
        assert_eq!(code, Some(0), "child of round {round} hung or failed");
    }
    stop.store(true, Ordering::Relaxed);
    sender.join().unwrap();
    reader.join().unwrap();
    // The parent's pair still works.
    send_msg(client, b"still here");
    // Everything the sender queued comes first (it may be megabytes): read until it arrives.
    let give_up = Instant::now() + Duration::from_secs(60);
    let mut last = Vec::new();
    while Instant::now() < give_up {
        let m = recv_msg(accepted, 64);
        if m == b"still here" {
            last = m;
            break;
        }
    }
    assert_eq!(last, b"still here");
}

#[test]
fn a_forked_child_closing_an_inherited_poller_leaves_the_parents_poller_working() {
    let (_s, client, accepted) = pair();
    let mut p = 0;
    ok(arsock_poller_new(&mut p));
    ok(arsock_poller_add(p, accepted, ARSOCK_POLL_IN));
    let code = in_child(move || {
        let mut out = [arsock_poll_event::default(); 4];
        let mut n = 0;
        if arsock_poller_wait(p, out.as_mut_ptr(), 4, 0, &mut n) != ARSOCK_ERR_STATE {
            return 1;
        }
        if arsock_poller_modify(p, accepted, 0) != ARSOCK_ERR_STATE {
            return 2;
        }
        if arsock_close(p) != ARSOCK_OK || arsock_close(accepted) != ARSOCK_OK {
            return 3;
        }
        0
    });
    assert_eq!(code, Some(0));
    send_msg(client, b"after fork");
    let mut out = [arsock_poll_event::default(); 4];
    let mut n = 0;
    ok(arsock_poller_wait(p, out.as_mut_ptr(), 4, 5000, &mut n));
    assert_eq!(
        (n, out[0].handle, out[0].events),
        (1, accepted, ARSOCK_POLL_IN)
    );
    assert_eq!(recv_msg(accepted, 64), b"after fork");
    ok(arsock_close(p));
}
