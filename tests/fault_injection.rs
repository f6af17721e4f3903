//! Transient send errors must never corrupt the stream. A C sender runs with an LD_PRELOAD
//! shim (tests/fault/inject_enobufs.c) that fails every third sendmsg() with ENOBUFS; the
//! receiver here checks every message by size, content and order.

mod common;
use common::native::{build_artifacts, compile_c, profile_dir, shared_link, ROOT};
use common::*;
use std::process::{Command, Stdio};
use std::time::Duration;

fn size_of(i: u32) -> usize {
    [0, 1, 64, 700, 20000, 300000, 13, 5000][i as usize % 8]
}

#[test]
fn enobufs_from_sendmsg_is_retried_without_losing_or_splitting_messages() {
    let dir = build_artifacts();
    let shim = profile_dir().join("libinject_enobufs.so");
    let out = Command::new("cc")
        .args(["-shared", "-fPIC", "-O1", "-o"])
        .arg(&shim)
        .arg(format!("{ROOT}/tests/fault/inject_enobufs.c"))
        .arg("-ldl")
        .output()
        .expect("cc runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sender = compile_c(
        "fault_sender",
        &format!("{ROOT}/tests/fault/sender.c"),
        &[],
        &shared_link(dir),
    );

    const COUNT: u32 = 400;
    let (server, port) = listen();
    let child = Command::new(&sender)
        .args([port.to_string(), COUNT.to_string()])
        .env("LD_PRELOAD", &shim)
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
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "sender failed: {:?}\n{stderr}",
        out.status
    );
    let failed: u64 = stderr
        .split("calls, ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(failed > 0, "the shim injected no failure: {stderr}");
    println!("{}", stderr.trim());
}
