//! The numbered schema history, embedded in the binary and applied at
//! start. A migration is never edited once released: changes are new
//! migrations. Every engine gets the same numbers.

use anyhow::bail;
use sha2::{Digest, Sha256};

use super::sql::Db;
use crate::args;

pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "events",
        sqlite: include_str!("../../migrations/sqlite/0001_events.sql"),
        postgres: include_str!("../../migrations/postgres/0001_events.sql"),
    },
    Migration {
        version: 2,
        name: "rollups",
        sqlite: include_str!("../../migrations/sqlite/0002_rollups.sql"),
        postgres: include_str!("../../migrations/postgres/0002_rollups.sql"),
    },
    Migration {
        version: 3,
        name: "dashboard_users",
        sqlite: include_str!("../../migrations/sqlite/0003_dashboard_users.sql"),
        postgres: include_str!("../../migrations/postgres/0003_dashboard_users.sql"),
    },
    Migration {
        version: 4,
        name: "login_days_covering",
        sqlite: include_str!("../../migrations/sqlite/0004_login_days_covering.sql"),
        postgres: include_str!("../../migrations/postgres/0004_login_days_covering.sql"),
    },
    Migration {
        version: 5,
        name: "events_by_kind_time_user",
        sqlite: include_str!("../../migrations/sqlite/0005_events_by_kind_time_user.sql"),
        postgres: include_str!("../../migrations/postgres/0005_events_by_kind_time_user.sql"),
    },
    Migration {
        version: 6,
        name: "dashboard_sessions",
        sqlite: include_str!("../../migrations/sqlite/0006_dashboard_sessions.sql"),
        postgres: include_str!("../../migrations/postgres/0006_dashboard_sessions.sql"),
    },
    Migration {
        version: 7,
        name: "month_versions",
        sqlite: include_str!("../../migrations/sqlite/0007_month_versions.sql"),
        postgres: include_str!("../../migrations/postgres/0007_month_versions.sql"),
    },
    Migration {
        version: 8,
        name: "rollup_fillfactor",
        sqlite: include_str!("../../migrations/sqlite/0008_rollup_fillfactor.sql"),
        postgres: include_str!("../../migrations/postgres/0008_rollup_fillfactor.sql"),
    },
    Migration {
        version: 9,
        name: "drop_user_totals",
        sqlite: include_str!("../../migrations/sqlite/0009_drop_user_totals.sql"),
        postgres: include_str!("../../migrations/postgres/0009_drop_user_totals.sql"),
    },
    Migration {
        version: 10,
        name: "day_grain",
        sqlite: include_str!("../../migrations/sqlite/0010_day_grain.sql"),
        postgres: include_str!("../../migrations/postgres/0010_day_grain.sql"),
    },
    Migration {
        version: 11,
        name: "people_data",
        sqlite: include_str!("../../migrations/sqlite/0011_people_data.sql"),
        postgres: include_str!("../../migrations/postgres/0011_people_data.sql"),
    },
    Migration {
        version: 12,
        name: "migration_checksums",
        sqlite: include_str!("../../migrations/sqlite/0012_migration_checksums.sql"),
        postgres: include_str!("../../migrations/postgres/0012_migration_checksums.sql"),
    },
    Migration {
        version: 13,
        name: "sdk_messages",
        sqlite: include_str!("../../migrations/sqlite/0013_sdk_messages.sql"),
        postgres: include_str!("../../migrations/postgres/0013_sdk_messages.sql"),
    },
    Migration {
        version: 14,
        name: "browser_keys",
        sqlite: include_str!("../../migrations/sqlite/0014_browser_keys.sql"),
        postgres: include_str!("../../migrations/postgres/0014_browser_keys.sql"),
    },
];

/// Checks, inside the migrating transaction, that every applied migration
/// is the one this binary holds (by the SHA-256 of its text for `engine`),
/// recording the checksums not recorded yet.
pub fn verify_checksums(db: &dyn Db, postgres: bool) -> anyhow::Result<()> {
    let mut applied = Vec::new();
    db.each(
        "SELECT version, name, checksum FROM schema_migrations ORDER BY version",
        args![],
        &mut |r| {
            applied.push((r.int(0)?, r.text(1)?, r.opt_text(2)?));
            Ok(())
        },
    )?;
    for (version, name, recorded) in applied {
        let Some(known) = MIGRATIONS.iter().find(|m| m.version == version) else {
            continue;
        };
        let text = if postgres {
            known.postgres
        } else {
            known.sqlite
        };
        let checksum: String = Sha256::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        match recorded {
            None => {
                db.exec(
                    "UPDATE schema_migrations SET checksum = ?2 WHERE version = ?1",
                    args![version, checksum.as_str()],
                )?;
            }
            Some(recorded) if recorded != checksum => bail!(
                "migration {version} ({name}) in this binary differs from the one applied to this store: \
                 migrations are never edited once released; build from the original migration file, \
                 or add a new migration for the change"
            ),
            Some(_) => {}
        }
    }
    Ok(())
}

/// The newest schema this binary knows.
pub fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_consecutive_from_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1, "{}", m.name);
        }
    }
}
