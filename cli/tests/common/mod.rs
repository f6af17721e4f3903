//! Running the built `arsock` binary in tests: bounded waits, captured output, and the port a
//! `--listen 0` process prints on stderr.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Longest any one process of a test may run before the test kills it and fails.
pub const WATCHDOG: Duration = Duration::from_secs(30);

pub fn arsock() -> Command {
    Command::new(env!("CARGO_BIN_EXE_arsock"))
}

/// A running `arsock` with its stdout collected and its stderr available line by line.
pub struct Proc {
    child: Child,
    pub stdin: Option<ChildStdin>,
    stdout: Option<JoinHandle<()>>,
    stdout_seen: Arc<Mutex<Vec<u8>>>,
    stderr: Receiver<String>,
    stderr_seen: Vec<String>,
}

pub struct Finished {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Proc {
    pub fn spawn(args: &[&str]) -> Proc {
        let mut child = arsock()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("arsock binary starts");
        let stdin = child.stdin.take();
        let mut out = child.stdout.take().unwrap();
        let stdout_seen = Arc::new(Mutex::new(Vec::new()));
        let seen = stdout_seen.clone();
        let stdout = Some(thread::spawn(move || {
            let mut buf = [0u8; 64 << 10];
            while let Ok(n @ 1..) = out.read(&mut buf) {
                seen.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        }));
        let err = child.stderr.take().unwrap();
        let (tx, stderr) = channel();
        thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                match line {
                    Ok(l) => {
                        if tx.send(l).is_err() {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
        });
        Proc {
            child,
            stdin,
            stdout,
            stdout_seen,
            stderr,
            stderr_seen: Vec::new(),
        }
    }

    /// Wait for "arsock: listening on ADDR" and return ADDR's port.
    pub fn listening_port(&mut self) -> u16 {
        let deadline = Instant::now() + WATCHDOG;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match self.stderr.recv_timeout(left) {
                Ok(l) => l,
                Err(_) => {
                    let _ = self.child.kill();
                    panic!(
                        "no 'listening on' line; stderr so far: {:?}",
                        self.stderr_seen
                    );
                }
            };
            self.stderr_seen.push(line.clone());
            if let Some(addr) = line.strip_prefix("arsock: listening on ") {
                let port = addr.rsplit(':').next().unwrap().parse().unwrap();
                return port;
            }
        }
    }

    /// Write all of `data` to stdin from a thread, then close stdin.
    pub fn feed(&mut self, data: Vec<u8>) -> JoinHandle<()> {
        let mut stdin = self.stdin.take().expect("stdin not yet fed");
        thread::spawn(move || {
            let _ = stdin.write_all(&data);
        })
    }

    /// Wait until stdout has at least `len` bytes (failing after the watchdog).
    pub fn wait_stdout(&self, len: usize) {
        let deadline = Instant::now() + WATCHDOG;
        while self.stdout_seen.lock().unwrap().len() < len {
            assert!(
                Instant::now() < deadline,
                "stdout stayed short of {len} bytes"
            );
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Everything written to stdout so far, as text.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout_seen.lock().unwrap()).into_owned()
    }

    /// Wait until stdout contains `needle` `times` times (failing after the watchdog); returns
    /// stdout so far.
    pub fn wait_stdout_count(&self, needle: &str, times: usize) -> String {
        let deadline = Instant::now() + WATCHDOG;
        loop {
            let text = self.stdout_text();
            if text.matches(needle).count() >= times {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "stdout never had {times} × {needle:?}; it has:\n{text}"
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Wait for a stderr line containing `needle` (failing after the watchdog).
    pub fn wait_stderr(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + WATCHDOG;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(l) => {
                    self.stderr_seen.push(l.clone());
                    if l.contains(needle) {
                        return l;
                    }
                }
                Err(_) => panic!("no stderr line with {needle:?}: {:?}", self.stderr_seen),
            }
        }
    }

    /// Send SIGKILL.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Send SIGINT, as Ctrl-C in a terminal does.
    pub fn interrupt(&self) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid fits pid_t");
        // SAFETY: kill(2) with our own child's pid (not yet reaped: `self.child` owns it).
        let rc = unsafe { libc::kill(pid, libc::SIGINT) };
        assert_eq!(
            rc,
            0,
            "kill(SIGINT) failed: {}",
            std::io::Error::last_os_error()
        );
    }

    /// Close stdin without writing anything.
    pub fn close_stdin(&mut self) {
        self.stdin.take();
    }

    /// Wait for the process to end (killing it and failing after the watchdog).
    pub fn finish(mut self) -> Finished {
        self.stdin.take();
        let deadline = Instant::now() + WATCHDOG;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "arsock did not exit within {WATCHDOG:?}; stderr: {:?}",
                    self.stderr_seen
                );
            }
            thread::sleep(Duration::from_millis(5));
        };
        self.stdout.take().unwrap().join().unwrap();
        let stdout = std::mem::take(&mut *self.stdout_seen.lock().unwrap());
        let mut lines = std::mem::take(&mut self.stderr_seen);
        while let Ok(l) = self.stderr.recv_timeout(Duration::from_secs(5)) {
            lines.push(l);
        }
        Finished {
            status,
            stdout,
            stderr: lines.join("\n"),
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Run `arsock ARGS` with empty stdin to its end.
pub fn run(args: &[&str]) -> Finished {
    let mut p = Proc::spawn(args);
    p.close_stdin();
    p.finish()
}

/// Deterministic pseudo-random bytes (xorshift), so a test's data is not all one pattern.
pub fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}
