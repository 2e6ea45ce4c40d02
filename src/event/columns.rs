//! An event's fields as a handful of generic columns: a kind, up to four
//! strings, a code and a list. The store keeps events this way (strings
//! interned as numbers), and rollups key their cells by the same columns
//! (see `rollup::cells`), so the one mapping lives here, below both.
//!
//! | kind | `user` | `subject` | `label` | `extra` | `code` | `list` |
//! | --- | --- | --- | --- | --- | --- | --- |
//! | login, member_removed | user | | | | | |
//! | page_view | user | page | title | | | |
//! | action_run | user | action | action_title | | trigger + 4 × status | |
//! | automation_run | | automation | automation_title | | status | |
//! | ai_invocation | user | agent | agent_type | source | | |
//! | mcp_call | user | tool | | | | |
//! | entity_snapshot | | | | | | counts (JSON) |
//! | data_source_created | | data_source | data_source_type | name | | |
//! | data_source_deleted | | data_source | | | | |
//! | member_upserted | user | | name | email | role | teams (JSON) |

use anyhow::Context;

use super::{EntityCount, EventBody, EventKind, Role, RunStatus, Trigger};

/// An event's columns besides `org`, `id` and `time`. `S` is a string as
/// the event holds it (`&str`), or as the store refers to it (an id).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Columns<S> {
    pub kind: i64,
    pub user: Option<S>,
    pub subject: Option<S>,
    pub label: Option<S>,
    pub extra: Option<S>,
    pub code: i64,
    pub list: Option<String>,
}

impl<S> Columns<S> {
    /// The same columns with each string turned into another form.
    pub fn map<T, E>(self, mut f: impl FnMut(S) -> Result<T, E>) -> Result<Columns<T>, E> {
        Ok(Columns {
            kind: self.kind,
            user: self.user.map(&mut f).transpose()?,
            subject: self.subject.map(&mut f).transpose()?,
            label: self.label.map(&mut f).transpose()?,
            extra: self.extra.map(&mut f).transpose()?,
            code: self.code,
            list: self.list,
        })
    }

    /// The strings of the columns, in column order.
    pub fn strings(&self) -> impl Iterator<Item = &S> {
        [&self.user, &self.subject, &self.label, &self.extra]
            .into_iter()
            .flatten()
    }
}

fn status_code(status: Option<RunStatus>) -> i64 {
    status.map_or(0, RunStatus::code)
}

pub fn to_columns(body: &EventBody) -> Columns<&str> {
    let kind = body.kind().code();
    let none = Columns {
        kind,
        ..Columns::default()
    };
    match body {
        EventBody::Login { user } | EventBody::MemberRemoved { user } => Columns {
            user: Some(user),
            ..none
        },
        EventBody::PageView { user, page, title } => Columns {
            user: Some(user),
            subject: Some(page),
            label: title.as_deref(),
            ..none
        },
        EventBody::ActionRun {
            action,
            trigger,
            user,
            title,
            status,
        } => Columns {
            user: user.as_deref(),
            subject: Some(action),
            label: title.as_deref(),
            code: trigger.code() + 4 * status_code(*status),
            ..none
        },
        EventBody::AutomationRun {
            automation,
            title,
            status,
        } => Columns {
            subject: Some(automation),
            label: title.as_deref(),
            code: status_code(*status),
            ..none
        },
        EventBody::AiInvocation {
            agent,
            agent_type,
            source,
            user,
        } => Columns {
            user: user.as_deref(),
            subject: Some(agent),
            label: Some(agent_type),
            extra: Some(source),
            ..none
        },
        EventBody::McpCall { tool, user } => Columns {
            user: user.as_deref(),
            subject: Some(tool),
            ..none
        },
        EventBody::EntitySnapshot { counts } => Columns {
            list: Some(encode_counts(counts)),
            ..none
        },
        EventBody::DataSourceCreated {
            data_source,
            data_source_type,
            name,
        } => Columns {
            subject: Some(data_source),
            label: Some(data_source_type),
            extra: Some(name),
            ..none
        },
        EventBody::DataSourceDeleted { data_source } => Columns {
            subject: Some(data_source),
            ..none
        },
        EventBody::MemberUpserted {
            user,
            role,
            name,
            email,
            teams,
        } => Columns {
            user: Some(user),
            label: name.as_deref(),
            extra: email.as_deref(),
            code: role.code(),
            list: Some(encode_teams(teams)),
            ..none
        },
    }
}

/// A snapshot's counts as stored: a JSON array of `[blueprint, data_source, count]`.
pub fn encode_counts(counts: &[EntityCount]) -> String {
    let list: Vec<(&str, &str, u64)> = counts
        .iter()
        .map(|c| (c.blueprint.as_str(), c.data_source.as_str(), c.count))
        .collect();
    serde_json::to_string(&list).expect("counts serialize")
}

pub fn decode_counts(text: &str) -> anyhow::Result<Vec<EntityCount>> {
    let list: Vec<(String, String, u64)> =
        serde_json::from_str(text).context("stored entity counts are not a JSON list")?;
    Ok(list
        .into_iter()
        .map(|(blueprint, data_source, count)| EntityCount {
            blueprint,
            data_source,
            count,
        })
        .collect())
}

/// A member's teams as stored: a JSON array of strings.
pub fn encode_teams(teams: &[String]) -> String {
    serde_json::to_string(teams).expect("teams serialize")
}

pub fn decode_teams(text: &str) -> anyhow::Result<Vec<String>> {
    serde_json::from_str(text).context("stored teams are not a JSON list")
}

/// The event body of stored columns, strings resolved.
pub fn from_columns(columns: Columns<String>) -> anyhow::Result<EventBody> {
    fn need(value: Option<String>, column: &str) -> anyhow::Result<String> {
        value.with_context(|| format!("stored event lacks its `{column}` column"))
    }
    let kind = EventKind::from_code(columns.kind)
        .with_context(|| format!("unknown stored kind {}", columns.kind))?;
    let status = |code: i64| match code {
        0 => Ok(None),
        c => RunStatus::from_code(c)
            .map(Some)
            .with_context(|| format!("unknown stored status {c}")),
    };
    let Columns {
        user,
        subject,
        label,
        extra,
        code,
        list,
        ..
    } = columns;
    Ok(match kind {
        EventKind::Login => EventBody::Login {
            user: need(user, "user")?,
        },
        EventKind::MemberRemoved => EventBody::MemberRemoved {
            user: need(user, "user")?,
        },
        EventKind::PageView => EventBody::PageView {
            user: need(user, "user")?,
            page: need(subject, "subject")?,
            title: label,
        },
        EventKind::ActionRun => EventBody::ActionRun {
            action: need(subject, "subject")?,
            trigger: Trigger::from_code(code % 4).context("unknown stored trigger")?,
            user,
            title: label,
            status: status(code / 4)?,
        },
        EventKind::AutomationRun => EventBody::AutomationRun {
            automation: need(subject, "subject")?,
            title: label,
            status: status(code)?,
        },
        EventKind::AiInvocation => EventBody::AiInvocation {
            agent: need(subject, "subject")?,
            agent_type: need(label, "label")?,
            source: need(extra, "extra")?,
            user,
        },
        EventKind::McpCall => EventBody::McpCall {
            tool: need(subject, "subject")?,
            user,
        },
        EventKind::EntitySnapshot => EventBody::EntitySnapshot {
            counts: decode_counts(&need(list, "list")?)?,
        },
        EventKind::DataSourceCreated => EventBody::DataSourceCreated {
            data_source: need(subject, "subject")?,
            data_source_type: need(label, "label")?,
            name: need(extra, "extra")?,
        },
        EventKind::DataSourceDeleted => EventBody::DataSourceDeleted {
            data_source: need(subject, "subject")?,
        },
        EventKind::MemberUpserted => EventBody::MemberUpserted {
            user: need(user, "user")?,
            role: Role::from_code(code).context("unknown stored role")?,
            name: label,
            email: extra,
            teams: decode_teams(&need(list, "list")?)?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_columns() {
        let bodies = [
            EventBody::Login { user: "u".into() },
            EventBody::PageView {
                user: "u".into(),
                page: "/".into(),
                title: Some("Home".into()),
            },
            EventBody::ActionRun {
                action: "deploy".into(),
                trigger: Trigger::Api,
                user: None,
                title: Some("Deploy".into()),
                status: Some(RunStatus::Failure),
            },
            EventBody::AutomationRun {
                automation: "sync".into(),
                title: None,
                status: Some(RunStatus::InProgress),
            },
            EventBody::AiInvocation {
                agent: "a".into(),
                agent_type: "t".into(),
                source: "slack".into(),
                user: Some("u".into()),
            },
            EventBody::McpCall {
                tool: "get".into(),
                user: None,
            },
            EventBody::EntitySnapshot {
                counts: vec![EntityCount {
                    blueprint: "service".into(),
                    data_source: "github".into(),
                    count: 3,
                }],
            },
            EventBody::DataSourceCreated {
                data_source: "gh".into(),
                data_source_type: "github".into(),
                name: "GitHub".into(),
            },
            EventBody::DataSourceDeleted {
                data_source: "gh".into(),
            },
            EventBody::MemberUpserted {
                user: "u".into(),
                role: Role::Admin,
                name: None,
                email: Some("u@x".into()),
                teams: vec!["a".into(), "b".into()],
            },
            EventBody::MemberRemoved { user: "u".into() },
        ];
        for body in bodies {
            let columns = to_columns(&body)
                .map(|s| Ok::<_, ()>(s.to_owned()))
                .unwrap();
            assert_eq!(from_columns(columns).unwrap(), body);
        }
    }
}
