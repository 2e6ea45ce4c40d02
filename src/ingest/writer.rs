//! The writers: a bounded queue of batches feeding the writer threads
//! (one on SQLite, two on PostgreSQL), each owning one of the store's
//! writers. A writer stores whatever is waiting in its open transaction
//! and commits it durably as soon as the queue runs dry, or once the
//! transaction has grown to its [`Commits`] bounds (group commit):
//! concurrent requests share an fsync, a busy store commits less often
//! and rewrites each rollup row once per transaction rather than once per
//! batch, and a batch is acknowledged only once its transaction has
//! committed.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::event::Event;
use crate::store::{Batch, BatchCounts, EventWriter, Store};

/// Events taken from the queue for one write at most.
const MAX_GROUP_EVENTS: usize = 60_000;

/// When a writer commits its open transaction at the latest, though more
/// batches are waiting: after this many events, or this long after it
/// began. The first batch of a transaction waits that long for its answer
/// at most (plus the commit).
#[derive(Clone, Copy, Debug)]
pub struct Commits {
    pub max_events: usize,
    pub max_wait: Duration,
}

impl Commits {
    /// For HTTP ingest: answers within a fraction of a second.
    pub const LIVE: Commits = Commits {
        max_events: 250_000,
        max_wait: Duration::from_millis(250),
    };
    /// For `import`: few, large transactions (the importer waits for the
    /// answers only at the end).
    pub const BULK: Commits = Commits {
        max_events: 400_000,
        max_wait: Duration::from_secs(10),
    };
    /// A transaction per write: for stores with several writers, whose
    /// open transactions would wait on each other's new strings and keys
    /// (PostgreSQL), possibly in a cycle.
    pub const EACH_WRITE: Commits = Commits {
        max_events: 0,
        max_wait: Duration::ZERO,
    };
}

/// The answer for one batch: its counts, or why nothing of it was stored.
pub type Outcome = Result<BatchCounts, String>;

struct Job {
    batch: Batch,
    reply: oneshot::Sender<Outcome>,
}

/// The handle through which batches reach the writer. Cheap to clone; the
/// writer stops once every clone is dropped and the queue is drained.
#[derive(Clone)]
pub struct Ingestor {
    queue: mpsc::Sender<Job>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    #[error("the write queue is full")]
    QueueFull,
    #[error("the writer has stopped")]
    Closed,
}

/// Owns the writer threads; [`WriterHandle::join`] waits for them to
/// drain the queue.
pub struct WriterHandle {
    threads: Vec<JoinHandle<()>>,
}

impl WriterHandle {
    pub fn join(self) {
        for thread in self.threads {
            if thread.join().is_err() {
                tracing::error!("a writer thread panicked");
            }
        }
    }
}

/// The batches one write takes: those queued now, up to
/// [`MAX_GROUP_EVENTS`], waiting for the first one when `wait`. `None`
/// once the queue is closed and empty (when waiting). Writers take turns
/// at the queue.
fn next_group(jobs: &Mutex<mpsc::Receiver<Job>>, wait: bool) -> Option<Vec<Job>> {
    let mut jobs = if wait {
        jobs.lock().unwrap_or_else(|p| p.into_inner())
    } else {
        // Another writer holding the queue is waiting for a batch: none is
        // queued now. (Waiting for the lock would wait with it, holding an
        // open transaction that the batches queued before need committed.)
        match jobs.try_lock() {
            Ok(jobs) => jobs,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return Some(Vec::new()),
        }
    };
    let mut group = Vec::new();
    if wait {
        group.push(jobs.blocking_recv()?);
    }
    let mut size: usize = group.iter().map(|job| job.batch.len()).sum();
    while size < MAX_GROUP_EVENTS {
        match jobs.try_recv() {
            Ok(job) => {
                size += job.batch.len();
                group.push(job);
            }
            Err(_) => break,
        }
    }
    Some(group)
}

/// The batches of a writer's open transaction, answered when it commits.
#[derive(Default)]
struct Held {
    replies: Vec<(oneshot::Sender<Outcome>, BatchCounts)>,
    events: usize,
    began: Option<Instant>,
}

impl Held {
    fn answer(&mut self, outcome: impl Fn(BatchCounts) -> Outcome) {
        for (reply, counts) in self.replies.drain(..) {
            // The requester may have gone; the outcome stands all the same.
            let _ = reply.send(outcome(counts));
        }
        self.events = 0;
        self.began = None;
    }
}

/// A writer thread's loop: write what is queued into the open
/// transaction; commit when the queue is empty or the transaction is full.
fn run(writer: &mut dyn EventWriter, jobs: &Mutex<mpsc::Receiver<Job>>, commits: Commits) {
    let mut held = Held::default();
    loop {
        // Wait for work only with nothing to commit.
        let Some(group) = next_group(jobs, held.replies.is_empty()) else {
            return;
        };
        let idle = group.is_empty();
        if !idle {
            let size: usize = group.iter().map(|job| job.batch.len()).sum();
            let batches: Vec<&Batch> = group.iter().map(|job| &job.batch).collect();
            match writer.write(&batches) {
                Ok(counts) => {
                    held.began.get_or_insert_with(Instant::now);
                    held.events += size;
                    held.replies
                        .extend(group.into_iter().map(|job| job.reply).zip(counts));
                }
                Err(e) => {
                    // The whole open transaction is gone: the batches held
                    // for it as well as these.
                    tracing::error!(error = %e, events = held.events + size, "write failed; the batches were refused with 503 and may be resent");
                    let message = e.to_string();
                    for job in group {
                        let _ = job.reply.send(Err(message.clone()));
                    }
                    held.answer(|_| Err(message.clone()));
                    continue;
                }
            }
        }
        let full = held.events >= commits.max_events
            || held.began.is_some_and(|t| t.elapsed() >= commits.max_wait);
        if !held.replies.is_empty() && (idle || full) {
            match writer.commit() {
                Ok(()) => held.answer(Ok),
                Err(e) => {
                    tracing::error!(error = %e, events = held.events, "commit failed; the batches were refused with 503 and may be resent");
                    let message = e.to_string();
                    held.answer(|_| Err(message.clone()));
                }
            }
        }
    }
}

impl Ingestor {
    /// Starts the writer threads over `store` (one per
    /// [`Store::writers`]) with a queue of `queue_batches` batches,
    /// committing as `commits` bounds.
    pub fn start(
        store: Arc<dyn Store>,
        queue_batches: usize,
        commits: Commits,
    ) -> anyhow::Result<(Ingestor, WriterHandle)> {
        let (queue, jobs) = mpsc::channel::<Job>(queue_batches);
        let jobs = Arc::new(Mutex::new(jobs));
        let writers = store.writers().max(1);
        let commits = if writers > 1 {
            Commits::EACH_WRITE
        } else {
            commits
        };
        let mut threads = Vec::new();
        for n in 0..writers {
            let mut writer = store.writer()?;
            let jobs = jobs.clone();
            let thread = std::thread::Builder::new()
                .name(format!("uptake-writer-{n}"))
                .spawn(move || run(writer.as_mut(), &jobs, commits))?;
            threads.push(thread);
        }
        Ok((Ingestor { queue }, WriterHandle { threads }))
    }

    /// Queues a batch without waiting; a full queue is refused at once
    /// (the HTTP handler answers `503` with `Retry-After`).
    /// Batches waiting for the writer.
    pub fn queued(&self) -> usize {
        self.queue.max_capacity() - self.queue.capacity()
    }

    pub fn try_submit(
        &self,
        events: Vec<Event>,
    ) -> Result<oneshot::Receiver<Outcome>, SubmitError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .try_send(Job {
                batch: Batch::new(events),
                reply,
            })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => SubmitError::QueueFull,
                mpsc::error::TrySendError::Closed(_) => SubmitError::Closed,
            })?;
        Ok(answer)
    }

    /// Queues a batch, waiting for room (for `import`, outside async code).
    pub fn submit_blocking(
        &self,
        events: Vec<Event>,
    ) -> Result<oneshot::Receiver<Outcome>, SubmitError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .blocking_send(Job {
                batch: Batch::new(events),
                reply,
            })
            .map_err(|_| SubmitError::Closed)?;
        Ok(answer)
    }
}
