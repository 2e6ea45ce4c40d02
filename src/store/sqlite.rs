//! The embedded engine: one SQLite file in WAL mode.
//!
//! Durability: every commit runs with `synchronous=FULL`, so a transaction
//! is on disk (the WAL is fsynced) before `COMMIT` returns, and an event is
//! acknowledged only after that. Readers use their own connection and never
//! block the writer (WAL).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::{Context, bail};
use rusqlite::{Connection, OpenFlags, params};

use super::accounts;
use super::cache::ReadCache;
use super::erase;
use super::events;
use super::migrations::{MIGRATIONS, latest_version};
use super::report::ReportFacts;
use super::sql::{Db, Lease};
use super::write::{self, WriterState};
use super::{
    Batch, BatchCounts, DashboardUser, EventWriter, Store, StoredKey, StoredSession, WriteError,
};
use crate::event::{Event, OrgSlug};
use crate::metrics::{Facts, Report};
use crate::rollup::RollupSettings;
use crate::time::Micros;

pub struct SqliteStore {
    path: PathBuf,
    /// Set by [`Store::prepare_rollups`] before rollups are written or read.
    settings: OnceLock<RollupSettings>,
    /// A connection for the store's own small statements (keys, logins,
    /// sessions), apart from the writer's and the reports'.
    conn: Mutex<Connection>,
    /// Connections for widget reads, reused between requests.
    pool: Mutex<Vec<Connection>>,
    /// What readers keep between reports (see `cache`).
    cache: Arc<ReadCache>,
}

impl SqliteStore {
    pub fn open(path: &Path) -> anyhow::Result<SqliteStore> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| {
                format!("failed to create the data directory {}", dir.display())
            })?;
        }
        // SQLite takes an empty file for an empty database and would start
        // a new store in it; an empty store file is a truncated one.
        if std::fs::metadata(path).is_ok_and(|m| m.len() == 0) {
            bail!(
                "the store file {} is empty (0 bytes), which Uptake never writes: it was truncated; \
                 restore it from a backup, or remove it to start a new, empty store",
                path.display()
            );
        }
        let mut conn = connect(path)?;
        migrate(&mut conn, path)?;
        Ok(SqliteStore {
            path: path.to_owned(),
            settings: OnceLock::new(),
            conn: Mutex::new(conn),
            pool: Mutex::new(Vec::new()),
            cache: Arc::new(ReadCache::default()),
        })
    }

    /// A read connection from the pool (or a new one); give it back with
    /// [`SqliteStore::release`].
    pub(super) fn acquire(&self) -> anyhow::Result<Connection> {
        let pooled = self.pool.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match pooled {
            Some(conn) => Ok(conn),
            None => {
                let conn = connect(&self.path)?;
                // Up to 32 MiB of pages each, filled only as pages are read
                // (the pool keeps at most 8 readers, so at most 256 MiB).
                // A report of a 10M-event history reads about 40 MiB of
                // rollups; with 8 MiB, re-reading them from the OS page
                // cache cost a tenth of the dashboard's time.
                conn.execute_batch("PRAGMA cache_size = -32768;")?;
                Ok(conn)
            }
        }
    }

    pub(super) fn release(&self, conn: Connection) {
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < 8 {
            pool.push(conn);
        }
    }

    pub(super) fn settings(&self) -> anyhow::Result<&RollupSettings> {
        self.settings
            .get()
            .context("the store's rollup settings were not set (Store::prepare_rollups)")
    }

    /// Runs `f` in a write transaction of the store's own connection.
    fn in_write<T>(&self, f: impl FnOnce(&dyn Db) -> anyhow::Result<T>) -> anyhow::Result<T> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let value = f(&*tx)?;
        tx.commit()?;
        Ok(value)
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves the connection usable.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn connect(path: &Path) -> anyhow::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)
        .with_context(|| format!("failed to open the database {}", path.display()))?;
    conn.busy_timeout(Duration::from_secs(10))?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        bail!(
            "the database {} cannot use write-ahead logging (journal mode {mode})",
            path.display()
        );
    }
    conn.execute_batch(
        "PRAGMA synchronous = FULL;
         PRAGMA journal_size_limit = 67108864;
         PRAGMA cache_size = -32768;
         PRAGMA wal_autocheckpoint = 8192;
         PRAGMA temp_store = MEMORY;",
    )?;
    Ok(conn)
}

fn migrate(conn: &mut Connection, path: &Path) -> anyhow::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    INTEGER PRIMARY KEY,
             name       TEXT NOT NULL,
             applied_at INTEGER NOT NULL
         )",
    )?;
    let current: i64 = tx.query_row(
        "SELECT coalesce(max(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?;
    if current > latest_version() {
        bail!(
            "the database {} was written by a newer Uptake (schema version {current}; this binary knows up to {}): \
             run a newer uptake, or restore a backup made by this version",
            path.display(),
            latest_version()
        );
    }
    for m in MIGRATIONS.iter().filter(|m| m.version > current) {
        tx.execute_batch(m.sqlite)
            .with_context(|| format!("failed to apply migration {} ({})", m.version, m.name))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            params![m.version, m.name, Micros::now().0],
        )?;
    }
    super::migrations::verify_checksums(&*tx, false)?;
    tx.commit()?;
    Ok(())
}

impl Store for SqliteStore {
    fn writer(&self) -> anyhow::Result<Box<dyn EventWriter>> {
        Ok(Box::new(SqliteWriter {
            conn: connect(&self.path)?,
            settings: self.settings()?.clone(),
            cache: self.cache.clone(),
            state: WriterState::default(),
        }))
    }

    fn insert_key(&self, key: &StoredKey) -> anyhow::Result<()> {
        accounts::insert_key(&*self.conn(), key)
    }

    fn find_key(&self, key_id: &str) -> anyhow::Result<Option<StoredKey>> {
        accounts::find_key(&*self.conn(), key_id)
    }

    fn upsert_user(&self, user: &DashboardUser) -> anyhow::Result<()> {
        accounts::upsert_user(&*self.conn(), user)
    }

    fn find_user(&self, username: &str) -> anyhow::Result<Option<DashboardUser>> {
        accounts::find_user(&*self.conn(), username)
    }

    fn insert_session(&self, session: &StoredSession, expired: Micros) -> anyhow::Result<()> {
        accounts::insert_session(&*self.conn(), session, expired)
    }

    fn find_session(&self, token_sha256: &[u8; 32]) -> anyhow::Result<Option<StoredSession>> {
        // Reads never wait for the write lock (WAL); a pooled connection,
        // not the store's own, which may be waiting on a write.
        let conn = self.acquire()?;
        let found = accounts::find_session(&conn, token_sha256);
        self.release(conn);
        found
    }

    fn touch_session(&self, token_sha256: &[u8; 32], now: Micros) -> anyhow::Result<()> {
        accounts::touch_session(&*self.conn(), token_sha256, now)
    }

    fn delete_session(&self, token_sha256: &[u8; 32]) -> anyhow::Result<()> {
        accounts::delete_session(&*self.conn(), token_sha256)
    }

    fn revoke_key(&self, key_id: &str, at: Micros) -> anyhow::Result<bool> {
        accounts::revoke_key(&*self.conn(), key_id, at)
    }

    fn touch_key(&self, key_id: &str, at: Micros) -> anyhow::Result<()> {
        accounts::touch_key(&*self.conn(), key_id, at)
    }

    fn remove_user(&self, username: &str) -> anyhow::Result<bool> {
        self.in_write(|db| accounts::remove_user(db, username))
    }

    fn record_login(&self, username: &str, at: Micros) -> anyhow::Result<()> {
        accounts::record_login(&*self.conn(), username, at)
    }

    fn erase_user(&self, user: &str, org: Option<&OrgSlug>, at: Micros) -> anyhow::Result<u64> {
        self.in_write(|db| erase::erase_user(db, user, org.map(OrgSlug::as_str), at))
    }

    fn count_sdk_messages(&self, counts: &[super::SdkCount]) -> anyhow::Result<()> {
        self.in_write(|db| accounts::count_sdk_messages(db, counts))
    }

    fn sdk_messages(&self) -> anyhow::Result<Vec<super::SdkCount>> {
        accounts::sdk_messages(&*self.conn())
    }

    fn delete_events_before(&self, horizon: Micros) -> anyhow::Result<u64> {
        erase::delete_events_before(&mut |slice| self.in_write(|db| slice(db)), horizon)
    }

    fn keys(&self) -> anyhow::Result<Vec<StoredKey>> {
        accounts::keys(&*self.conn())
    }

    fn users(&self) -> anyhow::Result<Vec<DashboardUser>> {
        accounts::users(&*self.conn())
    }

    fn event_count(&self) -> anyhow::Result<u64> {
        Ok(self
            .conn()
            .query_row("SELECT count(*) FROM events", [], |r| r.get::<_, i64>(0))?
            as u64)
    }

    fn for_each_event(&self, f: &mut dyn FnMut(Event) -> anyhow::Result<()>) -> anyhow::Result<()> {
        events::for_each_event(&*self.conn(), f)
    }

    fn prepare_rollups(&self, settings: &RollupSettings) -> anyhow::Result<()> {
        if let Some(current) = self.settings.get() {
            anyhow::ensure!(
                current.fingerprint() == settings.fingerprint(),
                "the store already uses other rollup settings"
            );
            return Ok(());
        }
        let mut conn = self.conn();
        if write::stored_settings(&*conn)?.as_deref() != Some(settings.fingerprint().as_str()) {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            write::rebuild(&*tx, settings)?;
            tx.commit()?;
        }
        drop(conn);
        let _ = self.settings.set(settings.clone());
        Ok(())
    }

    fn facts<'s>(&'s self, report: &Report) -> anyhow::Result<Box<dyn Facts + 's>> {
        let conn = self.acquire()?;
        // One read transaction for the whole report: its snapshot is taken
        // at the first read and held to the end, so the rollups and the raw
        // events that correct them agree whatever the writer commits
        // meanwhile (in autocommit, each query would see the latest state).
        conn.execute_batch("BEGIN DEFERRED")?;
        let pooled = Pooled {
            conn: Some(conn),
            store: self,
        };
        Ok(Box::new(ReportFacts::new(
            Box::new(pooled),
            self.settings()?,
            &self.cache,
            report,
        )?))
    }

    fn raw_events_read(&self) -> u64 {
        self.cache.raw_events_read()
    }

    fn backup_sqlite_file(&self, to: &Path) -> anyhow::Result<bool> {
        // One read transaction copies every page as of its start; the
        // writer goes on meanwhile (WAL).
        let target = to.to_str().context("the backup path is not valid UTF-8")?;
        self.conn()
            .execute("VACUUM INTO ?1", [target])
            .with_context(|| format!("failed to write the backup {}", to.display()))?;
        Ok(true)
    }

    fn disk_bytes(&self) -> anyhow::Result<u64> {
        let mut total = 0;
        for suffix in ["", "-wal", "-shm"] {
            let mut name = self.path.clone().into_os_string();
            name.push(suffix);
            if let Ok(meta) = std::fs::metadata(&name) {
                total += meta.len();
            }
        }
        Ok(total)
    }
}

/// A pooled read connection, given back when the facts are done.
struct Pooled<'s> {
    conn: Option<Connection>,
    store: &'s SqliteStore,
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // End the report's read transaction; a connection that cannot
            // is not given back to the pool.
            if conn.is_autocommit() || conn.execute_batch("ROLLBACK").is_ok() {
                self.store.release(conn);
            }
        }
    }
}

impl Lease for Pooled<'_> {
    fn held(&self) -> &dyn Db {
        self.conn.as_ref().expect("held until drop")
    }
}

struct SqliteWriter {
    conn: Connection,
    settings: RollupSettings,
    /// Where committed changes go, for this process's readers.
    cache: Arc<ReadCache>,
    /// String ids, the people erased, and the open transaction's rollups.
    state: WriterState,
}

impl EventWriter for SqliteWriter {
    fn write(&mut self, batches: &[&Batch]) -> Result<Vec<BatchCounts>, WriteError> {
        self.try_write(batches).map_err(|e| self.abandon(e))
    }

    fn commit(&mut self) -> Result<(), WriteError> {
        self.try_commit().map_err(|e| self.abandon(e))
    }
}

impl SqliteWriter {
    /// Rolls the open transaction back after `e`.
    fn abandon(&mut self, e: anyhow::Error) -> WriteError {
        // The transaction may have been rolled back by SQLite already
        // (disk full); make sure of it, and forget ids it created.
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        self.state.abandon();
        WriteError(e)
    }

    fn try_write(&mut self, batches: &[&Batch]) -> anyhow::Result<Vec<BatchCounts>> {
        if !self.state.is_open() {
            // `BEGIN IMMEDIATE` takes SQLite's one write lock at once.
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
            write::check_settings(&self.conn, &self.settings)?;
            self.state.begin(&self.conn)?;
        }
        self.state.store(&self.conn, &self.settings, batches)
    }

    fn try_commit(&mut self) -> anyhow::Result<()> {
        let Some(rollups) = self.state.take_open() else {
            return Ok(());
        };
        let changes = rollups.write(&self.conn, &self.settings)?;
        self.conn.execute_batch("COMMIT")?;
        self.cache.committed(changes);
        Ok(())
    }
}
