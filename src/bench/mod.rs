//! `uptake bench`: measures, on this machine, what the contracts promise,
//! by running the real binary as child processes on loopback. It reports;
//! it asserts nothing.
//!
//! - `ingest`: HTTP events/s with durable acknowledgements from concurrent
//!   clients, `import` events/s on a large file, the server's peak memory,
//!   and bytes on disk per event.
//! - `dashboard`: the time to answer all 24 widgets of the default report
//!   over HTTP, warm, at several history sizes, the server's memory, and
//!   each dashboard tab's HTML time and weight behind a login.
//!
//! Both take `--postgres URL` to measure the PostgreSQL store instead.

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
    /// Writes a generated history as NDJSON (what the benches import).
    Generate(GenerateArgs),
}

/// The shape of a generated history.
#[derive(clap::Args, Debug)]
pub struct GenerateArgs {
    /// Events to generate.
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// People in the company (default: about 300 per million events).
    #[arg(long)]
    users: Option<usize>,
    /// Days the history spans, ending now.
    #[arg(long, default_value_t = 456)]
    days: i64,
    /// How senders make event ids.
    #[arg(long, value_enum, default_value = "mixed")]
    ids: crate::generate::IdStyle,
    /// Seed of the generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The file to write (`-`: stdout).
    #[arg(long, default_value = "-")]
    out: std::path::PathBuf,
}

fn generate(args: &GenerateArgs) -> anyhow::Result<()> {
    use std::io::Write;
    let users = args
        .users
        .unwrap_or(((args.events / 1_000_000) as usize * 300).max(20));
    let mut generator =
        Generator::for_span(args.seed, args.events, users, args.days, Micros::now())
            .with_ids(args.ids);
    let out: Box<dyn Write> = if args.out == Path::new("-") {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(std::fs::File::create(&args.out)?)
    };
    let mut out = std::io::BufWriter::new(out);
    for _ in 0..args.events {
        writeln!(out, "{}", generator.next_line())?;
    }
    out.flush()?;
    Ok(())
}

pub fn run(_config: &Config, command: &BenchCommand) -> anyhow::Result<ExitCode> {
    let dir = match command {
        BenchCommand::Generate(args) => return generate(args).map(|()| ExitCode::SUCCESS),
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
        BenchCommand::Generate(_) => unreachable!("generate returned above"),
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

/// Where a benchmark run keeps its store: the SQLite file under `data`, or
/// a fresh database on the PostgreSQL server of `--postgres`.
pub(crate) struct BenchStore {
    pub data: std::path::PathBuf,
    pub url: Option<String>,
}

impl BenchStore {
    /// A new store named `name`: a directory under `dir`, and with a
    /// PostgreSQL server (`postgres://user@host:port`) a new database.
    /// With `reuse`, an existing database of that name is kept as it is.
    pub fn new(
        dir: &Path,
        name: &str,
        postgres: Option<&str>,
        reuse: bool,
    ) -> anyhow::Result<BenchStore> {
        let url = match postgres {
            None => None,
            Some(base) => {
                let db = if reuse {
                    format!("uptake_bench_{name}")
                } else {
                    format!("uptake_bench_{}_{name}", std::process::id())
                }
                .replace('-', "_");
                let mut admin =
                    ::postgres::Client::connect(&format!("{base}/postgres"), ::postgres::NoTls)
                        .context("cannot connect to the --postgres server")?;
                let exists = !admin
                    .query("SELECT 1 FROM pg_database WHERE datname = $1", &[&db])?
                    .is_empty();
                if !(reuse && exists) {
                    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))?;
                    admin.batch_execute(&format!("CREATE DATABASE {db}"))?;
                }
                Some(format!("{base}/{db}"))
            }
        };
        Ok(BenchStore {
            data: dir.join(name),
            url,
        })
    }

    /// `uptake ARGS --data DIR [--store URL]`.
    pub fn command(&self, exe: &Path, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(exe);
        cmd.args(args).arg("--data").arg(&self.data);
        if let Some(url) = &self.url {
            cmd.arg("--store").arg(url);
        }
        cmd
    }

    /// A new API key of `kind` (`ingest` or `read`), made by the binary.
    pub fn create_key(&self, exe: &Path, kind: &str) -> anyhow::Result<String> {
        let output = self
            .command(exe, &["keys", "create", "--kind", kind])
            .output()?;
        anyhow::ensure!(
            output.status.success(),
            "uptake keys create failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(String::from_utf8(output.stdout)?.trim().to_owned())
    }

    /// Whether the store already holds events (a store to reuse).
    pub fn has_events(&self) -> anyhow::Result<bool> {
        Ok(match &self.url {
            None => self.data.join("uptake.db").exists(),
            Some(url) => {
                crate::store::open(&crate::store::Location::Postgres(url.clone()))?.event_count()?
                    > 0
            }
        })
    }

    /// Bytes the store occupies.
    pub fn disk_bytes(&self) -> anyhow::Result<u64> {
        match &self.url {
            None => dir_bytes(&self.data),
            Some(url) => {
                crate::store::open(&crate::store::Location::Postgres(url.clone()))?.disk_bytes()
            }
        }
    }
}

pub(crate) fn dir_bytes(dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        total += entry?.metadata()?.len();
    }
    Ok(total)
}
