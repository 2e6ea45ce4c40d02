//! The kept values of a generation, bounded by weight with the least
//! recently used dropped first, and the kept forms of the parts other than
//! cells.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::super::parts::{Change, DayTitle, MemberEvent, OrgUser, Part, TitledRun};
use super::{Generation, Kept, Key};
use crate::rollup::logins::{LoginSummary, MonthLogins};

type Value = Arc<dyn Any + Send + Sync>;

struct Entry {
    version: i64,
    value: Value,
    weight: usize,
    used: u64,
}

#[derive(Default)]
pub struct Values {
    map: HashMap<Key, Entry>,
    weight: usize,
    tick: u64,
}

impl Values {
    /// Takes an entry out (the caller puts it back or keeps a new one).
    pub fn take(&mut self, key: Key) -> Option<(i64, Value)> {
        let entry = self.map.remove(&key)?;
        self.weight -= entry.weight;
        Some((entry.version, entry.value))
    }

    /// Puts back what [`Values::take`] took, unchanged.
    pub fn put_back<T: Kept>(&mut self, key: Key, version: i64, value: Arc<T>) {
        let weight = value.weight();
        self.insert(key, version, value, weight);
    }

    /// Keeps `value` as `key` at `version`, unless a later version is
    /// kept, then drops the least recently used entries past `max_weight`.
    pub fn keep(&mut self, key: Key, version: i64, value: Value, weight: usize, max_weight: usize) {
        if let Some(entry) = self.map.get(&key)
            && entry.version >= version
        {
            return;
        }
        if weight > max_weight {
            return;
        }
        if let Some(old) = self.map.remove(&key) {
            self.weight -= old.weight;
        }
        self.insert(key, version, value, weight);
        while self.weight > max_weight {
            let Some(oldest) = self.map.iter().min_by_key(|(_, e)| e.used).map(|(k, _)| *k) else {
                break;
            };
            if let Some(old) = self.map.remove(&oldest) {
                self.weight -= old.weight;
            }
        }
    }

    fn insert(&mut self, key: Key, version: i64, value: Value, weight: usize) {
        self.tick += 1;
        self.weight += weight;
        self.map.insert(
            key,
            Entry {
                version,
                value,
                weight,
                used: self.tick,
            },
        );
    }
}

fn wrong(part: Part) -> anyhow::Error {
    anyhow::anyhow!("a change of {part:?} that does not fit its kept form")
}

/// Every user's login summary, by org and user.
#[derive(Clone, Default)]
pub struct LoginSummaries(pub FxHashMap<OrgUser, Arc<LoginSummary>>);

impl Kept for LoginSummaries {
    fn apply(&mut self, part: Part, change: &Change, _: &Generation) -> anyhow::Result<()> {
        let Change::LoginSummaries(rows) = change else {
            return Err(wrong(part));
        };
        for (key, summary) in rows {
            self.0.insert(*key, summary.clone());
        }
        Ok(())
    }

    fn weight(&self) -> usize {
        self.0
            .values()
            .map(|s| 96 + 8 * s.earliest.len() + 16 * s.first_in_weeks.len() + 24 * s.months.len())
            .sum::<usize>()
            + 64
    }
}

/// Every user's logins of one month, by org and user.
#[derive(Clone, Default)]
pub struct MonthLoginsByUser(pub FxHashMap<OrgUser, Arc<MonthLogins>>);

impl Kept for MonthLoginsByUser {
    fn apply(&mut self, part: Part, change: &Change, _: &Generation) -> anyhow::Result<()> {
        let Change::MonthLogins(rows) = change else {
            return Err(wrong(part));
        };
        for (key, logins) in rows {
            self.0.insert(*key, logins.clone());
        }
        Ok(())
    }

    fn weight(&self) -> usize {
        self.0
            .values()
            .map(|m| 80 + 8 * m.times().len() + 12 * m.day_count())
            .sum::<usize>()
            + 64
    }
}

/// The days with a login of every user in one month, by org and user.
#[derive(Clone, Default)]
pub struct LoginDays(pub FxHashMap<OrgUser, u32>);

impl Kept for LoginDays {
    fn apply(&mut self, part: Part, change: &Change, _: &Generation) -> anyhow::Result<()> {
        let Change::MonthLogins(rows) = change else {
            return Err(wrong(part));
        };
        for (key, logins) in rows {
            self.0.insert(*key, logins.day_count() as u32);
        }
        Ok(())
    }

    fn weight(&self) -> usize {
        24 * self.0.len() + 64
    }
}

/// Every member event, in member order (time, id, org).
#[derive(Clone, Default)]
pub struct MemberLog(pub Vec<MemberEvent>);

impl MemberLog {
    pub fn sort(&mut self) {
        self.0.sort_unstable_by(|a, b| a.order().cmp(&b.order()));
    }
}

impl Kept for MemberLog {
    fn apply(&mut self, part: Part, change: &Change, _: &Generation) -> anyhow::Result<()> {
        let Change::MemberLog(rows) = change else {
            return Err(wrong(part));
        };
        self.0.extend(rows.iter().cloned());
        self.sort();
        Ok(())
    }

    fn weight(&self) -> usize {
        96 * self.0.len() + 64
    }
}

/// The latest titled run of each action and org on each day of a month.
#[derive(Clone, Default)]
pub struct DayTitles(pub FxHashMap<(i64, i64, i64), DayTitle>);

impl DayTitles {
    /// Keeps `title` where it is later than what is kept for its day.
    pub fn offer(&mut self, title: DayTitle) {
        let key = (title.day, title.org, title.action);
        match self.0.get(&key) {
            Some(kept) if (kept.time, kept.id.as_bytes()) >= (title.time, title.id.as_bytes()) => {}
            _ => {
                self.0.insert(key, title);
            }
        }
    }
}

impl Kept for DayTitles {
    fn apply(&mut self, part: Part, change: &Change, _: &Generation) -> anyhow::Result<()> {
        let Change::DayTitles(rows) = change else {
            return Err(wrong(part));
        };
        for title in rows {
            self.offer(title.clone());
        }
        Ok(())
    }

    fn weight(&self) -> usize {
        96 * self.0.len() + 64
    }
}

/// Every titled run of one day.
#[derive(Clone, Default)]
pub struct TitledRuns(pub Vec<TitledRun>);

impl Kept for TitledRuns {
    fn apply(&mut self, part: Part, change: &Change, _: &Generation) -> anyhow::Result<()> {
        let Change::TitledRuns(rows) = change else {
            return Err(wrong(part));
        };
        self.0.extend(rows.iter().cloned());
        Ok(())
    }

    fn weight(&self) -> usize {
        80 * self.0.len() + 64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::Day;
    use crate::rollup::cells::Metric;

    fn key(day: i64) -> Key {
        Key::Part(Part::Cells(Metric::PageView, Day(day)))
    }

    #[test]
    fn the_least_recently_used_go_first_past_the_bound() {
        let mut values = Values::default();
        let value: Value = Arc::new(());
        values.keep(key(1), 1, value.clone(), 40, 100);
        values.keep(key(2), 1, value.clone(), 40, 100);
        // Used again: now the most recent of the two.
        let (version, v) = values.take(key(1)).unwrap();
        values.insert(key(1), version, v, 40);
        values.keep(key(3), 1, value.clone(), 40, 100);
        assert!(values.map.contains_key(&key(1)));
        assert!(!values.map.contains_key(&key(2)));
        assert!(values.map.contains_key(&key(3)));
        assert_eq!(values.weight, 80);
        // Older than what is kept: not kept.
        values.keep(key(3), 0, value.clone(), 10, 100);
        assert_eq!(values.map[&key(3)].version, 1);
        // Heavier than the whole bound: not kept at all.
        values.keep(key(4), 1, value, 101, 100);
        assert!(!values.map.contains_key(&key(4)));
    }
}
