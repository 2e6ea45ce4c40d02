//! `uptake bench ingest`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Args;

use super::{BenchStore, client, generator, peak_rss, read_listen_address, watch_peak_rss};
use crate::time::Micros;

#[derive(Args, Debug)]
pub struct IngestArgs {
    /// Events in the file given to `import`.
    #[arg(long, default_value_t = 1_000_000)]
    import_events: u64,
    /// Events sent over HTTP for each batch size.
    #[arg(long, default_value_t = 1_000_000)]
    http_events: u64,
    /// Batch sizes (events per request), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    batch: Vec<usize>,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Send events in random time order (every insert lands at a random
    /// place in the index) instead of the roughly time-ordered stream of a
    /// live portal.
    #[arg(long)]
    shuffled: bool,
    /// Work directory (default: a new one under the system temp dir, removed after).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Measure the PostgreSQL store on this server (postgres://user@host:port):
    /// each run gets a new database.
    #[arg(long)]
    postgres: Option<String>,
    /// Uptake server processes sharing the store in the HTTP runs
    /// (PostgreSQL only for more than one); clients take turns among them.
    #[arg(long, default_value_t = 1)]
    processes: usize,
}

pub fn run(dir: &Path, args: &IngestArgs) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    let now = Micros::now();
    println!(
        "uptake bench on {} cores; events {}, ids in the fixture's mix (a third time-ordered, half random UUIDs)",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        if args.shuffled {
            "in random time order"
        } else {
            "roughly in time order"
        }
    );

    // import
    let file = dir.join("events.ndjson");
    let mut out = BufWriter::new(File::create(&file)?);
    let mut generator = generator(1, args.import_events, now, args.shuffled);
    for _ in 0..args.import_events {
        writeln!(out, "{}", generator.next_line())?;
    }
    out.flush()?;
    drop(out);
    let file_bytes = std::fs::metadata(&file)?.len();
    if args.processes > 1 && args.postgres.is_none() {
        bail!("--processes above 1 needs --postgres: SQLite has one writer process");
    }
    let store = BenchStore::new(dir, "import-data", args.postgres.as_deref(), false)?;
    let started = Instant::now();
    let mut child = store
        .command(&exe, &["import"])
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let peak = watch_peak_rss(&mut child)?;
    let elapsed = started.elapsed().as_secs_f64();
    let output = child.wait_with_output()?;
    if !output.status.success() {
        bail!("import failed: {}", String::from_utf8_lossy(&output.stdout));
    }
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let accepted = summary["accepted"].as_u64().unwrap_or(0);
    let disk = store.disk_bytes()?;
    println!(
        "import: {} events ({:.0} MB of NDJSON) in {elapsed:.2} s = {:.0} events/s; peak RSS {:.1} MiB",
        args.import_events,
        file_bytes as f64 / 1e6,
        args.import_events as f64 / elapsed,
        peak as f64 / 1048576.0
    );
    println!(
        "disk: {disk} bytes for {accepted} events = {:.1} bytes/event",
        disk as f64 / accepted.max(1) as f64
    );

    // HTTP
    for &batch in &args.batch {
        http_run(&exe, dir, args, batch, now)?;
    }
    Ok(())
}

fn http_run(
    exe: &Path,
    dir: &Path,
    args: &IngestArgs,
    batch: usize,
    now: Micros,
) -> anyhow::Result<()> {
    let store = BenchStore::new(
        dir,
        &format!("http-data-{batch}"),
        args.postgres.as_deref(),
        false,
    )?;
    let key = store.create_key(exe, "ingest")?;
    let mut generator = generator(2, args.http_events, now, args.shuffled);
    let bodies: Vec<Vec<u8>> = (0..args.http_events.div_ceil(batch as u64))
        .map(|_| {
            let mut body = Vec::with_capacity(batch * 200);
            for _ in 0..batch {
                body.extend_from_slice(generator.next_line().as_bytes());
                body.push(b'\n');
            }
            body
        })
        .collect();
    let mut servers = Vec::new();
    let mut addrs = Vec::new();
    for _ in 0..args.processes.max(1) {
        let mut server = store
            .command(exe, &["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        addrs.push(read_listen_address(&mut server)?);
        servers.push(server);
    }
    let next = Mutex::new(0usize);
    let auth = format!("Bearer {key}");
    let started = Instant::now();
    let retries = std::thread::scope(|scope| -> anyhow::Result<u64> {
        let workers: Vec<_> = (0..args.clients)
            .map(|c| {
                let addr = addrs[c % addrs.len()];
                let (next, bodies, auth) = (&next, &bodies, &auth);
                scope.spawn(move || -> anyhow::Result<u64> {
                    let mut client = client::Client::connect(addr)?;
                    let mut retries = 0;
                    loop {
                        let i = {
                            let mut next = next.lock().expect("lock");
                            *next += 1;
                            *next - 1
                        };
                        let Some(body) = bodies.get(i) else {
                            return Ok(retries);
                        };
                        loop {
                            let headers = [
                                ("authorization", auth.as_str()),
                                ("content-type", "application/x-ndjson"),
                            ];
                            let response =
                                client.request("POST", "/api/v1/events", &headers, body)?;
                            match response.status {
                                200 => break,
                                503 => {
                                    retries += 1;
                                    std::thread::sleep(Duration::from_millis(20));
                                }
                                s => bail!(
                                    "ingest answered {s}: {}",
                                    String::from_utf8_lossy(&response.body)
                                ),
                            }
                        }
                    }
                })
            })
            .collect();
        let mut retries = 0;
        for w in workers {
            retries += w.join().expect("client thread")?;
        }
        Ok(retries)
    })?;
    let elapsed = started.elapsed().as_secs_f64();
    let peak = servers
        .iter()
        .map(|s| peak_rss(s.id()).unwrap_or(0))
        .max()
        .unwrap_or(0);
    let sent = bodies.len() * batch;
    for server in &mut servers {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(server.id().to_string())
            .status();
        server.wait()?;
    }
    println!(
        "http: {sent} events in batches of {batch} from {} clients to {} server process(es) in {elapsed:.2} s = {:.0} events/s (durable acks); \
         {retries} retries after 503; server peak RSS {:.1} MiB",
        args.clients,
        servers.len(),
        sent as f64 / elapsed,
        peak as f64 / 1048576.0
    );
    Ok(())
}
