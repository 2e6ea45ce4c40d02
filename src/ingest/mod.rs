//! The write path shared by HTTP and `import`: raw items are decoded and
//! validated here, then handed to the writers ([`writer`]), and the
//! outcome is summed up in a [`Summary`], the response of the contract.

pub mod writer;

use serde::Serialize;

use crate::event::Event;
use crate::event::framing::{Format, FramingError, Item};
use crate::event::json::Json;
use crate::event::validate::{Context, Rejection, validate};
use crate::store::BatchCounts;

pub use writer::{Ingestor, SubmitError, WriterHandle};

/// The response of an ingest request or an import.
#[derive(Debug, Default, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Summary {
    /// Events stored by this request.
    pub accepted: u64,
    /// Events whose `(org, id)` was already stored, or repeated in the request.
    pub duplicates: u64,
    pub rejected: Vec<RejectedEvent>,
}

impl Summary {
    pub fn add(&mut self, counts: BatchCounts) {
        self.accepted += counts.accepted;
        self.duplicates += counts.duplicates;
    }
}

/// An event that was not stored, and why.
#[derive(Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct RejectedEvent {
    /// 0-based position in the request (array index, or non-blank line).
    pub index: u64,
    #[serde(flatten)]
    pub rejection: Rejection,
}

/// A body (or file) that cannot be taken as a whole.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error(transparent)]
    Framing(#[from] FramingError),
    #[error("event {index} is not valid JSON, so the body is not a JSON array: {reason}")]
    BrokenArray { index: u64, reason: String },
}

/// Decodes one raw item: an event, or the reason it is rejected. In a JSON
/// array a syntax error breaks the whole body; in NDJSON only its line.
pub fn decode(
    item: &Item<'_>,
    format: Format,
    cx: &Context<'_>,
) -> Result<Result<Event, Rejection>, BodyError> {
    if item.truncated {
        let detail = format!(
            "the event is longer than {} bytes",
            cx.limits.max_body_bytes
        );
        return Ok(Err(Rejection::invalid_json(None, detail)));
    }
    if item.depth > cx.limits.max_depth {
        let detail = format!(
            "the event is nested deeper than {} levels",
            cx.limits.max_depth
        );
        return Ok(Err(Rejection::invalid_json(lenient_id(item.bytes), detail)));
    }
    match Json::parse(item.bytes) {
        Ok(tree) => Ok(validate(&tree, cx)),
        Err(e) if e.classify() == serde_json::error::Category::Data => {
            Ok(Err(Rejection::invalid_json(
                lenient_id(item.bytes),
                format!("the event is not valid JSON: {e}"),
            )))
        }
        Err(e) => match format {
            Format::Ndjson => Ok(Err(Rejection::invalid_json(
                None,
                format!("the line is not JSON: {e}"),
            ))),
            Format::Array => Err(BodyError::BrokenArray {
                index: item.index,
                reason: e.to_string(),
            }),
        },
    }
}

/// The `id` of an event refused as invalid JSON, when a forgiving parse
/// still finds it to be a string (the contract echoes it).
fn lenient_id(bytes: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    value.get("id")?.as_str().map(str::to_owned)
}

/// The events of one whole request, decoded before anything is stored.
#[derive(Debug, Default)]
pub struct Decoded {
    pub events: Vec<Event>,
    pub rejected: Vec<RejectedEvent>,
}

/// Why a request is refused as a whole.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error(transparent)]
    Body(#[from] BodyError),
    #[error("the request holds more than {0} events; send them in smaller batches")]
    TooManyEvents(usize),
}

/// Decodes every event of an in-memory body, refusing it whole when it is
/// malformed or holds more than `max_events_per_request` events.
pub fn decode_request(
    body: &[u8],
    format: Format,
    cx: &Context<'_>,
) -> Result<Decoded, RequestError> {
    let max_events = cx.limits.max_events_per_request;
    let mut items = crate::event::framing::Items::new(body, format, cx.limits.max_body_bytes);
    let mut decoded = Decoded::default();
    while let Some(item) = items.next_item().map_err(BodyError::from)? {
        if item.index as usize >= max_events {
            return Err(RequestError::TooManyEvents(max_events));
        }
        match decode(&item, format, cx)? {
            Ok(event) => decoded.events.push(event),
            Err(rejection) => decoded.rejected.push(RejectedEvent {
                index: item.index,
                rejection,
            }),
        }
    }
    Ok(decoded)
}
