//! `GET /api/v1/widgets` (the catalogue) and `GET /api/v1/widgets/<id>`
//! (`.csv` for CSV): report parameters in, the widget's rows out.

use anyhow::Context;
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::authenticate;
use super::error::{ApiError, ErrorBody};
use crate::export::{self, WidgetAnswer};
use crate::metrics::{self, Area, Chart, Ctx, Report, ReportQuery};
use crate::store::KeyKind;

/// The tables of `widgets` for `report`, read from one view of the store.
/// Reports computed at once, per process: each holds a read connection
/// and memory in proportion to the company, so a burst of dashboards
/// waits here instead of exhausting memory, threads and connections.
pub fn max_concurrent_reports() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get()) * 2
}

/// How long a report waits for its turn before `503`.
const REPORT_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// A turn to compute a report, or `503` with `Retry-After` when none frees
/// up in time.
pub(crate) async fn report_turn(
    state: &AppState,
) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
    match tokio::time::timeout(REPORT_WAIT, state.report_permits.clone().acquire_owned()).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => Err(ApiError::unavailable(
            "too many reports are being computed; retry shortly",
            2,
        )),
    }
}

pub(crate) fn compute(
    state: &AppState,
    report: &Report,
    widgets: &[&'static metrics::Widget],
) -> anyhow::Result<Vec<metrics::Table>> {
    let facts = state.store.facts(report)?;
    let cx = Ctx {
        report,
        cal: &state.calendar,
        settings: &state.settings,
        facts: facts.as_ref(),
    };
    widgets
        .iter()
        .map(|w| {
            let started = std::time::Instant::now();
            let table = (w.compute)(&cx).with_context(|| format!("failed to compute {}", w.id));
            state.telemetry.computed(w.id, started.elapsed());
            table
        })
        .collect()
}

/// Scopes a report to the orgs a caller may see: a caller bound to an org
/// reads only that org, and naming another is refused.
pub(crate) fn scope_orgs(
    query: &mut ReportQuery,
    bound: Option<&crate::event::OrgSlug>,
) -> Result<(), ApiError> {
    if let Some(bound) = bound {
        if query.orgs.iter().any(|o| o != bound.as_str()) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("you may only read org `{bound}`"),
            ));
        }
        query.orgs = vec![bound.to_string()];
    }
    Ok(())
}

pub(crate) fn area_name(area: Area) -> &'static str {
    match area {
        Area::Users => "users",
        Area::Entities => "entities",
        Area::Actions => "actions",
        Area::DataSources => "datasources",
        Area::Ai => "ai",
    }
}

fn chart_name(chart: Chart) -> &'static str {
    match chart {
        Chart::Line => "line",
        Chart::Bars => "bars",
        Chart::StackedBars => "stacked_bars",
        Chart::Pie => "pie",
        Chart::Number => "number",
        Chart::Table => "table",
    }
}

/// The widget catalogue.
#[derive(Serialize, ToSchema)]
pub struct Catalogue {
    pub widgets: Vec<WidgetInfo>,
}

#[derive(Serialize, ToSchema)]
pub struct WidgetInfo {
    /// The id to ask for: `GET /api/v1/widgets/<id>` (`.csv` for CSV).
    pub id: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    /// The dashboard tab: users, entities, actions, datasources or ai.
    pub area: &'static str,
    /// How the dashboard draws it: line, bars, stacked_bars, pie, number or table.
    pub chart: &'static str,
    pub columns: Vec<ColumnInfo>,
}

#[derive(Serialize, ToSchema)]
pub struct ColumnInfo {
    pub name: &'static str,
    /// text, integer, decimal, instant, date or month.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// The widgets, their columns and how to draw them. Public: it is the same
/// for every deployment and holds no data.
#[utoipa::path(
    get,
    path = "/api/v1/widgets",
    tag = "widgets",
    responses((status = 200, description = "Every widget", body = Catalogue))
)]
pub async fn catalogue() -> Json<Catalogue> {
    let widgets = metrics::WIDGETS
        .iter()
        .map(|w| WidgetInfo {
            id: w.id,
            title: w.title,
            description: w.description,
            area: area_name(w.area),
            chart: chart_name(w.chart),
            columns: w
                .columns
                .iter()
                .map(|(name, kind)| ColumnInfo {
                    name,
                    kind: kind.name(),
                })
                .collect(),
        })
        .collect();
    Json(Catalogue { widgets })
}

/// The report parameters of `metrics.md`.
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// RFC 3339 instant; only events at or before it count [default: now].
    pub as_of: Option<String>,
    /// First month of the period, `YYYY-MM` [default: 11 months before `to`].
    pub from: Option<String>,
    /// Last month of the period, `YYYY-MM` [default: the month of `as_of`].
    pub to: Option<String>,
    /// Restrict to these orgs (repeat the parameter) [default: every org].
    pub org: Option<Vec<String>>,
}

/// Parses `as_of`, `from`, `to` and repeated `org`; anything else is refused
/// so that a typo does not silently give another report.
pub(crate) fn parse_query(raw: Option<&str>) -> Result<ReportQuery, ApiError> {
    let mut params = ReportParams::default();
    for (key, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        let value = value.into_owned();
        match key.as_ref() {
            "as_of" => params.as_of = Some(value),
            "from" => params.from = Some(value),
            "to" => params.to = Some(value),
            "org" => params.org.get_or_insert_with(Vec::new).push(value),
            other => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_parameter",
                    format!(
                        "unknown parameter `{other}`; the report takes as_of, from, to and org"
                    ),
                ));
            }
        }
    }
    Ok(ReportQuery {
        as_of: params.as_of,
        from: params.from,
        to: params.to,
        orgs: params.org.unwrap_or_default(),
    })
}

/// One widget's rows for a report.
#[utoipa::path(
    get,
    path = "/api/v1/widgets/{name}",
    tag = "widgets",
    params(
        ("name" = String, Path, description = "A widget id (see the catalogue); add `.csv` for CSV"),
        ReportParams,
    ),
    responses(
        (status = 200, description = "The widget's rows", content(
            (WidgetAnswer = "application/json"),
            (String = "text/csv", example = "month,total,change\r\n2026-10,3082,33\r\n"),
        )),
        (status = 400, description = "A bad parameter (`invalid_parameter`, `invalid_period`)", body = ErrorBody),
        (status = 401, description = "No valid read key", body = ErrorBody),
        (status = 403, description = "The key may not read that org", body = ErrorBody),
        (status = 404, description = "No such widget", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn widget(
    State(state): State<AppState>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (id, csv) = match name.strip_suffix(".csv") {
        Some(id) => (id.to_owned(), true),
        None => (name, false),
    };
    let widget = metrics::widget(&id).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_widget",
            format!("no widget `{id}`; GET /api/v1/widgets lists them"),
        )
    })?;
    let key = authenticate(&state, &headers, KeyKind::Read).await?;
    let mut query = parse_query(raw.as_deref())?;
    scope_orgs(&mut query, key.org.as_ref())?;
    let report = resolve_report(&state, &query)?;
    let _turn = report_turn(&state).await?;
    enum Encoded {
        Json(Vec<u8>),
        Csv(String),
    }
    let body = super::blocking(move || -> anyhow::Result<Encoded> {
        let table = compute(&state, &report, &[widget])?.remove(0);
        Ok(if csv {
            Encoded::Csv(export::to_csv(widget, &table))
        } else {
            Encoded::Json(export::json(widget, &report, &table))
        })
    })
    .await?
    .map_err(|e| ApiError::internal(&e))?;
    Ok(match body {
        Encoded::Json(json) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            json,
        )
            .into_response(),
        Encoded::Csv(csv) => csv_response(&format!("{}.csv", widget.id), csv),
    })
}

/// A widget's CSV as a download named `file_name`.
pub(crate) fn csv_response(file_name: &str, csv: String) -> Response {
    let mut response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
        csv,
    )
        .into_response();
    let disposition = format!("attachment; filename=\"{file_name}\"");
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// The report `query` asks for at the server's clock; `400` for a bad
/// parameter, and `400 before_retention` for an `as_of` whose raw events
/// are deleted (`[retention]`).
pub fn resolve_report(state: &AppState, query: &ReportQuery) -> Result<Report, ApiError> {
    let now = (state.clock)();
    let report = Report::resolve(query, now, &state.calendar)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.code, e.detail))?;
    if let Some(months) = state.retention {
        let horizon = crate::retention::horizon(&state.calendar, now, months);
        if report.as_of < horizon {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "before_retention",
                format!(
                    "as_of {} lies before the retention horizon {horizon}: raw events older than {months} months are deleted ([retention] raw_events_months); ask for an as_of at or after {horizon}",
                    report.as_of
                ),
            ));
        }
    }
    Ok(report)
}
