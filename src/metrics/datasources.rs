//! The data sources area: how many integrations feed the catalog, and
//! their history.

use std::collections::BTreeMap;

use super::facts::{SourceEvent, SourceSummary};
use super::{Area, Cell, Chart, ColumnType, Ctx, Order, Table, Widget};
use crate::calendar::Month;
use crate::event::OrgSlug;
use crate::time::Micros;

/// Whether the latest event at or before `t` is a creation.
fn exists_at(events: &[SourceEvent], t: Micros) -> bool {
    events
        .iter()
        .take_while(|e| e.time <= t)
        .last()
        .is_some_and(|e| e.created.is_some())
}

/// [`crate::metrics::facts::Facts::data_source_summaries`] from whole
/// histories (each in state order, up to `as_of`): the reference reading.
pub fn summaries_of(
    sources: &BTreeMap<(OrgSlug, String), Vec<SourceEvent>>,
) -> BTreeMap<(OrgSlug, String), SourceSummary> {
    let mut out = BTreeMap::new();
    for (key, events) in sources {
        let mut creations = events
            .iter()
            .filter_map(|e| e.created.as_ref().map(|c| (e.time, c)));
        let Some((first_created, first)) = creations.next() else {
            continue;
        };
        let (_, (kind, name)) = creations.next_back().unwrap_or((first_created, first));
        let last = events.last().expect("a created source has events");
        out.insert(
            key.clone(),
            SourceSummary {
                first_created,
                kind: kind.clone(),
                name: name.clone(),
                deleted_at: last.created.is_none().then_some(last.time),
            },
        );
    }
    out
}

/// [`crate::metrics::facts::Facts::data_sources_existing`] from whole
/// histories: the reference reading.
pub fn existing_of(
    sources: &BTreeMap<(OrgSlug, String), Vec<SourceEvent>>,
    times: &[Micros],
) -> Vec<i64> {
    times
        .iter()
        .map(|t| {
            sources
                .values()
                .filter(|events| exists_at(events, *t))
                .count() as i64
        })
        .collect()
}

pub const MONTHLY: Widget = Widget {
    id: "datasources.monthly",
    title: "Data sources",
    description: "Data sources feeding the catalog at the end of each month.",
    area: Area::DataSources,
    chart: Chart::Line,
    columns: &[
        ("month", ColumnType::Month),
        ("total", ColumnType::Integer),
        ("change", ColumnType::Integer),
    ],
    compute: monthly,
};

fn monthly(cx: &Ctx<'_>) -> anyhow::Result<Table> {
    let months: Vec<Month> = cx.report.months().collect();
    // The end of each month, after the end of the month before the first.
    let mut times: Vec<Micros> = Vec::with_capacity(months.len() + 1);
    if let Some(first) = months.first() {
        times.push(cx.end(first.plus(-1)));
    }
    times.extend(months.iter().map(|m| cx.end(*m)));
    let totals = cx.facts.data_sources_existing(&times)?;
    let mut table = Table::default();
    for (i, month) in months.iter().enumerate() {
        table.push([
            Cell::Month(*month),
            Cell::Int(totals[i + 1]),
            Cell::Int(totals[i + 1] - totals[i]),
        ]);
    }
    Ok(table)
}

pub const LOG: Widget = Widget {
    id: "datasources.log",
    title: "Data sources log",
    description: "Every data source ever created, with its type, when it was created and when deleted.",
    area: Area::DataSources,
    chart: Chart::Table,
    columns: &[
        ("org", ColumnType::Text),
        ("data_source", ColumnType::Text),
        ("type", ColumnType::Text),
        ("name", ColumnType::Text),
        ("created_at", ColumnType::Date),
        ("deleted_at", ColumnType::Date),
        ("status", ColumnType::Text),
    ],
    compute: log,
};

fn log(cx: &Ctx<'_>) -> anyhow::Result<Table> {
    let mut table = Table::default();
    for ((org, source), summary) in cx.facts.data_source_summaries()? {
        table.push([
            Cell::text(org.as_str()),
            Cell::text(source),
            Cell::text(summary.kind),
            Cell::text(summary.name),
            Cell::Date(cx.cal.day_of(summary.first_created)),
            match summary.deleted_at {
                Some(t) => Cell::Date(cx.cal.day_of(t)),
                None => Cell::Null,
            },
            Cell::text(if summary.deleted_at.is_some() {
                "deleted"
            } else {
                "active"
            }),
        ]);
    }
    table.sort(&[(4, Order::Desc), (0, Order::Asc), (1, Order::Asc)]);
    Ok(table)
}
