//! The rollups of `0010_day_grain.sql`, kept in the writer's transaction.
//!
//! A write transaction reads as: insert the events not stored yet
//! (`events::insert_new`); take the write lock (PostgreSQL); add what the
//! new events bring to the rollups ([`Rollups::add`]) and write each
//! changed row once ([`Rollups::write`]), which raises the version of every
//! part it changed; commit; hand the changes to this process's readers.
//!
//! Every update adds to a count, keeps a maximum or appends to a log, so
//! the rollups do not depend on the order events arrive in.

mod cells;
mod logins;
mod members;
mod rebuild;
mod states;
mod titles;
pub mod versions;

use anyhow::Context;

use super::events::NewEvent;
use super::parts::{Part, PartChange};
use super::sql::Db;
use crate::args;
use crate::rollup::RollupSettings;
use crate::rollup::cells::cell_of;

pub use rebuild::rebuild;

/// What an engine's writer keeps between its transactions and in the
/// open one: the ids of the strings it interned, the people erased (read
/// at an epoch), and the open transaction's rollups. Both engines' writers
/// hold one, so that beginning and storing read the same for both.
#[derive(Default)]
pub struct WriterState {
    strings: rustc_hash::FxHashMap<String, i64>,
    /// The epoch `strings` and `erased` were read at.
    epoch: Option<i64>,
    erased: super::erase::Erasures,
    open: Option<Rollups>,
}

/// Beyond this many cached string ids the cache starts again.
const MAX_CACHED_STRINGS: usize = 1_000_000;

impl WriterState {
    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// The epoch the open transaction began at.
    pub fn epoch(&self) -> Option<i64> {
        self.epoch
    }

    /// Starts the rollups of a transaction the engine has just begun. A
    /// rebuild or an erasure raised the epoch since the last one: string
    /// ids may be gone, and there may be new people to refuse.
    pub fn begin(&mut self, db: &dyn Db) -> anyhow::Result<()> {
        let (epoch, _) = versions::epoch_and_writes(db)?;
        if self.epoch != Some(epoch) || self.strings.len() > MAX_CACHED_STRINGS {
            self.strings.clear();
        }
        if self.epoch != Some(epoch) {
            self.erased = super::erase::Erasures::load(db)?;
            self.epoch = Some(epoch);
        }
        let triggers =
            super::events::trigger_ids(&mut super::events::Interner::new(db, &mut self.strings))?;
        self.open = Some(Rollups::new(triggers));
        Ok(())
    }

    /// Stores the events of `batches` not stored yet in the open
    /// transaction and adds them to its rollups.
    pub fn store(
        &mut self,
        db: &dyn Db,
        settings: &RollupSettings,
        batches: &[&super::Batch],
    ) -> anyhow::Result<Vec<super::BatchCounts>> {
        let mut strings = super::events::Interner::new(db, &mut self.strings);
        let (new, counts) = super::events::insert_new(db, &mut strings, &self.erased, batches)?;
        let rollups = self.open.as_mut().context("no open transaction")?;
        for event in &new {
            rollups.add(settings, event)?;
        }
        Ok(counts)
    }

    /// The open transaction's rollups, to write at its commit.
    pub fn take_open(&mut self) -> Option<Rollups> {
        self.open.take()
    }

    /// The open transaction failed: its rollups go, and so do the string
    /// ids it may have created.
    pub fn abandon(&mut self) {
        self.open = None;
        self.strings.clear();
    }
}

/// What the new events of one transaction add to the rollups, summed in
/// memory: the events of a transaction share most of their rows.
pub struct Rollups {
    /// The string ids of `ui` and `api`, which action runs' cells key.
    triggers: [i64; 2],
    cells: cells::CellTally,
    logins: logins::LoginTally,
    members: members::MemberTally,
    titles: titles::TitleTally,
    states: states::StateTally,
    /// The local days of the new events.
    days: rustc_hash::FxHashSet<crate::calendar::Day>,
}

impl Rollups {
    pub fn new(triggers: [i64; 2]) -> Rollups {
        Rollups {
            triggers,
            cells: Default::default(),
            logins: Default::default(),
            members: Default::default(),
            titles: Default::default(),
            states: Default::default(),
            days: Default::default(),
        }
    }

    /// Adds a newly stored event.
    pub fn add(&mut self, settings: &RollupSettings, new: &NewEvent<'_>) -> anyhow::Result<()> {
        let time = new.event.time;
        let day = settings.calendar.day_of(time);
        self.days.insert(day);
        self.states.add(new);
        if let Some(cell) = cell_of(&new.columns, self.triggers) {
            let none = |id: Option<i64>| id.unwrap_or(0);
            self.cells.add(
                cell.metric,
                day,
                [
                    new.org,
                    none(cell.user),
                    none(cell.subject),
                    none(cell.facet),
                ],
            );
        }
        let user = new.columns.user;
        match new.event.body.kind() {
            crate::event::EventKind::Login => {
                let user = user.context("a stored login without its user")?;
                self.logins.add(new.org, user, day, time);
            }
            crate::event::EventKind::ActionRun => {
                if let (Some(action), Some(title)) = (new.columns.subject, new.columns.label) {
                    self.titles.add(
                        day,
                        new.org,
                        action,
                        user.unwrap_or(0),
                        time,
                        &new.event.id,
                        title,
                    );
                }
            }
            crate::event::EventKind::MemberUpserted | crate::event::EventKind::MemberRemoved => {
                self.members.add(new)?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Writes what was added, each table in one bulk statement (one round
    /// trip on PostgreSQL), and raises the version of every part changed;
    /// returns the changes, to hand to readers once the transaction has
    /// committed.
    pub fn write(self, db: &dyn Db, settings: &RollupSettings) -> anyhow::Result<Vec<PartChange>> {
        let mut changes = Vec::new();
        changes.extend(self.cells.write(db)?);
        changes.extend(self.logins.write(db, settings)?);
        changes.extend(self.members.write(db)?);
        changes.extend(self.titles.write(db)?);
        self.states.write(db)?;
        let days = self.days.iter().map(|day| Part::Events(*day));
        let raised = versions::raise(db, changes.iter().map(|(part, _)| *part).chain(days))?;
        changes
            .into_iter()
            .map(|(part, change)| {
                Ok(PartChange {
                    part,
                    version: *raised
                        .get(&part)
                        .context("a changed part without its version")?,
                    change,
                })
            })
            .collect()
    }
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
    super::sql::first(
        db,
        "SELECT value FROM rollup_meta WHERE key = 'settings'",
        args![],
        |r| r.text(0),
    )
}
