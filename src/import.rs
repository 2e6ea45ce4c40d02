//! `uptake import`: loads event files through the same validation and the
//! same writer as HTTP, streaming, so memory does not grow with the file.
//! Events are sent to the writer in chunks while the next chunk is parsed.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::oneshot;

use crate::config::Limits;
use crate::event::OrgSlug;
use crate::event::framing::{Format, Items};
use crate::event::validate::Context;
use crate::ingest::writer::{Commits, Outcome};
use crate::ingest::{Ingestor, RejectedEvent, Summary, decode};
use crate::store::Store;
use crate::time::Micros;

/// Events handed to the writer at a time.
const CHUNK_EVENTS: usize = 20_000;
/// Chunks parsed ahead of the writer (the queue's length). The writer
/// answers a chunk when its transaction commits, which takes many chunks
/// ([`Commits::BULK`]): answers are collected as they come, not waited for.
const CHUNKS_IN_FLIGHT: usize = 4;
const READ_BUFFER: usize = 1 << 20;

/// What to import and how.
pub struct Import<'a> {
    pub files: &'a [PathBuf],
    pub org: Option<OrgSlug>,
    pub limits: &'a Limits,
    /// The clock the `time` window is judged by.
    pub now: Micros,
}

/// How an import ended: the summary of what was stored, and the error
/// that stopped it early, if any.
pub struct Outcomes {
    pub summary: Summary,
    pub error: Option<anyhow::Error>,
}

pub fn run(import: &Import<'_>, store: Arc<dyn Store>) -> anyhow::Result<Outcomes> {
    let (ingestor, writer) = Ingestor::start(store, CHUNKS_IN_FLIGHT, Commits::BULK)?;
    let progress = Progress::new(import.files);
    let mut run = Run {
        ingestor,
        pending: VecDeque::new(),
        chunk: Vec::with_capacity(CHUNK_EVENTS),
        summary: Summary::default(),
        progress,
        next_index: 0,
    };
    let result = run.all_files(import);
    // Whatever happened, collect the answers for what was already sent.
    let flushed = run.flush_all();
    let Run {
        ingestor,
        summary,
        progress,
        ..
    } = run;
    drop(ingestor);
    writer.join();
    progress.finish(&summary);
    Ok(Outcomes {
        summary,
        error: result.and(flushed).err(),
    })
}

struct Run {
    ingestor: Ingestor,
    pending: VecDeque<oneshot::Receiver<Outcome>>,
    chunk: Vec<crate::event::Event>,
    summary: Summary,
    progress: Progress,
    /// Index of the next event, counted over all files in order.
    next_index: u64,
}

impl Run {
    fn all_files(&mut self, import: &Import<'_>) -> anyhow::Result<()> {
        let cx = Context {
            bound_org: import.org.as_ref(),
            now: import.now,
            limits: import.limits,
        };
        for path in import.files {
            let reader: Box<dyn Read> = if path == Path::new("-") {
                Box::new(io::stdin().lock())
            } else {
                Box::new(
                    File::open(path).with_context(|| format!("cannot open {}", path.display()))?,
                )
            };
            let reader = BufReader::with_capacity(
                READ_BUFFER,
                CountingReader {
                    inner: reader,
                    read: self.progress.read.clone(),
                },
            );
            self.one_file(path, reader, &cx)
                .with_context(|| format!("import of {} stopped", path.display()))?;
        }
        Ok(())
    }

    fn one_file(
        &mut self,
        path: &Path,
        mut reader: impl BufRead,
        cx: &Context<'_>,
    ) -> anyhow::Result<()> {
        let format = detect_format(path, &mut reader)?;
        let mut items = Items::new(reader, format, cx.limits.max_body_bytes);
        let base = self.next_index;
        while let Some(item) = items.next_item()? {
            let index = base + item.index;
            self.next_index = index + 1;
            match decode(&item, format, cx)? {
                Ok(event) => {
                    self.chunk.push(event);
                    if self.chunk.len() >= CHUNK_EVENTS {
                        self.send()?;
                    }
                }
                Err(rejection) => self
                    .summary
                    .rejected
                    .push(RejectedEvent { index, rejection }),
            }
        }
        Ok(())
    }

    fn send(&mut self) -> anyhow::Result<()> {
        let events = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK_EVENTS));
        let sent = events.len() as u64;
        // An answer that came already may be a refusal that stops the import.
        while self.pending.front().is_some_and(|a| !a.is_empty()) {
            self.wait_oldest()?;
        }
        self.pending
            .push_back(self.ingestor.submit_blocking(events)?);
        self.progress.parsed(sent);
        Ok(())
    }

    fn wait_oldest(&mut self) -> anyhow::Result<()> {
        let Some(answer) = self.pending.pop_front() else {
            return Ok(());
        };
        match answer.blocking_recv() {
            Ok(Ok(counts)) => {
                self.summary.add(counts);
                self.progress.stored(&self.summary);
                Ok(())
            }
            Ok(Err(reason)) => bail!(
                "the store refused a write ({reason}); events after the last acknowledged chunk were not stored"
            ),
            Err(_) => bail!("the writer stopped unexpectedly"),
        }
    }

    fn flush_all(&mut self) -> anyhow::Result<()> {
        let mut result = if self.chunk.is_empty() {
            Ok(())
        } else {
            self.send()
        };
        while !self.pending.is_empty() {
            if let Err(e) = self.wait_oldest() {
                result = result.and(Err(e));
            }
        }
        result
    }
}

/// NDJSON for `.ndjson`/`.jsonl` files; otherwise a JSON array when the
/// first non-blank byte is `[`, else NDJSON.
fn detect_format(path: &Path, reader: &mut impl BufRead) -> io::Result<Format> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if matches!(ext.as_deref(), Some("ndjson" | "jsonl")) {
        return Ok(Format::Ndjson);
    }
    let head = reader.fill_buf()?;
    let first = head.iter().find(|c| !c.is_ascii_whitespace());
    Ok(if first == Some(&b'[') {
        Format::Array
    } else {
        Format::Ndjson
    })
}

struct CountingReader<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A progress bar on a terminal; plain lines every few seconds otherwise.
struct Progress {
    bar: Option<ProgressBar>,
    read: Arc<AtomicU64>,
    started: Instant,
    last_line: Instant,
    parsed: u64,
}

const PLAIN_EVERY: Duration = Duration::from_secs(5);

impl Progress {
    fn new(files: &[PathBuf]) -> Progress {
        let total: Option<u64> = files
            .iter()
            .map(|f| {
                if f == Path::new("-") {
                    None
                } else {
                    std::fs::metadata(f).ok().map(|m| m.len())
                }
            })
            .sum();
        let bar = io::stderr().is_terminal().then(|| {
            let bar = match total {
                Some(total) => ProgressBar::new(total).with_style(
                    ProgressStyle::with_template("{bar:30} {bytes}/{total_bytes} {msg}")
                        .expect("valid template"),
                ),
                None => ProgressBar::new_spinner().with_style(
                    ProgressStyle::with_template("{spinner} {bytes} {msg}")
                        .expect("valid template"),
                ),
            };
            bar.set_draw_target(ProgressDrawTarget::stderr_with_hz(4));
            bar
        });
        let now = Instant::now();
        Progress {
            bar,
            read: Arc::default(),
            started: now,
            last_line: now,
            parsed: 0,
        }
    }

    fn rate(&self, events: u64) -> u64 {
        (events as f64 / self.started.elapsed().as_secs_f64().max(1e-3)) as u64
    }

    fn parsed(&mut self, events: u64) {
        self.parsed += events;
    }

    fn stored(&mut self, summary: &Summary) {
        let done = summary.accepted + summary.duplicates;
        let message = format!(
            "{done} events stored of {} read, {} events/s",
            self.parsed,
            self.rate(done)
        );
        match &self.bar {
            Some(bar) => {
                bar.set_position(self.read.load(Ordering::Relaxed));
                bar.set_message(message);
            }
            None if self.last_line.elapsed() >= PLAIN_EVERY => {
                eprintln!("import: {message}");
                self.last_line = Instant::now();
            }
            None => {}
        }
    }

    fn finish(self, summary: &Summary) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        let done = summary.accepted + summary.duplicates;
        eprintln!(
            "import: {} accepted, {} duplicates, {} rejected in {:.1} s ({} events/s)",
            summary.accepted,
            summary.duplicates,
            summary.rejected.len(),
            self.started.elapsed().as_secs_f64(),
            self.rate(done + summary.rejected.len() as u64)
        );
    }
}
