//! `uptake bench`: measures, on this machine, what the contracts promise,
//! by running the real binary as child processes on loopback. It reports;
//! it asserts nothing.
//!
//! - `ingest`: HTTP events/s with durable acknowledgements from concurrent
//!   clients, `import` events/s on a large file, the server's peak memory,
//!   and bytes on disk per event.
//! - `dashboard`: the time to answer all 24 widgets of the default report
//!   over HTTP, warm, at several history sizes, and the server's memory.

pub mod client;
mod dashboard;
mod ingest;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ExitCode};
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;

use crate::config::Config;
use crate::generate::Generator;
use crate::time::Micros;

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Ingest throughput, memory and disk use.
    Ingest(ingest::IngestArgs),
    /// Time to answer every widget at several history sizes.
    Dashboard(dashboard::DashboardArgs),
}

pub fn run(_config: &Config, command: &BenchCommand) -> anyhow::Result<ExitCode> {
    let dir = match command {
        BenchCommand::Ingest(args) => args.dir.clone(),
        BenchCommand::Dashboard(args) => args.dir.clone(),
    };
    let (dir, remove) = match dir {
        Some(dir) => (dir, false),
        None => (
            std::env::temp_dir().join(format!("uptake-bench-{}", std::process::id())),
            true,
        ),
    };
    std::fs::create_dir_all(&dir)?;
    let result = match command {
        BenchCommand::Ingest(args) => ingest::run(&dir, args),
        BenchCommand::Dashboard(args) => dashboard::run(&dir, args),
    };
    if remove {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result.map(|()| ExitCode::SUCCESS)
}

/// The events of a benchmark: the fixture's mix, roughly in time order
/// (or shuffled), ending at `end`.
fn generator(seed: u64, events: u64, end: Micros, shuffled: bool) -> Generator {
    if shuffled {
        let users = ((events / 1_000_000) as usize * 300).max(20);
        Generator::new(
            seed,
            users,
            Micros(end.0 - 395 * crate::time::MICROS_PER_DAY),
            end,
        )
    } else {
        Generator::for_events(seed, events, end)
    }
}

/// Reads the server's `listening on http://ADDR` line.
pub fn read_listen_address(server: &mut Child) -> anyhow::Result<SocketAddr> {
    let stdout = server.stdout.take().context("server stdout is not piped")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    line.trim()
        .strip_prefix("listening on http://")
        .and_then(|a| a.parse().ok())
        .with_context(|| format!("unexpected first line from the server: {line:?}"))
}

/// The peak resident set size of a process, in bytes (Linux `VmHWM`).
pub fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Polls a child's peak RSS until it exits.
pub(crate) fn watch_peak_rss(child: &mut Child) -> anyhow::Result<u64> {
    let mut peak = 0;
    while child.try_wait()?.is_none() {
        peak = peak.max(peak_rss(child.id()).unwrap_or(0));
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(peak)
}

pub(crate) fn dir_bytes(dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        total += entry?.metadata()?.len();
    }
    Ok(total)
}
