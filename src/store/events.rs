//! The `events`, `event_keys` and `strings` tables, for both engines:
//! storing the events not stored yet (the first write of an `(org, id)`
//! wins), interning strings, and reading events back.

use anyhow::Context;
use rustc_hash::{FxHashMap, FxHashSet};
use sha2::{Digest, Sha256};

use super::BatchCounts;
use super::erase::Erasures;
use super::sql::{Arg, ColType, Db, Dialect, Row, exec_rows, first};
use crate::args;
use crate::event::columns::{Columns, from_columns, to_columns};
use crate::event::{Event, OrgSlug};
use crate::rollup::cells::TRIGGER_NAMES;
use crate::time::Micros;

/// The stored form of an event id in `event_keys`: the first 16 bytes of
/// its SHA-256. Two ids of one org sharing it are as likely as two random
/// 128-bit numbers being equal (see docs/DECISIONS.md).
pub fn event_key(id: &str) -> EventKey {
    let digest = Sha256::digest(id.as_bytes());
    digest[..16].try_into().expect("a SHA-256 is 32 bytes")
}

pub type EventKey = [u8; 16];

/// A batch of events on its way to a writer, with each one's key: hashed
/// by the thread that hands the batch over, so that the writer, the one
/// thread that holds the write lock, does not.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    pub events: Vec<Event>,
    pub keys: Vec<EventKey>,
}

impl Batch {
    pub fn new(events: Vec<Event>) -> Batch {
        let keys = events.iter().map(|e| event_key(&e.id)).collect();
        Batch { events, keys }
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

/// An event this transaction stored, with its org and columns as string
/// ids.
pub struct NewEvent<'e> {
    pub event: &'e Event,
    pub org: i64,
    pub columns: Columns<i64>,
}

/// The ids of the trigger names `ui` and `api`, as cells key them.
pub fn trigger_ids(strings: &mut Interner<'_>) -> anyhow::Result<[i64; 2]> {
    // Interned by the upsert, which another writer creating them at the
    // same time waits for rather than fails on.
    strings.prefetch(TRIGGER_NAMES.into_iter())?;
    Ok([strings.id(TRIGGER_NAMES[0])?, strings.id(TRIGGER_NAMES[1])?])
}

/// Stores the events of `batches` whose `(org, id)` is not stored yet
/// (the first of equal keys among them), inside the caller's transaction:
/// their keys, their rows and their strings. Returns each batch's counts
/// and the events stored. Nothing here takes the write lock: on
/// PostgreSQL writers insert side by side, the unique keys arbitrating.
pub fn insert_new<'e>(
    db: &dyn Db,
    strings: &mut Interner<'_>,
    erased: &Erasures,
    batches: &[&'e Batch],
) -> anyhow::Result<(Vec<NewEvent<'e>>, Vec<BatchCounts>)> {
    let events: Vec<&Event> = batches.iter().flat_map(|b| b.events.iter()).collect();
    let keys = batches.iter().flat_map(|b| b.keys.iter());
    let columns: Vec<Columns<&str>> = events.iter().map(|e| to_columns(&e.body)).collect();
    // An erased person's event from before the erasure counts as a
    // duplicate: it was stored once, and is gone on purpose. None of its
    // strings is interned.
    let refused: Vec<bool> = events
        .iter()
        .zip(&columns)
        .map(|(event, c)| {
            c.user
                .is_some_and(|user| erased.refuses(event.org.as_str(), user, event.time))
        })
        .collect();
    strings.prefetch(
        events
            .iter()
            .zip(&refused)
            .filter(|(_, refused)| !**refused)
            .map(|(e, _)| e.org.as_str())
            .chain(
                columns
                    .iter()
                    .zip(&refused)
                    .filter(|(_, refused)| !**refused)
                    .flat_map(|(c, _)| c.strings().copied()),
            )
            .chain(TRIGGER_NAMES),
    )?;
    // The key of each event; the first of equal keys in these batches is
    // the candidate, the rest are duplicates.
    let mut seen: FxHashSet<(i64, EventKey)> = FxHashSet::default();
    let mut candidates: Vec<(usize, i64, EventKey)> = Vec::with_capacity(events.len());
    for (i, (event, key)) in events.iter().zip(keys).enumerate() {
        if refused[i] {
            continue;
        }
        let org = strings.id(event.org.as_str())?;
        let key = *key;
        if seen.insert((org, key)) {
            candidates.push((i, org, key));
        }
    }
    let new_keys = insert_keys(db, &candidates)?;
    let mut stored = Vec::with_capacity(new_keys.len());
    let mut is_new = vec![false; events.len()];
    for (i, org, key) in candidates {
        if new_keys.contains(&(org, key)) {
            is_new[i] = true;
            let ids = columns[i].clone().map(|s| strings.id(s))?;
            stored.push(NewEvent {
                event: events[i],
                org,
                columns: ids,
            });
        }
    }
    insert_rows(db, &stored)?;
    let mut counts = Vec::with_capacity(batches.len());
    let mut flags = is_new.into_iter();
    for batch in batches {
        let mut c = BatchCounts::default();
        for new in flags.by_ref().take(batch.events.len()) {
            if new {
                c.accepted += 1;
            } else {
                c.duplicates += 1;
            }
        }
        counts.push(c);
    }
    Ok((stored, counts))
}

/// Inserts the keys not stored yet; returns those it inserted.
///
/// SQLite skips stored keys with `ON CONFLICT DO NOTHING` row by row,
/// returning the rows it inserted. PostgreSQL's conflict handling costs a
/// speculative insertion per row, so it first inserts the whole batch
/// plainly under a savepoint, expecting none stored (a live stream); only
/// a unique violation (a client's retry, or another writer storing the
/// same keys) makes it insert again with `ON CONFLICT DO NOTHING
/// RETURNING`, which waits for a concurrent inserter of the same key and
/// returns the rows that were new. Keys go in order, so two writers of
/// overlapping batches wait on each other in one order, never in a cycle.
fn insert_keys(
    db: &dyn Db,
    candidates: &[(usize, i64, EventKey)],
) -> anyhow::Result<FxHashSet<(i64, EventKey)>> {
    const INSERT: &str = "INSERT INTO event_keys (org, key) VALUES (?1, ?2)";
    let mut keys: Vec<(i64, EventKey)> = candidates.iter().map(|(_, o, k)| (*o, *k)).collect();
    keys.sort_unstable();
    let mut inserted = FxHashSet::default();
    let rows: Vec<Vec<Arg<'_>>> = keys
        .iter()
        .map(|(org, key)| args![*org, key.as_slice()].to_vec())
        .collect();
    let types = [ColType::Int, ColType::Bytes];
    match db.dialect() {
        Dialect::Sqlite => {
            let changed = db.exec_each(
                &format!("{INSERT} ON CONFLICT (org, key) DO NOTHING"),
                &rows,
            )?;
            inserted.extend(
                keys.iter()
                    .zip(changed)
                    .filter(|(_, changed)| *changed == 1)
                    .map(|(key, _)| *key),
            );
            return Ok(inserted);
        }
        Dialect::Postgres => {
            db.exec("SAVEPOINT new_keys", args![])?;
            match exec_rows(db, INSERT, &types, &rows) {
                Ok(()) => {
                    db.exec("RELEASE SAVEPOINT new_keys", args![])?;
                    inserted.extend(keys.iter().copied());
                    return Ok(inserted);
                }
                Err(e) if is_unique_violation(&e) => {
                    db.exec("ROLLBACK TO SAVEPOINT new_keys", args![])?;
                }
                Err(e) => return Err(e),
            }
        }
    }
    db.each_row_of(
        &format!("{INSERT} ON CONFLICT (org, key) DO NOTHING RETURNING org, key"),
        &types,
        &rows,
        &mut |r| {
            let key: EventKey = r
                .bytes(1)?
                .try_into()
                .ok()
                .context("a stored event key is not 16 bytes")?;
            inserted.insert((r.int(0)?, key));
            Ok(())
        },
    )?;
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

const INSERT_EVENTS: &str =
    "INSERT INTO events (time, org, id, kind, \"user\", subject, label, extra, code, list)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
const EVENT_TYPES: [ColType; 10] = [
    ColType::Int,
    ColType::Int,
    ColType::Text,
    ColType::Int,
    ColType::Int,
    ColType::Int,
    ColType::Int,
    ColType::Int,
    ColType::Int,
    ColType::Text,
];

/// Rows written by one bulk statement: the arguments of a few thousand
/// rows at a time, rather than of a whole transaction, are held in memory.
const ROWS_PER_STATEMENT: usize = 10_000;

fn insert_rows(db: &dyn Db, stored: &[NewEvent<'_>]) -> anyhow::Result<()> {
    for part in stored.chunks(ROWS_PER_STATEMENT) {
        insert_some_rows(db, part)?;
    }
    Ok(())
}

fn insert_some_rows(db: &dyn Db, stored: &[NewEvent<'_>]) -> anyhow::Result<()> {
    let rows: Vec<Vec<Arg<'_>>> = stored
        .iter()
        .map(|new| {
            let c = &new.columns;
            args![
                new.event.time.0,
                new.org,
                &new.event.id,
                c.kind,
                c.user,
                c.subject,
                c.label,
                c.extra,
                c.code,
                c.list.as_deref()
            ]
            .to_vec()
        })
        .collect();
    exec_rows(db, INSERT_EVENTS, &EVENT_TYPES, &rows)
}

/// Finds or creates the id of a string inside the writer's transaction.
pub struct Interner<'a> {
    db: &'a dyn Db,
    cache: &'a mut FxHashMap<String, i64>,
}

impl<'a> Interner<'a> {
    pub fn new(db: &'a dyn Db, cache: &'a mut FxHashMap<String, i64>) -> Interner<'a> {
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

/// An event as stored, its strings still ids.
#[derive(Clone, Debug)]
pub struct RawEvent {
    pub time: Micros,
    pub org: i64,
    pub columns: Columns<i64>,
}

/// The events of the orgs `org_filter` lets through (SQL over `events e`,
/// starting with ` AND`, or empty) with `after < time <= until`, their
/// strings as ids: what a report reads raw.
pub fn read_raw(
    db: &dyn Db,
    after: Micros,
    until: Micros,
    org_filter: &str,
) -> anyhow::Result<Vec<RawEvent>> {
    let mut out = Vec::new();
    if until <= after {
        return Ok(out);
    }
    let sql = format!(
        "SELECT e.time, e.org, e.kind, e.\"user\", e.subject, e.label, e.extra, e.code
           FROM events e WHERE e.time > ?1 AND e.time <= ?2{org_filter}"
    );
    db.each(&sql, args![after.0, until.0], &mut |r| {
        out.push(RawEvent {
            time: Micros(r.int(0)?),
            org: r.int(1)?,
            columns: Columns {
                kind: r.int(2)?,
                user: r.opt_int(3)?,
                subject: r.opt_int(4)?,
                label: r.opt_int(5)?,
                extra: r.opt_int(6)?,
                code: r.int(7)?,
                list: None,
            },
        });
        Ok(())
    })?;
    Ok(out)
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
    let body = from_columns(Columns {
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

/// Where a walk through every event stands: the `(time, org, id)` of
/// the last event seen.
pub type EventPosition = (i64, i64, String);

/// Up to `limit` events after `after` in `(time, org, id)` order, with
/// their org ids: a way through every event in bounded memory, resumable
/// from the last one.
pub fn read_page(
    db: &dyn Db,
    after: Option<&EventPosition>,
    limit: i64,
    out: &mut Vec<(i64, Event)>,
) -> anyhow::Result<()> {
    let mut push = |r: &dyn Row| {
        out.push((r.int(10)?, event_of(r)?));
        Ok(())
    };
    match after {
        None => db.each(
            &format!("{SELECT_EVENTS} ORDER BY e.time, e.org, e.id LIMIT ?1"),
            args![limit],
            &mut push,
        ),
        Some((time, org, id)) => db.each(
            &format!(
                "{SELECT_EVENTS} WHERE e.time > ?1 OR (e.time = ?1 AND (e.org > ?2 OR (e.org = ?2 AND e.id > ?3)))
                 ORDER BY e.time, e.org, e.id LIMIT ?4"
            ),
            args![*time, *org, id, limit],
            &mut push,
        ),
    }
}

/// Calls `f` with every stored event, a page at a time, oldest first.
pub fn for_each_event(
    db: &dyn Db,
    f: &mut dyn FnMut(Event) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut after: Option<EventPosition> = None;
    loop {
        let mut page = Vec::new();
        read_page(db, after.as_ref(), 10_000, &mut page)?;
        let Some((org, last)) = page.last() else {
            return Ok(());
        };
        after = Some((last.time.0, *org, last.id.clone()));
        for (_, event) in page {
            f(event)?;
        }
    }
}

/// Records the keys of `events` (org id, event) as stored, whether or not
/// they were: what a rebuild of the rollups does for every event.
pub fn record_keys(db: &dyn Db, events: &[(i64, &Event)]) -> anyhow::Result<()> {
    let keys: Vec<(i64, EventKey)> = events
        .iter()
        .map(|(org, e)| (*org, event_key(&e.id)))
        .collect();
    let rows: Vec<Vec<Arg<'_>>> = keys
        .iter()
        .map(|(org, key)| args![*org, key.as_slice()].to_vec())
        .collect();
    exec_rows(
        db,
        "INSERT INTO event_keys (org, key) VALUES (?1, ?2) ON CONFLICT (org, key) DO NOTHING",
        &[ColType::Int, ColType::Bytes],
        &rows,
    )
}
