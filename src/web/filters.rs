//! The filter form that opens every tab: the period, "as of" as a date
//! (and optional time) in the company zone, the orgs, and presets; the
//! line saying what is shown, and the banner of a report in the past.

use maud::{Markup, html};

use super::AppState;
use super::dates::wall_clock;
use super::error::ApiError;
use super::pages::{PageQuery, Tab};
use super::session::Viewer;
use crate::calendar::{Calendar, Day, LocalTime, Month};
use crate::event::OrgSlug;
use crate::metrics::Report;
use crate::time::{Micros, days_in_month};

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Turns the form's date (and time) into the report's `as_of`: a date
/// alone is the end of that day in the company zone, with a time it is
/// that wall-clock time. An `as_of` in the URL wins (links and the API
/// use it).
pub(super) fn date_as_of(query: &mut PageQuery, calendar: &Calendar) -> Result<(), ApiError> {
    let Some(date) = query.as_of_date.clone() else {
        return Ok(());
    };
    let time = query.as_of_time.clone();
    if query.report.as_of.is_some() {
        return Ok(());
    }
    let bad = |detail: String| {
        ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "invalid_parameter",
            detail,
        )
    };
    let day = parse_date(&date).ok_or_else(|| {
        bad(format!(
            "\"{date}\" is not a date: pick one such as 2026-10-01 (from 2000 to 2100)"
        ))
    })?;
    let instant = match time {
        None => Micros(calendar.day_start(Day(day.0 + 1)).0 - 1),
        Some(time) => {
            let micros_of_day = parse_time(&time).ok_or_else(|| {
                bad(format!(
                    "\"{time}\" is not a time of day: write it as 13:45, or leave it empty for the end of the day"
                ))
            })?;
            calendar.instant(LocalTime { day, micros_of_day })
        }
    };
    query.report.as_of = Some(instant.to_string());
    Ok(())
}

fn parse_date(text: &str) -> Option<Day> {
    let mut parts = text.splitn(3, '-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: i64 = parts.next()?.parse().ok()?;
    let day: i64 = parts.next()?.parse().ok()?;
    let valid = (2000..=2100).contains(&year)
        && (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day);
    valid.then(|| Day::from_ymd(year, month, day))
}

/// `13:45` or `13:45:30`, as microseconds since midnight.
fn parse_time(text: &str) -> Option<i64> {
    let parts: Vec<&str> = text.split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return None;
    }
    let numbers: Option<Vec<i64>> = parts.iter().map(|p| p.parse().ok()).collect();
    let numbers = numbers?;
    let (h, m, s) = (numbers[0], numbers[1], numbers.get(2).copied().unwrap_or(0));
    let valid = (0..24).contains(&h) && (0..60).contains(&m) && (0..60).contains(&s);
    valid.then_some(((h * 60 + m) * 60 + s) * 1_000_000)
}

/// The date and time the form shows for the report on screen: empty for
/// now, the time empty for the end of a day; what was typed, when the
/// form sent it.
fn shown_as_of(state: &AppState, query: &PageQuery, report: Option<&Report>) -> (String, String) {
    // What the person typed, also when it could not be used.
    if let Some(date) = &query.as_of_date {
        return (date.clone(), query.as_of_time.clone().unwrap_or_default());
    }
    let (Some(report), Some(_)) = (report, &query.report.as_of) else {
        return (String::new(), String::new());
    };
    let local = state.calendar.local(report.as_of);
    let end_of_day = Micros(state.calendar.day_start(Day(local.day.0 + 1)).0 - 1);
    if report.as_of == end_of_day {
        return (local.day.to_string(), String::new());
    }
    let seconds = local.micros_of_day / 1_000_000;
    let time = if seconds % 60 == 0 {
        format!("{:02}:{:02}", seconds / 3600, seconds / 60 % 60)
    } else {
        format!(
            "{:02}:{:02}:{:02}",
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60
        )
    };
    (local.day.to_string(), time)
}

/// Links to common views, keeping the chosen orgs: the last 30 days, this
/// quarter, the last 12 months (the default), the last complete month.
fn presets(state: &AppState, tab: &Tab, query: &PageQuery) -> Markup {
    let now = (state.clock)();
    let calendar = &state.calendar;
    let this_month = calendar.month_of(now);
    let link = |pairs: &[(&str, String)]| {
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        dashboard_link(tab.slug, &pairs, &query.report.orgs)
    };
    let quarter_start = Month::new(this_month.year(), (this_month.number() - 1) / 3 * 3 + 1);
    let thirty_days_ago = calendar.month_of(Micros(now.0 - 30 * MICROS_PER_DAY));
    let last_month = this_month.plus(-1);
    let presets = [
        (
            "Last 30 days",
            link(&[
                ("from", thirty_days_ago.to_string()),
                ("to", this_month.to_string()),
            ]),
        ),
        (
            "This quarter",
            link(&[
                ("from", quarter_start.to_string()),
                ("to", this_month.to_string()),
            ]),
        ),
        ("Last 12 months", link(&[])),
        (
            "Last complete month",
            link(&[
                ("from", last_month.to_string()),
                ("to", last_month.to_string()),
                ("as_of", calendar.month_end(last_month).to_string()),
            ]),
        ),
    ];
    html! {
        nav.presets aria-label="Common periods" {
            @for (label, href) in &presets {
                a href=(href) { (label) }
            }
        }
    }
}

pub(super) fn filters(
    state: &AppState,
    viewer: &Viewer,
    tab: &Tab,
    query: &PageQuery,
    report: Option<(&Report, &[OrgSlug])>,
) -> Markup {
    let from = report.map_or_else(
        || query.report.from.clone().unwrap_or_default(),
        |(r, _)| r.from.to_string(),
    );
    let to = report.map_or_else(
        || query.report.to.clone().unwrap_or_default(),
        |(r, _)| r.to.to_string(),
    );
    let chosen = |org: &OrgSlug| query.report.orgs.iter().any(|o| o == org.as_str());
    html! {
        // One button on a phone (uptake.js folds it there); always open on
        // a wide screen, where the summary is hidden.
        details.filters-fold open {
            summary { "Filters" }
            // autocomplete=off: Back shows the filters of the data on screen,
            // not values typed and never applied.
            form.filters method="get" action=(format!("/dashboard/{}", tab.slug)) autocomplete="off" {
                label { "From " input type="month" name="from" value=(from) pattern="[0-9]{4}-[0-9]{2}" placeholder="YYYY-MM"; }
                label { "To " input type="month" name="to" value=(to) pattern="[0-9]{4}-[0-9]{2}" placeholder="YYYY-MM"; }
                @let (date, time) = shown_as_of(state, query, report.map(|(r, _)| r));
                label {
                    "As of "
                    input type="date" name="as_of_date" value=(date) min="2000-01-01" max="2100-12-31"
                        title="The end of this day in the company zone; empty for now";
                }
                label {
                    "at "
                    input type="time" name="as_of_time" value=(time)
                        title="Optional: a time of that day; empty for the end of the day";
                }
                fieldset.orgs {
                    legend { "Organizations" }
                    @match &viewer.org {
                        Some(org) => { span.fixed { (org.as_str()) } }
                        None => {
                            @if let Some((_, orgs)) = report {
                                @for org in orgs {
                                    label.org {
                                        input type="checkbox" name="org" value=(org.as_str()) checked[chosen(org)];
                                        (org.as_str())
                                    }
                                }
                                @if orgs.is_empty() { span.muted { "none yet" } }
                            }
                        }
                    }
                }
                @if let Some(month) = &query.team_month {
                    input type="hidden" name="team_month" value=(month);
                }
                button type="submit" { "Apply" }
            }
            (presets(state, tab, query))
        }
        p.context {
            "Times and months are in the company time zone, "
            strong { (state.calendar_name) } ". "
            @if let Some((report, _)) = report {
                "Period " (report.from.to_string()) " to " (report.to.to_string())
                ", counting events up to " time datetime=(report.as_of.to_string()) { (report.as_of.to_string()) } "."
                @match (&viewer.org, &report.orgs) {
                    (Some(org), _) => { " Organization: " strong { (org.as_str()) } "." }
                    (None, None) => { " All organizations." }
                    (None, Some(orgs)) => {
                        @if orgs.len() == 1 { " Organization: " } @else { " Organizations: " }
                        @for (i, org) in orgs.iter().enumerate() {
                            @if i > 0 { ", " }
                            strong { (org.as_str()) }
                        }
                        "."
                    }
                }
                " "
                button.copy-link type="button" hidden { "Copy link to this view" }
            }
        }
        @if let (Some((report, _)), Some(_)) = (report, &query.report.as_of) {
            p.banner role="status" {
                "Viewing as of "
                time datetime=(report.as_of.to_string()) title=(report.as_of.to_string()) {
                    (wall_clock(&state.calendar, report.as_of, true))
                }
                " · "
                a href=(now_link(tab, query)) { "back to now" }
            }
        }
    }
}

/// The same view without `as_of`: the report as of now.
fn now_link(tab: &Tab, query: &PageQuery) -> String {
    let mut pairs = Vec::new();
    if let Some(v) = &query.report.from {
        pairs.push(("from", v.as_str()));
    }
    if let Some(v) = &query.report.to {
        pairs.push(("to", v.as_str()));
    }
    if let Some(month) = &query.team_month {
        pairs.push(("team_month", month.as_str()));
    }
    dashboard_link(tab.slug, &pairs, &query.report.orgs)
}

/// `/dashboard/<slug>` with `pairs`, then the chosen orgs, as its query:
/// every link between views of the dashboard is built here.
pub(super) fn dashboard_link(slug: &str, pairs: &[(&str, &str)], orgs: &[String]) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs {
        out.append_pair(key, value);
    }
    for org in orgs {
        out.append_pair("org", org);
    }
    let q = out.finish();
    if q.is_empty() {
        format!("/dashboard/{slug}")
    } else {
        format!("/dashboard/{slug}?{q}")
    }
}
