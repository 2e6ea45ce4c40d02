//! API keys on requests: `Authorization: Bearer <key>`.

use axum::http::{HeaderMap, header};

use super::AppState;
use super::error::ApiError;
use crate::store::{KeyKind, StoredKey};

/// The stored key of the request's bearer token, when it is of `kind`.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    kind: KeyKind,
) -> Result<StoredKey, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(ApiError::unauthorized)?
        .to_owned();
    let keys = state.keys.clone();
    let found = super::blocking(move || keys.verify(&token, kind))
        .await?
        .map_err(|e| ApiError::internal(&e))?;
    found.ok_or_else(ApiError::unauthorized)
}
