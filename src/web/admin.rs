//! The admin page (`/admin`), for company admins only: every API key with
//! its last use and a button to revoke it, and every dashboard login with
//! its last login and a button to remove it. The same operations as
//! `uptake keys list|revoke` and `uptake users list|remove`.

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::AppState;
use super::error::ApiError;
use super::layout::{head, no_store};
use super::session::Viewer;
use crate::store::{DashboardUser, StoredKey};
use crate::time::Micros;

/// The header of the admin pages.
fn admin_header(state: &AppState, viewer: &Viewer) -> Markup {
    html! {
        header.top {
            a.brand href="/dashboard/users" { "Uptake" }
            span.company { (state.company) }
            span.spacer {}
            span.who { (viewer.username) " · company admin" }
        }
    }
}

/// `403` for a viewer of one org: keys and logins span the company.
fn refuse_unless_admin(viewer: &Viewer) -> Option<Response> {
    viewer.org.as_ref().map(|_| {
        (
            StatusCode::FORBIDDEN,
            "Only a company admin (a login without an org) manages keys and logins.",
        )
            .into_response()
    })
}

fn when(t: Option<Micros>, none: &str) -> String {
    t.map_or_else(|| none.to_owned(), |t| t.to_string())
}

pub async fn page(State(state): State<AppState>, viewer: Viewer) -> Response {
    if let Some(refused) = refuse_unless_admin(&viewer) {
        return refused;
    }
    let store = state.store.clone();
    let listed =
        super::blocking(move || -> anyhow::Result<_> { Ok((store.keys()?, store.users()?)) }).await;
    let (keys, users) = match listed {
        Ok(Ok(lists)) => lists,
        Ok(Err(e)) => return ApiError::internal(&e).into_response(),
        Err(e) => return e.into_response(),
    };
    let mut response = render(&state, &viewer, &keys, &users).into_response();
    no_store(&mut response);
    response
}

fn render(
    state: &AppState,
    viewer: &Viewer,
    keys: &[StoredKey],
    users: &[DashboardUser],
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head("Keys and logins", false))
            body {
                (admin_header(state, viewer))
                main {
                    p { a href="/dashboard/users" { "← Back to the dashboard" } " · " a href="/admin/sources" { "What the SDKs sent" } }
                    h1 { "Keys and logins" }
                    h2 { "API keys" }
                    p { "Create keys with " code { "uptake keys create" } ". A revoked key is refused by every Uptake process on this store within 5 seconds." }
                    div.table-box {
                        table {
                            thead { tr { th { "Id" } th { "Kind" } th { "Org" } th { "Created" } th { "Last used" } th { "Revoked" } th { span.visually-hidden { "Action" } } } }
                            tbody {
                                @for key in keys {
                                    tr {
                                        td { code { (key.key_id) } }
                                        td { (key.kind.name()) }
                                        td { (key.org.as_ref().map_or("all", |o| o.as_str())) }
                                        td { (key.created_at.to_string()) }
                                        td { (when(key.last_used_at, "never")) }
                                        td { (when(key.revoked_at, "—")) }
                                        td {
                                            @if key.revoked_at.is_none() {
                                                form method="post" action="/admin/keys/revoke" {
                                                    input type="hidden" name="csrf" value=(viewer.csrf);
                                                    input type="hidden" name="id" value=(key.key_id);
                                                    button type="submit" aria-label={ "Revoke key " (key.key_id) } { "Revoke" }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    h2 { "Dashboard logins" }
                    p { "Add logins with " code { "uptake users add" } ". Removing one ends its sessions at once." }
                    div.table-box {
                        table {
                            thead { tr { th { "Username" } th { "Org" } th { "Created" } th { "Last login" } th { span.visually-hidden { "Action" } } } }
                            tbody {
                                @for user in users {
                                    tr {
                                        td { (user.username) }
                                        td { (user.org.as_ref().map_or("all (company admin)", |o| o.as_str())) }
                                        td { (user.created_at.to_string()) }
                                        td { (when(user.last_login_at, "never")) }
                                        td {
                                            @if user.username != viewer.username {
                                                form method="post" action="/admin/users/remove" {
                                                    input type="hidden" name="csrf" value=(viewer.csrf);
                                                    input type="hidden" name="username" value=(user.username);
                                                    button type="submit" aria-label={ "Remove login " (user.username) } { "Remove" }
                                                }
                                            } @else {
                                                "(you)"
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    csrf: String,
    id: String,
}

#[derive(Deserialize)]
pub struct RemoveForm {
    #[serde(default)]
    csrf: String,
    username: String,
}

/// `403` unless the form is a company admin's, with the session's CSRF
/// token.
fn refuse_form(viewer: &Viewer, csrf: &str) -> Option<Response> {
    if let Some(refused) = refuse_unless_admin(viewer) {
        return Some(refused);
    }
    if bool::from(viewer.csrf.as_bytes().ct_eq(csrf.as_bytes())) {
        None
    } else {
        Some(
            (
                StatusCode::FORBIDDEN,
                "The form expired; reload the page and try again.",
            )
                .into_response(),
        )
    }
}

pub async fn revoke_key(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<RevokeForm>,
) -> Response {
    if let Some(refused) = refuse_form(&viewer, &form.csrf) {
        return refused;
    }
    let store = state.store.clone();
    let id = form.id.clone();
    match super::blocking(move || store.revoke_key(&id, Micros::now())).await {
        Ok(Ok(true)) => {
            tracing::info!(key = %form.id, by = %viewer.username, "key revoked from the dashboard");
            Redirect::to("/admin").into_response()
        }
        Ok(Ok(false)) => (StatusCode::NOT_FOUND, "No key has that id.").into_response(),
        Ok(Err(e)) => ApiError::internal(&e).into_response(),
        Err(e) => e.into_response(),
    }
}

pub async fn remove_user(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<RemoveForm>,
) -> Response {
    if let Some(refused) = refuse_form(&viewer, &form.csrf) {
        return refused;
    }
    if form.username == viewer.username {
        // Removing oneself from the page could lock the last admin out.
        return (
            StatusCode::BAD_REQUEST,
            "You cannot remove your own login here; use `uptake users remove`.",
        )
            .into_response();
    }
    let store = state.store.clone();
    let username = form.username.clone();
    match super::blocking(move || store.remove_user(&username)).await {
        Ok(Ok(true)) => {
            tracing::info!(login = %form.username, by = %viewer.username, "login removed from the dashboard");
            Redirect::to("/admin").into_response()
        }
        Ok(Ok(false)) => (StatusCode::NOT_FOUND, "There is no such login.").into_response(),
        Ok(Err(e)) => ApiError::internal(&e).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `/admin/sources`: what each SDK source sent, month by month: mapped,
/// stored, duplicates, rejected and ignored, with the event names most
/// often ignored or rejected, so an admin sees which mapping rules to add.
pub async fn sources(State(state): State<AppState>, viewer: Viewer) -> Response {
    if let Some(refused) = refuse_unless_admin(&viewer) {
        return refused;
    }
    let store = state.store.clone();
    let counts = match super::blocking(move || store.sdk_messages()).await {
        Ok(Ok(counts)) => counts,
        Ok(Err(e)) => return ApiError::internal(&e).into_response(),
        Err(e) => return e.into_response(),
    };
    // (source, month) → outcome → messages; (source, outcome, name) → messages.
    let mut months: std::collections::BTreeMap<
        (String, String),
        std::collections::BTreeMap<String, u64>,
    > = Default::default();
    let mut names: std::collections::BTreeMap<(String, String, String), u64> = Default::default();
    for c in &counts {
        *months
            .entry((c.source.clone(), c.month.clone()))
            .or_default()
            .entry(c.outcome.clone())
            .or_default() += c.n;
        if matches!(c.outcome.as_str(), "ignored" | "rejected") {
            *names
                .entry((c.source.clone(), c.outcome.clone(), c.name.clone()))
                .or_default() += c.n;
        }
    }
    let mut top: Vec<(&(String, String, String), &u64)> = names.iter().collect();
    top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    top.truncate(20);
    let outcomes = ["mapped", "stored", "duplicate", "rejected", "ignored"];
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            (head("SDK sources", false))
            body {
                (admin_header(&state, &viewer))
                main {
                    p { a href="/admin" { "← Keys and logins" } }
                    h1 { "What the SDKs sent" }
                    p { "Segment and PostHog messages by month. " strong { "Mapped" } " became Uptake events; "
                        strong { "stored" } " and " strong { "duplicate" } " say what the store kept; "
                        strong { "rejected" } " failed the contract or the key; " strong { "ignored" }
                        " mapped to no event (see docs/INTEGRATIONS.md for mapping rules)." }
                    @if months.is_empty() {
                        p { "Nothing has been sent through the Segment or PostHog routes yet." }
                    } @else {
                        div.table-box {
                            table {
                                thead { tr { th { "Source" } th { "Month" } @for o in outcomes { th { (o) } } } }
                                tbody {
                                    @for ((source, month), by) in &months {
                                        tr {
                                            td { (source) } td { (month) }
                                            @for o in outcomes { td.num { (by.get(o).copied().unwrap_or(0)) } }
                                        }
                                    }
                                }
                            }
                        }
                        h2 { "Most ignored and rejected" }
                        div.table-box {
                            table {
                                thead { tr { th { "Source" } th { "Outcome" } th { "Event name or type" } th { "Messages" } } }
                                tbody {
                                    @for ((source, outcome, name), n) in &top {
                                        tr { td { (source) } td { (outcome) } td { (name) } td.num { (n) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let mut response = page.into_response();
    no_store(&mut response);
    response
}
