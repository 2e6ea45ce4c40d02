//! The actions and automations area.

use std::collections::{BTreeMap, BTreeSet};

use super::{Area, Cell, Chart, ColumnType, Ctx, NONE, Order, Table, Widget};
use crate::calendar::Month;
use crate::event::{EventBody, OrgSlug, Trigger};

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

fn overview(cx: &Ctx<'_>) -> Table {
    let month = cx.cal.month_of(cx.report.as_of);
    let count = |m: Month| {
        let mut api = 0;
        let mut automations = 0;
        for event in cx.history.events() {
            if !cx.in_month(event.time, m) {
                continue;
            }
            match &event.body {
                EventBody::ActionRun {
                    trigger: Trigger::Api,
                    ..
                } => api += 1,
                EventBody::AutomationRun { .. } => automations += 1,
                _ => {}
            }
        }
        (api, automations)
    };
    let (api, automations) = count(month);
    let (previous_api, previous_automations) = count(month.plus(-1));
    let mut table = Table::new(&[
        "month",
        "api_actions",
        "automation_runs",
        "total",
        "previous_total",
    ]);
    table.rows.push(vec![
        Cell::Month(month),
        Cell::Int(api),
        Cell::Int(automations),
        Cell::Int(api + automations),
        Cell::Int(previous_api + previous_automations),
    ]);
    table
}

/// The orgs of the report: those named by `org=`, else every org with any event.
fn report_orgs(cx: &Ctx<'_>) -> Vec<OrgSlug> {
    match &cx.report.orgs {
        Some(orgs) => orgs.iter().cloned().collect(),
        None => cx.history.orgs(),
    }
}

/// Runs per month and org, with a `*` total row each month.
fn monthly_by_org(cx: &Ctx<'_>, is_run: fn(&EventBody) -> bool) -> Table {
    let orgs = report_orgs(cx);
    let mut table = Table::new(&["month", "org", "runs"]);
    for month in cx.report.months() {
        let mut runs: BTreeMap<&OrgSlug, i64> = orgs.iter().map(|o| (o, 0)).collect();
        for event in cx.history.events() {
            if is_run(&event.body)
                && cx.in_month(event.time, month)
                && let Some(n) = runs.get_mut(&event.org)
            {
                *n += 1;
            }
        }
        let total: i64 = runs.values().sum();
        for (org, n) in runs {
            table.rows.push(vec![
                Cell::Month(month),
                Cell::text(org.as_str()),
                Cell::Int(n),
            ]);
        }
        table
            .rows
            .push(vec![Cell::Month(month), Cell::text("*"), Cell::Int(total)]);
    }
    table
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
    compute: |cx| monthly_by_org(cx, |b| matches!(b, EventBody::AutomationRun { .. })),
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
    compute: |cx| monthly_by_org(cx, |b| matches!(b, EventBody::ActionRun { .. })),
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

fn top(cx: &Ctx<'_>) -> Table {
    struct Action<'a> {
        runs: i64,
        users: BTreeSet<&'a str>,
        title: Option<&'a str>,
    }
    let mut actions: BTreeMap<&str, Action<'_>> = BTreeMap::new();
    // Events are in (time, id, org) order, so the last title seen is the latest.
    for event in cx.history.events() {
        if let EventBody::ActionRun {
            action,
            user,
            title,
            ..
        } = &event.body
            && cx.in_period(event.time)
        {
            let entry = actions.entry(action.as_str()).or_insert(Action {
                runs: 0,
                users: BTreeSet::new(),
                title: None,
            });
            entry.runs += 1;
            entry.users.extend(user.as_deref());
            if let Some(title) = title {
                entry.title = Some(title.as_str());
            }
        }
    }
    let mut table = Table::new(&["action", "title", "runs", "users"]);
    table.rows = actions
        .into_iter()
        .map(|(action, a)| {
            vec![
                Cell::text(action),
                Cell::text(a.title.unwrap_or(action)),
                Cell::Int(a.runs),
                Cell::int(a.users.len()),
            ]
        })
        .collect();
    table.sort(&[(2, Order::Desc)]);
    table.rows.truncate(cx.settings.top_actions as usize);
    table
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

fn log_by_user(cx: &Ctx<'_>) -> Table {
    let mut users: BTreeMap<Option<&str>, (i64, i64, i64)> = BTreeMap::new();
    for event in cx.history.events() {
        if let EventBody::ActionRun { user, trigger, .. } = &event.body
            && cx.in_period(event.time)
        {
            let entry = users.entry(user.as_deref()).or_default();
            entry.0 += 1;
            match trigger {
                Trigger::Api => entry.1 += 1,
                Trigger::Ui => entry.2 += 1,
            }
        }
    }
    let profiles = cx.history.profiles();
    let mut table = Table::new(&["user", "name", "runs", "api_runs", "ui_runs"]);
    for (user, (runs, api, ui)) in users {
        let name = user
            .and_then(|u| profiles.get(u))
            .map_or("", |p| p.name.as_str());
        table.rows.push(vec![
            Cell::text(user.unwrap_or(NONE)),
            Cell::text(name),
            Cell::Int(runs),
            Cell::Int(api),
            Cell::Int(ui),
        ]);
    }
    table.sort(&[(2, Order::Desc)]);
    table
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

fn log_by_role_team(cx: &Ctx<'_>) -> Table {
    let members = cx.history.members_at(cx.report.as_of);
    let mut groups: BTreeMap<(&str, &OrgSlug, &str), i64> = BTreeMap::new();
    for event in cx.history.events() {
        let EventBody::ActionRun { user, .. } = &event.body else {
            continue;
        };
        if !cx.in_period(event.time) {
            continue;
        }
        match user.as_deref().and_then(|u| members.get(&event.org, u)) {
            None => *groups.entry((NONE, &event.org, NONE)).or_default() += 1,
            Some(membership) => {
                let role = membership.role.name();
                if membership.teams.is_empty() {
                    *groups.entry((role, &event.org, NONE)).or_default() += 1;
                }
                for team in &membership.teams {
                    *groups.entry((role, &event.org, team.as_str())).or_default() += 1;
                }
            }
        }
    }
    let mut table = Table::new(&["role", "org", "team", "runs"]);
    table.rows = groups
        .into_iter()
        .map(|((role, org, team), runs)| {
            vec![
                Cell::text(role),
                Cell::text(org.as_str()),
                Cell::text(team),
                Cell::Int(runs),
            ]
        })
        .collect();
    table.sort(&[(3, Order::Desc)]);
    table
}
