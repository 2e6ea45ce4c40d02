//! One report's reads: the widgets' [`Facts`] answered from the rollups of
//! `0010_day_grain.sql`, through one snapshot of the store.
//!
//! What a report as of `t` reads, whatever `t` is (see
//! docs/ARCHITECTURE.md, "Reports at any instant"):
//!
//! - counts: each metric's cells of every day of its period up to the
//!   day of `t`, less the raw events between `t` and the end of that day
//!   (the only raw events any report reads);
//! - logins: each user's summary (logins up to the end of the month before
//!   `t`, weeks, activation) and their login times of the month of `t`;
//! - members and profiles: the member log, applied up to `t`;
//! - titles: the latest titled run per day, and the titled runs of the
//!   day of `t`;
//! - entity snapshots, data sources and orgs: seeks into their logs.
//!
//! The parts of the rollups come through the [`ReadCache`], at the
//! versions this snapshot holds.

mod counts;
mod logins;
mod members;
mod states;
mod titles;

use std::any::Any;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU32;
use std::sync::{Arc, RwLockReadGuard};

use anyhow::Context;
use rustc_hash::FxHashSet;

use super::cache::{
    AnswerKey, CachedValue, Fact, Generation, Key, NameTable, ReadCache, Versions, lock,
};
use super::events::{RawEvent, read_raw};
use super::parts::Part;
use super::sql::{Db, first};
use super::write::versions;
use crate::args;
use crate::calendar::{Day, Month};
use crate::event::{EntityCount, OrgSlug};
use crate::metrics::Report;
use crate::metrics::facts::{
    Counts, Facts, GroupBy, LoginDays, LoginRecords, Members, Metric, Name, Profiles, RecentLogins,
    SourceSummary, Texts,
};
use crate::rollup::RollupSettings;
use crate::time::Micros;

/// The facts of one report, read through one snapshot of either engine.
pub struct ReportFacts<'s> {
    db: Box<dyn Db + 's>,
    settings: &'s RollupSettings,
    cache: &'s ReadCache,
    generation: Arc<Generation>,
    as_of: Micros,
    /// The local day and month of `as_of`.
    today: Day,
    month: Month,
    /// The report's orgs as string ids; `None` for every org.
    orgs: Option<FxHashSet<i64>>,
    /// The report's orgs as the key of kept answers.
    org_key: Option<Vec<i64>>,
    /// The count of writes this snapshot holds (`part_versions`).
    writes: i64,
    /// The versions this snapshot holds, by part (`None`: never written).
    versions: RefCell<HashMap<Part, Option<i64>>>,
    /// What the facts being computed have read (innermost last).
    trace: RefCell<Vec<Frame>>,
}

/// What a fact being computed has read, and until when its answer holds.
struct Frame {
    versions: Versions,
    until: Micros,
}

impl<'s> ReportFacts<'s> {
    pub fn new(
        db: Box<dyn Db + 's>,
        settings: &'s RollupSettings,
        cache: &'s ReadCache,
        report: &Report,
    ) -> anyhow::Result<ReportFacts<'s>> {
        // The epoch is the snapshot's first read.
        let (epoch, writes) = versions::epoch_and_writes(db.as_ref())?;
        let generation = cache.generation(epoch);
        let orgs = match &report.orgs {
            None => None,
            Some(slugs) => {
                let mut ids = FxHashSet::default();
                for slug in slugs {
                    ids.extend(first(
                        db.as_ref(),
                        "SELECT id FROM strings WHERE value = ?1",
                        args![slug.as_str()],
                        |r| r.int(0),
                    )?);
                }
                Some(ids)
            }
        };
        let today = settings.calendar.day_of(report.as_of);
        let org_key = orgs.as_ref().map(|ids: &FxHashSet<i64>| {
            let mut list: Vec<i64> = ids.iter().copied().collect();
            list.sort_unstable();
            list
        });
        Ok(ReportFacts {
            db,
            settings,
            cache,
            generation,
            as_of: report.as_of,
            today,
            month: today.month(),
            orgs,
            org_key,
            writes,
            versions: RefCell::default(),
            trace: RefCell::default(),
        })
    }

    fn db(&self) -> &dyn Db {
        self.db.as_ref()
    }

    /// Whether the report covers org `org` (a string id).
    fn includes(&self, org: i64) -> bool {
        self.orgs.as_ref().is_none_or(|orgs| orgs.contains(&org))
    }

    /// ` AND <column> IN (...)` for the report's orgs (ids are numbers, so
    /// they are written into the SQL directly).
    fn org_filter(&self, column: &str) -> String {
        match &self.orgs {
            None => String::new(),
            Some(ids) if ids.is_empty() => " AND 1 = 0".to_owned(),
            Some(ids) => {
                let mut list: Vec<i64> = ids.iter().copied().collect();
                list.sort_unstable();
                let list: Vec<String> = list.iter().map(i64::to_string).collect();
                format!(" AND {column} IN ({})", list.join(","))
            }
        }
    }

    /// The versions of the parts coded `code` with periods in
    /// `from..=to`, as this snapshot holds them: read once per report.
    fn load_versions(&self, code: i64, from: i64, to: i64) -> anyhow::Result<()> {
        let found = versions::read(self.db(), &[code], from, to)?;
        let mut known = self.versions.borrow_mut();
        for period in from..=to {
            if let Some(part) = Part::from_code(code, period) {
                known.entry(part).or_insert(None);
            }
        }
        for (part, version) in found {
            known.insert(part, Some(version));
        }
        Ok(())
    }

    /// The version of `part` in this snapshot (`None`: never written).
    fn version(&self, part: Part) -> anyhow::Result<Option<i64>> {
        if let Some(v) = self.versions.borrow().get(&part) {
            return Ok(*v);
        }
        let (code, period) = part.code();
        self.load_versions(code, period, period)?;
        Ok(self.versions.borrow().get(&part).copied().flatten())
    }

    /// Whether every part of `versions` is at that version in this
    /// snapshot (read in one query per kind of part).
    fn versions_hold(&self, versions: &Versions) -> anyhow::Result<bool> {
        let mut ranges: HashMap<i64, (i64, i64)> = HashMap::new();
        {
            let known = self.versions.borrow();
            for (part, _) in versions.iter().filter(|(p, _)| !known.contains_key(p)) {
                let (code, period) = part.code();
                let range = ranges.entry(code).or_insert((period, period));
                *range = (range.0.min(period), range.1.max(period));
            }
        }
        for (code, (from, to)) in ranges {
            self.load_versions(code, from, to)?;
        }
        let known = self.versions.borrow();
        Ok(versions
            .iter()
            .all(|(part, version)| known.get(part).copied().flatten() == *version))
    }

    /// Notes that the facts being computed read `part` at `version`.
    fn record(&self, part: Part, version: Option<i64>) {
        for frame in self.trace.borrow_mut().iter_mut() {
            frame.versions.push((part, version));
        }
    }

    /// Notes that the answers being computed hold only before `until`.
    fn bound(&self, until: Micros) {
        for frame in self.trace.borrow_mut().iter_mut() {
            frame.until = frame.until.min(until);
        }
    }

    /// `key` at this snapshot's version of its part: empty when the part
    /// was never written, else kept or `read`.
    fn part<T: CachedValue + Default>(
        &self,
        key: Key,
        read: impl FnOnce() -> anyhow::Result<T>,
    ) -> anyhow::Result<Arc<T>> {
        let version = self.version(key.part())?;
        self.record(key.part(), version);
        match version {
            None => Ok(Arc::default()),
            Some(version) => self.cache.get_or_read(&self.generation, key, version, read),
        }
    }

    /// The answer of `fact`: kept from an earlier report when it still
    /// holds (see `cache::answers`), else computed and kept.
    fn answer<T: Any + Send + Sync>(
        &self,
        fact: Fact,
        weight: impl FnOnce(&T) -> usize,
        compute: impl FnOnce() -> anyhow::Result<T>,
    ) -> anyhow::Result<Arc<T>> {
        let after = fact != Fact::AfterAsOf;
        let key = AnswerKey {
            fact,
            orgs: self.org_key.clone(),
            day: self.today,
        };
        let found = lock(&self.generation.answers).find(&key, self.as_of, self.writes);
        if let Some((versions, until, value)) = found
            && versions
                .as_ref()
                .map_or(Ok(true), |v| self.versions_hold(v))?
            && let Ok(value) = value.downcast::<T>()
        {
            if !self.trace.borrow().is_empty() {
                // An answer computed inside another: the outer one read
                // what this one read.
                let versions = match versions {
                    Some(v) => v,
                    None => lock(&self.generation.answers)
                        .versions(&key, self.as_of)
                        .unwrap_or_default(),
                };
                for (part, version) in versions {
                    self.record(part, version);
                }
            }
            self.bound(until);
            return Ok(value);
        }
        let end_of_day = self.day_start(Day(self.today.0 + 1));
        self.trace.borrow_mut().push(Frame {
            versions: Vec::new(),
            until: end_of_day,
        });
        let computed = (|| {
            if after {
                // Every answer holds only until the next stored event.
                self.after_as_of()?;
            }
            compute()
        })();
        let frame = self
            .trace
            .borrow_mut()
            .pop()
            .expect("the frame pushed above");
        let value = Arc::new(computed?);
        self.bound(frame.until);
        let mut versions = frame.versions;
        versions.sort_unstable();
        versions.dedup();
        let weight = weight(&value);
        lock(&self.generation.answers).keep(
            key,
            (self.as_of, frame.until, self.writes),
            versions,
            value.clone(),
            weight,
        );
        Ok(value)
    }

    /// The raw events of the report's orgs between `as_of` and the end of
    /// its local day, by time: the only raw events a report reads.
    fn after_as_of(&self) -> anyhow::Result<Arc<Vec<RawEvent>>> {
        self.answer(
            Fact::AfterAsOf,
            |events: &Vec<RawEvent>| 64 * events.len(),
            || {
                let part = Part::Events(self.today);
                let version = self.version(part)?;
                self.record(part, version);
                let end = Micros(self.day_start(Day(self.today.0 + 1)).0 - 1);
                let mut events = read_raw(self.db(), self.as_of, end, &self.org_filter("e.org"))?;
                self.cache.count_raw_events(events.len());
                events.sort_unstable_by_key(|e| e.time);
                if let Some(first) = events.first() {
                    self.bound(first.time);
                }
                Ok(events)
            },
        )
    }

    fn day_start(&self, day: Day) -> Micros {
        self.settings.calendar.day_start(day)
    }

    /// The strings behind `ids` (0, "none", is left out): the generation's
    /// table of names, with every one of them in it.
    fn names(
        &self,
        ids: impl IntoIterator<Item = i64>,
    ) -> anyhow::Result<RwLockReadGuard<'_, NameTable>> {
        let table = &self.generation.names;
        let read = || table.read().unwrap_or_else(|p| p.into_inner());
        let ids: Vec<i64> = ids.into_iter().filter(|id| *id != 0).collect();
        // A table that started over meanwhile may lose some again: a few tries.
        for _ in 0..3 {
            let names = read();
            let mut missing: Vec<i64> = ids
                .iter()
                .copied()
                .filter(|id| !names.contains(*id))
                .collect();
            if missing.is_empty() {
                return Ok(names);
            }
            drop(names);
            missing.sort_unstable();
            missing.dedup();
            let mut found: Vec<(i64, String)> = Vec::new();
            for chunk in missing.chunks(500) {
                let list: Vec<String> = chunk.iter().map(i64::to_string).collect();
                let sql = format!(
                    "SELECT id, value FROM strings WHERE id IN ({})",
                    list.join(",")
                );
                self.db().each(&sql, args![], &mut |r| {
                    found.push((r.int(0)?, r.text(1)?));
                    Ok(())
                })?;
            }
            anyhow::ensure!(
                found.len() == missing.len(),
                "{} stored ids have no string",
                missing.len() - found.len()
            );
            let mut names = table.write().unwrap_or_else(|p| p.into_inner());
            for (id, name) in found {
                names.insert(id, name.into());
            }
        }
        anyhow::bail!("the table of names keeps starting over; too many distinct strings")
    }

    /// The string of `id` in `names` (as [`ReportFacts::names`] gave them).
    fn name(names: &NameTable, id: i64) -> anyhow::Result<&Arc<str>> {
        names
            .get(id)
            .with_context(|| format!("stored id {id} has no string"))
    }

    /// The [`Name`] of string id `id`: the id itself.
    fn named(id: i64) -> anyhow::Result<Name> {
        u32::try_from(id)
            .ok()
            .and_then(NonZeroU32::new)
            .map(Name)
            .with_context(|| format!("string id {id} is beyond what reports number"))
    }

    /// The texts of the names of string ids `ids`, from `names`.
    fn texts(names: &NameTable, ids: impl IntoIterator<Item = i64>) -> anyhow::Result<Texts> {
        let mut texts = Texts::default();
        for id in ids {
            texts.insert(Self::named(id)?, Self::name(names, id)?.clone());
        }
        Ok(texts)
    }

    /// An org's slug from its string.
    fn slug(name: &str) -> anyhow::Result<OrgSlug> {
        OrgSlug::parse(name).with_context(|| format!("stored org `{name}` is not a slug"))
    }
}

impl Facts for ReportFacts<'_> {
    fn counts(
        &self,
        metric: Metric,
        months: &[Month],
        keys: GroupBy,
    ) -> anyhow::Result<Arc<Counts>> {
        self.answer(
            Fact::Counts(metric, months.to_vec(), keys),
            |counts: &Counts| 48 * counts.len() + 64 * counts.texts.len(),
            || self.read_counts(metric, months, keys),
        )
    }

    fn action_titles(&self, from: Micros, to: Micros) -> anyhow::Result<HashMap<String, String>> {
        let fact = Fact::Titles(from, (to < self.as_of).then_some(to));
        let titles = self.answer(
            fact,
            |titles: &HashMap<String, String>| 96 * titles.len(),
            || self.read_action_titles(from, to),
        )?;
        Ok((*titles).clone())
    }

    fn orgs(&self) -> anyhow::Result<Vec<OrgSlug>> {
        self.read_orgs()
    }

    fn members(&self) -> anyhow::Result<Arc<Members>> {
        self.answer(
            Fact::Members,
            |members: &Members| 128 * members.len(),
            || self.read_members(),
        )
    }

    fn profiles(&self) -> anyhow::Result<Arc<Profiles>> {
        self.answer(
            Fact::Profiles,
            |profiles: &Profiles| 96 * profiles.len(),
            || self.read_profiles(),
        )
    }

    fn snapshots_at(&self, t: Micros) -> anyhow::Result<BTreeMap<OrgSlug, Vec<EntityCount>>> {
        self.read_snapshots_at(t)
    }

    fn entity_total_at(&self, t: Micros) -> anyhow::Result<i64> {
        self.read_entity_total_at(t)
    }

    fn first_snapshot(&self) -> anyhow::Result<Option<Micros>> {
        self.read_first_snapshot()
    }

    fn data_source_summaries(&self) -> anyhow::Result<BTreeMap<(OrgSlug, String), SourceSummary>> {
        self.read_data_source_summaries()
    }

    fn data_sources_existing(&self, times: &[Micros]) -> anyhow::Result<Vec<i64>> {
        self.read_data_sources_existing(times)
    }

    fn logins(&self) -> anyhow::Result<Arc<LoginRecords>> {
        self.answer(
            Fact::Logins,
            |logins: &LoginRecords| 96 * logins.len(),
            || self.read_logins(),
        )
    }

    fn login_days(&self, months: &[Month]) -> anyhow::Result<Arc<LoginDays>> {
        self.answer(
            Fact::LoginDays(months.to_vec()),
            |days: &LoginDays| days.by_member.values().map(|m| 96 + 16 * m.len()).sum(),
            || self.read_login_days(months),
        )
    }

    fn logins_since(&self, since: Micros) -> anyhow::Result<Arc<RecentLogins>> {
        self.answer(
            Fact::LoginsSince(self.as_of.0 - since.0),
            |recent: &RecentLogins| 96 * recent.len(),
            || self.read_logins_since(since),
        )
    }
}
