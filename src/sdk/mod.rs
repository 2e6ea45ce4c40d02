//! Events from the analytics SDKs portals already use: Segment's tracking
//! API and PostHog's capture API, mapped to Uptake's events by a default
//! that needs no configuration (`docs/INTEGRATIONS.md`).
//!
//! A message becomes an Uptake event as JSON, which then goes through the
//! same validation as `POST /api/v1/events`; a message that maps to no
//! event is ignored and counted by name, so an operator sees what a
//! source sends that Uptake does not use. Knows nothing of HTTP.

use serde_json::{Map, Value, json};

use crate::time::Micros;

mod rules;
use rules::by_rule;
pub use rules::{Mapping, MappingRule, check_rule};

/// Where a message came from, as counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Segment,
    PostHog,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::Segment => "segment",
            Source::PostHog => "posthog",
        }
    }
}

/// What a message became.
#[derive(Debug, PartialEq)]
pub enum Mapped {
    /// An Uptake event, as the contract's JSON.
    Event(Value),
    /// Nothing Uptake counts; its event name (or call type), its org if
    /// it names one, and its time.
    Ignored {
        name: String,
        org: Option<String>,
        time: Micros,
    },
}

/// Uptake's event types, which a track/capture may name directly.
const TYPES: &[&str] = &[
    "login",
    "page_view",
    "action_run",
    "automation_run",
    "ai_invocation",
    "mcp_call",
    "entity_snapshot",
    "data_source_created",
    "data_source_deleted",
    "member_upserted",
    "member_removed",
];

/// Event names that mean a sign-in.
const SIGN_INS: &[&str] = &["Signed In", "Logged In", "signed_in", "logged_in"];

fn text(value: Option<&Value>) -> Option<&str> {
    value.and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// The instant a message happened: its own timestamp moved by the
/// client's clock error (`received - sent`), as the SDKs' servers do;
/// without a timestamp, when it was received.
fn corrected(timestamp: Option<&str>, sent_at: Option<&str>, now: Micros) -> Micros {
    let Some(at) = timestamp.and_then(Micros::parse_rfc3339) else {
        return now;
    };
    match sent_at.and_then(Micros::parse_rfc3339) {
        Some(sent) => Micros(at.0.saturating_add(now.0.saturating_sub(sent.0))),
        None => at,
    }
}

/// Starts an Uptake event: id, type, time, and the org when the message
/// names one (an org-bound key supplies it otherwise).
fn event(id: &str, kind: &str, time: Micros, org: Option<&str>) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("id".into(), json!(id));
    out.insert("type".into(), json!(kind));
    out.insert("time".into(), json!(time.to_string()));
    if let Some(org) = org {
        out.insert("org".into(), json!(org));
    }
    out
}

/// Copies `properties` into an event of a type named directly, keeping
/// what the event already has (id, type, time).
fn with_properties(mut out: Map<String, Value>, properties: Option<&Value>) -> Map<String, Value> {
    if let Some(Value::Object(props)) = properties {
        for (k, v) in props {
            if matches!(k.as_str(), "id" | "type" | "time" | "org") || k.starts_with('$') {
                continue;
            }
            out.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    out
}

/// The path of a URL, or the text itself when it is no URL.
fn path_of(url: &str) -> &str {
    match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| {
            let path = &rest[i..];
            path.split(['?', '#']).next().unwrap_or(path)
        }),
        None => url,
    }
}

/// One Segment message (`type` from the message or the route): usually
/// one event, two for an identify that also counts as a login.
pub fn segment(
    message: &Value,
    kind: &str,
    sent_at: Option<&str>,
    now: Micros,
    mapping: &Mapping,
) -> Vec<Mapped> {
    let first = segment_one(message, kind, sent_at, now, mapping);
    let user = text(message.get("userId"));
    with_login(first, kind == "identify", user, mapping)
}

/// When identifies count as logins (`[sdk] identify_is_login`), a login
/// beside what the identify became, with an id of its own.
fn with_login(first: Mapped, identify: bool, user: Option<&str>, mapping: &Mapping) -> Vec<Mapped> {
    let login = match (&first, user) {
        (Mapped::Event(e), Some(user)) if identify && mapping.identify_is_login => {
            let mut login = e.as_object().cloned().unwrap_or_default();
            login.retain(|k, _| matches!(k.as_str(), "id" | "time" | "org"));
            let id = format!("{}:login", e["id"].as_str().unwrap_or(""));
            login.insert("id".into(), json!(id));
            login.insert("type".into(), json!("login"));
            login.insert("user".into(), json!(user));
            Some(Mapped::Event(Value::Object(login)))
        }
        _ => None,
    };
    std::iter::once(first).chain(login).collect()
}

fn segment_one(
    message: &Value,
    kind: &str,
    sent_at: Option<&str>,
    now: Micros,
    mapping: &Mapping,
) -> Mapped {
    let get = |k: &str| message.get(k);
    let props = get("properties");
    let traits = get("traits").or_else(|| get("context").and_then(|c| c.get("traits")));
    let org = text(props.and_then(|p| p.get("org")))
        .or_else(|| text(traits.and_then(|t| t.get("org"))))
        .or_else(|| text(get("context").and_then(|c| c.get("org"))))
        .map(str::to_owned);
    let time = corrected(
        text(get("timestamp")).or_else(|| text(get("originalTimestamp"))),
        sent_at.or_else(|| text(get("sentAt"))),
        now,
    );
    let ignored = |name: &str| Mapped::Ignored {
        name: name.to_owned(),
        org: org.clone(),
        time,
    };
    let Some(id) = text(get("messageId")) else {
        return ignored(kind);
    };
    let user = text(get("userId"));
    let org = org.as_deref();
    match kind {
        "page" | "screen" => {
            let Some(user) = user else {
                return ignored(kind);
            };
            let name = text(get("name"));
            let page = text(props.and_then(|p| p.get("path")))
                .or_else(|| text(props.and_then(|p| p.get("url"))).map(path_of))
                .or(name);
            let Some(page) = page else {
                return ignored(kind);
            };
            let mut out = event(id, "page_view", time, org);
            out.insert("user".into(), json!(user));
            out.insert("page".into(), json!(page));
            if let Some(title) = text(props.and_then(|p| p.get("title"))).or(name) {
                out.insert("title".into(), json!(title));
            }
            Mapped::Event(Value::Object(out))
        }
        "track" => {
            let Some(name) = text(get("event")) else {
                return ignored("track");
            };
            if let Some(rule) = mapping.rule(Source::Segment, name) {
                return Mapped::Event(by_rule(rule, message, id, time, org, user));
            }
            if SIGN_INS.contains(&name) {
                let Some(user) = user else {
                    return ignored(name);
                };
                let mut out = event(id, "login", time, org);
                out.insert("user".into(), json!(user));
                return Mapped::Event(Value::Object(out));
            }
            if TYPES.contains(&name) {
                let mut out = event(id, name, time, org);
                if let Some(user) = user {
                    out.insert("user".into(), json!(user));
                }
                return Mapped::Event(Value::Object(with_properties(out, props)));
            }
            ignored(name)
        }
        "identify" => {
            let (Some(user), Some(traits)) = (user, traits) else {
                return ignored("identify");
            };
            let Some(role) = text(traits.get("role")) else {
                return ignored("identify");
            };
            let mut out = event(id, "member_upserted", time, org);
            out.insert("user".into(), json!(user));
            out.insert("role".into(), json!(role));
            for field in ["name", "email", "teams"] {
                if let Some(v) = traits.get(field).filter(|v| !v.is_null()) {
                    out.insert(field.into(), v.clone());
                }
            }
            Mapped::Event(Value::Object(out))
        }
        other => ignored(other),
    }
}

/// One PostHog event: usually one Uptake event, two for an identify that
/// also counts as a login.
pub fn posthog(
    message: &Value,
    sent_at: Option<&str>,
    now: Micros,
    mapping: &Mapping,
) -> Vec<Mapped> {
    let first = posthog_one(message, sent_at, now, mapping);
    let identify = text(message.get("event")) == Some("$identify");
    let user = text(message.get("distinct_id"));
    with_login(first, identify, user, mapping)
}

fn posthog_one(message: &Value, sent_at: Option<&str>, now: Micros, mapping: &Mapping) -> Mapped {
    let get = |k: &str| message.get(k);
    let props = get("properties");
    let prop = |k: &str| text(props.and_then(|p| p.get(k)));
    let org = prop("org").map(str::to_owned);
    let time = match (
        text(get("timestamp")),
        props
            .and_then(|p| p.get("$offset"))
            .or(get("offset"))
            .and_then(Value::as_i64),
    ) {
        (Some(ts), _) => corrected(Some(ts), sent_at.or_else(|| text(get("sent_at"))), now),
        (None, Some(offset_ms)) => Micros(now.0.saturating_sub(offset_ms.saturating_mul(1000))),
        (None, None) => now,
    };
    let name = text(get("event")).unwrap_or("").to_owned();
    let ignored = |name: &str| Mapped::Ignored {
        name: name.to_owned(),
        org: org.clone(),
        time,
    };
    let id = text(get("uuid")).or_else(|| prop("$insert_id"));
    let Some(id) = id else {
        return ignored(&name);
    };
    let user = text(get("distinct_id")).or_else(|| prop("distinct_id"));
    let org = org.as_deref();
    if let Some(rule) = mapping.rule(Source::PostHog, &name) {
        return Mapped::Event(by_rule(rule, message, id, time, org, user));
    }
    match name.as_str() {
        "$pageview" | "$screen" => {
            let Some(user) = user else {
                return ignored(&name);
            };
            let page = prop("$pathname")
                .or_else(|| prop("$current_url").map(path_of))
                .or_else(|| prop("$screen_name"));
            let Some(page) = page else {
                return ignored(&name);
            };
            let mut out = event(id, "page_view", time, org);
            out.insert("user".into(), json!(user));
            out.insert("page".into(), json!(page));
            if let Some(title) = prop("title").or_else(|| prop("$title")) {
                out.insert("title".into(), json!(title));
            }
            Mapped::Event(Value::Object(out))
        }
        "$identify" | "$set" => {
            let set = get("$set").or_else(|| props.and_then(|p| p.get("$set")));
            let (Some(user), Some(set)) = (user, set) else {
                return ignored(&name);
            };
            let Some(role) = text(set.get("role")) else {
                return ignored(&name);
            };
            let mut out = event(id, "member_upserted", time, org);
            out.insert("user".into(), json!(user));
            out.insert("role".into(), json!(role));
            for field in ["name", "email", "teams"] {
                if let Some(v) = set.get(field).filter(|v| !v.is_null()) {
                    out.insert(field.into(), v.clone());
                }
            }
            Mapped::Event(Value::Object(out))
        }
        "$ai_generation" => {
            let Some(agent) = prop("agent").or_else(|| prop("$ai_model")) else {
                return ignored(&name);
            };
            let mut out = event(id, "ai_invocation", time, org);
            out.insert("agent".into(), json!(agent));
            out.insert(
                "agent_type".into(),
                json!(
                    prop("agent_type")
                        .or_else(|| prop("$ai_provider"))
                        .unwrap_or("llm")
                ),
            );
            out.insert("source".into(), json!(prop("source").unwrap_or("api")));
            if let Some(user) = user {
                out.insert("user".into(), json!(user));
            }
            Mapped::Event(Value::Object(out))
        }
        "$mcp_tool_call" => {
            let Some(tool) = prop("tool").or_else(|| prop("$mcp_tool_name")) else {
                return ignored(&name);
            };
            let mut out = event(id, "mcp_call", time, org);
            out.insert("tool".into(), json!(tool));
            if let Some(user) = user {
                out.insert("user".into(), json!(user));
            }
            Mapped::Event(Value::Object(out))
        }
        n if SIGN_INS.contains(&n) => {
            let Some(user) = user else {
                return ignored(&name);
            };
            let mut out = event(id, "login", time, org);
            out.insert("user".into(), json!(user));
            Mapped::Event(Value::Object(out))
        }
        n if TYPES.contains(&n) => {
            let mut out = event(id, n, time, org);
            if let Some(user) = user {
                out.insert("user".into(), json!(user));
            }
            Mapped::Event(Value::Object(with_properties(out, props)))
        }
        _ => ignored(&name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(mut mapped: Vec<Mapped>) -> Mapped {
        assert_eq!(mapped.len(), 1, "{mapped:?}");
        mapped.remove(0)
    }

    fn now() -> Micros {
        Micros::parse_rfc3339("2026-10-01T12:00:10Z").unwrap()
    }

    #[test]
    fn segment_pages_sign_ins_and_named_types_map_to_uptake_events() {
        let page = json!({"messageId": "m1", "userId": "ann", "name": "Catalog",
            "properties": {"url": "https://portal.example/catalog?x=1", "org": "acme-eu"},
            "timestamp": "2026-10-01T12:00:00Z", "sentAt": "2026-10-01T12:00:05Z"});
        let Mapped::Event(e) = one(segment(&page, "page", None, now(), &Mapping::default())) else {
            panic!()
        };
        assert_eq!(e["type"], "page_view");
        assert_eq!(e["page"], "/catalog");
        assert_eq!(e["title"], "Catalog");
        assert_eq!(e["org"], "acme-eu");
        // The client's clock was 5 s behind when it sent.
        assert_eq!(e["time"], "2026-10-01T12:00:05Z");

        let run = json!({"messageId": "m2", "userId": "ann", "event": "action_run",
            "properties": {"action": "deploy", "trigger": "ui", "$lib": "x"}});
        let Mapped::Event(e) = one(segment(&run, "track", None, now(), &Mapping::default())) else {
            panic!()
        };
        assert_eq!(e["action"], "deploy");
        assert_eq!(e["user"], "ann");
        assert!(e.get("$lib").is_none());

        let sign_in = json!({"messageId": "m3", "userId": "ann", "event": "Signed In"});
        assert!(
            matches!(one(segment(&sign_in, "track", None, now(), &Mapping::default())), Mapped::Event(e) if e["type"] == "login")
        );
        let other = json!({"messageId": "m4", "userId": "ann", "event": "Clicked Button"});
        assert!(
            matches!(one(segment(&other, "track", None, now(), &Mapping::default())), Mapped::Ignored { name, .. } if name == "Clicked Button")
        );
    }

    #[test]
    fn posthog_pageviews_identifies_and_ai_calls_map() {
        let view = json!({"uuid": "u1", "event": "$pageview", "distinct_id": "bob",
            "properties": {"$current_url": "https://p.example/self-serve#top"}});
        assert!(
            matches!(one(posthog(&view, None, now(), &Mapping::default())), Mapped::Event(e) if e["page"] == "/self-serve")
        );
        let identify = json!({"uuid": "u2", "event": "$identify", "distinct_id": "bob",
            "$set": {"role": "admin", "teams": ["sre"], "email": "b@x"}});
        let Mapped::Event(e) = one(posthog(&identify, None, now(), &Mapping::default())) else {
            panic!()
        };
        assert_eq!(e["type"], "member_upserted");
        assert_eq!(e["teams"], json!(["sre"]));
        let mcp =
            json!({"uuid": "u3", "event": "$mcp_tool_call", "properties": {"tool": "search"}});
        assert!(
            matches!(one(posthog(&mcp, None, now(), &Mapping::default())), Mapped::Event(e) if e["type"] == "mcp_call")
        );
        let no_id = json!({"event": "$pageview", "distinct_id": "bob"});
        assert!(matches!(
            one(posthog(&no_id, None, now(), &Mapping::default())),
            Mapped::Ignored { .. }
        ));
    }

    #[test]
    fn rules_map_named_events_and_identifies_can_be_logins() {
        let rule: MappingRule = toml::from_str(
            "event = \"Deployment Requested\"\ntype = \"action_run\"\n[fields]\naction = \"properties.service\"\ntrigger = \"'api'\"\n",
        )
        .unwrap();
        assert!(check_rule(&rule).is_ok());
        let mapping = Mapping {
            rules: vec![rule.clone()],
            identify_is_login: true,
        };
        let message = json!({"messageId": "m1", "userId": "ann", "event": "Deployment Requested",
            "properties": {"service": "billing"}});
        let Mapped::Event(e) = one(segment(&message, "track", None, now(), &mapping)) else {
            panic!()
        };
        assert_eq!(
            (&e["type"], &e["action"], &e["trigger"], &e["user"]),
            (
                &json!("action_run"),
                &json!("billing"),
                &json!("api"),
                &json!("ann")
            )
        );
        let identify = json!({"messageId": "m2", "userId": "ann", "traits": {"role": "member"}});
        let both = segment(&identify, "identify", None, now(), &mapping);
        assert_eq!(both.len(), 2);
        assert!(
            matches!(&both[1], Mapped::Event(e) if e["type"] == "login" && e["id"] == "m2:login")
        );

        for (bad, says) in [
            (
                MappingRule {
                    kind: "deploy".into(),
                    ..rule.clone()
                },
                "not an Uptake event type",
            ),
            (
                MappingRule {
                    source: "mixpanel".into(),
                    ..rule.clone()
                },
                "use \"segment\"",
            ),
            (
                MappingRule {
                    event: String::new(),
                    ..rule.clone()
                },
                "`event` is empty",
            ),
        ] {
            assert!(check_rule(&bad).unwrap_err().contains(says), "{says}");
        }
        let mut bad_path = rule;
        bad_path
            .fields
            .insert("user".into(), "properties..who".into());
        assert!(check_rule(&bad_path).unwrap_err().contains("`fields.user"));
    }
}
