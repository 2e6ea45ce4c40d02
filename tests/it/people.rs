//! People's data under control: revoking keys, removing logins, erasing a
//! person and retention, on both engines.

use std::time::{Duration, Instant};

use serde_json::Value;
use uptake::calendar::Calendar;
use uptake::config::Settings;
use uptake::metrics::{Ctx, Report, ReportQuery, WIDGETS};
use uptake::rollup::RollupSettings;
use uptake::time::Micros;

use crate::dashboard::{Browser, PASSWORD, add_user};
use crate::support::*;
use crate::widgets::fixture_config;

fn ingest_line(id: &str) -> String {
    format!(
        r#"{{"id":"{id}","type":"login","org":"acme-eu","time":"2026-10-01T10:00:00Z","user":"ann"}}"#
    )
}

/// A key revoked by the CLI is refused by a second process on the same
/// store within 5 s, and `keys list` shows its last use and revocation.
fn a_revoked_key_is_refused_by_every_process(engine: Engine) {
    let dir = engine_dir(engine);
    let key = create_key(dir.path(), "ingest", None);
    let id = key.split('_').nth(2).unwrap().to_owned();
    let server = Server::start(dir.path());
    assert_eq!(server.post_ndjson(&key, &ingest_line("k1")).status, 200);

    // The last use is recorded beside the request, not in its path.
    let list = || -> Value {
        serde_json::from_str(&stdout(&uptake(
            dir.path(),
            &["keys", "list", "--json"],
            None,
        )))
        .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut listed = list();
    while listed[0]["last_used_at"].is_null() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        listed = list();
    }
    let entry = &listed.as_array().unwrap()[0];
    assert_eq!(entry["id"], id.as_str());
    assert_eq!(entry["kind"], "ingest");
    assert!(entry["org"].is_null());
    assert!(entry["last_used_at"].is_string(), "{entry}");
    assert!(entry["revoked_at"].is_null());
    assert!(
        !listed.to_string().contains(&key),
        "the secret is never listed"
    );
    let table = stdout(&uptake(dir.path(), &["keys", "list"], None));
    assert!(table.contains(&id) && !table.contains("never"), "{table}");

    let unknown = uptake(dir.path(), &["keys", "revoke", "0123456789abcdef"], None);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no key has the id"));

    stdout(&uptake(dir.path(), &["keys", "revoke", &id], None));
    let revoked_at = Instant::now();
    let mut n = 0;
    loop {
        n += 1;
        let status = server
            .post_ndjson(&key, &ingest_line(&format!("r{n}")))
            .status;
        if status == 401 {
            break;
        }
        assert_eq!(status, 200);
        assert!(
            revoked_at.elapsed() < Duration::from_secs(5),
            "a revoked key still worked after 5 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // And it stays refused.
    assert_eq!(server.post_ndjson(&key, &ingest_line("after")).status, 401);
    let listed: Value = serde_json::from_str(&stdout(&uptake(
        dir.path(),
        &["keys", "list", "--json"],
        None,
    )))
    .unwrap();
    assert!(listed[0]["revoked_at"].is_string());
}
on_both_engines!(a_revoked_key_is_refused_by_every_process);

/// Removing a login ends its open session at its next request; saving a
/// new password (or org) for a login ends its sessions too.
fn a_removed_login_loses_its_session(engine: Engine) {
    let dir = engine_dir(engine);
    stdout(&uptake(
        dir.path(),
        &["import", fixture("events.ndjson").to_str().unwrap()],
        None,
    ));
    add_user(dir.path(), "admin", None);
    add_user(dir.path(), "eu", Some("acme-eu"));
    let server = Server::start_with(dir.path(), Some(&fixture_config()));

    let mut admin = Browser::new(&server);
    assert_eq!(admin.login("admin", PASSWORD).status, 303);
    assert_eq!(admin.get("/dashboard/entities").status, 200);
    let mut eu = Browser::new(&server);
    assert_eq!(eu.login("eu", PASSWORD).status, 303);
    assert_eq!(eu.get("/dashboard/entities").status, 200);

    // The last login is recorded beside the request.
    let list = || -> Value {
        serde_json::from_str(&stdout(&uptake(
            dir.path(),
            &["users", "list", "--json"],
            None,
        )))
        .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut listed = list();
    while listed[0]["last_login_at"].is_null() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        listed = list();
    }
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "eu"]);
    assert!(listed[0]["org"].is_null() && listed[1]["org"] == "acme-eu");
    assert!(listed[0]["last_login_at"].is_string(), "{listed}");
    assert!(!listed.to_string().contains("argon2"), "no hash is listed");

    stdout(&uptake(
        dir.path(),
        &["users", "remove", "--username", "admin"],
        None,
    ));
    let page = admin.get("/dashboard/entities");
    assert_eq!(page.status, 303, "the removed login's session still worked");
    assert!(page.header("location").unwrap().starts_with("/login"));
    assert_eq!(admin.login("admin", PASSWORD).status, 401);
    let missing = uptake(
        dir.path(),
        &["users", "remove", "--username", "admin"],
        None,
    );
    assert_eq!(missing.status.code(), Some(1));

    // A password reset ends the sessions opened with the old one.
    add_user(dir.path(), "eu", Some("acme-labs"));
    assert_eq!(eu.get("/dashboard/entities").status, 303);
}
on_both_engines!(a_removed_login_loses_its_session);

/// The fixture's lines without the events of `erased` (user, and org or
/// every org): what a store that never received them holds.
fn fixture_without(erased: &[(&str, Option<&str>)]) -> Vec<String> {
    let text = std::fs::read_to_string(fixture("events.ndjson")).unwrap();
    text.lines()
        .filter(|line| {
            let Ok(Value::Object(event)) = serde_json::from_str::<Value>(line) else {
                return true;
            };
            !erased.iter().any(|(user, org)| {
                event.get("user").and_then(Value::as_str) == Some(*user)
                    && org.is_none_or(|o| event.get("org").and_then(Value::as_str) == Some(o))
            })
        })
        .map(str::to_owned)
        .collect()
}

fn import_with_config(dir: &std::path::Path, lines: &[String]) {
    let config = dir.join("fixture.toml");
    std::fs::write(&config, fixture_config()).unwrap();
    let input = lines.join("\n");
    stdout(&uptake(
        dir,
        &["import", "--config", config.to_str().unwrap(), "-"],
        Some(input.as_bytes()),
    ));
}

fn fixture_settings() -> (Settings, RollupSettings, Calendar) {
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("settings.json")).unwrap()).unwrap();
    let timezone = json["timezone"].as_str().unwrap();
    let config = fixture_config();
    let metrics = config.split("[metrics]\n").nth(1).unwrap();
    let settings: Settings = toml::from_str(metrics).unwrap();
    let rollup = RollupSettings::new(timezone, &settings).unwrap();
    (settings, rollup, Calendar::new(timezone).unwrap())
}

/// Every widget of `store` at `as_of`, as the API's JSON and CSV.
fn every_widget(
    store: &dyn uptake::store::Store,
    settings: &Settings,
    cal: &Calendar,
    as_of: &str,
    orgs: &[&str],
) -> Vec<(String, String)> {
    let query = ReportQuery {
        as_of: Some(as_of.to_owned()),
        orgs: orgs.iter().map(|o| o.to_string()).collect(),
        ..ReportQuery::default()
    };
    let report = Report::resolve(&query, Micros::now(), cal).unwrap();
    let facts = store.facts(&report).unwrap();
    WIDGETS
        .iter()
        .map(|widget| {
            let table = (widget.compute)(&Ctx {
                report: &report,
                cal,
                settings,
                facts: facts.as_ref(),
            })
            .unwrap();
            (
                String::from_utf8(uptake::export::json(widget, &report, &table)).unwrap(),
                uptake::export::to_csv(widget, &table),
            )
        })
        .collect()
}

/// Every value of every table, as text, to search for a person.
fn every_stored_text(dir: &std::path::Path) -> String {
    let mut out = String::new();
    match store_url(dir) {
        None => {
            let conn = rusqlite::Connection::open(dir.join("uptake.db")).unwrap();
            let tables: Vec<String> = conn
                .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            for table in tables {
                let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
                let width = stmt.column_count();
                let mut rows = stmt.query([]).unwrap();
                while let Some(row) = rows.next().unwrap() {
                    for i in 0..width {
                        use rusqlite::types::ValueRef;
                        match row.get_ref(i).unwrap() {
                            ValueRef::Text(t) | ValueRef::Blob(t) => {
                                out.push_str(&String::from_utf8_lossy(t))
                            }
                            ValueRef::Integer(n) => out.push_str(&n.to_string()),
                            _ => {}
                        }
                        out.push('\n');
                    }
                }
            }
        }
        Some(url) => {
            let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            let tables: Vec<String> = client
                .query(
                    "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'",
                    &[],
                )
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            for table in tables {
                for row in client
                    .query(&format!("SELECT t::text FROM \"{table}\" t"), &[])
                    .unwrap()
                {
                    out.push_str(row.get::<_, &str>(0));
                    out.push('\n');
                }
            }
        }
    }
    out
}

/// Erasing people leaves a store whose every widget (JSON and CSV, at
/// several instants and org sets) equals that of a store that never
/// received their events, with no trace of their id, name or e-mail; a
/// late event of theirs from before the erasure is not stored.
fn erasure_equals_never_having_received_them(engine: Engine) {
    // Activated with hundreds of logins, a team member erased in one org,
    // a bot with API runs in every org.
    let erased: [(&str, Option<&str>); 3] = [
        ("hana.brown@acme.example", None),
        ("edge.month@acme.example", Some("acme-eu")),
        ("ci-bot@acme.example", None),
    ];
    let traces = [
        "hana.brown@acme.example",
        "Hana Brown",
        "edge.month",
        "ci-bot@acme.example",
    ];
    let erasing = engine_dir(engine);
    let never = engine_dir(engine);
    let all: Vec<String> = fixture_without(&[]);
    import_with_config(erasing.path(), &all);
    import_with_config(never.path(), &fixture_without(&erased));
    let before = every_stored_text(erasing.path());
    for trace in traces {
        assert!(before.contains(trace), "{trace} is not in the fixture");
    }

    for (user, org) in erased {
        let mut args = vec!["erase", "--user", user];
        if let Some(org) = org {
            args.extend(["--org", org]);
        }
        let out: Value =
            serde_json::from_str(&stdout(&uptake(erasing.path(), &args, None))).unwrap();
        assert!(out["events"].as_u64().unwrap() > 0, "{user}: {out}");
    }

    let (settings, rollup, cal) = fixture_settings();
    let a = open_store(erasing.path());
    let b = open_store(never.path());
    a.prepare_rollups(&rollup).unwrap();
    b.prepare_rollups(&rollup).unwrap();
    for as_of in [
        "2026-10-20T18:00:00Z",
        "2026-03-29T01:30:00Z",
        "2025-12-31T23:00:00Z",
        "2026-06-15T09:00:00Z",
    ] {
        for orgs in [&[][..], &["acme-eu"], &["acme-us", "acme-labs"]] {
            let got = every_widget(a.as_ref(), &settings, &cal, as_of, orgs);
            let want = every_widget(b.as_ref(), &settings, &cal, as_of, orgs);
            for (widget, (g, w)) in WIDGETS.iter().zip(got.iter().zip(&want)) {
                assert_eq!(g.0, w.0, "{} JSON as of {as_of} for {orgs:?}", widget.id);
                assert_eq!(g.1, w.1, "{} CSV as of {as_of} for {orgs:?}", widget.id);
            }
        }
    }
    drop((a, b));

    let after = every_stored_text(erasing.path());
    for trace in traces {
        assert!(
            !after.contains(trace),
            "{trace} is still stored after the erasure"
        );
    }

    // A late event of an erased person, dated before the erasure, is a
    // duplicate; a new one after it is stored (they are back).
    let key = create_key(erasing.path(), "ingest", None);
    let server = Server::start_with(erasing.path(), Some(&fixture_config()));
    let late = r#"{"id":"late-1","type":"login","org":"acme-us","time":"2026-10-01T10:00:00Z","user":"hana.brown@acme.example"}"#;
    let response = server.post_ndjson(&key, late);
    assert_eq!(response.status, 200);
    let summary: Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(summary["accepted"], 0, "{summary}");
    assert_eq!(summary["duplicates"], 1, "{summary}");
    let other_org = r#"{"id":"late-2","type":"login","org":"acme-us","time":"2026-10-01T10:00:00Z","user":"edge.month@acme.example"}"#;
    let summary: Value = serde_json::from_slice(&server.post_ndjson(&key, other_org).body).unwrap();
    assert_eq!(summary["accepted"], 1, "erased in acme-eu only: {summary}");
    drop(server);
    assert!(!every_stored_text(erasing.path()).contains("hana.brown@acme.example"));
}
on_both_engines!(erasure_equals_never_having_received_them);

/// Retention deletes old raw events without changing any number a report
/// after the horizon shows, and refuses reports before it.
fn retention_deletes_raw_events_and_keeps_the_numbers(engine: Engine) {
    let dir = engine_dir(engine);
    import_with_config(dir.path(), &fixture_without(&[]));
    let (settings, rollup, cal) = fixture_settings();
    let store = open_store(dir.path());
    store.prepare_rollups(&rollup).unwrap();
    let now = Micros::now();
    let horizon = uptake::retention::horizon(&cal, now, 6);
    let instants = [
        now.to_string(),
        "2026-10-20T18:00:00Z".to_owned(),
        horizon.to_string(),
    ];
    let before: Vec<_> = instants
        .iter()
        .map(|t| every_widget(store.as_ref(), &settings, &cal, t, &[]))
        .collect();
    let stored = store.event_count().unwrap();
    let deleted = store.delete_events_before(horizon).unwrap();
    assert!(deleted > 1000, "only {deleted} events lay before {horizon}");
    assert_eq!(store.event_count().unwrap(), stored - deleted);
    let mut earliest = Micros(i64::MAX);
    store
        .for_each_event(&mut |e| {
            earliest = earliest.min(e.time);
            Ok(())
        })
        .unwrap();
    assert!(earliest >= horizon);
    for (t, want) in instants.iter().zip(&before) {
        let got = every_widget(store.as_ref(), &settings, &cal, t, &[]);
        for (widget, (g, w)) in WIDGETS.iter().zip(got.iter().zip(want)) {
            assert_eq!(g.0, w.0, "{} as of {t} changed with retention", widget.id);
        }
    }
    drop(store);

    // The server refuses reports before the horizon, and deletes at start.
    stdout(&uptake(
        dir.path(),
        &["import", fixture("events.ndjson").to_str().unwrap()],
        None,
    ));
    let key = create_key(dir.path(), "read", None);
    let config = format!("{}\n[retention]\nraw_events_months = 6\n", fixture_config());
    let server = Server::start_with(dir.path(), Some(&config));
    let auth = format!("Bearer {key}");
    let get = |as_of: &str| {
        server
            .client()
            .request(
                "GET",
                &format!("/api/v1/widgets/actions.overview?as_of={as_of}"),
                &[("authorization", &auth)],
                b"",
            )
            .unwrap()
    };
    let refused = get(&Micros(horizon.0 - 1).to_string());
    assert_eq!(refused.status, 400);
    let body: Value = serde_json::from_slice(&refused.body).unwrap();
    assert_eq!(body["error"], "before_retention", "{body}");
    assert!(body.to_string().contains(&horizon.to_string()), "{body}");
    assert_eq!(get(&horizon.to_string()).status, 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut earliest = Micros(i64::MAX);
        open_store(dir.path())
            .for_each_event(&mut |e| {
                earliest = earliest.min(e.time);
                Ok(())
            })
            .unwrap();
        if earliest >= horizon {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not apply retention"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
on_both_engines!(retention_deletes_raw_events_and_keeps_the_numbers);

/// The admin page lists keys and logins for company admins only, and its
/// revoke and remove buttons work (with the session's CSRF token only).
fn the_admin_page_revokes_keys_and_removes_logins(engine: Engine) {
    let dir = engine_dir(engine);
    add_user(dir.path(), "admin", None);
    add_user(dir.path(), "eu", Some("acme-eu"));
    let key = create_key(dir.path(), "ingest", Some("acme-eu"));
    let id = key.split('_').nth(2).unwrap().to_owned();
    let server = Server::start(dir.path());
    assert_eq!(server.post_ndjson(&key, &ingest_line("a1")).status, 200);

    let mut eu = Browser::new(&server);
    assert_eq!(eu.login("eu", PASSWORD).status, 303);
    assert_eq!(eu.get("/admin").status, 403);
    let eu_page = eu.get("/dashboard/entities").text();
    assert!(!eu_page.contains("href=\"/admin\""));

    let mut admin = Browser::new(&server);
    assert_eq!(admin.login("admin", PASSWORD).status, 303);
    assert!(
        admin
            .get("/dashboard/entities")
            .text()
            .contains("href=\"/admin\"")
    );
    let page = admin.get("/admin");
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains(&id) && html.contains("acme-eu") && html.contains("eu"));
    assert!(!html.contains(&key), "the page never shows a secret");
    let csrf = Browser::hidden(&html, "csrf");

    // A forged form is refused; a viewer's is too.
    let forged = format!("csrf=forged&id={id}");
    assert_eq!(
        admin
            .request("POST", "/admin/keys/revoke", Some(&forged))
            .status,
        403
    );
    let eu_csrf = Browser::hidden(&eu_page, "csrf");
    let as_eu = format!("csrf={eu_csrf}&id={id}");
    assert_eq!(
        eu.request("POST", "/admin/keys/revoke", Some(&as_eu))
            .status,
        403
    );
    assert_eq!(server.post_ndjson(&key, &ingest_line("a2")).status, 200);

    let form = format!("csrf={csrf}&id={id}");
    assert_eq!(
        admin
            .request("POST", "/admin/keys/revoke", Some(&form))
            .status,
        303
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.post_ndjson(&key, &ingest_line("a3")).status != 401 {
        assert!(
            Instant::now() < deadline,
            "the key still worked 5 s after its revocation"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let form = format!("csrf={csrf}&username=eu");
    assert_eq!(
        admin
            .request("POST", "/admin/users/remove", Some(&form))
            .status,
        303
    );
    assert_eq!(eu.get("/dashboard/entities").status, 303);
    let own = format!("csrf={csrf}&username=admin");
    assert_eq!(
        admin
            .request("POST", "/admin/users/remove", Some(&own))
            .status,
        400
    );
    let html = admin.get("/admin").text();
    assert!(!html.contains(">eu<"), "the removed login is still listed");
}
on_both_engines!(the_admin_page_revokes_keys_and_removes_logins);
