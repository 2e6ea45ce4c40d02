//! Everything HTTP: the router, the handlers and the error type. The
//! layers below (`ingest`, `store`, `event`) know nothing of HTTP.

mod auth;
mod body;
mod error;
mod ingest;
mod openapi;
mod widgets;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use tokio::sync::Semaphore;

use crate::calendar::Calendar;
use crate::config::{Config, Limits, Settings};
use crate::ingest::Ingestor;
use crate::keys::Keys;
use crate::store::Store;
use crate::time::Micros;

pub use error::ApiError;

/// The clock requests are judged by (the `time` window); tests set it.
pub type Clock = Arc<dyn Fn() -> Micros + Send + Sync>;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub ingestor: Ingestor,
    pub keys: Keys,
    pub limits: Arc<Limits>,
    pub clock: Clock,
    /// Bounds the ingest requests whose bodies are in memory at once.
    pub ingest_permits: Arc<Semaphore>,
    /// The company calendar and settings the widgets are computed with.
    pub calendar: Arc<Calendar>,
    pub settings: Arc<Settings>,
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        ingestor: Ingestor,
        config: &Config,
        clock: Clock,
    ) -> anyhow::Result<AppState> {
        let limits: Limits = config.ingest.clone();
        Ok(AppState {
            keys: Keys::new(store.clone()),
            store,
            ingestor,
            ingest_permits: Arc::new(Semaphore::new(limits.max_concurrent_requests)),
            limits: Arc::new(limits),
            clock,
            calendar: Arc::new(Calendar::new(&config.company.timezone)?),
            settings: Arc::new(config.metrics.clone()),
        })
    }
}

/// Runs blocking work (SQL, parsing) off the async threads; a task that
/// panics is an internal error.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::internal(&anyhow::anyhow!("a blocking task failed: {e}")))
}

/// How long an ingest request waits for a free slot before `503`.
const PERMIT_WAIT: Duration = Duration::from_secs(10);

/// The whole HTTP API, without a socket (tests can call it directly).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/v1/events", post(ingest::post_events))
        .route("/api/v1/openapi.json", get(openapi::openapi_json))
        .route("/api/v1/widgets", get(widgets::catalogue))
        .route("/api/v1/widgets/{name}", get(widgets::widget))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// `200 ok` once the store is open.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "The server is up", body = String)))]
async fn healthz() -> &'static str {
    "ok"
}

async fn not_found() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint; events go to POST /api/v1/events",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method",
    )
}
