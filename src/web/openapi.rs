//! `GET /api/v1/openapi.json`: the OpenAPI document of the whole HTTP API,
//! generated from the handlers' annotations and the response types they
//! really serialize; the widget ids come from the widget registry.

use axum::Json;
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};

use super::error::ErrorBody;
use super::widgets::{Catalogue, ColumnInfo, WidgetInfo};
use crate::event::validate::{ErrorCode, Rejection};
use crate::export::WidgetAnswer;
use crate::ingest::{RejectedEvent, Summary};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Uptake",
        description = "Usage and adoption dashboard for internal developer portals: event ingest and dashboard widgets."
    ),
    paths(super::ingest::post_events, super::widgets::catalogue, super::widgets::widget, super::healthz, super::sdk::segment, super::sdk::posthog, super::sdk::sources),
    components(schemas(Summary, RejectedEvent, Rejection, ErrorCode, ErrorBody, WidgetAnswer, Catalogue, WidgetInfo, ColumnInfo)),
    modifiers(&Security),
    tags((name = "ingest", description = "Sending events"), (name = "widgets", description = "Reading the dashboard's numbers"), (name = "sdk", description = "Events from the Segment and PostHog SDKs (docs/INTEGRATIONS.md)"))
)]
struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The document, as JSON.
pub fn document() -> serde_json::Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serializes");
    // The widget ids, from the registry, as the values the path takes.
    let ids: Vec<String> = crate::metrics::WIDGETS
        .iter()
        .flat_map(|w| [w.id.to_owned(), format!("{}.csv", w.id)])
        .collect();
    if let Some(params) = doc.pointer_mut("/paths/~1api~1v1~1widgets~1{name}/get/parameters")
        && let Some(list) = params.as_array_mut()
    {
        for param in list.iter_mut().filter(|p| p["name"] == "name") {
            param["schema"]["enum"] = serde_json::json!(ids);
        }
    }
    // The SDK routes that take the same body as the documented one.
    for (documented, aliases) in [
        (
            "/v1/batch",
            &[
                "/v1/track",
                "/v1/page",
                "/v1/screen",
                "/v1/identify",
                "/v1/group",
                "/v1/alias",
            ][..],
        ),
        ("/batch/", &["/capture/", "/e/", "/i/v0/e/"][..]),
    ] {
        if let Some(item) = doc["paths"].get(documented).cloned() {
            for alias in aliases {
                doc["paths"][*alias] = item.clone();
            }
        }
    }
    doc
}

pub async fn openapi_json() -> Json<serde_json::Value> {
    Json(document())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_lists_every_path_and_widget() {
        let doc = document();
        assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
        for path in [
            "/api/v1/events",
            "/api/v1/widgets",
            "/api/v1/widgets/{name}",
            "/healthz",
            "/v1/batch",
            "/v1/identify",
            "/batch/",
            "/i/v0/e/",
            "/api/v1/sources",
        ] {
            assert!(doc["paths"][path].is_object(), "{path} missing");
        }
        let names =
            &doc["paths"]["/api/v1/widgets/{name}"]["get"]["parameters"][0]["schema"]["enum"];
        assert_eq!(names.as_array().map(Vec::len), Some(48));
        assert!(doc["components"]["schemas"]["Summary"]["properties"]["rejected"].is_object());
    }
}
