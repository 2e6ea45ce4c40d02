//! The entities area: catalog size over time, by blueprint and by source,
//! from each org's latest entity snapshot.

use std::collections::BTreeMap;

use super::{Area, Cell, Chart, ColumnType, Ctx, Order, Table, Widget};
use crate::event::OrgSlug;
use crate::time::Micros;

fn total_at(cx: &Ctx<'_>, t: Micros) -> anyhow::Result<i64> {
    cx.facts.entity_total_at(t)
}

pub const MONTHLY: Widget = Widget {
    id: "entities.monthly",
    title: "Catalog entities",
    description: "Entities in the catalog at the end of each month, and the change from the month before.",
    area: Area::Entities,
    chart: Chart::Bars,
    columns: &[
        ("month", ColumnType::Month),
        ("total", ColumnType::Integer),
        ("change", ColumnType::Integer),
    ],
    compute: monthly,
};

fn monthly(cx: &Ctx<'_>) -> anyhow::Result<Table> {
    let mut table = Table::default();
    for month in cx.report.months() {
        let total = total_at(cx, cx.end(month))?;
        let previous = total_at(cx, cx.end(month.plus(-1)))?;
        table.push([
            Cell::Month(month),
            Cell::Int(total),
            Cell::Int(total - previous),
        ]);
    }
    Ok(table)
}

pub const CURRENT: Widget = Widget {
    id: "entities.current",
    title: "Entities now",
    description: "Entities in the catalog now, and the month from which history exists.",
    area: Area::Entities,
    chart: Chart::Number,
    columns: &[
        ("total", ColumnType::Integer),
        ("first_month", ColumnType::Month),
    ],
    compute: current,
};

fn current(cx: &Ctx<'_>) -> anyhow::Result<Table> {
    let mut table = Table::default();
    table.push([
        Cell::Int(total_at(cx, cx.report.as_of)?),
        cx.facts
            .first_snapshot()?
            .map_or(Cell::Null, |t| Cell::Month(cx.cal.month_of(t))),
    ]);
    Ok(table)
}

pub const BY_BLUEPRINT: Widget = Widget {
    id: "entities.by_blueprint",
    title: "Entities by blueprint",
    description: "Entities in the catalog now, by blueprint.",
    area: Area::Entities,
    chart: Chart::Pie,
    columns: &[
        ("blueprint", ColumnType::Text),
        ("count", ColumnType::Integer),
    ],
    compute: by_blueprint,
};

fn by_blueprint(cx: &Ctx<'_>) -> anyhow::Result<Table> {
    let mut sums: BTreeMap<String, i64> = BTreeMap::new();
    for counts in cx.facts.snapshots_at(cx.report.as_of)?.into_values() {
        for c in counts {
            *sums.entry(c.blueprint).or_default() += c.count as i64;
        }
    }
    let mut table = Table::from_rows(
        sums.into_iter()
            .filter(|(_, n)| *n != 0)
            .map(|(b, n)| vec![Cell::text(b), Cell::Int(n)]),
    );
    table.sort(&[(1, Order::Desc)]);
    Ok(table)
}

pub const BY_SOURCE_BLUEPRINT: Widget = Widget {
    id: "entities.by_source_blueprint",
    title: "Entities by data source and blueprint",
    description: "Entities now per org, blueprint and data source, against the end of last month.",
    area: Area::Entities,
    chart: Chart::Table,
    columns: &[
        ("org", ColumnType::Text),
        ("blueprint", ColumnType::Text),
        ("data_source", ColumnType::Text),
        ("count", ColumnType::Integer),
        ("previous", ColumnType::Integer),
        ("change", ColumnType::Integer),
    ],
    compute: by_source_blueprint,
};

fn by_source_blueprint(cx: &Ctx<'_>) -> anyhow::Result<Table> {
    let previous_end = cx.cal.month_end(cx.cal.month_of(cx.report.as_of).plus(-1));
    let mut triples: BTreeMap<(OrgSlug, String, String), (i64, i64)> = BTreeMap::new();
    for (t, slot) in [(cx.report.as_of, 0), (previous_end, 1)] {
        for (org, counts) in cx.facts.snapshots_at(t)? {
            for c in counts {
                let entry = triples
                    .entry((org.clone(), c.blueprint, c.data_source))
                    .or_default();
                if slot == 0 {
                    entry.0 += c.count as i64;
                } else {
                    entry.1 += c.count as i64;
                }
            }
        }
    }
    let mut table = Table::default();
    for ((org, blueprint, source), (count, previous)) in triples {
        if count != 0 || previous != 0 {
            table.push([
                Cell::text(org.as_str()),
                Cell::text(blueprint),
                Cell::text(source),
                Cell::Int(count),
                Cell::Int(previous),
                Cell::Int(count - previous),
            ]);
        }
    }
    table.sort(&[]);
    Ok(table)
}
