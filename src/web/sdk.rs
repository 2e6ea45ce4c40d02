//! The Segment and PostHog wire formats over HTTP: pointing an existing SDK
//! at Uptake (its host, and an Uptake ingest key as its write key or API
//! key) is the whole integration. Messages are mapped by `crate::sdk` and
//! then validated and stored exactly like `POST /api/v1/events`.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};

use super::AppState;
use super::body::{gunzip, read_limited};
use super::error::{ApiError, ErrorBody};
use crate::event::framing::Format;
use crate::event::validate::Context;
use crate::ingest::decode_request;
use crate::sdk::{Mapped, Source};
use crate::store::{KeyKind, SdkCount, StoredKey};

/// Segment's own limits: a batch and one message.
const SEGMENT_BATCH_BYTES: usize = 500 * 1024;
const SEGMENT_MESSAGE_BYTES: usize = 32 * 1024;

fn bad(detail: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", detail)
}

/// Reads the body (bounded as ingest bodies are), inflating gzip when the
/// header, the `compression` parameter or the magic bytes say so.
async fn read_json(
    state: &AppState,
    headers: &HeaderMap,
    query: Option<&str>,
    body: Body,
    limit: usize,
) -> Result<Value, ApiError> {
    let limits = state.limits.clone();
    let (raw, _bytes) = read_limited(
        body,
        limit.min(limits.max_body_bytes),
        Duration::from_secs(limits.body_chunk_timeout_secs),
        Duration::from_secs(limits.body_timeout_secs),
        &state.body_budget,
    )
    .await?;
    let by_header = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    let by_query = query.is_some_and(|q| {
        form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "compression" && v == "gzip-js")
    });
    let plain = if by_header || by_query || raw.starts_with(&[0x1f, 0x8b]) {
        gunzip(&raw, limits.max_body_bytes)?
    } else {
        raw
    };
    serde_json::from_slice(&plain).map_err(|e| bad(format!("the body is not JSON: {e}")))
}

/// The ingest or browser key of `text`, or `401`.
async fn ingest_key(state: &AppState, text: Option<String>) -> Result<StoredKey, ApiError> {
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        return Err(ApiError::unauthorized());
    };
    let kind = if text.starts_with("uptake_browser_") {
        KeyKind::Browser
    } else {
        KeyKind::Ingest
    };
    let keys = state.keys.clone();
    super::blocking(move || keys.verify(&text, kind))
        .await?
        .map_err(|e| ApiError::internal(&e))?
        .ok_or_else(ApiError::unauthorized)
}

/// What a browser key may send: it is public, so anyone can send with it.
const BROWSER_TYPES: &[&str] = &["page_view", "login"];

/// Validates and stores what mapped, and counts every message by its
/// outcome (`sdk_messages`): mapped, rejected (by the contract or the
/// key), ignored (by name), and per request stored and duplicate.
async fn store_mapped(
    state: &AppState,
    key: &StoredKey,
    source: Source,
    mapped: Vec<Mapped>,
    queue_full: StatusCode,
) -> Result<(), ApiError> {
    let key_org = key.org.as_ref().map(|o| o.as_str().to_owned());
    let org_of = |org: Option<&str>| {
        key_org
            .clone()
            .or_else(|| org.map(str::to_owned))
            .unwrap_or_default()
    };
    let month_of = |time: crate::time::Micros| state.calendar.day_of(time).month().to_string();
    // (org, name, month, outcome) → messages
    let mut counts: BTreeMap<(String, String, String, &'static str), u64> = BTreeMap::new();
    let mut ndjson = Vec::new();
    // The (org, type, month) of each line of `ndjson`, to count its outcome.
    let mut lines = Vec::new();
    let mut refused = Vec::new();
    for m in mapped {
        match m {
            Mapped::Event(value) => {
                let kind = value["type"].as_str().unwrap_or("").to_owned();
                let time = value["time"]
                    .as_str()
                    .and_then(crate::time::Micros::parse_rfc3339)
                    .unwrap_or_else(|| (state.clock)());
                let at = (org_of(value["org"].as_str()), kind.clone(), month_of(time));
                if key.kind == KeyKind::Browser && !BROWSER_TYPES.contains(&kind.as_str()) {
                    refused.push(crate::ingest::RejectedEvent {
                        index: refused.len() as u64,
                        rejection: crate::event::validate::Rejection {
                            id: value["id"].as_str().map(str::to_owned),
                            error: crate::event::validate::ErrorCode::InvalidField,
                            detail: format!(
                                "a browser key may send only page views and logins, not {kind}"
                            ),
                        },
                    });
                    *counts.entry((at.0, at.1, at.2, "rejected")).or_default() += 1;
                    continue;
                }
                serde_json::to_writer(&mut ndjson, &value).map_err(|e| bad(e.to_string()))?;
                ndjson.push(b'\n');
                lines.push(at);
            }
            Mapped::Ignored { name, org, time } => {
                *counts
                    .entry((org_of(org.as_deref()), name, month_of(time), "ignored"))
                    .or_default() += 1;
            }
        }
    }
    let (limits, bound, now) = (state.limits.clone(), key.org.clone(), (state.clock)());
    let decoded = super::blocking(move || {
        let cx = Context {
            bound_org: bound.as_ref(),
            now,
            limits: &limits,
        };
        decode_request(&ndjson, Format::Ndjson, &cx).map_err(|e| bad(e.to_string()))
    })
    .await??;
    state.telemetry.ingested(0, 0, &decoded.rejected);
    state.telemetry.ingested(0, 0, &refused);
    let rejected: std::collections::HashSet<u64> =
        decoded.rejected.iter().map(|r| r.index).collect();
    for (i, (org, kind, month)) in lines.into_iter().enumerate() {
        let outcome = if rejected.contains(&(i as u64)) {
            "rejected"
        } else {
            "mapped"
        };
        *counts.entry((org, kind, month, outcome)).or_default() += 1;
    }
    for r in decoded.rejected.iter().chain(&refused) {
        tracing::debug!(source = source.name(), error = ?r.rejection.error, detail = %r.rejection.detail, "SDK message refused");
    }
    let stored = super::ingest::store_events(state, decoded.events, queue_full).await;
    if let Ok(batch) = &stored {
        let (org, month) = (org_of(None), month_of(now));
        for (outcome, n) in [("stored", batch.accepted), ("duplicate", batch.duplicates)] {
            if n > 0 {
                counts.insert((org.clone(), "*".into(), month.clone(), outcome), n);
            }
        }
    }
    if !counts.is_empty() {
        let rows: Vec<SdkCount> = counts
            .into_iter()
            .map(|((org, name, month, outcome), n)| SdkCount {
                org,
                source: source.name().into(),
                name,
                month,
                outcome: outcome.into(),
                n,
            })
            .collect();
        let store = state.store.clone();
        super::blocking(move || store.count_sdk_messages(&rows))
            .await?
            .map_err(|e| ApiError::internal(&e))?;
    }
    stored.map(|_| ())
}

/// The route of one Segment call (`batch`, `track`, `page`, …).
pub fn segment_route(call: &'static str) -> axum::routing::MethodRouter<AppState> {
    axum::routing::post(
        move |State(state): State<AppState>,
              headers: HeaderMap,
              RawQuery(query): RawQuery,
              body: Body| async move { segment(state, headers, query, body, call).await },
    )
    .options(preflight)
}

/// A PostHog route.
pub fn posthog_route() -> axum::routing::MethodRouter<AppState> {
    axum::routing::post(posthog).options(preflight)
}

/// The request's `Origin` when `[sdk] cors_origins` lists it.
fn allowed_origin<'h>(state: &AppState, headers: &'h HeaderMap) -> Option<&'h str> {
    let origin = headers.get(header::ORIGIN)?.to_str().ok()?;
    state
        .cors_origins
        .iter()
        .any(|o| o.eq_ignore_ascii_case(origin))
        .then_some(origin)
}

/// CORS preflight from a browser SDK: allowed for configured origins only.
async fn preflight(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(origin) = allowed_origin(&state, &headers) else {
        return (
            StatusCode::FORBIDDEN,
            "this origin may not send events here; list it in [sdk] cors_origins",
        )
            .into_response();
    };
    let mut response = StatusCode::NO_CONTENT.into_response();
    let h = response.headers_mut();
    if let Ok(origin) = HeaderValue::from_str(origin) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    }
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type, authorization, content-encoding"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    response
}

/// Lets the browser read an SDK route's answer when its origin is allowed.
pub async fn cors(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let origin =
        allowed_origin(&state, request.headers()).and_then(|o| HeaderValue::from_str(o).ok());
    let mut response = next.run(request).await;
    if let Some(origin) = origin {
        response
            .headers_mut()
            .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        response
            .headers_mut()
            .insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}

/// Segment's tracking API: `/v1/batch` and the single calls. The key is
/// the Basic user name (with or without the colon) or `writeKey`.
#[utoipa::path(
    post,
    path = "/v1/batch",
    tag = "sdk",
    description = "Segment's HTTP Tracking API (also `/v1/track`, `/v1/page`, `/v1/screen`, `/v1/identify`, `/v1/group`, `/v1/alias`, each taking one message). The key: `Authorization: Basic base64(KEY:)` or `writeKey` in the body. Messages map to Uptake events as docs/INTEGRATIONS.md says; `messageId` is the event id.",
    request_body(content = serde_json::Value, description = "`{\"batch\": [messages], \"sentAt\": …}`, gzip allowed", content_type = "application/json"),
    responses(
        (status = 200, description = "Every mapped event is durably stored (`{\"success\": true}`)"),
        (status = 400, description = "Not JSON, or over 500 KB a batch or 32 KB a message", body = ErrorBody),
        (status = 401, description = "No valid ingest or browser key", body = ErrorBody),
        (status = 429, description = "The write queue is full; retry after `Retry-After`", body = ErrorBody),
        (status = 503, description = "The store cannot take writes; retry after `Retry-After`", body = ErrorBody),
    )
)]
pub async fn segment(
    state: AppState,
    headers: HeaderMap,
    query: Option<String>,
    body: Body,
    call: &'static str,
) -> Result<Json<Value>, ApiError> {
    let value = read_json(
        &state,
        &headers,
        query.as_deref(),
        body,
        SEGMENT_BATCH_BYTES,
    )
    .await
    .map_err(|e| {
        // Segment answers an oversize batch with 400, which its clients know.
        if e.status == StatusCode::PAYLOAD_TOO_LARGE {
            bad("the batch is over 500 KB, Segment's limit for one request")
        } else {
            e
        }
    })?;
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .map(|user| user.split(':').next().unwrap_or("").to_owned());
    let key_text = basic.or_else(|| {
        value
            .get("writeKey")
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    let key = ingest_key(&state, key_text).await?;
    let sent_at = value
        .get("sentAt")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let messages: Vec<&Value> = match (call, value.get("batch")) {
        ("batch", Some(Value::Array(batch))) => batch.iter().collect(),
        ("batch", _) => return Err(bad("`batch` must be an array of messages")),
        (_, _) => vec![&value],
    };
    let now = (state.clock)();
    let mut mapped = Vec::with_capacity(messages.len());
    for message in messages {
        if serde_json::to_vec(message).map_or(0, |v| v.len()) > SEGMENT_MESSAGE_BYTES {
            return Err(bad(
                "a message is over 32 KB, Segment's limit for one message",
            ));
        }
        let kind = message
            .get("type")
            .and_then(Value::as_str)
            .filter(|_| call == "batch")
            .unwrap_or(call);
        mapped.extend(crate::sdk::segment(
            message,
            kind,
            sent_at.as_deref(),
            now,
            &state.sdk_mapping,
        ));
    }
    store_mapped(
        &state,
        &key,
        Source::Segment,
        mapped,
        StatusCode::TOO_MANY_REQUESTS,
    )
    .await?;
    Ok(Json(json!({ "success": true })))
}

/// PostHog's capture API: `/batch/`, `/capture/`, `/e/`, `/i/v0/e/`. The
/// key is `api_key` (or `token` in an event's properties).
#[utoipa::path(
    post,
    path = "/batch/",
    tag = "sdk",
    description = "PostHog's capture API (also `/capture/`, `/e/`, `/i/v0/e/`). The key is `api_key` (or `properties.token`); gzip by header, `?compression=gzip-js` or magic bytes. `uuid` is the event id.",
    request_body(content = serde_json::Value, description = "`{\"api_key\": …, \"batch\": [events], \"sent_at\": …}`, an event, or a list of events", content_type = "application/json"),
    responses(
        (status = 200, description = "Every mapped event is durably stored (`{\"status\": 1}`)"),
        (status = 400, description = "Not JSON or not gzip", body = ErrorBody),
        (status = 401, description = "No valid ingest or browser key", body = ErrorBody),
        (status = 429, description = "The write queue is full; retry after `Retry-After`", body = ErrorBody),
        (status = 503, description = "The store cannot take writes; retry after `Retry-After`", body = ErrorBody),
    )
)]
pub async fn posthog(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let value = read_json(&state, &headers, query.as_deref(), body, usize::MAX).await?;
    let events: Vec<&Value> = match &value {
        Value::Array(list) => list.iter().collect(),
        Value::Object(o) => match o.get("batch") {
            Some(Value::Array(list)) => list.iter().collect(),
            _ => vec![&value],
        },
        _ => {
            return Err(bad(
                "the body must be an event, a list of events or a batch",
            ));
        }
    };
    let key_text = value
        .get("api_key")
        .and_then(Value::as_str)
        .or_else(|| {
            events.iter().find_map(|e| {
                e.get("api_key")
                    .or_else(|| e.get("properties").and_then(|p| p.get("token")))
                    .and_then(Value::as_str)
            })
        })
        .map(str::to_owned);
    let key = ingest_key(&state, key_text).await?;
    let sent_at = value
        .get("sent_at")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let now = (state.clock)();
    let mapped = events
        .into_iter()
        .flat_map(|e| crate::sdk::posthog(e, sent_at.as_deref(), now, &state.sdk_mapping))
        .collect();
    store_mapped(
        &state,
        &key,
        Source::PostHog,
        mapped,
        StatusCode::TOO_MANY_REQUESTS,
    )
    .await?;
    Ok(Json(json!({ "status": 1 })))
}

/// `GET /api/v1/sources`: what the SDKs sent, by org, source, name, month
/// and outcome; a key bound to an org sees that org's.
#[utoipa::path(
    get,
    path = "/api/v1/sources",
    tag = "sdk",
    description = "What the Segment and PostHog routes received, per org, source, name, month and outcome (`mapped`, `rejected`, `ignored`; `stored` and `duplicate` under the name `*`).",
    responses(
        (status = 200, description = "`{\"messages\": [{org, source, name, month, outcome, n}]}`"),
        (status = 401, description = "No valid read key", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn sources(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let key = super::auth::authenticate(&state, &headers, KeyKind::Read).await?;
    let store = state.store.clone();
    let mut counts = super::blocking(move || store.sdk_messages())
        .await?
        .map_err(|e| ApiError::internal(&e))?;
    if let Some(org) = &key.org {
        counts.retain(|c| c.org == org.as_str());
    }
    Ok(Json(json!({ "messages": counts })))
}
