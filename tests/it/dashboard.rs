//! The dashboard over HTTP: logins, sessions, CSRF, throttling, security
//! headers, org scoping, exports and escaping; `uptake users add` and
//! `uptake demo`. The browser's view of the same is `browser.rs`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::support::*;
use crate::widgets::fixture_config;

const AS_OF: &str = "2026-10-20T18:00:00Z";
pub const PASSWORD: &str = "a long enough password";

pub fn add_user(dir: &std::path::Path, username: &str, org: Option<&str>) {
    let mut args = vec!["users", "add", "--username", username];
    if let Some(org) = org {
        args.extend(["--org", org]);
    }
    let input = format!("{PASSWORD}\n");
    stdout(&uptake(dir, &args, Some(input.as_bytes())));
}

/// A browser, by hand: keeps the cookies the server sets.
pub struct Browser<'s> {
    server: &'s Server,
    pub cookies: Vec<(String, String)>,
    /// Sent as `X-Forwarded-For`, as a reverse proxy would.
    pub forwarded_for: Option<String>,
}

impl<'s> Browser<'s> {
    pub fn new(server: &'s Server) -> Browser<'s> {
        Browser {
            server,
            cookies: Vec::new(),
            forwarded_for: None,
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn remember(&mut self, response: &Response) {
        for (name, value) in &response.headers {
            if name.eq_ignore_ascii_case("set-cookie") {
                let pair = value.split(';').next().unwrap();
                let (k, v) = pair.split_once('=').unwrap();
                self.cookies.retain(|(name, _)| name != k);
                if !v.is_empty() {
                    self.cookies.push((k.to_owned(), v.to_owned()));
                }
            }
        }
    }

    pub fn request(&mut self, method: &str, path: &str, form: Option<&str>) -> Response {
        let cookie = self.cookie_header();
        let mut headers = vec![("cookie", cookie.as_str())];
        if let Some(address) = &self.forwarded_for {
            headers.push(("x-forwarded-for", address.as_str()));
        }
        if form.is_some() {
            headers.push(("content-type", "application/x-www-form-urlencoded"));
        }
        let response = self
            .server
            .client()
            .request(method, path, &headers, form.unwrap_or("").as_bytes())
            .unwrap();
        self.remember(&response);
        response
    }

    pub fn get(&mut self, path: &str) -> Response {
        self.request("GET", path, None)
    }

    /// The value of hidden input `name` in `html`.
    pub fn hidden(html: &str, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = html
            .find(&marker)
            .unwrap_or_else(|| panic!("no {name} in the form"))
            + marker.len();
        html[start..start + html[start..].find('"').unwrap()].to_owned()
    }

    pub fn login(&mut self, username: &str, password: &str) -> Response {
        let page = self.get("/login");
        let csrf = Self::hidden(&page.text(), "csrf");
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("username", username)
            .append_pair("password", password)
            .append_pair("csrf", &csrf)
            .append_pair("next", "/dashboard/entities")
            .finish();
        self.request("POST", "/login", Some(&form))
    }
}

fn fixture_server(dir: &std::path::Path) -> Server {
    stdout(&uptake(
        dir,
        &["import", fixture("events.ndjson").to_str().unwrap()],
        None,
    ));
    add_user(dir, "admin", None);
    add_user(dir, "eu", Some("acme-eu"));
    Server::start_with(dir, Some(&fixture_config()))
}

#[test]
fn login_sessions_and_logout() {
    let tmp = tempfile::tempdir().unwrap();
    let server = fixture_server(tmp.path());
    let mut browser = Browser::new(&server);

    // Without a session, pages send the browser to the login form.
    let response = browser.get("/dashboard/users?as_of=2026-10-20T18:00:00Z");
    assert_eq!(response.status, 303);
    assert_eq!(
        response.header("location"),
        Some("/login?next=%2Fdashboard%2Fusers%3Fas_of%3D2026-10-20T18%3A00%3A00Z")
    );
    assert_eq!(
        browser.get("/").header("location"),
        Some("/dashboard/users")
    );

    // A login without the form's CSRF token is refused.
    let mut bare = Browser::new(&server);
    let form = format!(
        "username=admin&password={}&csrf=forged",
        PASSWORD.replace(' ', "+")
    );
    assert_eq!(bare.request("POST", "/login", Some(&form)).status, 403);

    // A wrong password, then the right one.
    assert_eq!(browser.login("admin", "wrong password").status, 401);
    let response = browser.login("admin", PASSWORD);
    assert_eq!(response.status, 303, "{}", response.text());
    assert_eq!(response.header("location"), Some("/dashboard/entities"));
    let set_cookie = response
        .headers
        .iter()
        .find(|(k, v)| k.eq_ignore_ascii_case("set-cookie") && v.starts_with("uptake_session="))
        .map(|(_, v)| v.clone())
        .expect("a session cookie");
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    let first_session = browser.cookies.clone();

    let page = browser.get(&format!("/dashboard/entities?as_of={AS_OF}"));
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(
        html.contains("Entity history exists from"),
        "the entities tab says where history starts"
    );
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert!(!html.contains("<script>"), "no inline script");

    // Logging in again gives a new session id.
    browser.login("admin", PASSWORD);
    assert_ne!(browser.cookies, first_session);

    // Logout needs the session's CSRF token, then ends the session.
    let csrf = Browser::hidden(&html, "csrf");
    assert_eq!(
        browser
            .request("POST", "/logout", Some("csrf=forged"))
            .status,
        403
    );
    let mut old = Browser::new(&server);
    old.cookies = first_session;
    assert_eq!(
        old.get("/dashboard/users").status,
        200,
        "the first session still lives"
    );
    let response = old.request("POST", "/logout", Some(&format!("csrf={csrf}")));
    assert_eq!(response.status, 303);
    assert_eq!(old.get("/dashboard/users").status, 303, "the session ended");
}

#[test]
fn repeated_failed_logins_slow_down_without_locking_the_person_out() {
    let tmp = tempfile::tempdir().unwrap();
    add_user(tmp.path(), "admin", None);
    // Behind a proxy on loopback: addresses come from X-Forwarded-For.
    let server = Server::start_with(
        tmp.path(),
        Some("[server]\ntrusted_proxies = [\"127.0.0.1\"]\n"),
    );
    let mut attacker = Browser::new(&server);
    attacker.forwarded_for = Some("203.0.113.7".into());
    for _ in 0..5 {
        let status = attacker.login("Admin", "not the password").status;
        assert!(status == 401 || status == 429, "{status}");
    }
    // The same address waits, even with the right password, and is told
    // how long.
    let response = attacker.login("admin", PASSWORD);
    assert_eq!(response.status, 429);
    assert!(response.text().contains("Too many failed logins"));
    let wait: u64 = response.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=5).contains(&wait), "{wait}");

    // The person, from their own address, gets in at once.
    let mut person = Browser::new(&server);
    person.forwarded_for = Some("198.51.100.20".into());
    assert_eq!(person.login("admin", PASSWORD).status, 303);

    // Once the delay is over, the right password works from the first
    // address too.
    std::thread::sleep(std::time::Duration::from_secs(wait));
    assert_eq!(attacker.login("admin", PASSWORD).status, 303);

    // Sixty guesses at once from one address: each is counted before it is
    // checked, so only the free ones reach a password check.
    let checked = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for i in 0..60 {
            let server = &server;
            let checked = &checked;
            s.spawn(move || {
                let mut guesser = Browser::new(server);
                guesser.forwarded_for = Some("192.0.2.9".into());
                let status = guesser.login("admin", &format!("guess {i}")).status;
                if status == 401 {
                    checked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                } else {
                    assert!(status == 429 || status == 503, "{status}");
                }
            });
        }
    });
    let checked = checked.into_inner();
    assert!(
        (1..=4).contains(&checked),
        "{checked} of 60 guesses were checked"
    );
}

#[test]
fn a_viewer_sees_only_their_org_and_exports_match_the_api() {
    let tmp = tempfile::tempdir().unwrap();
    let server = fixture_server(tmp.path());
    let key = create_key(tmp.path(), "read", None);
    let mut viewer = Browser::new(&server);
    assert_eq!(viewer.login("eu", PASSWORD).status, 303);

    let page = viewer
        .get(&format!("/dashboard/actions?as_of={AS_OF}"))
        .text();
    for other in ["acme-us", "acme-labs"] {
        assert!(!page.contains(other), "the viewer's page mentions {other}");
    }
    assert_eq!(viewer.get("/dashboard/actions?org=acme-us").status, 403);
    assert_eq!(
        viewer
            .get("/dashboard/export/actions.top.csv?org=acme-us")
            .status,
        403
    );

    for widget in uptake::metrics::WIDGETS {
        let export = viewer.get(&format!(
            "/dashboard/export/{}.csv?as_of={AS_OF}",
            widget.id
        ));
        assert_eq!(export.status, 200, "{}", widget.id);
        let expected = std::fs::read(fixture(&format!("expected-org/{}.csv", widget.id))).unwrap();
        assert!(
            export.body == expected,
            "{}: the viewer's export differs from expected-org",
            widget.id
        );
        let api = server
            .client()
            .request(
                "GET",
                &format!(
                    "/api/v1/widgets/{}.csv?as_of={AS_OF}&org=acme-eu",
                    widget.id
                ),
                &[("authorization", &format!("Bearer {key}"))],
                b"",
            )
            .unwrap();
        assert!(api.body == export.body, "{}", widget.id);
    }

    // An admin's export of the whole company is the expected file.
    let mut admin = Browser::new(&server);
    admin.login("admin", PASSWORD);
    let export = admin.get(&format!(
        "/dashboard/export/users.team_engagement.csv?as_of={AS_OF}"
    ));
    assert_eq!(
        export.header("content-disposition"),
        // The widget, the orgs, the period and the day of as_of.
        Some(
            "attachment; filename=\"users.team_engagement_all-orgs_2025-11_2026-10_as-of-2026-10-20.csv\""
        )
    );
    assert!(export.body == std::fs::read(fixture("expected/users.team_engagement.csv")).unwrap());
    assert_eq!(admin.get("/dashboard/export/nope.csv").status, 404);
    assert_eq!(admin.get("/dashboard/nope").status, 404);
}

/// Events with hostile names, in their own org.
pub fn hostile_events() -> String {
    let mut lines = vec![
        r#"{"id":"h1","type":"member_upserted","org":"zz-evil","time":"2026-10-01T08:00:00Z","user":"mallory","role":"member","name":"<script>alert(2)</script>","teams":["=HYPERLINK(\"http://evil.example\",\"x\")"]}"#.to_owned(),
    ];
    for day in 2..=18 {
        lines.push(format!(
            r#"{{"id":"hl{day}","type":"login","org":"zz-evil","time":"2026-10-{day:02}T09:00:00Z","user":"mallory"}}"#
        ));
        lines.push(format!(
            r#"{{"id":"hp{day}","type":"page_view","org":"zz-evil","time":"2026-10-{day:02}T09:05:00Z","user":"mallory","page":"<img src=x onerror=alert(1)>"}}"#
        ));
    }
    lines.join("\n") + "\n"
}

#[test]
fn user_provided_strings_are_escaped() {
    let tmp = tempfile::tempdir().unwrap();
    uptake(
        tmp.path(),
        &["import", "-"],
        Some(hostile_events().as_bytes()),
    );
    add_user(tmp.path(), "evil", Some("zz-evil"));
    let server = Server::start(tmp.path());
    let mut browser = Browser::new(&server);
    browser.login("evil", PASSWORD);
    let html = browser
        .get(&format!("/dashboard/users?as_of={AS_OF}"))
        .text();
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "the page name is escaped"
    );
    assert!(!html.contains("<img"), "no img element is injected");
    assert!(
        !html.contains("<script>alert"),
        "no script element is injected"
    );
    assert!(html.contains("=HYPERLINK(&quot;http://evil.example&quot;,&quot;x&quot;)"));
    // The CSV export keeps a spreadsheet from running the team name.
    let csv = browser
        .get(&format!(
            "/dashboard/export/users.team_engagement.csv?as_of={AS_OF}"
        ))
        .text();
    assert!(csv.contains("'=HYPERLINK"), "{csv}");
}

#[test]
fn users_add_refuses_bad_input_and_resets_passwords() {
    let tmp = tempfile::tempdir().unwrap();
    let short = uptake(
        tmp.path(),
        &["users", "add", "--username", "ana"],
        Some(b"short\n"),
    );
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("too short"));
    let bad = uptake(
        tmp.path(),
        &["users", "add", "--username", "a b"],
        Some(b"long enough pw\n"),
    );
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a valid username"));
    let bad_org = uptake(
        tmp.path(),
        &["users", "add", "--username", "ana", "--org", "Bad Org"],
        Some(b"long enough pw\n"),
    );
    assert!(!bad_org.status.success());

    add_user(tmp.path(), "ana", None);
    stdout(&uptake(
        tmp.path(),
        &["users", "add", "--username", "ana"],
        Some(b"another password\n"),
    ));
    let server = Server::start(tmp.path());
    assert_eq!(Browser::new(&server).login("ana", PASSWORD).status, 401);
    assert_eq!(
        Browser::new(&server)
            .login("ana", "another password")
            .status,
        303
    );
    // The password is stored only as an Argon2id hash.
    let db = std::fs::read(tmp.path().join("uptake.db")).unwrap();
    let text = String::from_utf8_lossy(&db);
    assert!(!text.contains("another password"));
    assert!(text.contains("$argon2id$"));
}

#[test]
fn demo_prints_a_working_login_and_serves_every_tab() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("demo");
    let mut child = Command::new(BIN)
        .args([
            "demo",
            "--listen",
            "127.0.0.1:0",
            "--events",
            "30000",
            "--data",
        ])
        .arg(&data)
        .env("UPTAKE_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut field = |name: &str| {
        let line = lines.next().unwrap().unwrap();
        line.strip_prefix(&format!("{name}: "))
            .unwrap_or_else(|| panic!("expected `{name}: …`, got `{line}`"))
            .to_owned()
    };
    let url = field("url");
    let username = field("username");
    let password = field("password");
    let addr = url
        .strip_prefix("http://")
        .unwrap()
        .trim_end_matches('/')
        .parse()
        .unwrap();
    let server = Server {
        child,
        addr,
        dir: data.clone(),
    };
    let mut browser = Browser::new(&server);
    assert_eq!(browser.login(&username, &password).status, 303);
    for tab in ["users", "entities", "actions", "datasources", "ai"] {
        let page = browser.get(&format!("/dashboard/{tab}"));
        assert_eq!(page.status, 200, "{tab}");
        let html = page.text();
        assert!(
            !html.contains("No events yet"),
            "{tab}: the demo has events"
        );
        assert!(
            html.contains("<svg") || tab == "datasources",
            "{tab}: charts are drawn"
        );
    }
    // Every org has data in the demo.
    let page = browser.get("/dashboard/actions").text();
    for org in ["acme-eu", "acme-us", "acme-labs"] {
        assert!(page.contains(org), "{org}");
    }
    drop(server);
    // A second demo into the same store is refused: it must start fresh.
    let again = uptake(&data, &["demo", "--listen", "127.0.0.1:0"], None);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds an Uptake store"));
}

#[test]
fn tables_sort_by_a_column_and_page_through_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let server = fixture_server(tmp.path());
    let mut browser = Browser::new(&server);
    browser.login("admin", PASSWORD);
    // Inactive users by days inactive (column 5), most first.
    let page = browser
        .get(&format!(
            "/dashboard/users?as_of={AS_OF}&sort.users.inactive=5&dir.users.inactive=desc"
        ))
        .text();
    let section = &page[page.find("data-widget=\"users.inactive\"").unwrap()..];
    let section = &section[..section.find("</section>").unwrap()];
    assert!(
        section.contains("aria-sort=\"descending\""),
        "the sorted column says so"
    );
    let days: Vec<i64> = section
        .split("<tr>")
        .skip(2)
        .filter_map(|row| {
            let cells: Vec<&str> = row.split("<td").skip(1).collect();
            let last = cells.last()?;
            last.split('>').nth(1)?.split('<').next()?.parse().ok()
        })
        .collect();
    assert_eq!(days.len(), 25, "a page holds 25 rows");
    assert!(days.windows(2).all(|w| w[0] >= w[1]), "{days:?}");
    // The next page continues where the first ended.
    assert!(section.contains("page.users.inactive=2"));
    let second = browser
        .get(&format!(
            "/dashboard/users?as_of={AS_OF}&sort.users.inactive=5&dir.users.inactive=desc&page.users.inactive=2"
        ))
        .text();
    assert!(
        second.contains("Rows 26–"),
        "the second page starts at row 26"
    );
}

#[test]
fn pages_and_widgets_are_gzipped_for_clients_that_ask() {
    use std::io::Read as _;
    let tmp = tempfile::tempdir().unwrap();
    let server = fixture_server(tmp.path());
    let key = create_key(tmp.path(), "read", None);
    let auth = format!("Bearer {key}");
    let path = format!("/api/v1/widgets/users.activated_log?as_of={AS_OF}");
    let plain = server
        .client()
        .request("GET", &path, &[("authorization", &auth)], b"")
        .unwrap();
    assert_eq!(plain.header("content-encoding"), None);
    let zipped = server
        .client()
        .request(
            "GET",
            &path,
            &[("authorization", &auth), ("accept-encoding", "br, gzip")],
            b"",
        )
        .unwrap();
    assert_eq!(zipped.header("content-encoding"), Some("gzip"));
    assert!(
        zipped.body.len() * 3 < plain.body.len(),
        "{} vs {}",
        zipped.body.len(),
        plain.body.len()
    );
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&zipped.body[..])
        .read_to_end(&mut unzipped)
        .unwrap();
    assert_eq!(unzipped, plain.body);

    // A tab starts with a link past the navigation, to the numbers.
    let mut browser = Browser::new(&server);
    assert_eq!(browser.login("admin", PASSWORD).status, 303);
    let page = browser.get("/dashboard/users").text();
    assert!(
        page.contains(r##"<a class="skip" href="#content">"##),
        "no skip link"
    );
    assert!(page.contains(r#"<main id="content""#));
}

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
