//! The widgets' [`Facts`] answered from the rollups of `0002_rollups.sql`.
//!
//! Months before the month of `as_of` are complete in the rollups. The
//! month of `as_of` may hold events after `as_of` (a report in the past, or
//! events dated slightly ahead): those cells are corrected with the raw
//! events after `as_of` in that month, found through the (kind, time) index, so
//! the cost of a report grows with what happened after its `as_of`, never
//! with the length of the history. Partial days at the edges of a window
//! are read from raw events the same way.
//!
//! What changes only with late events or rarely (sums of per-user cells and
//! login days over complete months, logins of whole past days, the stored
//! members), and whole answers read with nothing stored after `as_of`, are
//! kept between reports ([`ReadCache`], `kept.rs`) and reused while
//! `month_versions` shows them unchanged in the report's own snapshot. The
//! per-user cells of the month of `as_of` are held in memory and rolled
//! forward with this process's commits (`month_cells.rs`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use anyhow::Context;
use rustc_hash::FxHashMap;

use super::event_rows::read_events_where;
use super::kept::{CellSums, Cells, DayLogins, Kept, ReadCache, TitleRow, TitleRows};
use super::month_cells::MonthCells;
use super::rollups::{ALL_USERS, LOGIN_DAYS, LOGIN_MONTHS, MEMBERS, metric_code};
use super::sql::{Db, Dialect, first};
use crate::args;
use crate::calendar::{Day, Month};
use crate::event::{EntityCount, Event, EventBody, EventKind, OrgSlug, Role};
use crate::metrics::Report;
use crate::metrics::facts::{
    Count, Facts, GroupBy, LoginDays, LoginRecord, LoginRecords, Members, Membership, Metric,
    Profile, Profiles, SourceSummary,
};
use crate::metrics::history::count_cell;
use crate::rollup::{LoginState, RollupSettings};
use crate::time::Micros;

/// The facts of one report, read through one connection of either engine.
pub struct SqlFacts<'s> {
    db: Box<dyn Db + 's>,
    settings: &'s RollupSettings,
    cache: &'s ReadCache,
    as_of: Micros,
    /// The report's orgs as string ids; `None` for every org.
    orgs: Option<Vec<i64>>,
    /// Login records, read once for all the widgets that ask.
    logins: std::cell::OnceCell<Arc<LoginRecords>>,
    /// Each `(org, user)`'s membership and profile fields at `as_of`, read
    /// once for `members` and `profiles`.
    member_rows: std::cell::OnceCell<Vec<MemberRow>>,
    /// The `month_versions` this report has read, by metric code: the
    /// periods asked for and the versions found. The snapshot does not
    /// change during a report, so each is read once (a count checks the
    /// versions of its months for its answer, its complete months and its
    /// month of `as_of`).
    versions: std::cell::RefCell<HashMap<i64, VersionsRead>>,
    /// Whether a login in the report's orgs is after `as_of`.
    login_after_as_of: std::cell::OnceCell<bool>,
}

/// The periods of one metric code whose versions a report asked for, and
/// the versions found (a period without a row has none).
type VersionsRead = (BTreeSet<i64>, BTreeMap<i64, i64>);

/// A profile field's value at `as_of`: (time, event id, string id).
type Field = Option<(i64, String, i64)>;

/// One row of `members_now`, as stored: the latest state of an
/// `(org, user)` and its latest name and e-mail, as string ids.
pub(super) struct StoredMember {
    org: i64,
    user: i64,
    time: i64,
    role: i64,
    teams: Option<String>,
    name: Field,
    email: Field,
}

impl Cells for Vec<StoredMember> {
    fn cells(&self) -> usize {
        self.len()
    }
}

/// One `(org, user)` of `members_now`, taken back to `as_of`, as string ids.
struct MemberRow {
    org: i64,
    user: i64,
    /// The role code at `as_of` (0: not a member) and the teams as JSON.
    role: i64,
    teams: Option<String>,
    name: Field,
    email: Field,
}

/// The `sources (org, source)` CTE: each data source of `source_log` once
/// (and a row with a null source closing each org), found by one index
/// seek per org and per source (a loose index scan), not by reading the
/// whole log.
const SOURCES: &str = "source_orgs (org) AS (
        SELECT min(org) FROM source_log
        UNION ALL
        SELECT (SELECT min(l.org) FROM source_log l WHERE l.org > o.org)
          FROM source_orgs o WHERE o.org IS NOT NULL
    ),
    sources (org, source) AS (
        SELECT o.org, (SELECT min(l.source) FROM source_log l WHERE l.org = o.org)
          FROM source_orgs o WHERE o.org IS NOT NULL
        UNION ALL
        SELECT s.org, (SELECT min(l.source) FROM source_log l WHERE l.org = s.org AND l.source > s.source)
          FROM sources s WHERE s.source IS NOT NULL
    )";

fn kind_of(metric: Metric) -> EventKind {
    match metric {
        Metric::ActionRun => EventKind::ActionRun,
        Metric::AutomationRun => EventKind::AutomationRun,
        Metric::AiInvocation => EventKind::AiInvocation,
        Metric::McpCall => EventKind::McpCall,
        Metric::PageView => EventKind::PageView,
    }
}

/// The months asked for that the report can see (none after the month of
/// `as_of`), and the same as a SQL list.
fn visible_months(months: &[Month], as_of_month: Month) -> BTreeSet<Month> {
    months
        .iter()
        .copied()
        .filter(|m| *m <= as_of_month)
        .collect()
}

/// Numbers (string ids, months, days) as a SQL list: they are numbers,
/// so they are written into the SQL directly.
fn sql_list(numbers: impl IntoIterator<Item = i64>) -> String {
    let list: Vec<String> = numbers.into_iter().map(|n| n.to_string()).collect();
    list.join(",")
}

fn slug(s: String) -> anyhow::Result<OrgSlug> {
    OrgSlug::parse(&s).with_context(|| format!("stored org `{s}` is not a slug"))
}

impl<'s> SqlFacts<'s> {
    pub fn new(
        db: Box<dyn Db + 's>,
        settings: &'s RollupSettings,
        cache: &'s ReadCache,
        report: &Report,
    ) -> anyhow::Result<SqlFacts<'s>> {
        let orgs = match &report.orgs {
            None => None,
            Some(slugs) => {
                let mut ids = Vec::new();
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
        Ok(SqlFacts {
            db,
            settings,
            cache,
            as_of: report.as_of,
            orgs,
            logins: std::cell::OnceCell::new(),
            member_rows: std::cell::OnceCell::new(),
            versions: std::cell::RefCell::default(),
            login_after_as_of: std::cell::OnceCell::new(),
        })
    }

    fn conn(&self) -> &dyn Db {
        self.db.as_ref()
    }

    fn settings(&self) -> &RollupSettings {
        self.settings
    }

    /// ` AND <column> IN (...)` for the report's orgs (ids are numbers, so
    /// they are written into the SQL directly).
    fn org_filter(&self, column: &str) -> String {
        match &self.orgs {
            None => String::new(),
            Some(ids) if ids.is_empty() => " AND 1 = 0".to_owned(),
            Some(ids) => format!(" AND {column} IN ({})", sql_list(ids.iter().copied())),
        }
    }

    /// Raw events of `kind` with `after < time <= until`, in the report's orgs.
    fn raw(&self, after: Micros, until: Micros, kind: EventKind) -> anyhow::Result<Vec<Event>> {
        let mut events = Vec::new();
        if until <= after {
            return Ok(events);
        }
        let filter = format!(
            "WHERE e.time > ?1 AND e.time <= ?2 AND e.kind = ?3{}",
            self.org_filter("e.org")
        );
        read_events_where(
            self.conn(),
            &filter,
            args![after.0, until.0, kind.code()],
            &mut |e| {
                events.push(e);
                Ok(())
            },
        )?;
        Ok(events)
    }

    /// `(org, user, time)` of the login events with `after < time <= until`,
    /// as string ids: lighter than decoding whole events.
    fn raw_logins(&self, after: Micros, until: Micros) -> anyhow::Result<Vec<(i64, i64, Micros)>> {
        if until <= after {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT e.org, e.\"user\", e.time FROM events e WHERE e.kind = ?1 AND e.time > ?2 AND e.time <= ?3{}",
            self.org_filter("e.org")
        );
        let mut out = Vec::new();
        self.conn().each(
            &sql,
            args![EventKind::Login.code(), after.0, until.0],
            &mut |r| {
                out.push((r.int(0)?, r.int(1)?, Micros(r.int(2)?)));
                Ok(())
            },
        )?;
        Ok(out)
    }

    /// The strings behind `ids`, owned.
    fn names(&self, ids: impl IntoIterator<Item = i64>) -> anyhow::Result<FxHashMap<i64, String>> {
        Ok(self
            .shared_names(ids)?
            .into_iter()
            .map(|(id, name)| (id, name.to_string()))
            .collect())
    }

    /// The strings behind `ids` (0, "none", is left out), shared with the cache.
    fn shared_names(
        &self,
        ids: impl IntoIterator<Item = i64>,
    ) -> anyhow::Result<FxHashMap<i64, Arc<str>>> {
        /// Past this many cached strings the cache starts over, so a flood
        /// of distinct names cannot grow the server's memory without bound.
        const MAX_CACHED: usize = 200_000;
        let mut names: FxHashMap<i64, Arc<str>> = FxHashMap::default();
        let mut missing: Vec<i64> = Vec::new();
        {
            let cache = self.cache.names.lock().unwrap_or_else(|p| p.into_inner());
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
            let sql = format!(
                "SELECT id, value FROM strings WHERE id IN ({})",
                sql_list(chunk.iter().copied())
            );
            self.conn().each(&sql, args![], &mut |r| {
                found.push((r.int(0)?, r.text(1)?));
                Ok(())
            })?;
        }
        if !found.is_empty() {
            let mut cache = self.cache.names.lock().unwrap_or_else(|p| p.into_inner());
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

    fn day_start(&self, day: Day) -> Micros {
        self.settings().calendar.day_start(day)
    }
}

impl Facts for SqlFacts<'_> {
    fn counts(
        &self,
        metric: Metric,
        months: &[Month],
        keys: GroupBy,
    ) -> anyhow::Result<Arc<Vec<Count>>> {
        let cal = &self.settings().calendar;
        let as_of_month = cal.month_of(self.as_of);
        let wanted = visible_months(months, as_of_month);
        if wanted.is_empty() {
            return Ok(Arc::default());
        }
        // Events after `as_of` in its month are in the cells and are taken
        // out. Without any, the answer is the stored cells alone: kept
        // between reports while the versions of its months stand.
        let after = if wanted.contains(&as_of_month) {
            self.raw(self.as_of, cal.month_end(as_of_month), kind_of(metric))?
        } else {
            Vec::new()
        };
        if !after.is_empty() {
            return Ok(Arc::new(self.read_counts(metric, keys, &wanted, &after)?));
        }
        let code = metric_code(metric);
        let periods: Vec<i64> = wanted.iter().map(|m| m.0).collect();
        self.kept(
            &self.cache.answers.counts,
            code,
            format!("counts answer {code} {keys:?}"),
            &periods,
            || self.read_counts(metric, keys, &wanted, &[]),
        )
    }

    fn action_titles(&self, from: Micros, to: Micros) -> anyhow::Result<HashMap<String, String>> {
        let cal = &self.settings().calendar;
        let (first_day, last_day) = (cal.day_of(from), cal.day_of(to));
        let mut last_day_from_raw = false;
        // Days of months before the month of `as_of` change only with late
        // runs (which raise their month's version of action runs): their
        // latest titled runs are kept between reports.
        let split = cal.month_of(self.as_of).first_day();
        let mut candidates: Vec<TitleRow> = Vec::new();
        // Kept only when `to` cuts no day of those months short.
        let whole_days = last_day >= split || to.0 == self.day_start(Day(last_day.0 + 1)).0 - 1;
        if first_day < split && !whole_days {
            last_day_from_raw = self.title_rows(first_day, last_day, to, &mut candidates)?;
        }
        if first_day < split && whole_days {
            let complete_last = Day(last_day.0.min(split.0 - 1));
            let months: Vec<i64> = (first_day.month().0..=complete_last.month().0).collect();
            let kept = self.kept(
                &self.cache.titles,
                metric_code(Metric::ActionRun),
                format!("titles {} {}", first_day.0, complete_last.0),
                &months,
                || {
                    let mut rows = Vec::new();
                    self.title_rows(first_day, complete_last, to, &mut rows)?;
                    Ok(TitleRows(self.latest_titles(rows)?.into_values().collect()))
                },
            )?;
            candidates.extend(kept.0.iter().cloned());
        }
        if last_day >= split {
            last_day_from_raw =
                self.title_rows(Day(first_day.0.max(split.0)), last_day, to, &mut candidates)?;
        }
        // By action id: (org id, action id, time, id, title id) of the latest titled run.
        let rows_by_action = self.latest_titles(candidates)?;
        let ids: BTreeSet<i64> = rows_by_action
            .iter()
            .flat_map(|(action, best)| [*action, best.0, best.4])
            .collect();
        let names = self.names(ids.iter().copied())?;
        let name = |id: &i64| names.get(id).cloned().unwrap_or_default();
        // (time, id, org, title) by action name.
        let mut best: HashMap<String, (i64, String, String, String)> = rows_by_action
            .iter()
            .map(|(action, (org, _, time, id, title))| {
                (name(action), (*time, id.clone(), name(org), name(title)))
            })
            .collect();
        if last_day_from_raw {
            let start = Micros(self.day_start(last_day).0.max(from.0) - 1);
            for event in self.raw(start, to, EventKind::ActionRun)? {
                if let EventBody::ActionRun {
                    action,
                    title: Some(title),
                    ..
                } = event.body
                {
                    let key = (event.time.0, event.id, event.org.to_string());
                    let newer = best.get(&action).is_none_or(|b| {
                        (key.0, key.1.as_bytes(), key.2.as_bytes())
                            > (b.0, b.1.as_bytes(), b.2.as_bytes())
                    });
                    if newer {
                        best.insert(action, (key.0, key.1, key.2, title));
                    }
                }
            }
        }
        Ok(best
            .into_iter()
            .map(|(action, (_, _, _, title))| (action, title))
            .collect())
    }

    fn orgs(&self) -> anyhow::Result<Vec<OrgSlug>> {
        let sql = format!(
            "SELECT o.value FROM org_activity a JOIN strings o ON o.id = a.org WHERE a.first <= ?1{}",
            self.org_filter("a.org")
        );
        let mut orgs = Vec::new();
        self.conn().each(&sql, args![self.as_of.0], &mut |r| {
            orgs.push(slug(r.text(0)?)?);
            Ok(())
        })?;
        orgs.sort();
        Ok(orgs)
    }

    fn members(&self) -> anyhow::Result<Arc<Members>> {
        self.member_answer(&self.cache.answers.members, "members", || {
            self.read_members()
        })
    }

    fn profiles(&self) -> anyhow::Result<Arc<Profiles>> {
        self.member_answer(&self.cache.answers.profiles, "profiles", || {
            self.read_profiles()
        })
    }

    fn snapshots_at(&self, t: Micros) -> anyhow::Result<BTreeMap<OrgSlug, Vec<EntityCount>>> {
        let t = t.min(self.as_of);
        let sql = format!(
            "SELECT o.value, (SELECT s.counts FROM snapshots s WHERE s.org = x.org AND s.time <= ?1
                               ORDER BY s.time DESC, s.id DESC LIMIT 1)
               FROM (SELECT org FROM org_activity WHERE 1 = 1{}) x JOIN strings o ON o.id = x.org",
            self.org_filter("org")
        );
        let mut latest = BTreeMap::new();
        self.db.each(&sql, args![t.0], &mut |r| {
            let Some(counts) = r.opt_text(1)? else {
                return Ok(());
            };
            latest.insert(slug(r.text(0)?)?, super::row::decode_counts(&counts)?);
            Ok(())
        })?;
        Ok(latest)
    }

    fn entity_total_at(&self, t: Micros) -> anyhow::Result<i64> {
        let sql = format!(
            "SELECT CAST(sum((SELECT s.total FROM snapshots s WHERE s.org = x.org AND s.time <= ?1
                          ORDER BY s.time DESC, s.id DESC LIMIT 1)) AS BIGINT)
               FROM (SELECT org FROM org_activity WHERE 1 = 1{}) x",
            self.org_filter("org")
        );
        let total = first(self.conn(), &sql, args![t.min(self.as_of).0], |r| {
            r.opt_int(0)
        })?;
        Ok(total.flatten().unwrap_or(0))
    }

    fn first_snapshot(&self) -> anyhow::Result<Option<Micros>> {
        // Per org through the primary key: a plain `min(time)` would scan.
        let sql = format!(
            "SELECT min((SELECT s.time FROM snapshots s WHERE s.org = x.org AND s.time <= ?1
                         ORDER BY s.time LIMIT 1))
               FROM (SELECT org FROM org_activity WHERE 1 = 1{}) x",
            self.org_filter("org")
        );
        let earliest = first(self.conn(), &sql, args![self.as_of.0], |r| r.opt_int(0))?;
        Ok(earliest.flatten().map(Micros))
    }

    fn data_source_summaries(&self) -> anyhow::Result<BTreeMap<(OrgSlug, String), SourceSummary>> {
        // Per data source, four index seeks into its log: the cost follows
        // the number of sources, not the length of their histories.
        let sql = format!(
            "WITH RECURSIVE {SOURCES}
             SELECT x.org, x.source,
                    (SELECT l.time FROM source_log l
                      WHERE l.org = x.org AND l.source = x.source AND l.time <= ?1 AND l.kind IS NOT NULL
                      ORDER BY l.time, l.id LIMIT 1),
                    (SELECT l.kind FROM source_log l
                      WHERE l.org = x.org AND l.source = x.source AND l.time <= ?1 AND l.kind IS NOT NULL
                      ORDER BY l.time DESC, l.id DESC LIMIT 1),
                    (SELECT l.name FROM source_log l
                      WHERE l.org = x.org AND l.source = x.source AND l.time <= ?1 AND l.kind IS NOT NULL
                      ORDER BY l.time DESC, l.id DESC LIMIT 1),
                    (SELECT CASE WHEN l.kind IS NULL THEN l.time END FROM source_log l
                      WHERE l.org = x.org AND l.source = x.source AND l.time <= ?1
                      ORDER BY l.time DESC, l.id DESC LIMIT 1)
               FROM sources x WHERE x.source IS NOT NULL{}",
            self.org_filter("x.org")
        );
        let mut rows = Vec::new();
        self.db.each(&sql, args![self.as_of.0], &mut |r| {
            let Some(first_created) = r.opt_int(2)? else {
                return Ok(());
            };
            let (kind, name) = (r.int(3)?, r.int(4)?);
            let deleted = r.opt_int(5)?;
            rows.push((r.int(0)?, r.int(1)?, first_created, kind, name, deleted));
            Ok(())
        })?;
        let names = self.shared_names(
            rows.iter()
                .flat_map(|(org, source, _, kind, name, _)| [*org, *source, *kind, *name]),
        )?;
        let name = |id: i64| -> anyhow::Result<String> {
            Ok(names
                .get(&id)
                .context("a stored id without its string")?
                .to_string())
        };
        rows.into_iter()
            .map(|(org, source, first_created, kind, source_name, deleted)| {
                Ok((
                    (slug(name(org)?)?, name(source)?),
                    SourceSummary {
                        first_created: Micros(first_created),
                        kind: name(kind)?,
                        name: name(source_name)?,
                        deleted_at: deleted.map(Micros),
                    },
                ))
            })
            .collect()
    }

    fn data_sources_existing(&self, times: &[Micros]) -> anyhow::Result<Vec<i64>> {
        if times.is_empty() {
            return Ok(Vec::new());
        }
        // The instants are numbers, written into the SQL directly.
        let instants: Vec<String> = times
            .iter()
            .map(|t| format!("(CAST({} AS BIGINT))", t.min(&self.as_of).0))
            .collect();
        let sql = format!(
            "WITH RECURSIVE {SOURCES}, instants (t) AS (VALUES {})
             SELECT i.t, (SELECT count(*) FROM sources x
                           WHERE x.source IS NOT NULL{} AND
                                 (SELECT CASE WHEN l.kind IS NULL THEN 0 ELSE 1 END FROM source_log l
                                   WHERE l.org = x.org AND l.source = x.source AND l.time <= i.t
                                   ORDER BY l.time DESC, l.id DESC LIMIT 1) = 1)
               FROM instants i",
            instants.join(", "),
            self.org_filter("x.org")
        );
        let mut existing: HashMap<i64, i64> = HashMap::new();
        self.db.each(&sql, args![], &mut |r| {
            existing.insert(r.int(0)?, r.int(1)?);
            Ok(())
        })?;
        times
            .iter()
            .map(|t| {
                existing
                    .get(&t.min(&self.as_of).0)
                    .copied()
                    .context("an instant without its count")
            })
            .collect()
    }

    fn logins(&self) -> anyhow::Result<Arc<LoginRecords>> {
        if let Some(logins) = self.logins.get() {
            return Ok(logins.clone());
        }
        // Without a login after `as_of`, every record is as stored: kept
        // between reports while no login day's version moves.
        let logins = if self.any_login_after_as_of()? {
            Arc::new(self.read_logins()?)
        } else {
            self.kept_over_all(&self.cache.answers.logins, LOGIN_DAYS, "logins", || {
                self.read_logins()
            })?
        };
        Ok(self.logins.get_or_init(|| logins).clone())
    }

    fn login_days(&self, months: &[Month]) -> anyhow::Result<Arc<LoginDays>> {
        self.read_login_days(months)
    }

    fn logins_since(&self, since: Micros) -> anyhow::Result<BTreeMap<String, (Micros, i64)>> {
        self.read_logins_since(since)
    }
}

impl SqlFacts<'_> {
    /// The counts of [`Facts::counts`] over `wanted` (the visible months),
    /// with `after` (the events after `as_of` in its month) taken out.
    fn read_counts(
        &self,
        metric: Metric,
        keys: GroupBy,
        wanted: &BTreeSet<Month>,
        after: &[Event],
    ) -> anyhow::Result<Vec<Count>> {
        let as_of_month = self.settings().calendar.month_of(self.as_of);
        // Per-user cells of the months before the month of `as_of` change
        // only with late events: their sums are kept between reports while
        // those months' versions stand. The month of `as_of` comes from its
        // cells held in memory. The all-users cells are few and read whole.
        let complete: BTreeSet<Month> = wanted
            .iter()
            .copied()
            .filter(|m| *m < as_of_month)
            .collect();
        let mut sums = if keys.user {
            let mut sums = if complete.is_empty() {
                CellSums::default()
            } else {
                (*self.complete_sums(metric, keys, &complete)?).clone()
            };
            for month in wanted.difference(&complete) {
                self.add_month_cells(metric, keys, *month, &mut sums)?;
            }
            sums
        } else {
            self.read_cells(metric, keys, wanted)?
        };
        let names = self.shared_names(sums.keys().flat_map(|k| [k.1, k.2, k.3, k.4]))?;
        if !after.is_empty() {
            // Events after `as_of` in its month are in the cells: take them
            // out, finding their cells by the ids of their strings (0 is
            // "no value", as the writer stores it).
            let ids_by_name: HashMap<&str, i64> =
                names.iter().map(|(id, name)| (&**name, *id)).collect();
            let id_of = |value: &Option<Arc<str>>| match value {
                None => Some(0),
                Some(v) => ids_by_name.get(&**v).copied(),
            };
            let month = if keys.month { as_of_month.0 } else { 0 };
            for event in after {
                let Some(cell) = count_cell(metric, keys, event, as_of_month) else {
                    continue;
                };
                if let (Some(org), Some(user), Some(a), Some(b)) = (
                    ids_by_name.get(cell.org.as_str()).copied(),
                    if keys.user {
                        id_of(&cell.user)
                    } else {
                        Some(0)
                    },
                    id_of(&cell.a),
                    id_of(&cell.b),
                ) && let Some(n) = sums.get_mut(&(month, org, user, a, b))
                {
                    *n -= 1;
                }
            }
        }
        let mut orgs: HashMap<i64, OrgSlug> = HashMap::new();
        let mut counts = Vec::with_capacity(sums.len());
        for ((month, org, user, a, b), n) in sums {
            if n <= 0 {
                continue;
            }
            let org = match orgs.get(&org) {
                Some(slug) => slug.clone(),
                None => {
                    let parsed = slug(
                        names
                            .get(&org)
                            .context("an org without a name")?
                            .to_string(),
                    )?;
                    orgs.insert(org, parsed.clone());
                    parsed
                }
            };
            counts.push(Count {
                month: keys.month.then_some(Month(month)),
                org,
                user: names.get(&user).cloned(),
                a: names.get(&a).cloned(),
                b: names.get(&b).cloned(),
                n,
            });
        }
        Ok(counts)
    }

    /// The cells of `metric` in `months` summed by org and `keys` (as
    /// string ids, 0 for keys not asked for): the per-user cells when
    /// `keys.user`, else the all-users cells. Events after `as_of` are not
    /// taken out here.
    fn read_cells(
        &self,
        metric: Metric,
        keys: GroupBy,
        months: &BTreeSet<Month>,
    ) -> anyhow::Result<CellSums> {
        let mut sums = CellSums::default();
        if months.is_empty() {
            return Ok(sums);
        }
        // The rows are summed here rather than by SQL's GROUP BY, which
        // sorts them first: a hash map is several times faster for the
        // per-user cells. Only the keys asked for are read (each column
        // read costs about as much as the row's step).
        let wanted_columns: Vec<(usize, &str)> = [
            (0, "month", keys.month),
            (2, "user", keys.user),
            (3, "a", keys.a),
            (4, "b", keys.b),
        ]
        .into_iter()
        .filter(|(_, _, keep)| *keep)
        .map(|(slot, name, _)| (slot, name))
        .collect();
        let mut keys_list = String::from("c.org");
        for (_, name) in &wanted_columns {
            keys_list.push_str(&format!(", c.\"{name}\""));
        }
        // Per-user cells without their first dimension (actions, agent
        // types, pages) add up to far fewer rows: PostgreSQL sums them on
        // the server, by hashing, rather than send a row per cell (where
        // few cells add up, that costs more than it saves). SQLite's
        // GROUP BY would sort, so its rows are always summed here.
        let (select, group) = match self.db.dialect() {
            Dialect::Postgres if keys.user && !keys.a => (
                format!("CAST(sum(c.n) AS BIGINT), {keys_list}"),
                format!(" GROUP BY {keys_list}"),
            ),
            _ => (format!("c.n, {keys_list}"), String::new()),
        };
        let org = format!("{}{group}", self.org_filter("c.org"));
        let sql = format!(
            "SELECT {select} FROM month_counts c \
             WHERE c.metric = ?1 AND c.month IN ({}) AND c.\"user\" {} {ALL_USERS}{org}",
            sql_list(months.iter().map(|m| m.0)),
            if keys.user { "!=" } else { "=" },
        );
        let expected = self
            .cache
            .cell_counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&sql)
            .copied()
            .unwrap_or(0);
        sums.reserve(expected + expected / 8);
        self.db.each(&sql, args![metric_code(metric)], &mut |r| {
            let mut key = [0i64; 5];
            key[1] = r.int(1)?;
            for (column, (slot, _)) in wanted_columns.iter().enumerate() {
                key[*slot] = r.int(column + 2)?;
            }
            let key = (key[0], key[1], key[2], key[3], key[4]);
            *sums.entry(key).or_insert(0) += r.int(0)?;
            Ok(())
        })?;
        let mut sizes = self
            .cache
            .cell_counts
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        // Query shapes are few (metric, keys, months, orgs); the bound only
        // guards against an unusual stream of distinct reports.
        if sizes.len() >= 1_000 {
            sizes.clear();
        }
        sizes.insert(sql, sums.len());
        Ok(sums)
    }

    /// Adds the per-user cells of `metric` in `month` (the month of
    /// `as_of`) to `sums`, by org and `keys`, as [`SqlFacts::read_cells`]
    /// does, from the month's cells held in memory.
    fn add_month_cells(
        &self,
        metric: Metric,
        keys: GroupBy,
        month: Month,
        sums: &mut CellSums,
    ) -> anyhow::Result<()> {
        let cells = self.month_cells(metric_code(metric), month)?;
        let m = if keys.month { month.0 } else { 0 };
        for ((org, user, a, b), n) in cells.iter() {
            if self.orgs.as_ref().is_some_and(|orgs| !orgs.contains(org)) {
                continue;
            }
            let key = (
                m,
                *org,
                *user,
                if keys.a { *a } else { 0 },
                if keys.b { *b } else { 0 },
            );
            *sums.entry(key).or_insert(0) += n;
        }
        Ok(())
    }

    /// The per-user cells of metric `code` in `month`, every org, as this
    /// report's snapshot holds them: kept in memory at the month's version
    /// and rolled forward with this process's commits (`month_cells`), or
    /// read.
    fn month_cells(&self, code: i64, month: Month) -> anyhow::Result<Arc<MonthCells>> {
        let version = self.versions(code, &[month.0])?.first().map(|(_, v)| *v);
        if let Some(version) = version
            && let Some(cells) = self
                .cache
                .months
                .get(code, month.0, version, &self.cache.changes)
        {
            return Ok(cells);
        }
        let mut cells = MonthCells::default();
        self.db.each(
            &format!(
                "SELECT c.org, c.\"user\", c.a, c.b, c.n FROM month_counts c
                  WHERE c.metric = ?1 AND c.month = ?2 AND c.\"user\" != {ALL_USERS}"
            ),
            args![code, month.0],
            &mut |r| {
                cells.insert((r.int(0)?, r.int(1)?, r.int(2)?, r.int(3)?), r.int(4)?);
                Ok(())
            },
        )?;
        let cells = Arc::new(cells);
        if let Some(version) = version {
            self.cache
                .months
                .keep(code, month.0, version, cells.clone());
        }
        Ok(cells)
    }

    /// The sums of [`SqlFacts::read_cells`] over `months`, all before the
    /// month of `as_of` (so complete in the rollups).
    fn complete_sums(
        &self,
        metric: Metric,
        keys: GroupBy,
        months: &BTreeSet<Month>,
    ) -> anyhow::Result<Arc<CellSums>> {
        let shape = format!("counts {} {keys:?}", metric_code(metric));
        let periods: Vec<i64> = months.iter().map(|m| m.0).collect();
        self.kept(
            &self.cache.complete,
            metric_code(metric),
            shape,
            &periods,
            || self.read_cells(metric, keys, months),
        )
    }

    /// What `read` reads, kept from an earlier report when the versions of
    /// `(code, period)` for `periods` (months, or days) in this report's
    /// snapshot are the ones it was read at, else read and kept. `shape`
    /// names what `read` reads; the orgs and periods are added.
    fn kept<T: Cells>(
        &self,
        store: &Kept<T>,
        code: i64,
        shape: String,
        periods: &[i64],
        read: impl FnOnce() -> anyhow::Result<T>,
    ) -> anyhow::Result<Arc<T>> {
        let list = sql_list(periods.iter().copied());
        let versions = self.versions(code, periods)?;
        self.kept_at(store, format!("{shape} {list}"), versions, read)
    }

    /// The versions of `(code, period)` for `periods` that exist, by
    /// period, as this report's snapshot holds them; each read once per
    /// report.
    fn versions(&self, code: i64, periods: &[i64]) -> anyhow::Result<Vec<(i64, i64)>> {
        let mut memo = self.versions.borrow_mut();
        let (asked, found) = memo.entry(code).or_default();
        let missing: Vec<i64> = periods
            .iter()
            .copied()
            .filter(|p| !asked.contains(p))
            .collect();
        if !missing.is_empty() {
            self.db.each(
                &format!(
                    "SELECT month, version FROM month_versions WHERE metric = ?1 AND month IN ({})",
                    sql_list(missing.iter().copied())
                ),
                args![code],
                &mut |r| {
                    found.insert(r.int(0)?, r.int(1)?);
                    Ok(())
                },
            )?;
            asked.extend(missing);
        }
        let mut versions: Vec<(i64, i64)> = periods
            .iter()
            .filter_map(|p| found.get(p).map(|v| (*p, *v)))
            .collect();
        versions.sort_unstable();
        Ok(versions)
    }

    /// As [`SqlFacts::kept`], for what was read from every period of
    /// `code`: checked against the number and the sum of their versions
    /// (versions only rise, and rows are never removed, so any raise or new
    /// period changes the pair).
    fn kept_over_all<T: Cells>(
        &self,
        store: &Kept<T>,
        code: i64,
        shape: &str,
        read: impl FnOnce() -> anyhow::Result<T>,
    ) -> anyhow::Result<Arc<T>> {
        let versions = first(
            self.conn(),
            "SELECT count(*), CAST(coalesce(sum(version), 0) AS BIGINT) FROM month_versions WHERE metric = ?1",
            args![code],
            |r| Ok((r.int(0)?, r.int(1)?)),
        )?
        .into_iter()
        .collect();
        self.kept_at(store, format!("{shape} all"), versions, read)
    }

    /// The value kept for `shape` (the report's orgs added) at `versions`,
    /// else `read` and kept.
    fn kept_at<T: Cells>(
        &self,
        store: &Kept<T>,
        shape: String,
        versions: Vec<(i64, i64)>,
        read: impl FnOnce() -> anyhow::Result<T>,
    ) -> anyhow::Result<Arc<T>> {
        let shape = format!("{shape} {}", self.org_filter("org"));
        if let Some(kept) = store.find(&shape, &versions) {
            return Ok(kept);
        }
        let value = Arc::new(read()?);
        store.keep(shape, versions, value.clone());
        Ok(value)
    }

    /// Whether a login in the report's orgs is after `as_of`.
    fn any_login_after_as_of(&self) -> anyhow::Result<bool> {
        if let Some(after) = self.login_after_as_of.get() {
            return Ok(*after);
        }
        let sql = format!(
            "SELECT 1 FROM events e WHERE e.kind = ?1 AND e.time > ?2{} LIMIT 1",
            self.org_filter("e.org")
        );
        let after = first(
            self.conn(),
            &sql,
            args![EventKind::Login.code(), self.as_of.0],
            |_| Ok(()),
        )?
        .is_some();
        Ok(*self.login_after_as_of.get_or_init(|| after))
    }

    /// Adds the days with a login of each `(month, org, user)` of `months`
    /// to `days`, keyed `(month, org, user, 0, 0)`.
    fn add_login_months(
        &self,
        months: &BTreeSet<Month>,
        days: &mut CellSums,
    ) -> anyhow::Result<()> {
        if months.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "SELECT m.month, m.org, m.\"user\", m.days FROM login_months m WHERE m.month IN ({}){}",
            sql_list(months.iter().map(|m| m.0)),
            self.org_filter("m.org")
        );
        self.db.each(&sql, args![], &mut |r| {
            *days
                .entry((r.int(0)?, r.int(1)?, r.int(2)?, 0, 0))
                .or_insert(0) += r.int(3)?;
            Ok(())
        })
    }

    /// An answer built from the members alone: when no stored member
    /// changed after `as_of`, it is the stored members' answer, kept
    /// between reports while their version stands.
    fn member_answer<T: Cells>(
        &self,
        store: &Kept<T>,
        shape: &str,
        read: impl FnOnce() -> anyhow::Result<T>,
    ) -> anyhow::Result<Arc<T>> {
        let as_of = self.as_of.0;
        let before = |field: &Field| field.as_ref().is_none_or(|(t, _, _)| *t <= as_of);
        let all_before = self
            .stored_members()?
            .iter()
            .all(|m| m.time <= as_of && before(&m.name) && before(&m.email));
        if !all_before {
            return Ok(Arc::new(read()?));
        }
        self.kept(store, MEMBERS, shape.into(), &[0], read)
    }

    /// The memberships at `as_of` (see [`Facts::members`]).
    fn read_members(&self) -> anyhow::Result<Members> {
        let rows = self.member_rows()?;
        let ids: BTreeSet<i64> = rows.iter().flat_map(|m| [m.org, m.user]).collect();
        let names = self.shared_names(ids.iter().copied())?;
        let name = |id: i64| names.get(&id).context("a stored id without its string");
        let mut by_org_user = BTreeMap::new();
        for row in rows {
            let Some(role) = Role::from_code(row.role) else {
                continue;
            };
            let teams: Vec<String> = serde_json::from_str(row.teams.as_deref().unwrap_or("[]"))?;
            by_org_user.insert(
                (
                    slug(name(row.org)?.to_string())?,
                    name(row.user)?.to_string(),
                ),
                Membership { role, teams },
            );
        }
        Ok(Members::new(by_org_user))
    }

    /// The profiles at `as_of` (see [`Facts::profiles`]).
    fn read_profiles(&self) -> anyhow::Result<Profiles> {
        let rows = self.member_rows()?;
        let ids: BTreeSet<i64> = rows
            .iter()
            .flat_map(|m| {
                let value = |f: &Field| f.as_ref().map_or(0, |(_, _, v)| *v);
                [m.org, m.user, value(&m.name), value(&m.email)]
            })
            .filter(|id| *id != 0)
            .collect();
        let names = self.shared_names(ids.iter().copied())?;
        let name = |id: i64| -> anyhow::Result<&str> {
            Ok(names.get(&id).context("a stored id without its string")?)
        };
        // For each user and field: the (time, id, org) of the latest value,
        // and the value's string id.
        type Latest<'a> = Option<((i64, &'a str, &'a str), i64)>;
        let mut latest: HashMap<i64, (Latest, Latest)> = HashMap::new();
        for row in rows {
            let org = name(row.org)?;
            let entry = latest.entry(row.user).or_default();
            for (slot, field) in [(&mut entry.0, &row.name), (&mut entry.1, &row.email)] {
                if let Some((time, id, value)) = field {
                    let key = (*time, id.as_str(), org);
                    let newer = slot.as_ref().is_none_or(|(k, _)| {
                        (key.0, key.1.as_bytes(), key.2.as_bytes())
                            > (k.0, k.1.as_bytes(), k.2.as_bytes())
                    });
                    if newer {
                        *slot = Some((key, *value));
                    }
                }
            }
        }
        latest
            .into_iter()
            .map(|(user, (n, e))| {
                let text = |f: Latest| -> anyhow::Result<String> {
                    Ok(match f {
                        Some((_, id)) => name(id)?.to_owned(),
                        None => String::new(),
                    })
                };
                Ok((
                    name(user)?.to_owned(),
                    Profile {
                        name: text(n)?,
                        email: text(e)?,
                    },
                ))
            })
            .collect()
    }

    /// The rows of `members_now` in the report's orgs, taken back to
    /// `as_of` through `member_log` where they changed after it. Names stay
    /// string ids, resolved through the cache by the callers.
    fn member_rows(&self) -> anyhow::Result<&[MemberRow]> {
        if let Some(rows) = self.member_rows.get() {
            return Ok(rows);
        }
        let rows = self.read_member_rows()?;
        Ok(self.member_rows.get_or_init(|| rows))
    }

    /// Adds the stored latest titled runs of the days `first..=last` to
    /// `rows`; says whether a run after `to` on the last day hides earlier
    /// ones (that day must then be read from the raw events).
    fn title_rows(
        &self,
        first: Day,
        last: Day,
        to: Micros,
        rows: &mut Vec<TitleRow>,
    ) -> anyhow::Result<bool> {
        let sql = format!(
            "SELECT t.org, t.action, t.time, t.id, t.title FROM action_titles t WHERE t.day BETWEEN ?1 AND ?2{}",
            self.org_filter("t.org")
        );
        let mut hidden = false;
        self.db.each(&sql, args![first.0, last.0], &mut |r| {
            let (org, action, time) = (r.int(0)?, r.int(1)?, r.int(2)?);
            if time > to.0 {
                hidden = true;
            } else {
                rows.push((org, action, time, r.text(3)?, r.int(4)?));
            }
            Ok(())
        })?;
        Ok(hidden)
    }

    /// The latest of `rows` for each action, by time, then id, then org.
    fn latest_titles(&self, rows: Vec<TitleRow>) -> anyhow::Result<HashMap<i64, TitleRow>> {
        let orgs = self.names(rows.iter().map(|row| row.0))?;
        let org_name = |id: i64| orgs.get(&id).map(String::as_str).unwrap_or("");
        let mut latest: HashMap<i64, TitleRow> = HashMap::new();
        for row in rows {
            let newer = latest.get(&row.1).is_none_or(|best| {
                (row.2, row.3.as_bytes(), org_name(row.0).as_bytes())
                    > (best.2, best.3.as_bytes(), org_name(best.0).as_bytes())
            });
            if newer {
                latest.insert(row.1, row);
            }
        }
        Ok(latest)
    }

    /// The rows of `members_now` in the report's orgs, as stored; kept
    /// between reports while no member event was written.
    fn stored_members(&self) -> anyhow::Result<Arc<Vec<StoredMember>>> {
        let sql = format!(
            "SELECT m.org, m.\"user\", m.time, m.role, m.teams, m.name, m.name_time, m.name_id,
                    m.email, m.email_time, m.email_id
               FROM members_now m WHERE 1 = 1{}",
            self.org_filter("m.org")
        );
        self.kept(&self.cache.members, MEMBERS, "members".into(), &[0], || {
            let mut rows = Vec::new();
            self.db.each(&sql, args![], &mut |r| {
                let field = |col: usize| -> anyhow::Result<Field> {
                    Ok(
                        match (r.opt_int(col)?, r.opt_int(col + 1)?, r.opt_text(col + 2)?) {
                            (Some(value), Some(t), Some(id)) => Some((t, id, value)),
                            _ => None,
                        },
                    )
                };
                rows.push(StoredMember {
                    org: r.int(0)?,
                    user: r.int(1)?,
                    time: r.int(2)?,
                    role: r.int(3)?,
                    teams: r.opt_text(4)?,
                    name: field(5)?,
                    email: field(8)?,
                });
                Ok(())
            })?;
            Ok(rows)
        })
    }

    fn read_member_rows(&self) -> anyhow::Result<Vec<MemberRow>> {
        let as_of = self.as_of.0;
        let stored = self.stored_members()?;
        let mut rows = Vec::with_capacity(stored.len());
        for m in stored.iter() {
            let (org, user) = (m.org, m.user);
            let (role, teams) = if m.time <= as_of {
                (m.role, m.teams.clone())
            } else {
                // Changed after `as_of`: the state then is in the log.
                let found = first(
                    self.conn(),
                    "SELECT role, teams FROM member_log WHERE org = ?1 AND \"user\" = ?2 AND time <= ?3
                     ORDER BY time DESC, id DESC LIMIT 1",
                    args![org, user, as_of],
                    |r| Ok((r.int(0)?, r.opt_text(1)?)),
                )?;
                found.unwrap_or((0, None))
            };
            let mut fields: [Field; 2] = [None, None];
            for (slot, stored, column) in [(0, &m.name, "name"), (1, &m.email, "email")] {
                let Some((t, id, value)) = stored else {
                    continue;
                };
                fields[slot] = if *t <= as_of {
                    Some((*t, id.clone(), *value))
                } else {
                    let sql = format!(
                        "SELECT l.time, l.id, l.{column} FROM member_log l
                          WHERE l.org = ?1 AND l.\"user\" = ?2 AND l.time <= ?3 AND l.{column} IS NOT NULL
                          ORDER BY l.time DESC, l.id DESC LIMIT 1"
                    );
                    first(self.conn(), &sql, args![org, user, as_of], |r| {
                        Ok((r.int(0)?, r.text(1)?, r.int(2)?))
                    })?
                };
            }
            let [name, email] = fields;
            rows.push(MemberRow {
                org,
                user,
                role,
                teams,
                name,
                email,
            });
        }
        Ok(rows)
    }

    fn read_logins(&self) -> anyhow::Result<LoginRecords> {
        let settings = self.settings();
        let cal = &settings.calendar;
        let as_of = self.as_of;
        let today = cal.day_of(as_of);
        let week = today.week();
        let sql = format!(
            "SELECT l.\"user\", l.logins, l.last, l.state FROM login_users l WHERE 1 = 1{}",
            self.org_filter("l.org")
        );
        let mut states: FxHashMap<i64, Vec<LoginState>> = FxHashMap::default();
        self.db.each(&sql, args![], &mut |r| {
            let state = LoginState::decode(r.int(1)?, Micros(r.int(2)?), &r.bytes(3)?)?;
            states.entry(r.int(0)?).or_default().push(state);
            Ok(())
        })?;
        let merged: Vec<(i64, LoginState)> = states
            .into_iter()
            .map(|(user, list)| (user, LoginState::merge(&list, settings)))
            .collect();
        // A user whose latest login is at or before `as_of` (every user, in
        // a report as of now) has a record exact as stored. The raw logins
        // are read only when some user logged in after `as_of`.
        let mut after: FxHashMap<i64, i64> = FxHashMap::default();
        let mut today_last: FxHashMap<i64, Micros> = FxHashMap::default();
        let mut this_week: BTreeSet<i64> = BTreeSet::new();
        if merged.iter().any(|(_, m)| m.last > as_of) {
            // Logins after `as_of` are in the rollups but not in the report.
            for (_, user, _) in self.raw_logins(as_of, Micros(i64::MAX))? {
                *after.entry(user).or_default() += 1;
            }
            // Logins of the day of `as_of`, up to it.
            for (_, user, time) in self.raw_logins(Micros(self.day_start(today).0 - 1), as_of)? {
                let last = today_last.entry(user).or_insert(time);
                *last = (*last).max(time);
            }
            // Users with a login earlier this week (before today).
            let sql = format!(
                "SELECT DISTINCT d.\"user\" FROM login_days d WHERE d.day >= ?1 AND d.day < ?2{}",
                self.org_filter("d.org")
            );
            self.conn()
                .each(&sql, args![week.monday().0, today.0], &mut |r| {
                    this_week.insert(r.int(0)?);
                    Ok(())
                })?;
        }
        let mut by_id = Vec::with_capacity(merged.len());
        for (user, merged) in merged {
            if merged.last <= as_of {
                by_id.push((
                    user,
                    LoginRecord {
                        logins: merged.logins,
                        weeks: merged.weeks.count_before(week)
                            + i64::from(merged.weeks.contains(week)),
                        last: merged.last,
                        activated_at: merged.activated_at(settings),
                    },
                ));
                continue;
            }
            let logins = merged.logins - after.get(&user).copied().unwrap_or(0);
            if logins <= 0 {
                continue;
            }
            let last = {
                let sql = format!(
                    "SELECT max(last) FROM login_days WHERE \"user\" = ?1 AND day < ?2{}",
                    self.org_filter("org")
                );
                let before =
                    first(self.conn(), &sql, args![user, today.0], |r| r.opt_int(0))?.flatten();
                before
                    .map(Micros)
                    .max(today_last.get(&user).copied())
                    .context("a login before as_of must exist")?
            };
            let in_this_week = this_week.contains(&user) || today_last.contains_key(&user);
            let weeks = merged.weeks.count_before(week)
                + i64::from(merged.weeks.contains(week) && in_this_week);
            let activated_at = merged.activated_at(settings).filter(|t| *t <= as_of);
            by_id.push((
                user,
                LoginRecord {
                    logins,
                    weeks,
                    last,
                    activated_at,
                },
            ));
        }
        let names = self.names(by_id.iter().map(|(id, _)| *id))?;
        Ok(by_id
            .into_iter()
            .filter_map(|(id, record)| Some((names.get(&id)?.clone(), record)))
            .collect())
    }

    fn read_login_days(&self, months: &[Month]) -> anyhow::Result<Arc<LoginDays>> {
        let cal = &self.settings().calendar;
        let today = cal.day_of(self.as_of);
        let as_of_month = today.month();
        let wanted = visible_months(months, as_of_month);
        if wanted.is_empty() {
            return Ok(Arc::default());
        }
        // Days of the month of `as_of` that only have logins after it: a
        // day each to take out of their `(org, user)`'s month.
        let mut late: Vec<(i64, i64)> = Vec::new();
        if wanted.contains(&as_of_month) {
            let sql = format!(
                "SELECT d.org, d.\"user\", d.day, d.first FROM login_days d WHERE d.day >= ?1 AND d.day < ?2{}",
                self.org_filter("d.org")
            );
            let next_month = as_of_month.plus(1).first_day();
            self.db.each(&sql, args![today.0, next_month.0], &mut |r| {
                let (day, first) = (r.int(2)?, r.int(3)?);
                if day > today.0 || first > self.as_of.0 {
                    late.push((r.int(0)?, r.int(1)?));
                }
                Ok(())
            })?;
        }
        if !late.is_empty() {
            return Ok(Arc::new(self.login_days_without(&wanted, &late)?));
        }
        // Nothing to take out: the answer is the stored months alone, kept
        // between reports while their versions stand.
        let periods: Vec<i64> = wanted.iter().map(|m| m.0).collect();
        self.kept(
            &self.cache.answers.login_days,
            LOGIN_MONTHS,
            "login_days answer".into(),
            &periods,
            || self.login_days_without(&wanted, &[]),
        )
    }

    /// The login days of `wanted` months by `(org, user)`, with a day of
    /// the month of `as_of` taken out for each of `late`.
    fn login_days_without(
        &self,
        wanted: &BTreeSet<Month>,
        late: &[(i64, i64)],
    ) -> anyhow::Result<LoginDays> {
        let as_of_month = self.settings().calendar.month_of(self.as_of);
        // Complete months change only with late logins: kept between
        // reports while their versions stand, as for counts.
        let (complete, current): (BTreeSet<Month>, BTreeSet<Month>) =
            wanted.iter().partition(|m| **m < as_of_month);
        let mut cells = if complete.is_empty() {
            CellSums::default()
        } else {
            let periods: Vec<i64> = complete.iter().map(|m| m.0).collect();
            let kept = self.kept(
                &self.cache.complete,
                LOGIN_MONTHS,
                "login_months".into(),
                &periods,
                || {
                    let mut days = CellSums::default();
                    self.add_login_months(&complete, &mut days)?;
                    Ok(days)
                },
            )?;
            (*kept).clone()
        };
        self.add_login_months(&current, &mut cells)?;
        let mut days: FxHashMap<(i64, i64, Month), i64> = cells
            .into_iter()
            .map(|((month, org, user, _, _), n)| ((org, user, Month(month)), n))
            .collect();
        for (org, user) in late {
            if let Some(n) = days.get_mut(&(*org, *user, as_of_month)) {
                *n -= 1;
            }
        }
        days.retain(|_, n| *n > 0);
        let mut by_member: FxHashMap<(i64, i64), Vec<(Month, i64)>> = FxHashMap::default();
        for ((org, user, month), n) in days {
            by_member.entry((org, user)).or_default().push((month, n));
        }
        let names = self.names(by_member.keys().flat_map(|(o, u)| [*o, *u]))?;
        let name = |id: &i64| {
            names
                .get(id)
                .cloned()
                .context("a stored id without its string")
        };
        by_member
            .into_iter()
            .map(|((org, user), mut months)| {
                months.sort_unstable();
                Ok(((slug(name(&org)?)?, name(&user)?), months))
            })
            .collect()
    }

    fn read_logins_since(&self, since: Micros) -> anyhow::Result<BTreeMap<String, (Micros, i64)>> {
        let cal = &self.settings().calendar;
        let (first_day, today) = (cal.day_of(since), cal.day_of(self.as_of));
        let mut recent: FxHashMap<i64, (Micros, i64)> = FxHashMap::default();
        let mut add = |user: i64, last: Micros, n: i64| {
            let entry = recent.entry(user).or_insert((last, 0));
            entry.0 = entry.0.max(last);
            entry.1 += n;
        };
        let raw_ranges = if first_day >= today {
            vec![(since, self.as_of)]
        } else {
            // The whole days between: they change only with late logins,
            // so kept between reports while their versions stand.
            let days: Vec<i64> = (first_day.0 + 1..today.0).collect();
            if !days.is_empty() {
                let whole_days = self.kept(
                    &self.cache.day_logins,
                    LOGIN_DAYS,
                    "login_days".into(),
                    &days,
                    || {
                        let sql = format!(
                            // Summed here: SQL's GROUP BY would sort the rows first.
                            "SELECT d.\"user\", d.n, d.last FROM login_days d WHERE d.day > ?1 AND d.day < ?2{}",
                            self.org_filter("d.org")
                        );
                        let mut logins = DayLogins::default();
                        self.conn()
                            .each(&sql, args![first_day.0, today.0], &mut |r| {
                                let entry = logins.entry(r.int(0)?).or_insert((0, i64::MIN));
                                entry.0 += r.int(1)?;
                                entry.1 = entry.1.max(r.int(2)?);
                                Ok(())
                            })?;
                        Ok(logins)
                    },
                )?;
                for (user, (n, last)) in whole_days.iter() {
                    add(*user, Micros(*last), *n);
                }
            }
            let first_day_end = Micros(self.day_start(Day(first_day.0 + 1)).0 - 1);
            let mut ranges = vec![(since, first_day_end)];
            if self.any_login_after_as_of()? {
                ranges.push((Micros(self.day_start(today).0 - 1), self.as_of));
            } else {
                // Every login of today is before `as_of`: today's login
                // days hold them, a row per user instead of one per login.
                let sql = format!(
                    "SELECT d.\"user\", d.n, d.last FROM login_days d WHERE d.day = ?1{}",
                    self.org_filter("d.org")
                );
                self.conn().each(&sql, args![today.0], &mut |r| {
                    add(r.int(0)?, Micros(r.int(2)?), r.int(1)?);
                    Ok(())
                })?;
            }
            ranges
        };
        for (after, until) in raw_ranges {
            for (_, user, time) in self.raw_logins(after, until)? {
                add(user, time, 1);
            }
        }
        let names = self.names(recent.keys().copied())?;
        Ok(recent
            .into_iter()
            .filter_map(|(id, value)| Some((names.get(&id)?.clone(), value)))
            .collect())
    }
}
