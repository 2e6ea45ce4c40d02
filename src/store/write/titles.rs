//! The `action_titles` and `titled_runs` tables: the latest titled run of
//! each action per org and local day, and every titled run (read only for
//! the day of a report's `as_of`, which may end inside the day).

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::super::parts::{Change, DayTitle, Part, TitledRun};
use super::super::sql::{Arg, ColType, Db, exec_rows};
use crate::args;
use crate::calendar::Day;
use crate::time::Micros;

/// The titled runs of one transaction.
#[derive(Default)]
pub struct TitleTally {
    /// (day, org, action) -> the latest titled run of this transaction.
    latest: FxHashMap<(i64, i64, i64), DayTitle>,
    /// Every titled run, with its day and user (0: none).
    runs: Vec<(Day, i64, TitledRun)>,
}

impl TitleTally {
    #[allow(clippy::too_many_arguments)]
    pub fn add(
        &mut self,
        day: Day,
        org: i64,
        action: i64,
        user: i64,
        time: Micros,
        id: &str,
        title: i64,
    ) {
        let id: Arc<str> = id.into();
        let candidate = DayTitle {
            day: day.0,
            org,
            action,
            time: time.0,
            id: id.clone(),
            title,
        };
        let slot = self
            .latest
            .entry((day.0, org, action))
            .or_insert_with(|| candidate.clone());
        if (candidate.time, candidate.id.as_bytes()) > (slot.time, slot.id.as_bytes()) {
            *slot = candidate;
        }
        self.runs.push((
            day,
            user,
            TitledRun {
                org,
                action,
                time: time.0,
                id,
                title,
            },
        ));
    }

    pub fn write(self, db: &dyn Db) -> anyhow::Result<Vec<(Part, Change)>> {
        use ColType::{Int, Text};
        if self.runs.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<Vec<Arg<'_>>> = self
            .latest
            .values()
            .map(|t| args![t.day, t.org, t.action, t.time, &*t.id, t.title].to_vec())
            .collect();
        exec_rows(
            db,
            "INSERT INTO action_titles (day, org, action, time, id, title) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (day, org, action) DO UPDATE SET time = excluded.time, id = excluded.id, title = excluded.title
             WHERE (excluded.time, excluded.id) > (action_titles.time, action_titles.id)",
            &[Int, Int, Int, Int, Text, Int],
            &rows,
        )?;
        let rows: Vec<Vec<Arg<'_>>> = self
            .runs
            .iter()
            .map(|(day, user, r)| {
                args![day.0, r.org, r.action, r.time, &*r.id, *user, r.title].to_vec()
            })
            .collect();
        exec_rows(
            db,
            "INSERT INTO titled_runs (day, org, action, time, id, \"user\", title) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            &[Int, Int, Int, Int, Text, Int, Int],
            &rows,
        )?;
        let mut months: FxHashMap<Part, Vec<DayTitle>> = FxHashMap::default();
        for title in self.latest.into_values() {
            months
                .entry(Part::DayTitles(Day(title.day).month()))
                .or_default()
                .push(title);
        }
        let mut days: FxHashMap<Part, Vec<TitledRun>> = FxHashMap::default();
        for (day, _, run) in self.runs {
            days.entry(Part::TitledRuns(day)).or_default().push(run);
        }
        Ok(months
            .into_iter()
            .map(|(part, titles)| (part, Change::DayTitles(titles)))
            .chain(
                days.into_iter()
                    .map(|(part, runs)| (part, Change::TitledRuns(runs))),
            )
            .collect())
    }
}
