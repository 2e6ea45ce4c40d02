//! What the readers of one store keep between reports ([`ReadCache`]),
//! each value with the versions (`month_versions`) of what it was read
//! from, so that a report reuses it only while it is still exact (see
//! `docs/ARCHITECTURE.md`, "Rollups, and why they stay exact").

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rustc_hash::FxHashMap;

use super::facts::StoredMember;
use super::month_cells::{ChangeLog, KeptMonths};
use crate::metrics::facts::{Count, LoginDays, LoginRecords, Members, Profiles};

/// What readers of one store keep between reports.
#[derive(Default)]
pub struct ReadCache {
    /// Interned strings already read: an id never changes its string, so
    /// readers resolve the ids of their rows here before asking the database.
    pub(super) names: Mutex<HashMap<i64, Arc<str>>>,
    /// How many cells each shape of count query summed last time: the next
    /// one sizes its hash map from it instead of growing it step by step
    /// (which cost a third of the time of the largest per-user sums).
    pub(super) cell_counts: Mutex<HashMap<String, usize>>,
    /// Sums of per-user cells and login days over complete months.
    pub(super) complete: Kept<CellSums>,
    /// The rows of `members_now` (they change with member events only).
    pub(super) members: Kept<Vec<StoredMember>>,
    /// Logins per user over whole days before a report's day of `as_of`.
    pub(super) day_logins: Kept<DayLogins>,
    /// Latest titled runs per action over days of complete months.
    pub(super) titles: Kept<TitleRows>,
    /// The per-user cells of recent months, rolled forward with what this
    /// process's writer commits (see `month_cells`).
    pub(super) months: KeptMonths,
    /// What this process's writer committed, shared with it.
    pub(super) changes: Arc<ChangeLog>,
    /// Whole answers read when nothing stored was after the report's
    /// `as_of` (so none had to be taken out): such an answer depends only
    /// on the stored rows, and serves any later report of the same shape
    /// while their versions stand and it too has nothing after its `as_of`.
    pub(super) answers: Answers,
}

/// The kept answers of [`ReadCache`], one store per kind.
#[derive(Default)]
pub(super) struct Answers {
    pub(super) counts: Kept<Vec<Count>>,
    pub(super) logins: Kept<LoginRecords>,
    pub(super) login_days: Kept<LoginDays>,
    pub(super) members: Kept<Members>,
    pub(super) profiles: Kept<Profiles>,
}

/// A cell's keys as string ids: month, org, user, a, b (0 when not asked
/// for). A tuple, not an array: arrays compare with a `memcmp` call, which
/// took a sixth of the time of summing per-user cells.
pub(super) type CellKey = (i64, i64, i64, i64, i64);

/// Cell sums by key (see `SqlFacts::read_cells`).
pub(super) type CellSums = FxHashMap<CellKey, i64>;

/// What a report read that an earlier one may reuse: by query shape, each
/// with the versions (see `0007_month_versions.sql`) of what it was read
/// from. A write raises those versions, so a kept value is used only while
/// it is still exact. Bounded by entries and by cells; the least recently
/// used go first.
pub(super) struct Kept<T> {
    /// Most recently used last.
    entries: Mutex<Vec<KeptValue<T>>>,
}

/// A query shape, the `(metric, month)` versions its value was read at,
/// and the value.
type KeptValue<T> = (String, Vec<(i64, i64)>, Arc<T>);

/// The size of a kept value, in cells of sums (about 56 bytes each): a
/// row of an answer, with its strings, weighs about two.
pub(super) trait Cells {
    fn cells(&self) -> usize;
}

impl Cells for CellSums {
    fn cells(&self) -> usize {
        self.len()
    }
}

/// A stored latest titled run: org, action, time, event id, title (ids).
pub(super) type TitleRow = (i64, i64, i64, String, i64);

/// The latest titled run of each action over some days.
pub(super) struct TitleRows(pub(super) Vec<TitleRow>);

impl Cells for TitleRows {
    fn cells(&self) -> usize {
        self.0.len()
    }
}

/// Per user: logins and the latest of them, over some days.
pub(super) type DayLogins = FxHashMap<i64, (i64, i64)>;

impl Cells for DayLogins {
    fn cells(&self) -> usize {
        self.len()
    }
}

impl Cells for Vec<Count> {
    fn cells(&self) -> usize {
        2 * self.len()
    }
}

impl Cells for LoginRecords {
    fn cells(&self) -> usize {
        2 * self.len()
    }
}

impl Cells for LoginDays {
    fn cells(&self) -> usize {
        self.values().map(|months| 2 + months.len() / 2).sum()
    }
}

impl Cells for Members {
    fn cells(&self) -> usize {
        2 * self.by_org_user.len()
    }
}

impl Cells for Profiles {
    fn cells(&self) -> usize {
        2 * self.len()
    }
}

impl ReadCache {
    /// Where this process's writer publishes what it commits.
    pub fn change_log(&self) -> Arc<ChangeLog> {
        self.changes.clone()
    }
}

impl<T> Default for Kept<T> {
    fn default() -> Kept<T> {
        Kept {
            entries: Mutex::new(Vec::new()),
        }
    }
}

impl<T: Cells> Kept<T> {
    const MAX_ENTRIES: usize = 64;
    /// About 56 bytes a cell of sums: at most about 60 MiB of them.
    const MAX_CELLS: usize = 1_000_000;

    pub(super) fn find(&self, shape: &str, versions: &[(i64, i64)]) -> Option<Arc<T>> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let at = entries
            .iter()
            .position(|(s, v, _)| s == shape && v == versions)?;
        let entry = entries.remove(at);
        let value = entry.2.clone();
        entries.push(entry);
        Some(value)
    }

    pub(super) fn keep(&self, shape: String, versions: Vec<(i64, i64)>, value: Arc<T>) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|(s, _, _)| *s != shape);
        if value.cells() > Self::MAX_CELLS {
            // Larger than the whole bound: read again next time.
            return;
        }
        entries.push((shape, versions, value));
        while entries.len() > Self::MAX_ENTRIES
            || entries.iter().map(|(_, _, v)| v.cells()).sum::<usize>() > Self::MAX_CELLS
        {
            entries.remove(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sums(cells: usize) -> Arc<CellSums> {
        Arc::new((0..cells as i64).map(|i| ((0, 1, i, 0, 0), 1)).collect())
    }

    #[test]
    fn kept_sums_match_on_shape_and_versions_only() {
        let kept = Kept::<CellSums>::default();
        kept.keep("a".into(), vec![(1, 1), (2, 3)], sums(2));
        assert!(kept.find("a", &[(1, 1), (2, 3)]).is_some());
        assert!(
            kept.find("a", &[(1, 1), (2, 4)]).is_none(),
            "a month changed"
        );
        assert!(
            kept.find("a", &[(1, 1)]).is_none(),
            "a month gained its first row"
        );
        assert!(kept.find("b", &[(1, 1), (2, 3)]).is_none());
        // Kept again at new versions: the old sums are gone.
        kept.keep("a".into(), vec![(1, 1), (2, 4)], sums(3));
        assert_eq!(kept.find("a", &[(1, 1), (2, 4)]).unwrap().len(), 3);
        assert!(kept.find("a", &[(1, 1), (2, 3)]).is_none());
    }

    #[test]
    fn kept_sums_drop_the_least_recently_used_first() {
        let kept = Kept::<CellSums>::default();
        for i in 0..=Kept::<CellSums>::MAX_ENTRIES {
            kept.keep(i.to_string(), vec![], sums(1));
            if i == 1 {
                // Used again: now the most recent of the first two.
                assert!(kept.find("0", &[]).is_some());
            }
        }
        assert!(kept.find("0", &[]).is_some());
        assert!(kept.find("1", &[]).is_none());
        // Past the cell bound, older sums go even below the entry bound.
        kept.keep("big".into(), vec![], sums(Kept::<CellSums>::MAX_CELLS));
        assert!(kept.find("big", &[]).is_some());
        assert!(kept.find("0", &[]).is_none());
        // Sums larger than the bound are not kept at all.
        kept.keep("huge".into(), vec![], sums(Kept::<CellSums>::MAX_CELLS + 1));
        assert!(kept.find("huge", &[]).is_none());
        assert!(kept.find("big", &[]).is_some());
    }
}
