//! Hand-made cases for what the fixture does not reach. Each case stores
//! a few events, computes one widget both from the raw history and from
//! the rollups, and compares both with the expected CSV rows.

use uptake::calendar::Calendar;
use uptake::config::Settings;
use uptake::metrics::{Ctx, Report, ReportQuery};
use uptake::rollup::RollupSettings;
use uptake::time::Micros;

use crate::support::*;

/// An event line: `kind org id time` and the type's fields as JSON members.
fn ev(kind: &str, org: &str, id: &str, time: &str, fields: &str) -> String {
    let sep = if fields.is_empty() { "" } else { "," };
    format!(r#"{{"type":"{kind}","org":"{org}","id":"{id}","time":"{time}"{sep}{fields}}}"#)
}

fn check(events: &[String], as_of: &str, orgs: &[&str], widget: &str, expected: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    stdout(&uptake(
        dir.path(),
        &["import", "-"],
        Some(events.join("\n").as_bytes()),
    ));
    let store = open_store(dir.path());
    let settings = Settings::default();
    store
        .prepare_rollups(&RollupSettings::new("UTC", &settings).unwrap())
        .unwrap();
    let cal = Calendar::utc();
    let query = ReportQuery {
        as_of: Some(as_of.into()),
        orgs: orgs.iter().map(|o| o.to_string()).collect(),
        ..ReportQuery::default()
    };
    let report = Report::resolve(&query, Micros::now(), &cal).unwrap();
    let history = crate::support::history_of(store.as_ref(), &report, &cal, &settings);
    let facts = store.facts(&report).unwrap();
    let widget = uptake::metrics::widget(widget).unwrap();
    for (name, facts) in [
        ("history", &history as &dyn uptake::metrics::Facts),
        ("rollups", facts.as_ref()),
    ] {
        let cx = Ctx {
            report: &report,
            cal: &cal,
            settings: &settings,
            facts,
        };
        let csv = uptake::export::to_csv(widget, &(widget.compute)(&cx).unwrap());
        let rows: Vec<&str> = csv
            .split("\r\n")
            .skip(1)
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(rows, expected, "{} from the {name}", widget.id);
    }
}

const AS_OF: &str = "2026-05-31T12:00:00Z";

#[test]
fn a_deletion_before_creation_has_no_effect_and_recreation_revives() {
    let events = [
        ev(
            "data_source_deleted",
            "o",
            "d0",
            "2026-01-05T00:00:00Z",
            r#""data_source":"gh""#,
        ),
        ev(
            "data_source_created",
            "o",
            "c1",
            "2026-01-10T00:00:00Z",
            r#""data_source":"gh","data_source_type":"github","name":"GH""#,
        ),
        ev(
            "data_source_deleted",
            "o",
            "d1",
            "2026-02-10T00:00:00Z",
            r#""data_source":"gh""#,
        ),
        ev(
            "data_source_created",
            "o",
            "c2",
            "2026-03-10T00:00:00Z",
            r#""data_source":"gh","data_source_type":"github","name":"GitHub""#,
        ),
        // Created and deleted at the same instant: the larger id comes last.
        ev(
            "data_source_created",
            "o",
            "a",
            "2026-04-01T00:00:00Z",
            r#""data_source":"jira","data_source_type":"jira","name":"Jira""#,
        ),
        ev(
            "data_source_deleted",
            "o",
            "b",
            "2026-04-01T00:00:00Z",
            r#""data_source":"jira""#,
        ),
    ];
    check(
        &events,
        AS_OF,
        &[],
        "datasources.log",
        &[
            "o,jira,jira,Jira,2026-04-01,2026-04-01,deleted",
            "o,gh,github,GitHub,2026-01-10,,active",
        ],
    );
    check(
        &events,
        AS_OF,
        &[],
        "datasources.monthly",
        &[
            "2025-06,0,0",
            "2025-07,0,0",
            "2025-08,0,0",
            "2025-09,0,0",
            "2025-10,0,0",
            "2025-11,0,0",
            "2025-12,0,0",
            "2026-01,1,1",
            "2026-02,0,-1",
            "2026-03,1,1",
            "2026-04,1,0",
            "2026-05,1,0",
        ],
    );
}

#[test]
fn snapshots_at_the_same_instant_are_ordered_by_id_and_zeros_drop_out() {
    let counts = |n: u64| {
        format!(
            r#""counts":[{{"blueprint":"service","data_source":"gh","count":{n}}},{{"blueprint":"team","data_source":"manual","count":0}}]"#
        )
    };
    let events = [
        ev(
            "entity_snapshot",
            "o",
            "s1",
            "2026-04-30T10:00:00Z",
            &counts(5),
        ),
        ev(
            "entity_snapshot",
            "o",
            "s3",
            "2026-05-02T10:00:00Z",
            &counts(0),
        ),
        ev(
            "entity_snapshot",
            "o",
            "s2",
            "2026-05-02T10:00:00Z",
            &counts(9),
        ),
    ];
    check(&events, AS_OF, &[], "entities.by_blueprint", &[]);
    check(
        &events,
        AS_OF,
        &[],
        "entities.by_source_blueprint",
        &["o,service,gh,0,5,-5"],
    );
    check(&events, AS_OF, &[], "entities.current", &["0,2026-04"]);
}

#[test]
fn inactive_users_at_the_exact_threshold_and_with_month_clamping() {
    // as_of 31 May 12:00 minus 3 months is 28 February 12:00 (clamped).
    let member = |id: &str, user: &str| {
        ev(
            "member_upserted",
            "o",
            id,
            "2025-01-01T00:00:00Z",
            &format!(r#""user":"{user}","role":"member""#),
        )
    };
    let events = [
        member("m1", "at-threshold"),
        member("m2", "just-before"),
        member("m3", "never"),
        member("m4", "recent"),
        ev(
            "login",
            "o",
            "l1",
            "2026-02-28T12:00:00Z",
            r#""user":"at-threshold""#,
        ),
        ev(
            "login",
            "o",
            "l2",
            "2026-02-28T11:59:59.999999Z",
            r#""user":"just-before""#,
        ),
        ev(
            "login",
            "o",
            "l3",
            "2026-05-30T12:00:00Z",
            r#""user":"recent""#,
        ),
        // A login after as_of does not count.
        ev(
            "login",
            "o",
            "l4",
            "2026-05-31T12:00:00.000001Z",
            r#""user":"never""#,
        ),
    ];
    check(
        &events,
        AS_OF,
        &[],
        "users.inactive",
        &[
            "never,,,o,,",
            "just-before,,,o,2026-02-28T11:59:59.999999Z,92",
        ],
    );
}

#[test]
fn latest_logins_window_excludes_its_start_and_includes_as_of() {
    let events = [
        ev(
            "login",
            "o",
            "l1",
            "2026-05-24T12:00:00Z",
            r#""user":"edge""#,
        ),
        ev(
            "login",
            "o",
            "l2",
            "2026-05-24T12:00:00.000001Z",
            r#""user":"inside""#,
        ),
        ev(
            "login",
            "o",
            "l3",
            "2026-05-31T12:00:00Z",
            r#""user":"inside""#,
        ),
        ev(
            "login",
            "p",
            "l4",
            "2026-05-31T11:00:00Z",
            r#""user":"edge""#,
        ),
    ];
    check(
        &events,
        AS_OF,
        &[],
        "users.latest_logins",
        &[
            "inside,,,2026-05-31T12:00:00Z,2",
            "edge,,,2026-05-31T11:00:00Z,1",
        ],
    );
    check(
        &events,
        AS_OF,
        &["o"],
        "users.latest_logins",
        &["inside,,,2026-05-31T12:00:00Z,2"],
    );
}

#[test]
fn activation_counts_weeks_and_change_is_null_from_zero() {
    // Three logins in one week do not activate; the third week does.
    let events = [
        ev("login", "o", "l1", "2026-03-02T09:00:00Z", r#""user":"u""#),
        ev("login", "o", "l2", "2026-03-03T09:00:00Z", r#""user":"u""#),
        ev("login", "o", "l3", "2026-03-04T09:00:00Z", r#""user":"u""#),
        ev("login", "o", "l4", "2026-03-10T09:00:00Z", r#""user":"u""#),
        ev("login", "o", "l5", "2026-04-20T09:00:00Z", r#""user":"u""#),
    ];
    let query_months = [
        "2025-06,0,0,",
        "2025-07,0,0,",
        "2025-08,0,0,",
        "2025-09,0,0,",
        "2025-10,0,0,",
        "2025-11,0,0,",
        "2025-12,0,0,",
        "2026-01,0,0,",
        "2026-02,0,0,",
        "2026-03,0,0,",
        "2026-04,1,1,",
        "2026-05,1,0,0.00",
    ];
    check(
        &events,
        AS_OF,
        &[],
        "users.activated_monthly",
        &query_months,
    );
    check(
        &events,
        AS_OF,
        &[],
        "users.activated_log",
        &["u,,,,2026-04-20T09:00:00Z,5,3,2026-04-20T09:00:00Z"],
    );
}

#[test]
fn runs_by_role_and_team_handle_non_members_and_several_teams() {
    let events = [
        ev(
            "member_upserted",
            "o",
            "m1",
            "2026-01-01T00:00:00Z",
            r#""user":"a","role":"admin","teams":["web","=HYPERLINK(1)"]"#,
        ),
        ev(
            "member_upserted",
            "o",
            "m2",
            "2026-01-01T00:00:00Z",
            r#""user":"b","role":"member""#,
        ),
        ev(
            "action_run",
            "o",
            "r1",
            "2026-05-01T00:00:00Z",
            r#""action":"deploy","trigger":"ui","user":"a""#,
        ),
        ev(
            "action_run",
            "o",
            "r2",
            "2026-05-01T00:00:00Z",
            r#""action":"deploy","trigger":"ui","user":"b""#,
        ),
        ev(
            "action_run",
            "o",
            "r3",
            "2026-05-01T00:00:00Z",
            r#""action":"deploy","trigger":"ui","user":"stranger""#,
        ),
        ev(
            "action_run",
            "o",
            "r4",
            "2026-05-01T00:00:00Z",
            r#""action":"deploy","trigger":"api""#,
        ),
        // Membership ended before as_of: the run counts as a non-member's.
        ev(
            "member_upserted",
            "p",
            "m3",
            "2026-01-01T00:00:00Z",
            r#""user":"a","role":"member""#,
        ),
        ev(
            "member_removed",
            "p",
            "m4",
            "2026-05-10T00:00:00Z",
            r#""user":"a""#,
        ),
        ev(
            "action_run",
            "p",
            "r5",
            "2026-05-02T00:00:00Z",
            r#""action":"deploy","trigger":"ui","user":"a""#,
        ),
    ];
    check(
        &events,
        AS_OF,
        &[],
        "actions.log_by_role_team",
        &[
            "(none),o,(none),2",
            "(none),p,(none),1",
            "admin,o,'=HYPERLINK(1),1",
            "admin,o,web,1",
            "member,o,(none),1",
        ],
    );
}

#[test]
fn few_teams_are_both_most_and_least_engaged() {
    let events = [
        ev(
            "member_upserted",
            "o",
            "m1",
            "2026-01-01T00:00:00Z",
            r#""user":"a","role":"member","teams":["x"]"#,
        ),
        ev(
            "member_upserted",
            "o",
            "m2",
            "2026-01-01T00:00:00Z",
            r#""user":"b","role":"member","teams":["y"]"#,
        ),
        // Two logins on one day count once; a login in another org does not count.
        ev("login", "o", "l1", "2026-05-01T08:00:00Z", r#""user":"a""#),
        ev("login", "o", "l2", "2026-05-01T09:00:00Z", r#""user":"a""#),
        ev("login", "o", "l3", "2026-05-02T09:00:00Z", r#""user":"a""#),
        ev("login", "p", "l4", "2026-05-03T09:00:00Z", r#""user":"b""#),
        ev("login", "o", "l5", "2026-04-30T09:00:00Z", r#""user":"b""#),
    ];
    let report_as_of = "2026-05-04T12:00:00Z";
    let rows: Vec<String> = (0..12)
        .map(|i| uptake::calendar::Month::new(2025, 6).plus(i).to_string())
        .flat_map(|m| {
            let (x, y, dx, dy) = match m.as_str() {
                "2026-04" => ("0.00", "0.03", "0.00", "0.03"),
                "2026-05" => ("0.50", "0.00", "0.50", "-0.03"),
                _ => ("0.00", "0.00", "0.00", "0.00"),
            };
            let mut most = vec![
                format!("{m},most,o,x,{x},{dx}"),
                format!("{m},most,o,y,{y},{dy}"),
            ];
            if y > x {
                most.swap(0, 1);
            }
            let mut least = vec![
                format!("{m},least,o,x,{x},{dx}"),
                format!("{m},least,o,y,{y},{dy}"),
            ];
            if x > y {
                least.swap(0, 1);
            }
            most.into_iter().chain(least)
        })
        .collect();
    let expected: Vec<&str> = rows.iter().map(String::as_str).collect();
    check(
        &events,
        report_as_of,
        &[],
        "users.team_engagement",
        &expected,
    );
}
