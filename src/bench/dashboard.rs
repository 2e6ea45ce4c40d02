//! `uptake bench dashboard`: for each company shape, imports a generated
//! history and times the whole dashboard (every widget over HTTP) as of the
//! instants users ask for, not only now:
//!
//! 1. now, with nothing stored after it;
//! 2. now, with 1% of a day's events dated 1–60 s ahead of it;
//! 3. instants drawn at random over the history (seeded), each asked once
//!    (cold: nothing of that instant computed before) and then again (warm);
//! 4. month starts, a microsecond before them, and the instants the clocks
//!    change, cold and then warm;
//!
//! and again as of now while a portal sends events. It reports; it asserts
//! nothing.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use rand::{Rng, SeedableRng};

use super::{BenchStore, client, peak_rss, read_listen_address, watch_peak_rss};
use crate::calendar::{Calendar, Day, Month};
use crate::generate::{Generator, IdStyle};
use crate::metrics::WIDGETS;
use crate::time::{MICROS_PER_DAY, Micros};

#[derive(Args, Debug)]
pub struct DashboardArgs {
    /// Company shapes as EVENTS:PEOPLE, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1000000:300,1000000:12000,10000000:30000"
    )]
    shapes: Vec<String>,
    /// How senders make event ids.
    #[arg(long, value_enum, default_value = "mixed")]
    ids: IdStyle,
    /// Days the history spans, ending now.
    #[arg(long, default_value_t = 456)]
    days: i64,
    /// Dashboards timed as of now (classes 1 and 2, and while ingesting).
    #[arg(long, default_value_t = 20)]
    rounds: usize,
    /// Random instants of class 3.
    #[arg(long, default_value_t = 200)]
    instants: usize,
    /// The seed of the random instants.
    #[arg(long, default_value_t = 11)]
    seed: u64,
    /// The company time zone of the benchmark.
    #[arg(long, default_value = "Europe/Berlin")]
    timezone: String,
    /// Work directory (default: a new one under the system temp dir,
    /// removed after); a store of the same shape left there by an earlier
    /// run is used again.
    #[arg(long)]
    pub dir: Option<std::path::PathBuf>,
    /// Measure the PostgreSQL store on this server (postgres://user@host:port);
    /// the database of each shape is kept and reused by later runs.
    #[arg(long)]
    postgres: Option<String>,
    /// Then time the dashboard again while a portal sends this many events
    /// per second (dated now, in batches every 100 ms); 0 to skip.
    #[arg(long, default_value_t = 1000)]
    live_rate: u64,
}

/// A company shape: events and people.
#[derive(Clone, Copy)]
struct Shape {
    events: u64,
    people: usize,
}

fn parse_shape(text: &str) -> anyhow::Result<Shape> {
    let (events, people) = text
        .split_once(':')
        .with_context(|| format!("a shape is EVENTS:PEOPLE, not `{text}`"))?;
    Ok(Shape {
        events: events.parse().context("events of a shape")?,
        people: people.parse().context("people of a shape")?,
    })
}

pub fn run(dir: &Path, args: &DashboardArgs) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    let shapes = args
        .shapes
        .iter()
        .map(|s| parse_shape(s))
        .collect::<anyhow::Result<Vec<_>>>()?;
    println!(
        "uptake bench dashboard on {} cores, time zone {}, {} store, ids {:?}, {} days of history",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        args.timezone,
        if args.postgres.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        args.ids,
        args.days
    );
    for shape in shapes {
        one_shape(&exe, dir, args, shape)?;
    }
    Ok(())
}

/// Generates the shape's history ending now and imports it; returns the
/// seconds it took and the import's peak RSS.
fn import_history(
    exe: &Path,
    store: &BenchStore,
    config: &Path,
    dir: &Path,
    args: &DashboardArgs,
    shape: Shape,
) -> anyhow::Result<(f64, u64)> {
    let file = dir.join(format!(
        "dashboard-{}-{}.ndjson",
        shape.events, shape.people
    ));
    {
        let mut out = BufWriter::new(File::create(&file)?);
        let mut generator =
            Generator::for_span(3, shape.events, shape.people, args.days, Micros::now())
                .with_ids(args.ids);
        for _ in 0..shape.events {
            writeln!(out, "{}", generator.next_line())?;
        }
        out.flush()?;
    }
    let started = Instant::now();
    let mut import = store
        .command(exe, &["import"])
        .arg("--config")
        .arg(config)
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let peak = watch_peak_rss(&mut import)?;
    if !import.wait()?.success() {
        bail!("import of {} events failed", shape.events);
    }
    std::fs::remove_file(&file)?;
    Ok((started.elapsed().as_secs_f64(), peak))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Dashboards timed: each one's total, and each widget's times.
#[derive(Default)]
struct Timings {
    totals: Vec<f64>,
    widgets: Vec<Vec<f64>>,
}

impl Timings {
    fn add(&mut self, other: (f64, Vec<f64>)) {
        if self.widgets.is_empty() {
            self.widgets = vec![Vec::new(); WIDGETS.len()];
        }
        self.totals.push(other.0);
        for (all, t) in self.widgets.iter_mut().zip(other.1) {
            all.push(t);
        }
    }

    /// "p50 X ms, p95 Y ms (N dashboards); slowest widget W p95 Z ms".
    fn line(&mut self) -> String {
        self.totals.sort_by(f64::total_cmp);
        let mut slowest = (0.0, "");
        for (times, widget) in self.widgets.iter_mut().zip(WIDGETS) {
            times.sort_by(f64::total_cmp);
            let p95 = percentile(times, 0.95);
            if p95 > slowest.0 {
                slowest = (p95, widget.id);
            }
        }
        format!(
            "p50 {:.1} ms, p95 {:.1} ms over {} dashboards; slowest widget {} (p95 {:.1} ms)",
            percentile(&self.totals, 0.5),
            percentile(&self.totals, 0.95),
            self.totals.len(),
            slowest.1,
            slowest.0
        )
    }
}

/// The server under test, stopped when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status();
        let _ = self.0.wait();
    }
}

fn one_shape(exe: &Path, dir: &Path, args: &DashboardArgs, shape: Shape) -> anyhow::Result<()> {
    let name = format!(
        "dashboard-{}-{}-{:?}-{}",
        shape.events, shape.people, args.ids, args.days
    )
    .to_lowercase();
    let store = BenchStore::new(dir, &name, args.postgres.as_deref(), true)?;
    let config = dir.join(format!("{name}.toml"));
    std::fs::write(
        &config,
        format!("[company]\ntimezone = \"{}\"\n", args.timezone),
    )?;
    let imported = if store.has_events()? {
        None
    } else {
        Some(import_history(exe, &store, &config, dir, args, shape)?)
    };
    match imported {
        Some((secs, peak)) => println!(
            "{} events, {} people: imported in {secs:.1} s ({:.0} events/s, import peak RSS {:.0} MiB)",
            shape.events,
            shape.people,
            shape.events as f64 / secs,
            peak as f64 / 1_048_576.0
        ),
        None => println!(
            "{} events, {} people: the store of an earlier run",
            shape.events, shape.people
        ),
    }
    let key = store.create_key(exe, "read")?;
    let child = store
        .command(exe, &["serve", "--listen", "127.0.0.1:0"])
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut server = Server(child);
    let addr = read_listen_address(&mut server.0)?;
    let mut http = client::Client::connect(addr)?;
    let auth = format!("Bearer {key}");
    let cal = Calendar::new(&args.timezone)?;
    let start = Micros(Micros::now().0 - args.days * MICROS_PER_DAY);

    let first = dashboard(&mut http, &auth, None)?;
    println!("  first dashboard after start: {:.1} ms", first.0);

    let mut now = Timings::default();
    for _ in 0..args.rounds {
        now.add(dashboard(&mut http, &auth, None)?);
    }
    println!("  1. now, nothing after it: {}", now.line());

    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed);
    let random: Vec<Micros> = (0..args.instants)
        .map(|_| Micros(rng.random_range(start.0..Micros::now().0)))
        .collect();
    let (mut cold, mut warm) = (Timings::default(), Timings::default());
    for t in &random {
        cold.add(dashboard(&mut http, &auth, Some(*t))?);
    }
    for t in &random {
        warm.add(dashboard(&mut http, &auth, Some(*t))?);
    }
    println!(
        "  3. {} random instants, cold: {}",
        random.len(),
        cold.line()
    );
    println!("     the same, warm: {}", warm.line());

    let edges = edge_instants(&cal, start, Micros::now());
    let (mut cold, mut warm) = (Timings::default(), Timings::default());
    for t in &edges {
        cold.add(dashboard(&mut http, &auth, Some(*t))?);
        warm.add(dashboard(&mut http, &auth, Some(*t))?);
    }
    println!(
        "  4. {} month starts, microseconds before them and clock changes, cold: {}",
        edges.len(),
        cold.line()
    );
    println!("     the same, warm: {}", warm.line());

    let ingest_key = store.create_key(exe, "ingest")?;
    let ahead = (shape.events as f64 / args.days as f64 * 0.01)
        .ceil()
        .max(1.0) as u64;
    send_ahead(addr, &ingest_key, ahead, shape)?;
    let mut early = Timings::default();
    for _ in 0..args.rounds {
        early.add(dashboard(&mut http, &auth, None)?);
    }
    println!(
        "  2. now, with {ahead} events dated 1-60 s ahead of it: {}",
        early.line()
    );

    if args.live_rate > 0 {
        let (mut live, sent) = while_ingesting(addr, &ingest_key, args.live_rate, shape, || {
            let mut live = Timings::default();
            for _ in 0..args.rounds {
                live.add(dashboard(&mut http, &auth, None)?);
            }
            Ok(live)
        })?;
        println!(
            "  now, while a portal sends {} events/s ({sent} sent): {}",
            args.live_rate,
            live.line()
        );
    }
    for line in time_tabs(exe, &store, addr, args.rounds)? {
        println!("  {line}");
    }
    let peak = peak_rss(server.0.id()).unwrap_or(0);
    println!("  server peak RSS {:.0} MiB", peak as f64 / 1_048_576.0);
    Ok(())
}

/// Asks every widget once as of `as_of` (now when `None`): the total time
/// and each widget's, in milliseconds.
fn dashboard(
    http: &mut client::Client,
    auth: &str,
    as_of: Option<Micros>,
) -> anyhow::Result<(f64, Vec<f64>)> {
    let query = as_of.map_or(String::new(), |t| {
        format!("?as_of={}", t.to_string().replace('+', "%2B"))
    });
    let started = Instant::now();
    let mut each = Vec::with_capacity(WIDGETS.len());
    for widget in WIDGETS {
        let t = Instant::now();
        let response = http.request(
            "GET",
            &format!("/api/v1/widgets/{}{query}", widget.id),
            &[("authorization", auth)],
            b"",
        )?;
        if response.status != 200 {
            bail!(
                "{} answered {}: {}",
                widget.id,
                response.status,
                String::from_utf8_lossy(&response.body)
            );
        }
        each.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    Ok((started.elapsed().as_secs_f64() * 1000.0, each))
}

/// Month starts in `[from, to]`, a microsecond before each, and the
/// instants the clocks change (with a microsecond before each).
fn edge_instants(cal: &Calendar, from: Micros, to: Micros) -> Vec<Micros> {
    let mut out = Vec::new();
    let (first, last) = (cal.month_of(from), cal.month_of(to));
    for m in first.0 + 1..=last.0 {
        let start = cal.month_start(Month(m));
        out.extend([start, Micros(start.0 - 1)]);
    }
    // A day whose length is not 24 hours holds a clock change: found by
    // halving the day until the offset from UTC changes.
    let offset = |t: Micros| {
        let local = cal.local(t);
        local.day.0 * MICROS_PER_DAY + local.micros_of_day - t.0
    };
    let (first_day, last_day) = (cal.day_of(from), cal.day_of(to));
    for d in first_day.0..last_day.0 {
        let (a, b) = (cal.day_start(Day(d)), cal.day_start(Day(d + 1)));
        if b.0 - a.0 == MICROS_PER_DAY || offset(a) == offset(Micros(b.0 - 1)) {
            continue;
        }
        let (mut lo, mut hi) = (a.0, b.0 - 1);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if offset(Micros(mid)) == offset(a) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        out.extend([Micros(hi - 1), Micros(hi)]);
    }
    out.retain(|t| *t >= from && *t <= to);
    out
}

/// Sends `n` events of the shape's people dated 1 to 60 seconds ahead of
/// now, as a portal whose clock runs ahead would.
fn send_ahead(addr: std::net::SocketAddr, key: &str, n: u64, shape: Shape) -> anyhow::Result<()> {
    let mut client = client::Client::connect(addr)?;
    let mut generator = Generator::for_span(4, shape.events, shape.people, 1, Micros::now());
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let run = Micros::now().0;
    let mut body = Vec::new();
    for i in 0..n {
        let mut event: serde_json::Value = serde_json::from_str(&generator.next_line())?;
        event["id"] = format!("ahead-{run}-{i}").into();
        let ahead = rng.random_range(1_000_000..=60_000_000);
        event["time"] = Micros(Micros::now().0 + ahead).to_string().into();
        serde_json::to_writer(&mut body, &event)?;
        body.push(b'\n');
    }
    let auth = format!("Bearer {key}");
    let response = client.request(
        "POST",
        "/api/v1/events",
        &[
            ("authorization", auth.as_str()),
            ("content-type", "application/x-ndjson"),
        ],
        &body,
    )?;
    if response.status != 200 {
        bail!("ingest answered {}: {}", response.status, response.text());
    }
    Ok(())
}

/// Runs `measure` while another connection posts `rate` events a second,
/// dated now, as a live portal does. Returns what `measure` returned and
/// the events sent.
fn while_ingesting<T>(
    addr: std::net::SocketAddr,
    key: &str,
    rate: u64,
    shape: Shape,
    measure: impl FnOnce() -> anyhow::Result<T>,
) -> anyhow::Result<(T, u64)> {
    let stop = AtomicBool::new(false);
    let batch = (rate / 10).max(1);
    std::thread::scope(|scope| {
        let sender = scope.spawn(|| -> anyhow::Result<u64> {
            let mut client = client::Client::connect(addr)?;
            // The history's people, with ids of this run only.
            let mut generator =
                Generator::for_span(3, shape.events, shape.people, 1, Micros::now());
            let run = Micros::now().0;
            let auth = format!("Bearer {key}");
            let mut sent = 0u64;
            let started = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                let mut body = Vec::new();
                for _ in 0..batch {
                    let mut event: serde_json::Value =
                        serde_json::from_str(&generator.next_line())?;
                    event["id"] = format!("live-{run}-{sent}").into();
                    event["time"] = Micros::now().to_string().into();
                    sent += 1;
                    serde_json::to_writer(&mut body, &event)?;
                    body.push(b'\n');
                }
                let response = client.request(
                    "POST",
                    "/api/v1/events",
                    &[
                        ("authorization", auth.as_str()),
                        ("content-type", "application/x-ndjson"),
                    ],
                    &body,
                )?;
                if response.status != 200 {
                    bail!(
                        "live ingest answered {}: {}",
                        response.status,
                        response.text()
                    );
                }
                // Paced by the clock, not by the batches' own time.
                let due = Duration::from_millis(100 * sent / batch);
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
            Ok(sent)
        });
        let measured = measure();
        stop.store(true, Ordering::Relaxed);
        let sent = sender.join().expect("live ingest thread")?;
        Ok((measured?, sent))
    })
}

/// Logs in as a benchmark user and times each dashboard tab's HTML; also
/// reports each tab's weight with its stylesheet and script.
fn time_tabs(
    exe: &Path,
    store: &BenchStore,
    addr: std::net::SocketAddr,
    rounds: usize,
) -> anyhow::Result<Vec<String>> {
    const PASSWORD: &str = "bench password";
    let mut add = store
        .command(exe, &["users", "add", "--username", "bench"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    writeln!(add.stdin.take().expect("piped"), "{PASSWORD}")?;
    if !add.wait()?.success() {
        bail!("could not create the benchmark login");
    }
    let mut http = client::Client::connect(addr)?;
    let form_page = http.request("GET", "/login", &[], b"")?;
    let cookie_of = |r: &client::Response, name: &str| -> Option<String> {
        r.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .find_map(|(_, v)| {
                v.split(';')
                    .next()
                    .filter(|p| p.starts_with(name))
                    .map(str::to_owned)
            })
    };
    let csrf_cookie = cookie_of(&form_page, "uptake_login_csrf=").unwrap_or_default();
    let csrf = csrf_cookie
        .trim_start_matches("uptake_login_csrf=")
        .to_owned();
    let form = format!(
        "username=bench&password={}&csrf={csrf}",
        PASSWORD.replace(' ', "+")
    );
    let login = http.request(
        "POST",
        "/login",
        &[
            ("cookie", &csrf_cookie),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        form.as_bytes(),
    )?;
    let session = cookie_of(&login, "uptake_session=")
        .ok_or_else(|| anyhow::anyhow!("the benchmark login failed ({})", login.status))?;
    let assets: usize = ["/assets/uptake.css", "/assets/uptake.js"]
        .iter()
        .map(|path| http.request("GET", path, &[], b"").map(|r| r.body.len()))
        .sum::<std::io::Result<usize>>()?;
    let mut lines = Vec::new();
    for tab in ["users", "entities", "actions", "datasources", "ai"] {
        let path = format!("/dashboard/{tab}");
        let mut times = Vec::new();
        let mut bytes = 0;
        for round in 0..=rounds {
            let started = Instant::now();
            let response = http.request("GET", &path, &[("cookie", &session)], b"")?;
            if response.status != 200 {
                bail!("{path} answered {}", response.status);
            }
            bytes = response.body.len();
            if round > 0 {
                times.push(started.elapsed().as_secs_f64() * 1000.0);
            }
        }
        times.sort_by(f64::total_cmp);
        lines.push(format!(
            "tab {tab}: HTML p50 {:.1} ms, p95 {:.1} ms; page weight {:.0} KB ({:.0} KB HTML + {:.0} KB CSS and JS)",
            percentile(&times, 0.5),
            percentile(&times, 0.95),
            (bytes + assets) as f64 / 1024.0,
            bytes as f64 / 1024.0,
            assets as f64 / 1024.0
        ));
    }
    Ok(lines)
}
