//! Counts of a metric over months: the cells of every day of the months
//! asked for, up to the day of `as_of`, less the raw events between
//! `as_of` and the end of that day.

use std::collections::BTreeSet;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::ReportFacts;
use crate::args;
use crate::calendar::{Day, Month};
use crate::event::OrgSlug;
use crate::metrics::facts::{Count, Counts, GroupBy, Metric, Name};
use crate::rollup::cells::cell_of;
use crate::store::cache::{DayCells, Key};
use crate::store::parts::Part;

/// A count's keys as string ids (0: not asked for, or none).
type Keys = (i64, i64, i64, i64);

/// The counts of one month (or of the whole period), by keys.
type Grouped = (Option<Month>, Vec<(Keys, i64)>);

/// A month of the period with the cells of its days.
type MonthDays = (Month, Vec<Arc<DayCells>>);

/// The sums of [`ReportFacts::read_counts`], kept per thread: a fresh
/// array per report cost more in page faults than the adding up itself.
/// All zeros between uses; `dirty` while in use, so that an array left
/// half used by a panic is cleared before its next use.
#[derive(Default)]
struct Sums {
    sums: Vec<i64>,
    dirty: bool,
}

thread_local! {
    static SUMS: std::cell::RefCell<Sums> = std::cell::RefCell::new(Sums::default());
}

/// A set of string ids, as a bitmap (ids are numbered from one up).
#[derive(Default)]
struct IdSet(Vec<u64>);

impl IdSet {
    /// Adds `id`; whether it was new.
    fn insert(&mut self, id: i64) -> bool {
        let i = id as u64 as usize;
        let (word, bit) = (i / 64, 1u64 << (i % 64));
        if word >= self.0.len() {
            self.0.resize(word + 1, 0);
        }
        let new = self.0[word] & bit == 0;
        self.0[word] |= bit;
        new
    }
}

/// Whether a metric's cells have a user, a subject and a facet.
fn dimensions(metric: Metric) -> (bool, bool, bool) {
    match metric {
        Metric::ActionRun | Metric::AiInvocation => (true, true, true),
        Metric::AutomationRun => (false, false, false),
        Metric::McpCall => (true, false, false),
        Metric::PageView => (true, true, false),
    }
}

impl ReportFacts<'_> {
    pub(super) fn read_counts(
        &self,
        metric: Metric,
        months: &[Month],
        keys: GroupBy,
    ) -> anyhow::Result<Counts> {
        let wanted: BTreeSet<Month> = months
            .iter()
            .copied()
            .filter(|m| *m <= self.month)
            .collect();
        let (Some(first), Some(last)) = (wanted.first(), wanted.last()) else {
            return Ok(Counts::default());
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
        // A key the metric never has (the trigger of a page view) is 0 in
        // every cell; when no key it has is dropped, each cell is its own
        // count and no grouping is needed.
        let (has_user, has_subject, has_facet) = dimensions(metric);
        let whole = (keys.user || !has_user)
            && (keys.subject || !has_subject)
            && (keys.facet || !has_facet);
        let groups: Vec<Vec<&MonthDays>> = if keys.month {
            parts.iter().map(|p| vec![p]).collect()
        } else {
            vec![parts.iter().collect()]
        };
        let mut grouped: Vec<Grouped> = Vec::with_capacity(groups.len());
        SUMS.with_borrow_mut(|kept| -> anyhow::Result<()> {
            // Each cell's sum over a group of days, in one flat array by
            // cell number; `touched` lists the cells with a sum, to read
            // and reset.
            if kept.dirty {
                kept.sums.fill(0);
            }
            kept.dirty = true;
            if kept.sums.len() < dict.len() {
                kept.sums.resize(dict.len(), 0);
            }
            let sums = &mut kept.sums;
            let mut touched: Vec<u32> = Vec::new();
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
                let mask = |[org, user, subject, facet]: [u32; 4]| -> Keys {
                    (
                        i64::from(org),
                        if keys.user { i64::from(user) } else { 0 },
                        if keys.subject { i64::from(subject) } else { 0 },
                        if keys.facet { i64::from(facet) } else { 0 },
                    )
                };
                let mut out: Vec<(Keys, i64)> =
                    Vec::with_capacity(if whole { touched.len() } else { 0 });
                let mut by_key: FxHashMap<Keys, i64> = FxHashMap::default();
                for cell in touched.drain(..) {
                    let n = std::mem::take(&mut sums[cell as usize]);
                    let key = dict.key(cell);
                    if n <= 0 || !self.includes(i64::from(key[0])) {
                        continue;
                    }
                    if whole {
                        out.push((mask(key), n));
                    } else {
                        *by_key.entry(mask(key)).or_insert(0) += n;
                    }
                }
                out.extend(by_key);
                grouped.push((keys.month.then(|| group[0].0), out));
            }
            kept.dirty = false;
            Ok(())
        })?;
        drop(dict);
        // The distinct ids of the counts, in a bitmap: a set of a few
        // thousand names met hundreds of thousands of times.
        let mut seen = IdSet::default();
        let mut ids: Vec<i64> = Vec::new();
        for (_, out) in &grouped {
            for ((org, user, subject, facet), _) in out {
                for id in [*org, *user, *subject, *facet] {
                    if id != 0 && seen.insert(id) {
                        ids.push(id);
                    }
                }
            }
        }
        let names = self.names(ids.iter().copied())?;
        let mut orgs: FxHashMap<Name, OrgSlug> = FxHashMap::default();
        let mut rows = Vec::with_capacity(grouped.iter().map(|(_, out)| out.len()).sum());
        let named = |id: i64| (id != 0).then(|| Self::named(id)).transpose();
        for (month, out) in grouped {
            for ((org, user, subject, facet), n) in out {
                let org_name = Self::named(org)?;
                if let std::collections::hash_map::Entry::Vacant(slot) = orgs.entry(org_name) {
                    slot.insert(Self::slug(Self::name(&names, org)?)?);
                }
                rows.push(Count {
                    month,
                    org: org_name,
                    user: named(user)?,
                    subject: named(subject)?,
                    facet: named(facet)?,
                    n,
                });
            }
        }
        let texts = Self::texts(&names, ids)?;
        Ok(Counts::new(rows, texts, orgs))
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
        for event in after.iter() {
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
