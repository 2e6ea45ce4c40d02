//! The actions and automations area.

use std::collections::BTreeMap;

use rustc_hash::{FxHashMap, FxHashSet};

use super::facts::{GroupBy, Metric, Name};
use super::{Area, Cell, Chart, ColumnType, Ctx, NONE, Order, Table, Widget};
use crate::event::OrgSlug;

pub const OVERVIEW: Widget = Widget {
    id: "actions.overview",
    title: "Actions and automations this month",
    description: "API-triggered action runs and automation runs this month, against last month.",
    area: Area::Actions,
    chart: Chart::Number,
    columns: &[
        ("month", ColumnType::Month),
        ("api_actions", ColumnType::Integer),
        ("automation_runs", ColumnType::Integer),
        ("total", ColumnType::Integer),
        ("previous_total", ColumnType::Integer),
    ],
    compute: overview,
};

fn overview(cx: &Ctx<'_>) -> anyhow::Result<Table> {
    let month = cx.cal.month_of(cx.report.as_of);
    let months = [month.plus(-1), month];
    let api = cx
        .facts
        .counts(Metric::ActionRun, &months, GroupBy::ORG.month().facet())?;
    let automations = cx
        .facts
        .counts(Metric::AutomationRun, &months, GroupBy::ORG.month())?;
    let total_in = |m| {
        let api: i64 = api
            .iter()
            .filter(|c| c.month == Some(m) && api.str(c.facet) == Some("api"))
            .map(|c| c.n)
            .sum();
        let automations: i64 = automations
            .iter()
            .filter(|c| c.month == Some(m))
            .map(|c| c.n)
            .sum();
        (api, automations)
    };
    let (api_now, automations_now) = total_in(month);
    let (api_before, automations_before) = total_in(month.plus(-1));
    let mut table = Table::default();
    table.push([
        Cell::Month(month),
        Cell::Int(api_now),
        Cell::Int(automations_now),
        Cell::Int(api_now + automations_now),
        Cell::Int(api_before + automations_before),
    ]);
    Ok(table)
}

fn report_orgs(cx: &Ctx<'_>) -> anyhow::Result<Vec<OrgSlug>> {
    match &cx.report.orgs {
        Some(orgs) => Ok(orgs.iter().cloned().collect()),
        None => cx.facts.orgs(),
    }
}

/// Runs per month and org, with a `*` total row each month.
fn monthly_by_org(cx: &Ctx<'_>, metric: Metric) -> anyhow::Result<Table> {
    let orgs = report_orgs(cx)?;
    let counts = cx
        .facts
        .counts(metric, &cx.period(), GroupBy::ORG.month())?;
    let mut table = Table::default();
    for month in cx.report.months() {
        let mut runs: BTreeMap<&OrgSlug, i64> = orgs.iter().map(|o| (o, 0)).collect();
        for count in counts.iter().filter(|c| c.month == Some(month)) {
            if let Some(n) = runs.get_mut(counts.org(count)) {
                *n += count.n;
            }
        }
        let total: i64 = runs.values().sum();
        for (org, n) in runs {
            table.push([Cell::Month(month), Cell::text(org.as_str()), Cell::Int(n)]);
        }
        table.push([Cell::Month(month), Cell::text("*"), Cell::Int(total)]);
    }
    Ok(table)
}

pub const AUTOMATIONS_MONTHLY: Widget = Widget {
    id: "actions.automations_monthly",
    title: "Automation runs",
    description: "Automation runs each month, by org.",
    area: Area::Actions,
    chart: Chart::StackedBars,
    columns: &[
        ("month", ColumnType::Month),
        ("org", ColumnType::Text),
        ("runs", ColumnType::Integer),
    ],
    compute: |cx| monthly_by_org(cx, Metric::AutomationRun),
};

pub const ACTIONS_MONTHLY: Widget = Widget {
    id: "actions.actions_monthly",
    title: "Action runs",
    description: "Self-service action runs each month, by org.",
    area: Area::Actions,
    chart: Chart::StackedBars,
    columns: &[
        ("month", ColumnType::Month),
        ("org", ColumnType::Text),
        ("runs", ColumnType::Integer),
    ],
    compute: |cx| monthly_by_org(cx, Metric::ActionRun),
};

pub const TOP: Widget = Widget {
    id: "actions.top",
    title: "Top actions",
    description: "The actions run most often in the period, with how many people ran them.",
    area: Area::Actions,
    chart: Chart::Bars,
    columns: &[
        ("action", ColumnType::Text),
        ("title", ColumnType::Text),
        ("runs", ColumnType::Integer),
        ("users", ColumnType::Integer),
    ],
    compute: top,
};

fn top(cx: &Ctx<'_>) -> anyhow::Result<Table> {
    // In no order: the table's sort orders the rows, ties included.
    let counts = cx.facts.counts(
        Metric::ActionRun,
        &cx.period(),
        GroupBy::ORG.user().subject(),
    )?;
    let mut actions: FxHashMap<Name, (i64, FxHashSet<Name>)> = FxHashMap::default();
    for count in counts.iter() {
        let Some(action) = count.subject else {
            continue;
        };
        let entry = actions.entry(action).or_default();
        entry.0 += count.n;
        entry.1.extend(count.user);
    }
    let titles = cx
        .facts
        .action_titles(cx.start(cx.report.from), cx.end(cx.report.to))?;
    let mut table = Table::from_rows(actions.into_iter().map(|(action, (runs, users))| {
        let action = counts.text(action);
        let title = titles
            .get(&**action)
            .map_or_else(|| Cell::shared(action), |t| Cell::text(t.as_str()));
        vec![
            Cell::shared(action),
            title,
            Cell::Int(runs),
            Cell::int(users.len()),
        ]
    }));
    table.sort(&[(2, Order::Desc)]);
    table.truncate(cx.settings.top_actions as usize);
    Ok(table)
}

pub const LOG_BY_USER: Widget = Widget {
    id: "actions.log_by_user",
    title: "Action runs by user",
    description: "Who ran actions in the period, from the UI and through the API.",
    area: Area::Actions,
    chart: Chart::Table,
    columns: &[
        ("user", ColumnType::Text),
        ("name", ColumnType::Text),
        ("runs", ColumnType::Integer),
        ("api_runs", ColumnType::Integer),
        ("ui_runs", ColumnType::Integer),
    ],
    compute: log_by_user,
};

fn log_by_user(cx: &Ctx<'_>) -> anyhow::Result<Table> {
    let counts = cx
        .facts
        .counts(Metric::ActionRun, &cx.period(), GroupBy::ORG.user().facet())?;
    let mut users: FxHashMap<Option<Name>, (i64, i64, i64)> = FxHashMap::default();
    for count in counts.iter() {
        let entry = users.entry(count.user).or_default();
        entry.0 += count.n;
        if counts.str(count.facet) == Some("api") {
            entry.1 += count.n;
        } else {
            entry.2 += count.n;
        }
    }
    let profiles = cx.facts.profiles()?;
    let mut table = Table::default();
    for (user, (runs, api, ui)) in users {
        let name = user
            .and_then(|u| profiles.get(&u))
            .map_or_else(Cell::empty, |p| Cell::shared(p.name()));
        table.push([
            user.map_or_else(|| Cell::text(NONE), |u| Cell::shared(counts.text(u))),
            name,
            Cell::Int(runs),
            Cell::Int(api),
            Cell::Int(ui),
        ]);
    }
    table.sort(&[(2, Order::Desc)]);
    Ok(table)
}

pub const LOG_BY_ROLE_TEAM: Widget = Widget {
    id: "actions.log_by_role_team",
    title: "Action runs by role and team",
    description: "Action runs in the period by the runner's role and team in the run's org.",
    area: Area::Actions,
    chart: Chart::Table,
    columns: &[
        ("role", ColumnType::Text),
        ("org", ColumnType::Text),
        ("team", ColumnType::Text),
        ("runs", ColumnType::Integer),
    ],
    compute: log_by_role_team,
};

fn log_by_role_team(cx: &Ctx<'_>) -> anyhow::Result<Table> {
    let members = cx.facts.members()?;
    let counts = cx
        .facts
        .counts(Metric::ActionRun, &cx.period(), GroupBy::ORG.user())?;
    // By (role, org, team), the org as its name's number.
    let mut groups: FxHashMap<(&str, Name, &str), i64> = FxHashMap::default();
    for count in counts.iter() {
        match count.user.and_then(|u| members.get(counts.org(count), u)) {
            None => *groups.entry((NONE, count.org, NONE)).or_default() += count.n,
            Some(membership) => {
                let role = membership.role.name();
                if membership.teams.is_empty() {
                    *groups.entry((role, count.org, NONE)).or_default() += count.n;
                }
                for team in membership.teams.iter() {
                    *groups.entry((role, count.org, team.as_str())).or_default() += count.n;
                }
            }
        }
    }
    let mut table = Table::from_rows(groups.into_iter().map(|((role, org, team), runs)| {
        vec![
            Cell::text(role),
            Cell::shared(counts.text(org)),
            Cell::text(team),
            Cell::Int(runs),
        ]
    }));
    table.sort(&[(3, Order::Desc)]);
    Ok(table)
}
