//! What a send hands to the send path: bytes that are already whole frames (raw data, or one
//! header and payload), or a list of messages framed on the fly. Coalesced sends copy the
//! frames straight into the send queue; direct writes gather them into one `sendmsg`.

use crate::frame::{encode_header, HEADER_LEN};
use std::io::IoSlice;

pub(crate) trait Frames {
    /// Append the wire bytes from offset `skip` on to `queue`.
    fn append_to(&self, queue: &mut Vec<u8>, skip: usize);
    /// Call `write` with `first` followed by the wire bytes, as gather-write slices.
    fn with_iovecs<R>(&self, first: &[u8], write: impl FnOnce(&[IoSlice<'_>]) -> R) -> R;
}

/// Bytes already in wire form.
pub(crate) struct Parts<'a>(pub &'a [IoSlice<'a>]);

impl Frames for Parts<'_> {
    fn append_to(&self, queue: &mut Vec<u8>, mut skip: usize) {
        for p in self.0 {
            if skip >= p.len() {
                skip -= p.len();
                continue;
            }
            queue.extend_from_slice(&p[skip..]);
            skip = 0;
        }
    }

    fn with_iovecs<R>(&self, first: &[u8], write: impl FnOnce(&[IoSlice<'_>]) -> R) -> R {
        if first.is_empty() {
            return write(self.0);
        }
        let mut iov = Vec::with_capacity(self.0.len() + 1);
        iov.push(IoSlice::new(first));
        iov.extend_from_slice(self.0);
        write(&iov)
    }
}

/// Messages to frame: each becomes a header plus its payload.
pub(crate) struct Messages<'a, M>(pub &'a [M]);

impl<M: AsRef<[u8]>> Frames for Messages<'_, M> {
    fn append_to(&self, queue: &mut Vec<u8>, mut skip: usize) {
        if skip == 0 {
            for m in self.0 {
                let m = m.as_ref();
                queue.extend_from_slice(&encode_header(m.len()));
                queue.extend_from_slice(m);
            }
            return;
        }
        for m in self.0 {
            let m = m.as_ref();
            let header = encode_header(m.len());
            for part in [&header[..], m] {
                if skip >= part.len() {
                    skip -= part.len();
                } else {
                    queue.extend_from_slice(&part[skip..]);
                    skip = 0;
                }
            }
        }
    }

    fn with_iovecs<R>(&self, first: &[u8], write: impl FnOnce(&[IoSlice<'_>]) -> R) -> R {
        let headers: Vec<[u8; HEADER_LEN]> = self
            .0
            .iter()
            .map(|m| encode_header(m.as_ref().len()))
            .collect();
        let mut iov = Vec::with_capacity(self.0.len() * 2 + 1);
        if !first.is_empty() {
            iov.push(IoSlice::new(first));
        }
        for (h, m) in headers.iter().zip(self.0) {
            iov.push(IoSlice::new(h));
            iov.push(IoSlice::new(m.as_ref()));
        }
        write(&iov)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire<F: Frames>(f: &F, skip: usize) -> Vec<u8> {
        let mut q = Vec::new();
        f.append_to(&mut q, skip);
        q
    }

    #[test]
    fn messages_append_their_frames_from_any_offset() {
        let msgs: [&[u8]; 3] = [b"ab", b"", b"xyz"];
        let f = Messages(&msgs);
        let mut expect = Vec::new();
        for m in msgs {
            expect.extend_from_slice(&encode_header(m.len()));
            expect.extend_from_slice(m);
        }
        for skip in 0..=expect.len() {
            assert_eq!(wire(&f, skip), expect[skip..], "skip {skip}");
        }
        let gathered = f.with_iovecs(b"Q", |iov| {
            iov.iter().flat_map(|s| s.to_vec()).collect::<Vec<u8>>()
        });
        assert_eq!(gathered[0], b'Q');
        assert_eq!(&gathered[1..], &expect[..]);
    }

    #[test]
    fn parts_append_from_any_offset() {
        let a = [1u8, 2, 3];
        let b = [4u8, 5];
        let parts = [IoSlice::new(&a), IoSlice::new(&b)];
        let f = Parts(&parts);
        for skip in 0..=5 {
            assert_eq!(wire(&f, skip), [1, 2, 3, 4, 5][skip..]);
        }
    }
}
