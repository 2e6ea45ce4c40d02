//! The only place that speaks SQL. One interface, [`Store`], with an engine
//! behind it (SQLite or PostgreSQL); nothing above this module knows which.
//! The queries themselves are written once, over [`sql::Db`].
//!
//! The interface is synchronous: SQLite is a library call and the
//! PostgreSQL client blocks. Callers on the async side reach it through a
//! blocking thread (the writer threads for events, `spawn_blocking` for the
//! rest).

mod accounts;
mod cache;
mod erase;
pub mod events;
mod migrations;
mod parts;
mod postgres;
mod report;
pub mod sql;
mod sqlite;
mod write;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::bail;

use crate::event::{Event, OrgSlug};

pub use events::Batch;
pub use migrations::latest_version;

/// A stored API key; the secret itself is never stored, only its SHA-256.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredKey {
    pub key_id: String,
    pub kind: KeyKind,
    pub org: Option<OrgSlug>,
    pub secret_sha256: [u8; 32],
    pub created_at: crate::time::Micros,
    /// Recorded at most once a minute.
    pub last_used_at: Option<crate::time::Micros>,
    /// A revoked key is refused.
    pub revoked_at: Option<crate::time::Micros>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    Ingest,
    Read,
    /// Public, for browser SDKs: page views and logins through the SDK
    /// routes only.
    Browser,
}

impl KeyKind {
    pub fn name(self) -> &'static str {
        match self {
            KeyKind::Ingest => "ingest",
            KeyKind::Read => "read",
            KeyKind::Browser => "browser",
        }
    }

    pub fn from_name(name: &str) -> Option<KeyKind> {
        match name {
            "ingest" => Some(KeyKind::Ingest),
            "read" => Some(KeyKind::Read),
            "browser" => Some(KeyKind::Browser),
            _ => None,
        }
    }
}

/// A dashboard login: a company admin (`org` is `None`) or a viewer of one
/// org. Only the Argon2id hash of the password is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DashboardUser {
    pub username: String,
    /// A PHC string (`$argon2id$...`).
    pub password_hash: String,
    pub org: Option<OrgSlug>,
    pub created_at: crate::time::Micros,
    pub last_login_at: Option<crate::time::Micros>,
}

/// SDK messages of one name and outcome in one org (`""` when unknown),
/// source and local month (see migration 13).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SdkCount {
    pub org: String,
    pub source: String,
    pub name: String,
    /// `YYYY-MM`.
    pub month: String,
    /// `mapped`, `rejected`, `ignored`, `stored` or `duplicate`.
    pub outcome: String,
    pub n: u64,
}

/// A dashboard session, found by the SHA-256 of its token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSession {
    pub token_sha256: [u8; 32],
    pub username: String,
    pub org: Option<OrgSlug>,
    /// The token forms changing state must carry.
    pub csrf: String,
    pub last_seen: crate::time::Micros,
}

/// How many events of one batch were new and how many were already stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchCounts {
    pub accepted: u64,
    pub duplicates: u64,
}

/// A write that did not commit; nothing of it is stored.
#[derive(Debug, thiserror::Error)]
#[error("the store cannot take writes: {0:#}")]
pub struct WriteError(pub anyhow::Error);

/// Writes events. Only the ingest writer threads hold one.
pub trait EventWriter: Send {
    /// Stores several batches in the writer's open transaction (beginning
    /// one when none is open) and returns each batch's counts, which hold
    /// once [`EventWriter::commit`] succeeds. Idempotent by `(org, id)`:
    /// the first write wins, and a repeat, in the store or earlier in the
    /// transaction, is a duplicate. On error the whole open transaction is
    /// rolled back: nothing of it is stored.
    fn write(&mut self, batches: &[&Batch]) -> Result<Vec<BatchCounts>, WriteError>;

    /// Writes the rollups of what the open transaction stored and commits
    /// it durably (nothing to do when none is open). On error nothing of
    /// the transaction is stored.
    fn commit(&mut self) -> Result<(), WriteError>;
}

pub trait Store: Send + Sync {
    /// A new writer. At most [`Store::writers`] of them are in use at a
    /// time in one process.
    fn writer(&self) -> anyhow::Result<Box<dyn EventWriter>>;

    /// How many writers may run at once: one for SQLite (one write lock),
    /// two for PostgreSQL (they insert events side by side and queue for
    /// the rollups).
    fn writers(&self) -> usize {
        1
    }
    fn insert_key(&self, key: &StoredKey) -> anyhow::Result<()>;
    fn find_key(&self, key_id: &str) -> anyhow::Result<Option<StoredKey>>;
    /// Creates a login, or replaces the password and org of an existing one.
    fn upsert_user(&self, user: &DashboardUser) -> anyhow::Result<()>;
    fn find_user(&self, username: &str) -> anyhow::Result<Option<DashboardUser>>;
    /// Stores a new session, and forgets those idle since before `expired`.
    fn insert_session(
        &self,
        session: &StoredSession,
        expired: crate::time::Micros,
    ) -> anyhow::Result<()>;
    /// The session of a token hash, however long idle (a read only).
    fn find_session(&self, token_sha256: &[u8; 32]) -> anyhow::Result<Option<StoredSession>>;
    /// Marks a session seen at `now`.
    fn touch_session(
        &self,
        token_sha256: &[u8; 32],
        now: crate::time::Micros,
    ) -> anyhow::Result<()>;
    fn delete_session(&self, token_sha256: &[u8; 32]) -> anyhow::Result<()>;
    /// Revokes the key `key_id` as of `at`; `false` when no key has that
    /// id. Revoking again keeps the first instant.
    fn revoke_key(&self, key_id: &str, at: crate::time::Micros) -> anyhow::Result<bool>;
    /// Records that the key was used at `at`.
    fn touch_key(&self, key_id: &str, at: crate::time::Micros) -> anyhow::Result<()>;
    /// Removes a dashboard login and ends its sessions; `false` when there
    /// is no such login.
    fn remove_user(&self, username: &str) -> anyhow::Result<bool>;
    /// Records a successful dashboard login at `at`.
    fn record_login(&self, username: &str, at: crate::time::Micros) -> anyhow::Result<()>;
    /// Erases a person (`uptake erase`): their events in `org` (or every
    /// org), everything derived from them, and the strings only they
    /// used; later arrivals of their events dated at or before `at` are
    /// duplicates. Returns the number of events deleted.
    fn erase_user(
        &self,
        user: &str,
        org: Option<&OrgSlug>,
        at: crate::time::Micros,
    ) -> anyhow::Result<u64>;
    /// Adds to the counts of what the SDKs sent.
    fn count_sdk_messages(&self, counts: &[SdkCount]) -> anyhow::Result<()>;
    /// Every count of what the SDKs sent.
    fn sdk_messages(&self) -> anyhow::Result<Vec<SdkCount>>;
    /// Deletes the raw events dated before `horizon` (retention); the
    /// rollups keep what they counted. Returns how many were deleted.
    fn delete_events_before(&self, horizon: crate::time::Micros) -> anyhow::Result<u64>;
    /// Every API key and login (for `migrate-store`).
    fn keys(&self) -> anyhow::Result<Vec<StoredKey>>;
    fn users(&self) -> anyhow::Result<Vec<DashboardUser>>;
    fn event_count(&self) -> anyhow::Result<u64>;
    /// Calls `f` with every stored event, in no particular order.
    fn for_each_event(&self, f: &mut dyn FnMut(Event) -> anyhow::Result<()>) -> anyhow::Result<()>;
    /// Makes the rollups match `settings`, rebuilding them from the events
    /// when they were made with other settings (or not yet); needed before
    /// events are written or widgets read. Commands that neither write
    /// events nor read widgets leave the rollups alone.
    fn prepare_rollups(&self, settings: &crate::rollup::RollupSettings) -> anyhow::Result<()>;
    /// The answers widgets read for `report`, from the rollups.
    fn facts<'s>(
        &'s self,
        report: &crate::metrics::Report,
    ) -> anyhow::Result<Box<dyn crate::metrics::Facts + 's>>;
    /// Writes a consistent copy of the whole store as a new SQLite file at
    /// `to`, while writers go on; `false` when the engine cannot, and the
    /// caller copies event by event instead.
    fn backup_sqlite_file(&self, to: &Path) -> anyhow::Result<bool>;
    /// Bytes the store occupies on disk, for benchmarks.
    fn disk_bytes(&self) -> anyhow::Result<u64>;
    /// Raw events read by reports of this process since the store was
    /// opened (reports read rollups, and raw events only between their
    /// `as_of` and the end of its day).
    fn raw_events_read(&self) -> u64;
}

/// Where the store lives, parsed from `--store` and `--data`.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    Sqlite(PathBuf),
    /// A `postgres://` (or `postgresql://`) URL; it may hold a password,
    /// so it is never printed.
    Postgres(String),
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Sqlite(path) => write!(f, "Sqlite({})", path.display()),
            // The URL may hold a password.
            Location::Postgres(_) => f.write_str("Postgres(…)"),
        }
    }
}

impl Location {
    pub fn parse(store: Option<&str>, data: &Path) -> anyhow::Result<Location> {
        match store {
            None => Ok(Location::Sqlite(data.join("uptake.db"))),
            Some(url) => {
                if let Some(path) = url.strip_prefix("sqlite://") {
                    if path.is_empty() {
                        bail!("`--store sqlite://PATH` needs a path to the database file");
                    }
                    return Ok(Location::Sqlite(PathBuf::from(path)));
                }
                let scheme = url.split("://").next().unwrap_or("");
                if scheme == "postgres" || scheme == "postgresql" {
                    return Ok(Location::Postgres(url.to_owned()));
                }
                // Never echo the URL: it may hold a password.
                bail!(
                    "unknown store scheme `{scheme}`: use sqlite://PATH, postgres://… or omit --store"
                )
            }
        }
    }
}

/// Opens (creating and migrating when needed) the store at `location`.
pub fn open(location: &Location) -> anyhow::Result<Arc<dyn Store>> {
    match location {
        Location::Sqlite(path) => Ok(Arc::new(sqlite::SqliteStore::open(path)?)),
        Location::Postgres(url) => Ok(Arc::new(postgres::PostgresStore::open(url)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        let data = Path::new("/d");
        assert_eq!(
            Location::parse(None, data).unwrap(),
            Location::Sqlite("/d/uptake.db".into())
        );
        assert_eq!(
            Location::parse(Some("sqlite://x.db"), data).unwrap(),
            Location::Sqlite("x.db".into())
        );
        assert_eq!(
            Location::parse(Some("sqlite:///a/b.db"), data).unwrap(),
            Location::Sqlite("/a/b.db".into())
        );
        let err = Location::parse(Some("mysql://root:hunter2@h/db"), data)
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
    }
}
