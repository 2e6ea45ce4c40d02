//! Rebuilding every rollup from the stored events, when the settings they
//! depend on (time zone, activation thresholds) change.

use anyhow::Context;

use super::super::events::{self, EventPosition, Interner, NewEvent};
use super::super::sql::Db;
use super::Rollups;
use crate::args;
use crate::event::columns::to_columns;
use crate::rollup::RollupSettings;

/// The tables rebuilt from `events`. `event_keys` is not among them: it
/// also holds the keys of events deleted since (erased, or past
/// retention), which must stay duplicates.
const ROLLUP_TABLES: &[&str] = &[
    "org_activity",
    "cells",
    "login_summaries",
    "month_logins",
    "member_log",
    "action_titles",
    "titled_runs",
    "snapshots",
    "source_log",
];

/// Rebuilds every rollup from `events`, inside the caller's transaction
/// (which the caller has checked needs it), and raises the epoch, so that
/// readers drop what they kept.
pub fn rebuild(db: &dyn Db, settings: &RollupSettings) -> anyhow::Result<()> {
    let fingerprint = settings.fingerprint();
    let stored =
        super::super::sql::first(db, "SELECT count(*) FROM events", args![], |r| r.int(0))?
            .unwrap_or(0);
    if stored > 0 {
        tracing::info!(events = stored, settings = %fingerprint, "rebuilding rollups for new settings");
    }
    super::versions::raise_epoch(db)?;
    for table in ROLLUP_TABLES {
        db.exec(&format!("DELETE FROM {table}"), args![])?;
    }
    // The events are read a page at a time, so that the rollup writes do
    // not run inside an open read of the same database.
    let mut cache = rustc_hash::FxHashMap::default();
    let mut after: Option<EventPosition> = None;
    loop {
        let mut page = Vec::new();
        events::read_page(db, after.as_ref(), 50_000, &mut page)?;
        let Some((org, last)) = page.last() else {
            break;
        };
        after = Some((last.time.0, *org, last.id.clone()));
        let keyed: Vec<(i64, &crate::event::Event)> = page.iter().map(|(o, e)| (*o, e)).collect();
        events::record_keys(db, &keyed)?;
        let mut strings = Interner::new(db, &mut cache);
        let triggers = events::trigger_ids(&mut strings)?;
        let mut rollups = Rollups::new(triggers);
        for (org, event) in &page {
            let columns = to_columns(&event.body).map(|s| strings.id(s))?;
            rollups.add(
                settings,
                &NewEvent {
                    event,
                    org: *org,
                    columns,
                },
            )?;
        }
        rollups.write(db, settings)?;
    }
    db.exec(
        "INSERT INTO rollup_meta (key, value) VALUES ('settings', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        args![&fingerprint],
    )
    .context("failed to record the rollup settings")?;
    Ok(())
}
