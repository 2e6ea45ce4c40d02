//! Everything HTTP: the router, the handlers and the error type. The
//! layers below (`ingest`, `store`, `event`) know nothing of HTTP.

mod admin;
mod assets;
mod auth;
mod body;
mod compress;
mod dates;
pub mod deadline;
mod engagement;
mod error;
mod filters;
mod headlines;
mod ingest;
mod layout;
mod login;
mod openapi;
mod pages;
mod panels;
pub mod prometheus;
pub mod proxy;
pub mod sdk;
mod session;
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
    /// The company's name and time zone, shown on every page.
    pub company: Arc<str>,
    pub calendar_name: Arc<str>,
    pub sessions: Arc<session::Sessions>,
    /// Origins whose browsers may post to the SDK routes.
    pub cors_origins: Arc<Vec<String>>,
    /// How SDK messages map to events (`[sdk]`).
    pub sdk_mapping: Arc<crate::sdk::Mapping>,
    /// What `/metrics` reports.
    pub telemetry: Arc<prometheus::Telemetry>,
    /// Addresses that may read `/metrics` without a key.
    pub metrics_from: Arc<Vec<crate::net::Cidr>>,
    /// Bytes of request bodies held in memory at once, in all
    /// (`body::read_limited`).
    pub body_budget: Arc<Semaphore>,
    /// Bounds the reports computed at once (`widgets::report_turn`).
    pub report_permits: Arc<Semaphore>,
    /// Bounds the password checks (Argon2id, memory-hard) run at once.
    pub password_checks: Arc<Semaphore>,
    /// Whose forwarded headers are believed.
    pub proxies: Arc<proxy::Proxies>,
    /// `[retention] raw_events_months`: reports before its horizon are
    /// refused.
    pub retention: Option<u32>,
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        ingestor: Ingestor,
        config: &Config,
        clock: Clock,
    ) -> anyhow::Result<AppState> {
        let limits: Limits = config.ingest.clone();
        let sessions = Arc::new(session::Sessions::new(store.clone(), session::IDLE_TIMEOUT));
        Ok(AppState {
            keys: Keys::new(store.clone()),
            store,
            ingestor,
            ingest_permits: Arc::new(Semaphore::new(limits.max_concurrent_requests)),
            limits: Arc::new(limits),
            clock,
            calendar: Arc::new(Calendar::new(&config.company.timezone)?),
            settings: Arc::new(config.metrics.clone()),
            company: config.company.name.as_str().into(),
            calendar_name: config.company.timezone.as_str().into(),
            sessions,
            proxies: Arc::new(proxy::Proxies::new(&config.server.trusted_proxies)),
            cors_origins: Arc::new(config.sdk.cors_origins.clone()),
            sdk_mapping: Arc::new(crate::sdk::Mapping {
                rules: config.sdk.mapping.clone(),
                identify_is_login: config.sdk.identify_is_login,
            }),
            telemetry: Arc::default(),
            metrics_from: Arc::new(
                config
                    .server
                    .metrics_from
                    .iter()
                    .filter_map(|c| crate::net::Cidr::parse(c))
                    .collect(),
            ),
            body_budget: Arc::new(Semaphore::new(
                config
                    .ingest
                    .max_concurrent_requests
                    .saturating_mul(config.ingest.max_body_bytes),
            )),
            report_permits: Arc::new(Semaphore::new(widgets::max_concurrent_reports())),
            password_checks: Arc::new(Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get().max(2)),
            )),
            retention: config.retention.raw_events_months,
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
    // The SDK routes answer browsers from configured origins (CORS).
    let sdk_routes = Router::new()
        .route("/v1/batch", sdk::segment_route("batch"))
        .route("/v1/track", sdk::segment_route("track"))
        .route("/v1/page", sdk::segment_route("page"))
        .route("/v1/screen", sdk::segment_route("screen"))
        .route("/v1/identify", sdk::segment_route("identify"))
        .route("/v1/group", sdk::segment_route("group"))
        .route("/v1/alias", sdk::segment_route("alias"))
        .route("/batch/", sdk::posthog_route())
        .route("/batch", sdk::posthog_route())
        .route("/capture/", sdk::posthog_route())
        .route("/capture", sdk::posthog_route())
        .route("/e/", sdk::posthog_route())
        .route("/e", sdk::posthog_route())
        .route("/i/v0/e/", sdk::posthog_route())
        .route("/i/v0/e", sdk::posthog_route())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            sdk::cors,
        ));
    Router::new()
        .merge(sdk_routes)
        .route("/healthz", get(healthz))
        .route("/metrics", get(prometheus::metrics))
        .route("/api/v1/sources", get(sdk::sources))
        .route("/api/v1/events", post(ingest::post_events))
        .route("/api/v1/openapi.json", get(openapi::openapi_json))
        .route("/api/v1/widgets", get(widgets::catalogue))
        .route("/api/v1/widgets/{name}", get(widgets::widget))
        .route("/", get(pages::home))
        .route("/dashboard", get(pages::home))
        .route("/dashboard/{tab}", get(pages::tab))
        .route("/dashboard/export/{name}", get(pages::export))
        .route("/login", get(login::login_form).post(login::login))
        .route("/logout", post(login::logout))
        .route("/admin", get(admin::page))
        .route("/admin/sources", get(admin::sources))
        .route("/admin/keys/revoke", post(admin::revoke_key))
        .route("/admin/users/remove", post(admin::remove_user))
        .route("/assets/{name}", get(assets::asset))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::map_response(security_headers))
        .layer(axum::middleware::from_fn(compress::gzip))
        .with_state(state)
}

/// Headers on every answer: no sniffing, no framing, and a policy that lets
/// pages run only the scripts and styles served from here (no inline
/// script, so an injected string cannot run).
async fn security_headers(mut response: axum::response::Response) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
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
