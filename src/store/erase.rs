//! Erasing a person (`uptake erase`) and deleting old raw events
//! (retention), for both engines.
//!
//! Erasure deletes the person's events and takes out exactly what they
//! contributed to every rollup: their cells, login summaries, month logins,
//! member entries and titled runs are rows of their own (each keyed by
//! user), so they are deleted; the latest title of an action on a day they
//! ran it is chosen again from the runs that remain, and an org's first
//! event is found again when it was theirs. The strings only they used
//! (their id, name, e-mail) are deleted too. What is left equals what a
//! store that never received their events would hold, so every widget
//! answers as if they had never been sent. The epoch is raised, so every
//! process drops what it kept, and writers forget their string ids.
//!
//! The person is remembered only as the SHA-256 of their id
//! (`erasures`), so that an event of theirs dated at or before the erasure
//! arriving later is not stored (it counts as a duplicate).

use rustc_hash::FxHashMap;
use sha2::{Digest, Sha256};

use super::sql::{Db, first};
use super::write::versions;
use crate::args;
use crate::time::Micros;

/// The people erased, as writers check arriving events against them.
#[derive(Clone, Debug, Default)]
pub struct Erasures {
    /// By the SHA-256 of the user id: the org ("" for every org) and the
    /// instant of each erasure.
    by_user: FxHashMap<[u8; 32], Vec<(String, Micros)>>,
}

impl Erasures {
    /// Every erasure recorded in the store.
    pub fn load(db: &dyn Db) -> anyhow::Result<Erasures> {
        let mut out = Erasures::default();
        db.each(
            "SELECT user_sha256, org, erased_at FROM erasures",
            args![],
            &mut |r| {
                let hash: [u8; 32] = r
                    .bytes(0)?
                    .try_into()
                    .map_err(|_| anyhow::anyhow!("a stored erasure hash is not 32 bytes"))?;
                out.by_user
                    .entry(hash)
                    .or_default()
                    .push((r.text(1)?, Micros(r.int(2)?)));
                Ok(())
            },
        )?;
        Ok(out)
    }

    /// Whether an event of `user` in `org` at `time` belongs to an erased
    /// person and must not be stored.
    pub fn refuses(&self, org: &str, user: &str, time: Micros) -> bool {
        if self.by_user.is_empty() {
            return false;
        }
        let hash: [u8; 32] = Sha256::digest(user.as_bytes()).into();
        self.by_user.get(&hash).is_some_and(|list| {
            list.iter()
                .any(|(o, at)| (o.is_empty() || o == org) && time <= *at)
        })
    }
}

/// Erases `user` (in `org`, or in every org) inside the caller's write
/// transaction; returns the number of events deleted.
pub fn erase_user(db: &dyn Db, user: &str, org: Option<&str>, at: Micros) -> anyhow::Result<u64> {
    let hash: [u8; 32] = Sha256::digest(user.as_bytes()).into();
    let org_text = org.unwrap_or("");
    let updated = db.exec(
        "UPDATE erasures SET erased_at = ?3 WHERE user_sha256 = ?1 AND org = ?2 AND erased_at < ?3",
        args![hash.as_slice(), org_text, at.0],
    )?;
    if updated == 0 {
        db.exec(
            "INSERT INTO erasures (user_sha256, org, erased_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (user_sha256, org) DO NOTHING",
            args![hash.as_slice(), org_text, at.0],
        )?;
    }
    versions::raise_epoch(db)?;
    let id_of = |value: &str| {
        first(
            db,
            "SELECT id FROM strings WHERE value = ?1",
            args![value],
            |r| r.int(0),
        )
    };
    let Some(uid) = id_of(user)? else {
        return Ok(0);
    };
    let org_id = match org {
        Some(slug) => match id_of(slug)? {
            Some(id) => Some(id),
            // No event was ever stored in that org.
            None => return Ok(0),
        },
        None => None,
    };
    let in_org = |column: &str| match org_id {
        Some(id) => format!(" AND {column} = {id}"),
        None => String::new(),
    };

    // What must be looked at again once the rows are gone: the names and
    // e-mails they gave, the action days whose latest title may be
    // theirs, and the orgs whose first event may be theirs.
    let mut strings = vec![uid];
    db.each(
        &format!(
            "SELECT DISTINCT name, email FROM member_log WHERE \"user\" = ?1{}",
            in_org("org")
        ),
        args![uid],
        &mut |r| {
            strings.extend(r.opt_int(0)?);
            strings.extend(r.opt_int(1)?);
            Ok(())
        },
    )?;
    let mut title_days = Vec::new();
    db.each(
        &format!(
            "SELECT DISTINCT day, org, action FROM titled_runs WHERE \"user\" = ?1{}",
            in_org("org")
        ),
        args![uid],
        &mut |r| {
            title_days.push((r.int(0)?, r.int(1)?, r.int(2)?));
            Ok(())
        },
    )?;
    let mut first_times = Vec::new();
    db.each(
        &format!(
            "SELECT org, min(time) FROM events WHERE \"user\" = ?1{} GROUP BY org",
            in_org("org")
        ),
        args![uid],
        &mut |r| {
            first_times.push((r.int(0)?, r.int(1)?));
            Ok(())
        },
    )?;

    let deleted = db.exec(
        &format!("DELETE FROM events WHERE \"user\" = ?1{}", in_org("org")),
        args![uid],
    )?;
    for table in [
        "cells",
        "login_summaries",
        "month_logins",
        "member_log",
        "titled_runs",
    ] {
        db.exec(
            &format!("DELETE FROM {table} WHERE \"user\" = ?1{}", in_org("org")),
            args![uid],
        )?;
    }
    for (day, org, action) in title_days {
        db.exec(
            "DELETE FROM action_titles WHERE day = ?1 AND org = ?2 AND action = ?3",
            args![day, org, action],
        )?;
        db.exec(
            "INSERT INTO action_titles (day, org, action, time, id, title)
             SELECT day, org, action, time, id, title FROM titled_runs
             WHERE day = ?1 AND org = ?2 AND action = ?3
             ORDER BY time DESC, id DESC LIMIT 1",
            args![day, org, action],
        )?;
    }
    for (org, erased_first) in first_times {
        let kept = first(
            db,
            "SELECT first FROM org_activity WHERE org = ?1",
            args![org],
            |r| r.int(0),
        )?;
        if kept != Some(erased_first) {
            continue;
        }
        let remaining = first(
            db,
            "SELECT min(time) FROM events WHERE org = ?1",
            args![org],
            |r| r.opt_int(0),
        )?
        .flatten();
        match remaining {
            Some(time) => db.exec(
                "UPDATE org_activity SET first = ?2 WHERE org = ?1",
                args![org, time],
            )?,
            None => db.exec("DELETE FROM org_activity WHERE org = ?1", args![org])?,
        };
    }
    strings.sort_unstable();
    strings.dedup();
    for id in strings {
        if !referenced(db, id)? {
            db.exec("DELETE FROM strings WHERE id = ?1", args![id])?;
        }
    }
    Ok(deleted)
}

/// Whether any stored row still refers to string `id`.
fn referenced(db: &dyn Db, id: i64) -> anyhow::Result<bool> {
    const USES: &[(&str, &[&str])] = &[
        ("events", &["org", "\"user\"", "subject", "label", "extra"]),
        ("cells", &["org", "\"user\"", "subject", "facet"]),
        ("login_summaries", &["org", "\"user\""]),
        ("month_logins", &["org", "\"user\""]),
        ("member_log", &["org", "\"user\"", "name", "email"]),
        ("titled_runs", &["org", "\"user\"", "action", "title"]),
        ("action_titles", &["org", "action", "title"]),
        ("source_log", &["org", "source", "kind", "name"]),
        ("snapshots", &["org"]),
        ("org_activity", &["org"]),
    ];
    for (table, columns) in USES {
        let condition = columns
            .iter()
            .map(|c| format!("{c} = ?1"))
            .collect::<Vec<_>>()
            .join(" OR ");
        let found = first(
            db,
            &format!("SELECT org FROM {table} WHERE {condition} LIMIT 1"),
            args![id],
            |r| r.int(0),
        )?;
        if found.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Work to run in a write transaction of the engine.
pub type Slice<'a> = dyn FnMut(&dyn Db) -> anyhow::Result<u64> + 'a;
/// Runs a [`Slice`] in a write transaction and commits it.
pub type InWrite<'a> = dyn FnMut(&mut Slice<'_>) -> anyhow::Result<u64> + 'a;

/// Deletes the raw events dated before `horizon`, a slice at a time so
/// that writers wait no longer than one slice; returns how many. The
/// rollups are left as they are: they keep what the events counted.
pub fn delete_events_before(in_write: &mut InWrite<'_>, horizon: Micros) -> anyhow::Result<u64> {
    const SLICE: i64 = 20_000;
    let mut total = 0;
    loop {
        let deleted = in_write(&mut |db| {
            // The time of the slice's last event bounds the delete, so
            // each slice is one range of the time-ordered table.
            let bound = first(
                db,
                "SELECT time FROM events WHERE time < ?1 ORDER BY time LIMIT 1 OFFSET ?2",
                args![horizon.0, SLICE],
                |r| r.int(0),
            )?
            .unwrap_or(horizon.0);
            db.exec(
                "DELETE FROM events WHERE time < ?1 AND time <= ?2",
                args![horizon.0, bound],
            )
        })?;
        total += deleted;
        if deleted == 0 {
            return Ok(total);
        }
    }
}
