//! The state logs read by seeks at report time, not kept in memory: each
//! org's first event (`org_activity`), entity snapshots (`snapshots`) and
//! data source events (`source_log`).

use rustc_hash::FxHashMap;

use super::super::events::NewEvent;
use super::super::sql::{Arg, ColType, Db, exec_rows};
use crate::args;
use crate::event::EventKind;

/// A `source_log` row: org, source, time, id, type and name (`None` for a
/// deletion).
type SourceRow = (i64, i64, i64, String, Option<i64>, Option<i64>);

/// What one transaction adds to the state logs.
#[derive(Default)]
pub struct StateTally {
    /// org -> earliest time
    orgs: FxHashMap<i64, i64>,
    /// (org, time, id, total, counts) of entity snapshots.
    snapshots: Vec<(i64, i64, String, i64, String)>,
    sources: Vec<SourceRow>,
}

impl StateTally {
    pub fn add(&mut self, new: &NewEvent<'_>) {
        let t = new.event.time.0;
        let first = self.orgs.entry(new.org).or_insert(t);
        *first = (*first).min(t);
        let c = &new.columns;
        let id = new.event.id.clone();
        match new.event.body.kind() {
            EventKind::EntitySnapshot => {
                if let crate::event::EventBody::EntitySnapshot { counts } = &new.event.body {
                    let total: u64 = counts.iter().map(|c| c.count).sum();
                    let list = c.list.clone().unwrap_or_default();
                    self.snapshots.push((new.org, t, id, total as i64, list));
                }
            }
            EventKind::DataSourceCreated => {
                if let Some(source) = c.subject {
                    self.sources
                        .push((new.org, source, t, id, c.label, c.extra));
                }
            }
            EventKind::DataSourceDeleted => {
                if let Some(source) = c.subject {
                    self.sources.push((new.org, source, t, id, None, None));
                }
            }
            _ => {}
        }
    }

    pub fn write(self, db: &dyn Db) -> anyhow::Result<()> {
        use ColType::{Int, Text};
        let min = db.dialect().least();
        let rows: Vec<Vec<Arg<'_>>> = self
            .orgs
            .iter()
            .map(|(org, first)| args![*org, *first].to_vec())
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
        let rows: Vec<Vec<Arg<'_>>> = self
            .snapshots
            .iter()
            .map(|(org, time, id, total, counts)| args![*org, *time, id, *total, counts].to_vec())
            .collect();
        exec_rows(
            db,
            "INSERT INTO snapshots (org, time, id, total, counts) VALUES (?1, ?2, ?3, ?4, ?5)",
            &[Int, Int, Text, Int, Text],
            &rows,
        )?;
        let rows: Vec<Vec<Arg<'_>>> = self
            .sources
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
        )
    }
}
