//! The Segment and PostHog wire formats: the real Node clients from npm
//! against a real server, and every auth form and limit by hand.

use std::io::Write as _;
use std::process::Command;

use serde_json::{Value, json};

use crate::support::*;

fn stored(dir: &std::path::Path) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    open_store(dir)
        .for_each_event(&mut |e| {
            let columns = uptake::event::columns::to_columns(&e.body);
            out.push((
                e.org.as_str().to_owned(),
                e.body.kind().name().to_owned(),
                columns.user.unwrap_or("").to_owned(),
            ));
            Ok(())
        })
        .unwrap();
    out.sort();
    out
}

/// The real clients (Node: Segment and PostHog; Python: Segment) send
/// logins, page views, an action run, an AI invocation, identifies
/// and events Uptake does not use: the first are stored in the key's org,
/// the last counted as ignored.
fn the_real_segment_and_posthog_clients_feed_uptake(engine: Engine) {
    let dir = engine_dir(engine);
    let key = create_key(dir.path(), "ingest", Some("acme-eu"));
    let read = create_key(dir.path(), "read", None);
    crate::dashboard::add_user(dir.path(), "admin", None);
    let server = Server::start(dir.path());
    let clients = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("integrations/sdk-clients");
    assert!(
        clients
            .join("node_modules/@segment/analytics-node")
            .exists(),
        "run `npm ci` in integrations/sdk-clients (./scripts/test does)"
    );
    let output = Command::new("node")
        .arg("send.mjs")
        .arg(format!("http://{}", server.addr))
        .arg(&key)
        .current_dir(&clients)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let python = Command::new(clients.join(".venv/bin/python"))
        .arg("send.py")
        .arg(format!("http://{}", server.addr))
        .arg(&key)
        .current_dir(&clients)
        .output()
        .expect("run ./scripts/test, which installs segment-analytics-python in integrations/sdk-clients/.venv");
    assert!(
        python.status.success(),
        "{}",
        String::from_utf8_lossy(&python.stderr)
    );
    let mut want: Vec<(String, String, String)> = [
        ("login", "py-cy"),
        ("page_view", "py-cy"),
        ("ai_invocation", "py-cy"),
        ("member_upserted", "py-cy"),
        ("login", "seg-ann"),
        ("page_view", "seg-ann"),
        ("action_run", "seg-ann"),
        ("member_upserted", "seg-ann"),
        ("login", "ph-bob"),
        ("page_view", "ph-bob"),
        ("mcp_call", "ph-bob"),
        ("member_upserted", "ph-bob"),
    ]
    .iter()
    .map(|(t, u)| ("acme-eu".to_owned(), t.to_string(), u.to_string()))
    .collect();
    want.sort();
    assert_eq!(stored(dir.path()), want);

    let auth = format!("Bearer {read}");
    let sources = server
        .client()
        .request("GET", "/api/v1/sources", &[("authorization", &auth)], b"")
        .unwrap()
        .json();
    let count = |source: &str, outcome: &str, name: &str| -> u64 {
        sources["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| {
                c["source"] == source
                    && c["outcome"] == outcome
                    && (name.is_empty() || c["name"] == name)
            })
            .map(|c| c["n"].as_u64().unwrap())
            .sum()
    };
    assert_eq!(count("segment", "ignored", "Clicked Button"), 1);
    assert_eq!(count("posthog", "ignored", "Opened Menu"), 1);
    assert_eq!(count("segment", "ignored", "Exported Report"), 1);
    assert_eq!(count("segment", "ignored", ""), 2);
    assert_eq!(count("posthog", "ignored", ""), 1);
    assert_eq!(count("segment", "stored", ""), 8);
    assert_eq!(count("posthog", "stored", ""), 4);
    assert_eq!(count("segment", "mapped", "action_run"), 1);
    assert_eq!(count("segment", "rejected", ""), 0);

    // The widgets show those events: the people logging in, the pages,
    // the action, the MCP call and the AI invocation.
    let widget = |id: &str| {
        server
            .client()
            .request(
                "GET",
                &format!("/api/v1/widgets/{id}"),
                &[("authorization", &auth)],
                b"",
            )
            .unwrap()
            .text()
    };
    let logins = widget("users.latest_logins");
    for user in ["seg-ann", "ph-bob", "py-cy"] {
        assert!(logins.contains(user), "{user} not in {logins}");
    }
    let pages = widget("users.popular_pages");
    for page in ["/catalog", "/self-serve", "/settings"] {
        assert!(pages.contains(page), "{page} not in {pages}");
    }
    assert!(widget("actions.top").contains("deploy"));
    assert!(widget("ai.by_source").contains("slack"));
    let mcp: Value = serde_json::from_str(&widget("ai.mcp_monthly")).unwrap();
    let calls: i64 = mcp["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row[1].as_i64().unwrap())
        .sum();
    assert_eq!(calls, 1, "{mcp}");

    // The same, for a company admin in the dashboard.
    let mut admin = crate::dashboard::Browser::new(&server);
    assert_eq!(admin.login("admin", crate::dashboard::PASSWORD).status, 303);
    let page = admin.get("/admin/sources");
    assert_eq!(page.status, 200);
    let html = page.text();
    for text in ["Clicked Button", "Opened Menu", "segment", "posthog"] {
        assert!(html.contains(text), "no {text} on /admin/sources");
    }
}
on_both_engines!(the_real_segment_and_posthog_clients_feed_uptake);

fn post(server: &Server, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, Value) {
    let response = server
        .client()
        .request("POST", path, headers, body)
        .unwrap();
    let json = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    (response.status, json)
}

#[test]
fn segment_auth_forms_limits_idempotency_and_clock_skew() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let key = create_key(dir.path(), "ingest", Some("acme-eu"));
    let server = Server::start(dir.path());
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let batch = |id: &str| {
        json!({"batch": [{"type": "track", "event": "Signed In", "userId": "ann", "messageId": id,
            "timestamp": "2026-10-01T12:00:00Z"}],
            "sentAt": "2026-10-01T12:00:00Z"})
        .to_string()
    };
    let json_type = ("content-type", "application/json");
    // Basic with the colon, without it, and writeKey in the body.
    let with_colon = format!("Basic {}", b64(&format!("{key}:")));
    let without = format!("Basic {}", b64(&key));
    assert_eq!(
        post(
            &server,
            "/v1/batch",
            &[json_type, ("authorization", &with_colon)],
            batch("a").as_bytes()
        )
        .0,
        200
    );
    assert_eq!(
        post(
            &server,
            "/v1/batch",
            &[json_type, ("authorization", &without)],
            batch("b").as_bytes()
        )
        .0,
        200
    );
    let body = json!({"writeKey": key, "type": "track", "event": "Signed In", "userId": "ann", "messageId": "c"});
    let (status, answer) = post(
        &server,
        "/v1/track",
        &[json_type],
        body.to_string().as_bytes(),
    );
    assert_eq!((status, answer), (200, json!({"success": true})));
    // A wrong key, invalid JSON, an oversize message.
    let wrong = format!("Basic {}", b64("uptake_ingest_0000000000000000_00:"));
    assert_eq!(
        post(
            &server,
            "/v1/batch",
            &[json_type, ("authorization", &wrong)],
            batch("d").as_bytes()
        )
        .0,
        401
    );
    assert_eq!(
        post(
            &server,
            "/v1/batch",
            &[json_type, ("authorization", &without)],
            b"{not json"
        )
        .0,
        400
    );
    let big = json!({"batch": [{"type": "track", "event": "x", "userId": "ann", "messageId": "e",
        "properties": {"blob": "x".repeat(33 * 1024)}}]});
    assert_eq!(
        post(
            &server,
            "/v1/batch",
            &[json_type, ("authorization", &without)],
            big.to_string().as_bytes()
        )
        .0,
        400
    );
    let huge_batch = json!({"batch": (0..40).map(|i| json!({"type": "track", "event": "x", "userId": "ann",
        "messageId": format!("h{i}"), "properties": {"blob": "x".repeat(20 * 1024)}})).collect::<Vec<_>>()});
    let (status, answer) = post(
        &server,
        "/v1/batch",
        &[json_type, ("authorization", &without)],
        huge_batch.to_string().as_bytes(),
    );
    assert_eq!(status, 400, "{answer}");
    // The same message again (a client's retry) is stored once.
    assert_eq!(
        post(
            &server,
            "/v1/batch",
            &[json_type, ("authorization", &without)],
            batch("a").as_bytes()
        )
        .0,
        200
    );
    assert_eq!(stored_count(dir.path()), 3);
    // A client whose clock runs 10 minutes behind: the time is moved by
    // the difference between its sentAt and the server's clock.
    let now = uptake::time::Micros::now();
    let behind = uptake::time::Micros(now.0 - 600_000_000).to_string();
    let skewed = json!({"batch": [{"type": "track", "event": "Signed In", "userId": "skew", "messageId": "f",
        "timestamp": behind}], "sentAt": behind});
    assert_eq!(
        post(
            &server,
            "/v1/batch",
            &[json_type, ("authorization", &without)],
            skewed.to_string().as_bytes()
        )
        .0,
        200
    );
    let mut time = None;
    open_store(dir.path())
        .for_each_event(&mut |e| {
            if e.id == "f" {
                time = Some(e.time);
            }
            Ok(())
        })
        .unwrap();
    let time = time.expect("the skewed event is stored");
    assert!((time.0 - now.0).abs() < 60_000_000, "{time} vs {now}");
}

#[test]
fn posthog_gzip_by_header_parameter_or_magic_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let key = create_key(dir.path(), "ingest", Some("acme-eu"));
    let server = Server::start(dir.path());
    let body = |uuid: &str| {
        json!({"api_key": key, "batch": [{"event": "Logged In", "distinct_id": "bob", "uuid": uuid,
            "timestamp": "2026-10-01T12:00:00Z"}]})
        .to_string()
    };
    let gzip = |text: String| {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(text.as_bytes()).unwrap();
        encoder.finish().unwrap()
    };
    let plain = ("content-type", "application/json");
    assert_eq!(
        post(&server, "/batch/", &[plain], body("1").as_bytes()).0,
        200
    );
    assert_eq!(
        post(
            &server,
            "/batch/",
            &[plain, ("content-encoding", "gzip")],
            &gzip(body("2"))
        )
        .0,
        200
    );
    assert_eq!(
        post(
            &server,
            "/batch/?compression=gzip-js",
            &[plain],
            &gzip(body("3"))
        )
        .0,
        200
    );
    assert_eq!(post(&server, "/e/", &[plain], &gzip(body("4"))).0, 200);
    let (status, answer) = post(&server, "/capture/", &[plain], body("1").as_bytes());
    assert_eq!((status, answer), (200, json!({"status": 1})));
    assert_eq!(stored_count(dir.path()), 4);
    let no_key = json!({"batch": [{"event": "Logged In", "distinct_id": "bob", "uuid": "5"}]});
    assert_eq!(
        post(&server, "/batch/", &[plain], no_key.to_string().as_bytes()).0,
        401
    );
}

/// A mapping rule applies to the events it names, and a changed rule
/// takes effect at the next start.
#[test]
fn mapping_rules_apply_and_change_at_restart() {
    let dir = tempfile::tempdir().unwrap();
    let key = create_key(dir.path(), "ingest", Some("acme-eu"));
    let rules = |field: &str| {
        format!(
            "[[sdk.mapping]]\nsource = \"segment\"\nevent = \"Deployment Requested\"\ntype = \"action_run\"\n[sdk.mapping.fields]\naction = \"properties.{field}\"\ntrigger = \"'api'\"\n"
        )
    };
    let send = |server: &Server, id: &str| {
        let body = json!({"writeKey": key, "batch": [{"type": "track", "event": "Deployment Requested",
            "userId": "ann", "messageId": id, "properties": {"service": "billing", "app": "shop"}}]});
        post(
            server,
            "/v1/batch",
            &[("content-type", "application/json")],
            body.to_string().as_bytes(),
        )
        .0
    };
    let actions = || {
        let mut out = Vec::new();
        open_store(dir.path())
            .for_each_event(&mut |e| {
                if let uptake::event::EventBody::ActionRun { action, .. } = &e.body {
                    out.push(action.clone());
                }
                Ok(())
            })
            .unwrap();
        out.sort();
        out
    };
    let server = Server::start_with(dir.path(), Some(&rules("service")));
    assert_eq!(send(&server, "r1"), 200);
    drop(server);
    assert_eq!(actions(), ["billing"]);
    let server = Server::start_with(dir.path(), Some(&rules("app")));
    assert_eq!(send(&server, "r2"), 200);
    drop(server);
    assert_eq!(actions(), ["billing", "shop"]);
}

/// A browser key (public) sends page views and logins only, from origins
/// listed for CORS, as `text/plain` the way browser SDKs post.
#[test]
fn browser_keys_and_cors() {
    let dir = tempfile::tempdir().unwrap();
    let key = create_key(dir.path(), "browser", Some("acme-eu"));
    assert!(key.starts_with("uptake_browser_"));
    let server = Server::start_with(
        dir.path(),
        Some("[sdk]\ncors_origins = [\"https://portal.example\"]\n"),
    );
    let preflight = |origin: &str| {
        server
            .client()
            .request(
                "OPTIONS",
                "/v1/batch",
                &[
                    ("origin", origin),
                    ("access-control-request-method", "POST"),
                    ("access-control-request-headers", "content-type"),
                ],
                b"",
            )
            .unwrap()
    };
    let allowed = preflight("https://portal.example");
    assert_eq!(allowed.status, 204);
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("https://portal.example")
    );
    let foreign = preflight("https://evil.example");
    assert_eq!(foreign.status, 403);
    assert_eq!(foreign.header("access-control-allow-origin"), None);

    let body = json!({"writeKey": key, "batch": [
        {"type": "page", "userId": "ann", "name": "Home", "properties": {"path": "/"}, "messageId": "p1"},
        {"type": "track", "userId": "ann", "event": "Signed In", "messageId": "p2"},
        {"type": "track", "userId": "ann", "event": "action_run", "messageId": "p3",
         "properties": {"action": "deploy", "trigger": "ui"}}
    ]});
    let response = server
        .client()
        .request(
            "POST",
            "/v1/batch",
            &[
                ("content-type", "text/plain"),
                ("origin", "https://portal.example"),
            ],
            body.to_string().as_bytes(),
        )
        .unwrap();
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        response.header("access-control-allow-origin"),
        Some("https://portal.example")
    );
    let mut kinds: Vec<String> = stored(dir.path()).into_iter().map(|(_, t, _)| t).collect();
    kinds.sort();
    assert_eq!(kinds, ["login", "page_view"], "the action run is refused");
    // A browser key cannot use the events API at all.
    let plain = server.post_ndjson(
        &key,
        r#"{"id":"x","type":"login","org":"acme-eu","time":"2026-10-01T10:00:00Z","user":"ann"}"#,
    );
    assert_eq!(plain.status, 401);
}

/// Forwards HTTP/1.1 requests to `upstream`, but answers the first one
/// with `429 Retry-After: 1` after Uptake stored it, as when an answer is
/// lost or the server was overloaded: the client sends it again.
fn lossy_proxy(upstream: std::net::SocketAddr) -> std::net::SocketAddr {
    use std::io::{BufRead, BufReader, Read};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let first = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let first = first.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut writer = conn;
                loop {
                    let mut request_line = String::new();
                    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut parts = request_line.split_whitespace();
                    let (method, path) = (
                        parts.next().unwrap_or("").to_owned(),
                        parts.next().unwrap_or("").to_owned(),
                    );
                    let mut headers = Vec::new();
                    let mut length = 0usize;
                    loop {
                        let mut line = String::new();
                        reader.read_line(&mut line).unwrap();
                        let line = line.trim_end().to_owned();
                        if line.is_empty() {
                            break;
                        }
                        if let Some((k, v)) = line.split_once(':') {
                            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_owned());
                            if k == "content-length" {
                                length = v.parse().unwrap();
                            }
                            if !matches!(k.as_str(), "host" | "connection" | "content-length") {
                                headers.push((k, v));
                            }
                        }
                    }
                    let mut body = vec![0u8; length];
                    reader.read_exact(&mut body).unwrap();
                    let refs: Vec<(&str, &str)> = headers
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect();
                    let response = uptake::bench::client::Client::connect(upstream)
                        .unwrap()
                        .request(&method, &path, &refs, &body)
                        .unwrap();
                    let lose =
                        method == "POST" && first.swap(false, std::sync::atomic::Ordering::SeqCst);
                    let reply = if lose {
                        b"HTTP/1.1 429 Too Many Requests\r\nretry-after: 1\r\ncontent-length: 0\r\n\r\n".to_vec()
                    } else {
                        let mut out = format!(
                            "HTTP/1.1 {} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                            response.status,
                            response.body.len()
                        )
                        .into_bytes();
                        out.extend_from_slice(&response.body);
                        out
                    };
                    if writer.write_all(&reply).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// The Node Segment client retries a batch answered `429`; the retry of
/// a batch Uptake had already stored is stored once.
#[test]
fn a_batch_the_client_sends_again_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let key = create_key(dir.path(), "ingest", Some("acme-eu"));
    let read = create_key(dir.path(), "read", None);
    let server = Server::start(dir.path());
    let proxy = lossy_proxy(server.addr);
    let clients = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("integrations/sdk-clients");
    let output = Command::new("node")
        .arg("send.mjs")
        .arg(format!("http://{proxy}"))
        .arg(&key)
        .current_dir(&clients)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stored(dir.path()).len(), 8, "{:?}", stored(dir.path()));
    let auth = format!("Bearer {read}");
    let sources = server
        .client()
        .request("GET", "/api/v1/sources", &[("authorization", &auth)], b"")
        .unwrap()
        .json();
    let duplicates: u64 = sources["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["source"] == "segment" && c["outcome"] == "duplicate")
        .map(|c| c["n"].as_u64().unwrap())
        .sum();
    assert!(
        duplicates >= 1,
        "the client did not send the batch again: {sources}"
    );
}

/// With the write queue full, a Segment batch is answered `429` with
/// `Retry-After` (the Node client retries only on 429); sent again once
/// the queue drains, it is stored once.
#[test]
fn a_full_queue_answers_429_and_the_retry_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let key = create_key(dir.path(), "ingest", Some("acme-eu"));
    let server = Server::start_with(dir.path(), Some("[ingest]\nqueue_batches = 1\n"));
    // Hold SQLite's write lock, so the writer cannot take batches off the
    // queue.
    let lock = rusqlite::Connection::open(dir.path().join("uptake.db")).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    // Three batches, one after another: the writer takes the first (or
    // the first two) and blocks; whatever follows fills the queue or, once
    // it is full, is refused.
    let fillers: Vec<_> = (0..3)
        .map(|i| {
            std::thread::sleep(std::time::Duration::from_millis(150));
            let (addr, key) = (server.addr, key.clone());
            std::thread::spawn(move || {
                let line = format!(
                    r#"{{"id":"fill-{i}","type":"login","org":"acme-eu","time":"2026-10-01T10:00:00Z","user":"f"}}"#
                );
                let auth = format!("Bearer {key}");
                uptake::bench::client::Client::connect(addr)
                    .unwrap()
                    .request(
                        "POST",
                        "/api/v1/events",
                        &[("authorization", &auth), ("content-type", "application/x-ndjson")],
                        line.as_bytes(),
                    )
                    .unwrap()
                    .status
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let batch = json!({"writeKey": key, "batch": [{"type": "track", "event": "Signed In",
        "userId": "ann", "messageId": "q1", "timestamp": "2026-10-01T12:00:00Z"}]})
    .to_string();
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(1500));
        lock.execute_batch("ROLLBACK").unwrap();
    });
    let full = server
        .client()
        .request(
            "POST",
            "/v1/batch",
            &[("content-type", "application/json")],
            batch.as_bytes(),
        )
        .unwrap();
    assert_eq!(full.status, 429, "{}", full.text());
    assert!(full.header("retry-after").is_some());
    release.join().unwrap();
    for filler in fillers {
        let status = filler.join().unwrap();
        assert!(status == 200 || status == 503, "{status}");
    }
    for _ in 0..2 {
        let again = server
            .client()
            .request(
                "POST",
                "/v1/batch",
                &[("content-type", "application/json")],
                batch.as_bytes(),
            )
            .unwrap();
        assert_eq!(again.status, 200, "{}", again.text());
    }
    let logins_of_ann = stored(dir.path())
        .into_iter()
        .filter(|(_, t, u)| t == "login" && u == "ann")
        .count();
    assert_eq!(logins_of_ann, 1);
}
