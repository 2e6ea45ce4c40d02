//! The changes this process's writers committed, oldest first, bounded in
//! rows: a reader missing one of them reads the part again.

use std::collections::VecDeque;
use std::sync::Mutex;

use super::super::parts::{Change, Part, PartChange};
use super::lock;

#[derive(Default)]
pub struct ChangeLog {
    inner: Mutex<Changes>,
}

#[derive(Default)]
struct Changes {
    list: VecDeque<PartChange>,
    rows: usize,
}

impl ChangeLog {
    /// Rows kept at most (a few tens of MiB).
    const MAX_ROWS: usize = 400_000;

    /// Records the changes of a transaction that has committed.
    pub fn committed(&self, changes: Vec<PartChange>) {
        let mut inner = lock(&self.inner);
        for change in changes {
            inner.rows += change.change.rows();
            inner.list.push_back(change);
        }
        while inner.rows > Self::MAX_ROWS {
            let Some(dropped) = inner.list.pop_front() else {
                break;
            };
            inner.rows -= dropped.change.rows();
        }
    }

    /// Calls `f` with the changes that took `part` from version `from` to
    /// `to`, in order; `false` (without calling it) when one of them is
    /// not in the log. Every transaction raises a part's version exactly
    /// once, so the versions between must all be there.
    pub fn with_changes(
        &self,
        part: Part,
        from: i64,
        to: i64,
        f: impl FnOnce(&[&Change]) -> anyhow::Result<()>,
    ) -> anyhow::Result<bool> {
        let inner = lock(&self.inner);
        // Writers of one process may record out of order.
        let mut found: Vec<&PartChange> = inner
            .list
            .iter()
            .filter(|c| c.part == part && c.version > from && c.version <= to)
            .collect();
        found.sort_unstable_by_key(|c| c.version);
        let complete = found.len() as i64 == to - from
            && found
                .iter()
                .zip(from + 1..)
                .all(|(change, version)| change.version == version);
        if !complete {
            return Ok(false);
        }
        let changes: Vec<&Change> = found.iter().map(|c| &c.change).collect();
        f(&changes)?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::Day;
    use crate::rollup::cells::Metric;

    fn change(version: i64, rows: usize) -> PartChange {
        PartChange {
            part: Part::Cells(Metric::PageView, Day(1)),
            version,
            change: Change::Cells(vec![([1, 2, 3, 0], 1); rows]),
        }
    }

    #[test]
    fn changes_are_given_only_when_every_version_between_is_logged() {
        let log = ChangeLog::default();
        log.committed(vec![change(5, 1), change(4, 1)]);
        let part = Part::Cells(Metric::PageView, Day(1));
        let mut seen = 0;
        assert!(
            log.with_changes(part, 3, 5, |c| {
                seen = c.len();
                Ok(())
            })
            .unwrap()
        );
        assert_eq!(seen, 2);
        log.committed(vec![change(7, 1)]);
        assert!(
            !log.with_changes(part, 5, 7, |_| Ok(())).unwrap(),
            "6 is missing"
        );
        let other = Part::Cells(Metric::McpCall, Day(1));
        assert!(!log.with_changes(other, 3, 4, |_| Ok(())).unwrap());
    }

    #[test]
    fn the_oldest_changes_go_past_the_bound() {
        let log = ChangeLog::default();
        log.committed(vec![
            change(2, ChangeLog::MAX_ROWS / 2 + 1),
            change(3, ChangeLog::MAX_ROWS / 2 + 1),
        ]);
        let part = Part::Cells(Metric::PageView, Day(1));
        assert!(!log.with_changes(part, 1, 3, |_| Ok(())).unwrap());
        assert!(log.with_changes(part, 2, 3, |_| Ok(())).unwrap());
    }
}
