//! What `serve` (and `demo`) run: the store opened with its rollups ready,
//! the writer thread, and the socket side: accepting connections, the read
//! timeouts of the contract, and graceful shutdown (stop accepting, finish
//! what is in flight, then let the writer drain).
//!
//! `axum::serve` sets no header-read timeout, so connections are served
//! with hyper's builder directly. When hyper gives up on slow headers it
//! closes the connection without a word; to answer `408` as the contract
//! asks, each connection keeps a duplicate of its socket for that reply.

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

use anyhow::Context as _;

use crate::config::Config;
use crate::ingest::Ingestor;
use crate::ingest::writer::Commits;
use crate::store::{self, Location};
use crate::time::Micros;
use crate::web::{AppState, router};

/// How long in-flight requests get to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Serves `app` on `listener` until `shutdown` completes, then waits for
/// in-flight connections (up to a grace period).
/// What bounds each connection and the connections of one client.
#[derive(Clone)]
pub struct ConnectionLimits {
    /// Time to send a request's headers (408 after it).
    pub header_timeout: Duration,
    /// Time to send a request's whole body, on every route.
    pub body_timeout: Duration,
    /// Connections one address may hold open; trusted proxies are exempt.
    pub per_address: usize,
    pub proxies: crate::web::proxy::Proxies,
    /// Counts open connections for `/metrics`.
    pub telemetry: Arc<crate::web::prometheus::Telemetry>,
}

/// Connections open, in all and per address; a [`Slot`] gives its count
/// back when its connection ends.
#[derive(Default)]
struct Open {
    total: usize,
    by_address: std::collections::HashMap<std::net::IpAddr, usize>,
}

struct Slot {
    open: Arc<std::sync::Mutex<Open>>,
    address: std::net::IpAddr,
    telemetry: Arc<crate::web::prometheus::Telemetry>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.telemetry.connection_closed();
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.total -= 1;
        if let Some(n) = open.by_address.get_mut(&self.address) {
            *n -= 1;
            if *n == 0 {
                open.by_address.remove(&self.address);
            }
        }
    }
}

/// The most connections served at once: each takes two descriptors (the
/// spare one answers 408), and the process keeps some for the store, the
/// writer and logs.
fn max_connections() -> usize {
    let soft = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3)?.parse::<usize>().ok())
        })
        .unwrap_or(1024);
    (soft.saturating_sub(128) / 2).clamp(32, 50_000)
}

pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let open = Arc::new(std::sync::Mutex::new(Open::default()));
    let max_total = max_connections();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: wait, don't spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Over a bound the connection is closed at once, before it costs
        // a task or a second descriptor: the descriptors left keep
        // `/healthz` and other clients answered.
        let slot = {
            let mut counts = open.lock().unwrap_or_else(|p| p.into_inner());
            let address = peer.ip();
            let mine = counts.by_address.get(&address).copied().unwrap_or(0);
            let per_address_ok = mine < limits.per_address || limits.proxies.trusts(address);
            if counts.total >= max_total || !per_address_ok {
                tracing::debug!(%peer, "connection refused: too many open");
                continue;
            }
            counts.total += 1;
            *counts.by_address.entry(address).or_default() += 1;
            limits.telemetry.connection_opened();
            Slot {
                open: open.clone(),
                address,
                telemetry: limits.telemetry.clone(),
            }
        };
        serve_connection(stream, peer, app.clone(), &limits, slot, &graceful);
    }
    drop(listener);
    tracing::info!("stopped accepting; finishing in-flight requests");
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some connections did not finish within {SHUTDOWN_GRACE:?}; closing them");
    }
    Ok(())
}

fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: &ConnectionLimits,
    slot: Slot,
    graceful: &GracefulShutdown,
) {
    let _ = stream.set_nodelay(true);
    // The spare descriptor shares the socket; it is used only to answer
    // 408 after hyper has dropped its side.
    let socket = match stream
        .into_std()
        .and_then(|main| Ok((main.try_clone()?, main)))
    {
        Ok(pair) => pair,
        Err(e) => {
            tracing::warn!(error = %e, "cannot set up a connection");
            return;
        }
    };
    let (spare, main) = socket;
    let Ok(stream) = TcpStream::from_std(main) else {
        return;
    };
    let read = Arc::new(AtomicU64::new(0));
    let read_at_last_request = Arc::new(AtomicU64::new(0));
    let io = TokioIo::new(CountingIo {
        inner: stream,
        read: read.clone(),
    });
    let marker = read_at_last_request.clone();
    let counter = read.clone();
    // A little past the ingest body timeout, so that ingest answers its
    // own 408 first; other routes fail their body read here.
    let body_deadline = limits.body_timeout + Duration::from_secs(5);
    let service = TowerToHyperService::new(app.map_request(move |req: Request<Incoming>| {
        marker.store(counter.load(Ordering::Relaxed), Ordering::Relaxed);
        let mut req = req.map(|body| {
            axum::body::Body::new(crate::web::deadline::DeadlineBody::new(
                axum::body::Body::new(body),
                body_deadline,
            ))
        });
        // The peer's address, for handlers that throttle by client.
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
        req
    }));
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .serve_connection(io, service);
    let conn = graceful.watch(conn);
    tokio::spawn(async move {
        let _slot = slot;
        if let Err(e) = conn.await {
            let partial_request =
                read.load(Ordering::Relaxed) > read_at_last_request.load(Ordering::Relaxed);
            if e.is_timeout() && partial_request {
                answer_header_timeout(spare);
            } else {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        }
    });
}

/// Writes a `408` on the spare socket after hyper gave up on the headers.
fn answer_header_timeout(mut socket: std::net::TcpStream) {
    let body =
        r#"{"error":"request_timeout","detail":"the request headers took too long to arrive"}"#;
    let response = format!(
        "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = socket.set_nonblocking(false);
    let _ = socket.set_write_timeout(Some(Duration::from_secs(1)));
    let _ = socket.write_all(response.as_bytes());
    let _ = socket.shutdown(std::net::Shutdown::Both);
}

/// A socket that counts the bytes read from it, to tell a request cut short
/// from an idle keep-alive connection.
struct CountingIo {
    inner: TcpStream,
    read: Arc<AtomicU64>,
}

impl AsyncRead for CountingIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        let n = (buf.filled().len() - before) as u64;
        this.read.fetch_add(n, Ordering::Relaxed);
        result
    }
}

impl AsyncWrite for CountingIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The store the configuration names, as it is.
pub fn open_store(config: &Config) -> anyhow::Result<Arc<dyn store::Store>> {
    store::open(&Location::parse(config.store.as_deref(), &config.data)?)
}

/// The store, with its rollups made for the configured settings.
pub fn open_store_with_rollups(config: &Config) -> anyhow::Result<Arc<dyn store::Store>> {
    let store = open_store(config)?;
    store.prepare_rollups(&crate::rollup::RollupSettings::from_config(config)?)?;
    Ok(store)
}

/// Serves `store` until SIGTERM or SIGINT; `ready` runs once the socket
/// listens.
pub fn run(
    config: &Config,
    store: Arc<dyn store::Store>,
    ready: impl FnOnce(std::net::SocketAddr),
) -> anyhow::Result<ExitCode> {
    // Blocking threads run reports, decoding and key checks, each bounded
    // on its own; this bounds their sum, so a burst cannot start hundreds.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(64)
        .build()?;
    // The store's last reference is dropped here, outside the runtime:
    // PostgreSQL's blocking client closes its connections with a runtime
    // of its own, which cannot start on a thread driving async tasks.
    let kept = store.clone();
    let writer = runtime.block_on(async {
        let (ingestor, writer) =
            Ingestor::start(store.clone(), config.ingest.queue_batches, Commits::LIVE)?;
        if let Some(months) = config.retention.raw_events_months {
            let cal = crate::calendar::Calendar::new(&config.company.timezone)?;
            crate::retention::start(store.clone(), cal, months);
        }
        let state = AppState::new(store, ingestor, config, Arc::new(Micros::now))?;
        let listener = tokio::net::TcpListener::bind(&config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        // Before the address is printed: a supervisor may signal as soon
        // as it sees it, and an uninstalled handler would let the signal
        // kill the process instead of stopping it cleanly.
        let shutdown = shutdown_signal()?;
        ready(listener.local_addr()?);
        std::io::stdout().flush()?;
        let limits = ConnectionLimits {
            header_timeout: Duration::from_secs(config.ingest.header_timeout_secs),
            body_timeout: Duration::from_secs(config.ingest.body_timeout_secs),
            per_address: config.ingest.max_connections_per_address,
            proxies: crate::web::proxy::Proxies::new(&config.server.trusted_proxies),
            telemetry: state.telemetry.clone(),
        };
        serve(listener, router(state), limits, shutdown).await?;
        anyhow::Ok(writer)
    })?;
    // Connections that outlived the grace period hold the writer's queue
    // open; ending the runtime drops them, then the writer drains and stops.
    runtime.shutdown_timeout(Duration::from_secs(1));
    writer.join();
    drop(kept);
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Installs the SIGTERM and SIGINT handlers now, and returns what
/// completes on either.
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing a SIGTERM handler")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("installing a SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = interrupt.recv() => tracing::info!("SIGINT received"),
        }
    })
}
