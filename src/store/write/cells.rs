//! The `cells` table: counted events per metric, local day and cell.

use rustc_hash::FxHashMap;

use super::super::parts::{CellIds, Change, Part};
use super::super::sql::{Arg, ColType, Db, exec_rows};
use crate::args;
use crate::calendar::Day;
use crate::rollup::cells::Metric;

/// What one transaction adds to each cell.
#[derive(Default)]
pub struct CellTally {
    added: FxHashMap<(Metric, Day, CellIds), i64>,
}

impl CellTally {
    pub fn add(&mut self, metric: Metric, day: Day, cell: CellIds) {
        *self.added.entry((metric, day, cell)).or_insert(0) += 1;
    }

    pub fn write(self, db: &dyn Db) -> anyhow::Result<Vec<(Part, Change)>> {
        let rows: Vec<Vec<Arg<'_>>> = self
            .added
            .iter()
            .map(|((metric, day, [org, user, subject, facet]), n)| {
                args![metric.code(), day.0, *user, *org, *subject, *facet, *n].to_vec()
            })
            .collect();
        exec_rows(
            db,
            "INSERT INTO cells (metric, day, \"user\", org, subject, facet, n) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (metric, day, \"user\", org, subject, facet) DO UPDATE SET n = cells.n + excluded.n",
            &[ColType::Int; 7],
            &rows,
        )?;
        let mut by_part: FxHashMap<Part, Vec<(CellIds, i64)>> = FxHashMap::default();
        for ((metric, day, cell), n) in self.added {
            by_part
                .entry(Part::Cells(metric, day))
                .or_default()
                .push((cell, n));
        }
        Ok(by_part
            .into_iter()
            .map(|(part, added)| (part, Change::Cells(added)))
            .collect())
    }
}
