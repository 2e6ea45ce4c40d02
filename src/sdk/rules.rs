//! Mapping rules from the config file (`[[sdk.mapping]]`): a named
//! track/capture becomes an Uptake event of a chosen type, its fields read
//! from the message by path or given as literals.

use serde_json::{Value, json};

use super::{Source, TYPES, event};
use crate::time::Micros;

/// `[[sdk.mapping]]`: a track/capture named `event` becomes an Uptake
/// event of `type`, its fields read from the message by path.
#[derive(Clone, Debug, serde::Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MappingRule {
    /// `segment`, `posthog` or `any`.
    #[serde(default = "any_source")]
    pub source: String,
    pub event: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// Uptake field → a dotted path into the message
    /// (`properties.service`), or a literal in single quotes (`'api'`).
    #[serde(default)]
    pub fields: std::collections::BTreeMap<String, String>,
}

fn any_source() -> String {
    "any".into()
}

/// Whether `rule` can be applied: its source and type are known and each
/// field is a path or a quoted literal. Said in words for the config
/// error.
pub fn check_rule(rule: &MappingRule) -> Result<(), String> {
    if !matches!(rule.source.as_str(), "any" | "segment" | "posthog") {
        return Err(format!(
            "`source = \"{}\"`: use \"segment\", \"posthog\" or \"any\"",
            rule.source
        ));
    }
    if rule.event.is_empty() {
        return Err("`event` is empty: name the track/capture event the rule maps".into());
    }
    if !TYPES.contains(&rule.kind.as_str()) {
        return Err(format!(
            "`type = \"{}\"` is not an Uptake event type (one of {})",
            rule.kind,
            TYPES.join(", ")
        ));
    }
    for (field, source) in &rule.fields {
        if matches!(field.as_str(), "id" | "type" | "time") {
            return Err(format!(
                "`fields.{field}`: the id, type and time come from the message itself"
            ));
        }
        if literal(source).is_none() && !is_path(source) {
            return Err(format!(
                "`fields.{field} = \"{source}\"`: write a dotted path into the message \
                 (properties.service) or a literal in single quotes ('api')"
            ));
        }
    }
    Ok(())
}

fn literal(source: &str) -> Option<&str> {
    source.strip_prefix('\'').and_then(|s| s.strip_suffix('\''))
}

fn is_path(source: &str) -> bool {
    !source.is_empty()
        && source.split('.').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '-'))
        })
}

/// The value `source` names in `message`: a literal, or the value at a
/// dotted path (absent when any step is missing).
fn value_at(message: &Value, source: &str) -> Option<Value> {
    if let Some(text) = literal(source) {
        return Some(json!(text));
    }
    let mut at = message;
    for part in source.split('.') {
        at = at.get(part)?;
    }
    (!at.is_null()).then(|| at.clone())
}

/// What the operator configured (`[sdk]`).
#[derive(Clone, Debug, Default)]
pub struct Mapping {
    pub rules: Vec<MappingRule>,
    pub identify_is_login: bool,
}

impl Mapping {
    pub(super) fn rule(&self, source: Source, event: &str) -> Option<&MappingRule> {
        self.rules
            .iter()
            .find(|r| r.event == event && (r.source == "any" || r.source == source.name()))
    }
}

/// The event a rule makes of a message; the message's user is the
/// event's unless the rule says otherwise.
pub(super) fn by_rule(
    rule: &MappingRule,
    message: &Value,
    id: &str,
    time: Micros,
    org: Option<&str>,
    user: Option<&str>,
) -> Value {
    let mut out = event(id, &rule.kind, time, org);
    if let Some(user) = user {
        out.insert("user".into(), json!(user));
    }
    for (field, source) in &rule.fields {
        if let Some(v) = value_at(message, source) {
            out.insert(field.clone(), v);
        }
    }
    Value::Object(out)
}
