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

use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use anyhow::Context;
use rustc_hash::{FxHashMap, FxHashSet};

use super::cache::{Generation, Kept, Key, ReadCache, lock};
use super::events::{RawEvent, read_raw};
use super::parts::Part;
use super::sql::{Db, first};
use super::write::versions;
use crate::args;
use crate::calendar::{Day, Month};
use crate::event::{EntityCount, OrgSlug};
use crate::metrics::Report;
use crate::metrics::facts::{
    Count, Facts, GroupBy, LoginDays, LoginRecords, Members, Metric, Profiles, SourceSummary,
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
    /// The versions this snapshot holds, by part (`None`: never written).
    versions: RefCell<HashMap<Part, Option<i64>>>,
    /// The raw events between `as_of` and the end of its day.
    after: OnceCell<Vec<RawEvent>>,
    /// Login records, read once for the widgets that ask.
    logins: OnceCell<Arc<LoginRecords>>,
}

impl<'s> ReportFacts<'s> {
    pub fn new(
        db: Box<dyn Db + 's>,
        settings: &'s RollupSettings,
        cache: &'s ReadCache,
        report: &Report,
    ) -> anyhow::Result<ReportFacts<'s>> {
        // The epoch is the snapshot's first read.
        let generation = cache.generation(versions::epoch(db.as_ref())?);
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
        Ok(ReportFacts {
            db,
            settings,
            cache,
            generation,
            as_of: report.as_of,
            today,
            month: today.month(),
            orgs,
            versions: RefCell::default(),
            after: OnceCell::new(),
            logins: OnceCell::new(),
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

    /// `key` at this snapshot's version of its part: empty when the part
    /// was never written, else kept or `read`.
    fn part<T: Kept + Default>(
        &self,
        key: Key,
        read: impl FnOnce() -> anyhow::Result<T>,
    ) -> anyhow::Result<Arc<T>> {
        match self.version(key.part())? {
            None => Ok(Arc::default()),
            Some(version) => self.cache.get_or_read(&self.generation, key, version, read),
        }
    }

    /// The raw events of the report's orgs between `as_of` and the end of
    /// its local day: the only raw events a report reads.
    fn after_as_of(&self) -> anyhow::Result<&[RawEvent]> {
        if let Some(after) = self.after.get() {
            return Ok(after);
        }
        let end = Micros(self.day_start(Day(self.today.0 + 1)).0 - 1);
        let events = read_raw(self.db(), self.as_of, end, &self.org_filter("e.org"))?;
        self.cache.count_raw_events(events.len());
        Ok(self.after.get_or_init(|| events))
    }

    fn day_start(&self, day: Day) -> Micros {
        self.settings.calendar.day_start(day)
    }

    /// The strings behind `ids` (0, "none", is left out), shared with the
    /// generation's cache.
    fn names(
        &self,
        ids: impl IntoIterator<Item = i64>,
    ) -> anyhow::Result<FxHashMap<i64, Arc<str>>> {
        /// Past this many cached strings the cache starts over, so a flood
        /// of distinct names cannot grow the server's memory without bound.
        const MAX_CACHED: usize = 500_000;
        let mut names: FxHashMap<i64, Arc<str>> = FxHashMap::default();
        let mut missing: Vec<i64> = Vec::new();
        {
            let cache = lock(&self.generation.names);
            for id in ids {
                if id == 0 || names.contains_key(&id) {
                    continue;
                }
                match cache.get(&id) {
                    Some(name) => {
                        names.insert(id, name.clone());
                    }
                    None => missing.push(id),
                }
            }
        }
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
        if !found.is_empty() {
            let mut cache = lock(&self.generation.names);
            if cache.len() + found.len() > MAX_CACHED {
                cache.clear();
            }
            for (id, name) in found {
                let name: Arc<str> = name.into();
                cache.insert(id, name.clone());
                names.insert(id, name);
            }
        }
        Ok(names)
    }

    /// The string of `id` in `names` (as [`ReportFacts::names`] found them).
    fn name(names: &FxHashMap<i64, Arc<str>>, id: i64) -> anyhow::Result<&Arc<str>> {
        names
            .get(&id)
            .with_context(|| format!("stored id {id} has no string"))
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
    ) -> anyhow::Result<Arc<Vec<Count>>> {
        Ok(Arc::new(self.read_counts(metric, months, keys)?))
    }

    fn action_titles(&self, from: Micros, to: Micros) -> anyhow::Result<HashMap<String, String>> {
        self.read_action_titles(from, to)
    }

    fn orgs(&self) -> anyhow::Result<Vec<OrgSlug>> {
        self.read_orgs()
    }

    fn members(&self) -> anyhow::Result<Arc<Members>> {
        Ok(Arc::new(self.read_members()?))
    }

    fn profiles(&self) -> anyhow::Result<Arc<Profiles>> {
        Ok(Arc::new(self.read_profiles()?))
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
        if let Some(logins) = self.logins.get() {
            return Ok(logins.clone());
        }
        let logins = Arc::new(self.read_logins()?);
        Ok(self.logins.get_or_init(|| logins).clone())
    }

    fn login_days(&self, months: &[Month]) -> anyhow::Result<Arc<LoginDays>> {
        Ok(Arc::new(self.read_login_days(months)?))
    }

    fn logins_since(&self, since: Micros) -> anyhow::Result<BTreeMap<String, (Micros, i64)>> {
        self.read_logins_since(since)
    }
}
