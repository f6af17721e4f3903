//! Interop with plain Python (python3, standard library only):
//! - raw mode against the textbook socket server and client (bind/listen/accept/sendall/recv);
//! - message mode against the reference peer printed in docs/PROTOCOL.md, extracted from the
//!   document at test time so the document cannot drift from the library.

mod common;
use common::native::spawn_tool;
use common::*;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

fn python(script: &str, args: &[String]) -> Child {
    spawn_tool(
        Command::new("python3")
            .arg("-c")
            .arg(script)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit()),
        "python3",
    )
}

/// The reference peer from docs/PROTOCOL.md.
fn reference_peer() -> String {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/PROTOCOL.md")).unwrap();
    let start = doc
        .find("```python\n")
        .expect("PROTOCOL.md has a python block")
        + 10;
    let end = start + doc[start..].find("```").unwrap();
    let code = &doc[start..end];
    let lines = code.lines().filter(|l| !l.trim().is_empty()).count();
    assert!(
        lines <= 15,
        "the reference peer must stay a 15-line program, it has {lines}"
    );
    code.to_string()
}

/// Wait for the child, bounded, and require success.
fn finish(mut child: Child) {
    for _ in 0..300 {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "python peer failed: {status}");
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("python peer did not finish within 15 s");
}

fn read_port(child: &mut Child) -> u16 {
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    line.trim().parse().expect("python printed its port")
}

const TEXTBOOK_SERVER: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(('127.0.0.1', 0)); s.listen(1); s.settimeout(10)
print(s.getsockname()[1], flush=True)
conn, addr = s.accept(); conn.settimeout(10)
data = b''
while len(data) < 100000:
    chunk = conn.recv(4096)
    if not chunk: break
    data += chunk
assert data == bytes(i % 251 for i in range(100000)), 'raw bytes differ'
conn.sendall(b'AR content: ' + str(len(data)).encode())
conn.close()
"#;

#[test]
fn raw_arsock_client_talks_to_a_textbook_python_server() {
    let mut py = python(TEXTBOOK_SERVER, &[]);
    let port = read_port(&mut py);
    let client = connect("127.0.0.1", port);
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    send_raw(client, &data);
    let reply = recv_raw_exact(client, 18);
    assert_eq!(reply, b"AR content: 100000");
    let mut buf = [0u8; 4];
    let mut n = 0;
    assert_eq!(
        arsock_client_recv(client, buf.as_mut_ptr(), 4, 10_000, &mut n),
        ARSOCK_ERR_CLOSED
    );
    finish(py);
}

const TEXTBOOK_CLIENT: &str = r#"
import socket, sys
c = socket.socket(socket.AF_INET, socket.SOCK_STREAM); c.settimeout(10)
c.connect(('127.0.0.1', int(sys.argv[1])))
c.sendall(b'device update: pose 0.1 0.2 0.3')
data = b''
while True:
    chunk = c.recv(1024)
    if not chunk: break
    data += chunk
assert data == b'anchor list: 3 anchors', data
"#;

#[test]
fn raw_arsock_server_talks_to_a_textbook_python_client() {
    let (server, port) = listen();
    let py = python(TEXTBOOK_CLIENT, &[port.to_string()]);
    let accepted = accept(server);
    assert_eq!(
        recv_raw_exact(accepted, 31),
        b"device update: pose 0.1 0.2 0.3"
    );
    send_raw(accepted, b"anchor list: 3 anchors");
    ok(arsock_close(accepted));
    finish(py);
}

const SIZES: [usize; 6] = [0, 1, 64, 1000, 65536, 300_000];

#[test]
fn message_mode_against_the_reference_peer_as_server() {
    // Python receives arsock's messages and echoes each one back reversed.
    let script = format!(
        "{}\nimport sys\ns = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)\nprint(s.getsockname()[1], flush=True)\nc, _ = s.accept(); c.settimeout(10)\nfor _ in range({}):\n    send_msg(c, recv_msg(c)[::-1])\n",
        reference_peer(),
        SIZES.len()
    );
    let mut py = python(&script, &[]);
    let port = read_port(&mut py);
    let client = connect("127.0.0.1", port);
    for (i, &n) in SIZES.iter().enumerate() {
        let m = pattern(i as u64, n);
        send_msg(client, &m);
        let mut rev = m.clone();
        rev.reverse();
        assert!(recv_msg(client, 1 << 20) == rev, "echo of {n} bytes");
    }
    finish(py);
}

#[test]
fn message_mode_against_the_reference_peer_as_client() {
    // Python sends messages (and an extension frame arsock must skip), arsock echoes them.
    let (server, port) = listen();
    let sizes: Vec<String> = SIZES.iter().map(|n| n.to_string()).collect();
    let script = format!(
        "{}\nimport sys\nc = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=10)\nc.sendall(HEADER.pack(0xA5, 1, 0x80, 0, 3) + b'ext')\nfor n in map(int, sys.argv[2:]):\n    m = bytes((i * 7 + n) % 256 for i in range(n))\n    send_msg(c, m)\n    assert recv_msg(c) == m, n\n",
        reference_peer()
    );
    let mut args = vec![port.to_string()];
    args.extend(sizes);
    let mut py = python(&script, &args);
    let accepted = accept(server);
    for &n in &SIZES {
        let m = recv_msg(accepted, 1 << 20);
        let expect: Vec<u8> = (0..n).map(|i| ((i * 7 + n) % 256) as u8).collect();
        assert!(m == expect, "message of {n} bytes");
        send_msg(accepted, &m);
    }
    py.stdin.take().unwrap().flush().unwrap();
    finish(py);
}
