//! A metric's cells of one day, kept as `(cell number, count)` pairs, and
//! the numbering of cells ([`CellDict`]) they refer to.
//!
//! Numbering the cells of a metric once (org, user, subject and facet as
//! string ids) keeps a kept day at 8 bytes a cell, and lets a report add
//! up the days of its period into one flat array indexed by cell number,
//! without hashing: the part of a report that grows with the number of
//! people.

use rustc_hash::FxHashMap;

use super::super::parts::{CellIds, Change, Part};
use super::{CachedValue, Generation};

/// Cell keys as `u32` string ids: org, user, subject, facet.
pub type CellKey = [u32; 4];

/// The numbering of one metric's cells: each distinct cell seen gets the
/// next number. Grows with the cells of the kept days; dropped with its
/// generation.
#[derive(Default)]
pub struct CellDict {
    keys: Vec<CellKey>,
    index: FxHashMap<CellKey, u32>,
}

impl CellDict {
    fn key_of(ids: CellIds) -> anyhow::Result<CellKey> {
        let mut key = [0u32; 4];
        for (slot, id) in key.iter_mut().zip(ids) {
            *slot = u32::try_from(id)
                .map_err(|_| anyhow::anyhow!("string id {id} is beyond what reports number"))?;
        }
        Ok(key)
    }

    /// The number of a cell, given one if new.
    pub fn number(&mut self, ids: CellIds) -> anyhow::Result<u32> {
        let key = Self::key_of(ids)?;
        if let Some(n) = self.index.get(&key) {
            return Ok(*n);
        }
        let n = u32::try_from(self.keys.len())
            .map_err(|_| anyhow::anyhow!("too many distinct cells to number"))?;
        self.keys.push(key);
        self.index.insert(key, n);
        Ok(n)
    }

    /// The number of a cell, if it has one.
    pub fn find(&self, ids: CellIds) -> Option<u32> {
        self.index.get(&Self::key_of(ids).ok()?).copied()
    }

    /// The keys of cell `n`.
    pub fn key(&self, n: u32) -> CellKey {
        self.keys[n as usize]
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }
}

/// The cells of one metric on one day: `(cell number, count)`, by number.
#[derive(Clone, Default, Debug)]
pub struct DayCells {
    pub cells: Vec<(u32, u32)>,
}

impl DayCells {
    /// From `(cells, count)` rows, numbering them in `dict`.
    pub fn from_rows(
        dict: &mut CellDict,
        rows: impl IntoIterator<Item = (CellIds, i64)>,
    ) -> anyhow::Result<DayCells> {
        let mut cells = Vec::new();
        for (ids, n) in rows {
            cells.push((dict.number(ids)?, count(n)?));
        }
        let mut day = DayCells { cells };
        day.tidy();
        Ok(day)
    }

    /// Sorts by number and adds up repeats.
    fn tidy(&mut self) {
        self.cells.sort_unstable_by_key(|(n, _)| *n);
        let mut out: Vec<(u32, u32)> = Vec::with_capacity(self.cells.len());
        for (n, c) in self.cells.drain(..) {
            match out.last_mut() {
                Some((last, total)) if *last == n => *total += c,
                _ => out.push((n, c)),
            }
        }
        self.cells = out;
    }
}

fn count(n: i64) -> anyhow::Result<u32> {
    u32::try_from(n)
        .map_err(|_| anyhow::anyhow!("a day's cell holds {n}, beyond what reports add up"))
}

impl CachedValue for DayCells {
    fn apply(
        &mut self,
        part: Part,
        change: &Change,
        generation: &Generation,
    ) -> anyhow::Result<()> {
        let (Part::Cells(metric, _), Change::Cells(added)) = (part, change) else {
            anyhow::bail!("a change of {part:?} that is not of cells");
        };
        let mut dict = generation
            .cells(metric)
            .write()
            .unwrap_or_else(|p| p.into_inner());
        for (ids, n) in added {
            self.cells.push((dict.number(*ids)?, count(*n)?));
        }
        self.tidy();
        Ok(())
    }

    fn weight(&self) -> usize {
        64 + 8 * self.cells.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_numbered_once_and_repeats_add_up() {
        let mut dict = CellDict::default();
        let day = DayCells::from_rows(
            &mut dict,
            [([1, 2, 3, 0], 2), ([1, 9, 3, 0], 1), ([1, 2, 3, 0], 4)],
        )
        .unwrap();
        assert_eq!(dict.len(), 2);
        assert_eq!(day.cells, [(0, 6), (1, 1)]);
        assert_eq!(dict.key(1), [1, 9, 3, 0]);
        assert_eq!(dict.find([1, 9, 3, 0]), Some(1));
        assert_eq!(dict.find([7, 9, 3, 0]), None);
        assert!(dict.number([-1, 0, 0, 0]).is_err());
    }
}
