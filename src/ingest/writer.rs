//! The writers: a bounded queue of batches feeding the writer threads
//! (one on SQLite, two on PostgreSQL), each owning one of the store's
//! writers and committing whatever is waiting in one durable transaction
//! (group commit). Concurrent requests thus share an fsync, and a batch is
//! acknowledged only once its transaction has committed.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot};

use crate::event::Event;
use crate::store::{BatchCounts, EventWriter, Store};

/// Events committed together at most; a larger queue is split over several
/// transactions so that one commit's latency stays bounded.
const MAX_GROUP_EVENTS: usize = 100_000;

/// The answer for one batch: its counts, or why nothing of it was stored.
pub type Outcome = Result<BatchCounts, String>;

struct Job {
    events: Vec<Event>,
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

/// The batches one transaction takes: the next one, waiting for it, and
/// whatever else is queued, up to [`MAX_GROUP_EVENTS`]; `None` once the
/// queue is closed and empty. Writers take turns at the queue.
fn next_group(jobs: &Mutex<mpsc::Receiver<Job>>) -> Option<Vec<Job>> {
    let mut jobs = jobs.lock().unwrap_or_else(|p| p.into_inner());
    let first = jobs.blocking_recv()?;
    let mut size = first.events.len();
    let mut group = vec![first];
    while size < MAX_GROUP_EVENTS {
        match jobs.try_recv() {
            Ok(job) => {
                size += job.events.len();
                group.push(job);
            }
            Err(_) => break,
        }
    }
    Some(group)
}

/// Writes `group` in one transaction and answers each batch.
fn commit_group(writer: &mut dyn EventWriter, group: Vec<Job>) {
    let size: usize = group.iter().map(|job| job.events.len()).sum();
    let batches: Vec<&[Event]> = group.iter().map(|job| job.events.as_slice()).collect();
    match writer.write(&batches) {
        Ok(counts) => {
            for (job, counts) in group.into_iter().zip(counts) {
                // The requester may have gone; the events are stored all the same.
                let _ = job.reply.send(Ok(counts));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, events = size, "write failed; the batches were refused with 503 and may be resent");
            for job in group {
                let _ = job.reply.send(Err(e.to_string()));
            }
        }
    }
}

impl Ingestor {
    /// Starts the writer threads over `store` (one per
    /// [`Store::writers`]) with a queue of `queue_batches` batches.
    pub fn start(
        store: Arc<dyn Store>,
        queue_batches: usize,
    ) -> anyhow::Result<(Ingestor, WriterHandle)> {
        let (queue, jobs) = mpsc::channel::<Job>(queue_batches);
        let jobs = Arc::new(Mutex::new(jobs));
        let mut threads = Vec::new();
        for n in 0..store.writers().max(1) {
            let mut writer = store.writer()?;
            let jobs = jobs.clone();
            let thread = std::thread::Builder::new()
                .name(format!("uptake-writer-{n}"))
                .spawn(move || {
                    while let Some(group) = next_group(&jobs) {
                        commit_group(writer.as_mut(), group);
                    }
                })?;
            threads.push(thread);
        }
        Ok((Ingestor { queue }, WriterHandle { threads }))
    }

    /// Queues a batch without waiting; a full queue is refused at once
    /// (the HTTP handler answers `503` with `Retry-After`).
    pub fn try_submit(
        &self,
        events: Vec<Event>,
    ) -> Result<oneshot::Receiver<Outcome>, SubmitError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .try_send(Job { events, reply })
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
            .blocking_send(Job { events, reply })
            .map_err(|_| SubmitError::Closed)?;
        Ok(answer)
    }
}
