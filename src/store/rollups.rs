//! Keeping the rollups of `0002_rollups.sql` in the writer's transaction,
//! one new event at a time, and rebuilding them when the settings they
//! depend on change. Every update is commutative or keeps a maximum, so
//! the result does not depend on the order events arrive in.

use anyhow::Context;
use std::collections::HashMap;

use super::event_rows::Interner;
use super::sql::{Db, first};
use crate::args;
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
    /// Writes what was added up, and starts over.
    pub fn flush(&mut self, db: &dyn Db, settings: &RollupSettings) -> anyhow::Result<()> {
        let (max, min) = (db.dialect().greatest(), db.dialect().least());
        let sql = format!(
            "INSERT INTO month_counts (metric, month, \"user\", org, a, b, n, last) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (metric, month, \"user\", org, a, b) DO UPDATE
             SET n = month_counts.n + excluded.n, last = {max}(month_counts.last, excluded.last)"
        );
        for ((metric, month, user, org, a, b), (n, last)) in self.counts.drain() {
            db.exec(&sql, args![metric, month, user, org, a, b, n, last])?;
        }
        for ((metric, org, user, a, b), n) in self.totals.drain() {
            db.exec(
                "INSERT INTO user_totals (metric, org, \"user\", a, b, n) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (metric, org, \"user\", a, b) DO UPDATE SET n = user_totals.n + excluded.n",
                args![metric, org, user, a, b, n],
            )?;
        }
        let sql = format!(
            "INSERT INTO org_activity (org, first) VALUES (?1, ?2)
             ON CONFLICT (org) DO UPDATE SET first = {min}(org_activity.first, excluded.first)"
        );
        for (org, first) in self.orgs.drain() {
            db.exec(&sql, args![org, first])?;
        }
        let day_upsert = format!(
            "INSERT INTO login_days (org, \"user\", day, n, first, last) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (org, \"user\", day) DO UPDATE
             SET n = login_days.n + excluded.n, first = {min}(login_days.first, excluded.first),
                 last = {max}(login_days.last, excluded.last)
             RETURNING n"
        );
        for ((org, user, day), (n, first, last)) in self.login_days.drain() {
            let stored = first_row(db, &day_upsert, args![org, user, day, n, first, last])?;
            // The row holds only this batch's logins: the day is new.
            if stored == Some(n) {
                db.exec(
                    "INSERT INTO login_months (month, org, \"user\", days) VALUES (?1, ?2, ?3, 1)
                     ON CONFLICT (month, org, \"user\") DO UPDATE SET days = login_months.days + 1",
                    args![Day(day).month().0, org, user],
                )?;
            }
        }
        for ((org, user), times) in self.logins.drain() {
            login_state(db, settings, org, user, &times)?;
        }
        Ok(())
    }
}

/// The first column of the first row, as an integer.
fn first_row(db: &dyn Db, sql: &str, args: &[super::sql::Arg<'_>]) -> anyhow::Result<Option<i64>> {
    first(db, sql, args, |r| r.int(0))
}

/// Updates the rollups for one newly stored event: additive updates go to
/// `pending`, the rest is written at once.
pub fn apply(
    db: &dyn Db,
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
                let title = strings.id(title)?;
                db.exec(
                    "INSERT INTO action_titles (day, org, action, time, id, title) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (day, org, action) DO UPDATE SET time = excluded.time, id = excluded.id, title = excluded.title
                     WHERE (excluded.time, excluded.id) > (action_titles.time, action_titles.id)",
                    args![day.0, org, action, t, &event.id, title],
                )?;
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
                db,
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
            member(db, org, strings.id(user)?, event, 0, None, None, None)?
        }
        EventBody::EntitySnapshot { counts } => {
            let total: u64 = counts.iter().map(|c| c.count).sum();
            let encoded = super::row::encode_counts(counts);
            db.exec(
                "INSERT INTO snapshots (org, time, id, total, counts) VALUES (?1, ?2, ?3, ?4, ?5)",
                args![org, t, &event.id, total as i64, &encoded],
            )?;
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
            db.exec(
                "INSERT INTO source_log (org, source, time, id, kind, name) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                args![org, keys.0, t, &event.id, keys.1, keys.2],
            )?;
        }
        EventBody::DataSourceDeleted { data_source } => {
            let source = strings.id(data_source)?;
            db.exec(
                "INSERT INTO source_log (org, source, time, id) VALUES (?1, ?2, ?3, ?4)",
                args![org, source, t, &event.id],
            )?;
        }
    }
    Ok(())
}

/// Adds `times` to the stored login state of `(org, user)`.
fn login_state(
    db: &dyn Db,
    settings: &RollupSettings,
    org: i64,
    user: i64,
    times: &[Micros],
) -> anyhow::Result<()> {
    let stored = first(
        db,
        "SELECT logins, last, state FROM login_users WHERE org = ?1 AND \"user\" = ?2",
        args![org, user],
        |r| Ok((r.int(0)?, r.int(1)?, r.bytes(2)?)),
    )?;
    let mut state = match stored {
        Some((logins, last, bytes)) => LoginState::decode(logins, Micros(last), &bytes)?,
        None => LoginState::default(),
    };
    for time in times {
        state.add(*time, settings.calendar.week_of(*time), settings);
    }
    let encoded = state.encode();
    db.exec(
        "INSERT INTO login_users (org, \"user\", logins, last, state) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (org, \"user\") DO UPDATE SET logins = excluded.logins, last = excluded.last, state = excluded.state",
        args![org, user, state.logins, state.last.0, &encoded],
    )?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn member(
    db: &dyn Db,
    org: i64,
    user: i64,
    event: &Event,
    role: i64,
    teams: Option<&str>,
    name: Option<i64>,
    email: Option<i64>,
) -> anyhow::Result<()> {
    let (t, id) = (event.time.0, event.id.as_str());
    db.exec(
        "INSERT INTO member_log (org, \"user\", time, id, role, teams, name, email) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        args![org, user, t, id, role, teams, name, email],
    )?;
    let when = |field: Option<i64>| field.map(|_| (t, id));
    db.exec(
        "INSERT INTO members_now (org, \"user\", time, id, role, teams, name, name_time, name_id, email, email_time, email_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (org, \"user\") DO UPDATE SET time = excluded.time, id = excluded.id, role = excluded.role, teams = excluded.teams
         WHERE (excluded.time, excluded.id) > (members_now.time, members_now.id)",
        args![
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
    ],
    )?;
    // Each profile field follows its own latest value.
    for (field, value) in [("name", name), ("email", email)] {
        let Some(value) = value else { continue };
        let sql = format!(
            "UPDATE members_now SET {field} = ?1, {field}_time = ?2, {field}_id = ?3
             WHERE org = ?4 AND \"user\" = ?5 AND ({field}_time IS NULL OR (?2, ?3) > ({field}_time, {field}_id))"
        );
        db.exec(&sql, args![value, t, id, org, user])?;
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
            apply(db, &mut pending, &mut strings, settings, event, *org)?;
        }
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
