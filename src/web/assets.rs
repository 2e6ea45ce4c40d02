//! The dashboard's stylesheet and script, embedded in the binary: the
//! dashboard works with no internet and no files beside the binary.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

const ASSETS: &[(&str, &str, &str)] = &[
    (
        "uptake.css",
        "text/css; charset=utf-8",
        include_str!("../../assets/uptake.css"),
    ),
    (
        "uptake.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/uptake.js"),
    ),
];

pub async fn asset(Path(name): Path<String>) -> Response {
    let Some((_, content_type, body)) = ASSETS.iter().find(|(n, _, _)| *n == name) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let mut response = ([(header::CONTENT_TYPE, *content_type)], *body).into_response();
    // The assets change only with the binary; an hour of caching is safe.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}
