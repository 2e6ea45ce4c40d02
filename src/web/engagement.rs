//! Team engagement on the dashboard: one month at a time, its most and
//! least engaged teams in two lists side by side, the rows under Data.

use maud::{Markup, html};

use super::panels::{PanelCtx, TableView, paged, sort_by};
use crate::calendar::Month;
use crate::export::text_of;
use crate::metrics::{Cell, Table, Widget};

/// One month of team engagement at a time, picked from the period.
pub fn panel(widget: &Widget, table: &Table, cx: &PanelCtx<'_>, view: &TableView) -> Markup {
    let months: Vec<Month> = cx.report.months().collect();
    let picked = cx
        .team_month
        .and_then(Month::parse)
        .filter(|m| months.contains(m))
        .or_else(|| months.last().copied());
    let rows = table.filtered(|r| Some(&r[0]) == picked.map(Cell::Month).as_ref());
    let picker = html! {
        // The fragment brings the page back to this panel after the pick.
        form.month-picker method="get" action="#w-users-team_engagement" {
            @for (key, value) in form_urlencoded::parse(cx.page_query.as_bytes()) {
                @if key != "team_month" {
                    input type="hidden" name=(key) value=(value);
                }
            }
            label {
                "Month "
                select name="team_month" data-autosubmit {
                    @for m in months.iter().rev() {
                        option value=(m.to_string()) selected[Some(*m) == picked] { (m.to_string()) }
                    }
                }
            }
            button type="submit" { "Show" }
        }
    };
    let lists = engagement_lists(&rows);
    let mut rows = rows;
    if let Some(sort) = view.sort.filter(|(c, _)| *c < widget.columns.len()) {
        sort_by(&mut rows, sort);
    }
    html! {
        (picker)
        (lists)
        details.data {
            summary { "Data" }
            (paged(widget, &rows, cx, view, html! {}))
        }
    }
}

/// The month's most and least engaged teams in two lists side by side,
/// each team with its daily logins and their change, signed and coloured.
fn engagement_lists(rows: &Table) -> Markup {
    // Columns: month, rank, org, team, daily_logins, change.
    let list = |rank: &str| -> Vec<&[Cell]> {
        rows.rows()
            .filter(|r| matches!(&r[1], Cell::Text(t) if &**t == rank))
            .collect()
    };
    let (most, least) = (list("most"), list("least"));
    let in_both = most
        .iter()
        .any(|m| least.iter().any(|l| l[2] == m[2] && l[3] == m[3]));
    let item = |r: &[Cell]| {
        let change = match &r[5] {
            Cell::Ratio(x) => Some(x.hundredths()),
            _ => None,
        };
        html! {
            li {
                span.team { strong { (text_of(&r[3])) } " " span.org { (text_of(&r[2])) } }
                span.value title="Members logging in per day, on average" { (text_of(&r[4])) }
                @match change {
                    Some(c) if c > 0 => { span.change.up { "+" (text_of(&r[5])) } }
                    Some(c) if c < 0 => { span.change.down { (text_of(&r[5])) } }
                    Some(_) => { span.change { "±0.00" } }
                    None => { span.change { "—" } }
                }
            }
        }
    };
    html! {
        div.engagement {
            div {
                h3 { "Most engaged" }
                ol { @for r in &most { (item(r)) } }
            }
            div {
                h3 { "Least engaged" }
                ol { @for r in &least { (item(r)) } }
            }
        }
        p.partial-note {
            "The number is how many of the team's members log in on an average day of the month, so larger teams score higher."
        }
        @if in_both {
            p.partial-note { "There are few teams, so some teams are in both lists." }
        }
    }
}
