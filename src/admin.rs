//! The commands that keep people's data under control: listing and
//! revoking keys, listing and removing dashboard logins, and erasing a
//! person (`operations.md`).

use std::process::ExitCode;

use serde::Serialize;

use crate::config::Config;
use crate::store::{DashboardUser, StoredKey};
use crate::time::Micros;

#[derive(Serialize)]
struct KeyLine<'a> {
    id: &'a str,
    kind: &'a str,
    org: Option<&'a str>,
    created_at: String,
    last_used_at: Option<String>,
    revoked_at: Option<String>,
}

fn key_line(key: &StoredKey) -> KeyLine<'_> {
    KeyLine {
        id: &key.key_id,
        kind: key.kind.name(),
        org: key.org.as_ref().map(|o| o.as_str()),
        created_at: key.created_at.to_string(),
        last_used_at: key.last_used_at.map(|t| t.to_string()),
        revoked_at: key.revoked_at.map(|t| t.to_string()),
    }
}

pub fn list_keys(config: &Config, json: bool) -> anyhow::Result<ExitCode> {
    let store = crate::server::open_store(config)?;
    let keys = store.keys()?;
    let lines: Vec<KeyLine<'_>> = keys.iter().map(key_line).collect();
    if json {
        outln!("{}", serde_json::to_string(&lines)?);
        return Ok(ExitCode::SUCCESS);
    }
    let rows = lines.iter().map(|k| {
        [
            k.id.to_owned(),
            k.kind.to_owned(),
            k.org.unwrap_or("(all)").to_owned(),
            k.created_at.clone(),
            k.last_used_at.clone().unwrap_or_else(|| "never".into()),
            k.revoked_at.clone().unwrap_or_else(|| "-".into()),
        ]
    });
    print_table(
        ["id", "kind", "org", "created", "last used", "revoked"],
        rows.collect(),
    );
    Ok(ExitCode::SUCCESS)
}

pub fn revoke_key(config: &Config, id: &str) -> anyhow::Result<ExitCode> {
    let store = crate::server::open_store(config)?;
    if !store.revoke_key(id, Micros::now())? {
        anyhow::bail!("no key has the id `{id}`; `uptake keys list` shows the ids");
    }
    errln!(
        "key `{id}` revoked: every Uptake process on this store refuses it within {} s",
        crate::keys::RECHECK.as_secs() + 1
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct UserLine<'a> {
    username: &'a str,
    org: Option<&'a str>,
    created_at: String,
    last_login_at: Option<String>,
}

fn user_line(user: &DashboardUser) -> UserLine<'_> {
    UserLine {
        username: &user.username,
        org: user.org.as_ref().map(|o| o.as_str()),
        created_at: user.created_at.to_string(),
        last_login_at: user.last_login_at.map(|t| t.to_string()),
    }
}

pub fn list_users(config: &Config, json: bool) -> anyhow::Result<ExitCode> {
    let store = crate::server::open_store(config)?;
    let users = store.users()?;
    let lines: Vec<UserLine<'_>> = users.iter().map(user_line).collect();
    if json {
        outln!("{}", serde_json::to_string(&lines)?);
        return Ok(ExitCode::SUCCESS);
    }
    let rows = lines.iter().map(|u| {
        [
            u.username.to_owned(),
            u.org.unwrap_or("(all)").to_owned(),
            u.created_at.clone(),
            u.last_login_at.clone().unwrap_or_else(|| "never".into()),
        ]
    });
    print_table(["username", "org", "created", "last login"], rows.collect());
    Ok(ExitCode::SUCCESS)
}

pub fn remove_user(config: &Config, username: &str) -> anyhow::Result<ExitCode> {
    let store = crate::server::open_store(config)?;
    if !store.remove_user(username)? {
        anyhow::bail!("there is no login `{username}`; `uptake users list` shows them");
    }
    errln!("login `{username}` removed, and its sessions ended");
    Ok(ExitCode::SUCCESS)
}

pub fn erase(config: &Config, user: &str, org: Option<&str>) -> anyhow::Result<ExitCode> {
    let org = crate::cli::parse_org(org)?;
    let store = crate::server::open_store(config)?;
    let events = store.erase_user(user, org.as_ref(), Micros::now())?;
    outln!("{}", serde_json::json!({ "events": events }));
    Ok(ExitCode::SUCCESS)
}

/// Columns padded to their widest cell, for people reading a terminal.
fn print_table<const N: usize>(header: [&str; N], rows: Vec<[String; N]>) {
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        padded.join("  ").trim_end().to_owned()
    };
    outln!("{}", line(header.to_vec()));
    for row in &rows {
        outln!("{}", line(row.iter().map(String::as_str).collect()));
    }
}
