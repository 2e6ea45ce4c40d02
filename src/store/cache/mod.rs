//! What readers keep between reports: parts of the rollups ([`Part`]),
//! each with the version it was read at, and the strings behind ids.
//!
//! A report reads the versions of the parts it needs in its own snapshot
//! and asks [`ReadCache::get_or_read`] for each: a part kept at that
//! version is used as it is; a part kept at an older one is rolled forward
//! with the changes this process's writer committed since
//! ([`ReadCache::committed`]), when the log holds every one of them; else
//! (a commit from another process, a change dropped from the bounded log)
//! the part is read again from the report's snapshot. A part is never used
//! at another version than the snapshot's, so what a report computes is
//! what its snapshot holds, exactly as if it had read every row.
//!
//! Everything kept belongs to a [`Generation`], tied to the epoch of the
//! rollups: a rebuild or an erasure raises the epoch, and the next report
//! starts a new generation, dropping all that was kept. Kept parts are
//! bounded by weight, the least recently used dropped first.

mod answers;
mod cells;
mod log;
mod names;
mod values;

use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

pub use answers::{AnswerKey, Answers, Fact, Versions};
pub use cells::{CellDict, DayCells};
pub use names::NameTable;
pub use values::{DayTitles, LoginDays, LoginSummaries, MemberLog, MonthLoginsByUser, TitledRuns};

use super::parts::{Change, Part, PartChange};
use crate::calendar::Month;
use crate::rollup::cells::Metric;

/// What a cache entry is: a part as stored, or a narrower view of one
/// (with the part's version).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    Part(Part),
    /// The number of days with a login of each user in one month (a
    /// view of `Part::MonthLogins` without the login times).
    LoginDays(Month),
}

impl Key {
    /// The part whose version the entry follows.
    pub fn part(self) -> Part {
        match self {
            Key::Part(part) => part,
            Key::LoginDays(month) => Part::MonthLogins(month),
        }
    }
}

/// A value the cache keeps: it can take a committed change of its part,
/// and says how much memory it holds.
pub trait CachedValue: Any + Send + Sync + Clone {
    /// Applies what one transaction changed in the part.
    fn apply(&mut self, part: Part, change: &Change, generation: &Generation)
    -> anyhow::Result<()>;
    /// About how many bytes it holds.
    fn weight(&self) -> usize;
}

/// What readers of one store keep between reports.
pub struct ReadCache {
    current: Mutex<Arc<Generation>>,
    log: log::ChangeLog,
    /// The weight kept parts may reach before the least recently used go.
    max_weight: usize,
    /// Raw events read by reports since the store was opened.
    raw_events_read: AtomicU64,
}

/// What is kept for one epoch of the rollups.
pub struct Generation {
    pub epoch: i64,
    values: Mutex<values::Values>,
    /// Each metric's cells by number (see [`CellDict`]).
    cells: [RwLock<CellDict>; 5],
    /// Interned strings already read: an id keeps its string while the
    /// epoch stands (an erasure, which deletes strings, raises it).
    pub names: RwLock<NameTable>,
    /// Whole answers of facts (see `answers`).
    pub answers: Mutex<Answers>,
}

impl Default for ReadCache {
    fn default() -> ReadCache {
        ReadCache::new(192 << 20)
    }
}

impl ReadCache {
    pub fn new(max_weight: usize) -> ReadCache {
        ReadCache {
            current: Mutex::new(Arc::new(Generation::new(i64::MIN))),
            log: log::ChangeLog::default(),
            max_weight,
            raw_events_read: AtomicU64::new(0),
        }
    }

    /// The generation of `epoch` (as a report's snapshot holds it): the
    /// current one, or a new one when the epoch moved.
    pub fn generation(&self, epoch: i64) -> Arc<Generation> {
        let mut current = lock(&self.current);
        if current.epoch != epoch {
            // A report of an older snapshot than the current generation
            // gets a throwaway one.
            if current.epoch > epoch {
                return Arc::new(Generation::new(epoch));
            }
            *current = Arc::new(Generation::new(epoch));
        }
        current.clone()
    }

    /// Records what a committed transaction of this process's writer
    /// changed, for readers to roll kept parts forward.
    /// Only the changes of parts kept now are recorded: a part read later
    /// is read at its version then, and one that a reader is reading
    /// meanwhile is read again by the report that misses the change. A
    /// process that only writes (`import`) thus keeps no changes.
    pub fn committed(&self, mut changes: Vec<PartChange>) {
        {
            let current = lock(&self.current);
            let values = lock(&current.values);
            changes.retain(|c| values.holds(c.part));
        }
        self.log.committed(changes);
    }

    /// The part (or view) `key` at `version`: kept, rolled forward from an
    /// older version kept, or `read` from the caller's snapshot (and kept,
    /// unless a newer version is).
    pub fn get_or_read<T: CachedValue>(
        &self,
        generation: &Generation,
        key: Key,
        version: i64,
        read: impl FnOnce() -> anyhow::Result<T>,
    ) -> anyhow::Result<Arc<T>> {
        if let Some(found) = self.find(generation, key, version)? {
            return Ok(found);
        }
        let value = Arc::new(read()?);
        let mut values = lock(&generation.values);
        values.keep(key, version, value.clone(), value.weight(), self.max_weight);
        Ok(value)
    }

    fn find<T: CachedValue>(
        &self,
        generation: &Generation,
        key: Key,
        version: i64,
    ) -> anyhow::Result<Option<Arc<T>>> {
        let mut values = lock(&generation.values);
        let Some((kept_version, value)) = values.take(key) else {
            return Ok(None);
        };
        let Ok(value) = value.downcast::<T>() else {
            anyhow::bail!("a kept part of another type than asked for: {key:?}");
        };
        if kept_version == version {
            values.put_back(key, kept_version, value.clone());
            return Ok(Some(value));
        }
        if kept_version > version {
            // CachedValue by a report with a later snapshot than this one.
            values.put_back(key, kept_version, value);
            return Ok(None);
        }
        let mut value = value;
        let rolled = self
            .log
            .with_changes(key.part(), kept_version, version, |changes| {
                let target = Arc::make_mut(&mut value);
                for change in changes {
                    target.apply(key.part(), change, generation)?;
                }
                Ok(())
            })?;
        if !rolled {
            // A change is missing from the log: read the part again.
            return Ok(None);
        }
        let weight = value.weight();
        values.keep(key, version, value.clone(), weight, self.max_weight);
        Ok(Some(value))
    }

    /// Counts raw events a report read.
    pub fn count_raw_events(&self, n: usize) {
        self.raw_events_read.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Raw events read by reports since the store was opened.
    pub fn raw_events_read(&self) -> u64 {
        self.raw_events_read.load(Ordering::Relaxed)
    }
}

impl Generation {
    fn new(epoch: i64) -> Generation {
        Generation {
            epoch,
            values: Mutex::new(values::Values::default()),
            cells: Default::default(),
            names: RwLock::new(NameTable::default()),
            answers: Mutex::new(Answers::default()),
        }
    }

    /// The cell numbering of `metric`.
    pub fn cells(&self, metric: Metric) -> &RwLock<CellDict> {
        &self.cells[(metric.code() - 1) as usize]
    }
}

/// Locks a mutex, taking over one a panicking thread left: what it guards
/// stays consistent (every change is one assignment or append).
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
