//! Name resolution on a small bounded pool: at most `MAX_THREADS` threads, started on demand
//! and ending after `IDLE_EXIT` without work, so lookups never cost a thread each and an idle
//! process has none. `getaddrinfo` blocks, hence threads; the caller waits for its answer no
//! longer than its deadline (an abandoned lookup is skipped if it has not started yet).

use std::collections::VecDeque;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// Most resolver threads alive at once.
const MAX_THREADS: usize = 2;
/// Most lookups waiting for a thread; more fail at once.
const MAX_QUEUED: usize = 256;
/// A resolver thread with nothing to do for this long ends.
const IDLE_EXIT: Duration = Duration::from_secs(5);

type Answer = io::Result<Vec<SocketAddr>>;

struct Job {
    name: String,
    port: u16,
    abandoned: Arc<AtomicBool>,
    reply: mpsc::Sender<Answer>,
}

#[derive(Default)]
struct State {
    jobs: VecDeque<Job>,
    threads: usize,
    idle: usize,
}

struct Pool {
    state: Mutex<State>,
    work: Condvar,
}

static POOL: Pool = Pool {
    state: Mutex::new(State {
        jobs: VecDeque::new(),
        threads: 0,
        idle: 0,
    }),
    work: Condvar::new(),
};

/// A lookup in progress: wait for its answer with [`Lookup::wait`].
pub(crate) struct Lookup {
    rx: mpsc::Receiver<Answer>,
    abandoned: Arc<AtomicBool>,
}

impl Drop for Lookup {
    fn drop(&mut self) {
        self.abandoned.store(true, Relaxed);
    }
}

impl Lookup {
    /// The answer, waiting at most `limit` (None: as long as it takes). `Ok(None)` on timeout.
    pub(crate) fn wait(&self, limit: Option<Duration>) -> io::Result<Option<Answer>> {
        let got = match limit {
            None => self.rx.recv().map_err(|_| ()),
            Some(d) => match self.rx.recv_timeout(d) {
                Ok(a) => Ok(a),
                Err(mpsc::RecvTimeoutError::Timeout) => return Ok(None),
                Err(mpsc::RecvTimeoutError::Disconnected) => Err(()),
            },
        };
        got.map(Some)
            .map_err(|_| io::Error::other("the resolver thread ended without an answer"))
    }
}

impl Pool {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Start resolving `name`; fails if too many lookups are waiting or no thread can start.
pub(crate) fn start(name: &str, port: u16) -> io::Result<Lookup> {
    let (tx, rx) = mpsc::channel();
    let abandoned = Arc::new(AtomicBool::new(false));
    let mut st = POOL.lock();
    if st.jobs.len() >= MAX_QUEUED {
        return Err(io::Error::other("too many name lookups in progress"));
    }
    st.jobs.push_back(Job {
        name: name.to_owned(),
        port,
        abandoned: Arc::clone(&abandoned),
        reply: tx,
    });
    if st.idle > 0 {
        POOL.work.notify_one();
    } else if st.threads < MAX_THREADS {
        let spawned = std::thread::Builder::new()
            .name("arsock-resolve".into())
            .stack_size(128 << 10)
            .spawn(worker);
        match spawned {
            Ok(_) => st.threads += 1,
            Err(e) if st.threads == 0 => {
                st.jobs.pop_back();
                return Err(e);
            }
            Err(_) => {} // the running threads will get to it
        }
    }
    Ok(Lookup { rx, abandoned })
}

fn worker() {
    let mut st = POOL.lock();
    loop {
        if let Some(job) = st.jobs.pop_front() {
            drop(st);
            if !job.abandoned.load(Relaxed) {
                let answer = (job.name.as_str(), job.port)
                    .to_socket_addrs()
                    .map(|it| it.collect::<Vec<_>>());
                let _ = job.reply.send(answer);
            }
            st = POOL.lock();
            continue;
        }
        st.idle += 1;
        let (g, timeout) = POOL
            .work
            .wait_timeout(st, IDLE_EXIT)
            .unwrap_or_else(|e| e.into_inner());
        st = g;
        st.idle -= 1;
        if timeout.timed_out() && st.jobs.is_empty() {
            st.threads -= 1;
            return;
        }
    }
}
