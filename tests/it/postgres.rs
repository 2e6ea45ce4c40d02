//! What only the PostgreSQL store has to show: several Uptake processes on
//! one database, a database that goes away mid-ingest, and moving a store
//! from SQLite with `migrate-store`.

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::support::*;
use crate::widgets::{check_folder_over_http, fixture_config};

#[test]
fn two_processes_ingesting_the_same_batches_at_once_give_the_fixture() {
    let dir = engine_dir(Engine::Postgres);
    let ingest = create_key(dir.path(), "ingest", None);
    let read = create_key(dir.path(), "read", None);
    let config = fixture_config();
    // Two servers, their own data directories, one database.
    let other = tempfile::tempdir().unwrap();
    let url = store_url(dir.path()).unwrap();
    register_store(other.path(), &url);
    let a = Server::start_with(dir.path(), Some(&config));
    let b = Server::start_with(other.path(), Some(&config));
    // Each sends the whole fixture, shuffled differently, in random
    // batches: every event arrives twice, often at the same moment.
    std::thread::scope(|s| {
        s.spawn(|| crate::rollups::post_shuffled(&a, &ingest, 11));
        s.spawn(|| crate::rollups::post_shuffled(&b, &ingest, 12));
    });
    assert_eq!(stored_count(dir.path()), 18_002, "each event stored once");
    for server in [&a, &b] {
        assert_fixture_over_http(server, &read);
    }
}

/// Every widget of both expected sets, JSON and CSV, over `server`.
fn assert_fixture_over_http(server: &Server, read: &str) {
    let mut failures = check_folder_over_http(server, read, "expected", "");
    failures.extend(check_folder_over_http(
        server,
        read,
        "expected-org",
        "&org=acme-eu",
    ));
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// One process, its two writers busy at once: four clients send the
/// fixture, two of them the same events, and every widget still equals the
/// fixture's.
#[test]
fn concurrent_clients_on_one_process_give_the_fixture() {
    let dir = engine_dir(Engine::Postgres);
    let ingest = create_key(dir.path(), "ingest", None);
    let read = create_key(dir.path(), "read", None);
    let server = Server::start_with(dir.path(), Some(&fixture_config()));
    std::thread::scope(|s| {
        for seed in [21, 22, 23, 21] {
            let (server, ingest) = (&server, &ingest);
            s.spawn(move || crate::rollups::post_shuffled(server, ingest, seed));
        }
    });
    assert_eq!(stored_count(dir.path()), 18_002, "each event stored once");
    assert_fixture_over_http(&server, &read);
}

/// The rollups that are read, changed and written back (a user's login
/// state) lose no update when the writers of two processes store logins
/// of one user at the same moment: every login counts.
#[test]
fn concurrent_writers_lose_no_login() {
    const BATCHES: usize = 40;
    const PER_BATCH: usize = 5;
    let dir = engine_dir(Engine::Postgres);
    let ingest = create_key(dir.path(), "ingest", None);
    let read = create_key(dir.path(), "read", None);
    let other = tempfile::tempdir().unwrap();
    register_store(other.path(), &store_url(dir.path()).unwrap());
    let a = Server::start(dir.path());
    let b = Server::start(other.path());
    std::thread::scope(|s| {
        for (client, server) in [&a, &a, &b, &b].into_iter().enumerate() {
            let ingest = &ingest;
            s.spawn(move || {
                for batch in 0..BATCHES {
                    // Over eight weeks of May and June (so that the user is
                    // activated and the log shows her logins), each client
                    // on days of its own: the writers then share no row but
                    // her login state.
                    let body: Vec<String> = (0..PER_BATCH)
                        .map(|i| {
                            let day = 1 + client * 14 + (batch * PER_BATCH + i) % 14;
                            let (month, day) = if day <= 31 { (5, day) } else { (6, day - 31) };
                            format!(
                                r#"{{"id":"c{client}-{batch}-{i}","type":"login","org":"acme-eu","time":"2026-{month:02}-{day:02}T10:{client:02}:00Z","user":"ann"}}"#
                            )
                        })
                        .collect();
                    let response =
                        server.post(ingest, "application/x-ndjson", body.join("\n").as_bytes());
                    assert_eq!(response.status, 200, "{}", response.text());
                }
            });
        }
    });
    let auth = format!("Bearer {read}");
    let response = a
        .client()
        .request(
            "GET",
            "/api/v1/widgets/users.activated_log?as_of=2026-07-01T00:00:00Z",
            &[("authorization", &auth)],
            b"",
        )
        .unwrap();
    assert_eq!(response.status, 200, "{}", response.text());
    let answer = response.json();
    let row = &answer["rows"][0];
    assert_eq!(row[0], "ann");
    assert_eq!(row[5], 4 * BATCHES * PER_BATCH, "logins of ann");
}

fn postgres_script(command: &str, dir: &Path) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/postgres");
    let output = Command::new(script).arg(command).arg(dir).output().unwrap();
    assert!(
        output.status.success(),
        "scripts/postgres {command}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// Stops the test's own PostgreSQL however the test ends.
struct OwnPostgres(tempfile::TempDir);

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        postgres_script("stop", self.0.path());
    }
}

#[test]
fn a_database_that_goes_away_mid_ingest_loses_nothing_acknowledged() {
    // Its own server: the shared one must stay up for the other tests.
    let pg = OwnPostgres(tempfile::tempdir().unwrap());
    let base = postgres_script("start", pg.0.path());
    let mut admin =
        postgres::Client::connect(&format!("{base}/postgres"), postgres::NoTls).unwrap();
    admin.batch_execute("CREATE DATABASE crash").unwrap();
    drop(admin);
    let dir = tempfile::tempdir().unwrap();
    register_store(dir.path(), &format!("{base}/crash"));
    let key = create_key(dir.path(), "ingest", None);
    let server = Server::start(dir.path());

    let acked = Mutex::new(Vec::new());
    let refused = Mutex::new(0u32);
    let back = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut serial = 0u64;
            let mut after_restart = 0;
            let deadline = Instant::now() + Duration::from_secs(60);
            while after_restart < 20 && Instant::now() < deadline {
                let ids: Vec<String> = (0..200).map(|i| format!("pgc-{serial}-{i}")).collect();
                serial += 1;
                let body: Vec<String> = ids.iter().map(|id| login("acme-eu", id)).collect();
                let Ok(mut client) = Client::connect(server.addr) else {
                    continue;
                };
                let auth = format!("Bearer {key}");
                let Ok(response) = client.request(
                    "POST",
                    "/api/v1/events",
                    &[
                        ("authorization", &auth),
                        ("content-type", "application/x-ndjson"),
                    ],
                    body.join("\n").as_bytes(),
                ) else {
                    continue;
                };
                match response.status {
                    200 => {
                        acked.lock().unwrap().extend(ids);
                        if back.load(Ordering::SeqCst) {
                            after_restart += 1;
                        }
                    }
                    503 => {
                        assert!(
                            response.header("retry-after").is_some(),
                            "503 without Retry-After"
                        );
                        *refused.lock().unwrap() += 1;
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    other => panic!("unexpected {other}: {}", response.text()),
                }
            }
            assert!(
                after_restart >= 20,
                "ingest did not resume after the database came back"
            );
        });
        std::thread::sleep(Duration::from_millis(700));
        postgres_script("crash", pg.0.path());
        std::thread::sleep(Duration::from_millis(1500));
        postgres_script("start", pg.0.path());
        back.store(true, Ordering::SeqCst);
    });
    assert!(
        *refused.lock().unwrap() > 0,
        "no request was refused while the database was down"
    );
    let acked = acked.into_inner().unwrap();
    assert_all_stored(dir.path(), &acked);
    assert!(
        acked.len() > 2000,
        "too little was acknowledged to mean anything"
    );
}

#[test]
fn migrate_store_copies_the_fixture_from_sqlite_losslessly() {
    let sqlite = tempfile::tempdir().unwrap();
    stdout(&uptake(
        sqlite.path(),
        &["import", fixture("events.ndjson").to_str().unwrap()],
        None,
    ));
    let key = create_key(sqlite.path(), "read", None);
    stdout(&uptake(
        sqlite.path(),
        &["users", "add", "--username", "ana"],
        Some(b"a long password\n"),
    ));
    let url = new_database();
    let from = format!("sqlite://{}", sqlite.path().join("uptake.db").display());
    let output = uptake(
        sqlite.path(),
        &["migrate-store", "--from", &from, "--to", &url],
        None,
    );
    let text = stdout(&output);
    assert!(text.contains("18002 events"), "{text}");
    // Running it again resumes and finds nothing left to copy.
    let again = stdout(&uptake(
        sqlite.path(),
        &["migrate-store", "--from", &from, "--to", &url],
        None,
    ));
    assert!(again.contains("18002 events"), "{again}");
    assert!(
        !again.contains(&url),
        "the URL (and its password) is never printed"
    );

    // The copy answers every widget like the fixture, with the same key.
    let dir = tempfile::tempdir().unwrap();
    register_store(dir.path(), &url);
    let server = Server::start_with(dir.path(), Some(&fixture_config()));
    let mut failures = check_folder_over_http(&server, &key, "expected", "");
    failures.extend(check_folder_over_http(
        &server,
        &key,
        "expected-org",
        "&org=acme-eu",
    ));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let store = open_store(dir.path());
    assert!(
        store.find_user("ana").unwrap().is_some(),
        "logins are copied"
    );
}

/// A certificate authority and a server certificate for 127.0.0.1, made
/// with the openssl command line.
fn make_certificates(dir: &Path) {
    let run = |args: &[&str]| {
        let status = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("openssl runs");
        assert!(status.success(), "openssl {args:?}");
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=uptake test CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ]);
}

#[test]
fn tls_in_the_url_connects_and_verifies_the_server() {
    let certs = tempfile::tempdir().unwrap();
    make_certificates(certs.path());
    let pg = OwnPostgres(tempfile::tempdir().unwrap());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/postgres");
    let output = Command::new(script)
        .args(["start"])
        .arg(pg.0.path())
        .env("UPTAKE_PG_TLS_DIR", certs.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let base = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    let ca = certs.path().join("ca.pem");
    let with_ca = format!(
        "{base}/postgres?sslmode=require&sslrootcert={}",
        ca.display()
    );

    // TLS with the server's authority: works.
    let dir = tempfile::tempdir().unwrap();
    register_store(dir.path(), &with_ca);
    let key = create_key(dir.path(), "read", None);
    assert!(key.starts_with("uptake_read_"));

    // Without TLS the server refuses; with TLS but an unknown authority,
    // the server is not trusted. Both say so, and neither prints the URL.
    for (url, expected) in [
        (format!("{base}/postgres"), "cannot connect to PostgreSQL"),
        (
            format!("{base}/postgres?sslmode=require"),
            "cannot connect to PostgreSQL",
        ),
    ] {
        let other = tempfile::tempdir().unwrap();
        register_store(other.path(), &url);
        let output = uptake(other.path(), &["keys", "create", "--kind", "read"], None);
        assert!(!output.status.success(), "{url} should not connect");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{stderr}");
        assert!(
            !stderr.contains("postgres://"),
            "the URL is printed: {stderr}"
        );
    }
}

#[test]
fn an_unreachable_database_is_reported_without_its_password() {
    let dir = tempfile::tempdir().unwrap();
    register_store(dir.path(), "postgres://uptake:hunter2@127.0.0.1:1/uptake");
    let output = uptake(dir.path(), &["keys", "create", "--kind", "read"], None);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot connect to PostgreSQL at 127.0.0.1:1/uptake"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[test]
fn a_dashboard_session_works_on_every_process_of_the_database() {
    let dir = engine_dir(Engine::Postgres);
    crate::dashboard::add_user(dir.path(), "ana", None);
    let other = tempfile::tempdir().unwrap();
    register_store(other.path(), &store_url(dir.path()).unwrap());
    let a = Server::start(dir.path());
    let b = Server::start(other.path());
    let mut on_a = crate::dashboard::Browser::new(&a);
    assert_eq!(on_a.login("ana", crate::dashboard::PASSWORD).status, 303);
    // The same cookie, sent to the other process.
    let mut on_b = crate::dashboard::Browser::new(&b);
    on_b.cookies = on_a.cookies.clone();
    assert_eq!(on_b.get("/dashboard/users").status, 200);
    // A restart keeps it too.
    drop(a);
    let a = Server::start(dir.path());
    let mut again = crate::dashboard::Browser::new(&a);
    again.cookies = on_b.cookies.clone();
    assert_eq!(again.get("/dashboard/users").status, 200);
}
