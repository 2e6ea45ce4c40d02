//! The users area: activation, engagement by team, inactivity, recent
//! logins and popular pages.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::history::Profile;
use super::{Area, Cell, Chart, ColumnType, Ctx, Order, Ratio, Table, Widget};
use crate::calendar::{Day, Month, Week};
use crate::event::{EventBody, OrgSlug, Role};
use crate::time::{MICROS_PER_DAY, MICROS_PER_HOUR, Micros};

/// One user's logins (visible to the report), oldest first.
struct Logins {
    times: Vec<Micros>,
    weeks: BTreeSet<Week>,
    activated_at: Option<Micros>,
}

/// Every user's logins, with the instant each became activated.
fn logins_by_user(cx: &Ctx<'_>) -> BTreeMap<String, Logins> {
    let min_logins = cx.settings.activation_min_logins as usize;
    let min_weeks = cx.settings.activation_min_weeks as usize;
    let mut users: BTreeMap<String, Logins> = BTreeMap::new();
    for event in cx.history.events() {
        if let EventBody::Login { user } = &event.body {
            let logins = users.entry(user.clone()).or_insert_with(|| Logins {
                times: Vec::new(),
                weeks: BTreeSet::new(),
                activated_at: None,
            });
            logins.times.push(event.time);
            logins.weeks.insert(cx.cal.week_of(event.time));
            if logins.activated_at.is_none()
                && logins.times.len() >= min_logins
                && logins.weeks.len() >= min_weeks
            {
                logins.activated_at = Some(event.time);
            }
        }
    }
    users
}

fn profile<'p>(profiles: &'p HashMap<String, Profile>, user: &str) -> (&'p str, &'p str) {
    profiles
        .get(user)
        .map_or(("", ""), |p| (p.name.as_str(), p.email.as_str()))
}

fn joined(orgs: Option<&Vec<&str>>) -> String {
    orgs.map(|o| o.join(";")).unwrap_or_default()
}

pub const ACTIVATED_MONTHLY: Widget = Widget {
    id: "users.activated_monthly",
    title: "Activated users",
    description: "Users who reached the activation threshold of logins over distinct weeks, in total and newly each month.",
    area: Area::Users,
    chart: Chart::Line,
    columns: &[
        ("month", ColumnType::Month),
        ("activated_total", ColumnType::Integer),
        ("newly_activated", ColumnType::Integer),
        ("change_pct", ColumnType::Decimal),
    ],
    compute: activated_monthly,
};

fn activated_monthly(cx: &Ctx<'_>) -> Table {
    let activations: Vec<Micros> = logins_by_user(cx)
        .values()
        .filter_map(|l| l.activated_at)
        .collect();
    let total_at = |t: Micros| activations.iter().filter(|a| **a <= t).count() as i64;
    let mut table = Table::new(&["month", "activated_total", "newly_activated", "change_pct"]);
    for month in cx.report.months() {
        let total = total_at(cx.end(month));
        let previous = total_at(cx.end(month.plus(-1)));
        let newly = activations
            .iter()
            .filter(|a| cx.in_month(**a, month))
            .count();
        let change = if previous == 0 {
            Cell::Null
        } else {
            Cell::Ratio(Ratio::new(
                i128::from(total - previous) * 100,
                previous.into(),
            ))
        };
        table.rows.push(vec![
            Cell::Month(month),
            Cell::Int(total),
            Cell::int(newly),
            change,
        ]);
    }
    table
}

pub const ACTIVATED_LOG: Widget = Widget {
    id: "users.activated_log",
    title: "Activated users log",
    description: "Every activated user with when they were activated, their logins, weeks with a login and last login.",
    area: Area::Users,
    chart: Chart::Table,
    columns: &[
        ("user", ColumnType::Text),
        ("name", ColumnType::Text),
        ("email", ColumnType::Text),
        ("orgs", ColumnType::Text),
        ("activated_at", ColumnType::Instant),
        ("logins", ColumnType::Integer),
        ("weeks", ColumnType::Integer),
        ("last_login", ColumnType::Instant),
    ],
    compute: activated_log,
};

fn activated_log(cx: &Ctx<'_>) -> Table {
    let profiles = cx.history.profiles();
    let members = cx.history.members_at(cx.report.as_of);
    let orgs = members.orgs_by_user();
    let mut table = Table::new(&[
        "user",
        "name",
        "email",
        "orgs",
        "activated_at",
        "logins",
        "weeks",
        "last_login",
    ]);
    for (user, logins) in logins_by_user(cx) {
        let Some(activated_at) = logins.activated_at else {
            continue;
        };
        let (name, email) = profile(&profiles, &user);
        table.rows.push(vec![
            Cell::text(user.as_str()),
            Cell::text(name),
            Cell::text(email),
            Cell::text(joined(orgs.get(user.as_str()))),
            Cell::Instant(activated_at),
            Cell::int(logins.times.len()),
            Cell::int(logins.weeks.len()),
            Cell::opt_instant(logins.times.last().copied()),
        ]);
    }
    table.sort(&[(4, Order::Desc)]);
    table
}

pub const TEAM_ENGAGEMENT: Widget = Widget {
    id: "users.team_engagement",
    title: "Most and least engaged teams",
    description: "Daily logins per team member each month: the teams with the highest and the lowest.",
    area: Area::Users,
    chart: Chart::Table,
    columns: &[
        ("month", ColumnType::Month),
        ("rank", ColumnType::Text),
        ("org", ColumnType::Text),
        ("team", ColumnType::Text),
        ("daily_logins", ColumnType::Decimal),
        ("change", ColumnType::Decimal),
    ],
    compute: team_engagement,
};

fn team_engagement(cx: &Ctx<'_>) -> Table {
    let as_of_day = cx.cal.day_of(cx.report.as_of);
    // Each member's login days in each org.
    let mut login_days: HashMap<(&OrgSlug, &str), BTreeSet<Day>> = HashMap::new();
    for event in cx.history.events() {
        if let EventBody::Login { user } = &event.body {
            login_days
                .entry((&event.org, user.as_str()))
                .or_default()
                .insert(cx.cal.day_of(event.time));
        }
    }
    let members = cx.history.members_at(cx.report.as_of);
    let mut teams: BTreeMap<(&OrgSlug, &str), Vec<&str>> = BTreeMap::new();
    for ((org, user), membership) in &members.by_org_user {
        for team in &membership.teams {
            teams
                .entry((org, team.as_str()))
                .or_default()
                .push(user.as_str());
        }
    }
    let daily = |(org, _): (&OrgSlug, &str), users: &[&str], month: Month| -> Ratio {
        let first = month.first_day();
        let last = if month == as_of_day.month() {
            as_of_day
        } else {
            Day(first.0 + month.days() - 1)
        };
        let pairs: usize = users
            .iter()
            .filter_map(|u| login_days.get(&(org, *u)))
            .map(|days| days.range(first..=last).count())
            .sum();
        Ratio::new(pairs as i128, i128::from(last.0 - first.0 + 1))
    };
    let limit = cx.settings.engaged_teams as usize;
    let mut table = Table::new(&["month", "rank", "org", "team", "daily_logins", "change"]);
    for month in cx.report.months() {
        let mut scored: Vec<(Ratio, Ratio, &OrgSlug, &str)> = teams
            .iter()
            .map(|(&key, users)| {
                let now = daily(key, users, month);
                (
                    now,
                    now.minus(daily(key, users, month.plus(-1))),
                    key.0,
                    key.1,
                )
            })
            .collect();
        scored.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| (a.2, a.3).cmp(&(b.2, b.3))));
        let most: Vec<_> = scored.iter().take(limit).cloned().collect();
        scored.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| (a.2, a.3).cmp(&(b.2, b.3))));
        let least: Vec<_> = scored.iter().take(limit).cloned().collect();
        for (rank, list) in [("most", most), ("least", least)] {
            for (now, change, org, team) in list {
                table.rows.push(vec![
                    Cell::Month(month),
                    Cell::text(rank),
                    Cell::text(org.as_str()),
                    Cell::text(team),
                    Cell::Ratio(now),
                    Cell::Ratio(change),
                ]);
            }
        }
    }
    table
}

pub const INACTIVE: Widget = Widget {
    id: "users.inactive",
    title: "Inactive users",
    description: "Members who have not logged in for the configured number of months, or never.",
    area: Area::Users,
    chart: Chart::Table,
    columns: &[
        ("user", ColumnType::Text),
        ("name", ColumnType::Text),
        ("email", ColumnType::Text),
        ("orgs", ColumnType::Text),
        ("last_login", ColumnType::Instant),
        ("days_inactive", ColumnType::Integer),
    ],
    compute: inactive,
};

fn inactive(cx: &Ctx<'_>) -> Table {
    let as_of = cx.report.as_of;
    let threshold = cx
        .cal
        .months_before(as_of, cx.settings.inactive_after_months.into());
    let last_login = last_logins(cx);
    let profiles = cx.history.profiles();
    let members = cx.history.members_at(as_of);
    let mut table = Table::new(&[
        "user",
        "name",
        "email",
        "orgs",
        "last_login",
        "days_inactive",
    ]);
    for (user, orgs) in members.orgs_by_user() {
        let last = last_login.get(user).copied();
        if last.is_some_and(|t| t >= threshold) {
            continue;
        }
        let (name, email) = profile(&profiles, user);
        let days = last.map_or(Cell::Null, |t| {
            Cell::Int((as_of.0 - t.0).div_euclid(MICROS_PER_DAY))
        });
        table.rows.push(vec![
            Cell::text(user),
            Cell::text(name),
            Cell::text(email),
            Cell::text(orgs.join(";")),
            Cell::opt_instant(last),
            days,
        ]);
    }
    table.sort(&[(4, Order::Asc), (0, Order::Asc)]);
    table
}

fn last_logins<'h>(cx: &Ctx<'h>) -> HashMap<&'h str, Micros> {
    let mut last = HashMap::new();
    for event in cx.history.events() {
        if let EventBody::Login { user } = &event.body {
            last.insert(user.as_str(), event.time);
        }
    }
    last
}

pub const LATEST_LOGINS: Widget = Widget {
    id: "users.latest_logins",
    title: "Latest logins",
    description: "Users who logged in during the last days, with their latest login and how many.",
    area: Area::Users,
    chart: Chart::Table,
    columns: &[
        ("user", ColumnType::Text),
        ("name", ColumnType::Text),
        ("orgs", ColumnType::Text),
        ("last_login", ColumnType::Instant),
        ("logins", ColumnType::Integer),
    ],
    compute: latest_logins,
};

fn latest_logins(cx: &Ctx<'_>) -> Table {
    let as_of = cx.report.as_of;
    let since = Micros(as_of.0 - i64::from(cx.settings.latest_logins_days) * 24 * MICROS_PER_HOUR);
    let mut recent: BTreeMap<&str, (Micros, i64)> = BTreeMap::new();
    for event in cx.history.events() {
        if let EventBody::Login { user } = &event.body
            && event.time > since
        {
            let entry = recent.entry(user.as_str()).or_insert((event.time, 0));
            entry.0 = entry.0.max(event.time);
            entry.1 += 1;
        }
    }
    let profiles = cx.history.profiles();
    let members = cx.history.members_at(as_of);
    let orgs = members.orgs_by_user();
    let mut table = Table::new(&["user", "name", "orgs", "last_login", "logins"]);
    for (user, (last, count)) in recent {
        table.rows.push(vec![
            Cell::text(user),
            Cell::text(profile(&profiles, user).0),
            Cell::text(joined(orgs.get(user))),
            Cell::Instant(last),
            Cell::Int(count),
        ]);
    }
    table.sort(&[(3, Order::Desc)]);
    table
}

pub const POPULAR_PAGES: Widget = Widget {
    id: "users.popular_pages",
    title: "Popular pages",
    description: "The most viewed pages in the period, for admins and for members.",
    area: Area::Users,
    chart: Chart::Table,
    columns: &[
        ("role", ColumnType::Text),
        ("page", ColumnType::Text),
        ("views", ColumnType::Integer),
        ("users", ColumnType::Integer),
    ],
    compute: popular_pages,
};

fn popular_pages(cx: &Ctx<'_>) -> Table {
    let members = cx.history.members_at(cx.report.as_of);
    let mut pages: BTreeMap<(&str, &str), (i64, BTreeSet<&str>)> = BTreeMap::new();
    for event in cx.history.events() {
        if let EventBody::PageView { user, page, .. } = &event.body
            && cx.in_period(event.time)
        {
            let admin = members
                .get(&event.org, user)
                .is_some_and(|m| m.role == Role::Admin);
            let entry = pages
                .entry((if admin { "admin" } else { "member" }, page.as_str()))
                .or_default();
            entry.0 += 1;
            entry.1.insert(user.as_str());
        }
    }
    let mut table = Table::new(&["role", "page", "views", "users"]);
    for role in ["admin", "member"] {
        let mut rows: Vec<Vec<Cell>> = pages
            .iter()
            .filter(|((r, _), _)| *r == role)
            .map(|((r, page), (views, users))| {
                vec![
                    Cell::text(*r),
                    Cell::text(*page),
                    Cell::Int(*views),
                    Cell::int(users.len()),
                ]
            })
            .collect();
        super::table::sort_rows(&mut rows, &[(2, Order::Desc), (1, Order::Asc)]);
        rows.truncate(cx.settings.popular_pages as usize);
        table.rows.extend(rows);
    }
    table
}
