//! The dashboard over HTTP: logins, sessions, CSRF, throttling, security
//! headers, org scoping, exports and escaping; `uptake users add` and
//! `uptake demo`. The browser's view of the same is `browser.rs`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::support::*;
use crate::widgets::fixture_config;

pub const AS_OF: &str = "2026-10-20T18:00:00Z";
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

pub fn fixture_server(dir: &std::path::Path) -> Server {
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
