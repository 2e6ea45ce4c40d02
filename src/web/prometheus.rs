//! `GET /metrics`: what an operator graphs and alerts on, in Prometheus'
//! text format. Counters live in [`Telemetry`], shared by the handlers and
//! the accept loop; nothing here touches the store.
//!
//! Who may read it: a caller with a company-wide read key
//! (`Authorization: Bearer …`), or a connection from an address in
//! `[server] metrics_from`. Anyone else gets `401`: the numbers say how
//! busy the company's portal is.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::auth::authenticate;
use crate::store::KeyKind;

/// Time spent, as Prometheus' summary without quantiles: a count and a sum.
#[derive(Default)]
struct Timing {
    count: u64,
    seconds: f64,
}

#[derive(Default)]
pub struct Telemetry {
    accepted: AtomicU64,
    duplicates: AtomicU64,
    rejected: Mutex<BTreeMap<String, u64>>,
    /// From handing a batch to the writer to its durable answer.
    writes: Mutex<Timing>,
    /// Per widget: computing its table.
    reports: Mutex<BTreeMap<&'static str, Timing>>,
    open_connections: AtomicU64,
}

impl Telemetry {
    pub fn ingested(
        &self,
        accepted: u64,
        duplicates: u64,
        rejected: &[crate::ingest::RejectedEvent],
    ) {
        self.accepted.fetch_add(accepted, Ordering::Relaxed);
        self.duplicates.fetch_add(duplicates, Ordering::Relaxed);
        if !rejected.is_empty() {
            let mut by_code = self.rejected.lock().unwrap_or_else(|p| p.into_inner());
            for r in rejected {
                let code = serde_json::to_value(r.rejection.error)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                *by_code.entry(code).or_default() += 1;
            }
        }
    }

    pub fn wrote(&self, took: Duration) {
        let mut t = self.writes.lock().unwrap_or_else(|p| p.into_inner());
        t.count += 1;
        t.seconds += took.as_secs_f64();
    }

    pub fn computed(&self, widget: &'static str, took: Duration) {
        let mut all = self.reports.lock().unwrap_or_else(|p| p.into_inner());
        let t = all.entry(widget).or_default();
        t.count += 1;
        t.seconds += took.as_secs_f64();
    }

    pub fn connection_opened(&self) {
        self.open_connections.fetch_add(1, Ordering::Relaxed);
    }

    pub fn connection_closed(&self) {
        self.open_connections.fetch_sub(1, Ordering::Relaxed);
    }

    /// Everything, in the text exposition format.
    fn render(&self, queued: usize) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        };
        counter(
            &mut out,
            "uptake_events_accepted_total",
            "Events stored.",
            self.accepted.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "uptake_events_duplicate_total",
            "Events whose (org, id) was already stored.",
            self.duplicates.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP uptake_events_rejected_total Events refused, by error code.\n# TYPE uptake_events_rejected_total counter"
        );
        for (code, n) in self
            .rejected
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(out, "uptake_events_rejected_total{{code=\"{code}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP uptake_write_queue_batches Batches waiting for the writer.\n# TYPE uptake_write_queue_batches gauge\nuptake_write_queue_batches {queued}"
        );
        {
            let w = self.writes.lock().unwrap_or_else(|p| p.into_inner());
            let _ = writeln!(
                out,
                "# HELP uptake_write_seconds From queueing a batch to its durable commit.\n# TYPE uptake_write_seconds summary\nuptake_write_seconds_sum {}\nuptake_write_seconds_count {}",
                w.seconds, w.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP uptake_report_seconds Time to compute a widget's table.\n# TYPE uptake_report_seconds summary"
        );
        for (widget, t) in self
            .reports
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "uptake_report_seconds_sum{{widget=\"{widget}\"}} {}\nuptake_report_seconds_count{{widget=\"{widget}\"}} {}",
                t.seconds, t.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP uptake_open_connections HTTP connections open.\n# TYPE uptake_open_connections gauge\nuptake_open_connections {}",
            self.open_connections.load(Ordering::Relaxed)
        );
        out
    }
}

pub async fn metrics(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let from_allowed_address = state.metrics_from.iter().any(|c| c.contains(peer.ip()));
    if !from_allowed_address {
        match authenticate(&state, &headers, KeyKind::Read).await {
            Ok(key) if key.org.is_none() => {}
            Ok(_) => {
                return (
                    StatusCode::FORBIDDEN,
                    "/metrics needs a company-wide read key, not one bound to an org",
                )
                    .into_response();
            }
            Err(e) => return e.into_response(),
        }
    }
    let mut response = state
        .telemetry
        .render(state.ingestor.queued())
        .into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}
