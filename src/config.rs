//! The configuration: the TOML file, then `UPTAKE_*` environment variables,
//! then command-line flags, each winning over the one before.
//!
//! `clap` already merges flags over the environment; this module adds the
//! file underneath and checks every value once, so that the rest of Uptake
//! sees only a valid [`Config`].

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Everything a command needs to know before it starts.
#[derive(Clone, Debug)]
pub struct Config {
    pub company: Company,
    pub metrics: Settings,
    pub ingest: Limits,
    pub retention: Retention,
    pub server: ServerSettings,
    pub sdk: SdkSettings,
    /// Where the embedded store keeps its files (`--data`).
    pub data: PathBuf,
    /// The store URL (`--store`); `None` is the SQLite file under `data`.
    pub store: Option<String>,
    /// The address `serve` listens on (`--listen`).
    pub listen: String,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Company {
    pub name: String,
    /// An IANA time-zone name, checked against the bundled tz database.
    pub timezone: String,
}

impl Default for Company {
    fn default() -> Company {
        Company {
            name: "Uptake".into(),
            timezone: "UTC".into(),
        }
    }
}

/// The company settings of `metrics.md`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub activation_min_logins: u32,
    pub activation_min_weeks: u32,
    pub inactive_after_months: u32,
    pub latest_logins_days: u32,
    pub top_actions: u32,
    pub engaged_teams: u32,
    pub popular_pages: u32,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            activation_min_logins: 3,
            activation_min_weeks: 3,
            inactive_after_months: 3,
            latest_logins_days: 7,
            top_actions: 6,
            engaged_teams: 5,
            popular_pages: 10,
        }
    }
}

/// The limits of `events.md`, all configurable under `[ingest]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Request body, after decompression.
    pub max_body_bytes: usize,
    pub max_events_per_request: usize,
    pub max_id_bytes: usize,
    /// Every string field but `id`.
    pub max_string_bytes: usize,
    pub max_teams: usize,
    pub max_counts: usize,
    /// JSON nesting depth of one event (the event object is depth 1).
    pub max_depth: usize,
    /// How far past the server's clock an event's `time` may lie.
    pub max_future_hours: u64,
    /// Time to receive a request's headers before `408`.
    pub header_timeout_secs: u64,
    /// Longest wait between two chunks of a request body before `408`.
    pub body_chunk_timeout_secs: u64,
    /// Longest time to receive a whole request body, on every route.
    pub body_timeout_secs: u64,
    /// Connections one client address may hold open at once (trusted
    /// proxies are exempt: many clients share their address).
    pub max_connections_per_address: usize,
    /// Ingest requests whose bodies are read and parsed at the same time;
    /// further ones wait, which bounds memory by the limits.
    pub max_concurrent_requests: usize,
    /// Batches waiting for the writer; a full queue answers `503`.
    pub queue_batches: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_body_bytes: 10 * 1024 * 1024,
            max_events_per_request: 10_000,
            max_id_bytes: 128,
            max_string_bytes: 512,
            max_teams: 50,
            max_counts: 10_000,
            max_depth: 16,
            max_future_hours: 24,
            header_timeout_secs: 10,
            body_chunk_timeout_secs: 30,
            body_timeout_secs: 60,
            max_connections_per_address: 64,
            max_concurrent_requests: 8,
            queue_batches: 64,
        }
    }
}

/// `[retention]`: how long raw events are kept (absent: for ever).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    /// Raw events older than this many whole months are deleted.
    pub raw_events_months: Option<u32>,
}

/// `[server]`: how the server sits in the network.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Addresses or CIDR ranges of reverse proxies whose
    /// `X-Forwarded-For`/`-Proto` headers are believed.
    pub trusted_proxies: Vec<String>,
    /// Addresses or CIDR ranges that may read `GET /metrics` without a key.
    pub metrics_from: Vec<String>,
}

/// `[sdk]`: how Segment and PostHog messages become Uptake events
/// (`docs/INTEGRATIONS.md`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SdkSettings {
    /// An `identify` (Segment) or `$identify` (PostHog) also counts as a
    /// login.
    pub identify_is_login: bool,
    /// Web origins whose browsers may send to the SDK routes (CORS).
    pub cors_origins: Vec<String>,
    /// Rules for event names the default mapping does not know, tried
    /// before it.
    pub mapping: Vec<crate::sdk::MappingRule>,
}

/// The longest retention accepted (100 years): larger values are typos.
pub const MAX_RETENTION_MONTHS: u32 = 1200;

/// The file's shape; every section and key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct File {
    data: Option<PathBuf>,
    store: Option<String>,
    listen: Option<String>,
    company: Company,
    metrics: Settings,
    ingest: Limits,
    retention: Retention,
    server: ServerSettings,
    sdk: SdkSettings,
}

/// Values given as flags or environment variables (already merged by clap).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub data: Option<PathBuf>,
    pub store: Option<String>,
    pub listen: Option<String>,
}

/// A configuration that cannot be used, said in one line.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

pub const DEFAULT_DATA: &str = "./uptake-data";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

impl Config {
    /// Loads the file named by `--config` (if any) under the overrides.
    pub fn load(overrides: &Overrides) -> Result<Config, ConfigError> {
        let (file, origin, text) = match &overrides.config {
            Some(path) => {
                let (file, text) = read_file(path)?;
                (file, path.display().to_string(), text)
            }
            None => (File::default(), "the defaults".to_string(), String::new()),
        };
        for (i, rule) in file.sdk.mapping.iter().enumerate() {
            if let Err(problem) = crate::sdk::check_rule(rule) {
                // The line of the rule's `[[sdk.mapping]]` header.
                let line = text
                    .lines()
                    .enumerate()
                    .filter(|(_, l)| l.trim().starts_with("[[sdk.mapping]]"))
                    .nth(i)
                    .map_or(String::new(), |(n, _)| format!(":{}", n + 1));
                return Err(ConfigError(format!(
                    "{origin}{line}: `sdk.mapping` rule {} (event `{}`): {problem}",
                    i + 1,
                    rule.event
                )));
            }
        }
        let config = Config {
            data: overrides
                .data
                .clone()
                .or(file.data)
                .unwrap_or_else(|| DEFAULT_DATA.into()),
            store: overrides.store.clone().or(file.store),
            listen: overrides
                .listen
                .clone()
                .or(file.listen)
                .unwrap_or_else(|| DEFAULT_LISTEN.into()),
            company: file.company,
            metrics: file.metrics,
            ingest: file.ingest,
            retention: file.retention,
            server: file.server,
            sdk: file.sdk,
        };
        config
            .check()
            .map_err(|(key, problem)| ConfigError(format!("{origin}: `{key}`: {problem}")))?;
        Ok(config)
    }

    fn check(&self) -> Result<(), (&'static str, String)> {
        if jiff::tz::TimeZone::get(&self.company.timezone).is_err() {
            return Err((
                "company.timezone",
                format!(
                    "unknown time zone `{}` (use an IANA name such as Europe/Berlin)",
                    self.company.timezone
                ),
            ));
        }
        let m = &self.metrics;
        let positive = [
            (
                "metrics.activation_min_logins",
                u64::from(m.activation_min_logins),
            ),
            (
                "metrics.activation_min_weeks",
                u64::from(m.activation_min_weeks),
            ),
            (
                "metrics.inactive_after_months",
                u64::from(m.inactive_after_months),
            ),
            (
                "metrics.latest_logins_days",
                u64::from(m.latest_logins_days),
            ),
            ("ingest.max_body_bytes", self.ingest.max_body_bytes as u64),
            (
                "ingest.max_events_per_request",
                self.ingest.max_events_per_request as u64,
            ),
            ("ingest.max_id_bytes", self.ingest.max_id_bytes as u64),
            (
                "ingest.max_string_bytes",
                self.ingest.max_string_bytes as u64,
            ),
            ("ingest.max_depth", self.ingest.max_depth as u64),
            (
                "ingest.header_timeout_secs",
                self.ingest.header_timeout_secs,
            ),
            (
                "ingest.body_chunk_timeout_secs",
                self.ingest.body_chunk_timeout_secs,
            ),
            ("ingest.body_timeout_secs", self.ingest.body_timeout_secs),
            (
                "ingest.max_connections_per_address",
                self.ingest.max_connections_per_address as u64,
            ),
            (
                "ingest.max_concurrent_requests",
                self.ingest.max_concurrent_requests as u64,
            ),
            ("ingest.queue_batches", self.ingest.queue_batches as u64),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err((key, "must be greater than 0".into()));
            }
        }
        // Upper bounds: values past them are typos, and some would overflow
        // a timer or an allocation instead of failing here.
        let at_most = [
            (
                "metrics.activation_min_logins",
                u64::from(m.activation_min_logins),
                100_000,
            ),
            (
                "metrics.activation_min_weeks",
                u64::from(m.activation_min_weeks),
                5_200,
            ),
            (
                "metrics.inactive_after_months",
                u64::from(m.inactive_after_months),
                1_200,
            ),
            (
                "metrics.latest_logins_days",
                u64::from(m.latest_logins_days),
                36_500,
            ),
            ("metrics.top_actions", u64::from(m.top_actions), 10_000),
            ("metrics.engaged_teams", u64::from(m.engaged_teams), 10_000),
            ("metrics.popular_pages", u64::from(m.popular_pages), 10_000),
            (
                "ingest.max_body_bytes",
                self.ingest.max_body_bytes as u64,
                1 << 30,
            ),
            (
                "ingest.max_events_per_request",
                self.ingest.max_events_per_request as u64,
                1_000_000,
            ),
            (
                "ingest.max_id_bytes",
                self.ingest.max_id_bytes as u64,
                1 << 20,
            ),
            (
                "ingest.max_string_bytes",
                self.ingest.max_string_bytes as u64,
                1 << 20,
            ),
            ("ingest.max_teams", self.ingest.max_teams as u64, 100_000),
            (
                "ingest.max_counts",
                self.ingest.max_counts as u64,
                1_000_000,
            ),
            ("ingest.max_depth", self.ingest.max_depth as u64, 1_000),
            (
                "ingest.max_future_hours",
                self.ingest.max_future_hours,
                8_760,
            ),
            (
                "ingest.header_timeout_secs",
                self.ingest.header_timeout_secs,
                3_600,
            ),
            (
                "ingest.body_chunk_timeout_secs",
                self.ingest.body_chunk_timeout_secs,
                3_600,
            ),
            (
                "ingest.body_timeout_secs",
                self.ingest.body_timeout_secs,
                3_600,
            ),
            (
                "ingest.max_connections_per_address",
                self.ingest.max_connections_per_address as u64,
                100_000,
            ),
            (
                "ingest.max_concurrent_requests",
                self.ingest.max_concurrent_requests as u64,
                10_000,
            ),
            (
                "ingest.queue_batches",
                self.ingest.queue_batches as u64,
                100_000,
            ),
        ];
        for (key, value, max) in at_most {
            if value > max {
                return Err((key, format!("{value} is too large (at most {max})")));
            }
        }
        if let Some(months) = self.retention.raw_events_months
            && !(1..=MAX_RETENTION_MONTHS).contains(&months)
        {
            return Err((
                "retention.raw_events_months",
                format!(
                    "must be between 1 and {MAX_RETENTION_MONTHS} (whole months of raw events to keep)"
                ),
            ));
        }
        for (key, list) in [
            ("server.trusted_proxies", &self.server.trusted_proxies),
            ("server.metrics_from", &self.server.metrics_from),
        ] {
            for entry in list {
                if crate::net::Cidr::parse(entry).is_none() {
                    return Err((
                        key,
                        format!("`{entry}` is not an IP address or CIDR range (e.g. 10.0.0.0/8)"),
                    ));
                }
            }
        }
        Ok(())
    }
}

fn read_file(path: &Path) -> Result<(File, String), ConfigError> {
    let name = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("{name}: cannot read the config file: {e}")))?;
    let file = toml::from_str(&text).map_err(|e| {
        let Some(span) = e.span() else {
            return ConfigError(format!("{name}: {}", e.message()));
        };
        let line_no = text[..span.start].matches('\n').count() + 1;
        let key = key_at(&text, span.start);
        ConfigError(format!("{name}:{line_no}: `{key}`: {}", e.message().trim()))
    })?;
    Ok((file, text))
}

/// The dotted name of the key on the line holding `offset`, found from the
/// nearest table header above it.
fn key_at(text: &str, offset: usize) -> String {
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("");
    let table = text[..line_start]
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix('[').and_then(|l| l.split(']').next()))
        .map(str::trim);
    let key = line.split('=').next().unwrap_or("").trim();
    match (table, line.trim().starts_with('[')) {
        (_, true) => line
            .trim()
            .trim_matches(|c| c == '[' || c == ']')
            .to_string(),
        (Some(table), false) => format!("{table}.{key}"),
        (None, false) => key.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("uptake.toml");
        std::fs::write(&path, text).unwrap();
        let overrides = Overrides {
            config: Some(path),
            ..Overrides::default()
        };
        Config::load(&overrides).map_err(|e| e.0.replace(&dir.path().display().to_string(), "DIR"))
    }

    #[test]
    fn defaults_without_a_file() {
        let config = Config::load(&Overrides::default()).unwrap();
        assert_eq!(config.company.timezone, "UTC");
        assert_eq!(config.metrics, Settings::default());
        assert_eq!(config.ingest.max_body_bytes, 10_485_760);
        assert_eq!(config.listen, DEFAULT_LISTEN);
    }

    #[test]
    fn file_values_and_overrides() {
        let config = load("listen = \"0.0.0.0:1\"\n[company]\ntimezone = \"Europe/Berlin\"\n[metrics]\ntop_actions = 4\n").unwrap();
        assert_eq!(config.company.timezone, "Europe/Berlin");
        assert_eq!(config.metrics.top_actions, 4);
        assert_eq!(config.listen, "0.0.0.0:1");
    }

    #[test]
    fn errors_name_the_file_line_and_key() {
        assert_eq!(
            load("[company]\ntimezone = \"Mars/Olympus\"\n").unwrap_err(),
            "DIR/uptake.toml: `company.timezone`: unknown time zone `Mars/Olympus` (use an IANA name such as Europe/Berlin)"
        );
        let unknown = load("[metrics]\ntop_actionz = 3\n").unwrap_err();
        assert!(
            unknown.starts_with(
                "DIR/uptake.toml:2: `metrics.top_actionz`: unknown field `top_actionz`"
            ),
            "{unknown}"
        );
        let wrong_type = load("[metrics]\n\ntop_actions = \"six\"\n").unwrap_err();
        assert!(
            wrong_type.starts_with("DIR/uptake.toml:3: `metrics.top_actions`: invalid type"),
            "{wrong_type}"
        );
        assert!(!wrong_type.contains('\n'));
    }
}
