//! The rollups answer exactly what the raw history answers: every widget,
//! for reports at instants all over the history (with events stored after
//! them), in several time zones and settings, on both engines, whatever
//! the arrival order.

use std::io::Write;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use uptake::calendar::Calendar;
use uptake::config::Settings;
use uptake::generate::Generator;
use uptake::metrics::{Ctx, Report, ReportQuery, WIDGETS};
use uptake::rollup::RollupSettings;
use uptake::time::Micros;

use crate::support::*;

/// The fixture's lines plus generated ones, shuffled.
fn mixed_events(seed: u64) -> Vec<String> {
    let text = std::fs::read_to_string(fixture("events.ndjson")).unwrap();
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    let end = Micros::parse_rfc3339("2026-10-21T12:00:00Z").unwrap();
    let mut generator = Generator::new(seed, 40, Micros(end.0 - 400 * 86_400_000_000), end);
    lines.extend((0..4000).map(|_| generator.next_line()));
    lines.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
    lines
}

/// Report instants over the whole history of `store`: fixed awkward ones
/// (DST changes, month starts and a microsecond before, the future), a
/// stored event's own instant and a microsecond before it (more events
/// later that day), the start of the last day, week and month (events
/// after `as_of` in the same day, week and month, and in later months),
/// one early in the history (most people log in only after it), and
/// `random` instants drawn over the history.
fn instants_over_history(
    store: &dyn uptake::store::Store,
    cal: &Calendar,
    rng: &mut impl Rng,
    random: usize,
) -> Vec<Micros> {
    let mut times = Vec::new();
    store
        .for_each_event(&mut |e| {
            times.push(e.time);
            Ok(())
        })
        .unwrap();
    times.sort_unstable();
    let (first, last) = (times[0], *times.last().unwrap());
    let mut instants: Vec<Micros> = [
        "2026-03-29T01:30:00Z",
        "2026-03-29T00:59:59.999999Z",
        "2025-10-26T01:00:00Z",
        "2025-10-26T00:59:59.999999Z",
        "2026-11-01T09:30:00Z",
        "2025-12-31T23:00:00Z",
        "2026-01-01T00:00:00+01:00",
        "2027-01-01T00:00:00Z",
    ]
    .iter()
    .map(|s| Micros::parse_rfc3339(s).unwrap())
    .collect();
    let last_day = cal.day_of(last);
    let last_month = last_day.month();
    let month_start = cal.month_start(last_month);
    instants.extend([
        month_start,
        Micros(month_start.0 - 1),
        cal.day_start(last_day),
        cal.day_start(uptake::calendar::Day(last_day.0 - 6)),
        cal.month_start(uptake::calendar::Month::new(2026, 6)),
        Micros(first.0 + (last.0 - first.0) / 20),
    ]);
    let event = times[times.len() / 3];
    instants.extend([event, Micros(event.0 - 1)]);
    instants.extend((0..random).map(|_| Micros(rng.random_range(first.0..=last.0))));
    instants
}

/// Users with a stored login at or before `as_of`, and after it only.
fn login_users_around(store: &dyn uptake::store::Store, as_of: Micros) -> (usize, usize) {
    let mut before = std::collections::HashSet::new();
    let mut after = std::collections::HashSet::new();
    store
        .for_each_event(&mut |e| {
            if let uptake::event::EventBody::Login { user } = &e.body {
                if e.time <= as_of {
                    before.insert(user.clone());
                } else {
                    after.insert(user.clone());
                }
            }
            Ok(())
        })
        .unwrap();
    let only_after = after.difference(&before).count();
    (before.len(), only_after)
}

fn check_against_history(engine: Engine, timezone: &str, settings: Settings, seed: u64) {
    let dir = engine_dir(engine);
    let config = dir.path().join("uptake.toml");
    let mut text = format!("[company]\ntimezone = \"{timezone}\"\n[metrics]\n");
    text.push_str(&format!(
        "activation_min_logins = {}\nactivation_min_weeks = {}\ninactive_after_months = {}\n",
        settings.activation_min_logins,
        settings.activation_min_weeks,
        settings.inactive_after_months
    ));
    std::fs::write(&config, text).unwrap();
    let input = mixed_events(seed).join("\n");
    let output = uptake(
        dir.path(),
        &["import", "--config", config.to_str().unwrap(), "-"],
        Some(input.as_bytes()),
    );
    stdout(&output);

    let store = open_store(dir.path());
    let rollup = RollupSettings::new(timezone, &settings).unwrap();
    store.prepare_rollups(&rollup).unwrap();
    let cal = Calendar::new(timezone).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let as_ofs = instants_over_history(store.as_ref(), &cal, &mut rng, 8);
    // The early instant is one where most people have yet to log in.
    let early = as_ofs[13];
    let (before, only_after) = login_users_around(store.as_ref(), early);
    assert!(
        only_after > before,
        "the early instant should precede most people's logins ({before} before, {only_after} only after)"
    );
    let org_sets: [&[&str]; 4] = [&[], &["acme-eu"], &["acme-us", "acme-labs"], &["nobody"]];
    let mut failures = Vec::new();
    for as_of in &as_ofs {
        for orgs in org_sets {
            let query = ReportQuery {
                as_of: Some(as_of.to_string()),
                orgs: orgs.iter().map(|o| o.to_string()).collect(),
                ..ReportQuery::default()
            };
            let report = Report::resolve(&query, Micros::now(), &cal).unwrap();
            let history = crate::support::history_of(store.as_ref(), &report, &cal, &settings);
            let facts = store.facts(&report).unwrap();
            for widget in WIDGETS {
                let reference = Ctx {
                    report: &report,
                    cal: &cal,
                    settings: &settings,
                    facts: &history,
                };
                let rolled = Ctx {
                    report: &report,
                    cal: &cal,
                    settings: &settings,
                    facts: facts.as_ref(),
                };
                let (want, got) = (
                    (widget.compute)(&reference).unwrap(),
                    (widget.compute)(&rolled).unwrap(),
                );
                assert!(
                    got.rows().all(|row| row.len() == widget.columns.len()),
                    "{}: row width",
                    widget.id
                );
                if want != got {
                    let row = want.rows().zip(got.rows()).position(|(a, b)| a != b);
                    failures.push(format!(
                        "{timezone} as_of={as_of} orgs={orgs:?} {}: rows {} vs {}, first difference at {row:?}: {:?} vs {:?}",
                        widget.id,
                        want.len(),
                        got.len(),
                        row.and_then(|i| want.rows().nth(i)),
                        row.and_then(|i| got.rows().nth(i)),
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
}

fn rollups_equal_the_history_in_berlin(engine: Engine) {
    check_against_history(engine, "Europe/Berlin", Settings::default(), 1);
}
on_both_engines!(rollups_equal_the_history_in_berlin);

fn rollups_equal_the_history_in_los_angeles_with_other_settings(engine: Engine) {
    let settings = Settings {
        activation_min_logins: 5,
        activation_min_weeks: 2,
        inactive_after_months: 1,
        ..Settings::default()
    };
    check_against_history(engine, "America/Los_Angeles", settings, 2);
}
on_both_engines!(rollups_equal_the_history_in_los_angeles_with_other_settings);

fn rollups_equal_the_history_in_kolkata(engine: Engine) {
    let settings = Settings {
        activation_min_logins: 1,
        activation_min_weeks: 1,
        ..Settings::default()
    };
    check_against_history(engine, "Asia/Kolkata", settings, 3);
}
on_both_engines!(rollups_equal_the_history_in_kolkata);

/// A report in the past reads no more raw events than lie between its
/// `as_of` and the end of its local day, however many were stored after
/// it: everything else comes from rollups.
fn a_report_reads_raw_events_only_to_the_end_of_its_day(engine: Engine) {
    let dir = engine_dir(engine);
    import_lines(dir.path(), &mixed_events(4));
    let store = open_store(dir.path());
    let timezone = "Europe/Berlin";
    store
        .prepare_rollups(&RollupSettings::new(timezone, &Settings::default()).unwrap())
        .unwrap();
    let cal = Calendar::new(timezone).unwrap();
    let mut times = Vec::new();
    store
        .for_each_event(&mut |e| {
            times.push(e.time);
            Ok(())
        })
        .unwrap();
    times.sort_unstable();
    let mut rng = rand::rngs::StdRng::seed_from_u64(4);
    let mut checked_with_events_after = 0;
    let mut read_in_all = 0;
    for as_of in instants_over_history(store.as_ref(), &cal, &mut rng, 12) {
        let day_end = cal.day_start(uptake::calendar::Day(cal.day_of(as_of).0 + 1));
        let allowed = times
            .iter()
            .filter(|t| **t > as_of && **t < day_end)
            .count() as u64;
        let stored_after = times.iter().filter(|t| **t > as_of).count();
        let query = ReportQuery {
            as_of: Some(as_of.to_string()),
            ..ReportQuery::default()
        };
        let report = Report::resolve(&query, Micros::now(), &cal).unwrap();
        let settings = Settings::default();
        let before = store.raw_events_read();
        let facts = store.facts(&report).unwrap();
        for widget in WIDGETS {
            (widget.compute)(&Ctx {
                report: &report,
                cal: &cal,
                settings: &settings,
                facts: facts.as_ref(),
            })
            .unwrap();
        }
        drop(facts);
        let read = store.raw_events_read() - before;
        read_in_all += read;
        assert!(
            read <= allowed,
            "as of {as_of}: read {read} raw events, but only {allowed} lie between as_of and the end of its day ({stored_after} stored after it)"
        );
        if stored_after > 1000 {
            checked_with_events_after += 1;
        }
    }
    assert!(checked_with_events_after >= 10);
    // The counter counts: reports inside days with later events read them.
    assert!(read_in_all > 0, "no raw event was counted at all");
}
on_both_engines!(a_report_reads_raw_events_only_to_the_end_of_its_day);

/// The fixture's lines in a random order, except that events sharing an
/// `(org, id)` keep their order: the first to arrive is the one kept, so
/// their order is the one thing the contract lets matter.
fn shuffled_fixture(seed: u64) -> Vec<String> {
    let text = std::fs::read_to_string(fixture("events.ndjson")).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut order: Vec<usize> = (0..lines.len()).collect();
    order.shuffle(&mut rng);
    let key = |line: &str| {
        let value: serde_json::Value = serde_json::from_str(line).ok()?;
        Some((
            value.get("org")?.as_str()?.to_owned(),
            value.get("id")?.as_str()?.to_owned(),
        ))
    };
    let mut groups: std::collections::HashMap<(String, String), Vec<usize>> =
        std::collections::HashMap::new();
    for (position, &line) in order.iter().enumerate() {
        if let Some(k) = key(lines[line]) {
            groups.entry(k).or_default().push(position);
        }
    }
    for positions in groups.values() {
        let mut members: Vec<usize> = positions.iter().map(|p| order[*p]).collect();
        members.sort_unstable();
        for (p, line) in positions.iter().zip(members) {
            order[*p] = line;
        }
    }
    order.into_iter().map(|i| lines[i].to_owned()).collect()
}

/// Posts the fixture's events shuffled, in random batch sizes.
pub fn post_shuffled(server: &Server, key: &str, seed: u64) {
    let lines = shuffled_fixture(seed);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut rest = lines.as_slice();
    while !rest.is_empty() {
        let n = rng.random_range(1..=rest.len().min(3000));
        let (batch, tail) = rest.split_at(n);
        let mut body = Vec::new();
        for line in batch {
            writeln!(body, "{line}").unwrap();
        }
        assert_eq!(server.post(key, "application/x-ndjson", &body).status, 200);
        rest = tail;
    }
}

fn arrival_order_does_not_change_any_widget(engine: Engine) {
    for seed in [7, 8] {
        let dir = engine_dir(engine);
        let ingest = create_key(dir.path(), "ingest", None);
        let read = create_key(dir.path(), "read", None);
        let server = Server::start_with(dir.path(), Some(&crate::widgets::fixture_config()));
        post_shuffled(&server, &ingest, seed);
        let mut failures = crate::widgets::check_folder_over_http(&server, &read, "expected", "");
        failures.extend(crate::widgets::check_folder_over_http(
            &server,
            &read,
            "expected-org",
            "&org=acme-eu",
        ));
        assert!(
            failures.is_empty(),
            "seed {seed}: {} mismatches:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
}

on_both_engines!(arrival_order_does_not_change_any_widget);

/// A page view of `/` in acme-eu.
fn view(id: &str, time: &str, user: &str) -> String {
    format!(
        r#"{{"id":"{id}","type":"page_view","org":"acme-eu","time":"{time}","user":"{user}","page":"/"}}"#
    )
}

/// Imports `lines` into `dir`'s store with another process, as a portal's
/// events arriving while reports run.
fn import_lines(dir: &std::path::Path, lines: &[String]) {
    let input = lines.join("\n");
    stdout(&uptake(dir, &["import", "-"], Some(input.as_bytes())));
}

/// `dir`'s store with UTC rollups, and a report as of 2026-05-10.
fn store_and_report(dir: &std::path::Path) -> (std::sync::Arc<dyn uptake::store::Store>, Report) {
    let store = open_store(dir);
    store
        .prepare_rollups(&RollupSettings::new("UTC", &Settings::default()).unwrap())
        .unwrap();
    let query = ReportQuery {
        as_of: Some("2026-05-10T00:00:00Z".into()),
        ..ReportQuery::default()
    };
    let report = Report::resolve(&query, Micros::now(), &Calendar::new("UTC").unwrap()).unwrap();
    (store, report)
}

/// A report reads one snapshot: what the writer commits while the report
/// runs is not half seen (cells from one state, the raw events that correct
/// them from another), and the next report sees all of it.
fn a_report_reads_one_snapshot(engine: Engine) {
    use uptake::metrics::facts::{GroupBy, Metric};
    let dir = engine_dir(engine);
    import_lines(dir.path(), &[view("a", "2026-05-02T10:00:00Z", "ann")]);
    let (store, report) = store_and_report(dir.path());
    let months = [uptake::calendar::Month::new(2026, 5)];
    let views = |facts: &dyn uptake::metrics::Facts| -> i64 {
        facts
            .counts(Metric::PageView, &months, GroupBy::ORG.user())
            .unwrap()
            .iter()
            .map(|c| c.n)
            .sum()
    };
    let facts = store.facts(&report).unwrap();
    assert_eq!(views(facts.as_ref()), 1);
    // One view before `as_of` and one after it, committed by another process.
    import_lines(
        dir.path(),
        &[
            view("b", "2026-05-05T10:00:00Z", "ann"),
            view("c", "2026-05-20T10:00:00Z", "ann"),
        ],
    );
    assert_eq!(
        views(facts.as_ref()),
        1,
        "the running report saw a later commit"
    );
    drop(facts);
    let facts = store.facts(&report).unwrap();
    assert_eq!(
        views(facts.as_ref()),
        2,
        "a new report sees the new view before as_of"
    );
}

on_both_engines!(a_report_reads_one_snapshot);

/// The sums of complete months kept between reports follow late events:
/// a view or a login landing in a past month shows in the next report.
fn kept_sums_of_past_months_follow_late_events(engine: Engine) {
    use uptake::metrics::facts::{GroupBy, Metric};
    let dir = engine_dir(engine);
    let login = |id: &str, time: &str| {
        format!(r#"{{"id":"{id}","type":"login","org":"acme-eu","time":"{time}","user":"ann"}}"#)
    };
    import_lines(
        dir.path(),
        &[
            view("a", "2026-03-02T10:00:00Z", "ann"),
            view("b", "2026-04-02T10:00:00Z", "ann"),
            view("c", "2026-05-02T10:00:00Z", "bob"),
            login("l1", "2026-04-02T10:00:00Z"),
        ],
    );
    let (store, report) = store_and_report(dir.path());
    let months = [
        uptake::calendar::Month::new(2026, 4),
        uptake::calendar::Month::new(2026, 5),
    ];
    // (user, views) over April and May, and (month, user, views).
    let read = || {
        let facts = store.facts(&report).unwrap();
        let counts = facts
            .counts(Metric::PageView, &months, GroupBy::ORG.user())
            .unwrap();
        let mut by_user: Vec<(String, i64)> = counts
            .iter()
            .map(|c| (counts.text(c.user.unwrap()).to_string(), c.n))
            .collect();
        by_user.sort();
        let counts = facts
            .counts(Metric::PageView, &months, GroupBy::ORG.month().user())
            .unwrap();
        let mut by_month: Vec<(i64, String, i64)> = counts
            .iter()
            .map(|c| {
                (
                    c.month.unwrap().0,
                    counts.text(c.user.unwrap()).to_string(),
                    c.n,
                )
            })
            .collect();
        by_month.sort();
        let login_days: Vec<(i64, i64)> = facts
            .login_days(&months)
            .unwrap()
            .by_member
            .values()
            .flatten()
            .map(|(month, days)| (month.0, *days))
            .collect();
        (by_user, by_month, login_days)
    };
    let (april, may) = (months[0].0, months[1].0);
    let before = read();
    assert_eq!(before.0, [("ann".into(), 1), ("bob".into(), 1)]);
    assert_eq!(before.2, [(months[0].0, 1)]);
    assert_eq!(read(), before, "a second report reads the same");
    // Late views in April (one by a new user) and one after `as_of`.
    import_lines(
        dir.path(),
        &[
            view("d", "2026-04-20T10:00:00Z", "ann"),
            view("e", "2026-04-21T10:00:00Z", "cid"),
            view("f", "2026-05-20T10:00:00Z", "cid"),
            login("l2", "2026-04-03T10:00:00Z"),
        ],
    );
    let after = read();
    assert_eq!(
        after.0,
        [("ann".into(), 2), ("bob".into(), 1), ("cid".into(), 1)]
    );
    assert_eq!(
        after.1,
        [
            (april, "ann".into(), 2),
            (april, "cid".into(), 1),
            (may, "bob".into(), 1)
        ]
    );
    assert_eq!(after.2, [(april, 2)]);
    assert_eq!(read(), after);
}

on_both_engines!(kept_sums_of_past_months_follow_late_events);

/// The members kept between reports follow member events: a new name, a
/// new role and a removal show in the next report.
fn kept_members_follow_member_events(engine: Engine) {
    let dir = engine_dir(engine);
    let upsert = |id: &str, time: &str, user: &str, role: &str, name: &str| {
        format!(
            r#"{{"id":"{id}","type":"member_upserted","org":"acme-eu","time":"{time}","user":"{user}","role":"{role}","name":"{name}","teams":["web"]}}"#
        )
    };
    import_lines(
        dir.path(),
        &[
            upsert("m1", "2026-04-01T10:00:00Z", "ann", "member", "Ann"),
            upsert("m2", "2026-04-01T10:00:00Z", "bob", "member", "Bob"),
        ],
    );
    let (store, report) = store_and_report(dir.path());
    // (user, role, name) of every member at `as_of`.
    let read = || {
        let facts = store.facts(&report).unwrap();
        let profiles = facts.profiles().unwrap();
        let members = facts.members().unwrap();
        let mut members: Vec<(String, String, String)> = members
            .iter()
            .map(|(_, user, m)| {
                let name = profiles[&user].name().to_string();
                (
                    members.text(user).to_string(),
                    m.role.name().to_owned(),
                    name,
                )
            })
            .collect();
        members.sort();
        members
    };
    let before = read();
    assert_eq!(
        before,
        [
            ("ann".into(), "member".into(), "Ann".into()),
            ("bob".into(), "member".into(), "Bob".into())
        ]
    );
    assert_eq!(read(), before);
    import_lines(
        dir.path(),
        &[
            upsert("m3", "2026-05-01T10:00:00Z", "ann", "admin", "Annie"),
            r#"{"id":"m4","type":"member_removed","org":"acme-eu","time":"2026-05-02T10:00:00Z","user":"bob"}"#
                .to_owned(),
            // After `as_of`: not in the report.
            upsert("m5", "2026-05-20T10:00:00Z", "ann", "member", "Ann B."),
        ],
    );
    assert_eq!(read(), [("ann".into(), "admin".into(), "Annie".into())]);
}

on_both_engines!(kept_members_follow_member_events);

/// The logins of whole past days kept between reports follow late logins.
fn kept_day_logins_follow_late_logins(engine: Engine) {
    let dir = engine_dir(engine);
    let login = |id: &str, time: &str, user: &str| {
        format!(r#"{{"id":"{id}","type":"login","org":"acme-eu","time":"{time}","user":"{user}"}}"#)
    };
    import_lines(dir.path(), &[login("l1", "2026-05-05T10:00:00Z", "ann")]);
    let (store, report) = store_and_report(dir.path());
    // Logins in the week before `as_of` (2026-05-10T00:00Z).
    let since = Micros(report.as_of.0 - 7 * 86_400_000_000);
    let read = || {
        let facts = store.facts(&report).unwrap();
        let recent = facts.logins_since(since).unwrap();
        let mut logins: Vec<(String, i64)> = recent
            .iter()
            .map(|(user, (_, n))| (recent.text(user).to_string(), *n))
            .collect();
        logins.sort();
        logins
    };
    assert_eq!(read(), [("ann".into(), 1)]);
    assert_eq!(read(), [("ann".into(), 1)]);
    import_lines(
        dir.path(),
        &[
            login("l2", "2026-05-06T10:00:00Z", "ann"),
            login("l3", "2026-05-07T10:00:00Z", "bob"),
        ],
    );
    assert_eq!(read(), [("ann".into(), 2), ("bob".into(), 1)]);
}

on_both_engines!(kept_day_logins_follow_late_logins);

/// The latest action titles of past months kept between reports follow
/// late runs.
fn kept_action_titles_follow_late_runs(engine: Engine) {
    let dir = engine_dir(engine);
    let run = |id: &str, time: &str, title: &str| {
        format!(
            r#"{{"id":"{id}","type":"action_run","org":"acme-eu","time":"{time}","action":"deploy","trigger":"api","action_title":"{title}"}}"#
        )
    };
    import_lines(dir.path(), &[run("r1", "2026-04-02T10:00:00Z", "Deploy")]);
    let (store, report) = store_and_report(dir.path());
    let cal = Calendar::new("UTC").unwrap();
    let from = cal.month_start(uptake::calendar::Month::new(2026, 4));
    let read = || {
        let facts = store.facts(&report).unwrap();
        facts.action_titles(from, report.as_of).unwrap()["deploy"].clone()
    };
    assert_eq!(read(), "Deploy");
    assert_eq!(read(), "Deploy");
    import_lines(
        dir.path(),
        &[
            run("r2", "2026-04-20T10:00:00Z", "Deploy v2"),
            // After `as_of`: not in the report.
            run("r3", "2026-05-20T10:00:00Z", "Deploy v3"),
        ],
    );
    assert_eq!(read(), "Deploy v2");
}

on_both_engines!(kept_action_titles_follow_late_runs);

/// What a report reads when nothing stored is after its `as_of` (counts
/// of the month of `as_of` included, login records, login days, members
/// and profiles) is kept whole between reports: it follows every new event
/// before `as_of`, a same-day login that adds no login day included, and
/// a report with an earlier `as_of` does not reuse it.
fn kept_answers_follow_the_month_of_as_of(engine: Engine) {
    use uptake::metrics::facts::{GroupBy, Metric};
    let dir = engine_dir(engine);
    let login = |id: &str, time: &str, user: &str| {
        format!(r#"{{"id":"{id}","type":"login","org":"acme-eu","time":"{time}","user":"{user}"}}"#)
    };
    let member = |id: &str, time: &str, user: &str, name: &str| {
        format!(
            r#"{{"id":"{id}","type":"member_upserted","org":"acme-eu","time":"{time}","user":"{user}","role":"member","name":"{name}","teams":["web"]}}"#
        )
    };
    import_lines(
        dir.path(),
        &[
            member("m1", "2026-05-01T10:00:00Z", "ann", "Ann"),
            view("v1", "2026-05-02T10:00:00Z", "ann"),
            login("l1", "2026-05-02T10:00:00Z", "ann"),
        ],
    );
    let (store, report) = store_and_report(dir.path());
    let may = [uptake::calendar::Month::new(2026, 5)];
    type Read = (
        Vec<(String, i64)>,
        Vec<(String, i64, i64)>,
        Vec<(String, i64)>,
        Vec<(String, String)>,
    );
    // Views by user, (user, logins, weeks), login days by user in May,
    // (member, name).
    let read = |report: &Report| -> Read {
        let facts = store.facts(report).unwrap();
        let counts = facts
            .counts(Metric::PageView, &may, GroupBy::ORG.user())
            .unwrap();
        let mut views: Vec<(String, i64)> = counts
            .iter()
            .map(|c| (counts.text(c.user.unwrap()).to_string(), c.n))
            .collect();
        views.sort();
        let records = facts.logins().unwrap();
        let mut logins: Vec<(String, i64, i64)> = records
            .iter()
            .map(|(user, r)| (records.text(user).to_string(), r.logins, r.weeks))
            .collect();
        logins.sort();
        let login_days = facts.login_days(&may).unwrap();
        let mut days: Vec<(String, i64)> = login_days
            .by_member
            .iter()
            .map(|((_, user), months)| {
                let text = login_days.texts.get(*user).to_string();
                (text, months.iter().map(|(_, n)| n).sum())
            })
            .collect();
        days.sort();
        let profiles = facts.profiles().unwrap();
        let members = facts.members().unwrap();
        let mut members: Vec<(String, String)> = members
            .iter()
            .map(|(_, user, _)| {
                (
                    members.text(user).to_string(),
                    profiles[&user].name().to_string(),
                )
            })
            .collect();
        members.sort();
        (views, logins, days, members)
    };
    let first = read(&report);
    assert_eq!(first.0, [("ann".into(), 1)]);
    assert_eq!(first.1, [("ann".into(), 1, 1)]);
    assert_eq!(read(&report), first, "a second report reads the same");
    // Before `as_of`, in its month: a new user, and a second login of ann
    // on a day she already has.
    import_lines(
        dir.path(),
        &[
            member("m2", "2026-05-03T10:00:00Z", "bob", "Bob"),
            view("v2", "2026-05-03T10:00:00Z", "bob"),
            login("l2", "2026-05-03T10:00:00Z", "bob"),
            login("l3", "2026-05-02T11:00:00Z", "ann"),
        ],
    );
    let second = read(&report);
    assert_eq!(second.0, [("ann".into(), 1), ("bob".into(), 1)]);
    assert_eq!(second.1, [("ann".into(), 2, 1), ("bob".into(), 1, 1)]);
    assert_eq!(second.2, [("ann".into(), 1), ("bob".into(), 1)]);
    assert_eq!(
        second.3,
        [("ann".into(), "Ann".into()), ("bob".into(), "Bob".into())]
    );
    assert_eq!(read(&report), second);
    // An earlier `as_of` in the same month sees none of the new events.
    let earlier = Report::resolve(
        &ReportQuery {
            as_of: Some("2026-05-02T10:30:00Z".into()),
            ..ReportQuery::default()
        },
        Micros::now(),
        &Calendar::new("UTC").unwrap(),
    )
    .unwrap();
    assert_eq!(read(&earlier), first);
    // After `as_of`: not in the report, however kept answers stand.
    import_lines(
        dir.path(),
        &[
            member("m3", "2026-05-20T10:00:00Z", "cid", "Cid"),
            view("v3", "2026-05-20T10:00:00Z", "cid"),
            login("l4", "2026-05-20T10:00:00Z", "cid"),
        ],
    );
    assert_eq!(read(&report), second);
    assert_eq!(read(&report), second);
}

on_both_engines!(kept_answers_follow_the_month_of_as_of);

/// Under live ingest a report rolls the month of `as_of` forward with what
/// the writer of its own process committed, and reads it again after a
/// commit from elsewhere: every widget stays equal to the raw events'
/// answer after each batch, for all orgs and for one.
fn live_ingest_keeps_every_widget_exact(engine: Engine) {
    use uptake::config::Limits;
    use uptake::event::framing::Format;
    use uptake::event::validate::Context;
    let dir = engine_dir(engine);
    let store = open_store(dir.path());
    let settings = Settings::default();
    store
        .prepare_rollups(&RollupSettings::new("UTC", &settings).unwrap())
        .unwrap();
    let cal = Calendar::new("UTC").unwrap();
    let mut writer = store.writer().unwrap();
    let limits = Limits::default();
    let cx = Context {
        bound_org: None,
        now: Micros::now(),
        limits: &limits,
    };
    let lines = mixed_events(7);
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let reports: Vec<Report> = [vec![], vec!["acme-eu".to_owned()]]
        .into_iter()
        .map(|orgs| {
            let query = ReportQuery {
                as_of: Some("2026-10-31T00:00:00Z".into()),
                orgs,
                ..ReportQuery::default()
            };
            Report::resolve(&query, Micros::now(), &cal).unwrap()
        })
        .collect();
    let mut sent = 0;
    let mut round = 0;
    while sent < lines.len() {
        let size = rng.random_range(1..1200).min(lines.len() - sent);
        let body = lines[sent..sent + size].join("\n");
        sent += size;
        round += 1;
        if round % 4 == 0 {
            // Another process commits: its changes are not in this
            // process's log, so the month is read again.
            import_lines(dir.path(), &[body]);
        } else {
            let decoded =
                uptake::ingest::decode_request(body.as_bytes(), Format::Ndjson, &cx).unwrap();
            writer
                .write(&[&uptake::store::Batch::new(decoded.events)])
                .unwrap();
            writer.commit().unwrap();
        }
        for report in &reports {
            let history = crate::support::history_of(store.as_ref(), report, &cal, &settings);
            let facts = store.facts(report).unwrap();
            for widget in WIDGETS {
                let at = |facts: &dyn uptake::metrics::Facts| {
                    (widget.compute)(&Ctx {
                        report,
                        cal: &cal,
                        settings: &settings,
                        facts,
                    })
                    .unwrap()
                };
                assert!(
                    at(&history) == at(facts.as_ref()),
                    "{} differs after {sent} events (orgs {:?})",
                    widget.id,
                    report.orgs
                );
            }
        }
    }
}

on_both_engines!(live_ingest_keeps_every_widget_exact);
