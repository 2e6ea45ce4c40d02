//! Reading a request body within the limits, however it arrives: a
//! declared length, chunks, or gzip that inflates. Memory never exceeds
//! the limit (plus one chunk), whatever the client sends.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::StatusCode;
use http_body_util::BodyExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::ApiError;

/// Bytes discarded after a refusal so that the client can read the answer
/// before the connection closes (a close with unread data resets it).
const DRAIN_BYTES: usize = 64 * 1024 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(5);

pub fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!(
            "the request body is over {limit} bytes (after decompression); send smaller batches"
        ),
    )
}

fn timed_out() -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "request_timeout",
        "the request body stopped arriving; send it again",
    )
}

/// How long a body waits for room in the budget before `503`.
const BUDGET_WAIT: Duration = Duration::from_secs(5);

/// Reads the whole body, refusing it past `limit` bytes, when a chunk is
/// more than `chunk_timeout` in coming, or when the whole body takes more
/// than `total_timeout` (a body trickling a byte at a time would otherwise
/// hold its ingest slot for ever).
///
/// The bytes held count against `budget` (permits are bytes) as they
/// arrive, so the bodies in memory at once are bounded by what they hold,
/// not by how many requests are open: a client sending slowly holds only
/// what it sent. A body that cannot get its bytes within a few seconds is
/// refused with `503`.
pub async fn read_limited(
    mut body: Body,
    limit: usize,
    chunk_timeout: Duration,
    total_timeout: Duration,
    budget: &Arc<Semaphore>,
) -> Result<(Vec<u8>, Option<OwnedSemaphorePermit>), ApiError> {
    let deadline = tokio::time::Instant::now() + total_timeout;
    let mut buf = Vec::new();
    let mut held: Option<OwnedSemaphorePermit> = None;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let frame = match tokio::time::timeout(chunk_timeout.min(left), body.frame()).await {
            Err(_) if left <= chunk_timeout => {
                return Err(ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "request_timeout",
                    format!(
                        "the request body took longer than {} s to arrive; send it faster, or in smaller requests",
                        total_timeout.as_secs()
                    ),
                ));
            }
            Err(_) => return Err(timed_out()),
            Ok(None) => return Ok((buf, held)),
            Ok(Some(Err(_))) => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_body",
                    "the request body was cut short",
                ));
            }
            Ok(Some(Ok(frame))) => frame,
        };
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > limit {
                tokio::spawn(drain(body));
                return Err(too_large(limit));
            }
            let bytes = u32::try_from(data.len()).unwrap_or(u32::MAX);
            let permit =
                match tokio::time::timeout(BUDGET_WAIT, budget.clone().acquire_many_owned(bytes))
                    .await
                {
                    Ok(Ok(permit)) => permit,
                    _ => {
                        return Err(ApiError::unavailable(
                            "the server holds as many request bodies as it may; retry shortly",
                            1,
                        ));
                    }
                };
            match &mut held {
                Some(all) => all.merge(permit),
                None => held = Some(permit),
            }
            buf.extend_from_slice(&data);
        }
    }
}

/// Reads and drops what the client still sends, within bounds.
pub async fn drain(mut body: Body) {
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        let mut seen = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, |d| d.len());
            if seen > DRAIN_BYTES {
                break;
            }
        }
    })
    .await;
}

/// Inflates a gzip body (one or more members), refusing it past `limit`.
pub fn gunzip(compressed: &[u8], limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::new();
    let mut decoder = flate2::read::MultiGzDecoder::new(compressed).take(limit as u64 + 1);
    decoder.read_to_end(&mut out).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            format!("the body is not valid gzip: {e}"),
        )
    })?;
    if out.len() > limit {
        return Err(too_large(limit));
    }
    Ok(out)
}
