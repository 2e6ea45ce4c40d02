//! The mapping between an [`EventBody`] and the generic columns of the
//! `events` table, shared by every engine so that they store alike.

use anyhow::Context;

use crate::event::{EntityCount, EventBody, EventKind, Role, RunStatus, Trigger};

/// An event's columns besides `org`, `id` and `time`; strings are
/// interned by the engine.
#[derive(Debug, Default, PartialEq)]
pub struct Row<'e> {
    pub kind: i64,
    pub user: Option<&'e str>,
    pub subject: Option<&'e str>,
    pub label: Option<&'e str>,
    pub extra: Option<&'e str>,
    pub code: i64,
    pub list: Option<String>,
}

fn status_code(status: Option<RunStatus>) -> i64 {
    status.map_or(0, RunStatus::code)
}

pub fn to_row(body: &EventBody) -> Row<'_> {
    let kind = body.kind().code();
    let row = Row {
        kind,
        ..Row::default()
    };
    match body {
        EventBody::Login { user } | EventBody::MemberRemoved { user } => Row {
            user: Some(user),
            ..row
        },
        EventBody::PageView { user, page, title } => Row {
            user: Some(user),
            subject: Some(page),
            label: title.as_deref(),
            ..row
        },
        EventBody::ActionRun {
            action,
            trigger,
            user,
            title,
            status,
        } => Row {
            user: user.as_deref(),
            subject: Some(action),
            label: title.as_deref(),
            code: trigger.code() + 4 * status_code(*status),
            ..row
        },
        EventBody::AutomationRun {
            automation,
            title,
            status,
        } => Row {
            subject: Some(automation),
            label: title.as_deref(),
            code: status_code(*status),
            ..row
        },
        EventBody::AiInvocation {
            agent,
            agent_type,
            source,
            user,
        } => Row {
            user: user.as_deref(),
            subject: Some(agent),
            label: Some(agent_type),
            extra: Some(source),
            ..row
        },
        EventBody::McpCall { tool, user } => Row {
            user: user.as_deref(),
            subject: Some(tool),
            ..row
        },
        EventBody::EntitySnapshot { counts } => Row {
            list: Some(encode_counts(counts)),
            ..row
        },
        EventBody::DataSourceCreated {
            data_source,
            data_source_type,
            name,
        } => Row {
            subject: Some(data_source),
            label: Some(data_source_type),
            extra: Some(name),
            ..row
        },
        EventBody::DataSourceDeleted { data_source } => Row {
            subject: Some(data_source),
            ..row
        },
        EventBody::MemberUpserted {
            user,
            role,
            name,
            email,
            teams,
        } => Row {
            user: Some(user),
            label: name.as_deref(),
            extra: email.as_deref(),
            code: role.code(),
            list: Some(serde_json::to_string(teams).expect("teams serialize")),
            ..row
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
    let list: Vec<(String, String, u64)> = serde_json::from_str(text)?;
    Ok(list
        .into_iter()
        .map(|(blueprint, data_source, count)| EntityCount {
            blueprint,
            data_source,
            count,
        })
        .collect())
}

/// A stored row read back, with its strings resolved.
pub struct StoredRow {
    pub kind: i64,
    pub user: Option<String>,
    pub subject: Option<String>,
    pub label: Option<String>,
    pub extra: Option<String>,
    pub code: i64,
    pub list: Option<String>,
}

pub fn from_row(row: StoredRow) -> anyhow::Result<EventBody> {
    fn need(value: Option<String>, column: &str) -> anyhow::Result<String> {
        value.with_context(|| format!("stored event lacks its `{column}` column"))
    }
    let kind = EventKind::from_code(row.kind)
        .with_context(|| format!("unknown stored kind {}", row.kind))?;
    let status = |code: i64| match code {
        0 => Ok(None),
        c => RunStatus::from_code(c)
            .map(Some)
            .with_context(|| format!("unknown stored status {c}")),
    };
    Ok(match kind {
        EventKind::Login => EventBody::Login {
            user: need(row.user, "user")?,
        },
        EventKind::MemberRemoved => EventBody::MemberRemoved {
            user: need(row.user, "user")?,
        },
        EventKind::PageView => EventBody::PageView {
            user: need(row.user, "user")?,
            page: need(row.subject, "subject")?,
            title: row.label,
        },
        EventKind::ActionRun => EventBody::ActionRun {
            action: need(row.subject, "subject")?,
            trigger: Trigger::from_code(row.code % 4).context("unknown stored trigger")?,
            user: row.user,
            title: row.label,
            status: status(row.code / 4)?,
        },
        EventKind::AutomationRun => EventBody::AutomationRun {
            automation: need(row.subject, "subject")?,
            title: row.label,
            status: status(row.code)?,
        },
        EventKind::AiInvocation => EventBody::AiInvocation {
            agent: need(row.subject, "subject")?,
            agent_type: need(row.label, "label")?,
            source: need(row.extra, "extra")?,
            user: row.user,
        },
        EventKind::McpCall => EventBody::McpCall {
            tool: need(row.subject, "subject")?,
            user: row.user,
        },
        EventKind::EntitySnapshot => EventBody::EntitySnapshot {
            counts: decode_counts(&need(row.list, "list")?)?,
        },
        EventKind::DataSourceCreated => EventBody::DataSourceCreated {
            data_source: need(row.subject, "subject")?,
            data_source_type: need(row.label, "label")?,
            name: need(row.extra, "extra")?,
        },
        EventKind::DataSourceDeleted => EventBody::DataSourceDeleted {
            data_source: need(row.subject, "subject")?,
        },
        EventKind::MemberUpserted => EventBody::MemberUpserted {
            user: need(row.user, "user")?,
            role: Role::from_code(row.code).context("unknown stored role")?,
            name: row.label,
            email: row.extra,
            teams: serde_json::from_str(&need(row.list, "list")?)?,
        },
    })
}
