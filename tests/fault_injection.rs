//! Faults the OS can inject must never lose or corrupt messages. A C sender (tests/fault/
//! sender.c) runs under an LD_PRELOAD shim — sendmsg() failing with ENOBUFS, or no thread
//! creation at all — and the receiver here checks every message by size, content and order.

mod common;
use common::native::{build_artifacts, compile_c, output_tool, profile_dir, shared_link, ROOT};
use common::*;
use std::process::{Command, Stdio};
use std::time::Duration;

fn size_of(i: u32) -> usize {
    [0, 1, 64, 700, 20000, 300000, 13, 5000][i as usize % 8]
}

/// Build `tests/fault/<shim>.c` as a preload library and the sender; run the sender under it
/// against an arsock server here, check every message, and return the sender's stderr.
fn run_sender_under(shim: &str) -> String {
    let dir = build_artifacts();
    let lib = profile_dir().join(format!("lib{shim}.so"));
    let out = output_tool(
        Command::new("cc")
            .args(["-shared", "-fPIC", "-O1", "-o"])
            .arg(&lib)
            .arg(format!("{ROOT}/tests/fault/{shim}.c"))
            .arg("-ldl"),
        "gcc",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sender = compile_c(
        &format!("fault_sender_{shim}"),
        &format!("{ROOT}/tests/fault/sender.c"),
        &[],
        &shared_link(dir),
    );

    const COUNT: u32 = 400;
    let (server, port) = listen();
    let child = Command::new(&sender)
        .args([port.to_string(), COUNT.to_string()])
        .env("LD_PRELOAD", &lib)
        .stderr(Stdio::piped())
        .spawn()
        .expect("sender runs");
    let h = accept(server);
    for i in 0..COUNT {
        let m = recv_msg(h, 300_000);
        assert_eq!(m.len(), size_of(i), "message {i}");
        let expect: Vec<u8> = (0..m.len())
            .map(|k| (i.wrapping_mul(31) as usize + k * 7) as u8)
            .collect();
        assert!(m == expect, "content of message {i}");
    }
    assert_eq!(recv_msg(h, 16), b"END");
    send_msg(h, b"ACK");
    let out = within(Duration::from_secs(60), move || {
        child.wait_with_output().unwrap()
    });
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "sender failed: {:?}\n{stderr}",
        out.status
    );
    println!("{}", stderr.trim());
    stderr
}

#[test]
fn enobufs_from_sendmsg_is_retried_without_losing_or_splitting_messages() {
    let stderr = run_sender_under("inject_enobufs");
    let failed: u64 = stderr
        .split("calls, ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(failed > 0, "the shim injected no failure: {stderr}");
}

#[test]
fn without_a_flusher_thread_every_message_is_still_delivered() {
    // No background thread can be started: sends must stop coalescing and write themselves.
    let stderr = run_sender_under("inject_nothread");
    assert!(
        stderr.contains("pthread_create refused"),
        "the shim was not exercised: {stderr}"
    );
}
