//! The data sources area: how many integrations feed the catalog, and
//! their history.

use super::facts::SourceEvent;
use super::{Area, Cell, Chart, ColumnType, Ctx, Order, Table, Widget};
use crate::time::Micros;

/// Whether the latest event at or before `t` is a creation.
fn exists_at(events: &[SourceEvent], t: Micros) -> bool {
    events
        .iter()
        .take_while(|e| e.time <= t)
        .last()
        .is_some_and(|e| e.created.is_some())
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
    let sources = cx.facts.data_sources()?;
    let total_at = |t: Micros| {
        sources
            .values()
            .filter(|events| exists_at(events, t))
            .count() as i64
    };
    let mut table = Table::default();
    for month in cx.report.months() {
        let total = total_at(cx.end(month));
        table.rows.push(vec![
            Cell::Month(month),
            Cell::Int(total),
            Cell::Int(total - total_at(cx.end(month.plus(-1)))),
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
    for ((org, source), events) in cx.facts.data_sources()? {
        let creations: Vec<(Micros, &(String, String))> = events
            .iter()
            .filter_map(|e| e.created.as_ref().map(|c| (e.time, c)))
            .collect();
        let (Some((first, _)), Some((_, (kind, name)))) = (creations.first(), creations.last())
        else {
            continue;
        };
        let first = *first;
        let last = events.last().expect("a created source has events");
        let deleted = last.created.is_none();
        table.rows.push(vec![
            Cell::text(org.as_str()),
            Cell::text(source),
            Cell::text(kind.as_str()),
            Cell::text(name.as_str()),
            Cell::Date(cx.cal.day_of(first)),
            if deleted {
                Cell::Date(cx.cal.day_of(last.time))
            } else {
                Cell::Null
            },
            Cell::text(if deleted { "deleted" } else { "active" }),
        ]);
    }
    table.sort(&[(4, Order::Desc), (0, Order::Asc), (1, Order::Asc)]);
    Ok(table)
}
