//! The AI and MCP area: agent invocations and MCP server calls.

use std::collections::{BTreeMap, BTreeSet};

use super::{Area, Cell, Chart, ColumnType, Ctx, NONE, Order, Table, Widget};
use crate::event::{EventBody, OrgSlug};

pub const INTERACTIONS_MONTHLY: Widget = Widget {
    id: "ai.interactions_monthly",
    title: "AI interactions",
    description: "AI agent invocations and MCP calls each month.",
    area: Area::Ai,
    chart: Chart::StackedBars,
    columns: &[
        ("month", ColumnType::Month),
        ("agent_invocations", ColumnType::Integer),
        ("mcp_calls", ColumnType::Integer),
        ("total", ColumnType::Integer),
    ],
    compute: interactions_monthly,
};

fn interactions_monthly(cx: &Ctx<'_>) -> Table {
    let mut table = Table::new(&["month", "agent_invocations", "mcp_calls", "total"]);
    for month in cx.report.months() {
        let (mut agents, mut mcp) = (0, 0);
        for event in cx
            .history
            .events()
            .iter()
            .filter(|e| cx.in_month(e.time, month))
        {
            match event.body {
                EventBody::AiInvocation { .. } => agents += 1,
                EventBody::McpCall { .. } => mcp += 1,
                _ => {}
            }
        }
        table.rows.push(vec![
            Cell::Month(month),
            Cell::Int(agents),
            Cell::Int(mcp),
            Cell::Int(agents + mcp),
        ]);
    }
    table
}

/// Invocations per month and one dimension of the invocation.
fn monthly_by(
    cx: &Ctx<'_>,
    columns: &'static [&'static str],
    key: fn(&EventBody) -> Option<&str>,
) -> Table {
    let mut table = Table::new(columns);
    for month in cx.report.months() {
        let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
        for event in cx
            .history
            .events()
            .iter()
            .filter(|e| cx.in_month(e.time, month))
        {
            if let Some(k) = key(&event.body) {
                *counts.entry(k).or_default() += 1;
            }
        }
        let mut rows: Vec<Vec<Cell>> = counts
            .into_iter()
            .map(|(k, n)| vec![Cell::Month(month), Cell::text(k), Cell::Int(n)])
            .collect();
        super::table::sort_rows(&mut rows, &[(2, Order::Desc)]);
        table.rows.extend(rows);
    }
    table
}

pub const BY_SOURCE: Widget = Widget {
    id: "ai.by_source",
    title: "AI invocations by source",
    description: "Where AI agents were invoked from, each month.",
    area: Area::Ai,
    chart: Chart::StackedBars,
    columns: &[
        ("month", ColumnType::Month),
        ("source", ColumnType::Text),
        ("invocations", ColumnType::Integer),
    ],
    compute: |cx| {
        monthly_by(cx, &["month", "source", "invocations"], |b| match b {
            EventBody::AiInvocation { source, .. } => Some(source),
            _ => None,
        })
    },
};

pub const BY_AGENT_TYPE: Widget = Widget {
    id: "ai.by_agent_type",
    title: "AI invocations by agent type",
    description: "Which kinds of AI agents were invoked, each month.",
    area: Area::Ai,
    chart: Chart::StackedBars,
    columns: &[
        ("month", ColumnType::Month),
        ("agent_type", ColumnType::Text),
        ("invocations", ColumnType::Integer),
    ],
    compute: |cx| {
        monthly_by(cx, &["month", "agent_type", "invocations"], |b| match b {
            EventBody::AiInvocation { agent_type, .. } => Some(agent_type),
            _ => None,
        })
    },
};

pub const MCP_MONTHLY: Widget = Widget {
    id: "ai.mcp_monthly",
    title: "MCP server usage",
    description: "Calls to the portal's MCP server each month, and how many people made them.",
    area: Area::Ai,
    chart: Chart::Line,
    columns: &[
        ("month", ColumnType::Month),
        ("calls", ColumnType::Integer),
        ("users", ColumnType::Integer),
    ],
    compute: mcp_monthly,
};

fn mcp_monthly(cx: &Ctx<'_>) -> Table {
    let mut table = Table::new(&["month", "calls", "users"]);
    for month in cx.report.months() {
        let mut calls = 0;
        let mut users = BTreeSet::new();
        for event in cx
            .history
            .events()
            .iter()
            .filter(|e| cx.in_month(e.time, month))
        {
            if let EventBody::McpCall { user, .. } = &event.body {
                calls += 1;
                users.extend(user.as_deref());
            }
        }
        table.rows.push(vec![
            Cell::Month(month),
            Cell::Int(calls),
            Cell::int(users.len()),
        ]);
    }
    table
}

pub const BY_SOURCE_ORG: Widget = Widget {
    id: "ai.by_source_org",
    title: "AI invocations by source and org",
    description: "AI agent invocations in the period by where they came from and org.",
    area: Area::Ai,
    chart: Chart::Table,
    columns: &[
        ("source", ColumnType::Text),
        ("org", ColumnType::Text),
        ("invocations", ColumnType::Integer),
    ],
    compute: by_source_org,
};

fn by_source_org(cx: &Ctx<'_>) -> Table {
    let mut counts: BTreeMap<(&str, &OrgSlug), i64> = BTreeMap::new();
    for event in cx.history.events().iter().filter(|e| cx.in_period(e.time)) {
        if let EventBody::AiInvocation { source, .. } = &event.body {
            *counts.entry((source.as_str(), &event.org)).or_default() += 1;
        }
    }
    let mut table = Table::new(&["source", "org", "invocations"]);
    table.rows = counts
        .into_iter()
        .map(|((s, o), n)| vec![Cell::text(s), Cell::text(o.as_str()), Cell::Int(n)])
        .collect();
    table.sort(&[(2, Order::Desc)]);
    table
}

pub const BY_USER_TYPE: Widget = Widget {
    id: "ai.by_user_type",
    title: "AI invocations by user and agent type",
    description: "Who invoked which kinds of AI agents in the period.",
    area: Area::Ai,
    chart: Chart::Table,
    columns: &[
        ("user", ColumnType::Text),
        ("name", ColumnType::Text),
        ("agent_type", ColumnType::Text),
        ("invocations", ColumnType::Integer),
    ],
    compute: by_user_type,
};

fn by_user_type(cx: &Ctx<'_>) -> Table {
    let mut counts: BTreeMap<(Option<&str>, &str), i64> = BTreeMap::new();
    for event in cx.history.events().iter().filter(|e| cx.in_period(e.time)) {
        if let EventBody::AiInvocation {
            user, agent_type, ..
        } = &event.body
        {
            *counts
                .entry((user.as_deref(), agent_type.as_str()))
                .or_default() += 1;
        }
    }
    let profiles = cx.history.profiles();
    let mut table = Table::new(&["user", "name", "agent_type", "invocations"]);
    for ((user, agent_type), n) in counts {
        let name = user
            .and_then(|u| profiles.get(u))
            .map_or("", |p| p.name.as_str());
        table.rows.push(vec![
            Cell::text(user.unwrap_or(NONE)),
            Cell::text(name),
            Cell::text(agent_type),
            Cell::Int(n),
        ]);
    }
    table.sort(&[(3, Order::Desc)]);
    table
}
