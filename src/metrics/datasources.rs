//! The data sources area: how many integrations feed the catalog, and
//! their history.

use std::collections::BTreeMap;

use super::{Area, Cell, Chart, ColumnType, Ctx, Order, Table, Widget};
use crate::event::{Event, EventBody, OrgSlug};
use crate::time::Micros;

/// Each data source's events, in state order.
fn by_source<'h>(cx: &'h Ctx<'_>) -> BTreeMap<(&'h OrgSlug, &'h str), Vec<&'h Event>> {
    let mut sources: BTreeMap<(&OrgSlug, &str), Vec<&Event>> = BTreeMap::new();
    for event in cx.history.events() {
        match &event.body {
            EventBody::DataSourceCreated { data_source, .. }
            | EventBody::DataSourceDeleted { data_source } => {
                sources
                    .entry((&event.org, data_source.as_str()))
                    .or_default()
                    .push(event);
            }
            _ => {}
        }
    }
    sources
}

/// Whether the latest event at or before `t` is a creation.
fn exists_at(events: &[&Event], t: Micros) -> bool {
    events
        .iter()
        .take_while(|e| e.time <= t)
        .last()
        .is_some_and(|e| matches!(e.body, EventBody::DataSourceCreated { .. }))
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

fn monthly(cx: &Ctx<'_>) -> Table {
    let sources = by_source(cx);
    let total_at = |t: Micros| {
        sources
            .values()
            .filter(|events| exists_at(events, t))
            .count() as i64
    };
    let mut table = Table::new(&["month", "total", "change"]);
    for month in cx.report.months() {
        let total = total_at(cx.end(month));
        table.rows.push(vec![
            Cell::Month(month),
            Cell::Int(total),
            Cell::Int(total - total_at(cx.end(month.plus(-1)))),
        ]);
    }
    table
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

fn log(cx: &Ctx<'_>) -> Table {
    let mut table = Table::new(&[
        "org",
        "data_source",
        "type",
        "name",
        "created_at",
        "deleted_at",
        "status",
    ]);
    for ((org, source), events) in by_source(cx) {
        let created: Vec<&&Event> = events
            .iter()
            .filter(|e| matches!(e.body, EventBody::DataSourceCreated { .. }))
            .collect();
        let (Some(first), Some(latest)) = (created.first(), created.last()) else {
            continue;
        };
        let EventBody::DataSourceCreated {
            data_source_type,
            name,
            ..
        } = &latest.body
        else {
            continue;
        };
        let last = events.last().expect("a created source has events");
        let deleted = matches!(last.body, EventBody::DataSourceDeleted { .. });
        table.rows.push(vec![
            Cell::text(org.as_str()),
            Cell::text(source),
            Cell::text(data_source_type.as_str()),
            Cell::text(name.as_str()),
            Cell::Date(cx.cal.day_of(first.time)),
            if deleted {
                Cell::Date(cx.cal.day_of(last.time))
            } else {
                Cell::Null
            },
            Cell::text(if deleted { "deleted" } else { "active" }),
        ]);
    }
    table.sort(&[(4, Order::Desc), (0, Order::Asc), (1, Order::Asc)]);
    table
}
