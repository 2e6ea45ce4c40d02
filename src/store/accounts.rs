//! API keys and dashboard logins as rows, for both engines.

use anyhow::Context;

use super::sql::{Db, Row};
use super::{DashboardUser, KeyKind, StoredKey, StoredSession};
use crate::args;
use crate::event::OrgSlug;
use crate::time::Micros;

fn org_of(value: Option<String>, what: &str) -> anyhow::Result<Option<OrgSlug>> {
    value
        .map(|o| OrgSlug::parse(&o).with_context(|| format!("stored {what} has invalid org {o}")))
        .transpose()
}

fn key_of(r: &dyn Row) -> anyhow::Result<StoredKey> {
    let kind = r.text(1)?;
    Ok(StoredKey {
        key_id: r.text(0)?,
        kind: KeyKind::from_name(&kind)
            .with_context(|| format!("stored key has unknown kind {kind}"))?,
        org: org_of(r.opt_text(2)?, "key")?,
        secret_sha256: r
            .bytes(3)?
            .try_into()
            .ok()
            .context("stored key hash is not 32 bytes")?,
        created_at: Micros(r.int(4)?),
        last_used_at: r.opt_int(5)?.map(Micros),
        revoked_at: r.opt_int(6)?.map(Micros),
    })
}

fn user_of(r: &dyn Row) -> anyhow::Result<DashboardUser> {
    Ok(DashboardUser {
        username: r.text(0)?,
        password_hash: r.text(1)?,
        org: org_of(r.opt_text(2)?, "login")?,
        created_at: Micros(r.int(3)?),
        last_login_at: r.opt_int(4)?.map(Micros),
    })
}

const KEY_COLUMNS: &str =
    "SELECT key_id, kind, org, secret_sha256, created_at, last_used_at, revoked_at FROM api_keys";
const USER_COLUMNS: &str =
    "SELECT username, password_hash, org, created_at, last_login_at FROM dashboard_users";

pub fn insert_key(db: &dyn Db, key: &StoredKey) -> anyhow::Result<()> {
    db.exec(
        "INSERT INTO api_keys (key_id, kind, org, secret_sha256, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        args![
            &key.key_id,
            key.kind.name(),
            key.org.as_ref().map(OrgSlug::as_str),
            key.secret_sha256.as_slice(),
            key.created_at.0
        ],
    )?;
    Ok(())
}

pub fn find_key(db: &dyn Db, key_id: &str) -> anyhow::Result<Option<StoredKey>> {
    super::sql::first(
        db,
        &format!("{KEY_COLUMNS} WHERE key_id = ?1"),
        args![key_id],
        key_of,
    )
}

pub fn keys(db: &dyn Db) -> anyhow::Result<Vec<StoredKey>> {
    let mut out = Vec::new();
    db.each(
        &format!("{KEY_COLUMNS} ORDER BY key_id"),
        args![],
        &mut |r| {
            out.push(key_of(r)?);
            Ok(())
        },
    )?;
    Ok(out)
}

pub fn upsert_user(db: &dyn Db, user: &DashboardUser) -> anyhow::Result<()> {
    db.exec(
        "INSERT INTO dashboard_users (username, password_hash, org, created_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash, org = excluded.org",
        args![
            &user.username,
            &user.password_hash,
            user.org.as_ref().map(OrgSlug::as_str),
            user.created_at.0
        ],
    )
    .context("failed to store the dashboard login")?;
    // A new password or org ends the sessions opened with the old ones.
    end_sessions(db, &user.username)
}

/// Ends every session of `username` at once.
pub fn end_sessions(db: &dyn Db, username: &str) -> anyhow::Result<()> {
    db.exec(
        "DELETE FROM dashboard_sessions WHERE username = ?1",
        args![username],
    )?;
    Ok(())
}

pub fn remove_user(db: &dyn Db, username: &str) -> anyhow::Result<bool> {
    end_sessions(db, username)?;
    let removed = db.exec(
        "DELETE FROM dashboard_users WHERE username = ?1",
        args![username],
    )?;
    Ok(removed > 0)
}

pub fn record_login(db: &dyn Db, username: &str, at: Micros) -> anyhow::Result<()> {
    db.exec(
        "UPDATE dashboard_users SET last_login_at = ?2 WHERE username = ?1",
        args![username, at.0],
    )?;
    Ok(())
}

pub fn revoke_key(db: &dyn Db, key_id: &str, at: Micros) -> anyhow::Result<bool> {
    let found = db.exec(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?2) WHERE key_id = ?1",
        args![key_id, at.0],
    )?;
    Ok(found > 0)
}

pub fn touch_key(db: &dyn Db, key_id: &str, at: Micros) -> anyhow::Result<()> {
    db.exec(
        "UPDATE api_keys SET last_used_at = ?2 WHERE key_id = ?1",
        args![key_id, at.0],
    )?;
    Ok(())
}

pub fn find_user(db: &dyn Db, username: &str) -> anyhow::Result<Option<DashboardUser>> {
    super::sql::first(
        db,
        &format!("{USER_COLUMNS} WHERE username = ?1"),
        args![username],
        user_of,
    )
}

pub fn users(db: &dyn Db) -> anyhow::Result<Vec<DashboardUser>> {
    let mut out = Vec::new();
    db.each(
        &format!("{USER_COLUMNS} ORDER BY username"),
        args![],
        &mut |r| {
            out.push(user_of(r)?);
            Ok(())
        },
    )?;
    Ok(out)
}

pub fn insert_session(db: &dyn Db, session: &StoredSession, expired: Micros) -> anyhow::Result<()> {
    db.exec(
        "DELETE FROM dashboard_sessions WHERE last_seen < ?1",
        args![expired.0],
    )?;
    db.exec(
        "INSERT INTO dashboard_sessions (token_sha256, username, org, csrf, last_seen) VALUES (?1, ?2, ?3, ?4, ?5)",
        args![
            session.token_sha256.as_slice(),
            &session.username,
            session.org.as_ref().map(OrgSlug::as_str),
            &session.csrf,
            session.last_seen.0
        ],
    )?;
    Ok(())
}

pub fn find_session(db: &dyn Db, token_sha256: &[u8; 32]) -> anyhow::Result<Option<StoredSession>> {
    super::sql::first(
        db,
        "SELECT username, org, csrf, last_seen FROM dashboard_sessions WHERE token_sha256 = ?1",
        args![token_sha256.as_slice()],
        |r| {
            Ok(StoredSession {
                token_sha256: *token_sha256,
                username: r.text(0)?,
                org: org_of(r.opt_text(1)?, "session")?,
                csrf: r.text(2)?,
                last_seen: Micros(r.int(3)?),
            })
        },
    )
}

pub fn touch_session(db: &dyn Db, token_sha256: &[u8; 32], now: Micros) -> anyhow::Result<()> {
    db.exec(
        "UPDATE dashboard_sessions SET last_seen = ?1 WHERE token_sha256 = ?2",
        args![now.0, token_sha256.as_slice()],
    )?;
    Ok(())
}

pub fn delete_session(db: &dyn Db, token_sha256: &[u8; 32]) -> anyhow::Result<()> {
    db.exec(
        "DELETE FROM dashboard_sessions WHERE token_sha256 = ?1",
        args![token_sha256.as_slice()],
    )?;
    Ok(())
}

pub fn count_sdk_messages(db: &dyn Db, counts: &[super::SdkCount]) -> anyhow::Result<()> {
    for c in counts {
        let month = crate::calendar::Month::parse(&c.month)
            .with_context(|| format!("`{}` is not a month", c.month))?;
        db.exec(
            "INSERT INTO sdk_messages (org, source, name, month, outcome, n) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (org, source, month, outcome, name) DO UPDATE SET n = sdk_messages.n + excluded.n",
            args![
                c.org.as_str(),
                c.source.as_str(),
                c.name.as_str(),
                month.year() * 12 + month.number() - 1,
                c.outcome.as_str(),
                c.n as i64
            ],
        )?;
    }
    Ok(())
}

pub fn sdk_messages(db: &dyn Db) -> anyhow::Result<Vec<super::SdkCount>> {
    let mut out = Vec::new();
    db.each(
        "SELECT org, source, name, month, outcome, n FROM sdk_messages
         ORDER BY org, source, month, outcome, name",
        args![],
        &mut |r| {
            let m = r.int(3)?;
            out.push(super::SdkCount {
                org: r.text(0)?,
                source: r.text(1)?,
                name: r.text(2)?,
                month: crate::calendar::Month::new(m.div_euclid(12), m.rem_euclid(12) + 1)
                    .to_string(),
                outcome: r.text(4)?,
                n: r.int(5)? as u64,
            });
            Ok(())
        },
    )?;
    Ok(out)
}
