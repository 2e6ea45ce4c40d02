//! The dashboard read at a glance, over HTTP: the running month, key
//! figures, dates for people, the as-of picker, presets, the banner of a
//! past report and team engagement. The browser test checks the same in
//! Chromium.

use crate::dashboard::{AS_OF, Browser, PASSWORD, add_user, fixture_server};
use crate::support::*;

/// The month of `as_of` is still running on the 20th: charts draw it apart
/// and say how many days it covers, and the "this month" card does not
/// compare it with the whole previous month. At the month's last instant
/// (Berlin time) it is complete and the change is shown.
#[test]
fn the_running_month_is_marked_and_never_compared_with_a_whole_one() {
    let tmp = tempfile::tempdir().unwrap();
    let server = fixture_server(tmp.path());
    let mut browser = Browser::new(&server);
    assert_eq!(browser.login("admin", PASSWORD).status, 303);

    let page = browser
        .get(&format!("/dashboard/actions?as_of={AS_OF}"))
        .text();
    assert!(
        page.contains("Oct 2026, 1–20 Oct (20 of 31 days)"),
        "{page}"
    );
    assert!(page.contains("So far this month; the previous month, complete:"));
    assert!(!page.contains("from the previous month"));
    assert!(page.contains("The last month is still running"));
    assert!(page.contains("20/31 days</tspan>"));
    // Runs without a user read as API runs, not as a person.
    assert!(page.contains(r#"<td class="no-user" data-value="(none)">API (no user)</td>"#));

    // An e-mail that is the user id is not written twice.
    let users_page = browser
        .get(&format!("/dashboard/users?as_of={AS_OF}"))
        .text();
    assert!(users_page.contains(r#"<td class="same-as-user" data-value="vera.silva2@acme.example" title="vera.silva2@acme.example"></td>"#));
    // Times in tables read as Berlin wall-clock times, the instant on hover.
    let users = browser
        .get(&format!("/dashboard/users?as_of={AS_OF}"))
        .text();
    let at = users
        .find("<td data-value=\"")
        .expect("the users tab shows times");
    let cell = &users[at..at + 160];
    let instant: String = cell[16..].chars().take_while(|c| *c != '"').collect();
    let t = uptake::time::Micros::parse_rfc3339(&instant).unwrap();
    let local = uptake::calendar::Calendar::new("Europe/Berlin")
        .unwrap()
        .local(t);
    let (_, _, day) = local.day.ymd();
    let minutes = local.micros_of_day / 60_000_000;
    assert!(
        cell.contains(&format!(">{day} "))
            && cell.contains(&format!(" {:02}:{:02}</time>", minutes / 60, minutes % 60)),
        "{cell}"
    );

    let page = browser
        .get("/dashboard/actions?as_of=2026-09-30T21:59:59.999999Z")
        .text();
    assert!(page.contains("from the previous month"), "{page}");
    assert!(!page.contains("So far this month"));
    assert!(!page.contains("still running"));
    assert!(!page.contains("hatch"));
}

/// A report in the past says so and leads back to now, keeping the other
/// filters; the summary names the chosen orgs.
#[test]
fn a_past_report_shows_a_banner_back_to_now_and_names_its_orgs() {
    let tmp = tempfile::tempdir().unwrap();
    let server = fixture_server(tmp.path());
    let mut browser = Browser::new(&server);
    assert_eq!(browser.login("admin", PASSWORD).status, 303);

    let page = browser
        .get(&format!(
            "/dashboard/entities?as_of={AS_OF}&org=acme-eu&org=acme-us"
        ))
        .text();
    // 18:00 UTC is 20:00 in Berlin in October.
    assert!(page.contains("Viewing as of <time"), "{page}");
    assert!(page.contains(">20 Oct 2026 20:00</time>"));
    assert!(
        page.contains(
            r#"<a href="/dashboard/entities?org=acme-eu&amp;org=acme-us">back to now</a>"#
        )
    );
    assert!(page.contains("Organizations: <strong>acme-eu</strong>, <strong>acme-us</strong>."));

    let now = browser.get("/dashboard/entities").text();
    assert!(!now.contains("Viewing as of"));
    assert!(now.contains("All organizations."));
}

/// The last value of `column` in a widget's CSV export, over rows whose
/// `org` column (when it has one) is `*`.
fn last_value(browser: &mut Browser<'_>, widget: &str, column: &str) -> String {
    let csv = browser
        .get(&format!("/dashboard/export/{widget}.csv?as_of={AS_OF}"))
        .text();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let at = header.iter().position(|h| *h == column).unwrap();
    let org = header.iter().position(|h| *h == "org");
    lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|cells| org.is_none_or(|o| cells[o] == "*"))
        .map(|cells| cells[at].to_owned())
        .next_back()
        .unwrap()
}

/// Each tab opens with its key figures, equal to its widgets' numbers,
/// each with the rule behind it in words from the settings; a flow of the
/// running month is not compared with the previous month.
#[test]
fn tabs_open_with_key_figures_from_their_widgets() {
    let tmp = tempfile::tempdir().unwrap();
    let server = fixture_server(tmp.path());
    let mut browser = Browser::new(&server);
    assert_eq!(browser.login("admin", PASSWORD).status, 303);

    let headline = |page: &str, label: &str| -> String {
        let at = page
            .find(&format!(r#"<div class="headline-label">{label}</div>"#))
            .unwrap_or_else(|| panic!("no headline {label}"));
        let rest = &page[at..];
        let v = rest.find("data-value=\"").unwrap() + 12;
        rest[v..].chars().take_while(|c| *c != '"').collect()
    };
    let users = browser
        .get(&format!("/dashboard/users?as_of={AS_OF}"))
        .text();
    assert_eq!(
        headline(&users, "Activated users"),
        last_value(&mut browser, "users.activated_monthly", "activated_total")
    );
    assert!(users.contains("Activated: 3 logins in 3 different weeks"));
    assert!(users.contains("Members with no login in the last 3 months, or never"));
    // Team engagement: the month's most engaged team heads the first of
    // two lists, with its change signed.
    let csv = browser
        .get(&format!(
            "/dashboard/export/users.team_engagement.csv?as_of={AS_OF}"
        ))
        .text();
    let top: Vec<&str> = csv
        .lines()
        .find(|l| l.starts_with("2026-10,most,"))
        .unwrap()
        .split(',')
        // The export guards cells that a spreadsheet would run as formulas.
        .map(|cell| cell.strip_prefix('\'').unwrap_or(cell))
        .collect();
    let change = if top[5].starts_with('-') {
        format!(r#"<span class="change down">{}</span>"#, top[5])
    } else {
        format!(r#"<span class="change up">+{}</span>"#, top[5])
    };
    let most = users.find("<h3>Most engaged</h3><ol><li>").unwrap();
    assert!(
        users[most..].starts_with(&format!(
            r#"<h3>Most engaged</h3><ol><li><span class="team"><strong>{}</strong> <span class="org">{}</span></span><span class="value" title="Members logging in per day, on average">{}</span>{change}"#,
            top[3], top[2], top[4]
        )),
        "{}",
        &users[most..most + 300]
    );
    assert!(users.contains("<h3>Least engaged</h3>"));

    let actions = browser
        .get(&format!("/dashboard/actions?as_of={AS_OF}"))
        .text();
    assert_eq!(
        headline(&actions, "Action runs"),
        last_value(&mut browser, "actions.actions_monthly", "runs")
    );
    let runs_at = actions.find(">Action runs</div>").unwrap();
    assert!(actions[runs_at..].contains("So far: 20 of 31 days; last month"));

    let entities = browser
        .get(&format!("/dashboard/entities?as_of={AS_OF}"))
        .text();
    assert_eq!(
        headline(&entities, "Entities"),
        last_value(&mut browser, "entities.monthly", "total")
    );
    let sources = browser
        .get(&format!("/dashboard/datasources?as_of={AS_OF}"))
        .text();
    assert_eq!(
        headline(&sources, "Data sources"),
        last_value(&mut browser, "datasources.monthly", "total")
    );
    let ai = browser.get(&format!("/dashboard/ai?as_of={AS_OF}")).text();
    assert_eq!(
        headline(&ai, "MCP calls"),
        last_value(&mut browser, "ai.mcp_monthly", "calls")
    );
}

/// "As of" is picked as a date (the end of that day in the company zone)
/// and an optional time; a bad date is an inline error that keeps the
/// filters; presets lead to common periods.
#[test]
fn as_of_is_a_date_and_time_in_the_company_zone() {
    let tmp = tempfile::tempdir().unwrap();
    let server = fixture_server(tmp.path());
    let mut browser = Browser::new(&server);
    assert_eq!(browser.login("admin", PASSWORD).status, 303);

    // The end of 1 Oct in Berlin (UTC+2) is 21:59:59.999999 UTC.
    let by_date = browser
        .get("/dashboard/entities?as_of_date=2026-10-01")
        .text();
    let by_instant = browser
        .get("/dashboard/entities?as_of=2026-10-01T21:59:59.999999Z")
        .text();
    // The panels, without links (which keep the query as it was written).
    let panels = |page: &str| {
        let mut rest = &page[page.find(r#"<div class="panels">"#).unwrap()..];
        let mut out = String::new();
        while let Some(at) = rest.find(r#"href=""#) {
            out.push_str(&rest[..at]);
            let end = rest[at + 6..].find('"').unwrap();
            rest = &rest[at + 6 + end + 1..];
        }
        out + rest
    };
    assert_eq!(panels(&by_date), panels(&by_instant));
    assert!(by_date.contains(">1 Oct 2026 23:59</time>"));
    assert!(by_date.contains(r#"name="as_of_date" value="2026-10-01""#));
    assert!(by_date.contains(r#"name="as_of_time" value="""#));

    let timed = browser
        .get("/dashboard/entities?as_of_date=2026-10-20&as_of_time=20:00")
        .text();
    assert!(timed.contains(r#"<time datetime="2026-10-20T18:00:00Z""#));
    assert!(timed.contains(r#"name="as_of_time" value="20:00""#));

    let bad = browser.get("/dashboard/entities?as_of_date=2026-02-30&org=acme-eu");
    assert_eq!(bad.status, 400);
    let bad = bad.text();
    assert!(
        bad.contains("&quot;2026-02-30&quot; is not a date"),
        "{bad}"
    );
    assert!(bad.contains(r#"name="as_of_date" value="2026-02-30""#));
    assert!(bad.contains(r#"<form class="filters""#));

    for preset in [
        "Last 30 days",
        "This quarter",
        "Last 12 months",
        "Last complete month",
    ] {
        assert!(by_date.contains(&format!(">{preset}</a>")), "{preset}");
    }
}

/// "Engaged teams" counts every team with a login in the month, not only
/// those the engagement lists show: with lists long enough to hold every
/// team, it equals the teams listed with daily logins above zero.
#[test]
fn engaged_teams_count_every_team_with_a_login() {
    let tmp = tempfile::tempdir().unwrap();
    stdout(&uptake(
        tmp.path(),
        &["import", fixture("events.ndjson").to_str().unwrap()],
        None,
    ));
    add_user(tmp.path(), "admin", None);
    let config =
        crate::widgets::fixture_config().replace("engaged_teams = 5", "engaged_teams = 1000");
    assert!(config.contains("engaged_teams = 1000"));
    let server = Server::start_with(tmp.path(), Some(&config));
    let mut browser = Browser::new(&server);
    assert_eq!(browser.login("admin", PASSWORD).status, 303);

    let csv = browser
        .get(&format!(
            "/dashboard/export/users.team_engagement.csv?as_of={AS_OF}"
        ))
        .text();
    let engaged = csv
        .lines()
        .filter(|l| l.starts_with("2026-10,most,"))
        .filter(|l| l.split(',').nth(4).is_some_and(|d| d != "0.00"))
        .count();
    assert!(
        engaged > 5,
        "the fixture has more teams than the default lists"
    );
    let page = browser
        .get(&format!("/dashboard/users?as_of={AS_OF}"))
        .text();
    let at = page
        .find(r#"<div class="headline-label">Engaged teams</div>"#)
        .unwrap();
    assert!(
        page[at..].contains(&format!(r#"data-value="{engaged}""#)),
        "{}",
        &page[at..at + 300]
    );
    assert!(page[at..].contains("So far: 20 of 31 days; last month"));
}
