//! The strings behind interned ids, as reports have read them: an array
//! indexed by id for the ids a store hands out first (they are numbered
//! from one up), a map beyond that.

use std::sync::Arc;

use rustc_hash::FxHashMap;

/// Ids below this are kept in the array.
const DENSE: usize = 1 << 22;
/// Strings kept at most before the table starts over, so that a flood of
/// distinct names cannot grow the server's memory without bound.
const MAX: usize = 2_000_000;

#[derive(Default)]
pub struct NameTable {
    dense: Vec<Option<Arc<str>>>,
    sparse: FxHashMap<i64, Arc<str>>,
    len: usize,
}

impl NameTable {
    pub fn get(&self, id: i64) -> Option<&Arc<str>> {
        match usize::try_from(id) {
            Ok(i) if i < DENSE => self.dense.get(i)?.as_ref(),
            _ => self.sparse.get(&id),
        }
    }

    pub fn contains(&self, id: i64) -> bool {
        self.get(id).is_some()
    }

    /// Keeps the string of `id`; starts over first when full.
    pub fn insert(&mut self, id: i64, name: Arc<str>) {
        if self.len >= MAX {
            *self = NameTable::default();
        }
        let slot = match usize::try_from(id) {
            Ok(i) if i < DENSE => {
                if i >= self.dense.len() {
                    self.dense.resize(i + 1, None);
                }
                &mut self.dense[i]
            }
            _ => {
                self.len += usize::from(self.sparse.insert(id, name).is_none());
                return;
            }
        };
        self.len += usize::from(slot.is_none());
        *slot = Some(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_near_and_far() {
        let mut names = NameTable::default();
        names.insert(3, "a".into());
        names.insert(1 << 40, "b".into());
        names.insert(-2, "c".into());
        assert_eq!(names.get(3).map(|s| &**s), Some("a"));
        assert_eq!(names.get(1 << 40).map(|s| &**s), Some("b"));
        assert_eq!(names.get(-2).map(|s| &**s), Some("c"));
        assert!(!names.contains(2) && !names.contains(7));
        assert_eq!(names.len, 3);
    }
}
