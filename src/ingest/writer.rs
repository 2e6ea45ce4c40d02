//! The single writer: a bounded queue of batches feeding one thread that
//! owns the store's writer and commits whatever is waiting in one durable
//! transaction (group commit). Concurrent requests thus share an fsync,
//! and a batch is acknowledged only once its transaction has committed.

use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot};

use crate::event::Event;
use crate::store::{BatchCounts, Store};

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

/// Owns the writer thread; [`WriterHandle::join`] waits for it to drain.
pub struct WriterHandle {
    thread: JoinHandle<()>,
}

impl WriterHandle {
    pub fn join(self) {
        if self.thread.join().is_err() {
            tracing::error!("the writer thread panicked");
        }
    }
}

impl Ingestor {
    /// Starts the writer thread over `store` with a queue of
    /// `queue_batches` batches.
    pub fn start(
        store: Arc<dyn Store>,
        queue_batches: usize,
    ) -> anyhow::Result<(Ingestor, WriterHandle)> {
        let mut writer = store.writer()?;
        let (queue, mut jobs) = mpsc::channel::<Job>(queue_batches);
        let thread = std::thread::Builder::new().name("uptake-writer".into()).spawn(move || {
            while let Some(first) = jobs.blocking_recv() {
                let mut group = vec![first];
                let mut size = group[0].events.len();
                while size < MAX_GROUP_EVENTS {
                    match jobs.try_recv() {
                        Ok(job) => {
                            size += job.events.len();
                            group.push(job);
                        }
                        Err(_) => break,
                    }
                }
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
        })?;
        Ok((Ingestor { queue }, WriterHandle { thread }))
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
