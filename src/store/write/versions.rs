//! `part_versions`: a version per part of the rollups, raised by every
//! transaction that changes the part, once; and the epoch, raised when
//! every kept part is stale at once.

use std::collections::{BTreeSet, HashMap};

use super::super::parts::{EPOCH, Part, WRITES};
use super::super::sql::{Arg, ColType, Db};
use crate::args;

/// Raises the version of each of `parts` by one, and the count of writes;
/// returns the new versions.
pub fn raise(db: &dyn Db, parts: impl Iterator<Item = Part>) -> anyhow::Result<HashMap<Part, i64>> {
    let parts: BTreeSet<Part> = parts.collect();
    let rows: Vec<Vec<Arg<'_>>> = parts
        .iter()
        .map(|p| p.code())
        .chain([WRITES])
        .map(|(part, period)| args![part, period, 1].to_vec())
        .collect();
    let mut raised = HashMap::with_capacity(rows.len());
    db.each_row_of(
        "INSERT INTO part_versions (part, period, version) VALUES (?1, ?2, ?3)
         ON CONFLICT (part, period) DO UPDATE SET version = part_versions.version + 1
         RETURNING part, period, version",
        &[ColType::Int; 3],
        &rows,
        &mut |r| {
            if let Some(part) = Part::from_code(r.int(0)?, r.int(1)?) {
                raised.insert(part, r.int(2)?);
            }
            Ok(())
        },
    )?;
    Ok(raised)
}

/// Raises the epoch: every part readers keep is read again.
pub fn raise_epoch(db: &dyn Db) -> anyhow::Result<()> {
    db.exec(
        "INSERT INTO part_versions (part, period, version) VALUES (?1, ?2, 1)
         ON CONFLICT (part, period) DO UPDATE SET version = part_versions.version + 1",
        args![EPOCH.0, EPOCH.1],
    )?;
    Ok(())
}

/// The epoch and the count of writes, as the caller's snapshot holds them.
pub fn epoch_and_writes(db: &dyn Db) -> anyhow::Result<(i64, i64)> {
    let (mut epoch, mut writes) = (0, 0);
    db.each(
        "SELECT part, version FROM part_versions WHERE part IN (?1, ?2) AND period = 0",
        args![EPOCH.0, WRITES.0],
        &mut |r| {
            if r.int(0)? == EPOCH.0 {
                epoch = r.int(1)?;
            } else {
                writes = r.int(1)?;
            }
            Ok(())
        },
    )?;
    Ok((epoch, writes))
}

/// The versions of the parts coded `codes` with periods in `from..=to`
/// (a part never written has none).
pub fn read(db: &dyn Db, codes: &[i64], from: i64, to: i64) -> anyhow::Result<HashMap<Part, i64>> {
    let list: Vec<String> = codes.iter().map(i64::to_string).collect();
    let mut found = HashMap::new();
    db.each(
        &format!(
            "SELECT part, period, version FROM part_versions
              WHERE part IN ({}) AND period BETWEEN ?1 AND ?2",
            list.join(",")
        ),
        args![from, to],
        &mut |r| {
            if let Some(part) = Part::from_code(r.int(0)?, r.int(1)?) {
                found.insert(part, r.int(2)?);
            }
            Ok(())
        },
    )?;
    Ok(found)
}
