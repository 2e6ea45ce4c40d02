//! `GET /api/v1/widgets` (the catalogue) and `GET /api/v1/widgets/<id>`
//! (`.csv` for CSV): report parameters in, the widget's rows out.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::AppState;
use super::auth::authenticate;
use super::error::ApiError;
use crate::export;
use crate::metrics::{self, Area, Chart, Ctx, Report, ReportQuery};
use crate::store::KeyKind;

fn area_name(area: Area) -> &'static str {
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

/// The widgets, their columns and how to draw them. Public: it is the same
/// for every deployment and holds no data.
pub async fn catalogue() -> Json<Value> {
    let widgets: Vec<Value> = metrics::WIDGETS
        .iter()
        .map(|w| {
            json!({
                "id": w.id,
                "title": w.title,
                "description": w.description,
                "area": area_name(w.area),
                "chart": chart_name(w.chart),
                "columns": w.columns.iter().map(|(name, kind)| json!({"name": name, "type": kind.name()})).collect::<Vec<_>>(),
            })
        })
        .collect();
    Json(json!({ "widgets": widgets }))
}

/// Parses `as_of`, `from`, `to` and repeated `org`; anything else is refused
/// so that a typo does not silently give another report.
fn parse_query(raw: Option<&str>) -> Result<ReportQuery, ApiError> {
    let mut query = ReportQuery::default();
    for (key, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        let value = value.into_owned();
        match key.as_ref() {
            "as_of" => query.as_of = Some(value),
            "from" => query.from = Some(value),
            "to" => query.to = Some(value),
            "org" => query.orgs.push(value),
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
    Ok(query)
}

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
    if let Some(bound) = &key.org {
        if query.orgs.iter().any(|o| o != bound.as_str()) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("this key may only read org `{bound}`"),
            ));
        }
        query.orgs = vec![bound.to_string()];
    }
    let report = Report::resolve(&query, (state.clock)(), &state.calendar)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.code, e.detail))?;
    let body = tokio::task::spawn_blocking(move || -> anyhow::Result<(String, &'static str)> {
        let facts = state.store.facts(&report)?;
        let cx = Ctx {
            report: &report,
            cal: &state.calendar,
            settings: &state.settings,
            facts: facts.as_ref(),
        };
        let table = (widget.compute)(&cx)?;
        Ok(if csv {
            (export::to_csv(&table), "text/csv; charset=utf-8")
        } else {
            (
                export::to_json(widget.id, &report, &table).to_string(),
                "application/json",
            )
        })
    })
    .await
    .map_err(|e| ApiError::internal(&anyhow::anyhow!("widget task failed: {e}")))?
    .map_err(|e| ApiError::internal(&e))?;
    let (text, content_type) = body;
    let mut response =
        (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], text).into_response();
    if csv {
        let disposition = format!("attachment; filename=\"{}.csv\"", widget.id);
        if let Ok(value) = HeaderValue::from_str(&disposition) {
            response
                .headers_mut()
                .insert(header::CONTENT_DISPOSITION, value);
        }
    }
    Ok(response)
}
