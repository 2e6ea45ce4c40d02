//! Every widget against the fixture's expected output, JSON and CSV, for
//! the whole company and for one org.

use serde_json::Value;
use uptake::calendar::Calendar;
use uptake::config::Settings;
use uptake::metrics::{Ctx, History, Report, ReportQuery, WIDGETS};
use uptake::time::Micros;

use crate::support::*;

/// The columns whose values are averages, compared within 0.006.
const AVERAGES: &[(&str, &str)] = &[
    ("users.team_engagement", "daily_logins"),
    ("users.team_engagement", "change"),
    ("users.activated_monthly", "change_pct"),
];

fn fixture_settings() -> (Calendar, Settings) {
    let text = std::fs::read_to_string(fixture("settings.json")).unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    let n = |k: &str| json[k].as_u64().unwrap() as u32;
    let settings = Settings {
        activation_min_logins: n("activation_min_logins"),
        activation_min_weeks: n("activation_min_weeks"),
        inactive_after_months: n("inactive_after_months"),
        latest_logins_days: n("latest_logins_days"),
        top_actions: n("top_actions"),
        engaged_teams: n("engaged_teams"),
        popular_pages: n("popular_pages"),
    };
    (
        Calendar::new(json["timezone"].as_str().unwrap()).unwrap(),
        settings,
    )
}

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

fn check_folder(folder: &str, orgs: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    stdout(&uptake(
        dir.path(),
        &["import", fixture("events.ndjson").to_str().unwrap()],
        None,
    ));
    let store = uptake::store::open(&uptake::store::Location::Sqlite(
        dir.path().join("uptake.db"),
    ))
    .unwrap();
    let (cal, settings) = fixture_settings();
    let query = ReportQuery {
        as_of: Some("2026-10-20T18:00:00Z".into()),
        orgs: orgs.iter().map(|o| o.to_string()).collect(),
        ..ReportQuery::default()
    };
    let report = Report::resolve(&query, Micros::now(), &cal).unwrap();
    let history = History::load(store.as_ref(), &report).unwrap();
    let cx = Ctx {
        report: &report,
        cal: &cal,
        settings: &settings,
        history: &history,
    };
    let mut failures = Vec::new();
    for widget in WIDGETS {
        let table = (widget.compute)(&cx);
        let json = uptake::export::to_json(widget.id, &report, &table);
        let expected_json =
            std::fs::read_to_string(fixture(&format!("{folder}/{}.json", widget.id))).unwrap();
        let expected_json: Value = serde_json::from_str(&expected_json).unwrap();
        if let Err(e) =
            std::panic::catch_unwind(|| assert_rows_match(widget.id, &json, &expected_json))
        {
            failures.push(format!("{folder}/{}.json: {}", widget.id, panic_text(e)));
        }
        let csv = uptake::export::to_csv(&table);
        let expected_csv =
            std::fs::read_to_string(fixture(&format!("{folder}/{}.csv", widget.id))).unwrap();
        if csv != expected_csv {
            let line = csv
                .lines()
                .zip(expected_csv.lines())
                .position(|(a, b)| a != b);
            failures.push(format!(
                "{folder}/{}.csv differs (first differing line: {line:?})",
                widget.id
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn panic_text(e: Box<dyn std::any::Any + Send>) -> String {
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn every_widget_matches_the_fixture_for_the_company() {
    check_folder("expected", &[]);
}

#[test]
fn every_widget_matches_the_fixture_for_one_org() {
    check_folder("expected-org", &["acme-eu"]);
}
