//! Small helpers shared by the integration tests: a real `uptake` process
//! on a loopback port over a real SQLite file, and the CLI.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub use uptake::bench::client::{Client, Response};

pub const BIN: &str = env!("CARGO_BIN_EXE_uptake");

/// The storage engine a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// Runs a test function taking an [`Engine`] once per engine, as the tests
/// `<name>::sqlite` and `<name>::postgres`.
macro_rules! on_both_engines {
    ($name:ident) => {
        mod $name {
            #[test]
            fn sqlite() {
                super::$name($crate::support::Engine::Sqlite)
            }
            #[test]
            fn postgres() {
                super::$name($crate::support::Engine::Postgres)
            }
        }
    };
}

/// Data directories whose store is not the default file, with its URL.
static POSTGRES_STORES: std::sync::Mutex<std::collections::BTreeMap<PathBuf, String>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// The throwaway server's URL (without a database), from
/// `UPTAKE_TEST_POSTGRES`, which `./scripts/test` sets.
pub fn postgres_base() -> String {
    std::env::var("UPTAKE_TEST_POSTGRES").expect(
        "the PostgreSQL tests need UPTAKE_TEST_POSTGRES=postgres://user@host:port; \
         ./scripts/test starts a throwaway server and sets it",
    )
}

/// A new, empty database on the test server; returns its URL.
pub fn new_database() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let base = postgres_base();
    let name = format!(
        "uptake_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let mut admin = postgres::Client::connect(&format!("{base}/postgres"), postgres::NoTls)
        .expect("the test PostgreSQL server answers");
    // Separate statements: CREATE DATABASE cannot run in a multi-statement batch.
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    format!("{base}/{name}")
}

/// Makes `dir`'s store the engine's: for PostgreSQL a fresh database, used
/// by every command and server the helpers start for `dir`.
pub fn use_engine(dir: &Path, engine: Engine) {
    if engine == Engine::Postgres {
        let url = new_database();
        POSTGRES_STORES.lock().unwrap().insert(dir.to_owned(), url);
    }
}

/// Makes `dir` use the store at `url` (another process's database).
pub fn register_store(dir: &Path, url: &str) {
    POSTGRES_STORES
        .lock()
        .unwrap()
        .insert(dir.to_owned(), url.to_owned());
}

/// The `--store` URL of `dir`, when it is not the default SQLite file.
pub fn store_url(dir: &Path) -> Option<String> {
    POSTGRES_STORES.lock().unwrap().get(dir).cloned()
}

/// A temporary data directory whose store is on `engine`.
pub fn engine_dir(engine: Engine) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    use_engine(dir.path(), engine);
    dir
}

fn set_store(cmd: &mut Command, dir: &Path) {
    match store_url(dir) {
        Some(url) => cmd.env("UPTAKE_STORE", url),
        None => cmd.env_remove("UPTAKE_STORE"),
    };
}

/// The fixture of the contract, `../shared/fixtures/acme` from the repo.
pub fn fixture(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/acme")
        .join(name);
    assert!(
        path.exists(),
        "the shared fixture {} is missing",
        path.display()
    );
    path
}

/// Runs `uptake ARGS` with `--data dir` and returns its output.
pub fn uptake(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(BIN);
    set_store(&mut cmd, dir);
    let mut child = cmd
        .args(args)
        .arg("--data")
        .arg(dir)
        .env("UPTAKE_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("uptake runs");
    let mut input = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        // A command that refuses its arguments may exit before reading.
        if let Err(e) = input.write_all(bytes) {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
        }
    }
    drop(input);
    child.wait_with_output().unwrap()
}

pub fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "uptake failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

pub fn create_key(dir: &Path, kind: &str, org: Option<&str>) -> String {
    let mut args = vec!["keys", "create", "--kind", kind];
    if let Some(org) = org {
        args.extend(["--org", org]);
    }
    let key = stdout(&uptake(dir, &args, None)).trim().to_owned();
    assert!(key.starts_with("uptake_"), "{key}");
    key
}

/// A running `uptake serve`, killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub dir: PathBuf,
}

impl Server {
    pub fn start(dir: &Path) -> Server {
        Server::start_with(dir, None)
    }

    /// Starts with an optional TOML config text.
    pub fn start_with(dir: &Path, config: Option<&str>) -> Server {
        let mut cmd = Command::new(BIN);
        set_store(&mut cmd, dir);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(dir)
            .env("UPTAKE_LOG", "warn");
        if let Some(text) = config {
            let path = dir.with_extension("toml");
            std::fs::write(&path, text).unwrap();
            cmd.arg("--config").arg(path);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let addr =
            uptake::bench::read_listen_address(&mut child).expect("server prints its address");
        let server = Server {
            child,
            addr,
            dir: dir.to_owned(),
        };
        server.wait_healthy();
        server
    }

    fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(mut c) = Client::connect(self.addr)
                && let Ok(r) = c.request("GET", "/healthz", &[], b"")
                && r.status == 200
            {
                return;
            }
            assert!(Instant::now() < deadline, "server never became healthy");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn client(&self) -> Client {
        Client::connect(self.addr).unwrap()
    }

    /// POSTs `body` to the ingest endpoint.
    pub fn post(&self, key: &str, content_type: &str, body: &[u8]) -> Response {
        let auth = format!("Bearer {key}");
        self.client()
            .request(
                "POST",
                "/api/v1/events",
                &[("authorization", &auth), ("content-type", content_type)],
                body,
            )
            .unwrap()
    }

    pub fn post_ndjson(&self, key: &str, body: &str) -> Response {
        self.post(key, "application/x-ndjson", body.as_bytes())
    }

    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Opens the store under `dir` through the library.
pub fn open_store(dir: &Path) -> std::sync::Arc<dyn uptake::store::Store> {
    let location = uptake::store::Location::parse(store_url(dir).as_deref(), dir).unwrap();
    uptake::store::open(&location).unwrap()
}

/// Every stored event as (org, id), read through the library's store.
pub fn stored_ids(dir: &Path) -> Vec<(String, String)> {
    let store = open_store(dir);
    let mut ids = Vec::new();
    store
        .for_each_event(&mut |e| {
            ids.push((e.org.to_string(), e.id));
            Ok(())
        })
        .unwrap();
    ids.sort();
    ids
}

pub fn stored_count(dir: &Path) -> u64 {
    open_store(dir).event_count().unwrap()
}

/// A login event line.
pub fn login(org: &str, id: &str) -> String {
    format!(
        r#"{{"id":"{id}","type":"login","org":"{org}","time":"2026-05-04T10:00:00Z","user":"u@x"}}"#
    )
}

/// The (index, id, error) of each rejection of a summary; `detail` is
/// informative only.
fn rejections(summary: &serde_json::Value) -> Vec<(u64, Option<String>, String)> {
    summary["rejected"]
        .as_array()
        .unwrap_or_else(|| panic!("no `rejected` list in {summary}"))
        .iter()
        .map(|r| {
            (
                r["index"].as_u64().unwrap(),
                r["id"].as_str().map(str::to_owned),
                r["error"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Compares a summary with an expectation, `detail` aside.
pub fn assert_summary(
    got: &serde_json::Value,
    accepted: u64,
    duplicates: u64,
    rejected: &[(u64, Option<&str>, &str)],
) {
    assert_eq!(got["accepted"], accepted, "{got}");
    assert_eq!(got["duplicates"], duplicates, "{got}");
    let expected: Vec<(u64, Option<String>, String)> = rejected
        .iter()
        .map(|(i, id, e)| (*i, id.map(str::to_owned), e.to_string()))
        .collect();
    assert_eq!(rejections(got), expected, "{got}");
}

/// Compares a summary of the fixture with `expected/ingest.json`: the same
/// rejections, and the given counts (the file's own on a first import).
pub fn assert_fixture_summary(
    got: &serde_json::Value,
    accepted: Option<u64>,
    duplicates: Option<u64>,
) {
    let text = std::fs::read_to_string(fixture("expected/ingest.json")).unwrap();
    let expected: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        got["accepted"],
        accepted.map_or(expected["accepted"].clone(), Into::into),
        "{got}"
    );
    assert_eq!(
        got["duplicates"],
        duplicates.map_or(expected["duplicates"].clone(), Into::into),
        "{got}"
    );
    assert_eq!(rejections(got), rejections(&expected));
}

/// Fails unless every acknowledged event id is stored under `dir`.
pub fn assert_all_stored(dir: &Path, acked: &[String]) {
    let stored: std::collections::BTreeSet<String> =
        stored_ids(dir).into_iter().map(|(_, id)| id).collect();
    let missing: Vec<&String> = acked.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged events were lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
}

/// The raw-history reading of `report` over every event in `store`.
pub fn history_of(
    store: &dyn uptake::store::Store,
    report: &uptake::metrics::Report,
    cal: &uptake::calendar::Calendar,
    settings: &uptake::config::Settings,
) -> uptake::metrics::History {
    let mut events = Vec::new();
    store
        .for_each_event(&mut |event| {
            events.push(event);
            Ok(())
        })
        .unwrap();
    uptake::metrics::History::new(events, report, cal, settings)
}
