//! The parts of the rollups that readers keep in memory between reports
//! ([`Part`]), their rows, and what a committed write changed in a part
//! ([`PartChange`]).
//!
//! Every write transaction raises the version (`part_versions`) of each
//! part it changes, once. A reader keeps a part with the version it was
//! read at and uses it while the report's own snapshot shows that version;
//! the writer of the same process hands over what it changed, so a reader
//! rolls a part forward instead of reading it again (`cache`).

use std::sync::Arc;

use crate::calendar::{Day, Month};
use crate::event::OrgSlug;
use crate::rollup::cells::Metric;
use crate::rollup::logins::LoginSummary;
use crate::rollup::month_logins::MonthLogins;

/// A part of the rollups, with the period it covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Part {
    /// The cells of one metric on one local day.
    Cells(Metric, Day),
    /// Every user's login summary in every org.
    LoginSummaries,
    /// Every user's logins of one month.
    MonthLogins(Month),
    /// Every member event.
    MemberLog,
    /// The latest titled run of each action on each day of one month.
    DayTitles(Month),
    /// Every titled action run of one day.
    TitledRuns(Day),
    /// The raw events of one day: not kept, but answers computed from
    /// what lay after an instant of that day hold only while it stands.
    Events(Day),
}

/// The `part_versions` row of the epoch, raised when every kept part is
/// stale at once (the rollups rebuilt, a person erased).
pub const EPOCH: (i64, i64) = (0, 0);

/// The `part_versions` row raised by every write transaction: while it
/// stands, no part has changed.
pub const WRITES: (i64, i64) = (-1, 0);

const LOGIN_SUMMARIES: i64 = 10;
const MONTH_LOGINS: i64 = 11;
const MEMBER_LOG: i64 = 12;
const DAY_TITLES: i64 = 13;
const TITLED_RUNS: i64 = 14;
const EVENTS: i64 = 15;

impl Part {
    /// The `(part, period)` of its `part_versions` row: a metric's cells
    /// are parts 1 to 5 by day.
    pub fn code(self) -> (i64, i64) {
        match self {
            Part::Cells(metric, day) => (metric.code(), day.0),
            Part::LoginSummaries => (LOGIN_SUMMARIES, 0),
            Part::MonthLogins(month) => (MONTH_LOGINS, month.0),
            Part::MemberLog => (MEMBER_LOG, 0),
            Part::DayTitles(month) => (DAY_TITLES, month.0),
            Part::TitledRuns(day) => (TITLED_RUNS, day.0),
            Part::Events(day) => (EVENTS, day.0),
        }
    }

    pub fn from_code(part: i64, period: i64) -> Option<Part> {
        Some(match part {
            LOGIN_SUMMARIES => Part::LoginSummaries,
            MONTH_LOGINS => Part::MonthLogins(Month(period)),
            MEMBER_LOG => Part::MemberLog,
            DAY_TITLES => Part::DayTitles(Month(period)),
            TITLED_RUNS => Part::TitledRuns(Day(period)),
            EVENTS => Part::Events(Day(period)),
            code => Part::Cells(Metric::from_code(code)?, Day(period)),
        })
    }
}

/// A cell's keys as string ids, 0 for none: org, user, subject, facet.
pub type CellIds = [i64; 4];

/// An `(org, user)` as string ids.
pub type OrgUser = (i64, i64);

/// A member event as the member log keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberEvent {
    pub org: i64,
    /// The org's slug: profiles break ties of time and id by it.
    pub org_slug: OrgSlug,
    pub user: i64,
    pub time: i64,
    pub id: Arc<str>,
    /// The role's code; 0 for a removal.
    pub role: i64,
    /// The teams; `None` for a removal.
    pub teams: Option<Arc<[String]>>,
    pub name: Option<i64>,
    pub email: Option<i64>,
}

impl MemberEvent {
    /// The order of member events: time, then id byte by byte, then org.
    pub fn order(&self) -> (i64, &[u8], &str) {
        (self.time, self.id.as_bytes(), self.org_slug.as_str())
    }
}

/// The latest titled run of an action in an org on one day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DayTitle {
    pub day: i64,
    pub org: i64,
    pub action: i64,
    pub time: i64,
    pub id: Arc<str>,
    pub title: i64,
}

/// A titled action run (its day is its part's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TitledRun {
    pub org: i64,
    pub action: i64,
    pub time: i64,
    pub id: Arc<str>,
    pub title: i64,
}

/// What one transaction changed in one part.
#[derive(Clone, Debug)]
pub enum Change {
    /// Added to these cells.
    Cells(Vec<(CellIds, i64)>),
    /// These summaries replace the stored ones.
    LoginSummaries(Vec<(OrgUser, Arc<LoginSummary>)>),
    /// These months of logins replace the stored ones.
    MonthLogins(Vec<(OrgUser, Arc<MonthLogins>)>),
    /// New member events.
    MemberLog(Vec<MemberEvent>),
    /// Titled runs that may be the latest of their day.
    DayTitles(Vec<DayTitle>),
    /// New titled runs.
    TitledRuns(Vec<TitledRun>),
}

impl Change {
    /// About how many rows it holds, for the bound of the change log.
    pub fn rows(&self) -> usize {
        match self {
            Change::Cells(v) => v.len(),
            Change::LoginSummaries(v) => v.len(),
            Change::MonthLogins(v) => v.len(),
            Change::MemberLog(v) => v.len(),
            Change::DayTitles(v) => v.len(),
            Change::TitledRuns(v) => v.len(),
        }
    }
}

/// What one committed transaction changed in a part, and the version it
/// raised the part to.
#[derive(Clone, Debug)]
pub struct PartChange {
    pub part: Part,
    pub version: i64,
    pub change: Change,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_codes_round_trip() {
        let parts = [
            Part::Cells(Metric::PageView, Day(20_000)),
            Part::Cells(Metric::ActionRun, Day(-3)),
            Part::LoginSummaries,
            Part::MonthLogins(Month(24_300)),
            Part::MemberLog,
            Part::DayTitles(Month(24_301)),
            Part::TitledRuns(Day(20_001)),
            Part::Events(Day(20_002)),
        ];
        for part in parts {
            let (code, period) = part.code();
            assert_eq!(Part::from_code(code, period), Some(part));
            assert_ne!((code, period), EPOCH);
        }
    }
}
