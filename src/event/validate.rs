//! Turns one parsed JSON value into an [`Event`] or a [`Rejection`],
//! exactly as `events.md` orders the checks: `id`, `type`, `org`, `time`,
//! then the type's required fields and its optional fields, each in the
//! order of the contract's table.

use std::collections::HashSet;

use serde::Serialize;

use super::json::Json;
use super::{EntityCount, Event, EventBody, EventKind, OrgSlug, Role, RunStatus, Trigger};
use crate::config::Limits;
use crate::time::{MICROS_PER_HOUR, Micros};

/// The earliest accepted `time`: 2000-01-01T00:00:00Z.
pub const EARLIEST_TIME: Micros = Micros(946_684_800 * 1_000_000);

/// The error codes of a rejected event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidJson,
    UnknownType,
    MissingField,
    InvalidField,
    TimeOutOfRange,
    OrgNotAllowed,
}

/// Why one event of a batch was not stored.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Rejection {
    /// The event's `id`, whenever it is a JSON string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub error: ErrorCode,
    pub detail: String,
}

impl Rejection {
    pub fn invalid_json(id: Option<String>, detail: impl Into<String>) -> Rejection {
        Rejection {
            id,
            error: ErrorCode::InvalidJson,
            detail: detail.into(),
        }
    }
}

/// What validation depends on besides the event itself.
pub struct Context<'a> {
    /// The org of an org-bound key (or `import --org`): events may omit
    /// `org`, and naming another one is `org_not_allowed`.
    pub bound_org: Option<&'a OrgSlug>,
    /// The server's clock; `time` may be at most `max_future_hours` later.
    pub now: Micros,
    pub limits: &'a Limits,
}

type Check<T> = Result<T, (ErrorCode, String)>;

/// Validates one event.
pub fn validate(value: &Json<'_>, cx: &Context<'_>) -> Result<Event, Rejection> {
    if !matches!(value, Json::Object(_)) {
        let detail = format!("an event must be a JSON object, not {}", value.kind_name());
        return Err(Rejection::invalid_json(None, detail));
    }
    let echoed_id = match value.get("id") {
        Some(Json::Str(s)) => Some(s.to_string()),
        _ => None,
    };
    validate_object(value, cx).map_err(|(error, detail)| Rejection {
        id: echoed_id,
        error,
        detail,
    })
}

fn validate_object(value: &Json<'_>, cx: &Context<'_>) -> Check<Event> {
    let fields = Fields {
        value,
        limits: cx.limits,
    };
    let id = match value.get("id") {
        None => return Err(missing("`id` is required")),
        Some(json) => fields.string_of("id", json, cx.limits.max_id_bytes)?,
    };
    let kind = match value.get("type") {
        None => return Err(missing("`type` is required")),
        Some(Json::Str(name)) => EventKind::from_name(name).ok_or_else(|| {
            (
                ErrorCode::UnknownType,
                format!("unknown type '{}'", shorten(name)),
            )
        })?,
        Some(_) => return Err(invalid("`type` must be a string")),
    };
    let org = check_org(value.get("org"), cx)?;
    let time = match value.get("time") {
        None => return Err(missing("`time` is required")),
        Some(Json::Str(s)) => Micros::parse_rfc3339(s)
            .ok_or_else(|| invalid("`time` is not an RFC 3339 date-time with offset"))?,
        Some(_) => return Err(invalid("`time` must be a string")),
    };
    let latest = Micros(cx.now.0 + cx.limits.max_future_hours as i64 * MICROS_PER_HOUR);
    if time < EARLIEST_TIME || time > latest {
        return Err((
            ErrorCode::TimeOutOfRange,
            "`time` is outside the accepted window".into(),
        ));
    }
    let body = fields.body(kind)?;
    Ok(Event {
        org,
        id,
        time,
        body,
    })
}

fn check_org(value: Option<&Json<'_>>, cx: &Context<'_>) -> Check<OrgSlug> {
    let org = match value {
        None => {
            return cx
                .bound_org
                .cloned()
                .ok_or_else(|| missing("`org` is required"));
        }
        Some(Json::Str(s)) => OrgSlug::parse(s).ok_or_else(|| invalid("`org` must be a slug"))?,
        Some(_) => return Err(invalid("`org` must be a string")),
    };
    match cx.bound_org {
        Some(bound) if *bound != org => Err((
            ErrorCode::OrgNotAllowed,
            format!("this key may only send events for org `{bound}`, not `{org}`"),
        )),
        _ => Ok(org),
    }
}

/// Field access for one event object, with the contract's string rules.
struct Fields<'v, 'a> {
    value: &'v Json<'a>,
    limits: &'v Limits,
}

impl Fields<'_, '_> {
    fn body(&self, kind: EventKind) -> Check<EventBody> {
        let t = kind.name();
        Ok(match kind {
            EventKind::Login => EventBody::Login {
                user: self.required("user", t)?,
            },
            EventKind::PageView => EventBody::PageView {
                user: self.required("user", t)?,
                page: self.required("page", t)?,
                title: self.optional("title")?,
            },
            EventKind::ActionRun => {
                let action = self.required("action", t)?;
                let trigger =
                    self.required_enum("trigger", t, Trigger::NAMES, Trigger::from_name)?;
                let user = self.optional("user")?;
                if trigger == Trigger::Ui && user.is_none() {
                    return Err(missing("`user` is required for action_run"));
                }
                EventBody::ActionRun {
                    action,
                    trigger,
                    user,
                    title: self.optional("action_title")?,
                    status: self.optional_enum("status", RunStatus::NAMES, RunStatus::from_name)?,
                }
            }
            EventKind::AutomationRun => EventBody::AutomationRun {
                automation: self.required("automation", t)?,
                title: self.optional("automation_title")?,
                status: self.optional_enum("status", RunStatus::NAMES, RunStatus::from_name)?,
            },
            EventKind::AiInvocation => EventBody::AiInvocation {
                agent: self.required("agent", t)?,
                agent_type: self.required("agent_type", t)?,
                source: self.required("source", t)?,
                user: self.optional("user")?,
            },
            EventKind::McpCall => EventBody::McpCall {
                tool: self.required("tool", t)?,
                user: self.optional("user")?,
            },
            EventKind::EntitySnapshot => EventBody::EntitySnapshot {
                counts: self.counts()?,
            },
            EventKind::DataSourceCreated => EventBody::DataSourceCreated {
                data_source: self.required("data_source", t)?,
                data_source_type: self.required("data_source_type", t)?,
                name: self.required("name", t)?,
            },
            EventKind::DataSourceDeleted => EventBody::DataSourceDeleted {
                data_source: self.required("data_source", t)?,
            },
            EventKind::MemberUpserted => EventBody::MemberUpserted {
                user: self.required("user", t)?,
                role: self.required_enum("role", t, Role::NAMES, Role::from_name)?,
                name: self.optional("name")?,
                email: self.optional("email")?,
                teams: self.teams()?,
            },
            EventKind::MemberRemoved => EventBody::MemberRemoved {
                user: self.required("user", t)?,
            },
        })
    }

    fn required(&self, name: &str, type_name: &str) -> Check<String> {
        match self.value.get(name) {
            None => Err(missing(format!("`{name}` is required for {type_name}"))),
            Some(json) => self.string_of(name, json, self.limits.max_string_bytes),
        }
    }

    fn optional(&self, name: &str) -> Check<Option<String>> {
        self.value
            .get(name)
            .map(|json| self.string_of(name, json, self.limits.max_string_bytes))
            .transpose()
    }

    fn required_enum<T>(
        &self,
        name: &str,
        type_name: &str,
        names: &[&str],
        parse: fn(&str) -> Option<T>,
    ) -> Check<T> {
        self.optional_enum(name, names, parse)?
            .ok_or_else(|| missing(format!("`{name}` is required for {type_name}")))
    }

    fn optional_enum<T>(
        &self,
        name: &str,
        names: &[&str],
        parse: fn(&str) -> Option<T>,
    ) -> Check<Option<T>> {
        match self.value.get(name) {
            None => Ok(None),
            Some(Json::Str(s)) => parse(s)
                .map(Some)
                .ok_or_else(|| invalid(format!("`{name}` must be one of {}", names.join(", ")))),
            Some(_) => Err(invalid(format!("`{name}` must be a string"))),
        }
    }

    /// A string field: a JSON string of 1 to `max_bytes` UTF-8 bytes with no
    /// control characters.
    fn string_of(&self, name: &str, json: &Json<'_>, max_bytes: usize) -> Check<String> {
        let Json::Str(s) = json else {
            return Err(invalid(format!("`{name}` must be a string")));
        };
        if s.is_empty() || s.len() > max_bytes {
            return Err(invalid(format!("`{name}` must be 1-{max_bytes} bytes")));
        }
        if s.chars().any(is_control) {
            return Err(invalid(format!("`{name}` contains control characters")));
        }
        Ok(s.to_string())
    }

    fn teams(&self) -> Check<Vec<String>> {
        let max = self.limits.max_teams;
        let shape_error = || invalid(format!("`teams` must be an array of at most {max} strings"));
        let items = match self.value.get("teams") {
            None => return Ok(Vec::new()),
            Some(Json::Array(items)) if items.len() <= max => items,
            Some(_) => return Err(shape_error()),
        };
        let mut teams = Vec::with_capacity(items.len());
        for item in items {
            if !matches!(item, Json::Str(_)) {
                return Err(shape_error());
            }
            teams.push(self.string_of("teams[]", item, self.limits.max_string_bytes)?);
        }
        teams.sort();
        teams.dedup();
        Ok(teams)
    }

    fn counts(&self) -> Check<Vec<EntityCount>> {
        let max = self.limits.max_counts;
        let items = match self.value.get("counts") {
            None => return Err(missing("`counts` is required for entity_snapshot")),
            Some(Json::Array(items)) if items.len() <= max => items,
            Some(_) => {
                return Err(invalid(format!(
                    "`counts` must be an array of at most {max} entries"
                )));
            }
        };
        let mut seen = HashSet::with_capacity(items.len());
        let mut counts = Vec::with_capacity(items.len());
        for item in items {
            if !matches!(item, Json::Object(_)) {
                return Err(invalid("`counts[]` must be an object"));
            }
            let entry = Fields {
                value: item,
                limits: self.limits,
            };
            let blueprint = entry.counts_member("blueprint")?;
            let data_source = entry.counts_member("data_source")?;
            let count = match item.get("count") {
                None => return Err(missing("`counts[].count` is required")),
                Some(Json::Int(n)) if (0..=MAX_COUNT as i128).contains(n) => *n as u64,
                Some(_) => {
                    return Err(invalid(format!(
                        "`counts[].count` must be an integer from 0 to {MAX_COUNT}"
                    )));
                }
            };
            if !seen.insert((blueprint.clone(), data_source.clone())) {
                return Err(invalid(format!(
                    "`counts` repeats the pair (`{}`, `{}`)",
                    shorten(&blueprint),
                    shorten(&data_source)
                )));
            }
            counts.push(EntityCount {
                blueprint,
                data_source,
                count,
            });
        }
        Ok(counts)
    }

    fn counts_member(&self, name: &str) -> Check<String> {
        let label = format!("counts[].{name}");
        match self.value.get(name) {
            None => Err(missing(format!("`{label}` is required"))),
            Some(json) => self.string_of(&label, json, self.limits.max_string_bytes),
        }
    }
}

/// The largest `count` of an entity snapshot entry: 10^12.
pub const MAX_COUNT: u64 = 1_000_000_000_000;

/// Control characters of the contract: U+0000–U+001F and U+007F–U+009F.
fn is_control(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}')
}

fn missing(detail: impl Into<String>) -> (ErrorCode, String) {
    (ErrorCode::MissingField, detail.into())
}

fn invalid(detail: impl Into<String>) -> (ErrorCode, String) {
    (ErrorCode::InvalidField, detail.into())
}

/// A sender's string quoted in a detail message, cut to keep details short.
fn shorten(s: &str) -> String {
    const MAX: usize = 64;
    if s.len() <= MAX {
        return s.escape_debug().to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", s[..end].escape_debug())
}

#[cfg(test)]
mod tests;
