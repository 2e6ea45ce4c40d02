//! The kept values of a generation, bounded by weight with the least
//! recently used dropped first, and the kept forms of the parts other than
//! cells.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::super::parts::{Change, DayTitle, MemberEvent, OrgUser, Part, TitledRun};
use super::{CachedValue, Generation, Key};
use crate::calendar::Day;
use crate::rollup::logins::LoginSummary;
use crate::rollup::month_logins::{DayGroups, MonthLogins};
use crate::time::Micros;

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
    /// Whether an entry follows the versions of `part`.
    pub fn holds(&self, part: Part) -> bool {
        self.map.contains_key(&Key::Part(part))
            || matches!(part, Part::MonthLogins(month) if self.map.contains_key(&Key::LoginDays(month)))
    }

    /// Takes an entry out (the caller puts it back or keeps a new one).
    pub fn take(&mut self, key: Key) -> Option<(i64, Value)> {
        let entry = self.map.remove(&key)?;
        self.weight -= entry.weight;
        Some((entry.version, entry.value))
    }

    /// Puts back what [`Values::take`] took, unchanged.
    pub fn put_back<T: CachedValue>(&mut self, key: Key, version: i64, value: Arc<T>) {
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

/// Every user's login summary, by org and user, as fixed-width words
/// side by side in one array (see `LoginSummary::flatten`): a report reads
/// a little of every one of them, and reading them from one block of
/// memory is what keeps that fast.
#[derive(Clone, Default)]
pub struct LoginSummaries {
    at: FxHashMap<OrgUser, (u32, u32)>,
    words: Vec<i64>,
    /// Words no entry points at any more.
    unused: usize,
}

impl LoginSummaries {
    /// Sets the summary of `key`.
    pub fn put(&mut self, key: OrgUser, summary: &LoginSummary) -> anyhow::Result<()> {
        let start = u32::try_from(self.words.len())
            .map_err(|_| anyhow::anyhow!("login summaries beyond what readers number"))?;
        summary.flatten(&mut self.words);
        let len = self.words.len() as u32 - start;
        if let Some((_, old)) = self.at.insert(key, (start, len)) {
            self.unused += old as usize;
        }
        Ok(())
    }

    /// Every `(org, user)` with its summary's words.
    pub fn iter(&self) -> impl Iterator<Item = (OrgUser, &[i64])> {
        self.at.iter().map(|(key, (start, len))| {
            (*key, &self.words[*start as usize..(*start + *len) as usize])
        })
    }

    /// Packs the array when most of it is unused.
    fn pack(&mut self) {
        if self.unused * 2 <= self.words.len() {
            return;
        }
        let mut packed = LoginSummaries::default();
        for (key, words) in self.iter() {
            let start = packed.words.len() as u32;
            packed.words.extend_from_slice(words);
            packed.at.insert(key, (start, words.len() as u32));
        }
        *self = packed;
    }
}

impl CachedValue for LoginSummaries {
    fn apply(&mut self, part: Part, change: &Change, _: &Generation) -> anyhow::Result<()> {
        let Change::LoginSummaries(rows) = change else {
            return Err(wrong(part));
        };
        for (key, summary) in rows {
            self.put(*key, summary)?;
        }
        self.pack();
        Ok(())
    }

    fn weight(&self) -> usize {
        8 * self.words.capacity() + 40 * self.at.len() + 64
    }
}

/// Every user's logins of one month, by org and user, side by side in
/// two arrays (times, and days), for the reason of [`LoginSummaries`].
#[derive(Clone, Default)]
pub struct MonthLoginsByUser {
    /// Each user's range of `times` and of `days`.
    at: FxHashMap<OrgUser, [u32; 4]>,
    times: Vec<Micros>,
    days: Vec<(Day, u32)>,
    /// Entries of `times` no user points at any more.
    unused: usize,
}

impl MonthLoginsByUser {
    /// Sets the logins of `key`.
    pub fn put(&mut self, key: OrgUser, logins: &MonthLogins) -> anyhow::Result<()> {
        let view = logins.view();
        let too_many = || anyhow::anyhow!("a month's logins beyond what readers number");
        let at = [
            u32::try_from(self.times.len()).map_err(|_| too_many())?,
            u32::try_from(view.times.len()).map_err(|_| too_many())?,
            u32::try_from(self.days.len()).map_err(|_| too_many())?,
            u32::try_from(view.days.len()).map_err(|_| too_many())?,
        ];
        self.times.extend_from_slice(view.times);
        self.days.extend_from_slice(view.days);
        if let Some(old) = self.at.insert(key, at) {
            self.unused += old[1] as usize;
        }
        Ok(())
    }

    /// The logins of `key`, if any.
    pub fn get(&self, key: OrgUser) -> Option<DayGroups<'_>> {
        self.at.get(&key).map(|at| self.groups(at))
    }

    fn groups(&self, [t, nt, d, nd]: &[u32; 4]) -> DayGroups<'_> {
        DayGroups {
            times: &self.times[*t as usize..(*t + *nt) as usize],
            days: &self.days[*d as usize..(*d + *nd) as usize],
        }
    }

    /// Every `(org, user)` with logins, and them.
    pub fn iter(&self) -> impl Iterator<Item = (OrgUser, DayGroups<'_>)> {
        self.at.iter().map(|(key, at)| (*key, self.groups(at)))
    }

    /// Packs the arrays when most of them are unused.
    fn pack(&mut self) {
        if self.unused * 2 <= self.times.len() {
            return;
        }
        let mut packed = MonthLoginsByUser::default();
        for (key, groups) in self.iter() {
            packed.at.insert(
                key,
                [
                    packed.times.len() as u32,
                    groups.times.len() as u32,
                    packed.days.len() as u32,
                    groups.days.len() as u32,
                ],
            );
            packed.times.extend_from_slice(groups.times);
            packed.days.extend_from_slice(groups.days);
        }
        *self = packed;
    }
}

impl CachedValue for MonthLoginsByUser {
    fn apply(&mut self, part: Part, change: &Change, _: &Generation) -> anyhow::Result<()> {
        let Change::MonthLogins(rows) = change else {
            return Err(wrong(part));
        };
        for (key, logins) in rows {
            self.put(*key, logins)?;
        }
        self.pack();
        Ok(())
    }

    fn weight(&self) -> usize {
        8 * self.times.capacity() + 16 * self.days.capacity() + 40 * self.at.len() + 64
    }
}

/// The days with a login of every user in one month, by org and user.
#[derive(Clone, Default)]
pub struct LoginDays(pub FxHashMap<OrgUser, u32>);

impl CachedValue for LoginDays {
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

impl CachedValue for MemberLog {
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

impl CachedValue for DayTitles {
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

impl CachedValue for TitledRuns {
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
