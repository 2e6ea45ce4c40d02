//! The dashboard: five tabs at `/dashboard/<tab>`, and the CSV export of
//! any widget at `/dashboard/export/<id>.csv`, both behind a login. An org
//! viewer's report is always scoped to their org.
//!
//! The page is complete HTML, readable without JavaScript: filters are a
//! GET form, sorting and paging of tables are links, menus are
//! `<details>`. Rendering the widgets is `panels`' job.

use std::collections::HashMap;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{DOCTYPE, Markup, html};

use super::AppState;
use super::dates::{PartialMonth, export_file_name};
use super::error::ApiError;
use super::filters;
use super::layout::{head, no_store};
use super::panels::{self, PanelCtx, TableView};
use super::session::Viewer;
use super::widgets::{compute, parse_query, scope_orgs};
use crate::calendar::Month;
use crate::event::OrgSlug;
use crate::metrics::{self, Area, Report, ReportQuery, Table, Widget};

/// A tab of the dashboard.
pub struct Tab {
    pub slug: &'static str,
    pub title: &'static str,
    pub area: Area,
}

/// The tabs, in the order of the areas of `metrics.md`.
pub const TABS: [Tab; 5] = [
    Tab {
        slug: "users",
        title: "Users activity",
        area: Area::Users,
    },
    Tab {
        slug: "entities",
        title: "Entities",
        area: Area::Entities,
    },
    Tab {
        slug: "actions",
        title: "Actions and automations",
        area: Area::Actions,
    },
    Tab {
        slug: "datasources",
        title: "Data sources",
        area: Area::DataSources,
    },
    Tab {
        slug: "ai",
        title: "AI and MCP",
        area: Area::Ai,
    },
];

/// What a tab's URL asks for: the report, and how each table is shown.
#[derive(Default)]
pub(super) struct PageQuery {
    pub(super) report: ReportQuery,
    /// The filter form's "as of" date and optional time, in the company
    /// zone; turned into `report.as_of` by `filters::date_as_of`.
    pub(super) as_of_date: Option<String>,
    pub(super) as_of_time: Option<String>,
    /// The month team engagement shows.
    pub(super) team_month: Option<String>,
    /// Per widget id: the page of its table (from 1).
    pages: HashMap<String, usize>,
    /// Per widget id: the column it is sorted by and whether descending.
    sorts: HashMap<String, (usize, bool)>,
}

/// Lenient by design, unlike the API: a page ignores parameters it does not
/// know, and treats an empty field of the filter form as absent.
fn parse_page_query(raw: Option<&str>) -> PageQuery {
    let mut q = PageQuery::default();
    let mut directions: HashMap<String, bool> = HashMap::new();
    for (key, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        let value = value.trim().to_owned();
        if value.is_empty() {
            continue;
        }
        match key.as_ref() {
            "as_of" => q.report.as_of = Some(value),
            "as_of_date" => q.as_of_date = Some(value),
            "as_of_time" => q.as_of_time = Some(value),
            "from" => q.report.from = Some(value),
            "to" => q.report.to = Some(value),
            "org" => q.report.orgs.push(value),
            "team_month" => q.team_month = Some(value),
            other => {
                if let Some(id) = other.strip_prefix("page.") {
                    if let Ok(n) = value.parse::<usize>() {
                        q.pages.insert(id.to_owned(), n.max(1));
                    }
                } else if let Some(id) = other.strip_prefix("sort.") {
                    if let Ok(n) = value.parse::<usize>() {
                        q.sorts.insert(id.to_owned(), (n, false));
                    }
                } else if let Some(id) = other.strip_prefix("dir.") {
                    directions.insert(id.to_owned(), value == "desc");
                }
            }
        }
    }
    for (id, desc) in directions {
        if let Some(sort) = q.sorts.get_mut(&id) {
            sort.1 = desc;
        }
    }
    q
}

/// `/` and `/dashboard` lead to the first tab.
pub async fn home() -> Redirect {
    Redirect::to("/dashboard/users")
}

/// The report a viewer asked for, scoped to what they may see.
fn viewer_report(
    state: &AppState,
    viewer: &Viewer,
    mut query: ReportQuery,
) -> Result<Report, ApiError> {
    scope_orgs(&mut query, viewer.org.as_ref())?;
    super::widgets::resolve_report(state, &query)
}

/// What one tab shows, computed off the async threads.
struct TabData {
    tables: Vec<Table>,
    /// Every org with events the viewer may see (for the filter), whatever
    /// orgs the report picked.
    all_orgs: Vec<OrgSlug>,
    /// The first month with an entity snapshot (the entities tab says so).
    entity_history_from: Option<Month>,
    /// Teams with a login in the last month and the one before (users tab).
    engaged_teams: Option<(i64, i64)>,
}

pub async fn tab(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Response {
    let Some(tab) = TABS.iter().find(|t| t.slug == slug) else {
        return (StatusCode::NOT_FOUND, "no such tab").into_response();
    };
    let mut query = parse_page_query(raw.as_deref());
    let report = match filters::date_as_of(&mut query, &state.calendar)
        .and_then(|()| viewer_report(&state, &viewer, query.report.clone()))
    {
        Ok(report) => report,
        Err(e) => {
            let mut response = (
                e.status,
                shell(
                    &state,
                    &viewer,
                    tab,
                    &query,
                    None,
                    html! {
                        p.error role="alert" { (e.detail) }
                    },
                ),
            )
                .into_response();
            no_store(&mut response);
            return response;
        }
    };
    let widgets: Vec<&'static Widget> = metrics::WIDGETS
        .iter()
        .filter(|w| w.area == tab.area)
        .collect();
    let data = match tab_data(&state, &report, &widgets, viewer.org.is_none()).await {
        Ok(data) => data,
        Err(e) => return e.into_response(),
    };
    let cx = PanelCtx {
        report: &report,
        export_query: export_query(&report),
        page_query: raw.as_deref().unwrap_or(""),
        team_month: query.team_month.as_deref(),
        partial: PartialMonth::of(&report, &state.calendar),
        calendar: &state.calendar,
    };
    let content = html! {
        @if data.all_orgs.is_empty() {
            section.empty role="status" {
                h2 { "No events yet" }
                p {
                    "Send your portal's usage events to "
                    code { "POST /api/v1/events" }
                    " with an ingest key (" code { "uptake keys create --kind ingest" }
                    "), or load a file with " code { "uptake import FILE" }
                    ". The API is described at "
                    a href="/api/v1/openapi.json" { "/api/v1/openapi.json" } "."
                }
            }
        }
        @if tab.area == Area::Entities {
            p.note {
                @match data.entity_history_from {
                    Some(month) => { "Entity history exists from " strong { (month.to_string()) } "; months before it have no snapshot." }
                    None => { "No entity snapshot has arrived yet, so the catalog has no history." }
                }
            }
        }
        (super::headlines::headlines(tab.area, &widgets, &data.tables, &state.settings, cx.partial, data.engaged_teams))
        div.panels {
            @for (widget, table) in widgets.iter().zip(&data.tables) {
                (panels::panel(widget, table, &cx, view_of(&query, widget)))
            }
        }
    };
    let mut response = shell(
        &state,
        &viewer,
        tab,
        &query,
        Some((&report, &data.all_orgs)),
        content,
    )
    .into_response();
    no_store(&mut response);
    response
}

/// Computes a tab's widgets on one blocking thread through one read of
/// the store: widgets of a tab share most of what they read (the store
/// keeps each answer for the next widget), so one thread gives the same
/// page without holding several connections.
/// `company_wide`: the viewer may see every org, so the org list and the
/// start of entity history are the company's; otherwise the report's.
async fn tab_data(
    state: &AppState,
    report: &Report,
    widgets: &[&'static Widget],
    company_wide: bool,
) -> Result<TabData, ApiError> {
    let _turn = super::widgets::report_turn(state).await?;
    let (work_state, report, widgets) = (state.clone(), report.clone(), widgets.to_vec());
    let everything = Report {
        orgs: if company_wide {
            None
        } else {
            report.orgs.clone()
        },
        ..report.clone()
    };
    type Computed = (Vec<Table>, Vec<OrgSlug>, Option<Month>, Option<(i64, i64)>);
    let (tables, orgs, first, engaged) = super::blocking(move || -> anyhow::Result<Computed> {
        let tables = compute(&work_state, &report, &widgets)?;
        let engaged = if widgets.iter().any(|w| w.area == Area::Users) {
            let facts = work_state.store.facts(&report)?;
            let cx = metrics::Ctx {
                report: &report,
                cal: &work_state.calendar,
                settings: &work_state.settings,
                facts: facts.as_ref(),
            };
            metrics::engaged_teams(&cx)?
        } else {
            None
        };
        let facts = work_state.store.facts(&everything)?;
        let first = facts
            .first_snapshot()?
            .map(|t| work_state.calendar.month_of(t));
        Ok((tables, facts.orgs()?, first, engaged))
    })
    .await?
    .map_err(|e| ApiError::internal(&e))?;
    Ok(TabData {
        tables,
        all_orgs: orgs,
        entity_history_from: first,
        engaged_teams: engaged,
    })
}

fn view_of(query: &PageQuery, widget: &Widget) -> TableView {
    TableView {
        page: query.pages.get(widget.id).copied().unwrap_or(1),
        sort: query.sorts.get(widget.id).copied(),
    }
}

/// The report's own parameters, with `as_of` resolved: an export gives the
/// numbers on screen even when events arrive in between.
fn export_query(report: &Report) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    out.append_pair("as_of", &report.as_of.to_string());
    out.append_pair("from", &report.from.to_string());
    out.append_pair("to", &report.to.to_string());
    for org in report.orgs.iter().flatten() {
        out.append_pair("org", org.as_str());
    }
    out.finish()
}

/// The page around a tab's content: header, tabs, filters.
fn shell(
    state: &AppState,
    viewer: &Viewer,
    tab: &Tab,
    query: &PageQuery,
    report: Option<(&Report, &[OrgSlug])>,
    content: Markup,
) -> Markup {
    // Tabs keep the report on screen.
    let keep = |slug: &str| {
        let mut pairs = Vec::new();
        for (key, value) in [
            ("as_of", &query.report.as_of),
            ("from", &query.report.from),
            ("to", &query.report.to),
        ] {
            if let Some(v) = value {
                pairs.push((key, v.as_str()));
            }
        }
        filters::dashboard_link(slug, &pairs, &query.report.orgs)
    };
    let role = match &viewer.org {
        None => "company admin".to_owned(),
        Some(org) => format!("viewer of {org}"),
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(tab.title, true))
            body {
                a.skip href="#content" { "Skip to the numbers" }
                header.top {
                    a.brand href="/dashboard/users" { "Uptake" }
                    span.company { (state.company) }
                    span.spacer {}
                    span.who title=(role) { (viewer.username) " · " (role) }
                    @if viewer.org.is_none() {
                        a.admin href="/admin" { "Keys and logins" }
                    }
                    form.logout method="post" action="/logout" {
                        input type="hidden" name="csrf" value=(viewer.csrf);
                        button type="submit" { "Log out" }
                    }
                }
                nav.tabs aria-label="Dashboard areas" {
                    @for t in &TABS {
                        @if t.slug == tab.slug {
                            a href=(keep(t.slug)) aria-current="page" { (t.title) }
                        } @else {
                            a href=(keep(t.slug)) { (t.title) }
                        }
                    }
                }
                main id="content" tabindex="-1" {
                    h1 { (tab.title) }
                    (filters::filters(state, viewer, tab, query, report))
                    (content)
                }
            }
        }
    }
}

/// `GET /dashboard/export/<id>.csv`: the widget's CSV exactly as the API
/// gives it, for the report on screen and the orgs the viewer may see.
pub async fn export(
    State(state): State<AppState>,
    Path(name): Path<String>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let widget = name
        .strip_suffix(".csv")
        .and_then(metrics::widget)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_widget",
                format!("no widget `{name}`; exports are at /dashboard/export/<widget id>.csv"),
            )
        })?;
    let query = parse_query(raw.as_deref())?;
    let report = viewer_report(&state, &viewer, query)?;
    let file_name = export_file_name(widget.id, &report, &state.calendar);
    let _turn = super::widgets::report_turn(&state).await?;
    let csv = super::blocking(move || -> anyhow::Result<String> {
        let table = compute(&state, &report, &[widget])?.remove(0);
        Ok(crate::export::to_csv(widget, &table))
    })
    .await?
    .map_err(|e| ApiError::internal(&e))?;
    let mut response = super::widgets::csv_response(&file_name, csv);
    no_store(&mut response);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_queries_are_lenient() {
        let q = parse_page_query(Some(
            "from=&to=2026-10&org=acme-eu&org=acme-us&page.users.inactive=3&sort.users.inactive=2&dir.users.inactive=desc&x=1",
        ));
        assert_eq!(q.report.from, None);
        assert_eq!(q.report.to.as_deref(), Some("2026-10"));
        assert_eq!(q.report.orgs, ["acme-eu", "acme-us"]);
        assert_eq!(q.pages["users.inactive"], 3);
        assert_eq!(q.sorts["users.inactive"], (2, true));
    }
}
