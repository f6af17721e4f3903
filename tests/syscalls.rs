//! Issue 9: a receive with a finite timeout costs at most two syscalls per message when the
//! data is not there yet, not three (a failed non-blocking recv, poll, recv). arsock does one:
//! a blocking recv bounded by the socket's receive timeout (set once while the timeout stays
//! the same). A C client runs round trips under an LD_PRELOAD shim that counts its recv() and
//! poll() calls.

mod common;
use common::native::{build_artifacts, compile_c, profile_dir, shared_link, ROOT};
use common::*;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn a_receive_with_a_timeout_waiting_for_its_message_costs_at_most_two_syscalls() {
    let dir = build_artifacts();
    let lib = profile_dir().join("libcount_recv.so");
    let out = Command::new("cc")
        .args(["-shared", "-fPIC", "-O1", "-o"])
        .arg(&lib)
        .arg(format!("{ROOT}/tests/fault/count_recv.c"))
        .arg("-ldl")
        .output()
        .expect("cc runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let client = compile_c(
        "syscalls_roundtrip",
        &format!("{ROOT}/tests/fault/roundtrip.c"),
        &[],
        &shared_link(dir),
    );
    const COUNT: u64 = 100;
    let (server, port) = listen();
    let child = Command::new(&client)
        .args([port.to_string(), COUNT.to_string()])
        .env("LD_PRELOAD", &lib)
        .stderr(Stdio::piped())
        .spawn()
        .expect("the client runs");
    let h = accept(server);
    for _ in 0..COUNT {
        let m = recv_msg(h, 64);
        std::thread::sleep(Duration::from_millis(2)); // the reply comes after the receive began
        send_msg(h, &m);
    }
    let out = within(Duration::from_secs(60), move || {
        child.wait_with_output().unwrap()
    });
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "client failed: {:?}\n{stderr}",
        out.status
    );
    let count = |what: &str| -> u64 {
        stderr
            .split(&format!("{what} "))
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {what} count in {stderr:?}"))
    };
    let (recvs, polls) = (count("recv"), count("poll"));
    println!("{COUNT} round trips: {recvs} recv, {polls} poll");
    // Two per message; a few more for connecting and the first receive (before any hint).
    assert!(
        recvs + polls <= 2 * COUNT + 4,
        "{recvs} recv + {polls} poll for {COUNT} receives"
    );
}
