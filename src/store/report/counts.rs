//! Counts of a metric over months: the cells of every day of the months
//! asked for, up to the day of `as_of`, less the raw events between
//! `as_of` and the end of that day.

use std::collections::BTreeSet;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::ReportFacts;
use crate::args;
use crate::calendar::{Day, Month};
use crate::metrics::facts::{Count, GroupBy, Metric};
use crate::rollup::cells::cell_of;
use crate::store::cache::{DayCells, Key};
use crate::store::parts::Part;

/// A count's keys as string ids (0: not asked for, or none).
type Keys = (i64, i64, i64, i64);

/// A month of the period with the cells of its days.
type MonthDays = (Month, Vec<Arc<DayCells>>);

impl ReportFacts<'_> {
    pub(super) fn read_counts(
        &self,
        metric: Metric,
        months: &[Month],
        keys: GroupBy,
    ) -> anyhow::Result<Vec<Count>> {
        let wanted: BTreeSet<Month> = months
            .iter()
            .copied()
            .filter(|m| *m <= self.month)
            .collect();
        let (Some(first), Some(last)) = (wanted.first(), wanted.last()) else {
            return Ok(Vec::new());
        };
        let end_of = |m: Month| {
            if m == self.month {
                self.today
            } else {
                Day(m.plus(1).first_day().0 - 1)
            }
        };
        self.load_versions(metric.code(), first.first_day().0, end_of(*last).0)?;
        let mut parts: Vec<MonthDays> = Vec::with_capacity(wanted.len());
        for month in &wanted {
            let mut days = Vec::new();
            for day in month.first_day().0..=end_of(*month).0 {
                let day = Day(day);
                days.push(self.part(Key::Part(Part::Cells(metric, day)), || {
                    self.read_day_cells(metric, day)
                })?);
            }
            parts.push((*month, days));
        }
        let after = if wanted.contains(&self.month) {
            self.cells_after_as_of(metric)?
        } else {
            Vec::new()
        };
        let dict = self
            .generation
            .cells(metric)
            .read()
            .unwrap_or_else(|p| p.into_inner());
        // Each cell's sum over a group of days, in one flat array by cell
        // number; `touched` lists the cells with a sum, to read and reset.
        let mut sums = vec![0i64; dict.len()];
        let mut touched: Vec<u32> = Vec::new();
        let mut grouped: Vec<(Option<Month>, FxHashMap<Keys, i64>)> = Vec::new();
        let groups: Vec<Vec<&MonthDays>> = if keys.month {
            parts.iter().map(|p| vec![p]).collect()
        } else {
            vec![parts.iter().collect()]
        };
        for group in groups {
            for (_, days) in &group {
                for day in days {
                    for &(cell, n) in &day.cells {
                        let sum = &mut sums[cell as usize];
                        if *sum == 0 {
                            touched.push(cell);
                        }
                        *sum += i64::from(n);
                    }
                }
            }
            if group.iter().any(|(m, _)| *m == self.month) {
                for cell in &after {
                    sums[*cell as usize] -= 1;
                }
            }
            let mut out: FxHashMap<Keys, i64> = FxHashMap::default();
            for cell in touched.drain(..) {
                let n = std::mem::take(&mut sums[cell as usize]);
                let [org, user, subject, facet] = dict.key(cell).map(i64::from);
                if n <= 0 || !self.includes(org) {
                    continue;
                }
                let key = (
                    org,
                    if keys.user { user } else { 0 },
                    if keys.subject { subject } else { 0 },
                    if keys.facet { facet } else { 0 },
                );
                *out.entry(key).or_insert(0) += n;
            }
            let month = keys.month.then(|| group[0].0);
            grouped.push((month, out));
        }
        drop(dict);
        let names = self.names(
            grouped
                .iter()
                .flat_map(|(_, out)| out.keys())
                .flat_map(|(o, u, s, f)| [*o, *u, *s, *f]),
        )?;
        let mut slugs = FxHashMap::default();
        let mut counts = Vec::new();
        for (month, out) in grouped {
            for ((org, user, subject, facet), n) in out {
                let org = match slugs.get(&org) {
                    Some(slug) => Clone::clone(slug),
                    None => {
                        let slug = Self::slug(Self::name(&names, org)?)?;
                        slugs.insert(org, slug.clone());
                        slug
                    }
                };
                counts.push(Count {
                    month,
                    org,
                    user: names.get(&user).cloned(),
                    subject: names.get(&subject).cloned(),
                    facet: names.get(&facet).cloned(),
                    n,
                });
            }
        }
        Ok(counts)
    }

    /// The cells of `metric` on `day`, numbered in the generation's
    /// numbering of the metric.
    fn read_day_cells(&self, metric: Metric, day: Day) -> anyhow::Result<DayCells> {
        let mut rows = Vec::new();
        self.db().each(
            "SELECT c.org, c.\"user\", c.subject, c.facet, c.n FROM cells c WHERE c.metric = ?1 AND c.day = ?2",
            args![metric.code(), day.0],
            &mut |r| {
                rows.push(([r.int(0)?, r.int(1)?, r.int(2)?, r.int(3)?], r.int(4)?));
                Ok(())
            },
        )?;
        let mut dict = self
            .generation
            .cells(metric)
            .write()
            .unwrap_or_else(|p| p.into_inner());
        DayCells::from_rows(&mut dict, rows)
    }

    /// The cell number of each raw event of `metric` between `as_of` and
    /// the end of its day (those events are in the day's cells, not in the
    /// report).
    fn cells_after_as_of(&self, metric: Metric) -> anyhow::Result<Vec<u32>> {
        let after = self.after_as_of()?;
        if after.is_empty() {
            return Ok(Vec::new());
        }
        let triggers = self.trigger_ids()?;
        let dict = self
            .generation
            .cells(metric)
            .read()
            .unwrap_or_else(|p| p.into_inner());
        let mut cells = Vec::new();
        for event in after {
            let Some(cell) = cell_of(&event.columns, triggers).filter(|c| c.metric == metric)
            else {
                continue;
            };
            let none = |id: Option<i64>| id.unwrap_or(0);
            let ids = [
                event.org,
                none(cell.user),
                none(cell.subject),
                none(cell.facet),
            ];
            // A stored event is in its day's cells, so it has a number.
            let n = dict.find(ids).ok_or_else(|| {
                anyhow::anyhow!("an event after as_of is in no cell of its day ({ids:?})")
            })?;
            cells.push(n);
        }
        Ok(cells)
    }

    /// The string ids of the trigger names `ui` and `api` (0 when never
    /// stored).
    fn trigger_ids(&self) -> anyhow::Result<[i64; 2]> {
        let mut ids = [0; 2];
        for (slot, name) in ids.iter_mut().zip(crate::rollup::cells::TRIGGER_NAMES) {
            *slot = crate::store::sql::first(
                self.db(),
                "SELECT id FROM strings WHERE value = ?1",
                args![name],
                |r| r.int(0),
            )?
            .unwrap_or(0);
        }
        Ok(ids)
    }
}
