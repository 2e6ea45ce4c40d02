//! One widget on the dashboard: its title, a "…" menu with the CSV export,
//! and its rows drawn the way the widget reads best (cards, a chart with
//! its data table, or a sortable, paged table). Pure rendering: the rows
//! come in computed.

use maud::{Markup, PreEscaped, html};

use super::dates::{MONTH_NAMES, PartialMonth, export_file_name, wall_clock};
use crate::calendar::{Calendar, Month};
use crate::chart::{self, Series, SeriesChart};
use crate::export::text_of;
use crate::metrics::table::Order;
use crate::metrics::{Cell, Chart, ColumnType, Report, Table, Widget};

/// Rows per page of a table widget.
pub const PAGE_ROWS: usize = 25;

pub struct PanelCtx<'a> {
    pub report: &'a Report,
    /// The report's parameters for the export link.
    pub export_query: String,
    /// The page's own query, kept by sorting and paging links.
    pub page_query: &'a str,
    /// The month team engagement shows.
    pub team_month: Option<&'a str>,
    /// The month of `as_of`, when `as_of` is not its last instant.
    pub partial: Option<PartialMonth>,
    /// The company calendar: instants are shown as its wall-clock times.
    pub calendar: &'a Calendar,
}

/// How a table widget is shown: which page, sorted by which column.
pub struct TableView {
    pub page: usize,
    pub sort: Option<(usize, bool)>,
}

/// A column name or a code as people write it: `api_runs` → `API runs`,
/// `ai_assistant` → `AI assistant`, `mcp_calls` → `MCP calls`.
fn heading(name: &str) -> String {
    const ACRONYMS: [&str; 6] = ["ai", "api", "mcp", "ui", "id", "csv"];
    let mut out = String::new();
    for (i, word) in name.split('_').filter(|w| !w.is_empty()).enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if ACRONYMS.contains(&word) {
            out.push_str(&word.to_uppercase());
        } else if i == 0 {
            let mut chars = word.chars();
            if let Some(first) = chars.next() {
                out.extend(first.to_uppercase());
                out.push_str(chars.as_str());
            }
        } else {
            out.push_str(word);
        }
    }
    if out.is_empty() { name.to_owned() } else { out }
}

fn dom_id(widget: &Widget) -> String {
    format!("w-{}", widget.id.replace('.', "-"))
}

/// Month labels for a chart axis: `Nov` with the year under the first
/// month and every January.
fn month_labels(months: &[Month]) -> Vec<String> {
    const NAMES: [&str; 12] = MONTH_NAMES;
    months
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let name = NAMES[(m.number() - 1) as usize];
            if i == 0 || m.number() == 1 {
                format!("{name}\n{}", m.year())
            } else {
                name.to_owned()
            }
        })
        .collect()
}

fn number_of(cell: &Cell) -> f64 {
    match cell {
        Cell::Int(n) => *n as f64,
        Cell::Ratio(r) => r.hundredths() as f64 / 100.0,
        _ => 0.0,
    }
}

pub fn panel(widget: &Widget, table: &Table, cx: &PanelCtx<'_>, view: TableView) -> Markup {
    let id = dom_id(widget);
    let body = if table.is_empty() && widget.chart != Chart::Number {
        empty_state()
    } else {
        match widget.chart {
            Chart::Number => cards(widget, table, cx.partial),
            Chart::Line | Chart::Bars | Chart::StackedBars | Chart::Pie => html! {
                (chart_of(widget, table, cx.report, cx.partial))
                details.data {
                    summary { "Data" }
                    (data_table(widget, table, 0..table.len(), None, cx))
                }
            },
            Chart::Table => table_panel(widget, table, cx, &view),
        }
    };
    html! {
        // Tables of five columns or more take the page's width, so that
        // no column hides at desktop width.
        section.panel.wide[widget.chart == Chart::Table && widget.columns.len() >= 5]
            id=(id) data-widget=(widget.id) aria-labelledby=(format!("{id}-h")) {
            header {
                h2 id=(format!("{id}-h")) { (widget.title) }
                details.menu {
                    summary aria-label=(format!("Menu of {}", widget.title)) title="More" { "…" }
                    div.menu-items {
                        a href=(format!("/dashboard/export/{}.csv?{}", widget.id, cx.export_query))
                            download=(export_file_name(widget.id, cx.report, cx.calendar)) { "Export to CSV" }
                        // The API takes a read key, not the session: the menu
                        // copies its address for a script or a notebook.
                        button.copy-api type="button" hidden
                            data-url=(format!("/api/v1/widgets/{}?{}", widget.id, cx.export_query)) { "Copy API URL" }
                    }
                }
            }
            p.desc { (widget.description) }
            (body)
        }
    }
}

/// The one message of every widget without rows.
fn empty_state() -> Markup {
    html! { p.empty-widget { "No data for this period and these organizations." } }
}

/// Single numbers as cards; a `total` beside a `previous_total` shows the
/// change from the previous month.
fn cards(widget: &Widget, table: &Table, partial: Option<PartialMonth>) -> Markup {
    let Some(row) = table.first() else {
        return empty_state();
    };
    let column = |name: &str| widget.columns.iter().position(|(n, _)| *n == name);
    let previous = column("previous_total").and_then(|i| match &row[i] {
        Cell::Int(n) => Some(*n),
        _ => None,
    });
    // The row's month still running: its total covers some days only.
    let running = column("month").and_then(|i| match (&row[i], partial) {
        (Cell::Month(m), Some(p)) if *m == p.month => Some(p),
        _ => None,
    });
    html! {
        div.cards {
            @for (i, (name, kind)) in widget.columns.iter().enumerate() {
                @if *name != "previous_total" {
                    div.card data-column=(name) {
                        div.card-label { (heading(name)) }
                        @match kind {
                            ColumnType::Integer => {
                                div.card-value data-value=(text_of(&row[i])) { (chart::number(number_of(&row[i]))) }
                                @if *name == "total" {
                                    @if let (Some(prev), Cell::Int(now)) = (previous, &row[i]) {
                                        @if running.is_some() {
                                            // Never a change between part of a month and a whole one.
                                            div.change { "So far this month; the previous month, complete: " (chart::number(prev as f64)) }
                                        } @else {
                                            (change_line(*now, prev))
                                        }
                                    }
                                }
                            }
                            _ => {
                                div.card-value.small data-value=(text_of(&row[i])) {
                                    @if row[i] == Cell::Null { "—" } @else { (text_of(&row[i])) }
                                }
                                @if *name == "month" {
                                    @if let Some(p) = running {
                                        div.card-note { (p.describe()) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn change_line(now: i64, previous: i64) -> Markup {
    let diff = now - previous;
    let class = match diff.signum() {
        1 => "change up",
        -1 => "change down",
        _ => "change",
    };
    let pct = if previous == 0 {
        String::new()
    } else {
        format!(" ({:+.1}%)", diff as f64 * 100.0 / previous as f64)
    };
    html! {
        div class=(class) { (format!("{diff:+}")) (pct) " from the previous month (" (chart::number(previous as f64)) ")" }
    }
}

/// The chart of a monthly series, a ranking or a share.
fn chart_of(
    widget: &Widget,
    table: &Table,
    report: &Report,
    partial: Option<PartialMonth>,
) -> Markup {
    let svg_id = format!("{}-c", dom_id(widget));
    let columns = widget.columns;
    let first_is_month = columns
        .first()
        .is_some_and(|(_, t)| *t == ColumnType::Month);
    let mut running = None;
    let (svg, legend): (String, Vec<String>) = match widget.chart {
        Chart::Pie => {
            let slices: Vec<(String, f64)> = table
                .rows()
                .map(|r| (text_of(&r[0]), number_of(&r[1])))
                .collect();
            let total: f64 = slices.iter().map(|s| s.1).sum();
            let legend = slices
                .iter()
                .map(|(label, v)| {
                    let pct = if total > 0.0 { v * 100.0 / total } else { 0.0 };
                    format!("{label}: {} ({pct:.1}%)", chart::number(*v))
                })
                .collect();
            (chart::donut(&svg_id, widget.title, &slices), legend)
        }
        Chart::Bars if !first_is_month => {
            let label_col = columns.iter().position(|(n, _)| *n == "title").unwrap_or(0);
            let value_col = columns
                .iter()
                .position(|(_, t)| *t == ColumnType::Integer)
                .unwrap_or(1);
            let items: Vec<(String, f64)> = table
                .rows()
                .map(|r| {
                    let label = match &r[label_col] {
                        Cell::Text(t) if !t.is_empty() => t.to_string(),
                        _ => text_of(&r[0]),
                    };
                    (label, number_of(&r[value_col]))
                })
                .collect();
            let name = heading(columns[value_col].0);
            (
                chart::horizontal_bars(&svg_id, widget.title, &name, &items),
                vec![],
            )
        }
        _ => {
            let months: Vec<Month> = report.months().collect();
            let series = monthly_series(widget, table, &months);
            let legend = if series.len() > 1 {
                series.iter().map(|s| s.name.clone()).collect()
            } else {
                vec![]
            };
            // Long rows name their values in the last column; wide rows
            // have a series per column, which the legend names.
            let long = columns.len() == 3 && columns[1].1 == ColumnType::Text;
            let y_label = if long {
                heading(columns[2].0)
            } else if series.len() == 1 {
                series[0].name.clone()
            } else {
                "Count".to_owned()
            };
            running = partial.filter(|p| months.last() == Some(&p.month));
            let mut categories = month_labels(&months);
            if let (Some(p), Some(last)) = (running, categories.last_mut()) {
                *last = match last.split_once('\n') {
                    Some((name, year)) => format!("{name}\n{year} · {}", p.axis_label()),
                    None => format!("{last}\n{}", p.axis_label()),
                };
            }
            let spec = SeriesChart {
                id: &svg_id,
                title: widget.title,
                x_label: "Month",
                y_label: &y_label,
                categories,
                series,
                partial_last: running.is_some(),
            };
            let svg = match widget.chart {
                Chart::Line => chart::line(&spec),
                _ => chart::stacked_bars(&spec),
            };
            (svg, legend)
        }
    };
    html! {
        div.chart-box { (PreEscaped(svg)) }
        @if let Some(p) = running {
            p.partial-note {
                "The last month is still running: " (p.describe()) ", drawn "
                @if widget.chart == Chart::Line { "dashed" } @else { "hatched" } "."
            }
        }
        @if !legend.is_empty() {
            ul.legend {
                @for (i, item) in legend.iter().enumerate() {
                    li {
                        // The chart's own colour, so legend and marks never disagree.
                        svg.swatch viewBox="0 0 10 10" aria-hidden="true" {
                            rect width="10" height="10" rx="2" fill=(chart::color(i)) {}
                        }
                        (item)
                    }
                }
            }
        }
    }
}

/// Series by month. Long rows (`month, key, value`) give a series per key,
/// leaving out the `*` total; wide rows give a series per whole-number
/// column, leaving out totals and changes, which the chart shows anyway.
fn monthly_series(widget: &Widget, table: &Table, months: &[Month]) -> Vec<Series> {
    let columns = widget.columns;
    let position = |m: Month| months.iter().position(|x| *x == m);
    let month_of = |row: &[Cell]| match &row[0] {
        Cell::Month(m) => position(*m),
        _ => None,
    };
    if columns.len() == 3 && columns[1].1 == ColumnType::Text {
        let mut series: Vec<Series> = Vec::new();
        for row in table.rows() {
            let key = text_of(&row[1]);
            if key == "*" {
                continue;
            }
            // Codes read as words; orgs and names stay as they are.
            let key = if matches!(columns[1].0, "source" | "agent_type") {
                heading(&key)
            } else {
                key
            };
            let Some(i) = month_of(row) else { continue };
            let index = match series.iter().position(|s| s.name == key) {
                Some(index) => index,
                None => {
                    series.push(Series {
                        name: key,
                        values: vec![0.0; months.len()],
                    });
                    series.len() - 1
                }
            };
            series[index].values[i] += number_of(&row[2]);
        }
        // Largest series at the bottom of the stack and first in the legend.
        series.sort_by(|a, b| {
            let (sa, sb): (f64, f64) = (a.values.iter().sum(), b.values.iter().sum());
            sb.total_cmp(&sa).then_with(|| a.name.cmp(&b.name))
        });
        return series;
    }
    let mut wanted: Vec<usize> = (1..columns.len())
        .filter(|&i| {
            columns[i].1 == ColumnType::Integer
                && !matches!(columns[i].0, "change" | "previous_total")
        })
        .collect();
    if wanted.len() > 1 {
        wanted.retain(|&i| columns[i].0 != "total");
    }
    wanted
        .into_iter()
        .map(|c| {
            let mut values = vec![0.0; months.len()];
            for row in table.rows() {
                if let Some(i) = month_of(row) {
                    values[i] = number_of(&row[c]);
                }
            }
            Series {
                name: heading(columns[c].0),
                values,
            }
        })
        .collect()
}

/// A link to this page with some per-widget parameters changed.
fn link(cx: &PanelCtx<'_>, widget: &Widget, changes: &[(&str, String)]) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (key, value) in form_urlencoded::parse(cx.page_query.as_bytes()) {
        let replaced = changes
            .iter()
            .any(|(k, _)| key == format!("{k}.{}", widget.id).as_str());
        if !replaced && key != "team_month" {
            out.append_pair(&key, &value);
        }
    }
    for (key, value) in changes {
        out.append_pair(&format!("{key}.{}", widget.id), value);
    }
    if let Some(month) = cx.team_month {
        out.append_pair("team_month", month);
    }
    format!("?{}#{}", out.finish(), dom_id(widget))
}

fn table_panel(widget: &Widget, table: &Table, cx: &PanelCtx<'_>, view: &TableView) -> Markup {
    if widget.id == "users.team_engagement" {
        return super::engagement::panel(widget, table, cx, view);
    }
    // The widget's own order unless a heading was clicked: no copy then.
    match view.sort.filter(|(c, _)| *c < widget.columns.len()) {
        Some(sort) => {
            let mut rows = table.clone();
            sort_by(&mut rows, sort);
            paged(widget, &rows, cx, view, html! {})
        }
        None => paged(widget, table, cx, view, html! {}),
    }
}

/// Sorts by one column, keeping the widget's order among equal values.
pub(super) fn sort_by(rows: &mut Table, (col, desc): (usize, bool)) {
    rows.sort(&[(col, if desc { Order::Desc } else { Order::Asc })]);
}

pub(super) fn paged(
    widget: &Widget,
    rows: &Table,
    cx: &PanelCtx<'_>,
    view: &TableView,
    above: Markup,
) -> Markup {
    let pages = rows.len().div_ceil(PAGE_ROWS).max(1);
    let page = view.page.min(pages);
    let start = (page - 1) * PAGE_ROWS;
    let shown = start.min(rows.len())..(start + PAGE_ROWS).min(rows.len());
    html! {
        (above)
        (data_table(widget, rows, shown.clone(), Some(view), cx))
        nav.pager aria-label=(format!("Pages of {}", widget.title)) {
            span.count {
                @if rows.is_empty() { "No rows" }
                @else { "Rows " (start + 1) "–" (start + shown.len()) " of " (rows.len()) }
            }
            @if page > 1 {
                a rel="prev" href=(link(cx, widget, &[("page", (page - 1).to_string())])) { "← Previous" }
            }
            @if page < pages {
                a rel="next" href=(link(cx, widget, &[("page", (page + 1).to_string())])) { "Next →" }
            }
        }
    }
}

/// `4 Dec 13:57` in the company zone, with the year when it is not the
/// year of the report's instant.
fn short_time(t: crate::time::Micros, cx: &PanelCtx<'_>) -> String {
    let (report_year, _, _) = cx.calendar.day_of(cx.report.as_of).ymd();
    let (year, _, _) = cx.calendar.day_of(t).ymd();
    wall_clock(cx.calendar, t, year != report_year)
}

/// The rows as an HTML table; with a view, the headings sort.
fn data_table(
    widget: &Widget,
    table: &Table,
    shown: std::ops::Range<usize>,
    view: Option<&TableView>,
    cx: &PanelCtx<'_>,
) -> Markup {
    let user_col = widget.columns.iter().position(|(n, _)| *n == "user");
    html! {
        // Focusable, so that a keyboard can scroll a table wider than the
        // screen; the shadows at its edges show that it scrolls.
        div.table-box tabindex="0" role="region" aria-label=(format!("{} (table)", widget.title)) {
            table {
                thead {
                    tr {
                        @for (i, (name, kind)) in widget.columns.iter().enumerate() {
                            @let numeric = matches!(kind, ColumnType::Integer | ColumnType::Decimal);
                            th scope="col" class=[numeric.then_some("num")] data-column=(name)
                                aria-sort=[view.and_then(|v| v.sort).filter(|s| s.0 == i).map(|s| if s.1 { "descending" } else { "ascending" })] {
                                @match view {
                                    Some(v) => {
                                        @let desc = v.sort == Some((i, false));
                                        a href=(link(cx, widget, &[("sort", i.to_string()), ("dir", (if desc { "desc" } else { "asc" }).to_owned()), ("page", "1".to_owned())])) {
                                            (heading(name))
                                            @if let Some((c, d)) = v.sort { @if c == i { @if d { " ▼" } @else { " ▲" } } }
                                        }
                                    }
                                    None => { (heading(name)) }
                                }
                            }
                        }
                    }
                }
                tbody {
                    @for row in table.rows().skip(shown.start).take(shown.len()) {
                        tr {
                            @for (cell, (name, kind)) in row.iter().zip(widget.columns) {
                                @let numeric = matches!(kind, ColumnType::Integer | ColumnType::Decimal);
                                @if let Cell::Instant(t) = cell {
                                    // A time as people read it; the exact instant on hover.
                                    td data-value=(text_of(cell)) {
                                        time datetime=(text_of(cell)) title=(text_of(cell)) { (short_time(*t, cx)) }
                                    }
                                } @else if *name == "email" && user_col.is_some_and(|u| row[u] == *cell) {
                                    // The e-mail is the user id: not written twice.
                                    td.same-as-user data-value=(text_of(cell)) title=(text_of(cell)) {}
                                } @else if widget.id == "actions.log_by_user" && matches!(cell, Cell::Text(t) if &**t == "(none)") {
                                    // Runs without a user come through the API: named
                                    // as such, apart from people.
                                    td.no-user data-value="(none)" { "API (no user)" }
                                } @else {
                                    td class=[numeric.then_some("num")] { (text_of(cell)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_and_month_labels() {
        assert_eq!(heading("api_runs"), "API runs");
        assert_eq!(heading("ai_assistant"), "AI assistant");
        assert_eq!(heading("mcp_calls"), "MCP calls");
        assert_eq!(heading("days_inactive"), "Days inactive");
        assert_eq!(heading("slack"), "Slack");
        assert_eq!(
            month_labels(&[
                Month::new(2025, 12),
                Month::new(2026, 1),
                Month::new(2026, 2)
            ]),
            ["Dec\n2025", "Jan\n2026", "Feb"]
        );
    }
}
