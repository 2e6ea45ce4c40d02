//! `POST /api/v1/events`: authenticate, check the framing headers, read the
//! body within the limits, decode every event, then hand the valid ones to
//! the writer and answer once they are durable.

use std::time::Duration;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};

use super::auth::authenticate;
use super::body::{gunzip, read_limited, too_large};
use super::error::{ApiError, ErrorBody};
use super::{AppState, PERMIT_WAIT};
use crate::event::framing::Format;
use crate::event::validate::Context;
use crate::ingest::{RequestError, SubmitError, Summary, decode_request};
use crate::store::{KeyKind, StoredKey};

/// Stores events. Valid events are stored even when others are rejected;
/// the answer comes once they are durable.
#[utoipa::path(
    post,
    path = "/api/v1/events",
    tag = "ingest",
    request_body(
        description = "Events as a JSON array, or as NDJSON (one event per line); optionally `Content-Encoding: gzip`",
        content(
            (Vec<serde_json::Value> = "application/json"),
            (String = "application/x-ndjson"),
        ),
    ),
    responses(
        (status = 200, description = "Every accepted event is durably stored", body = Summary),
        (status = 400, description = "Not a JSON array or NDJSON, or too many events (`invalid_body`, `too_many_events`)", body = ErrorBody),
        (status = 401, description = "No valid ingest key", body = ErrorBody),
        (status = 408, description = "The request took too long to arrive", body = ErrorBody),
        (status = 413, description = "The body is over the limit", body = ErrorBody),
        (status = 415, description = "Another content type or encoding", body = ErrorBody),
        (status = 503, description = "The store cannot take writes now; retry after `Retry-After` seconds", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn post_events(
    State(state): State<AppState>,
    request: Request,
) -> Result<Json<Summary>, ApiError> {
    let (parts, body) = request.into_parts();
    let checked = check_headers(&state, &parts.headers).await;
    let (key, format, gzip) = match checked {
        Ok(checked) => checked,
        Err(e) => {
            // Let the client finish sending so that it can read the answer.
            tokio::spawn(super::body::drain(body));
            return Err(e);
        }
    };
    let limits = state.limits.clone();

    let (raw, _bytes) = read_limited(
        body,
        limits.max_body_bytes,
        Duration::from_secs(limits.body_chunk_timeout_secs),
        Duration::from_secs(limits.body_timeout_secs),
        &state.body_budget,
    )
    .await?;
    // Inflating and decoding hold up to `max_body_bytes` more each: a
    // bounded number of requests do it at once. The body has arrived, so
    // a slow client never holds one of these.
    let _permit =
        match tokio::time::timeout(PERMIT_WAIT, state.ingest_permits.clone().acquire_owned()).await
        {
            Ok(Ok(permit)) => permit,
            _ => {
                return Err(ApiError::unavailable(
                    "the server is busy with other ingest requests; retry shortly",
                    1,
                ));
            }
        };

    // Decompressing and parsing are CPU work: keep them off the async threads.
    let now = (state.clock)();
    let decoded = super::blocking(move || {
        let plain = if gzip {
            gunzip(&raw, limits.max_body_bytes)?
        } else {
            raw
        };
        let cx = Context {
            bound_org: key.org.as_ref(),
            now,
            limits: &limits,
        };
        decode_request(&plain, format, &cx).map_err(|e| match e {
            RequestError::TooManyEvents(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, "too_many_events", e.to_string())
            }
            RequestError::Body(e) => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", e.to_string())
            }
        })
    })
    .await??;

    let mut summary = Summary {
        rejected: decoded.rejected,
        ..Summary::default()
    };
    state.telemetry.ingested(0, 0, &summary.rejected);
    if decoded.events.is_empty() {
        return Ok(Json(summary));
    }
    let counts = store_events(&state, decoded.events, StatusCode::SERVICE_UNAVAILABLE).await?;
    summary.add(counts);
    Ok(Json(summary))
}

/// Hands validated events to the writer and waits for their durable
/// commit. A full queue answers `queue_full` (`503`, or `429` for SDKs
/// whose clients retry only that) with `Retry-After`.
pub(super) async fn store_events(
    state: &AppState,
    events: Vec<crate::event::Event>,
    queue_full: StatusCode,
) -> Result<crate::store::BatchCounts, ApiError> {
    if events.is_empty() {
        return Ok(crate::store::BatchCounts::default());
    }
    let queued_at = std::time::Instant::now();
    let answer = state.ingestor.try_submit(events).map_err(|e| match e {
        SubmitError::QueueFull => ApiError {
            status: queue_full,
            ..ApiError::unavailable("the write queue is full; retry shortly", 1)
        },
        SubmitError::Closed => ApiError::unavailable(
            "the server is shutting down; retry on another instance or later",
            5,
        ),
    })?;
    match answer.await {
        Ok(Ok(counts)) => {
            state.telemetry.wrote(queued_at.elapsed());
            state
                .telemetry
                .ingested(counts.accepted, counts.duplicates, &[]);
            Ok(counts)
        }
        Ok(Err(reason)) => {
            tracing::warn!(%reason, "ingest batch refused: store unavailable");
            Err(ApiError::unavailable(
                "the store cannot take writes right now (disk full or I/O error); nothing of this request was stored, retry later",
                5,
            ))
        }
        Err(_) => Err(ApiError::unavailable(
            "the writer stopped before storing this request; nothing was acknowledged, retry later",
            5,
        )),
    }
}

/// Everything decided from the headers alone: the key (401), the framing
/// (415) and the declared length (413).
async fn check_headers(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(StoredKey, Format, bool), ApiError> {
    let key = authenticate(state, headers, KeyKind::Ingest).await?;
    let format = content_format(headers)?;
    let gzip = content_encoding_is_gzip(headers)?;
    if declared_length(headers).is_some_and(|len| len > state.limits.max_body_bytes as u64) {
        return Err(too_large(state.limits.max_body_bytes));
    }
    Ok((key, format, gzip))
}

fn content_format(headers: &HeaderMap) -> Result<Format, ApiError> {
    let value = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/json" => Ok(Format::Array),
        "application/x-ndjson" => Ok(Format::Ndjson),
        _ => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "Content-Type must be application/json (a JSON array) or application/x-ndjson, not `{}`",
                value.chars().take(100).collect::<String>()
            ),
        )),
    }
}

fn content_encoding_is_gzip(headers: &HeaderMap) -> Result<bool, ApiError> {
    let Some(value) = headers.get(header::CONTENT_ENCODING) else {
        return Ok(false);
    };
    match value
        .to_str()
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        Ok("gzip" | "x-gzip") => Ok(true),
        Ok("identity" | "") => Ok(false),
        _ => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_encoding",
            "Content-Encoding must be gzip or absent",
        )),
    }
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}
