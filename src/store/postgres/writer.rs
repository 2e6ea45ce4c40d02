//! The PostgreSQL writer: strings and events inserted side by side with
//! other writers, the rollups written at commit under the advisory lock.

use std::sync::Arc;

use anyhow::{Context, bail};
use postgres::Client;

use super::{Server, WRITE_LOCK};
use crate::args;
use crate::rollup::RollupSettings;
use crate::store::cache::ReadCache;
use crate::store::sql::{Db, Pg};
use crate::store::write::{self, WriterState};
use crate::store::{Batch, BatchCounts, EventWriter, WriteError};

pub(super) struct PostgresWriter {
    server: Server,
    /// `None` until connected, and again after the connection broke: the
    /// next write reconnects.
    db: Option<Pg<Client>>,
    settings: RollupSettings,
    /// Where committed changes go, for this process's readers.
    cache: Arc<ReadCache>,
    /// String ids, the people erased, and the open transaction's rollups.
    state: WriterState,
}

impl EventWriter for PostgresWriter {
    fn write(&mut self, batches: &[&Batch]) -> Result<Vec<BatchCounts>, WriteError> {
        self.try_write(batches).map_err(|e| self.abandon(e))
    }

    fn commit(&mut self) -> Result<(), WriteError> {
        self.try_commit().map_err(|e| self.abandon(e))
    }
}

impl PostgresWriter {
    pub(super) fn new(server: Server, settings: RollupSettings, cache: Arc<ReadCache>) -> Self {
        PostgresWriter {
            server,
            db: None,
            settings,
            cache,
            state: WriterState::default(),
        }
    }

    /// Rolls the open transaction back after `e` (a broken connection is
    /// dropped, to be made again by the next write).
    fn abandon(&mut self, e: anyhow::Error) -> WriteError {
        if let Some(db) = self.db.take() {
            let mut client = db.into_inner();
            if !client.is_closed() && client.batch_execute("ROLLBACK").is_ok() {
                self.db = Some(Pg::new(client));
            }
        }
        self.state.abandon();
        WriteError(e)
    }

    /// Stores the events in the open transaction. Strings and events are
    /// written before the lock, side by side with other writers (the
    /// unique keys arbitrate); the rollups, their read-modify-write login
    /// summaries and versions, at commit under it, one transaction at a
    /// time. Every string the rollups need is interned before the lock, so
    /// nothing under it waits on another writer.
    fn try_write(&mut self, batches: &[&Batch]) -> anyhow::Result<Vec<BatchCounts>> {
        if self.db.is_none() {
            self.db = Some(Pg::new(self.server.connect()?));
        }
        let db = self.db.as_ref().expect("connected above");
        if !self.state.is_open() {
            db.client().batch_execute("BEGIN")?;
            self.state.begin(db)?;
        }
        self.state.store(db, &self.settings, batches)
    }

    fn try_commit(&mut self) -> anyhow::Result<()> {
        let Some(rollups) = self.state.take_open() else {
            return Ok(());
        };
        let db = self
            .db
            .as_ref()
            .context("the connection of the open transaction is gone")?;
        db.exec("SELECT pg_advisory_xact_lock(?1)", args![WRITE_LOCK])?;
        write::check_settings(db, &self.settings)?;
        // An erasure committed after this transaction began may cover its
        // events: refuse them all (the client resends; they are then
        // checked against it).
        if Some(write::versions::epoch_and_writes(db)?.0) != self.state.epoch() {
            bail!("people were erased while these events were being stored; send them again");
        }
        let changes = rollups.write(db, &self.settings)?;
        // If the connection drops during COMMIT the outcome is unknown; the
        // client is told to retry, and idempotency by (org, id) makes the
        // retry store each event once either way.
        db.client().batch_execute("COMMIT").context(
            "the commit did not complete (it may or may not have been applied; a retry is safe)",
        )?;
        self.cache.committed(changes);
        Ok(())
    }
}
