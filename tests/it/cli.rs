//! The command line: `import`, `keys create`, configuration errors, and
//! the schema-version guard.

use serde_json::Value;

use crate::support::*;

#[test]
fn importing_the_fixture_gives_the_expected_summary() {
    let dir = tempfile::tempdir().unwrap();
    let path = fixture("events.ndjson");
    let output = uptake(dir.path(), &["import", path.to_str().unwrap()], None);
    let summary: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_fixture_summary(&summary, None, None);
    assert_eq!(stored_count(dir.path()), 18_002);

    // Every stored event reads back as it was validated.
    let store = open_store(dir.path());
    let mut kinds = std::collections::BTreeMap::new();
    store
        .for_each_event(&mut |e| {
            *kinds.entry(e.body.kind().name()).or_insert(0u64) += 1;
            Ok(())
        })
        .unwrap();
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("meta.json")).unwrap()).unwrap();
    let expected_kinds: std::collections::BTreeMap<&str, u64> = meta["events"]["accepted_by_type"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_u64().unwrap()))
        .collect();
    assert_eq!(kinds, expected_kinds);
}

#[test]
fn import_counts_indexes_across_files_and_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let array = dir.path().join("a.json");
    std::fs::write(&array, format!("[{}, 5]", login("o", "a1"))).unwrap();
    let ndjson = dir.path().join("b.ndjson");
    std::fs::write(&ndjson, format!("\n{}\nnull\n", login("o", "b1"))).unwrap();
    let stdin = format!("{}\n{}\n", login("o", "a1"), login("o", "c1"));
    let output = uptake(
        &dir.path().join("data"),
        &[
            "import",
            array.to_str().unwrap(),
            ndjson.to_str().unwrap(),
            "-",
        ],
        Some(stdin.as_bytes()),
    );
    let summary: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_summary(
        &summary,
        3,
        1,
        &[(1, None, "invalid_json"), (3, None, "invalid_json")],
    );
    // Not a terminal: no progress bar, one plain closing line.
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("import: 3 accepted, 1 duplicates, 2 rejected"),
        "{stderr}"
    );
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
}

#[test]
fn import_org_binds_events_like_an_org_key() {
    let dir = tempfile::tempdir().unwrap();
    let input = format!(
        "{}\n{}\n",
        r#"{"id":"x","type":"login","time":"2026-05-04T10:00:00Z","user":"u"}"#,
        login("acme-us", "y")
    );
    let output = uptake(
        dir.path(),
        &["import", "--org", "acme-eu", "-"],
        Some(input.as_bytes()),
    );
    let summary: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_summary(&summary, 1, 0, &[(1, Some("y"), "org_not_allowed")]);
    assert_eq!(
        stored_ids(dir.path()),
        [("acme-eu".to_string(), "x".to_string())]
    );
}

#[test]
fn a_broken_json_array_file_stops_the_import_with_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.json");
    std::fs::write(&file, format!("[{}, {{\"id\": ]", login("o", "k1"))).unwrap();
    let output = uptake(
        &dir.path().join("data"),
        &["import", file.to_str().unwrap()],
        None,
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("broken.json") && stderr.contains("not a JSON array"),
        "{stderr}"
    );
}

#[test]
fn keys_are_printed_once_and_stored_hashed() {
    let dir = tempfile::tempdir().unwrap();
    let key = create_key(dir.path(), "ingest", Some("acme-eu"));
    assert_eq!(key.lines().count(), 1);
    let secret = key.rsplit('_').next().unwrap();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the secret is on disk"
        );
    }
    let output = uptake(
        dir.path(),
        &["keys", "create", "--kind", "ingest", "--org", "Not A Slug"],
        None,
    );
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn an_invalid_config_stops_with_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("uptake.toml");
    for (text, needle) in [
        (
            "[company]\ntimezone = \"Nowhere/Land\"\n",
            "`company.timezone`: unknown time zone `Nowhere/Land`",
        ),
        (
            "[ingest]\nmax_body_bytez = 1\n",
            "`ingest.max_body_bytez`: unknown field",
        ),
        (
            "[metrics]\ntop_actions = \"six\"\n",
            "`metrics.top_actions`: invalid type",
        ),
        // Values out of range are config errors, not panics later.
        (
            "[ingest]\nheader_timeout_secs = 18446744073709551615\n",
            "`ingest.header_timeout_secs`: 18446744073709551615 is too large",
        ),
        (
            "[ingest]\nmax_concurrent_requests = 9223372036854775807\n",
            "`ingest.max_concurrent_requests`: 9223372036854775807 is too large",
        ),
        (
            "[ingest]\nqueue_batches = 9223372036854775806\n",
            "`ingest.queue_batches`: 9223372036854775806 is too large",
        ),
        (
            "[metrics]\ninactive_after_months = 4294967295\n",
            "`metrics.inactive_after_months`: 4294967295 is too large",
        ),
        (
            "[retention]\nraw_events_months = 0\n",
            "`retention.raw_events_months`: must be between 1 and 1200",
        ),
        (
            "[sdk]\nidentify_is_login = true\n\n[[sdk.mapping]]\nevent = \"Deployed\"\ntype = \"deploy\"\n",
            ":4: `sdk.mapping` rule 1 (event `Deployed`): `type = \"deploy\"` is not an Uptake event type",
        ),
        (
            "[server]\ntrusted_proxies = [\"10.0.0.0/33\"]\n",
            "`server.trusted_proxies`: `10.0.0.0/33` is not an IP address",
        ),
    ] {
        std::fs::write(&config, text).unwrap();
        let output = uptake(
            dir.path(),
            &["serve", "--config", config.to_str().unwrap()],
            None,
        );
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("uptake.toml") && stderr.contains(needle),
            "{stderr}"
        );
    }
}

#[test]
fn environment_variables_stand_in_for_flags() {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(BIN)
        .args(["keys", "create", "--kind", "read"])
        .env("UPTAKE_DATA", dir.path())
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(dir.path().join("uptake.db").exists());
}

#[test]
fn a_database_from_a_newer_uptake_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    create_key(dir.path(), "read", None);
    let conn = rusqlite::Connection::open(dir.path().join("uptake.db")).unwrap();
    conn.execute(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)",
        [],
    )
    .unwrap();
    drop(conn);
    let output = uptake(dir.path(), &["keys", "create", "--kind", "read"], None);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("newer Uptake") && stderr.contains("999"),
        "{stderr}"
    );
}

fn backup_while_the_server_ingests_is_a_working_store(engine: Engine) {
    let dir = engine_dir(engine);
    let key = create_key(dir.path(), "ingest", None);
    let read = create_key(dir.path(), "read", None);
    let server = Server::start_with(
        dir.path(),
        Some(&(crate::widgets::fixture_config() + "[ingest]\nmax_events_per_request = 20000\n")),
    );
    let fixture_body = std::fs::read(fixture("events.ndjson")).unwrap();
    assert_eq!(
        server
            .post(&key, "application/x-ndjson", &fixture_body)
            .status,
        200
    );
    let backup = tempfile::tempdir().unwrap();
    let file = backup.path().join("copy.db");
    // More events keep arriving while the backup is taken.
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..20 {
                let body: Vec<String> = (0..100)
                    .map(|j| login("zz-late", &format!("late-{i}-{j}")))
                    .collect();
                server.post_ndjson(&key, &body.join("\n"));
            }
        });
        let text = stdout(&uptake(
            dir.path(),
            &["backup", "--to", file.to_str().unwrap()],
            None,
        ));
        assert!(text.contains("backup written to"), "{text}");
    });
    let again = uptake(
        dir.path(),
        &["backup", "--to", file.to_str().unwrap()],
        None,
    );
    assert!(
        !again.status.success(),
        "an existing file is not overwritten"
    );

    // The copy serves the fixture's numbers (the late org aside).
    let restored = tempfile::tempdir().unwrap();
    register_store(restored.path(), &format!("sqlite://{}", file.display()));
    let copy = Server::start_with(restored.path(), Some(&crate::widgets::fixture_config()));
    let failures =
        crate::widgets::check_folder_over_http(&copy, &read, "expected-org", "&org=acme-eu");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

on_both_engines!(backup_while_the_server_ingests_is_a_working_store);

#[test]
fn an_empty_store_file_is_refused_not_started_afresh() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("uptake.db"), b"").unwrap();
    let output = uptake(dir.path(), &["keys", "list"], None);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("is empty (0 bytes)"), "{stderr}");
    assert_eq!(
        std::fs::metadata(dir.path().join("uptake.db"))
            .unwrap()
            .len(),
        0
    );
}

#[test]
fn output_to_a_closed_pipe_or_a_full_disk_is_not_a_crash() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..3 {
        create_key(dir.path(), "read", None);
    }
    // `uptake keys list | head -0`: the reader is gone before the output.
    let mut child = Command::new(BIN)
        .args(["keys", "list", "--data"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );

    // A server whose stderr is a full disk still stops with exit 0.
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path())
        .env("UPTAKE_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap(),
        )
        .spawn()
        .unwrap();
    uptake::bench::read_listen_address(&mut child).expect("the server starts");
    let pid = child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_store_whose_migration_was_edited_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    create_key(dir.path(), "read", None);
    let conn = rusqlite::Connection::open(dir.path().join("uptake.db")).unwrap();
    let recorded: String = conn
        .query_row(
            "SELECT checksum FROM schema_migrations WHERE version = 3",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(recorded.len(), 64);
    // As if the binary's migration 3 had been edited since it was applied.
    conn.execute(
        "UPDATE schema_migrations SET checksum = 'edited' WHERE version = 3",
        [],
    )
    .unwrap();
    drop(conn);
    let output = uptake(dir.path(), &["keys", "list"], None);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("migration 3 (dashboard_users)") && stderr.contains("never edited"),
        "{stderr}"
    );
}
