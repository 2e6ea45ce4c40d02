//! The widgets of `metrics.md`: report parameters in, a [`Table`] out.
//! `metrics` knows nothing about HTTP or SQL; it reads [`Facts`] (the
//! store's rollups, or the raw [`History`] in tests) and the company
//! settings, and returns rows for `web` and `export` to render.

mod actions;
mod ai;
mod datasources;
mod entities;
pub mod facts;
pub mod history;
pub mod table;
mod users;
pub use users::engaged_teams;

use std::collections::BTreeSet;

use crate::calendar::{Calendar, Month};
use crate::config::Settings;
use crate::event::OrgSlug;
use crate::time::Micros;

pub use facts::Facts;
pub use history::History;
pub use table::{Cell, Order, Ratio, Table};

/// The report parameters as a client sends them.
#[derive(Clone, Debug, Default)]
pub struct ReportQuery {
    pub as_of: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub orgs: Vec<String>,
}

/// A resolved report: what every widget is computed for.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub as_of: Micros,
    /// The first month of the period.
    pub from: Month,
    /// The last month of the period, cut at the month of `as_of`.
    pub to: Month,
    /// `None`: every org.
    pub orgs: Option<BTreeSet<OrgSlug>>,
}

/// A report parameter that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    pub code: &'static str,
    pub detail: String,
}

impl Report {
    pub fn resolve(query: &ReportQuery, now: Micros, cal: &Calendar) -> Result<Report, ParamError> {
        let bad = |detail: String| ParamError {
            code: "invalid_parameter",
            detail,
        };
        let as_of = match &query.as_of {
            None => now,
            Some(s) => Micros::parse_rfc3339(s).ok_or_else(|| {
                bad(format!(
                    "`as_of` must be an RFC 3339 date-time with offset, not `{s}`"
                ))
            })?,
        };
        let month = |name: &str, value: &Option<String>| -> Result<Option<Month>, ParamError> {
            value
                .as_deref()
                .map(|s| {
                    Month::parse(s).ok_or_else(|| {
                        bad(format!("`{name}` must be a month as YYYY-MM, not `{s}`"))
                    })
                })
                .transpose()
        };
        let as_of_month = cal.month_of(as_of);
        let to_given = month("to", &query.to)?.unwrap_or(as_of_month);
        let from = month("from", &query.from)?.unwrap_or(to_given.plus(-11));
        if from > to_given {
            return Err(ParamError {
                code: "invalid_period",
                detail: format!("`from` ({from}) is after `to` ({to_given})"),
            });
        }
        let orgs = if query.orgs.is_empty() {
            None
        } else {
            let mut set = BTreeSet::new();
            for org in &query.orgs {
                set.insert(
                    OrgSlug::parse(org)
                        .ok_or_else(|| bad(format!("`org` must be an org slug, not `{org}`")))?,
                );
            }
            Some(set)
        };
        Ok(Report {
            as_of,
            from,
            to: to_given.min(as_of_month),
            orgs,
        })
    }

    /// The months of the period, oldest first (none when it is empty).
    pub fn months(&self) -> impl Iterator<Item = Month> + use<> {
        (self.from.0..=self.to.0).map(Month)
    }

    pub fn includes(&self, org: &OrgSlug) -> bool {
        self.orgs.as_ref().is_none_or(|orgs| orgs.contains(org))
    }
}

/// Everything a widget reads.
pub struct Ctx<'a> {
    pub report: &'a Report,
    pub cal: &'a Calendar,
    pub settings: &'a Settings,
    pub facts: &'a dyn Facts,
}

impl Ctx<'_> {
    /// `end(M)`: the last instant of `M`, or `as_of` for the month of `as_of`.
    pub fn end(&self, month: Month) -> Micros {
        self.cal.month_end(month).min(self.report.as_of)
    }

    pub fn start(&self, month: Month) -> Micros {
        self.cal.month_start(month)
    }

    /// The months of the period.
    pub fn period(&self) -> Vec<Month> {
        self.report.months().collect()
    }
}

/// Where a widget is shown and how it is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Area {
    Users,
    Entities,
    Actions,
    DataSources,
    Ai,
}

/// How a widget reads best.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chart {
    Line,
    Bars,
    StackedBars,
    Pie,
    Number,
    Table,
}

/// A widget: its id, how to describe it, and the function computing it.
pub struct Widget {
    pub id: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub area: Area,
    pub chart: Chart,
    /// The columns and their types: the one place they are named;
    /// `compute` returns rows with a cell for each.
    pub columns: &'static [(&'static str, ColumnType)],
    pub compute: fn(&Ctx<'_>) -> anyhow::Result<Table>,
}

/// The type of a column's values, for API users and the dashboard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    Text,
    Integer,
    /// Exact, written with two decimals.
    Decimal,
    /// RFC 3339 in UTC.
    Instant,
    /// `YYYY-MM-DD` in the company time zone.
    Date,
    /// `YYYY-MM`.
    Month,
}

impl ColumnType {
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::Text => "text",
            ColumnType::Integer => "integer",
            ColumnType::Decimal => "decimal",
            ColumnType::Instant => "instant",
            ColumnType::Date => "date",
            ColumnType::Month => "month",
        }
    }
}

/// Every widget of `metrics.md`, in the order of the dashboard.
pub const WIDGETS: &[Widget] = &[
    users::ACTIVATED_MONTHLY,
    users::ACTIVATED_LOG,
    users::TEAM_ENGAGEMENT,
    users::INACTIVE,
    users::LATEST_LOGINS,
    users::POPULAR_PAGES,
    entities::MONTHLY,
    entities::CURRENT,
    entities::BY_BLUEPRINT,
    entities::BY_SOURCE_BLUEPRINT,
    actions::OVERVIEW,
    actions::AUTOMATIONS_MONTHLY,
    actions::ACTIONS_MONTHLY,
    actions::TOP,
    actions::LOG_BY_USER,
    actions::LOG_BY_ROLE_TEAM,
    datasources::MONTHLY,
    datasources::LOG,
    ai::INTERACTIONS_MONTHLY,
    ai::BY_SOURCE,
    ai::BY_AGENT_TYPE,
    ai::MCP_MONTHLY,
    ai::BY_SOURCE_ORG,
    ai::BY_USER_TYPE,
];

pub fn widget(id: &str) -> Option<&'static Widget> {
    WIDGETS.iter().find(|w| w.id == id)
}

/// The placeholder for "no user", "no role" or "no team".
pub const NONE: &str = "(none)";

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(
        as_of: &str,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<(String, String), String> {
        let query = ReportQuery {
            as_of: Some(as_of.into()),
            from: from.map(Into::into),
            to: to.map(Into::into),
            orgs: vec![],
        };
        let cal = Calendar::new("Europe/Berlin").unwrap();
        Report::resolve(&query, Micros(0), &cal)
            .map(|r| (r.from.to_string(), r.to.to_string()))
            .map_err(|e| e.code.to_string())
    }

    #[test]
    fn widget_rows_have_a_cell_per_declared_column() {
        let cal = Calendar::new("Europe/Berlin").unwrap();
        let end = Micros::parse_rfc3339("2026-10-20T18:00:00Z").unwrap();
        let mut generator = crate::generate::Generator::for_company(5, 60, 20_000, end);
        let mut lines = generator.prologue();
        lines.extend((0..20_000).map(|_| generator.next_line()));
        let limits = crate::config::Limits::default();
        let cx = crate::event::validate::Context {
            bound_org: None,
            now: end,
            limits: &limits,
        };
        let events: Vec<crate::event::Event> = lines
            .iter()
            .map(|line| {
                let tree = crate::event::json::Json::parse(line.as_bytes()).unwrap();
                crate::event::validate::validate(&tree, &cx).unwrap()
            })
            .collect();
        let query = ReportQuery {
            as_of: Some(end.to_string()),
            ..ReportQuery::default()
        };
        let report = Report::resolve(&query, end, &cal).unwrap();
        let settings = Settings::default();
        let history = History::new(events, &report, &cal, &settings);
        let cx = Ctx {
            report: &report,
            cal: &cal,
            settings: &settings,
            facts: &history,
        };
        for widget in WIDGETS {
            let table = (widget.compute)(&cx).unwrap();
            assert!(!table.is_empty(), "{} has no rows", widget.id);
            for row in table.rows() {
                assert_eq!(row.len(), widget.columns.len(), "{}", widget.id);
            }
        }
        let ids: std::collections::BTreeSet<&str> = WIDGETS.iter().map(|w| w.id).collect();
        assert_eq!(ids.len(), 24);
    }

    #[test]
    fn periods_default_and_cut() {
        assert_eq!(
            resolve("2026-10-20T18:00:00Z", None, None),
            Ok(("2025-11".into(), "2026-10".into()))
        );
        // 23:30 UTC on 31 October is already November in Berlin.
        assert_eq!(
            resolve("2026-10-31T23:30:00Z", None, None),
            Ok(("2025-12".into(), "2026-11".into()))
        );
        // `to` beyond as_of is cut; `from` counts from `to` as given.
        assert_eq!(
            resolve("2026-10-20T18:00:00Z", None, Some("2027-03")),
            Ok(("2026-04".into(), "2026-10".into()))
        );
        // A period entirely after as_of is empty.
        assert_eq!(
            resolve("2026-10-20T18:00:00Z", Some("2027-01"), Some("2027-02")),
            Ok(("2027-01".into(), "2026-10".into()))
        );
        assert_eq!(
            resolve("2026-10-20T18:00:00Z", Some("2026-05"), Some("2026-04")),
            Err("invalid_period".into())
        );
        assert_eq!(
            resolve("yesterday", None, None),
            Err("invalid_parameter".into())
        );
        assert_eq!(
            resolve("2026-10-20T18:00:00Z", Some("2026-5"), None),
            Err("invalid_parameter".into())
        );
    }
}
