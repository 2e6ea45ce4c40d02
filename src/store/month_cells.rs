//! The per-user cells of recent months in memory, rolled forward with what
//! this process's writer commits.
//!
//! Under live ingest every commit raises the version of the month of now,
//! so what a report kept of that month is stale at the next report. The
//! writer knows exactly what its transaction added to each cell: after the
//! commit it publishes those additions with the version the transaction
//! raised the month to ([`ChangeLog`]). A reader holding the month's cells
//! at version `v` whose snapshot shows version `w` applies the changes of
//! versions `v + 1 ..= w`, when it has every one of them; otherwise (a
//! commit from another process, a rebuild, a change dropped from the
//! bounded log) it reads the month again. Every transaction raises a
//! month's version exactly once (see `Pending::flush`), and a change is
//! published only after its commit, so the cells a reader builds are the
//! stored ones at `w`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use rustc_hash::FxHashMap;

/// A per-user cell's keys as string ids: org, user, a, b.
pub type CellOf = (i64, i64, i64, i64);

/// The per-user cells of one metric and month: keys to counts.
pub type MonthCells = FxHashMap<CellOf, i64>;

/// What one committed transaction added to the per-user cells of one
/// metric and month, and the version it raised that month to.
#[derive(Debug, Clone)]
pub struct CellChange {
    pub metric: i64,
    pub month: i64,
    pub version: i64,
    pub added: Vec<(CellOf, i64)>,
}

/// The changes this process's writer committed, oldest first, bounded in
/// cells: readers that find one missing read the month again.
#[derive(Default)]
pub struct ChangeLog {
    inner: Mutex<Changes>,
}

#[derive(Default)]
struct Changes {
    list: VecDeque<CellChange>,
    cells: usize,
}

impl ChangeLog {
    /// About 40 bytes a cell: at most about 10 MiB.
    const MAX_CELLS: usize = 250_000;

    /// Records the changes of a transaction that has committed.
    pub fn committed(&self, changes: Vec<CellChange>) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        for change in changes {
            inner.cells += change.added.len();
            inner.list.push_back(change);
        }
        while inner.cells > Self::MAX_CELLS {
            let Some(dropped) = inner.list.pop_front() else {
                break;
            };
            inner.cells -= dropped.added.len();
        }
    }

    /// Adds to `cells` (the cells of `(metric, month)` at version `from`)
    /// the changes that raised it to `to`; `false`, with `cells` left as
    /// they were, when one of them is not in the log.
    fn roll_forward(
        &self,
        metric: i64,
        month: i64,
        from: i64,
        to: i64,
        cells: &mut MonthCells,
    ) -> bool {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        // Writers of one process may publish out of order.
        let mut changes: Vec<&CellChange> = inner
            .list
            .iter()
            .filter(|c| c.metric == metric && c.month == month && c.version > from)
            .filter(|c| c.version <= to)
            .collect();
        changes.sort_unstable_by_key(|c| c.version);
        let complete = changes.len() as i64 == to - from
            && changes
                .iter()
                .zip(from + 1..)
                .all(|(change, version)| change.version == version);
        if !complete {
            return false;
        }
        for change in changes {
            for (key, n) in &change.added {
                *cells.entry(*key).or_insert(0) += n;
            }
        }
        true
    }
}

/// The per-user cells readers hold, by `(metric, month)`, each at the
/// version it was read or rolled forward to.
#[derive(Default)]
pub struct KeptMonths {
    months: Mutex<FxHashMap<(i64, i64), VersionedCells>>,
}

/// A month's cells and the version they are at.
type VersionedCells = (i64, Arc<MonthCells>);

impl KeptMonths {
    /// Months kept at most (five metrics, a few months each).
    const MAX_MONTHS: usize = 16;

    /// The cells of `(metric, month)` at `version`, from what is kept,
    /// rolled forward through `log` when it is older.
    pub fn get(
        &self,
        metric: i64,
        month: i64,
        version: i64,
        log: &ChangeLog,
    ) -> Option<Arc<MonthCells>> {
        let (kept_version, cells) = {
            let months = self.months.lock().unwrap_or_else(|p| p.into_inner());
            months.get(&(metric, month)).cloned()?
        };
        if kept_version == version {
            return Some(cells);
        }
        if kept_version > version {
            // Kept by a report with a later snapshot than this one.
            return None;
        }
        let mut rolled = (*cells).clone();
        if !log.roll_forward(metric, month, kept_version, version, &mut rolled) {
            return None;
        }
        let rolled = Arc::new(rolled);
        self.keep(metric, month, version, rolled.clone());
        Some(rolled)
    }

    /// Keeps `cells` as `(metric, month)` at `version`, unless a later
    /// version is kept already.
    pub fn keep(&self, metric: i64, month: i64, version: i64, cells: Arc<MonthCells>) {
        let mut months = self.months.lock().unwrap_or_else(|p| p.into_inner());
        if months
            .get(&(metric, month))
            .is_some_and(|(kept, _)| *kept > version)
        {
            return;
        }
        if months.len() >= Self::MAX_MONTHS && !months.contains_key(&(metric, month)) {
            // Old months fall out of use as time moves on: start over.
            months.clear();
        }
        months.insert((metric, month), (version, cells));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(version: i64, user: i64, n: i64) -> CellChange {
        CellChange {
            metric: 5,
            month: 24_322,
            version,
            added: vec![((1, user, 7, 0), n)],
        }
    }

    #[test]
    fn cells_roll_forward_only_through_every_version_between() {
        let log = ChangeLog::default();
        let kept = KeptMonths::default();
        let cells: MonthCells = [((1, 10, 7, 0), 2)].into_iter().collect();
        kept.keep(5, 24_322, 3, Arc::new(cells));
        log.committed(vec![change(5, 11, 3), change(4, 10, 1)]);
        let rolled = kept.get(5, 24_322, 5, &log).expect("4 and 5 are logged");
        assert_eq!(rolled[&(1, 10, 7, 0)], 3);
        assert_eq!(rolled[&(1, 11, 7, 0)], 3);
        // Version 6 came from elsewhere: read again.
        log.committed(vec![change(7, 10, 1)]);
        assert!(kept.get(5, 24_322, 7, &log).is_none());
        // An older snapshot than what is kept is not served.
        assert!(kept.get(5, 24_322, 4, &log).is_none());
        assert_eq!(kept.get(5, 24_322, 5, &log).unwrap()[&(1, 10, 7, 0)], 3);
    }

    #[test]
    fn the_log_drops_its_oldest_changes_past_its_bound() {
        let log = ChangeLog::default();
        let big = |version| CellChange {
            metric: 5,
            month: 1,
            version,
            added: vec![((1, 1, 1, 0), 1); ChangeLog::MAX_CELLS / 2 + 1],
        };
        log.committed(vec![big(2), big(3)]);
        let mut cells = MonthCells::default();
        assert!(
            !log.roll_forward(5, 1, 1, 3, &mut cells),
            "version 2 dropped"
        );
        assert!(cells.is_empty());
        assert!(log.roll_forward(5, 1, 2, 3, &mut cells));
    }
}
