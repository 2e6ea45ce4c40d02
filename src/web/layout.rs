//! What every HTML page shares: the `<head>` (stylesheet, optional script)
//! and the header that keeps pages out of shared caches.

use axum::http::{HeaderValue, header};
use axum::response::Response;
use maud::{Markup, html};

/// Pages carry a viewer's data (or a login form's CSRF token): no cache
/// may keep them.
pub fn no_store(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// The `<head>` of a page titled `title`; `script` adds the dashboard's
/// script (the login page needs none).
pub fn head(title: &str, script: bool) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · Uptake" }
            link rel="stylesheet" href="/assets/uptake.css";
            @if script {
                script src="/assets/uptake.js" defer {}
            }
        }
    }
}
