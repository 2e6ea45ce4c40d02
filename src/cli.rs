//! The commands and flags of `operations.md`, and what each one runs.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{Config, ConfigError, Overrides};
use crate::event::OrgSlug;
use crate::store::{self, KeyKind, Location};
use crate::time::Micros;

#[derive(Parser)]
#[command(
    name = "uptake",
    version,
    about = "Usage and adoption dashboard for internal developer portals"
)]
pub struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Global {
    /// TOML configuration file.
    #[arg(long, env = "UPTAKE_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Directory of the embedded store [default: ./uptake-data].
    #[arg(long, env = "UPTAKE_DATA", global = true)]
    data: Option<PathBuf>,
    /// Store URL: sqlite://PATH or postgres://… [default: the SQLite file under --data].
    #[arg(long, env = "UPTAKE_STORE", global = true, hide_env_values = true)]
    store: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server: ingest API, widget API and web dashboard.
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080].
        #[arg(long, env = "UPTAKE_LISTEN")]
        listen: Option<String>,
    },
    /// Load NDJSON or JSON-array event files (`-` for stdin).
    Import {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The org of events that name none; events naming another are refused.
        #[arg(long)]
        org: Option<String>,
    },
    /// Generate a demo company into a fresh store and serve its dashboard.
    Demo {
        /// Address to listen on [default: 127.0.0.1:8080].
        #[arg(long, env = "UPTAKE_LISTEN")]
        listen: Option<String>,
        /// Events to generate.
        #[arg(long, default_value_t = 400_000)]
        events: u64,
    },
    /// Manage dashboard logins.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Write a consistent copy of the store, as an SQLite file, while the
    /// server runs.
    Backup {
        /// The backup file to create (it must not exist).
        #[arg(long)]
        to: PathBuf,
    },
    /// Copy a whole store into another (e.g. SQLite into PostgreSQL);
    /// resumable, verified by counts at the end.
    MigrateStore {
        /// The store to copy: sqlite://PATH or postgres://…
        #[arg(long)]
        from: String,
        /// The store to copy into: postgres://… or sqlite://PATH
        #[arg(long)]
        to: String,
    },
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Erase a person: their events and everything derived from them.
    Erase {
        /// The portal user id, as events carry it in `user`.
        #[arg(long)]
        user: String,
        /// Erase them in this org only [default: every org].
        #[arg(long)]
        org: Option<String>,
    },
    /// Measure ingest and dashboard performance on this machine.
    Bench {
        #[command(subcommand)]
        command: crate::bench::BenchCommand,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key and print it once on stdout.
    Create {
        #[arg(long, value_enum)]
        kind: KindArg,
        /// Bind the key to one org.
        #[arg(long)]
        org: Option<String>,
    },
    /// List every key (never its secret).
    List {
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key: every process on the store refuses it within 5 s.
    Revoke {
        /// The key's id (the part after `uptake_<kind>_`, as `keys list` shows it).
        id: String,
    },
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Create a login (or reset its password). The password is read from
    /// stdin when it is not a terminal, else prompted for.
    Add {
        #[arg(long)]
        username: String,
        /// Make the login a viewer of this org only [default: company admin].
        #[arg(long)]
        org: Option<String>,
    },
    /// List dashboard logins.
    List {
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Remove a login and end its sessions at once.
    Remove {
        #[arg(long)]
        username: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum KindArg {
    Ingest,
    Read,
    /// Public: page views and logins from browser SDKs only.
    Browser,
}

/// Parses the command line and runs it. Exit codes: 0 success, 1 failure,
/// 2 usage or configuration error.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let overrides = Overrides {
        config: cli.global.config.clone(),
        data: cli.global.data.clone(),
        store: cli.global.store.clone(),
        listen: match &cli.command {
            Command::Serve { listen } | Command::Demo { listen, .. } => listen.clone(),
            _ => None,
        },
    };
    let config = match Config::load(&overrides) {
        Ok(config) => config,
        Err(ConfigError(message)) => {
            errln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Serve { .. } => serve(&config),
        Command::Backup { to } => backup(&config, &to),
        Command::MigrateStore { from, to } => crate::migrate::run(&config, &from, &to),
        Command::Demo { events, .. } => {
            crate::demo::run(&config, cli.global.data.is_some(), events)
        }
        Command::Users {
            command: UsersCommand::Add { username, org },
        } => add_user(&config, &username, org.as_deref()),
        Command::Users {
            command: UsersCommand::List { json },
        } => crate::admin::list_users(&config, json),
        Command::Users {
            command: UsersCommand::Remove { username },
        } => crate::admin::remove_user(&config, &username),
        Command::Keys {
            command: KeysCommand::List { json },
        } => crate::admin::list_keys(&config, json),
        Command::Keys {
            command: KeysCommand::Revoke { id },
        } => crate::admin::revoke_key(&config, &id),
        Command::Erase { user, org } => crate::admin::erase(&config, &user, org.as_deref()),
        Command::Import { files, org } => import(&config, &files, org.as_deref()),
        Command::Keys {
            command: KeysCommand::Create { kind, org },
        } => create_key(&config, kind, org.as_deref()),
        Command::Bench { command } => crate::bench::run(&config, &command),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            errln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("UPTAKE_LOG")
        // PostgreSQL's notices ("relation already exists, skipping") are noise.
        .unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new("info,tokio_postgres=warn,postgres=warn")
        });
    // A log line that cannot be written (stderr on a full disk) is
    // dropped: reporting that failure would itself go to stderr, which
    // `eprintln!` does by panicking.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .log_internal_errors(false)
        .try_init();
}

pub(crate) fn parse_org(org: Option<&str>) -> anyhow::Result<Option<OrgSlug>> {
    org.map(|o| {
        OrgSlug::parse(o)
            .with_context(|| format!("`--org {o}` is not an org slug ([a-z0-9][a-z0-9_-]{{0,63}})"))
    })
    .transpose()
}

fn serve(config: &Config) -> anyhow::Result<ExitCode> {
    let store = crate::server::open_store_with_rollups(config)?;
    crate::server::run(config, store, |addr| {
        outln!("listening on http://{addr}");
    })
}

fn import(config: &Config, files: &[PathBuf], org: Option<&str>) -> anyhow::Result<ExitCode> {
    let org = parse_org(org)?;
    let store = crate::server::open_store_with_rollups(config)?;
    let import = crate::import::Import {
        files,
        org,
        limits: &config.ingest,
        now: Micros::now(),
    };
    let outcome = crate::import::run(&import, store)?;
    outln!("{}", serde_json::to_string(&outcome.summary)?);
    match outcome.error {
        None => Ok(ExitCode::SUCCESS),
        Some(e) => Err(e),
    }
}

fn create_key(config: &Config, kind: KindArg, org: Option<&str>) -> anyhow::Result<ExitCode> {
    let org = parse_org(org)?;
    let kind = match kind {
        KindArg::Ingest => KeyKind::Ingest,
        KindArg::Read => KeyKind::Read,
        KindArg::Browser => KeyKind::Browser,
    };
    let store = crate::server::open_store(config)?;
    let (text, stored) = crate::keys::generate(kind, org);
    store.insert_key(&stored)?;
    outln!("{text}");
    Ok(ExitCode::SUCCESS)
}

fn add_user(config: &Config, username: &str, org: Option<&str>) -> anyhow::Result<ExitCode> {
    let org = parse_org(org)?;
    let password = read_password()?;
    let store = crate::server::open_store(config)?;
    crate::dashboard_users::add(store.as_ref(), username, &password, org.clone())?;
    match org {
        None => errln!("login `{username}` saved: a company admin, who sees every org"),
        Some(org) => errln!("login `{username}` saved: a viewer of org `{org}` only"),
    }
    Ok(ExitCode::SUCCESS)
}

/// The new password: one line of stdin when it is not a terminal, else
/// typed twice at a prompt that does not echo.
fn read_password() -> anyhow::Result<String> {
    use std::io::{BufRead, IsTerminal};
    if !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("failed to read the password from stdin")?;
        return Ok(line.trim_end_matches(['\n', '\r']).to_owned());
    }
    let first = rpassword::prompt_password("Password: ").context("failed to read the password")?;
    let second =
        rpassword::prompt_password("Password again: ").context("failed to read the password")?;
    if first != second {
        anyhow::bail!("the two passwords differ; nothing was saved");
    }
    Ok(first)
}

fn backup(config: &Config, to: &std::path::Path) -> anyhow::Result<ExitCode> {
    if to.exists() {
        anyhow::bail!(
            "{} already exists; a backup goes to a new file",
            to.display()
        );
    }
    let store = crate::server::open_store(config)?;
    if !store.backup_sqlite_file(to)? {
        // PostgreSQL: the events, keys and logins into a new SQLite store,
        // whose rollups its writer builds for the configured settings.
        let target = store::open(&Location::Sqlite(to.to_owned()))?;
        let report = crate::migrate::copy(
            store.as_ref(),
            target.as_ref(),
            config,
            crate::migrate::Verify::EveryEventRead,
        )?;
        errln!("{report}");
    }
    outln!("backup written to {}", to.display());
    Ok(ExitCode::SUCCESS)
}
