//! `uptake demo`: a realistic company in a fresh store, served at once, so
//! a newcomer sees a full dashboard with one command.
//!
//! The events go through the normal import path (validation, the writer,
//! the rollups); nothing is written behind its back.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use rand::Rng;

use crate::config::Config;
use crate::event::OrgSlug;
use crate::generate::Generator;
use crate::time::Micros;

/// People in the demo company.
const DEMO_USERS: usize = 320;
/// The demo logins: an admin, and a viewer of one org.
const ADMIN: &str = "demo";
const VIEWER: &str = "demo-eu";
const VIEWER_ORG: &str = "acme-eu";

/// Where the demo keeps its store, and whether to remove it at exit.
struct DemoDir {
    path: PathBuf,
    temporary: bool,
}

impl Drop for DemoDir {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

fn demo_dir(config: &Config, data_given: bool) -> anyhow::Result<DemoDir> {
    if config.store.is_some() {
        bail!(
            "`uptake demo` makes its own embedded store; leave out --store (use --data DIR to keep it)"
        );
    }
    if !data_given {
        let path = tempfile::Builder::new()
            .prefix("uptake-demo-")
            .tempdir()
            .context("failed to create a temporary directory for the demo")?
            .keep();
        return Ok(DemoDir {
            path,
            temporary: true,
        });
    }
    let path = config.data.clone();
    if path.join("uptake.db").exists() {
        bail!(
            "{} already holds an Uptake store; the demo needs a fresh one: choose another --data DIR or leave --data out",
            path.display()
        );
    }
    std::fs::create_dir_all(&path)
        .with_context(|| format!("failed to create {}", path.display()))?;
    Ok(DemoDir {
        path,
        temporary: false,
    })
}

fn password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..16)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

pub fn run(config: &Config, data_given: bool, events: u64) -> anyhow::Result<ExitCode> {
    let dir = demo_dir(config, data_given)?;
    let mut config = config.clone();
    config.data = dir.path.clone();
    if config.company.name == crate::config::Company::default().name {
        config.company.name = "Acme (demo)".into();
    }

    // The history: 13 months up to now, as a live portal would have sent it.
    let now = Micros::now();
    let file = dir.path.join("demo-events.ndjson");
    {
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(&file)
                .with_context(|| format!("failed to create {}", file.display()))?,
        );
        let mut generator = Generator::for_company(now.0 as u64, DEMO_USERS, events, now);
        for line in generator.prologue() {
            writeln!(out, "{line}")?;
        }
        for _ in 0..events {
            writeln!(out, "{}", generator.next_line())?;
        }
        out.flush()?;
    }
    errln!("importing {events} demo events into {}", dir.path.display());
    let store = crate::server::open_store_with_rollups(&config)?;
    let import = crate::import::Import {
        files: std::slice::from_ref(&file),
        org: None,
        limits: &config.ingest,
        now,
    };
    let outcome = crate::import::run(&import, store.clone())?;
    if let Some(e) = outcome.error {
        return Err(e.context("the demo events could not be imported"));
    }
    let _ = std::fs::remove_file(&file);

    let secret = password();
    crate::dashboard_users::add(store.as_ref(), ADMIN, &secret, None)?;
    crate::dashboard_users::add(
        store.as_ref(),
        VIEWER,
        &secret,
        Some(OrgSlug::parse(VIEWER_ORG).context("the demo org is a slug")?),
    )?;
    crate::server::run(&config, store, |addr| {
        outln!("url: http://{addr}/");
        outln!("username: {ADMIN}");
        outln!("password: {secret}");
        outln!("(also `{VIEWER}` with the same password: a viewer of {VIEWER_ORG} only)");
    })
}
