//! Keeping the rollups of `0002_rollups.sql` in the writer's transaction,
//! one new event at a time, and rebuilding them when the settings they
//! depend on change. Every update is commutative or keeps a maximum, so
//! the result does not depend on the order events arrive in.

use anyhow::Context;
use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::sqlite::{Interner, read_events};
use crate::calendar::Day;
use crate::event::{Event, EventBody};
use crate::metrics::facts::Metric;
use crate::rollup::{LoginState, RollupSettings};
use crate::time::Micros;

/// The `user` of the cells that count every user.
pub const ALL_USERS: i64 = -1;

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

const ROLLUP_TABLES: &[&str] = &[
    "org_activity",
    "month_counts",
    "user_totals",
    "action_titles",
    "login_days",
    "login_months",
    "login_users",
    "member_log",
    "members_now",
    "snapshots",
    "source_log",
];

/// A `month_counts` key: metric, month, user, org, a, b.
type CountCell = (i64, i64, i64, i64, i64, i64);

/// The additive rollup updates of one transaction, summed in memory and
/// written once per cell by [`Pending::flush`] before the commit: the
/// events of a batch share most of their cells.
#[derive(Default)]
pub struct Pending {
    /// (metric, month, user, org, a, b) -> (n, latest time)
    counts: HashMap<CountCell, (i64, i64)>,
    /// (metric, org, user, a, b) -> n
    totals: HashMap<(i64, i64, i64, i64, i64), i64>,
    /// org -> earliest time
    orgs: HashMap<i64, i64>,
    /// (org, user, day) -> (n, first, last)
    login_days: HashMap<(i64, i64, i64), (i64, i64, i64)>,
    /// (org, user) -> login times
    logins: HashMap<(i64, i64), Vec<Micros>>,
}

impl Pending {
    /// Events added since the last flush.
    pub fn is_large(&self) -> bool {
        self.counts.len() + self.login_days.len() > 200_000
    }

    /// Writes what was added up, and starts over.
    pub fn flush(&mut self, conn: &Connection, settings: &RollupSettings) -> anyhow::Result<()> {
        let mut upsert = conn.prepare_cached(
            "INSERT INTO month_counts (metric, month, user, org, a, b, n, last) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (metric, month, user, org, a, b) DO UPDATE SET n = n + excluded.n, last = max(last, excluded.last)",
        )?;
        for ((metric, month, user, org, a, b), (n, last)) in self.counts.drain() {
            upsert.execute(params![metric, month, user, org, a, b, n, last])?;
        }
        let mut upsert = conn.prepare_cached(
            "INSERT INTO user_totals (metric, org, user, a, b, n) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (metric, org, user, a, b) DO UPDATE SET n = n + excluded.n",
        )?;
        for ((metric, org, user, a, b), n) in self.totals.drain() {
            upsert.execute(params![metric, org, user, a, b, n])?;
        }
        let mut upsert = conn.prepare_cached(
            "INSERT INTO org_activity (org, first) VALUES (?1, ?2)
             ON CONFLICT (org) DO UPDATE SET first = min(first, excluded.first)",
        )?;
        for (org, first) in self.orgs.drain() {
            upsert.execute(params![org, first])?;
        }
        let mut day_upsert = conn.prepare_cached(
            "INSERT INTO login_days (org, user, day, n, first, last) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (org, user, day) DO UPDATE
             SET n = n + excluded.n, first = min(first, excluded.first), last = max(last, excluded.last)
             RETURNING n",
        )?;
        let mut month_upsert = conn.prepare_cached(
            "INSERT INTO login_months (month, org, user, days) VALUES (?1, ?2, ?3, 1)
             ON CONFLICT (month, org, user) DO UPDATE SET days = days + 1",
        )?;
        for ((org, user, day), (n, first, last)) in self.login_days.drain() {
            let stored: i64 =
                day_upsert.query_row(params![org, user, day, n, first, last], |r| r.get(0))?;
            // The row holds only this batch's logins: the day is new.
            if stored == n {
                month_upsert.execute(params![Day(day).month().0, org, user])?;
            }
        }
        for ((org, user), times) in self.logins.drain() {
            login_state(conn, settings, org, user, &times)?;
        }
        Ok(())
    }
}

/// Updates the rollups for one newly stored event: additive updates go to
/// `pending`, the rest is written at once.
pub fn apply(
    conn: &Connection,
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
        if let Some(user) = user {
            *pending.totals.entry((code, org, user, a, b)).or_default() += 1;
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
                conn.prepare_cached(
                    "INSERT INTO action_titles (day, org, action, time, id, title) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (day, org, action) DO UPDATE SET time = excluded.time, id = excluded.id, title = excluded.title
                     WHERE (excluded.time, excluded.id) > (action_titles.time, action_titles.id)",
                )?
                .execute(params![day.0, org, action, t, event.id, strings.id(title)?])?;
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
            member(
                conn,
                org,
                strings.id(user)?,
                event,
                role.code(),
                Some(&teams),
                name,
                email,
            )?;
        }
        EventBody::MemberRemoved { user } => {
            member(conn, org, strings.id(user)?, event, 0, None, None, None)?
        }
        EventBody::EntitySnapshot { counts } => {
            let total: u64 = counts.iter().map(|c| c.count).sum();
            conn.prepare_cached(
                "INSERT INTO snapshots (org, time, id, total, counts) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                org,
                t,
                event.id,
                total as i64,
                super::row::encode_counts(counts)
            ])?;
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
            conn.prepare_cached(
                "INSERT INTO source_log (org, source, time, id, kind, name) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![org, keys.0, t, event.id, keys.1, keys.2])?;
        }
        EventBody::DataSourceDeleted { data_source } => {
            conn.prepare_cached(
                "INSERT INTO source_log (org, source, time, id) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![org, strings.id(data_source)?, t, event.id])?;
        }
    }
    Ok(())
}

/// Adds `times` to the stored login state of `(org, user)`.
fn login_state(
    conn: &Connection,
    settings: &RollupSettings,
    org: i64,
    user: i64,
    times: &[Micros],
) -> anyhow::Result<()> {
    let stored: Option<(i64, i64, Vec<u8>)> = conn
        .prepare_cached("SELECT logins, last, state FROM login_users WHERE org = ?1 AND user = ?2")?
        .query_row(params![org, user], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    let mut state = match stored {
        Some((logins, last, bytes)) => LoginState::decode(logins, Micros(last), &bytes)?,
        None => LoginState::default(),
    };
    for time in times {
        state.add(*time, settings.calendar.week_of(*time), settings);
    }
    conn.prepare_cached(
        "INSERT INTO login_users (org, user, logins, last, state) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (org, user) DO UPDATE SET logins = excluded.logins, last = excluded.last, state = excluded.state",
    )?
    .execute(params![org, user, state.logins, state.last.0, state.encode()])?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn member(
    conn: &Connection,
    org: i64,
    user: i64,
    event: &Event,
    role: i64,
    teams: Option<&str>,
    name: Option<i64>,
    email: Option<i64>,
) -> anyhow::Result<()> {
    let (t, id) = (event.time.0, event.id.as_str());
    conn.prepare_cached(
        "INSERT INTO member_log (org, user, time, id, role, teams, name, email) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![org, user, t, id, role, teams, name, email])?;
    let when = |field: Option<i64>| field.map(|_| (t, id));
    conn.prepare_cached(
        "INSERT INTO members_now (org, user, time, id, role, teams, name, name_time, name_id, email, email_time, email_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (org, user) DO UPDATE SET time = excluded.time, id = excluded.id, role = excluded.role, teams = excluded.teams
         WHERE (excluded.time, excluded.id) > (members_now.time, members_now.id)",
    )?
    .execute(params![
        org,
        user,
        t,
        id,
        role,
        teams,
        name,
        when(name).map(|w| w.0),
        when(name).map(|w| w.1),
        email,
        when(email).map(|w| w.0),
        when(email).map(|w| w.1)
    ])?;
    // Each profile field follows its own latest value.
    for (field, value) in [("name", name), ("email", email)] {
        let Some(value) = value else { continue };
        let sql = format!(
            "UPDATE members_now SET {field} = ?1, {field}_time = ?2, {field}_id = ?3
             WHERE org = ?4 AND user = ?5 AND ({field}_time IS NULL OR (?2, ?3) > ({field}_time, {field}_id))"
        );
        conn.prepare_cached(&sql)?
            .execute(params![value, t, id, org, user])?;
    }
    Ok(())
}

/// Fails when the stored rollups were made with other settings than the
/// writer's: another Uptake with another configuration rebuilt them.
pub fn check_settings(conn: &Connection, settings: &RollupSettings) -> anyhow::Result<()> {
    let stored: Option<String> = conn
        .prepare_cached("SELECT value FROM rollup_meta WHERE key = 'settings'")?
        .query_row([], |r| r.get(0))
        .optional()?;
    anyhow::ensure!(
        stored.as_deref() == Some(settings.fingerprint().as_str()),
        "the rollups were rebuilt for other settings ({}) by another Uptake process; \
         run every Uptake on this store with the same configuration and restart this one",
        stored.unwrap_or_default()
    );
    Ok(())
}

/// Rebuilds every rollup from `events` when the stored ones were made with
/// other settings (or never made). Runs in one transaction.
pub fn ensure_current(conn: &mut Connection, settings: &RollupSettings) -> anyhow::Result<()> {
    let fingerprint = settings.fingerprint();
    let stored: Option<String> = conn
        .query_row(
            "SELECT value FROM rollup_meta WHERE key = 'settings'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if stored.as_deref() == Some(fingerprint.as_str()) {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let events: i64 = tx.query_row("SELECT count(*) FROM events", [], |r| r.get(0))?;
    if events > 0 {
        tracing::info!(events, settings = %fingerprint, "rebuilding rollups for new settings");
    }
    for table in ROLLUP_TABLES {
        tx.execute(&format!("DELETE FROM {table}"), [])?;
    }
    let mut cache = std::collections::HashMap::new();
    let mut strings = Interner::new(&tx, &mut cache);
    let mut pending = Pending::default();
    read_events(&tx, &mut |event| {
        let org = strings.id(event.org.as_str())?;
        apply(&tx, &mut pending, &mut strings, settings, &event, org)?;
        if pending.is_large() {
            pending.flush(&tx, settings)?;
        }
        Ok(())
    })
    .context("failed to rebuild the rollups")?;
    pending.flush(&tx, settings)?;
    tx.execute(
        "INSERT INTO rollup_meta (key, value) VALUES ('settings', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [&fingerprint],
    )?;
    tx.commit()?;
    Ok(())
}
