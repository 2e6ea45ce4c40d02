//! The `login_summaries` and `month_logins` tables: each user's logins per
//! org over all time and per month (see `rollup::logins`). Both are read,
//! updated in memory and written back, a row per user (and month) touched.

use std::sync::Arc;

use anyhow::Context;
use rustc_hash::FxHashMap;

use super::super::parts::{Change, OrgUser, Part};
use super::super::sql::{Arg, ColType, Db, Dialect, exec_rows};
use crate::args;
use crate::calendar::{Day, Month};
use crate::rollup::RollupSettings;
use crate::rollup::logins::LoginSummary;
use crate::rollup::month_logins::MonthLogins;
use crate::time::Micros;

/// The logins one transaction adds, by user and org.
#[derive(Default)]
pub struct LoginTally {
    by_user: FxHashMap<OrgUser, Vec<(Day, Micros)>>,
}

impl LoginTally {
    pub fn add(&mut self, org: i64, user: i64, day: Day, time: Micros) {
        self.by_user
            .entry((org, user))
            .or_default()
            .push((day, time));
    }

    pub fn write(
        self,
        db: &dyn Db,
        settings: &RollupSettings,
    ) -> anyhow::Result<Vec<(Part, Change)>> {
        if self.by_user.is_empty() {
            return Ok(Vec::new());
        }
        let mut changes = vec![(
            Part::LoginSummaries,
            Change::LoginSummaries(write_summaries(db, settings, &self.by_user)?),
        )];
        let mut by_month: FxHashMap<Month, FxHashMap<OrgUser, Vec<(Day, Micros)>>> =
            FxHashMap::default();
        for (key, logins) in self.by_user {
            for (day, time) in logins {
                by_month
                    .entry(day.month())
                    .or_default()
                    .entry(key)
                    .or_default()
                    .push((day, time));
            }
        }
        for (month, logins) in by_month {
            changes.push((
                Part::MonthLogins(month),
                Change::MonthLogins(write_month(db, month, logins)?),
            ));
        }
        Ok(changes)
    }
}

/// A keyed read of rows of the touched `(…, org, user)`s: SQLite looks each
/// up by its key, PostgreSQL joins them all as arrays in one statement.
fn read_keyed(
    db: &dyn Db,
    sqlite: &str,
    postgres: &str,
    types: &[ColType],
    keys: &[Vec<Arg<'_>>],
    f: &mut dyn FnMut(&dyn super::super::sql::Row) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let sql = match db.dialect() {
        Dialect::Sqlite => sqlite,
        Dialect::Postgres => postgres,
    };
    db.each_row_of(sql, types, keys, f)
}

fn write_summaries(
    db: &dyn Db,
    settings: &RollupSettings,
    by_user: &FxHashMap<OrgUser, Vec<(Day, Micros)>>,
) -> anyhow::Result<Vec<(OrgUser, Arc<LoginSummary>)>> {
    let keys: Vec<Vec<Arg<'_>>> = by_user
        .keys()
        .map(|(org, user)| args![*org, *user].to_vec())
        .collect();
    let mut stored: FxHashMap<OrgUser, LoginSummary> = FxHashMap::default();
    read_keyed(
        db,
        "SELECT s.org, s.\"user\", s.summary FROM login_summaries s WHERE s.org = ?1 AND s.\"user\" = ?2",
        "SELECT s.org, s.\"user\", s.summary
           FROM login_summaries s JOIN (VALUES (?1, ?2)) AS k (org, u) ON s.org = k.org AND s.\"user\" = k.u",
        &[ColType::Int; 2],
        &keys,
        &mut |r| {
            stored.insert(
                (r.int(0)?, r.int(1)?),
                LoginSummary::decode(&r.bytes(2)?).context("a stored login summary")?,
            );
            Ok(())
        },
    )?;
    let mut updated: Vec<(OrgUser, Arc<LoginSummary>)> = Vec::with_capacity(by_user.len());
    for (key, logins) in by_user {
        let mut summary = stored.remove(key).unwrap_or_default();
        for (day, time) in logins {
            summary.add(*time, *day, settings);
        }
        updated.push((*key, Arc::new(summary)));
    }
    let encoded: Vec<(OrgUser, Vec<u8>)> = updated.iter().map(|(k, s)| (*k, s.encode())).collect();
    let rows: Vec<Vec<Arg<'_>>> = encoded
        .iter()
        .map(|((org, user), bytes)| args![*org, *user, bytes].to_vec())
        .collect();
    exec_rows(
        db,
        "INSERT INTO login_summaries (org, \"user\", summary) VALUES (?1, ?2, ?3)
         ON CONFLICT (org, \"user\") DO UPDATE SET summary = excluded.summary",
        &[ColType::Int, ColType::Int, ColType::Bytes],
        &rows,
    )?;
    Ok(updated)
}

fn write_month(
    db: &dyn Db,
    month: Month,
    logins: FxHashMap<OrgUser, Vec<(Day, Micros)>>,
) -> anyhow::Result<Vec<(OrgUser, Arc<MonthLogins>)>> {
    let keys: Vec<Vec<Arg<'_>>> = logins
        .keys()
        .map(|(org, user)| args![month.0, *org, *user].to_vec())
        .collect();
    let mut stored: FxHashMap<OrgUser, MonthLogins> = FxHashMap::default();
    read_keyed(
        db,
        "SELECT m.org, m.\"user\", m.times FROM month_logins m WHERE m.month = ?1 AND m.org = ?2 AND m.\"user\" = ?3",
        "SELECT m.org, m.\"user\", m.times
           FROM month_logins m JOIN (VALUES (?1, ?2, ?3)) AS k (month, org, u)
             ON m.month = k.month AND m.org = k.org AND m.\"user\" = k.u",
        &[ColType::Int; 3],
        &keys,
        &mut |r| {
            stored.insert(
                (r.int(0)?, r.int(1)?),
                MonthLogins::decode(month, &r.bytes(2)?).context("stored month logins")?,
            );
            Ok(())
        },
    )?;
    let mut updated = Vec::with_capacity(logins.len());
    for (key, new) in logins {
        let mut month_logins = stored.remove(&key).unwrap_or_default();
        month_logins.add(&new);
        updated.push((key, Arc::new(month_logins)));
    }
    let encoded: Vec<(OrgUser, i64, Vec<u8>)> = updated
        .iter()
        .map(|(k, m)| (*k, m.day_count() as i64, m.encode(month)))
        .collect();
    let rows: Vec<Vec<Arg<'_>>> = encoded
        .iter()
        .map(|((org, user), days, bytes)| args![month.0, *org, *user, *days, bytes].to_vec())
        .collect();
    exec_rows(
        db,
        "INSERT INTO month_logins (month, org, \"user\", days, times) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (month, org, \"user\") DO UPDATE SET days = excluded.days, times = excluded.times",
        &[ColType::Int, ColType::Int, ColType::Int, ColType::Int, ColType::Bytes],
        &rows,
    )?;
    Ok(updated)
}
