//! The AI and MCP area: agent invocations and MCP server calls.

use std::collections::BTreeMap;

use rustc_hash::{FxHashMap, FxHashSet};

use super::facts::{Count, Counts, GroupBy, Metric, Name};
use super::{Area, Cell, Chart, ColumnType, Ctx, NONE, Order, Table, Widget};
use crate::calendar::Month;

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

fn interactions_monthly(cx: &Ctx<'_>) -> anyhow::Result<Table> {
    let period = cx.period();
    let agents = cx
        .facts
        .counts(Metric::AiInvocation, &period, GroupBy::ORG.month())?;
    let mcp = cx
        .facts
        .counts(Metric::McpCall, &period, GroupBy::ORG.month())?;
    let sum = |counts: &Counts, m| {
        counts
            .iter()
            .filter(|c| c.month == Some(m))
            .map(|c| c.n)
            .sum::<i64>()
    };
    let mut table = Table::default();
    for month in period {
        let (a, m) = (sum(&agents, month), sum(&mcp, month));
        table.push([
            Cell::Month(month),
            Cell::Int(a),
            Cell::Int(m),
            Cell::Int(a + m),
        ]);
    }
    Ok(table)
}

fn monthly_by(
    cx: &Ctx<'_>,
    keys: GroupBy,
    key: fn(&Count) -> Option<Name>,
) -> anyhow::Result<Table> {
    let counts = cx.facts.counts(Metric::AiInvocation, &cx.period(), keys)?;
    let mut table = Table::default();
    for month in cx.report.months() {
        let mut sums: BTreeMap<&str, i64> = BTreeMap::new();
        for count in counts.iter().filter(|c| c.month == Some(month)) {
            if let Some(k) = counts.str(key(count)) {
                *sums.entry(k).or_default() += count.n;
            }
        }
        let mut rows = Table::from_rows(
            sums.into_iter()
                .map(|(k, n)| vec![Cell::Month(month), Cell::text(k), Cell::Int(n)]),
        );
        rows.sort(&[(2, Order::Desc)]);
        table.append(rows);
    }
    Ok(table)
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
    compute: |cx| monthly_by(cx, GroupBy::ORG.month().facet(), |c| c.facet),
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
    compute: |cx| monthly_by(cx, GroupBy::ORG.month().subject(), |c| c.subject),
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

fn mcp_monthly(cx: &Ctx<'_>) -> anyhow::Result<Table> {
    let period = cx.period();
    let counts = cx
        .facts
        .counts(Metric::McpCall, &period, GroupBy::ORG.month().user())?;
    // One pass over the per-user cells: calls and distinct users by month.
    let mut by_month: FxHashMap<Month, (i64, FxHashSet<Name>)> = FxHashMap::default();
    for count in counts.iter() {
        if let Some(month) = count.month {
            let (calls, users) = by_month.entry(month).or_default();
            *calls += count.n;
            users.extend(count.user);
        }
    }
    let mut table = Table::default();
    for month in period {
        let (calls, users) = by_month.get(&month).map_or((0, 0), |(n, u)| (*n, u.len()));
        table.push([Cell::Month(month), Cell::Int(calls), Cell::int(users)]);
    }
    Ok(table)
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

fn by_source_org(cx: &Ctx<'_>) -> anyhow::Result<Table> {
    let counts = cx
        .facts
        .counts(Metric::AiInvocation, &cx.period(), GroupBy::ORG.facet())?;
    let mut sums: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    for count in counts.iter() {
        if let Some(source) = counts.str(count.facet) {
            *sums
                .entry((source, counts.org(count).as_str()))
                .or_default() += count.n;
        }
    }
    let mut table = Table::from_rows(
        sums.into_iter()
            .map(|((s, o), n)| vec![Cell::text(s), Cell::text(o), Cell::Int(n)]),
    );
    table.sort(&[(2, Order::Desc)]);
    Ok(table)
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

fn by_user_type(cx: &Ctx<'_>) -> anyhow::Result<Table> {
    // In no order: the table's sort orders the rows, ties included.
    let counts = cx.facts.counts(
        Metric::AiInvocation,
        &cx.period(),
        GroupBy::ORG.user().subject(),
    )?;
    let mut sums: FxHashMap<(Option<Name>, Name), i64> = FxHashMap::default();
    for count in counts.iter() {
        if let Some(agent_type) = count.subject {
            *sums.entry((count.user, agent_type)).or_default() += count.n;
        }
    }
    let profiles = cx.facts.profiles()?;
    let mut table = Table::default();
    for ((user, agent_type), n) in sums {
        let name = user
            .and_then(|u| profiles.get(&u))
            .map_or_else(Cell::empty, |p| Cell::shared(p.name()));
        table.push([
            user.map_or_else(|| Cell::text(NONE), |u| Cell::shared(counts.text(u))),
            name,
            Cell::shared(counts.text(agent_type)),
            Cell::Int(n),
        ]);
    }
    table.sort(&[(3, Order::Desc)]);
    Ok(table)
}
