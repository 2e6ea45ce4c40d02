//! Whole answers of facts, kept for the reports that follow.
//!
//! A fact computed as of `t` depends on the parts it read (at their
//! versions) and on `t` only through which stored events lie at or before
//! it, and through its day. So a report as of `t'` on the same day may
//! reuse the answer when every part it read is still at the same version
//! (then the stored events of those parts are the same) and no stored
//! event lies in `(t, t']`: that is, `t <= t' < until`, where `until` is
//! the first stored event after `t` (or the end of the day), lowered by
//! any bound of the fact's own (recent logins move with `t`). The 24
//! widgets of one dashboard thus compute each fact once, and an idle
//! dashboard answers from memory at every instant of the day.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use super::super::parts::Part;
use crate::calendar::{Day, Month};
use crate::metrics::facts::{GroupBy, Metric};
use crate::time::Micros;

/// Which fact, with its parameters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Fact {
    Counts(Metric, Vec<Month>, GroupBy),
    /// Action titles from an instant up to another (`None`: up to `as_of`).
    Titles(Micros, Option<Micros>),
    Members,
    Profiles,
    Logins,
    LoginDays(Vec<Month>),
    /// Logins in the window that ends at `as_of` and is this long.
    LoginsSince(i64),
    /// The raw events between `as_of` and the end of its day.
    AfterAsOf,
}

/// A fact of a report: the fact, the report's orgs (string ids, sorted;
/// `None` for all) and the day of its `as_of`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AnswerKey {
    pub fact: Fact,
    pub orgs: Option<Vec<i64>>,
    pub day: Day,
}

/// The versions of the parts an answer was computed from (`None`: never
/// written then).
pub type Versions = Vec<(Part, Option<i64>)>;

struct Entry {
    as_of: Micros,
    until: Micros,
    /// The count of writes in the snapshot it was computed in: while it
    /// stands, so do the versions.
    writes: i64,
    versions: Versions,
    value: Arc<dyn Any + Send + Sync>,
    weight: usize,
    used: u64,
}

/// Answers kept, a few per key (reports of one day at several instants),
/// bounded by weight.
#[derive(Default)]
pub struct Answers {
    entries: HashMap<AnswerKey, Vec<Entry>>,
    weight: usize,
    tick: u64,
}

impl Answers {
    /// Bytes of answers kept at most.
    const MAX_WEIGHT: usize = 96 << 20;
    /// Answers kept per key: the latest computed go first.
    const PER_KEY: usize = 4;

    /// The answer kept for `key` if it was computed at or before `as_of`
    /// and holds until after it, with the versions it must be checked
    /// against (none when `writes` is the count it was computed at).
    pub fn find(
        &mut self,
        key: &AnswerKey,
        as_of: Micros,
        writes: i64,
    ) -> Option<(Option<Versions>, Micros, Arc<dyn Any + Send + Sync>)> {
        self.tick += 1;
        let entry = self
            .entries
            .get_mut(key)?
            .iter_mut()
            .find(|e| e.as_of <= as_of && as_of < e.until)?;
        entry.used = self.tick;
        let versions = (entry.writes != writes).then(|| entry.versions.clone());
        Some((versions, entry.until, entry.value.clone()))
    }

    /// The versions of the answer [`Answers::find`] found.
    pub fn versions(&self, key: &AnswerKey, as_of: Micros) -> Option<Versions> {
        self.entries
            .get(key)?
            .iter()
            .find(|e| e.as_of <= as_of && as_of < e.until)
            .map(|e| e.versions.clone())
    }

    pub fn keep(
        &mut self,
        key: AnswerKey,
        (as_of, until, writes): (Micros, Micros, i64),
        versions: Versions,
        value: Arc<dyn Any + Send + Sync>,
        weight: usize,
    ) {
        if weight > Self::MAX_WEIGHT {
            return;
        }
        self.tick += 1;
        let list = self.entries.entry(key).or_default();
        // One answer per stretch of time: a new one replaces what it covers.
        let mut freed = 0;
        list.retain(|e| {
            let covered = e.as_of >= as_of && e.until <= until;
            freed += if covered { e.weight } else { 0 };
            !covered
        });
        if list.len() >= Self::PER_KEY
            && let Some(oldest) = (0..list.len()).min_by_key(|i| list[*i].used)
        {
            freed += list.remove(oldest).weight;
        }
        list.push(Entry {
            as_of,
            until,
            writes,
            versions,
            value,
            weight,
            used: self.tick,
        });
        self.weight = self.weight + weight - freed;
        while self.weight > Self::MAX_WEIGHT {
            let Some((key, i)) = self
                .entries
                .iter()
                .flat_map(|(k, list)| list.iter().enumerate().map(move |(i, e)| (k, i, e.used)))
                .min_by_key(|(_, _, used)| *used)
                .map(|(k, i, _)| (k.clone(), i))
            else {
                break;
            };
            if let Some(list) = self.entries.get_mut(&key) {
                self.weight -= list.remove(i).weight;
                if list.is_empty() {
                    self.entries.remove(&key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_holds_from_its_instant_until_the_next_event() {
        let mut answers = Answers::default();
        let key = AnswerKey {
            fact: Fact::Members,
            orgs: None,
            day: Day(1),
        };
        answers.keep(
            key.clone(),
            (Micros(10), Micros(20), 7),
            vec![],
            Arc::new(5u8),
            1,
        );
        assert!(answers.find(&key, Micros(9), 7).is_none(), "before it");
        assert!(answers.find(&key, Micros(10), 7).unwrap().0.is_none());
        assert!(
            answers.find(&key, Micros(19), 8).unwrap().0.is_some(),
            "versions to check"
        );
        assert!(
            answers.find(&key, Micros(20), 7).is_none(),
            "an event at 20"
        );
        let other = AnswerKey {
            day: Day(2),
            ..key.clone()
        };
        assert!(answers.find(&other, Micros(15), 7).is_none());
        // An earlier instant of the same day is kept beside it.
        answers.keep(
            key.clone(),
            (Micros(2), Micros(5), 7),
            vec![],
            Arc::new(6u8),
            1,
        );
        assert!(answers.find(&key, Micros(3), 7).is_some());
        assert!(answers.find(&key, Micros(12), 7).is_some());
        assert_eq!(answers.weight, 2);
    }
}
