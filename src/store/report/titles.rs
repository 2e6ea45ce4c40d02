//! The latest action titles of a period: the latest titled run of each
//! whole day, and the titled runs of a day the period ends inside.

use std::collections::HashMap;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::ReportFacts;
use crate::args;
use crate::calendar::{Day, Month};
use crate::store::cache::{DayTitles, Key, TitledRuns};
use crate::store::parts::{DayTitle, Part, TitledRun};
use crate::time::Micros;

/// A titled run: org, action, time, event id, title (string ids).
type Run = (i64, i64, i64, Arc<str>, i64);

impl ReportFacts<'_> {
    fn day_titles(&self, month: Month) -> anyhow::Result<Arc<DayTitles>> {
        self.part(Key::Part(Part::DayTitles(month)), || {
            let mut titles = DayTitles::default();
            let next = month.plus(1).first_day().0;
            self.db().each(
                "SELECT t.day, t.org, t.action, t.time, t.id, t.title FROM action_titles t
                  WHERE t.day >= ?1 AND t.day < ?2",
                args![month.first_day().0, next],
                &mut |r| {
                    titles.offer(DayTitle {
                        day: r.int(0)?,
                        org: r.int(1)?,
                        action: r.int(2)?,
                        time: r.int(3)?,
                        id: r.text(4)?.into(),
                        title: r.int(5)?,
                    });
                    Ok(())
                },
            )?;
            Ok(titles)
        })
    }

    fn titled_runs(&self, day: Day) -> anyhow::Result<Arc<TitledRuns>> {
        self.part(Key::Part(Part::TitledRuns(day)), || {
            let mut runs = TitledRuns::default();
            self.db().each(
                "SELECT r.org, r.action, r.time, r.id, r.title FROM titled_runs r WHERE r.day = ?1",
                args![day.0],
                &mut |r| {
                    runs.0.push(TitledRun {
                        org: r.int(0)?,
                        action: r.int(1)?,
                        time: r.int(2)?,
                        id: r.text(3)?.into(),
                        title: r.int(4)?,
                    });
                    Ok(())
                },
            )?;
            Ok(runs)
        })
    }

    pub(super) fn read_action_titles(
        &self,
        from: Micros,
        to: Micros,
    ) -> anyhow::Result<HashMap<String, String>> {
        let cal = &self.settings.calendar;
        let to = to.min(self.as_of);
        if to < from {
            return Ok(HashMap::new());
        }
        let (first, last) = (cal.day_of(from), cal.day_of(to));
        // A day the period starts or ends inside is read run by run.
        let cut_first = from != self.day_start(first);
        let cut_last = to.0 != self.day_start(Day(last.0 + 1)).0 - 1;
        let cut = |day: Day| (day == first && cut_first) || (day == last && cut_last);
        let mut runs: Vec<Run> = Vec::new();
        for month in first.month().0..=last.month().0 {
            for t in self.day_titles(Month(month))?.0.values() {
                let day = Day(t.day);
                if day >= first && day <= last && !cut(day) && self.includes(t.org) {
                    runs.push((t.org, t.action, t.time, t.id.clone(), t.title));
                }
            }
        }
        let mut cut_days = vec![first];
        if last != first {
            cut_days.push(last);
        }
        for day in cut_days.into_iter().filter(|d| cut(*d)) {
            for r in &self.titled_runs(day)?.0 {
                if r.time >= from.0 && r.time <= to.0 && self.includes(r.org) {
                    runs.push((r.org, r.action, r.time, r.id.clone(), r.title));
                }
            }
        }
        let names = self.names(runs.iter().flat_map(|r| [r.0, r.1, r.4]))?;
        let org_name = |id: i64| names.get(id).map(|s| s.as_bytes()).unwrap_or_default();
        // The latest by time, then id, then org, for each action.
        let mut latest: FxHashMap<i64, &Run> = FxHashMap::default();
        for run in &runs {
            let newer = latest.get(&run.1).is_none_or(|best| {
                (run.2, run.3.as_bytes(), org_name(run.0))
                    > (best.2, best.3.as_bytes(), org_name(best.0))
            });
            if newer {
                latest.insert(run.1, run);
            }
        }
        latest
            .values()
            .map(|r| {
                Ok((
                    Self::name(&names, r.1)?.to_string(),
                    Self::name(&names, r.4)?.to_string(),
                ))
            })
            .collect()
    }
}
