//! Every rejection of the contract, and what valid events become.

use super::*;
use crate::time::Micros;

const NOW: &str = "2026-11-01T00:00:00Z";

fn check(line: &str, bound: Option<&str>, expected: Result<&str, (ErrorCode, &str)>) {
    let limits = Limits::default();
    let bound = bound.map(|b| OrgSlug::parse(b).unwrap());
    let cx = Context {
        bound_org: bound.as_ref(),
        now: Micros::parse_rfc3339(NOW).unwrap(),
        limits: &limits,
    };
    let tree = Json::parse(line.as_bytes()).unwrap();
    let got = validate(&tree, &cx);
    match (got, expected) {
        (Ok(event), Ok(kind)) => assert_eq!(event.body.kind().name(), kind, "{line}"),
        (Err(r), Err((code, detail))) => {
            assert_eq!((r.error, r.detail.as_str()), (code, detail), "{line}")
        }
        (got, expected) => panic!("{line}: got {got:?}, expected {expected:?}"),
    }
}

const BASE: &str = r#""id":"e1","org":"acme-eu","time":"2026-05-04T10:00:00Z""#;

fn ev(rest: &str) -> String {
    format!("{{{BASE},{rest}}}")
}

#[test]
fn every_type_accepts_its_minimal_form() {
    for (rest, kind) in [
        (r#""type":"login","user":"u""#, "login"),
        (r##""type":"page_view","user":"u","page":"/""##, "page_view"),
        (
            r#""type":"action_run","action":"a","trigger":"api""#,
            "action_run",
        ),
        (
            r#""type":"automation_run","automation":"a""#,
            "automation_run",
        ),
        (
            r#""type":"ai_invocation","agent":"a","agent_type":"t","source":"weird""#,
            "ai_invocation",
        ),
        (r#""type":"mcp_call","tool":"t""#, "mcp_call"),
        (r#""type":"entity_snapshot","counts":[]"#, "entity_snapshot"),
        (
            r#""type":"data_source_created","data_source":"d","data_source_type":"t","name":"n""#,
            "data_source_created",
        ),
        (
            r#""type":"data_source_deleted","data_source":"d""#,
            "data_source_deleted",
        ),
        (
            r#""type":"member_upserted","user":"u","role":"admin""#,
            "member_upserted",
        ),
        (r#""type":"member_removed","user":"u""#, "member_removed"),
    ] {
        check(&ev(rest), None, Ok(kind));
    }
}

#[test]
fn the_first_problem_in_contract_order_is_reported() {
    // Unknown type beats a missing org.
    check(
        r#"{"id":"e","type":"nope","time":"x"}"#,
        None,
        Err((ErrorCode::UnknownType, "unknown type 'nope'")),
    );
    // id problems beat everything.
    check(
        r#"{"id":7,"type":"nope"}"#,
        None,
        Err((ErrorCode::InvalidField, "`id` must be a string")),
    );
    // org before time.
    check(
        r#"{"id":"e","type":"login","org":"A","time":"x"}"#,
        None,
        Err((ErrorCode::InvalidField, "`org` must be a slug")),
    );
    // required fields before optional ones.
    check(
        &ev(r#""type":"page_view","title":5"#),
        None,
        Err((ErrorCode::MissingField, "`user` is required for page_view")),
    );
    // the counts entry is checked member by member.
    check(
        &ev(r#""type":"entity_snapshot","counts":[{"count":-1}]"#),
        None,
        Err((ErrorCode::MissingField, "`counts[].blueprint` is required")),
    );
}

#[test]
fn bound_keys_fill_in_and_police_the_org() {
    let line = r#"{"id":"e","type":"login","time":"2026-05-04T10:00:00Z","user":"u"}"#;
    check(line, Some("acme-eu"), Ok("login"));
    check(
        line,
        None,
        Err((ErrorCode::MissingField, "`org` is required")),
    );
    check(
        &ev(r#""type":"login","user":"u""#),
        Some("acme-us"),
        Err((
            ErrorCode::OrgNotAllowed,
            "this key may only send events for org `acme-us`, not `acme-eu`",
        )),
    );
}

#[test]
fn time_window_is_inclusive() {
    let at = |t: &str| format!(r#"{{"id":"e","type":"login","org":"o","time":"{t}","user":"u"}}"#);
    check(&at("2000-01-01T00:00:00Z"), None, Ok("login"));
    check(&at("2026-11-02T00:00:00Z"), None, Ok("login"));
    let out = Err((
        ErrorCode::TimeOutOfRange,
        "`time` is outside the accepted window",
    ));
    check(&at("1999-12-31T23:59:59.999999Z"), None, out);
    check(&at("2026-11-02T00:00:00.000001Z"), None, out);
}

#[test]
fn strings_follow_the_byte_and_control_rules() {
    let long = "é".repeat(256); // 512 bytes
    check(
        &ev(&format!(r#""type":"login","user":"{long}""#)),
        None,
        Ok("login"),
    );
    check(
        &ev(&format!(r#""type":"login","user":"{long}x""#)),
        None,
        Err((ErrorCode::InvalidField, "`user` must be 1-512 bytes")),
    );
    check(
        &ev(r#""type":"login","user":"a\u0085b""#),
        None,
        Err((
            ErrorCode::InvalidField,
            "`user` contains control characters",
        )),
    );
    check(
        &ev(r#""type":"member_upserted","user":"u","role":"member","teams":["a",""]"#),
        None,
        Err((ErrorCode::InvalidField, "`teams[]` must be 1-512 bytes")),
    );
}

#[test]
fn snapshots_reject_repeated_pairs_and_non_integers() {
    check(
        &ev(
            r#""type":"entity_snapshot","counts":[{"blueprint":"s","data_source":"m","count":1},{"blueprint":"s","data_source":"m","count":2}]"#,
        ),
        None,
        Err((
            ErrorCode::InvalidField,
            "`counts` repeats the pair (`s`, `m`)",
        )),
    );
    for bad in ["5.0", "1e3", "1000000000001", "-1", "\"3\""] {
        check(
            &ev(&format!(
                r#""type":"entity_snapshot","counts":[{{"blueprint":"s","data_source":"m","count":{bad}}}]"#
            )),
            None,
            Err((
                ErrorCode::InvalidField,
                "`counts[].count` must be an integer from 0 to 1000000000000",
            )),
        );
    }
    check(
        &ev(
            r#""type":"entity_snapshot","counts":[{"blueprint":"s","data_source":"m","count":1000000000000}]"#,
        ),
        None,
        Ok("entity_snapshot"),
    );
}

#[test]
fn ui_actions_need_a_user() {
    check(
        &ev(r#""type":"action_run","action":"a","trigger":"ui""#),
        None,
        Err((ErrorCode::MissingField, "`user` is required for action_run")),
    );
    check(
        &ev(r#""type":"action_run","action":"a","trigger":"ui","user":"u""#),
        None,
        Ok("action_run"),
    );
    check(
        &ev(r#""type":"automation_run","automation":"a","status":"done""#),
        None,
        Err((
            ErrorCode::InvalidField,
            "`status` must be one of success, failure, in_progress",
        )),
    );
}

#[test]
fn teams_are_a_set() {
    let limits = Limits::default();
    let cx = Context {
        bound_org: None,
        now: Micros::now(),
        limits: &limits,
    };
    let line = ev(r#""type":"member_upserted","user":"u","role":"member","teams":["b","a","b"]"#);
    let event = validate(&Json::parse(line.as_bytes()).unwrap(), &cx).unwrap();
    let EventBody::MemberUpserted { teams, .. } = event.body else {
        panic!()
    };
    assert_eq!(teams, ["a", "b"]);
}
