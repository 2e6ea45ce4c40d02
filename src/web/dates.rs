//! Dates and times as the dashboard shows them to people, in the company
//! zone: the running month of a report, and wall-clock times.

use crate::calendar::{Calendar, Month};
use crate::metrics::Report;
use crate::time::Micros;

pub const MONTH_NAMES: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The month of the report's instant while it is still running: its
/// figures cover only its first days, so charts draw it apart and cards
/// never compare it with a whole month.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartialMonth {
    pub month: Month,
    /// The day of the month of `as_of`, in the company zone: the days covered.
    pub days: i64,
}

impl PartialMonth {
    pub fn of(report: &Report, calendar: &Calendar) -> Option<PartialMonth> {
        let month = calendar.month_of(report.as_of);
        if report.as_of >= calendar.month_end(month) {
            return None;
        }
        let (_, _, day) = calendar.day_of(report.as_of).ymd();
        Some(PartialMonth { month, days: day })
    }

    /// `4/31 days`, short enough for a chart's axis.
    pub fn axis_label(&self) -> String {
        format!("{}/{} days", self.days, self.month.days())
    }

    /// `4 of 31 days`.
    pub fn coverage(&self) -> String {
        format!("{} of {} days", self.days, self.month.days())
    }

    /// `Dec 2026, 1–4 Dec (4 of 31 days)`.
    pub fn describe(&self) -> String {
        let name = MONTH_NAMES[(self.month.number() - 1) as usize];
        let span = if self.days == 1 {
            format!("1 {name}")
        } else {
            format!("1–{} {name}", self.days)
        };
        format!("{name} {}, {span} ({})", self.month.year(), self.coverage())
    }
}

/// `4 Dec 13:57`, or `4 Dec 2026 13:57`, in the company zone.
pub fn wall_clock(calendar: &Calendar, t: Micros, with_year: bool) -> String {
    let local = calendar.local(t);
    let (year, month, day) = local.day.ymd();
    let minutes = local.micros_of_day / 60_000_000;
    let name = MONTH_NAMES[(month - 1) as usize];
    let (h, m) = (minutes / 60, minutes % 60);
    if with_year {
        format!("{day} {name} {year} {h:02}:{m:02}")
    } else {
        format!("{day} {name} {h:02}:{m:02}")
    }
}

/// The file name of a dashboard export: the widget, the orgs, the period
/// and the day of `as_of`, so that downloads of several views do not
/// overwrite each other: `actions.top_acme-eu_2025-11_2026-10_as-of-2026-10-20.csv`.
pub fn export_file_name(widget_id: &str, report: &Report, calendar: &Calendar) -> String {
    let orgs = match &report.orgs {
        None => "all-orgs".to_owned(),
        Some(orgs) => orgs
            .iter()
            .map(|o| o.as_str())
            .collect::<Vec<_>>()
            .join("+"),
    };
    format!(
        "{widget_id}_{orgs}_{}_{}_as-of-{}.csv",
        report.from,
        report.to,
        calendar.day_of(report.as_of)
    )
}
