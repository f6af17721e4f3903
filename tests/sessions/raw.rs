//! A hand-made device speaking the session protocol over a plain socket: it can send poses
//! with any seq and stop reading at will (what the library's own sessions never do).

use arsock::pose::Pose;
use arsock::session::ext_wire::{self, ExtFrame};
use arsock::session::wire::{self, Frame, Hello};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

pub struct Raw {
    pub s: TcpStream,
    pub id: u32,
    buf: Vec<u8>,
}

impl Raw {
    /// Connect, say HELLO, and read up to SNAPSHOT_END.
    pub fn join(port: u16, room: &str) -> Raw {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_nodelay(true).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let hello = wire::encode(&Frame::Hello(Hello {
            version: wire::PROTOCOL_VERSION,
            resume_peer: 0,
            resume_key: 0,
            ack: 0,
            room,
            name: "raw",
            token: b"",
        }));
        s.write_all(&hello).unwrap();
        let mut r = Raw {
            s,
            id: 0,
            buf: Vec::new(),
        };
        loop {
            let (k, p) = r.frame();
            if k == wire::kind::WELCOME {
                if let Ok(Some(Frame::Welcome(w))) = wire::decode(k, &p) {
                    r.id = w.peer;
                }
            }
            if k == wire::kind::SNAPSHOT_END {
                return r;
            }
        }
    }

    /// The next whole frame (kind, payload); panics after the read timeout.
    pub fn frame(&mut self) -> (u8, Vec<u8>) {
        loop {
            if self.buf.len() >= 8 {
                let len = u32::from_le_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]]);
                let end = 8 + len as usize;
                if self.buf.len() >= end {
                    let k = self.buf[2];
                    let p = self.buf[8..end].to_vec();
                    self.buf.drain(..end);
                    return (k, p);
                }
            }
            let mut chunk = [0u8; 65536];
            let n = self.s.read(&mut chunk).expect("raw device read");
            assert!(n > 0, "hub closed the raw device's link");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Send one pose batch as is (seq, time and all).
    pub fn send_poses(&mut self, poses: &[Pose]) {
        self.s
            .write_all(&ext_wire::encode(&ExtFrame::Poses(poses.to_vec())))
            .unwrap();
    }

    /// An ACK that also serves as a heartbeat.
    pub fn heartbeat(&mut self) {
        self.s
            .write_all(&wire::encode(&Frame::Ack { count: 0 }))
            .unwrap();
    }
}
