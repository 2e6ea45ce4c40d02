//! Every widget against the fixture's expected output, JSON and CSV, for
//! the whole company and for one org.

use serde_json::Value;
use uptake::metrics::WIDGETS;

use crate::support::*;

/// The columns whose values are averages, compared within 0.006.
const AVERAGES: &[(&str, &str)] = &[
    ("users.team_engagement", "daily_logins"),
    ("users.team_engagement", "change"),
    ("users.activated_monthly", "change_pct"),
];

fn assert_rows_match(widget: &str, got: &Value, expected: &Value) {
    for key in ["widget", "as_of", "from", "to", "columns"] {
        assert_eq!(got[key], expected[key], "{widget}: `{key}` differs");
    }
    let columns: Vec<&str> = expected["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let got_rows = got["rows"].as_array().unwrap();
    let expected_rows = expected["rows"].as_array().unwrap();
    for (i, (g, e)) in got_rows.iter().zip(expected_rows).enumerate() {
        for (c, column) in columns.iter().enumerate() {
            let (gv, ev) = (&g[c], &e[c]);
            let close = AVERAGES.contains(&(widget, *column))
                && gv
                    .as_f64()
                    .zip(ev.as_f64())
                    .is_some_and(|(a, b)| (a - b).abs() <= 0.006);
            assert!(
                gv == ev || close,
                "{widget} row {i} column {column}: got {g}, expected {e}"
            );
        }
    }
    assert_eq!(
        got_rows.len(),
        expected_rows.len(),
        "{widget}: row count differs"
    );
}

/// A server loaded with the fixture and configured with its settings.
fn fixture_server(dir: &std::path::Path) -> Server {
    stdout(&uptake(
        dir,
        &["import", fixture("events.ndjson").to_str().unwrap()],
        None,
    ));
    Server::start_with(dir, Some(&fixture_config()))
}

/// The fixture's `settings.json` as a config file.
pub fn fixture_config() -> String {
    let text = std::fs::read_to_string(fixture("settings.json")).unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    let mut config = format!(
        "[company]\ntimezone = \"{}\"\n[metrics]\n",
        json["timezone"].as_str().unwrap()
    );
    for (key, value) in json.as_object().unwrap() {
        if key != "timezone" {
            config.push_str(&format!("{key} = {value}\n"));
        }
    }
    config
}

fn get(server: &Server, key: &str, path: &str) -> Response {
    let auth = format!("Bearer {key}");
    server
        .client()
        .request("GET", path, &[("authorization", &auth)], b"")
        .unwrap()
}

/// Compares every widget's JSON and CSV over HTTP with `folder`.
pub fn check_folder_over_http(
    server: &Server,
    key: &str,
    folder: &str,
    org_param: &str,
) -> Vec<String> {
    let mut failures = Vec::new();
    for widget in WIDGETS {
        let query = format!("?as_of=2026-10-20T18:00:00Z{org_param}");
        let response = get(
            server,
            key,
            &format!("/api/v1/widgets/{}{query}", widget.id),
        );
        assert_eq!(
            response.status,
            200,
            "{}: {}",
            widget.id,
            String::from_utf8_lossy(&response.body)
        );
        let expected_json =
            std::fs::read_to_string(fixture(&format!("{folder}/{}.json", widget.id))).unwrap();
        let expected_json: Value = serde_json::from_str(&expected_json).unwrap();
        let got = response.json();
        if let Err(e) =
            std::panic::catch_unwind(|| assert_rows_match(widget.id, &got, &expected_json))
        {
            failures.push(format!("{folder}/{}.json: {}", widget.id, panic_text(e)));
        }
        let response = get(
            server,
            key,
            &format!("/api/v1/widgets/{}.csv{query}", widget.id),
        );
        assert_eq!(
            response.header("content-type"),
            Some("text/csv; charset=utf-8")
        );
        let expected_csv = std::fs::read(fixture(&format!("{folder}/{}.csv", widget.id))).unwrap();
        if response.body != expected_csv {
            let (got, want) = (
                String::from_utf8_lossy(&response.body),
                String::from_utf8_lossy(&expected_csv),
            );
            let line = got
                .split("\r\n")
                .zip(want.split("\r\n"))
                .position(|(a, b)| a != b);
            failures.push(format!(
                "{folder}/{}.csv differs (first differing line: {line:?})",
                widget.id
            ));
        }
    }
    failures
}

fn every_widget_matches_the_fixture_over_http(engine: Engine) {
    let dir = engine_dir(engine);
    let company = create_key(dir.path(), "read", None);
    let eu = create_key(dir.path(), "read", Some("acme-eu"));
    let server = fixture_server(dir.path());
    let mut failures = check_folder_over_http(&server, &company, "expected", "");
    failures.extend(check_folder_over_http(
        &server,
        &company,
        "expected-org",
        "&org=acme-eu",
    ));
    // A key bound to the org sees the org's numbers without asking.
    failures.extend(check_folder_over_http(&server, &eu, "expected-org", ""));
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

on_both_engines!(every_widget_matches_the_fixture_over_http);

#[test]
fn widget_requests_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let company = create_key(dir.path(), "read", None);
    let eu = create_key(dir.path(), "read", Some("acme-eu"));
    let ingest = create_key(dir.path(), "ingest", None);
    let server = Server::start(dir.path());
    let status_and_code = |key: &str, path: &str| {
        let response = get(&server, key, path);
        let code = if response.status == 200 {
            String::new()
        } else {
            response.json()["error"].as_str().unwrap().to_owned()
        };
        (response.status, code)
    };
    let cases = [
        (
            &company,
            "/api/v1/widgets/users.nope",
            404,
            "unknown_widget",
        ),
        (
            &company,
            "/api/v1/widgets/users.inactive?as_of=2026-13-01T00:00:00Z",
            400,
            "invalid_parameter",
        ),
        (
            &company,
            "/api/v1/widgets/users.inactive?from=2026-05&to=2026-04",
            400,
            "invalid_period",
        ),
        (
            &company,
            "/api/v1/widgets/users.inactive?form=2026-05",
            400,
            "invalid_parameter",
        ),
        (
            &company,
            "/api/v1/widgets/users.inactive?org=Not%20A%20Slug",
            400,
            "invalid_parameter",
        ),
        (
            &ingest,
            "/api/v1/widgets/users.inactive",
            401,
            "unauthorized",
        ),
        (
            &eu,
            "/api/v1/widgets/users.inactive?org=acme-us",
            403,
            "forbidden",
        ),
        (
            &eu,
            "/api/v1/widgets/users.inactive?org=acme-eu&org=acme-us",
            403,
            "forbidden",
        ),
        (&eu, "/api/v1/widgets/users.inactive?org=acme-eu", 200, ""),
        (
            &company,
            "/api/v1/widgets/users.inactive.csv?org=acme-eu&org=acme-us",
            200,
            "",
        ),
    ];
    for (key, path, status, code) in cases {
        assert_eq!(
            status_and_code(key, path),
            (status, code.to_string()),
            "{path}"
        );
    }
    // The catalogue lists every widget with typed columns.
    let catalogue = server
        .client()
        .request("GET", "/api/v1/widgets", &[], b"")
        .unwrap()
        .json();
    let widgets = catalogue["widgets"].as_array().unwrap();
    assert_eq!(widgets.len(), 24);
    assert_eq!(widgets[0]["id"], "users.activated_monthly");
    assert_eq!(
        widgets[0]["columns"][3],
        serde_json::json!({"name": "change_pct", "type": "decimal"})
    );
    // An empty period gives monthly widgets no rows, and echoes the cut period.
    let empty = get(
        &server,
        &company,
        "/api/v1/widgets/ai.mcp_monthly?as_of=2026-10-20T18:00:00Z&from=2027-01&to=2027-03",
    )
    .json();
    assert_eq!(
        (empty["from"].as_str(), empty["to"].as_str()),
        (Some("2027-01"), Some("2026-10"))
    );
    assert_eq!(empty["rows"], serde_json::json!([]));
}

fn panic_text(e: Box<dyn std::any::Any + Send>) -> String {
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}
