//! `[retention] raw_events_months`: raw events older than the horizon are
//! deleted, and reports before it are refused.
//!
//! The horizon is the start of the month `raw_events_months` months before
//! the current one, in the company's zone. The rollups keep what the
//! deleted events counted, so every number a report after the horizon
//! shows is unchanged: reports read raw events only between their `as_of`
//! and the end of its day, which lies after the horizon.

use std::sync::Arc;
use std::time::Duration;

use crate::calendar::Calendar;
use crate::store::Store;
use crate::time::Micros;

/// How often the server deletes what passed the horizon (the contract
/// asks for at least daily).
pub const EVERY: Duration = Duration::from_secs(3600);

/// The first instant whose raw events are kept, at `now`.
pub fn horizon(cal: &Calendar, now: Micros, months: u32) -> Micros {
    let month = cal.day_of(now).month();
    cal.month_start(month.plus(-i64::from(months)))
}

/// Deletes the raw events before the horizon now, then every [`EVERY`],
/// on a thread of its own, for as long as the process runs.
pub fn start(store: Arc<dyn Store>, cal: Calendar, months: u32) {
    let spawned = std::thread::Builder::new()
        .name("retention".into())
        .spawn(move || {
            loop {
                let horizon = horizon(&cal, Micros::now(), months);
                match store.delete_events_before(horizon) {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(events = n, %horizon, "deleted raw events past retention"),
                    Err(e) => tracing::warn!(error = %format!("{e:#}"), "could not delete raw events past retention; trying again later"),
                }
                std::thread::sleep(EVERY);
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "could not start the retention thread");
    }
}
