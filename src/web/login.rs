//! `GET`/`POST /login`, `POST /logout`, and the [`Viewer`] extractor that
//! every dashboard page and export goes through.
//!
//! CSRF: the login form carries a token that must equal its cookie (double
//! submit); forms behind a session carry the session's own token. The
//! session cookie is `SameSite=Lax` besides, so a cross-site POST arrives
//! without it.

use std::net::SocketAddr;

use axum::Form;
use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::AppState;
use super::error::ApiError;
use super::layout::no_store;
use super::session::{LOGIN_CSRF_COOKIE, SESSION_COOKIE, Viewer, cookie, new_token};

/// How long a login waits for a free password check before `503`.
const PASSWORD_CHECK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Where to go after logging in, when the login page was reached from a
/// dashboard page. Only local paths, so the form cannot redirect away.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        // Visible ASCII only: anything else cannot go into a `Location`
        // header (a browser sends paths percent-encoded anyway).
        Some(n)
            if n.starts_with("/dashboard/")
                && !n.contains("//")
                && !n.contains('\\')
                && n.bytes().all(|b| (0x21..0x7f).contains(&b)) =>
        {
            n
        }
        _ => "/dashboard/users",
    }
}

fn cookie_header(headers: &HeaderMap) -> &str {
    headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// `Secure` when the browser reached us over TLS (through a proxy that
/// says so): a cookie marked so would not come back over plain HTTP.
/// `; Secure` when the client reached a trusted proxy over HTTPS.
fn secure_attr(state: &AppState, peer: SocketAddr, headers: &HeaderMap) -> &'static str {
    if state.proxies.https(peer.ip(), headers) {
        "; Secure"
    } else {
        ""
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Viewer, Response> {
        let token = cookie(cookie_header(&parts.headers), SESSION_COOKIE)
            .unwrap_or("")
            .to_owned();
        let sessions = state.sessions.clone();
        match super::blocking(move || sessions.find(&token)).await {
            Ok(Ok(Some(viewer))) => return Ok(viewer),
            Ok(Ok(None)) => {}
            Ok(Err(e)) => return Err(ApiError::internal(&e).into_response()),
            Err(e) => return Err(e.into_response()),
        }
        let here = parts
            .uri
            .path_and_query()
            .map_or("/dashboard/users", |p| p.as_str());
        let target = format!(
            "/login?next={}",
            form_urlencoded::byte_serialize(here.as_bytes()).collect::<String>()
        );
        Err(Redirect::to(&target).into_response())
    }
}

#[derive(Deserialize)]
pub struct LoginPageQuery {
    next: Option<String>,
}

fn login_page(csrf: &str, next: &str, message: Option<&str>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (super::layout::head("Log in", false))
            body.login {
                main.login-box {
                    h1 { "Uptake" }
                    p.muted { "Usage and adoption of your developer portal." }
                    @if let Some(message) = message {
                        p.error role="alert" { (message) }
                    }
                    form method="post" action="/login" {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="next" value=(next);
                        label for="username" { "Username" }
                        input #username type="text" name="username" autocomplete="username" required autofocus;
                        label for="password" { "Password" }
                        input #password type="password" name="password" autocomplete="current-password" required;
                        button type="submit" { "Log in" }
                    }
                }
            }
        }
    }
}

/// The form, with a fresh CSRF token in a cookie beside it.
fn login_response(status: StatusCode, secure: &str, next: &str, message: Option<&str>) -> Response {
    let csrf = new_token();
    let page = login_page(&csrf, next, message);
    let cookie =
        format!("{LOGIN_CSRF_COOKIE}={csrf}; Path=/login; HttpOnly; SameSite=Strict{secure}");
    let mut response = (status, page).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    no_store(&mut response);
    response
}

pub async fn login_form(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<LoginPageQuery>,
) -> Response {
    let secure = secure_attr(&state, peer, &headers);
    login_response(StatusCode::OK, secure, safe_next(q.next.as_deref()), None)
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    csrf: String,
    next: Option<String>,
}

pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let secure = secure_attr(&state, peer, &headers);
    let next = safe_next(form.next.as_deref()).to_owned();
    let expected = cookie(cookie_header(&headers), LOGIN_CSRF_COOKIE).unwrap_or("");
    if expected.is_empty() || !bool::from(expected.as_bytes().ct_eq(form.csrf.as_bytes())) {
        return login_response(
            StatusCode::FORBIDDEN,
            secure,
            &next,
            Some("The login form expired. Please try again."),
        );
    }
    let address = state.proxies.client(peer.ip(), &headers).to_string();
    if let Err(wait) = state.sessions.begin_attempt(&form.username, &address) {
        let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
        let message = if seconds < 120 {
            format!("Too many failed logins. Try again in {seconds} seconds.")
        } else {
            format!(
                "Too many failed logins. Try again in {} minutes.",
                seconds.div_ceil(60)
            )
        };
        let mut response =
            login_response(StatusCode::TOO_MANY_REQUESTS, secure, &next, Some(&message));
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        return response;
    }
    // Password checks are memory-hard: a bounded number run at once, and
    // a login that cannot start one within a few seconds is told to retry.
    let Ok(Ok(_permit)) = tokio::time::timeout(
        PASSWORD_CHECK_WAIT,
        state.password_checks.clone().acquire_owned(),
    )
    .await
    else {
        let mut response = login_response(
            StatusCode::SERVICE_UNAVAILABLE,
            secure,
            &next,
            Some("Too many logins at once. Try again in a few seconds."),
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(5u64));
        return response;
    };
    let store = state.store.clone();
    let (username, password) = (form.username.clone(), form.password);
    let checked = super::blocking(move || {
        crate::dashboard_users::check(store.as_ref(), &username, &password)
    })
    .await;
    let user = match checked {
        Ok(Ok(user)) => user,
        Ok(Err(e)) => {
            tracing::error!(error = %format!("{e:#}"), "login check failed");
            return login_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                secure,
                &next,
                Some("The login could not be checked; see the server log."),
            );
        }
        Err(e) => return e.into_response(),
    };
    let Some(user) = user else {
        // The failure was counted when the attempt began.
        return login_response(
            StatusCode::UNAUTHORIZED,
            secure,
            &next,
            Some("Wrong username or password."),
        );
    };
    state.sessions.succeeded(&user.username, &address);
    let sessions = state.sessions.clone();
    let store = state.store.clone();
    let token = match super::blocking(move || {
        let token = sessions.create(&user)?;
        // The last login is a record for `users list`, not needed by
        // this request: written beside it.
        let username = user.username.clone();
        std::thread::spawn(move || {
            if let Err(e) = store.record_login(&username, crate::time::Micros::now()) {
                tracing::warn!(error = %e, "could not record a login's time");
            }
        });
        anyhow::Ok(token)
    })
    .await
    {
        Ok(Ok(token)) => token,
        Ok(Err(e)) => return ApiError::internal(&e).into_response(),
        Err(e) => return e.into_response(),
    };
    let mut response = Redirect::to(&next).into_response();
    for cookie in [
        format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax{secure}"),
        format!("{LOGIN_CSRF_COOKIE}=; Path=/login; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    ] {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

pub async fn logout(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Response {
    let token = cookie(cookie_header(&headers), SESSION_COOKIE)
        .unwrap_or("")
        .to_owned();
    let sessions = state.sessions.clone();
    let ended = super::blocking(move || -> anyhow::Result<bool> {
        match sessions.find(&token)? {
            Some(viewer) if bool::from(viewer.csrf.as_bytes().ct_eq(form.csrf.as_bytes())) => {
                sessions.remove(&token)?;
                Ok(true)
            }
            Some(_) => Ok(false),
            None => Ok(true),
        }
    })
    .await;
    match ended {
        Ok(Ok(true)) => {}
        Ok(Ok(false)) => {
            return (
                StatusCode::FORBIDDEN,
                "The logout form expired; reload the page and try again.",
            )
                .into_response();
        }
        Ok(Err(e)) => return ApiError::internal(&e).into_response(),
        Err(e) => return e.into_response(),
    }
    let mut response = Redirect::to("/login").into_response();
    let cookie = format!(
        "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}",
        secure_attr(&state, peer, &headers)
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_the_dashboard() {
        assert_eq!(
            safe_next(Some("/dashboard/ai?org=x")),
            "/dashboard/ai?org=x"
        );
        assert_eq!(safe_next(Some("https://evil.example/")), "/dashboard/users");
        assert_eq!(
            safe_next(Some("/dashboard//evil.example")),
            "/dashboard/users"
        );
        assert_eq!(safe_next(None), "/dashboard/users");
        // Nothing a `Location` header cannot hold.
        for bad in [
            "/dashboard/users\r\nSet-Cookie: x=1",
            "/dashboard/\u{7f}",
            "/dashboard/é",
        ] {
            assert_eq!(safe_next(Some(bad)), "/dashboard/users", "{bad:?}");
        }
    }
}
