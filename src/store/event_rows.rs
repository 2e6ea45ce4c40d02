//! The `events` and `strings` tables, for both engines: storing an event
//! row, interning strings, and reading events back.

use std::collections::HashMap;

use rustc_hash::FxHashSet;

use anyhow::Context;

use super::BatchCounts;
use super::month_cells::CellChange;
use super::rollups;
use super::row::{StoredRow, from_row, to_row};
use super::sql::{Arg, ColType, Db, Dialect, Row, exec_rows, first};
use crate::args;
use crate::event::{Event, OrgSlug};
use crate::rollup::RollupSettings;
use crate::time::Micros;

/// Stores the events of `batches` that are not stored yet, with their
/// rollups, inside the caller's transaction; returns each batch's counts,
/// and what the transaction adds to per-user cells, to publish to this
/// process's readers once it has committed.
///
/// `before_rollups` runs after the strings and events are written and
/// before any rollup is read or written: PostgreSQL takes its write lock
/// there, so that concurrent writers insert their events side by side and
/// queue only for the rollups. Every string the rollups need is interned
/// before it, so nothing under the lock waits on another writer's rows.
/// The first of several events with one `(org, id)` wins, in the store or
/// earlier in these batches. Strings, events and each rollup table are
/// written with one bulk statement each.
pub fn write_batches(
    db: &dyn Db,
    cache: &mut HashMap<String, i64>,
    settings: &RollupSettings,
    batches: &[&[Event]],
    before_rollups: &dyn Fn(&dyn Db) -> anyhow::Result<()>,
) -> anyhow::Result<(Vec<BatchCounts>, Vec<CellChange>)> {
    let mut strings = Interner::new(db, cache);
    let rows: Vec<(&Event, super::row::Row<'_>)> = batches
        .iter()
        .flat_map(|b| b.iter())
        .map(|e| (e, to_row(&e.body)))
        .collect();
    let mut needed: Vec<&str> = rows
        .iter()
        .flat_map(|(e, r)| [Some(e.org.as_str()), r.user, r.subject, r.label, r.extra])
        .flatten()
        .collect();
    for name in rollups::extra_strings() {
        needed.push(name);
    }
    strings.prefetch(needed.into_iter())?;
    let mut ids = Vec::with_capacity(rows.len());
    for (event, row) in &rows {
        ids.push([
            strings.id(event.org.as_str())?,
            strings.id_or_zero(row.user)?,
            strings.id_or_zero(row.subject)?,
            strings.id_or_zero(row.label)?,
            strings.id_or_zero(row.extra)?,
        ]);
    }
    let none = |id: i64| if id == 0 { None } else { Some(id) };
    let values: Vec<Vec<Arg<'_>>> = rows
        .iter()
        .zip(&ids)
        .map(|((event, row), [org, user, subject, label, extra])| {
            args![
                *org,
                &event.id,
                event.time.0,
                row.kind,
                none(*user),
                none(*subject),
                none(*label),
                none(*extra),
                row.code,
                row.list.as_deref()
            ]
            .to_vec()
        })
        .collect();
    let mut inserted = insert_new(db, &values, &rows, &ids)?;
    before_rollups(db)?;
    let mut pending = rollups::Pending::default();
    let mut counts = Vec::with_capacity(batches.len());
    let mut next = rows.iter().zip(&ids);
    for batch in batches {
        let mut batch_counts = BatchCounts::default();
        for _ in 0..batch.len() {
            let ((event, _), [org, ..]) = next.next().context("one row per event")?;
            // Only the first of equal keys finds its key in `inserted`.
            if inserted.remove(&(*org, event.id.clone())) {
                rollups::apply(&mut pending, &mut strings, settings, event, *org)?;
                batch_counts.accepted += 1;
            } else {
                batch_counts.duplicates += 1;
            }
        }
        counts.push(batch_counts);
    }
    let changes = pending.flush(db, settings)?;
    Ok((counts, changes))
}

const INSERT_EVENTS: &str =
    "INSERT INTO events (org, id, time, kind, \"user\", subject, label, extra, code, list)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
const EVENT_TYPES: [ColType; 10] = [
    ColType::Int,
    ColType::Text,
    ColType::Int,
    ColType::Int,
    ColType::Int,
    ColType::Int,
    ColType::Int,
    ColType::Int,
    ColType::Int,
    ColType::Text,
];

/// Inserts the events whose `(org, id)` is not stored yet (the first of
/// equal keys among them) and returns the keys inserted.
///
/// SQLite skips stored keys with `ON CONFLICT DO NOTHING` row by row.
/// PostgreSQL's conflict handling (a speculative insertion per row) cost
/// twice a plain insert, so there the stored keys are looked up first and
/// the rest inserted plainly: no other writer can insert meanwhile, as
/// every writer holds the advisory write lock.
fn insert_new(
    db: &dyn Db,
    values: &[Vec<Arg<'_>>],
    rows: &[(&Event, super::row::Row<'_>)],
    ids: &[[i64; 5]],
) -> anyhow::Result<FxHashSet<(i64, String)>> {
    let mut inserted: FxHashSet<(i64, String)> = FxHashSet::default();
    match db.dialect() {
        Dialect::Sqlite => {
            // Row by row, the count of changed rows says whether it was new
            // (cheaper in SQLite than a RETURNING clause).
            let sql = format!("{INSERT_EVENTS} ON CONFLICT (org, id) DO NOTHING");
            for (((event, _), [org, ..]), row) in rows.iter().zip(ids).zip(values) {
                if db.exec(&sql, row)? == 1 {
                    inserted.insert((*org, event.id.clone()));
                }
            }
        }
        Dialect::Postgres => {
            // Optimistically, none is stored yet (a live portal's stream):
            // one plain insert under a savepoint, without any conflict
            // handling. A unique violation means some are (a client's
            // retry, or another writer storing the same batch): then the
            // batch is inserted again with `ON CONFLICT DO NOTHING`, which
            // waits for a concurrent writer of the same key to finish and
            // returns the rows that were new. In key order, so that writers
            // of overlapping batches wait on each other's rows in one order,
            // never in a cycle.
            let mut fresh = Vec::with_capacity(values.len());
            for (((event, _), [org, ..]), row) in rows.iter().zip(ids).zip(values) {
                if inserted.insert((*org, event.id.clone())) {
                    fresh.push(((*org, event.id.as_str()), row.clone()));
                }
            }
            fresh.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            let fresh: Vec<Vec<Arg<'_>>> = fresh.into_iter().map(|(_, row)| row).collect();
            db.exec("SAVEPOINT new_events", args![])?;
            match exec_rows(db, INSERT_EVENTS, &EVENT_TYPES, &fresh) {
                Ok(()) => {
                    db.exec("RELEASE SAVEPOINT new_events", args![])?;
                    return Ok(inserted);
                }
                Err(e) if is_unique_violation(&e) => {
                    db.exec("ROLLBACK TO SAVEPOINT new_events", args![])?;
                    inserted.clear();
                }
                Err(e) => return Err(e),
            }
            db.each_row_of(
                &format!("{INSERT_EVENTS} ON CONFLICT (org, id) DO NOTHING RETURNING org, id"),
                &EVENT_TYPES,
                &fresh,
                &mut |r| {
                    inserted.insert((r.int(0)?, r.text(1)?));
                    Ok(())
                },
            )?;
        }
    }
    Ok(inserted)
}

/// Whether `e` is PostgreSQL's unique violation (SQLSTATE 23505).
fn is_unique_violation(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<postgres::Error>()
            .and_then(postgres::Error::code)
            == Some(&postgres::error::SqlState::UNIQUE_VIOLATION)
    })
}

/// Finds or creates the id of a string inside the writer's transaction.
pub struct Interner<'a> {
    db: &'a dyn Db,
    cache: &'a mut HashMap<String, i64>,
}

impl<'a> Interner<'a> {
    pub fn new(db: &'a dyn Db, cache: &'a mut HashMap<String, i64>) -> Interner<'a> {
        Interner { db, cache }
    }

    /// The id of an optional string, 0 for none (the rollups' "none").
    pub fn id_or_zero(&mut self, value: Option<&str>) -> anyhow::Result<i64> {
        Ok(self.id_opt(value)?.unwrap_or(0))
    }

    pub fn id(&mut self, value: &str) -> anyhow::Result<i64> {
        if let Some(id) = self.cache.get(value) {
            return Ok(*id);
        }
        let found = first(
            self.db,
            "SELECT id FROM strings WHERE value = ?1",
            args![value],
            |r| r.int(0),
        )?;
        let id = match found {
            Some(id) => id,
            None => first(
                self.db,
                "INSERT INTO strings (value) VALUES (?1) RETURNING id",
                args![value],
                |r| r.int(0),
            )?
            .context("the new string has no id")?,
        };
        self.cache.insert(value.to_owned(), id);
        Ok(id)
    }

    /// Learns the ids of `values` (creating the missing strings) in one
    /// bulk statement, so that [`Interner::id`] finds them all cached.
    pub fn prefetch<'v>(&mut self, values: impl Iterator<Item = &'v str>) -> anyhow::Result<()> {
        let mut missing: Vec<&str> = values.filter(|v| !self.cache.contains_key(*v)).collect();
        missing.sort_unstable();
        missing.dedup();
        let rows: Vec<Vec<Arg<'_>>> = missing.iter().map(|v| args![*v].to_vec()).collect();
        let cache = &mut *self.cache;
        self.db.each_row_of(
            // The no-op update makes existing strings return their id too.
            "INSERT INTO strings (value) VALUES (?1)
             ON CONFLICT (value) DO UPDATE SET value = excluded.value
             RETURNING id, value",
            &[ColType::Text],
            &rows,
            &mut |r| {
                cache.insert(r.text(1)?, r.int(0)?);
                Ok(())
            },
        )
    }

    pub fn id_opt(&mut self, value: Option<&str>) -> anyhow::Result<Option<i64>> {
        value.map(|v| self.id(v)).transpose()
    }
}

const SELECT_EVENTS: &str =
    "SELECT o.value, e.id, e.time, e.kind, u.value, s.value, l.value, x.value, e.code, e.list, e.org
       FROM events e
       JOIN strings o ON o.id = e.org
       LEFT JOIN strings u ON u.id = e.\"user\"
       LEFT JOIN strings s ON s.id = e.subject
       LEFT JOIN strings l ON l.id = e.label
       LEFT JOIN strings x ON x.id = e.extra";

fn event_of(r: &dyn Row) -> anyhow::Result<Event> {
    let org = r.text(0)?;
    let body = from_row(StoredRow {
        kind: r.int(3)?,
        user: r.opt_text(4)?,
        subject: r.opt_text(5)?,
        label: r.opt_text(6)?,
        extra: r.opt_text(7)?,
        code: r.int(8)?,
        list: r.opt_text(9)?,
    })?;
    Ok(Event {
        org: OrgSlug::parse(&org).with_context(|| format!("stored org {org} is not a slug"))?,
        id: r.text(1)?,
        time: Micros(r.int(2)?),
        body,
    })
}

/// Calls `f` with the stored events matching `filter` (SQL over the
/// `events` table as `e`, starting with `WHERE`).
pub fn read_events_where(
    db: &dyn Db,
    filter: &str,
    args: &[Arg<'_>],
    f: &mut dyn FnMut(Event) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    db.each(&format!("{SELECT_EVENTS} {filter}"), args, &mut |r| {
        f(event_of(r)?)
    })
}

/// Up to `limit` events after the key `after` (org id, event id) in key
/// order, with their org ids: a way through every event in bounded
/// memory, resumable from the last key.
pub fn read_page(
    db: &dyn Db,
    after: Option<&(i64, String)>,
    limit: i64,
    out: &mut Vec<(i64, Event)>,
) -> anyhow::Result<()> {
    let mut push = |r: &dyn Row| {
        out.push((r.int(10)?, event_of(r)?));
        Ok(())
    };
    match after {
        None => db.each(
            &format!("{SELECT_EVENTS} ORDER BY e.org, e.id LIMIT ?1"),
            args![limit],
            &mut push,
        ),
        Some((org, id)) => db.each(
            &format!(
                "{SELECT_EVENTS} WHERE e.org > ?1 OR (e.org = ?1 AND e.id > ?2) ORDER BY e.org, e.id LIMIT ?3"
            ),
            args![*org, id, limit],
            &mut push,
        ),
    }
}

/// Calls `f` with every stored event, a page at a time.
pub fn for_each_event(
    db: &dyn Db,
    f: &mut dyn FnMut(Event) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut after: Option<(i64, String)> = None;
    loop {
        let mut page = Vec::new();
        read_page(db, after.as_ref(), 10_000, &mut page)?;
        let Some((org, last)) = page.last() else {
            return Ok(());
        };
        after = Some((*org, last.id.clone()));
        for (_, event) in page {
            f(event)?;
        }
    }
}
