//! Keeping the rollups of `0002_rollups.sql` in the writer's transaction,
//! one new event at a time, and rebuilding them when the settings they
//! depend on change. Every update is commutative or keeps a maximum, so
//! the result does not depend on the order events arrive in.

use anyhow::Context;
use std::collections::{BTreeSet, HashMap};

use rustc_hash::FxHashMap;

use super::event_rows::Interner;
use super::month_cells::{CellChange, CellOf};
use super::sql::{Arg, ColType, Db, Dialect, exec_rows, first};
use crate::args;
use crate::calendar::Day;
use crate::event::{Event, EventBody, Trigger};
use crate::metrics::facts::Metric;
use crate::rollup::{LoginState, RollupSettings};
use crate::time::Micros;

/// The `user` of the cells that count every user.
pub const ALL_USERS: i64 = -1;

/// The `metric` of the `month_versions` rows that version `login_months`
/// (the metrics of `month_counts` are 1 to 5).
pub const LOGIN_MONTHS: i64 = 0;

/// The `metric` of the `month_versions` rows that version `login_days`,
/// one per local day (the `month` column holds the day's number).
pub const LOGIN_DAYS: i64 = -2;

/// The `metric` of the `month_versions` row (month 0) that versions
/// `members_now`: raised by every transaction with member events.
pub const MEMBERS: i64 = -1;

/// Raises the version of each `(metric, period)` (see
/// `0007_month_versions.sql`); returns the new versions.
fn bump_versions(
    db: &dyn Db,
    versions: &BTreeSet<(i64, i64)>,
) -> anyhow::Result<HashMap<(i64, i64), i64>> {
    let rows: Vec<Vec<Arg<'_>>> = versions
        .iter()
        .map(|(metric, month)| args![*metric, *month, 1].to_vec())
        .collect();
    let mut raised = HashMap::with_capacity(rows.len());
    if rows.is_empty() {
        return Ok(raised);
    }
    db.each_row_of(
        "INSERT INTO month_versions (metric, month, version) VALUES (?1, ?2, ?3)
         ON CONFLICT (metric, month) DO UPDATE SET version = month_versions.version + 1
         RETURNING metric, month, version",
        &[ColType::Int; 3],
        &rows,
        &mut |r| {
            raised.insert((r.int(0)?, r.int(1)?), r.int(2)?);
            Ok(())
        },
    )?;
    Ok(raised)
}

/// The stored code of each metric in `month_counts`.
pub fn metric_code(metric: Metric) -> i64 {
    match metric {
        Metric::ActionRun => 1,
        Metric::AutomationRun => 2,
        Metric::AiInvocation => 3,
        Metric::McpCall => 4,
        Metric::PageView => 5,
    }
}

/// The strings the rollups intern that are in no event's row (see
/// `write_batches`, which interns them before the rollups run): the
/// trigger names. Every other string `apply` interns is a field of the
/// event's row.
pub fn extra_strings() -> impl Iterator<Item = &'static str> {
    Trigger::NAMES.iter().copied()
}

const ROLLUP_TABLES: &[&str] = &[
    "org_activity",
    "month_counts",
    "action_titles",
    "login_days",
    "login_months",
    "login_users",
    "member_log",
    "members_now",
    "snapshots",
    "source_log",
];

/// A `source_log` row: org, source, time, id, kind and name (`None` for a
/// deletion).
type SourceRow = (i64, i64, i64, String, Option<i64>, Option<i64>);

/// An `action_titles` key (day, org, action) and its latest titled run
/// (time, id, title).
type TitleCell = ((i64, i64, i64), (i64, String, i64));

/// A `month_counts` key: metric, month, user, org, a, b.
type CountCell = (i64, i64, i64, i64, i64, i64);

/// The additive rollup updates of one transaction, summed in memory and
/// written once per cell by [`Pending::flush`] before the commit: the
/// events of a batch share most of their cells.
#[derive(Default)]
pub struct Pending {
    /// (metric, month, user, org, a, b) -> (n, latest time)
    counts: FxHashMap<CountCell, (i64, i64)>,
    /// org -> earliest time
    orgs: FxHashMap<i64, i64>,
    /// (org, user, day) -> (n, first, last)
    login_days: FxHashMap<(i64, i64, i64), (i64, i64, i64)>,
    /// (org, user) -> login times
    logins: FxHashMap<(i64, i64), Vec<Micros>>,
    /// (day, org, action) -> (time, id, title) of the latest titled run
    titles: FxHashMap<(i64, i64, i64), (i64, String, i64)>,
    /// Member events, in arrival order.
    members: Vec<MemberRow>,
    /// (org, time, id, total, counts) of entity snapshots.
    snapshots: Vec<(i64, i64, String, i64, String)>,
    /// (org, source, time, id, kind, name) of data source events.
    sources: Vec<SourceRow>,
}

/// A member event as the member tables store it (`role` 0: removed).
struct MemberRow {
    org: i64,
    user: i64,
    time: i64,
    id: String,
    role: i64,
    teams: Option<String>,
    name: Option<i64>,
    email: Option<i64>,
}

impl MemberRow {
    /// The order of member events: time, then id byte by byte.
    fn key(&self) -> (i64, &[u8]) {
        (self.time, self.id.as_bytes())
    }
}

impl Pending {
    /// Writes what was added up, and starts over. Each table is one bulk
    /// statement (one round trip on PostgreSQL).
    ///
    /// Returns what it added to the per-user cells of each month, with the
    /// version it raised that month to, for the readers of this process
    /// once the transaction has committed ([`ChangeLog`]).
    ///
    /// [`ChangeLog`]: super::month_cells::ChangeLog
    pub fn flush(
        &mut self,
        db: &dyn Db,
        settings: &RollupSettings,
    ) -> anyhow::Result<Vec<CellChange>> {
        use ColType::{Int, Text};
        let (max, min) = (db.dialect().greatest(), db.dialect().least());
        // What this flush changes gets a new version, raised once at the
        // end (readers keep what has not changed while its version stands):
        // each month of counts, each login day and month, the members.
        let mut touched: BTreeSet<(i64, i64)> = self
            .counts
            .keys()
            .map(|(metric, month, ..)| (*metric, *month))
            .collect();
        let mut added: HashMap<(i64, i64), Vec<(CellOf, i64)>> = HashMap::new();
        for ((metric, month, user, org, a, b), (n, _)) in &self.counts {
            if *user != ALL_USERS {
                added
                    .entry((*metric, *month))
                    .or_default()
                    .push(((*org, *user, *a, *b), *n));
            }
        }
        let rows: Vec<Vec<Arg<'_>>> = self
            .counts
            .drain()
            .map(|((metric, month, user, org, a, b), (n, last))| {
                args![metric, month, user, org, a, b, n, last].to_vec()
            })
            .collect();
        exec_rows(
            db,
            &format!(
                "INSERT INTO month_counts (metric, month, \"user\", org, a, b, n, last) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (metric, month, \"user\", org, a, b) DO UPDATE
                 SET n = month_counts.n + excluded.n, last = {max}(month_counts.last, excluded.last)"
            ),
            &[Int; 8],
            &rows,
        )?;
        let rows: Vec<Vec<Arg<'_>>> = self
            .orgs
            .drain()
            .map(|(org, first)| args![org, first].to_vec())
            .collect();
        exec_rows(
            db,
            &format!(
                "INSERT INTO org_activity (org, first) VALUES (?1, ?2)
                 ON CONFLICT (org) DO UPDATE SET first = {min}(org_activity.first, excluded.first)"
            ),
            &[Int; 2],
            &rows,
        )?;
        let titles: Vec<TitleCell> = self.titles.drain().collect();
        let rows: Vec<Vec<Arg<'_>>> = titles
            .iter()
            .map(|((day, org, action), (time, id, title))| {
                args![*day, *org, *action, *time, id, *title].to_vec()
            })
            .collect();
        exec_rows(
            db,
            "INSERT INTO action_titles (day, org, action, time, id, title) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (day, org, action) DO UPDATE SET time = excluded.time, id = excluded.id, title = excluded.title
             WHERE (excluded.time, excluded.id) > (action_titles.time, action_titles.id)",
            &[Int, Int, Int, Int, Text, Int],
            &rows,
        )?;
        // Login days: a row whose count is only this flush's logins is a
        // new day, which adds a day to its month.
        touched.extend(self.login_days.keys().map(|(_, _, day)| (LOGIN_DAYS, *day)));
        let days: HashMap<(i64, i64, i64), i64> = self
            .login_days
            .iter()
            .map(|(key, (n, _, _))| (*key, *n))
            .collect();
        let rows: Vec<Vec<Arg<'_>>> = self
            .login_days
            .drain()
            .map(|((org, user, day), (n, first, last))| {
                args![org, user, day, n, first, last].to_vec()
            })
            .collect();
        let mut new_days: HashMap<(i64, i64, i64), i64> = HashMap::new();
        db.each_row_of(
            &format!(
                "INSERT INTO login_days (org, \"user\", day, n, first, last) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (org, \"user\", day) DO UPDATE
                 SET n = login_days.n + excluded.n, first = {min}(login_days.first, excluded.first),
                     last = {max}(login_days.last, excluded.last)
                 RETURNING org, \"user\", day, n"
            ),
            &[Int; 6],
            &rows,
            &mut |r| {
                let key = (r.int(0)?, r.int(1)?, r.int(2)?);
                if days.get(&key) == Some(&r.int(3)?) {
                    let (org, user, day) = key;
                    *new_days.entry((Day(day).month().0, org, user)).or_default() += 1;
                }
                Ok(())
            },
        )?;
        touched.extend(new_days.keys().map(|(month, _, _)| (LOGIN_MONTHS, *month)));
        let rows: Vec<Vec<Arg<'_>>> = new_days
            .into_iter()
            .map(|((month, org, user), n)| args![month, org, user, n].to_vec())
            .collect();
        exec_rows(
            db,
            "INSERT INTO login_months (month, org, \"user\", days) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (month, org, \"user\") DO UPDATE SET days = login_months.days + excluded.days",
            &[Int; 4],
            &rows,
        )?;
        let logins: Vec<((i64, i64), Vec<Micros>)> = self.logins.drain().collect();
        login_states(db, settings, &logins)?;
        if !self.members.is_empty() {
            touched.insert((MEMBERS, 0));
        }
        flush_members(db, &std::mem::take(&mut self.members))?;
        let snapshots = std::mem::take(&mut self.snapshots);
        let rows: Vec<Vec<Arg<'_>>> = snapshots
            .iter()
            .map(|(org, time, id, total, counts)| args![*org, *time, id, *total, counts].to_vec())
            .collect();
        exec_rows(
            db,
            "INSERT INTO snapshots (org, time, id, total, counts) VALUES (?1, ?2, ?3, ?4, ?5)",
            &[Int, Int, Text, Int, Text],
            &rows,
        )?;
        let sources = std::mem::take(&mut self.sources);
        let rows: Vec<Vec<Arg<'_>>> = sources
            .iter()
            .map(|(org, source, time, id, kind, name)| {
                args![*org, *source, *time, id, *kind, *name].to_vec()
            })
            .collect();
        exec_rows(
            db,
            "INSERT INTO source_log (org, source, time, id, kind, name) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            &[Int, Int, Int, Text, Int, Int],
            &rows,
        )?;
        let raised = bump_versions(db, &touched)?;
        added
            .into_iter()
            .map(|((metric, month), added)| {
                Ok(CellChange {
                    metric,
                    month,
                    version: *raised
                        .get(&(metric, month))
                        .context("a month of counts without its version")?,
                    added,
                })
            })
            .collect()
    }
}

/// Adds one newly stored event to the rollup updates of `pending`, which
/// [`Pending::flush`] writes.
pub fn apply(
    pending: &mut Pending,
    strings: &mut Interner<'_>,
    settings: &RollupSettings,
    event: &Event,
    org: i64,
) -> anyhow::Result<()> {
    let t = event.time.0;
    let first = pending.orgs.entry(org).or_insert(t);
    *first = (*first).min(t);
    let day = settings.calendar.day_of(event.time);
    let month = day.month().0;
    // Each counted event adds to its cell for all users (user -1), which
    // the widgets without a user dimension read, and, when the metric has a
    // user, to its per-user cell (user 0 for none).
    let mut count = |metric: Metric, user: Option<i64>, a: i64, b: i64| {
        let code = metric_code(metric);
        for user in std::iter::once(ALL_USERS).chain(user) {
            let cell = pending
                .counts
                .entry((code, month, user, org, a, b))
                .or_insert((0, t));
            cell.0 += 1;
            cell.1 = cell.1.max(t);
        }
    };
    match &event.body {
        EventBody::ActionRun {
            action,
            trigger,
            user,
            title,
            ..
        } => {
            let action = strings.id(action)?;
            let keys = (
                strings.id_or_zero(user.as_deref())?,
                strings.id(trigger.name())?,
            );
            count(Metric::ActionRun, Some(keys.0), action, keys.1);
            if let Some(title) = title {
                let title = strings.id(title)?;
                let latest = pending
                    .titles
                    .entry((day.0, org, action))
                    .or_insert_with(|| (t, event.id.clone(), title));
                if (t, event.id.as_bytes()) > (latest.0, latest.1.as_bytes()) {
                    *latest = (t, event.id.clone(), title);
                }
            }
        }
        EventBody::AutomationRun { .. } => count(Metric::AutomationRun, None, 0, 0),
        EventBody::AiInvocation {
            agent_type,
            source,
            user,
            ..
        } => {
            let keys = (
                strings.id_or_zero(user.as_deref())?,
                strings.id(agent_type)?,
                strings.id(source)?,
            );
            count(Metric::AiInvocation, Some(keys.0), keys.1, keys.2);
        }
        EventBody::McpCall { user, .. } => {
            let user = strings.id_or_zero(user.as_deref())?;
            count(Metric::McpCall, Some(user), 0, 0);
        }
        EventBody::PageView { user, page, .. } => {
            let keys = (strings.id(user)?, strings.id(page)?);
            count(Metric::PageView, Some(keys.0), keys.1, 0);
        }
        EventBody::Login { user } => {
            let user = strings.id(user)?;
            let cell = pending
                .login_days
                .entry((org, user, day.0))
                .or_insert((0, t, t));
            *cell = (cell.0 + 1, cell.1.min(t), cell.2.max(t));
            pending
                .logins
                .entry((org, user))
                .or_default()
                .push(event.time);
        }
        EventBody::MemberUpserted {
            user,
            role,
            name,
            email,
            teams,
        } => {
            let teams = serde_json::to_string(teams)?;
            let (name, email) = (
                strings.id_opt(name.as_deref())?,
                strings.id_opt(email.as_deref())?,
            );
            pending.members.push(MemberRow {
                org,
                user: strings.id(user)?,
                time: t,
                id: event.id.clone(),
                role: role.code(),
                teams: Some(teams),
                name,
                email,
            });
        }
        EventBody::MemberRemoved { user } => pending.members.push(MemberRow {
            org,
            user: strings.id(user)?,
            time: t,
            id: event.id.clone(),
            role: 0,
            teams: None,
            name: None,
            email: None,
        }),
        EventBody::EntitySnapshot { counts } => {
            let total: u64 = counts.iter().map(|c| c.count).sum();
            pending.snapshots.push((
                org,
                t,
                event.id.clone(),
                total as i64,
                super::row::encode_counts(counts),
            ));
        }
        EventBody::DataSourceCreated {
            data_source,
            data_source_type,
            name,
        } => {
            let keys = (
                strings.id(data_source)?,
                strings.id(data_source_type)?,
                strings.id(name)?,
            );
            pending
                .sources
                .push((org, keys.0, t, event.id.clone(), Some(keys.1), Some(keys.2)));
        }
        EventBody::DataSourceDeleted { data_source } => {
            let source = strings.id(data_source)?;
            pending
                .sources
                .push((org, source, t, event.id.clone(), None, None));
        }
    }
    Ok(())
}

/// Adds each `(org, user)`'s new login times to its stored login state:
/// the states are read in one statement and written back in another.
fn login_states(
    db: &dyn Db,
    settings: &RollupSettings,
    logins: &[((i64, i64), Vec<Micros>)],
) -> anyhow::Result<()> {
    use ColType::{Bytes, Int};
    if logins.is_empty() {
        return Ok(());
    }
    let keys: Vec<Vec<Arg<'_>>> = logins
        .iter()
        .map(|((org, user), _)| args![*org, *user].to_vec())
        .collect();
    let mut states: HashMap<(i64, i64), LoginState> = HashMap::new();
    let read = match db.dialect() {
        Dialect::Sqlite => {
            "SELECT l.org, l.\"user\", l.logins, l.last, l.state FROM login_users l WHERE l.org = ?1 AND l.\"user\" = ?2"
        }
        Dialect::Postgres => {
            "SELECT l.org, l.\"user\", l.logins, l.last, l.state
               FROM login_users l JOIN (VALUES (?1, ?2)) AS k (org, u) ON l.org = k.org AND l.\"user\" = k.u"
        }
    };
    db.each_row_of(read, &[Int, Int], &keys, &mut |r| {
        let state = LoginState::decode(r.int(2)?, Micros(r.int(3)?), &r.bytes(4)?)?;
        states.insert((r.int(0)?, r.int(1)?), state);
        Ok(())
    })?;
    let mut updated = Vec::with_capacity(logins.len());
    for (key, times) in logins {
        let mut state = states.remove(key).unwrap_or_default();
        for time in times {
            state.add(*time, settings.calendar.week_of(*time), settings);
        }
        updated.push((*key, state.logins, state.last.0, state.encode()));
    }
    let rows: Vec<Vec<Arg<'_>>> = updated
        .iter()
        .map(|((org, user), logins, last, state)| {
            args![*org, *user, *logins, *last, state].to_vec()
        })
        .collect();
    exec_rows(
        db,
        "INSERT INTO login_users (org, \"user\", logins, last, state) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (org, \"user\") DO UPDATE SET logins = excluded.logins, last = excluded.last, state = excluded.state",
        &[Int, Int, Int, Int, Bytes],
        &rows,
    )
}

/// Member events into the member log, and the latest state of each
/// `(org, user)` into `members_now`: its latest event sets role and teams,
/// and each profile field follows its own latest value. The same result as
/// applying the events one by one, in any order.
fn flush_members(db: &dyn Db, members: &[MemberRow]) -> anyhow::Result<()> {
    use ColType::{Int, Text};
    if members.is_empty() {
        return Ok(());
    }
    let rows: Vec<Vec<Arg<'_>>> = members
        .iter()
        .map(|m| {
            args![
                m.org,
                m.user,
                m.time,
                &m.id,
                m.role,
                m.teams.as_deref(),
                m.name,
                m.email
            ]
            .to_vec()
        })
        .collect();
    exec_rows(
        db,
        "INSERT INTO member_log (org, \"user\", time, id, role, teams, name, email) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        &[Int, Int, Int, Text, Int, Text, Int, Int],
        &rows,
    )?;
    // The latest event of each member, and its latest name and e-mail.
    let mut latest: HashMap<(i64, i64), &MemberRow> = HashMap::new();
    let mut names: HashMap<(i64, i64), &MemberRow> = HashMap::new();
    let mut emails: HashMap<(i64, i64), &MemberRow> = HashMap::new();
    fn keep<'m>(map: &mut HashMap<(i64, i64), &'m MemberRow>, m: &'m MemberRow) {
        let slot = map.entry((m.org, m.user)).or_insert(m);
        if m.key() > slot.key() {
            *slot = m;
        }
    }
    for m in members {
        keep(&mut latest, m);
        if m.name.is_some() {
            keep(&mut names, m);
        }
        if m.email.is_some() {
            keep(&mut emails, m);
        }
    }
    fn when(m: &MemberRow, field: Option<i64>) -> Option<(i64, &str)> {
        field.map(|_| (m.time, m.id.as_str()))
    }
    let rows: Vec<Vec<Arg<'_>>> = latest
        .values()
        .map(|m| {
            args![
                m.org,
                m.user,
                m.time,
                &m.id,
                m.role,
                m.teams.as_deref(),
                m.name,
                when(m, m.name).map(|w| w.0),
                when(m, m.name).map(|w| w.1),
                m.email,
                when(m, m.email).map(|w| w.0),
                when(m, m.email).map(|w| w.1)
            ]
            .to_vec()
        })
        .collect();
    exec_rows(
        db,
        "INSERT INTO members_now (org, \"user\", time, id, role, teams, name, name_time, name_id, email, email_time, email_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (org, \"user\") DO UPDATE SET time = excluded.time, id = excluded.id, role = excluded.role, teams = excluded.teams
         WHERE (excluded.time, excluded.id) > (members_now.time, members_now.id)",
        &[Int, Int, Int, Text, Int, Text, Int, Int, Text, Int, Int, Text],
        &rows,
    )?;
    for (field, chosen) in [("name", &names), ("email", &emails)] {
        let rows: Vec<Vec<Arg<'_>>> = chosen
            .values()
            .map(|m| {
                let value = if field == "name" { m.name } else { m.email };
                args![m.org, m.user, value, m.time, &m.id].to_vec()
            })
            .collect();
        let sql = match db.dialect() {
            Dialect::Sqlite => format!(
                "UPDATE members_now SET {field} = ?3, {field}_time = ?4, {field}_id = ?5
                 WHERE org = ?1 AND \"user\" = ?2 AND ({field}_time IS NULL OR (?4, ?5) > ({field}_time, {field}_id))"
            ),
            Dialect::Postgres => format!(
                "UPDATE members_now m SET {field} = v.value, {field}_time = v.t, {field}_id = v.id
                   FROM (VALUES (?1, ?2, ?3, ?4, ?5)) AS v (org, u, value, t, id)
                  WHERE m.org = v.org AND m.\"user\" = v.u
                    AND (m.{field}_time IS NULL OR (v.t, v.id) > (m.{field}_time, m.{field}_id))"
            ),
        };
        exec_rows(db, &sql, &[Int, Int, Int, Int, Text], &rows)?;
    }
    Ok(())
}

/// Fails when the stored rollups were made with other settings than the
/// writer's: another Uptake with another configuration rebuilt them.
pub fn check_settings(db: &dyn Db, settings: &RollupSettings) -> anyhow::Result<()> {
    let stored = stored_settings(db)?;
    anyhow::ensure!(
        stored.as_deref() == Some(settings.fingerprint().as_str()),
        "the rollups were rebuilt for other settings ({}) by another Uptake process; \
         run every Uptake on this store with the same configuration and restart this one",
        stored.unwrap_or_default()
    );
    Ok(())
}

/// The settings the stored rollups were made with, if any.
pub fn stored_settings(db: &dyn Db) -> anyhow::Result<Option<String>> {
    first(
        db,
        "SELECT value FROM rollup_meta WHERE key = 'settings'",
        args![],
        |r| r.text(0),
    )
}

/// Rebuilds every rollup from `events`, inside the caller's transaction
/// (which the caller has checked needs it).
pub fn rebuild(db: &dyn Db, settings: &RollupSettings) -> anyhow::Result<()> {
    let fingerprint = settings.fingerprint();
    let events = first(db, "SELECT count(*) FROM events", args![], |r| r.int(0))?.unwrap_or(0);
    if events > 0 {
        tracing::info!(events, settings = %fingerprint, "rebuilding rollups for new settings");
    }
    // Versions only go up, also for months that lose every cell: sums read
    // before the rebuild stop matching. (`WHERE true` keeps SQLite from
    // reading `ON CONFLICT` as a join constraint.)
    for sql in [
        "INSERT INTO month_versions (metric, month, version)
         SELECT DISTINCT metric, month, 0 FROM month_counts WHERE true
         ON CONFLICT (metric, month) DO NOTHING",
        &format!(
            "INSERT INTO month_versions (metric, month, version)
             SELECT DISTINCT {LOGIN_MONTHS}, month, 0 FROM login_months WHERE true
             ON CONFLICT (metric, month) DO NOTHING"
        ),
        &format!(
            "INSERT INTO month_versions (metric, month, version)
             SELECT DISTINCT {LOGIN_DAYS}, day, 0 FROM login_days WHERE true
             ON CONFLICT (metric, month) DO NOTHING"
        ),
        "UPDATE month_versions SET version = version + 1",
    ] {
        db.exec(sql, args![])?;
    }
    for table in ROLLUP_TABLES {
        db.exec(&format!("DELETE FROM {table}"), args![])?;
    }
    // The events are read first, a page at a time by key, so that the
    // rollup writes do not run inside an open read of the same database.
    let mut cache = std::collections::HashMap::new();
    let mut after: Option<(i64, String)> = None;
    loop {
        let mut page = Vec::new();
        super::event_rows::read_page(db, after.as_ref(), 50_000, &mut page)?;
        let Some(last) = page.last() else { break };
        after = Some((last.0, last.1.id.clone()));
        let mut strings = Interner::new(db, &mut cache);
        let mut pending = Pending::default();
        for (org, event) in &page {
            apply(&mut pending, &mut strings, settings, event, *org)?;
        }
        // The rebuild raises every version at its end: no reader rolls
        // forward across it, so its changes are not published.
        pending.flush(db, settings)?;
    }
    db.exec(
        "INSERT INTO rollup_meta (key, value) VALUES ('settings', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        args![&fingerprint],
    )
    .context("failed to record the rollup settings")?;
    Ok(())
}
