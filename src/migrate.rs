//! `uptake migrate-store`: copies a whole store into another (SQLite to
//! PostgreSQL, typically) through the target's own writer, so the target's
//! rollups are built as if the events had arrived there.
//!
//! Resumable: every batch commits on its own and events are idempotent by
//! `(org, id)`, so a run that stopped half-way is simply run again; what
//! was copied counts as "already there". The end is verified by counts.

use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::config::Config;
use crate::event::Event;
use crate::rollup::RollupSettings;
use crate::store::{self, BatchCounts, Location};

/// Events per transaction in the target.
const BATCH: usize = 5_000;

pub fn run(config: &Config, from: &str, to: &str) -> anyhow::Result<ExitCode> {
    let source = store::open(&Location::parse(Some(from), &config.data)?)
        .context("cannot open the source store (--from)")?;
    let target = store::open(&Location::parse(Some(to), &config.data)?)
        .context("cannot open the target store (--to)")?;
    let report = copy(source.as_ref(), target.as_ref(), config, Verify::SameCounts)?;
    outln!("{report}");
    Ok(ExitCode::SUCCESS)
}

/// What the end of a copy checks.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// Both stores hold the same number of events (a quiet source).
    SameCounts,
    /// The (new) target holds exactly the events read (a source that
    /// goes on taking events, read from one snapshot).
    EveryEventRead,
}

/// Copies every key, login and event of `source` into `target`, then
/// checks the counts; returns what it did, in a sentence.
pub fn copy(
    source: &dyn store::Store,
    target: &dyn store::Store,
    config: &Config,
    verify: Verify,
) -> anyhow::Result<String> {
    target.prepare_rollups(&RollupSettings::from_config(config)?)?;

    let mut keys = 0;
    for key in source.keys()? {
        if target.find_key(&key.key_id)?.is_none() {
            target.insert_key(&key)?;
        }
        keys += 1;
    }
    let users = source.users()?;
    for user in &users {
        target.upsert_user(user)?;
    }

    let mut writer = target.writer()?;
    let mut total = BatchCounts::default();
    let mut batch: Vec<Event> = Vec::with_capacity(BATCH);
    let mut copy = |batch: &mut Vec<Event>, total: &mut BatchCounts| -> anyhow::Result<()> {
        let keyed = store::Batch::new(std::mem::take(batch));
        let counts = writer
            .write(&[&keyed])
            .and_then(|counts| writer.commit().map(|()| counts))
            .map_err(|e| e.0)
            .context("the target store refused a batch; run the command again to resume")?;
        total.accepted += counts[0].accepted;
        total.duplicates += counts[0].duplicates;
        *batch = keyed.events;
        batch.clear();
        let done = total.accepted + total.duplicates;
        if done % 100_000 < BATCH as u64 {
            errln!("migrate-store: {done} events copied");
        }
        Ok(())
    };
    source.for_each_event(&mut |event| {
        batch.push(event);
        if batch.len() == BATCH {
            copy(&mut batch, &mut total)?;
        }
        Ok(())
    })?;
    if !batch.is_empty() {
        copy(&mut batch, &mut total)?;
    }

    let copied = total.accepted + total.duplicates;
    let in_target = target.event_count()?;
    let in_source = match verify {
        Verify::SameCounts => source.event_count()?,
        Verify::EveryEventRead => copied,
    };
    if in_source != in_target || copied != in_source {
        bail!(
            "verification failed: the source holds {in_source} events, the target {in_target}, and {copied} were copied; \
             a target that already held other events cannot be verified by counts"
        );
    }
    if target.keys()?.len() < keys || target.users()?.len() < users.len() {
        bail!("verification failed: keys or logins are missing in the target");
    }
    Ok(format!(
        "migrated {copied} events ({} new, {} already there), {keys} keys, {} logins; \
         verified: the target holds {in_target} events, as the source does",
        total.accepted,
        total.duplicates,
        users.len()
    ))
}
