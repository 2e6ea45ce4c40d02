//! The row of key figures that opens each tab: a few numbers read from the
//! tab's own widgets (so they always agree with the panels below), each
//! with its change and the rule behind it in words from the settings.

use maud::{Markup, html};

use super::dates::PartialMonth;
use crate::chart;
use crate::config::Settings;
use crate::metrics::{Area, Cell, Table, Widget};

/// One key figure.
struct Headline {
    label: &'static str,
    value: i64,
    /// What the change is against and how large it is, when meaningful.
    change: Change,
    /// The rule behind the figure, in words.
    rule: String,
}

enum Change {
    /// A level (users, entities, sources) against the end of the previous month.
    Since(i64),
    /// A month's flow while that month is still running: the previous
    /// month's whole total, never a change against it.
    SoFar(PartialMonth, i64),
    /// A complete month's flow against the previous month's.
    FromPrevious(i64),
    None,
}

/// A widget's table by id, with a column reader.
struct Tables<'a> {
    widgets: &'a [&'static Widget],
    tables: &'a [Table],
}

impl<'a> Tables<'a> {
    fn get(&self, id: &str) -> Option<(&'static Widget, &'a Table)> {
        let i = self.widgets.iter().position(|w| w.id == id)?;
        Some((self.widgets[i], &self.tables[i]))
    }

    /// The integer in `column` of each row accepted by `keep`.
    fn ints(&self, id: &str, column: &str, keep: impl Fn(&[Cell], &Widget) -> bool) -> Vec<i64> {
        let Some((widget, table)) = self.get(id) else {
            return vec![];
        };
        let Some(c) = widget.columns.iter().position(|(n, _)| *n == column) else {
            return vec![];
        };
        table
            .rows()
            .filter(|row| keep(row, widget))
            .map(|row| match &row[c] {
                Cell::Int(n) => *n,
                _ => 0,
            })
            .collect()
    }
}

fn any(_: &[Cell], _: &Widget) -> bool {
    true
}

/// Rows of the whole company (`org` = `*`) of a monthly widget by org.
fn company(row: &[Cell], widget: &Widget) -> bool {
    widget
        .columns
        .iter()
        .position(|(n, _)| *n == "org")
        .is_some_and(|i| matches!(&row[i], Cell::Text(t) if &**t == "*"))
}

/// The last month's level and its change from the month before.
fn level(values: &[i64]) -> Option<(i64, Change)> {
    let (&now, before) = values.split_last()?;
    Some((
        now,
        match before.last() {
            Some(&prev) => Change::Since(prev),
            None => Change::None,
        },
    ))
}

/// The last month's flow; compared only when that month is complete.
fn flow(values: &[i64], partial: Option<PartialMonth>) -> Option<(i64, Change)> {
    let (&now, before) = values.split_last()?;
    let change = match (before.last(), partial) {
        (Some(&prev), Some(p)) => Change::SoFar(p, prev),
        (Some(&prev), None) => Change::FromPrevious(prev),
        (None, _) => Change::None,
    };
    Some((now, change))
}

fn plural(n: u32, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

fn figures(
    area: Area,
    t: &Tables<'_>,
    settings: &Settings,
    partial: Option<PartialMonth>,
    engaged: Option<(i64, i64)>,
) -> Vec<Headline> {
    let mut out = Vec::new();
    let mut push = |label, found: Option<(i64, Change)>, rule: String| {
        if let Some((value, change)) = found {
            out.push(Headline {
                label,
                value,
                change,
                rule,
            });
        }
    };
    match area {
        Area::Users => {
            push(
                "Activated users",
                level(&t.ints("users.activated_monthly", "activated_total", any)),
                format!(
                    "Activated: {} in {}, since they started",
                    plural(settings.activation_min_logins, "login", "logins"),
                    plural(
                        settings.activation_min_weeks,
                        "different week",
                        "different weeks"
                    ),
                ),
            );
            if let Some((_, table)) = t.get("users.inactive") {
                push(
                    "Inactive members",
                    Some((table.len() as i64, Change::None)),
                    format!(
                        "Members with no login in the last {}, or never",
                        plural(settings.inactive_after_months, "month", "months")
                    ),
                );
            }
            push(
                "Engaged teams",
                engaged.and_then(|(now, before)| flow(&[before, now], partial)),
                "Teams with at least one member logging in this month".to_owned(),
            );
        }
        Area::Entities => push(
            "Entities",
            level(&t.ints("entities.monthly", "total", any)),
            "Catalog entities of every org, from its latest snapshot".to_owned(),
        ),
        Area::Actions => {
            push(
                "Action runs",
                flow(&t.ints("actions.actions_monthly", "runs", company), partial),
                "Self-service action runs this month, from the UI and the API".to_owned(),
            );
            push(
                "Automation runs",
                flow(
                    &t.ints("actions.automations_monthly", "runs", company),
                    partial,
                ),
                "Automation runs this month".to_owned(),
            );
        }
        Area::DataSources => push(
            "Data sources",
            level(&t.ints("datasources.monthly", "total", any)),
            "Data sources created and not deleted".to_owned(),
        ),
        Area::Ai => {
            push(
                "AI interactions",
                flow(&t.ints("ai.interactions_monthly", "total", any), partial),
                "Agent invocations and MCP calls this month".to_owned(),
            );
            push(
                "MCP calls",
                flow(&t.ints("ai.mcp_monthly", "calls", any), partial),
                "Calls to the portal's MCP server this month".to_owned(),
            );
        }
    }
    out
}

/// The tab's key figures, or nothing when its widgets have no rows yet.
pub fn headlines(
    area: Area,
    widgets: &[&'static Widget],
    tables: &[Table],
    settings: &Settings,
    partial: Option<PartialMonth>,
    engaged_teams: Option<(i64, i64)>,
) -> Markup {
    let figures = figures(
        area,
        &Tables { widgets, tables },
        settings,
        partial,
        engaged_teams,
    );
    if figures.is_empty() {
        return html! {};
    }
    html! {
        section.headlines aria-label="Key figures" {
            @for f in &figures {
                div.headline {
                    div.headline-label { (f.label) }
                    div.headline-value data-value=(f.value) { (chart::number(f.value as f64)) }
                    @match f.change {
                        Change::Since(prev) => { (delta(f.value - prev, "since the end of last month")) }
                        Change::FromPrevious(prev) => { (delta(f.value - prev, "from the previous month")) }
                        Change::SoFar(p, prev) => {
                            div.change { "So far: " (p.coverage()) "; last month " (chart::number(prev as f64)) }
                        }
                        Change::None => {}
                    }
                    div.headline-rule { (f.rule) }
                }
            }
        }
    }
}

fn delta(diff: i64, against: &str) -> Markup {
    let class = match diff.signum() {
        1 => "change up",
        -1 => "change down",
        _ => "change",
    };
    html! { div class=(class) { (format!("{diff:+} ")) (against) } }
}
