//! `uptake bench dashboard`: loads generated histories of several sizes and
//! times every widget of the default report over HTTP, warm.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Args;

use super::{BenchStore, client, generator, peak_rss, read_listen_address, watch_peak_rss};
use crate::generate::Generator;
use crate::metrics::WIDGETS;
use crate::time::Micros;

#[derive(Args, Debug)]
pub struct DashboardArgs {
    /// History sizes (events), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1000000,10000000")]
    events: Vec<u64>,
    /// Timed rounds of all widgets, after one warm-up round.
    #[arg(long, default_value_t = 40)]
    rounds: usize,
    /// The company time zone of the benchmark.
    #[arg(long, default_value = "Europe/Berlin")]
    timezone: String,
    /// Work directory (default: a new one under the system temp dir, removed after).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Measure the PostgreSQL store on this server (postgres://user@host:port);
    /// the database of each size is kept and reused by later runs.
    #[arg(long)]
    postgres: Option<String>,
    /// The company's size, whatever the history's (default: about 300
    /// users per million events, so that outputs listing users grow with
    /// the history): with it, sizes compare one company's longer and
    /// busier histories.
    #[arg(long)]
    users: Option<usize>,
    /// Then time the widgets again while a portal sends this many events
    /// per second (dated now, in batches every 100 ms); 0 to skip.
    #[arg(long, default_value_t = 1000)]
    live_rate: u64,
}

pub fn run(dir: &Path, args: &DashboardArgs) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    println!(
        "uptake bench dashboard on {} cores, time zone {}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        args.timezone
    );
    for &events in &args.events {
        one_size(&exe, dir, args, events)?;
    }
    Ok(())
}

/// Generates `events` events ending now and imports them; returns seconds.
fn import_history(
    exe: &Path,
    store: &BenchStore,
    config: &Path,
    dir: &Path,
    events: u64,
    users: Option<usize>,
) -> anyhow::Result<f64> {
    let file = dir.join(format!("dashboard-{events}.ndjson"));
    let now = Micros::now();
    {
        let mut out = BufWriter::new(File::create(&file)?);
        let mut generator = match users {
            Some(users) => Generator::for_events_and_users(3, events, users, now),
            None => generator(3, events, now, false),
        };
        for _ in 0..events {
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
    watch_peak_rss(&mut import)?;
    if !import.wait()?.success() {
        bail!("import of {events} events failed");
    }
    std::fs::remove_file(&file)?;
    Ok(started.elapsed().as_secs_f64())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn one_size(exe: &Path, dir: &Path, args: &DashboardArgs, events: u64) -> anyhow::Result<()> {
    let name = match args.users {
        Some(users) => format!("dashboard-{events}-{users}-users"),
        None => format!("dashboard-{events}"),
    };
    let store = BenchStore::new(dir, &name, args.postgres.as_deref(), true)?;
    let config = dir.join(format!("{name}.toml"));
    std::fs::write(
        &config,
        format!("[company]\ntimezone = \"{}\"\n", args.timezone),
    )?;
    // A store left by an earlier run with `--dir` is reused as it is.
    let import_secs = if store.has_events()? {
        println!("{events} events: reusing the store of an earlier run");
        0.0
    } else {
        import_history(exe, &store, &config, dir, events, args.users)?
    };
    let key = store.create_key(exe, "read")?;
    let mut server = store
        .command(exe, &["serve", "--listen", "127.0.0.1:0"])
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let addr = read_listen_address(&mut server)?;
    let mut http = client::Client::connect(addr)?;
    let auth = format!("Bearer {key}");
    let (mut rounds, mut per_widget) = time_widgets(&mut http, &auth, args.rounds)?;
    let live = if args.live_rate > 0 {
        let ingest_key = store.create_key(exe, "ingest")?;
        let mut live = while_ingesting(
            addr,
            &ingest_key,
            args.live_rate,
            events,
            args.users,
            || time_widgets(&mut http, &auth, args.rounds),
        )?;
        live.0.sort_by(f64::total_cmp);
        Some(live)
    } else {
        None
    };
    let tabs = time_tabs(exe, &store, addr, args.rounds)?;
    let peak = peak_rss(server.id()).unwrap_or(0);
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(server.id().to_string())
        .status();
    server.wait()?;
    rounds.sort_by(f64::total_cmp);
    let users = args
        .users
        .unwrap_or(((events as f64 / 1_000_000.0) * 300.0).max(20.0) as usize);
    println!(
        "{events} events, {users} users (imported in {import_secs:.0} s): all {} widgets p50 {:.1} ms, p95 {:.1} ms over {} rounds; server peak RSS {:.1} MiB",
        WIDGETS.len(),
        percentile(&rounds, 0.5),
        percentile(&rounds, 0.95),
        rounds.len(),
        peak as f64 / 1048576.0
    );
    let mut slowest: Vec<(f64, &str)> = per_widget
        .iter_mut()
        .zip(WIDGETS)
        .map(|(times, w)| {
            times.sort_by(f64::total_cmp);
            (percentile(times, 0.95), w.id)
        })
        .collect();
    slowest.sort_by(|a, b| b.0.total_cmp(&a.0));
    let top: Vec<String> = slowest
        .iter()
        .map(|(ms, id)| format!("{id} {ms:.1} ms"))
        .collect();
    println!("  slowest widgets (p95): {}", top.join(", "));
    for line in tabs {
        println!("  {line}");
    }
    if let Some((live_rounds, sent)) = live {
        println!(
            "  while ingesting {} events/s ({sent} events sent): all {} widgets p50 {:.1} ms, p95 {:.1} ms over {} rounds",
            args.live_rate,
            WIDGETS.len(),
            percentile(&live_rounds, 0.5),
            percentile(&live_rounds, 0.95),
            live_rounds.len(),
        );
    }
    Ok(())
}

/// Times all widgets `rounds` times after one warm-up round: each round's
/// time and each widget's times, in milliseconds.
fn time_widgets(
    http: &mut client::Client,
    auth: &str,
    rounds: usize,
) -> anyhow::Result<(Vec<f64>, Vec<Vec<f64>>)> {
    let mut per_widget: Vec<Vec<f64>> = vec![Vec::new(); WIDGETS.len()];
    let mut times = Vec::new();
    for round in 0..=rounds {
        let round_started = Instant::now();
        for (i, widget) in WIDGETS.iter().enumerate() {
            let started = Instant::now();
            let response = http.request(
                "GET",
                &format!("/api/v1/widgets/{}", widget.id),
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
            if round > 0 {
                per_widget[i].push(started.elapsed().as_secs_f64() * 1000.0);
            }
        }
        if round > 0 {
            times.push(round_started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    Ok((times, per_widget))
}

/// Runs `measure` while another connection posts `rate` events a second,
/// dated now, as a live portal does (each write raises the versions of
/// the month and day of now, so what reports kept of them is read again).
/// Returns the first of `measure`'s results and the events sent.
fn while_ingesting<T>(
    addr: std::net::SocketAddr,
    key: &str,
    rate: u64,
    history: u64,
    users: Option<usize>,
    measure: impl FnOnce() -> anyhow::Result<(Vec<f64>, T)>,
) -> anyhow::Result<(Vec<f64>, u64)> {
    let stop = AtomicBool::new(false);
    let batch = (rate / 10).max(1);
    std::thread::scope(|scope| {
        let sender = scope.spawn(|| -> anyhow::Result<u64> {
            let mut client = client::Client::connect(addr)?;
            // The history's people (same seed), with ids of this run only.
            let mut generator = match users {
                Some(users) => Generator::for_events_and_users(3, history, users, Micros::now()),
                None => generator(3, history, Micros::now(), false),
            };
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
        Ok((measured?.0, sent))
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
