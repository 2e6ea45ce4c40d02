//! The PostgreSQL engine: many Uptake processes over one database.
//!
//! Writers of every process take one transaction-scoped advisory lock
//! before writing, so event inserts and rollup updates are serialised
//! across processes exactly as the single SQLite writer serialises them:
//! no lost updates, no double counting, and the first write of an
//! `(org, id)` wins. Readers do not take the lock; each report reads one
//! REPEATABLE READ snapshot.
//!
//! The store URL may hold a password: it is never printed. Errors name
//! the host and database only.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::{Context, bail};
use postgres::Client;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::accounts;
use super::cache::ReadCache;
use super::erase;
use super::events;
use super::migrations::{MIGRATIONS, latest_version};
use super::report::ReportFacts;
use super::sql::{Db, Lease, Pg, first};
use super::write;
use super::{DashboardUser, EventWriter, Store, StoredKey, StoredSession};
use crate::args;
use crate::event::{Event, OrgSlug};
use crate::metrics::{Facts, Report};
use crate::rollup::RollupSettings;
use crate::time::Micros;

/// The advisory lock every writer (and migration) holds in its transaction.
const WRITE_LOCK: i64 = 0x7570_7461_6b65; // "uptake"
/// How long a statement may run before PostgreSQL cancels it, unless the
/// URL sets `options=-c statement_timeout=…`.
const DEFAULT_STATEMENT_TIMEOUT_MS: u64 = 60_000;
/// Connections kept for readers.
const POOL_SIZE: usize = 8;
/// The most connections a process opens besides its writers'.
const MAX_CONNECTIONS: usize = 16;
/// How long a caller waits for a connection when all are busy.
const CONNECTION_WAIT: Duration = Duration::from_secs(10);

/// How to reach the database: what every connection is made from.
#[derive(Clone)]
struct Server {
    config: postgres::Config,
    tls: MakeRustlsConnect,
    /// `host:port/dbname`, for messages: never the password.
    name: String,
    /// Whether to set Uptake's statement timeout (the URL sets none).
    set_timeout: bool,
}

impl Server {
    fn connect(&self) -> anyhow::Result<Client> {
        let mut client = self
            .config
            .connect(self.tls.clone())
            .with_context(|| format!("cannot connect to PostgreSQL at {}", self.name))?;
        if self.set_timeout {
            client.batch_execute(&format!(
                "SET statement_timeout = {DEFAULT_STATEMENT_TIMEOUT_MS}"
            ))?;
        }
        // Uptake's statements are short index reads and bulk writes; the
        // planner's cost of a few of them (a recursive CTE estimated at
        // thousands of rows) crosses the JIT threshold, and compiling took
        // 20 ms for a 1 ms query.
        client.batch_execute("SET jit = off")?;
        Ok(client)
    }
}

pub struct PostgresStore {
    server: Server,
    settings: OnceLock<RollupSettings>,
    /// Idle connections, each with its prepared statements.
    pool: Mutex<Vec<Pg<Client>>>,
    /// Connections open outside the writers (idle or in use), bounded by
    /// [`MAX_CONNECTIONS`] so that a burst of requests cannot exhaust the
    /// server's `max_connections`; `freed` wakes a caller waiting for one.
    open: Mutex<usize>,
    freed: std::sync::Condvar,
    /// What readers keep between reports (see `cache`).
    cache: Arc<ReadCache>,
}

/// The store URL without Uptake's own parameter `sslrootcert=PATH` (a PEM
/// file of certificate authorities to trust besides the usual public
/// ones), which the PostgreSQL client does not know, and that path.
fn split_url(url: &str) -> (String, Option<std::path::PathBuf>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), None);
    };
    let mut root_cert = None;
    let mut kept = form_urlencoded::Serializer::new(String::new());
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        if key == "sslrootcert" {
            root_cert = Some(std::path::PathBuf::from(value.into_owned()));
        } else {
            kept.append_pair(&key, &value);
        }
    }
    let kept = kept.finish();
    if kept.is_empty() {
        (base.to_owned(), root_cert)
    } else {
        (format!("{base}?{kept}"), root_cert)
    }
}

/// TLS with the server's certificate always verified (host name included)
/// against the public roots and, when given, the authorities of `root_cert`.
fn tls(root_cert: Option<&std::path::Path>) -> anyhow::Result<MakeRustlsConnect> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = root_cert {
        let pem = std::fs::read(path)
            .with_context(|| format!("cannot read sslrootcert {}", path.display()))?;
        let mut found = 0;
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            let cert =
                cert.with_context(|| format!("sslrootcert {} is not PEM", path.display()))?;
            roots.add(cert).with_context(|| {
                format!(
                    "sslrootcert {} holds an unusable certificate",
                    path.display()
                )
            })?;
            found += 1;
        }
        anyhow::ensure!(
            found > 0,
            "sslrootcert {} holds no certificate",
            path.display()
        );
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// `host:port/dbname` of a config, for messages.
fn describe(config: &postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            postgres::config::Host::Tcp(name) => name.clone(),
            postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "{host}:{port}/{}",
        config.get_dbname().unwrap_or("(default database)")
    )
}

impl PostgresStore {
    pub fn open(url: &str) -> anyhow::Result<PostgresStore> {
        let (url, root_cert) = split_url(url);
        // The parser's messages do not repeat the URL, so they are safe.
        let mut config: postgres::Config = url
            .parse()
            .map_err(|e| anyhow::anyhow!("the PostgreSQL store URL is not valid: {e}"))?;
        if !url.contains("sslmode=") {
            // TLS is asked for with `sslmode=require`; see docs/DECISIONS.md.
            config.ssl_mode(postgres::config::SslMode::Disable);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name("uptake");
        }
        let set_timeout = !config
            .get_options()
            .is_some_and(|o| o.contains("statement_timeout"));
        let store = PostgresStore {
            server: Server {
                name: describe(&config),
                tls: tls(root_cert.as_deref())?,
                config,
                set_timeout,
            },
            settings: OnceLock::new(),
            pool: Mutex::new(Vec::new()),
            open: Mutex::new(1),
            freed: std::sync::Condvar::new(),
            cache: Arc::new(ReadCache::default()),
        };
        let db = Pg::new(store.server.connect()?);
        migrate(&db, &store.server.name)?;
        store.release(db);
        Ok(store)
    }

    /// A pooled connection (keeping the statements it prepared before), or
    /// a new one.
    fn acquire(&self) -> anyhow::Result<Pg<Client>> {
        let deadline = std::time::Instant::now() + CONNECTION_WAIT;
        loop {
            let pooled = self.pool.lock().unwrap_or_else(|p| p.into_inner()).pop();
            match pooled {
                // A connection the server closed (restart) is dropped.
                Some(db) if db.client().is_closed() => self.closed(),
                Some(db) => return Ok(db),
                None => {
                    let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
                    if *open < MAX_CONNECTIONS {
                        *open += 1;
                        drop(open);
                        return self
                            .server
                            .connect()
                            .map(Pg::new)
                            .inspect_err(|_| self.closed());
                    }
                    let left = deadline.saturating_duration_since(std::time::Instant::now());
                    if left.is_zero() {
                        bail!(
                            "all {MAX_CONNECTIONS} connections to PostgreSQL stayed busy for {} s; retry",
                            CONNECTION_WAIT.as_secs()
                        );
                    }
                    let _ = self
                        .freed
                        .wait_timeout(open, left.min(Duration::from_millis(100)));
                }
            }
        }
    }

    /// One connection fewer is open.
    fn closed(&self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        *open = open.saturating_sub(1);
        self.freed.notify_one();
    }

    fn release(&self, db: Pg<Client>) {
        if db.client().is_closed() {
            self.closed();
            return;
        }
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < POOL_SIZE {
            pool.push(db);
            drop(pool);
            self.freed.notify_one();
        } else {
            drop(pool);
            drop(db);
            self.closed();
        }
    }

    /// Runs `f` in a transaction holding the write lock, as writers do.
    fn in_write<T>(&self, f: impl FnOnce(&dyn Db) -> anyhow::Result<T>) -> anyhow::Result<T> {
        self.with(|db| {
            db.client().batch_execute("BEGIN")?;
            let result = (|| {
                db.exec("SELECT pg_advisory_xact_lock(?1)", args![WRITE_LOCK])?;
                f(db)
            })();
            finish(db, result)
        })
    }

    /// Runs `f` on a pooled connection, giving it back afterwards.
    fn with<T>(&self, f: impl FnOnce(&Pg<Client>) -> anyhow::Result<T>) -> anyhow::Result<T> {
        let db = self.acquire()?;
        let result = f(&db);
        self.release(db);
        result
    }

    fn settings(&self) -> anyhow::Result<&RollupSettings> {
        self.settings
            .get()
            .context("the store's rollup settings were not set (Store::prepare_rollups)")
    }
}

/// Applies the migrations this binary knows, under the write lock so that
/// processes starting together do not race.
fn migrate(db: &Pg<Client>, name: &str) -> anyhow::Result<()> {
    db.client().batch_execute("BEGIN")?;
    let result = (|| -> anyhow::Result<()> {
        db.exec("SELECT pg_advisory_xact_lock(?1)", args![WRITE_LOCK])?;
        db.client().batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    BIGINT PRIMARY KEY,
                 name       TEXT NOT NULL,
                 applied_at BIGINT NOT NULL
             )",
        )?;
        let current = first(
            db,
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            args![],
            |r| r.int(0),
        )?
        .unwrap_or(0);
        if current > latest_version() {
            bail!(
                "the PostgreSQL database {name} was written by a newer Uptake (schema version {current}; \
                 this binary knows up to {}): run a newer uptake",
                latest_version()
            );
        }
        for m in MIGRATIONS.iter().filter(|m| m.version > current) {
            db.client()
                .batch_execute(m.postgres)
                .with_context(|| format!("failed to apply migration {} ({})", m.version, m.name))?;
            db.exec(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                args![m.version, m.name, Micros::now().0],
            )?;
        }
        super::migrations::verify_checksums(db, true)
    })();
    finish(db, result)
}

/// Commits when `result` is fine, else rolls back; returns `result`.
fn finish<T>(db: &Pg<Client>, result: anyhow::Result<T>) -> anyhow::Result<T> {
    match result {
        Ok(value) => {
            db.client()
                .batch_execute("COMMIT")
                .context("the transaction did not commit")?;
            Ok(value)
        }
        Err(e) => {
            let _ = db.client().batch_execute("ROLLBACK");
            Err(e)
        }
    }
}

mod writer;
use writer::PostgresWriter;

impl Store for PostgresStore {
    fn writers(&self) -> usize {
        2
    }

    fn writer(&self) -> anyhow::Result<Box<dyn EventWriter>> {
        Ok(Box::new(PostgresWriter::new(
            self.server.clone(),
            self.settings()?.clone(),
            self.cache.clone(),
        )))
    }

    fn insert_key(&self, key: &StoredKey) -> anyhow::Result<()> {
        self.with(|db| accounts::insert_key(db, key))
    }

    fn find_key(&self, key_id: &str) -> anyhow::Result<Option<StoredKey>> {
        self.with(|db| accounts::find_key(db, key_id))
    }

    fn upsert_user(&self, user: &DashboardUser) -> anyhow::Result<()> {
        self.with(|db| accounts::upsert_user(db, user))
    }

    fn find_user(&self, username: &str) -> anyhow::Result<Option<DashboardUser>> {
        self.with(|db| accounts::find_user(db, username))
    }

    fn insert_session(&self, session: &StoredSession, expired: Micros) -> anyhow::Result<()> {
        self.with(|db| accounts::insert_session(db, session, expired))
    }

    fn find_session(&self, token_sha256: &[u8; 32]) -> anyhow::Result<Option<StoredSession>> {
        self.with(|db| accounts::find_session(db, token_sha256))
    }

    fn touch_session(&self, token_sha256: &[u8; 32], now: Micros) -> anyhow::Result<()> {
        self.with(|db| accounts::touch_session(db, token_sha256, now))
    }

    fn delete_session(&self, token_sha256: &[u8; 32]) -> anyhow::Result<()> {
        self.with(|db| accounts::delete_session(db, token_sha256))
    }

    fn revoke_key(&self, key_id: &str, at: Micros) -> anyhow::Result<bool> {
        self.with(|db| accounts::revoke_key(db, key_id, at))
    }

    fn touch_key(&self, key_id: &str, at: Micros) -> anyhow::Result<()> {
        self.with(|db| accounts::touch_key(db, key_id, at))
    }

    fn remove_user(&self, username: &str) -> anyhow::Result<bool> {
        self.in_write(|db| accounts::remove_user(db, username))
    }

    fn record_login(&self, username: &str, at: Micros) -> anyhow::Result<()> {
        self.with(|db| accounts::record_login(db, username, at))
    }

    fn erase_user(&self, user: &str, org: Option<&OrgSlug>, at: Micros) -> anyhow::Result<u64> {
        self.in_write(|db| erase::erase_user(db, user, org.map(OrgSlug::as_str), at))
    }

    fn count_sdk_messages(&self, counts: &[super::SdkCount]) -> anyhow::Result<()> {
        self.in_write(|db| accounts::count_sdk_messages(db, counts))
    }

    fn sdk_messages(&self) -> anyhow::Result<Vec<super::SdkCount>> {
        self.with(|db| accounts::sdk_messages(db))
    }

    fn delete_events_before(&self, horizon: Micros) -> anyhow::Result<u64> {
        erase::delete_events_before(&mut |slice| self.in_write(|db| slice(db)), horizon)
    }

    fn keys(&self) -> anyhow::Result<Vec<StoredKey>> {
        self.with(|db| accounts::keys(db))
    }

    fn users(&self) -> anyhow::Result<Vec<DashboardUser>> {
        self.with(|db| accounts::users(db))
    }

    fn event_count(&self) -> anyhow::Result<u64> {
        self.with(|db| {
            Ok(
                first(db, "SELECT count(*) FROM events", args![], |r| r.int(0))?.unwrap_or(0)
                    as u64,
            )
        })
    }

    fn for_each_event(&self, f: &mut dyn FnMut(Event) -> anyhow::Result<()>) -> anyhow::Result<()> {
        // Every page from one snapshot: the events as of the start.
        self.with(|db| {
            db.client()
                .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
            let result = events::for_each_event(db, f);
            finish(db, result)
        })
    }

    fn prepare_rollups(&self, settings: &RollupSettings) -> anyhow::Result<()> {
        if let Some(current) = self.settings.get() {
            anyhow::ensure!(
                current.fingerprint() == settings.fingerprint(),
                "the store already uses other rollup settings"
            );
            return Ok(());
        }
        self.with(|db| {
            if write::stored_settings(db)?.as_deref() == Some(settings.fingerprint().as_str()) {
                return Ok(());
            }
            db.client().batch_execute("BEGIN")?;
            let result = (|| {
                db.exec("SELECT pg_advisory_xact_lock(?1)", args![WRITE_LOCK])?;
                // Another process may have rebuilt them while we waited.
                if write::stored_settings(db)?.as_deref() != Some(settings.fingerprint().as_str()) {
                    write::rebuild(db, settings)?;
                }
                Ok(())
            })();
            finish(db, result)
        })?;
        let _ = self.settings.set(settings.clone());
        Ok(())
    }

    fn facts<'s>(&'s self, report: &Report) -> anyhow::Result<Box<dyn Facts + 's>> {
        let db = self.acquire()?;
        // One snapshot for the whole report, whatever writers do meanwhile.
        db.client()
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
        let snapshot = Snapshot {
            db: Some(db),
            store: self,
        };
        Ok(Box::new(ReportFacts::new(
            Box::new(snapshot),
            self.settings()?,
            &self.cache,
            report,
        )?))
    }

    fn raw_events_read(&self) -> u64 {
        self.cache.raw_events_read()
    }

    fn backup_sqlite_file(&self, _to: &std::path::Path) -> anyhow::Result<bool> {
        Ok(false)
    }

    fn disk_bytes(&self) -> anyhow::Result<u64> {
        self.with(|db| {
            Ok(first(
                db,
                "SELECT pg_database_size(current_database())",
                args![],
                |r| r.int(0),
            )?
            .unwrap_or(0) as u64)
        })
    }
}

/// A read-only transaction on a pooled connection, ended when dropped.
struct Snapshot<'s> {
    db: Option<Pg<Client>>,
    store: &'s PostgresStore,
}

impl Drop for Snapshot<'_> {
    fn drop(&mut self) {
        if let Some(db) = self.db.take() {
            let ended = db.client().batch_execute("ROLLBACK").is_ok();
            if ended {
                self.store.release(db);
            } else {
                drop(db);
                self.store.closed();
            }
        }
    }
}

impl Lease for Snapshot<'_> {
    fn held(&self) -> &dyn Db {
        self.db.as_ref().expect("held until drop")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptakes_own_url_parameters_are_taken_out() {
        assert_eq!(
            split_url(
                "postgres://u:p@h/db?sslmode=require&sslrootcert=%2Fetc%2Fca.pem&connect_timeout=5"
            ),
            (
                "postgres://u:p@h/db?sslmode=require&connect_timeout=5".to_owned(),
                Some("/etc/ca.pem".into())
            )
        );
        assert_eq!(
            split_url("postgres://h/db?sslrootcert=ca.pem").0,
            "postgres://h/db"
        );
        assert_eq!(
            split_url("postgres://h/db"),
            ("postgres://h/db".to_owned(), None)
        );
    }
}
