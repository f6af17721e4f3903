//! Property tests of blob chunking, reassembly and a room's store budget, driven by a small
//! deterministic PRNG. Prints its execution counts (`-- --nocapture`).

use arsock::blob::chunk::{ChunkCursor, Reassembly};
use arsock::blob::store::BlobStore;
use arsock::blob::{BlobError, MAX_CHUNK_LEN};
use std::collections::HashMap;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[test]
fn random_blobs_reassemble_exactly_and_bad_chunks_change_nothing() {
    let mut rng = Rng(11);
    let (mut blobs, mut rejected) = (0, 0);
    for _ in 0..300 {
        let size = rng.below(100_000) as usize;
        let blob: Vec<u8> = (0..size).map(|_| rng.next() as u8).collect();
        let chunk_len = 1 + rng.below(MAX_CHUNK_LEN as u64) as usize;
        let mut r = Reassembly::new(size as u64).unwrap();
        for (at, len) in ChunkCursor::new(size as u64, chunk_len) {
            assert!(len <= MAX_CHUNK_LEN);
            // A wrong chunk first: elsewhere, too long, or past the end.
            let before = r.received();
            let bad_at = at + 1 + rng.below(10);
            let bad = match rng.below(3) {
                0 => r.add(bad_at, &blob[at as usize..at as usize + len]),
                1 => r.add(at, &vec![0; MAX_CHUNK_LEN + 1]),
                _ => r.add(at, &vec![0; size - at as usize + 1]),
            };
            assert!(bad.is_err());
            assert_eq!(r.received(), before);
            rejected += 1;
            r.add(at, &blob[at as usize..at as usize + len]).unwrap();
        }
        assert_eq!(r.into_complete().unwrap(), blob);
        blobs += 1;
    }
    println!("blobs: {blobs} reassembled, {rejected} bad chunks refused");
}

#[test]
fn store_budget_always_equals_what_it_holds_and_never_exceeds_the_limit() {
    let mut rng = Rng(12);
    let limit = 200_000;
    let mut s = BlobStore::new(limit);
    // Model: complete blobs by key, uploads by (peer, key) → (size, received).
    let mut complete: HashMap<String, u64> = HashMap::new();
    let mut uploads: HashMap<(u32, String), (u64, u64)> = HashMap::new();
    let mut ops = 0;
    for _ in 0..50_000 {
        ops += 1;
        let peer = 1 + rng.below(3) as u32;
        let key = format!("k{}", rng.below(5));
        match rng.below(6) {
            0 => {
                let size = rng.below(60_000);
                let id = (peer, key.clone());
                match s.begin_upload(peer, &key, size) {
                    Ok(done) => {
                        uploads.remove(&id);
                        if size == 0 {
                            assert!(done.is_some());
                            complete.insert(key, 0);
                        } else {
                            uploads.insert(id, (size, 0));
                        }
                    }
                    Err(BlobError::BudgetFull { .. }) => {
                        uploads.remove(&id); // the old upload was abandoned
                    }
                    Err(e) => panic!("{e}"),
                }
            }
            1..=3 => {
                let id = (peer, key.clone());
                let Some(&(size, got)) = uploads.get(&id) else {
                    assert_eq!(s.add_chunk(peer, &key, 0, &[1]), Err(BlobError::NoUpload));
                    continue;
                };
                let len = rng.below((size - got).min(MAX_CHUNK_LEN as u64) + 1) as usize;
                let done = s.add_chunk(peer, &key, got, &vec![7; len]).unwrap();
                if got + len as u64 == size {
                    assert_eq!(done.unwrap().size, size);
                    uploads.remove(&id);
                    complete.insert(key, size);
                } else {
                    assert!(done.is_none());
                    uploads.insert(id, (size, got + len as u64));
                }
            }
            4 => {
                assert_eq!(s.delete(&key), complete.remove(&key).is_some());
            }
            _ => {
                let n = s.abort_uploads_of(peer);
                let before = uploads.len();
                uploads.retain(|(p, _), _| *p != peer);
                assert_eq!(n, before - uploads.len());
            }
        }
        let held: u64 = complete.values().sum::<u64>() + uploads.values().map(|u| u.0).sum::<u64>();
        assert_eq!(s.used(), held);
        assert!(s.used() <= limit);
        assert_eq!(s.list().len(), complete.len());
    }
    println!("store: {ops} operations, budget consistent");
}
