//! `POST /api/v1/events` through a real server: every refusal, every limit,
//! idempotency, and that a refused request stores nothing.

use std::io::{Read, Write};
use std::time::Duration;

use serde_json::Value;

use crate::support::*;

/// Small limits so that the limit tests stay quick.
const SMALL_LIMITS: &str = "[ingest]\nmax_body_bytes = 65536\nmax_events_per_request = 5\nbody_chunk_timeout_secs = 1\nheader_timeout_secs = 1\n";

fn small_server_on(engine: Engine) -> (tempfile::TempDir, Server, String) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    use_engine(&data, engine);
    let key = create_key(&data, "ingest", None);
    let server = Server::start_with(&data, Some(SMALL_LIMITS));
    (dir, server, key)
}

fn assert_error(response: &Response, status: u16, code: &str) {
    assert_eq!(
        response.status,
        status,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(response.header("content-type"), Some("application/json"));
    let body = response.json();
    assert_eq!(body["error"], code, "{body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
}

fn the_fixture_over_http_gives_the_expected_summary(engine: Engine) {
    let dir = engine_dir(engine);
    let key = create_key(dir.path(), "ingest", None);
    let server = Server::start_with(
        dir.path(),
        Some("[ingest]\nmax_events_per_request = 20000\n"),
    );
    let body = std::fs::read(fixture("events.ndjson")).unwrap();
    let got = server.post(&key, "application/x-ndjson", &body);
    assert_eq!(got.status, 200);
    assert_fixture_summary(&got.json(), None, None);

    // Sending it all again stores nothing new.
    let again = server.post(&key, "application/x-ndjson", &body).json();
    assert_fixture_summary(&again, Some(0), Some(18_002 + 130));
    assert_eq!(stored_count(dir.path()), 18_002);
}

on_both_engines!(the_fixture_over_http_gives_the_expected_summary);

#[test]
fn requests_without_a_valid_ingest_key_are_401() {
    let dir = tempfile::tempdir().unwrap();
    let read_key = create_key(dir.path(), "read", None);
    let ingest_key = create_key(dir.path(), "ingest", None);
    let server = Server::start(dir.path());
    let body = login("acme-eu", "e1");
    let last = if ingest_key.ends_with('0') { '1' } else { '0' };
    let forged = format!("{}{last}", &ingest_key[..ingest_key.len() - 1]);
    for key in ["", "nonsense", &read_key, &forged] {
        assert_error(&server.post_ndjson(key, &body), 401, "unauthorized");
    }
    let mut client = server.client();
    let response = client
        .request(
            "POST",
            "/api/v1/events",
            &[("content-type", "application/x-ndjson")],
            body.as_bytes(),
        )
        .unwrap();
    assert_error(&response, 401, "unauthorized");
    assert_eq!(stored_count(dir.path()), 0);
    assert_eq!(server.post_ndjson(&ingest_key, &body).status, 200);
}

#[test]
fn other_content_types_and_encodings_are_415() {
    let (_dir, server, key) = small_server_on(Engine::Sqlite);
    let body = login("acme-eu", "e1");
    for content_type in ["text/plain", "", "application/xml"] {
        assert_error(
            &server.post(&key, content_type, body.as_bytes()),
            415,
            "unsupported_media_type",
        );
    }
    let auth = format!("Bearer {key}");
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/x-ndjson"),
        ("content-encoding", "br"),
    ];
    let response = server
        .client()
        .request("POST", "/api/v1/events", &headers, body.as_bytes())
        .unwrap();
    assert_error(&response, 415, "unsupported_encoding");
    // Parameters of the media type are fine.
    assert_eq!(
        server
            .post(&key, "application/x-ndjson; charset=utf-8", body.as_bytes())
            .status,
        200
    );
    assert_eq!(stored_count(&server.dir), 1);
}

#[test]
fn a_declared_length_over_the_limit_is_413_without_reading() {
    let (_dir, server, key) = small_server_on(Engine::Sqlite);
    let mut client = server.client();
    let head = format!(
        "POST /api/v1/events HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {key}\r\ncontent-type: application/x-ndjson\r\ncontent-length: 100000000\r\n\r\n"
    );
    client.stream().write_all(head.as_bytes()).unwrap();
    assert_error(&client.read_response().unwrap(), 413, "body_too_large");
}

#[test]
fn a_chunked_body_over_the_limit_is_413() {
    let (_dir, server, key) = small_server_on(Engine::Sqlite);
    let mut client = server.client();
    let head = format!(
        "POST /api/v1/events HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {key}\r\ncontent-type: application/x-ndjson\r\ntransfer-encoding: chunked\r\n\r\n"
    );
    client.stream().write_all(head.as_bytes()).unwrap();
    let line = format!("{}\n", login("acme-eu", "e1"));
    let chunk = line.repeat(16 * 1024 / line.len());
    for _ in 0..(4 * 65536 / chunk.len()) {
        let framed = format!("{:x}\r\n{chunk}\r\n", chunk.len());
        if client.stream().write_all(framed.as_bytes()).is_err() {
            break;
        }
    }
    let _ = client.stream().write_all(b"0\r\n\r\n");
    assert_error(&client.read_response().unwrap(), 413, "body_too_large");
    assert_eq!(stored_count(&server.dir), 0);
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn post_gzip(server: &Server, key: &str, body: &[u8]) -> Response {
    let auth = format!("Bearer {key}");
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/x-ndjson"),
        ("content-encoding", "gzip"),
    ];
    server
        .client()
        .request("POST", "/api/v1/events", &headers, body)
        .unwrap()
}

#[test]
fn gzip_bodies_are_inflated_within_the_limit() {
    let (_dir, server, key) = small_server_on(Engine::Sqlite);
    let body = format!("{}\n{}\n", login("acme-eu", "g1"), login("acme-eu", "g2"));
    let response = post_gzip(&server, &key, &gzip(body.as_bytes()));
    assert_eq!(response.status, 200);
    assert_summary(&response.json(), 2, 0, &[]);

    // A bomb: 64 MiB of blanks in a few dozen KiB.
    let bomb = gzip(&vec![b' '; 64 << 20]);
    assert!(bomb.len() < 65536);
    assert_error(&post_gzip(&server, &key, &bomb), 413, "body_too_large");
    assert_error(
        &post_gzip(&server, &key, b"not gzip at all"),
        400,
        "invalid_body",
    );
    assert_eq!(stored_count(&server.dir), 2);
}

fn bodies_that_are_not_a_json_array_are_400_and_store_nothing(engine: Engine) {
    let (_dir, server, key) = small_server_on(engine);
    let good = login("acme-eu", "a1");
    let bad_utf8 = [b"[".as_slice(), good.as_bytes(), b",{\"id\":\"\xff\"}]"].concat();
    for body in [
        good.clone().into_bytes(),
        format!("[{good}").into_bytes(),
        format!("[{good},{{\"id\":]").into_bytes(),
        format!("[{good}] trailing").into_bytes(),
        bad_utf8,
        Vec::new(),
    ] {
        let response = server.post(&key, "application/json", &body);
        assert_error(&response, 400, "invalid_body");
    }
    assert_eq!(stored_count(&server.dir), 0);
    let response = server.post(
        &key,
        "application/json",
        format!("[{good}, 7, {}]", login("acme-eu", "a2")).as_bytes(),
    );
    assert_summary(&response.json(), 2, 0, &[(1, None, "invalid_json")]);
}

on_both_engines!(bodies_that_are_not_a_json_array_are_400_and_store_nothing);

fn more_events_than_allowed_is_400_and_stores_nothing(engine: Engine) {
    let (_dir, server, key) = small_server_on(engine);
    let lines: Vec<String> = (0..6).map(|i| login("acme-eu", &format!("m{i}"))).collect();
    assert_error(
        &server.post_ndjson(&key, &lines.join("\n")),
        400,
        "too_many_events",
    );
    let array = format!("[{}]", lines.join(","));
    assert_error(
        &server.post(&key, "application/json", array.as_bytes()),
        400,
        "too_many_events",
    );
    assert_eq!(stored_count(&server.dir), 0);
    // Blank lines do not count.
    let response = server.post_ndjson(&key, &format!("{}\n\n\n", lines[..5].join("\n\n")));
    assert_summary(&response.json(), 5, 0, &[]);
}

on_both_engines!(more_events_than_allowed_is_400_and_stores_nothing);

fn bad_lines_are_rejected_one_by_one(engine: Engine) {
    let dir = engine_dir(engine);
    let key = create_key(dir.path(), "ingest", None);
    let server = Server::start(dir.path());
    let deep_ok = format!(
        r#"{{"id":"d16","type":"login","org":"o","time":"2026-05-04T10:00:00Z","user":"u","x":{}1{}}}"#,
        "[".repeat(15),
        "]".repeat(15)
    );
    let deep_bad = deep_ok
        .replace("d16", "d17")
        .replacen('[', "[[", 1)
        .replacen(']', "]]", 1);
    let abyss = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
    let mut body = Vec::new();
    for line in [
        login("o", "ok1").as_bytes(),
        b"{\"id\":\"u8\",\"type\":\"login\",\"org\":\"o\",\"time\":\"2026-05-04T10:00:00Z\",\"user\":\"\xc3\x28\"}",
        deep_ok.as_bytes(),
        deep_bad.as_bytes(),
        abyss.as_bytes(),
        br#"{"id":"rk","type":"login","type":"login","org":"o","time":"2026-05-04T10:00:00Z","user":"u"}"#,
        login("o", "ok1").as_bytes(),
        login("p", "ok1").as_bytes(),
    ] {
        body.extend_from_slice(line);
        body.push(b'\n');
    }
    let response = server.post(&key, "application/x-ndjson", &body);
    assert_eq!(response.status, 200);
    assert_summary(
        &response.json(),
        3,
        1,
        &[
            (1, None, "invalid_json"),
            (3, Some("d17"), "invalid_json"),
            (4, None, "invalid_json"),
            (5, Some("rk"), "invalid_json"),
        ],
    );

    // The same nesting inside a JSON array costs the event, not the body.
    let array = format!("[{},{abyss},{}]", login("o", "a1"), login("o", "a2"));
    let response = server.post(&key, "application/json", array.as_bytes());
    assert_summary(&response.json(), 2, 0, &[(1, None, "invalid_json")]);
}

on_both_engines!(bad_lines_are_rejected_one_by_one);

#[test]
fn slow_requests_get_408() {
    let (_dir, server, key) = small_server_on(Engine::Sqlite);
    // The body stops arriving.
    let mut client = server.client();
    let head = format!(
        "POST /api/v1/events HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {key}\r\ncontent-type: application/x-ndjson\r\ncontent-length: 500\r\n\r\n{{\"id\":"
    );
    client.stream().write_all(head.as_bytes()).unwrap();
    assert_error(&client.read_response().unwrap(), 408, "request_timeout");

    // The headers stop arriving.
    let mut client = server.client();
    client
        .stream()
        .write_all(b"POST /api/v1/events HTTP/1.1\r\nhost: x\r\n")
        .unwrap();
    let response = client.read_response().unwrap();
    assert_error(&response, 408, "request_timeout");
    let mut rest = Vec::new();
    let _ = client.stream().read_to_end(&mut rest);

    // An idle keep-alive connection is closed quietly, and the server lives on.
    let mut idle = server.client();
    std::thread::sleep(Duration::from_millis(1500));
    let mut buf = [0u8; 16];
    assert_eq!(idle.stream().read(&mut buf).unwrap_or(0), 0);
    assert_eq!(
        server.post_ndjson(&key, &login("acme-eu", "after")).status,
        200
    );
}

fn org_bound_keys_fill_in_and_police_the_org(engine: Engine) {
    let dir = engine_dir(engine);
    let eu = create_key(dir.path(), "ingest", Some("acme-eu"));
    let company = create_key(dir.path(), "ingest", None);
    let server = Server::start(dir.path());
    let no_org = r#"{"id":"n1","type":"login","time":"2026-05-04T10:00:00Z","user":"u"}"#;
    let body = format!(
        "{no_org}\n{}\n{}",
        login("acme-us", "n2"),
        login("acme-eu", "n3")
    );
    assert_summary(
        &server.post_ndjson(&eu, &body).json(),
        2,
        0,
        &[(1, Some("n2"), "org_not_allowed")],
    );
    assert_summary(
        &server.post_ndjson(&company, &body).json(),
        1,
        1,
        &[(0, Some("n1"), "missing_field")],
    );
    assert_eq!(
        stored_ids(dir.path()),
        [("acme-eu", "n1"), ("acme-eu", "n3"), ("acme-us", "n2")]
            .map(|(o, i)| (o.to_string(), i.to_string()))
    );
}

on_both_engines!(org_bound_keys_fill_in_and_police_the_org);

fn idempotency_by_org_and_id(engine: Engine) {
    let dir = engine_dir(engine);
    let key = create_key(dir.path(), "ingest", None);
    let server = Server::start(dir.path());

    // Repeated inside one batch, and the same id in another org is another event.
    let body = [
        login("acme-eu", "i1"),
        login("acme-eu", "i1"),
        login("acme-us", "i1"),
    ]
    .join("\n");
    assert_summary(&server.post_ndjson(&key, &body).json(), 2, 1, &[]);
    // A later payload for a stored id is a duplicate, whatever it says.
    let changed = r#"{"id":"i1","type":"page_view","org":"acme-eu","time":"2026-06-01T00:00:00Z","user":"v","page":"/"}"#;
    assert_summary(&server.post_ndjson(&key, changed).json(), 0, 1, &[]);
    // Stored and new events in one batch: only the new ones are stored.
    let mixed = [login("acme-eu", "i1"), login("acme-eu", "i2")].join("\n");
    assert_summary(&server.post_ndjson(&key, &mixed).json(), 1, 1, &[]);

    // The same batch from two clients at once: each event stored once.
    let batch: Vec<String> = (0..2000)
        .map(|i| login("acme-labs", &format!("p{i}")))
        .collect();
    let batch = batch.join("\n");
    let answers: Vec<Value> = std::thread::scope(|s| {
        let a = s.spawn(|| server.post_ndjson(&key, &batch).json());
        let b = s.spawn(|| server.post_ndjson(&key, &batch).json());
        vec![a.join().unwrap(), b.join().unwrap()]
    });
    let accepted: u64 = answers
        .iter()
        .map(|a| a["accepted"].as_u64().unwrap())
        .sum();
    let duplicates: u64 = answers
        .iter()
        .map(|a| a["duplicates"].as_u64().unwrap())
        .sum();
    assert_eq!((accepted, duplicates), (2000, 2000), "{answers:?}");
    assert_eq!(stored_count(dir.path()), 3 + 2000);

    // An invalid event does not take its id.
    let invalid = r#"{"id":"v1","type":"login","org":"acme-eu","time":"2026-05-04T10:00:00Z"}"#;
    let body = format!("{invalid}\n{}", login("acme-eu", "v1"));
    assert_summary(
        &server.post_ndjson(&key, &body).json(),
        1,
        0,
        &[(0, Some("v1"), "missing_field")],
    );
}

on_both_engines!(idempotency_by_org_and_id);

#[test]
fn health_answers_without_auth_and_unknown_routes_answer_json() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let response = server
        .client()
        .request("GET", "/healthz", &[], b"")
        .unwrap();
    assert_eq!(
        (response.status, response.body.as_slice()),
        (200, b"ok".as_slice())
    );
    assert_error(
        &server.client().request("GET", "/nope", &[], b"").unwrap(),
        404,
        "not_found",
    );
    assert_error(
        &server
            .client()
            .request("GET", "/api/v1/events", &[], b"")
            .unwrap(),
        405,
        "method_not_allowed",
    );
}

/// The writer stores the batches queued behind each other in one
/// transaction and answers them all once it commits: every answer counts
/// what is stored, a repeat within the transaction is a duplicate, and
/// nothing answered is missing.
fn batches_share_a_transaction_and_are_answered_after_it(engine: Engine) {
    use uptake::config::{Limits, Settings};
    use uptake::event::framing::Format;
    use uptake::event::validate::Context;
    use uptake::ingest::writer::Commits;
    use uptake::rollup::RollupSettings;
    use uptake::time::Micros;

    let dir = engine_dir(engine);
    let store = open_store(dir.path());
    store
        .prepare_rollups(&RollupSettings::new("UTC", &Settings::default()).unwrap())
        .unwrap();
    let commits = Commits {
        max_events: 7_000,
        max_wait: Duration::from_secs(3600),
    };
    let (ingestor, writer) = uptake::ingest::Ingestor::start(store.clone(), 16, commits).unwrap();
    let limits = Limits::default();
    let cx = Context {
        bound_org: None,
        now: Micros::now(),
        limits: &limits,
    };
    let answers: Vec<_> = (0..8)
        .map(|batch| {
            // Each batch repeats the last event of the one before.
            let first = if batch == 0 { 0 } else { batch * 2_000 - 1 };
            let lines: Vec<String> = (first..(batch + 1) * 2_000)
                .map(|i| login("acme-eu", &format!("e{i}")))
                .collect();
            let decoded =
                uptake::ingest::decode_request(lines.join("\n").as_bytes(), Format::Ndjson, &cx)
                    .unwrap();
            ingestor.submit_blocking(decoded.events).unwrap()
        })
        .collect();
    let mut accepted = 0;
    let mut duplicates = 0;
    for answer in answers {
        let counts = answer.blocking_recv().unwrap().unwrap();
        accepted += counts.accepted;
        duplicates += counts.duplicates;
        // Answered means committed: another connection sees the events.
        assert!(stored_count(dir.path()) >= accepted);
    }
    assert_eq!((accepted, duplicates), (16_000, 7));
    assert_eq!(stored_count(dir.path()), 16_000);
    drop(ingestor);
    writer.join();
}
on_both_engines!(batches_share_a_transaction_and_are_answered_after_it);
