//! The users area: activation, engagement by team, inactivity, recent
//! logins and popular pages.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use super::facts::{GroupBy, Metric, Name, NameSet, Profiles};
use super::{Area, Cell, Chart, ColumnType, Ctx, Order, Ratio, Table, Widget};
use crate::calendar::Month;
use crate::event::{OrgSlug, Role};
use crate::time::{MICROS_PER_DAY, MICROS_PER_HOUR, Micros};

/// A user's name and e-mail cells (empty without a profile).
fn profile(profiles: &Profiles, user: Name) -> (Cell, Cell) {
    profiles.get(&user).map_or_else(
        || (Cell::empty(), Cell::empty()),
        |p| (Cell::shared(p.name()), Cell::shared(p.email())),
    )
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

fn activated_monthly(cx: &Ctx<'_>) -> anyhow::Result<Table> {
    let activations: Vec<Micros> = cx
        .facts
        .logins()?
        .iter()
        .filter_map(|(_, l)| l.activated_at)
        .collect();
    let total_at = |t: Micros| activations.iter().filter(|a| **a <= t).count() as i64;
    let mut table = Table::default();
    for month in cx.report.months() {
        let total = total_at(cx.end(month));
        let previous = total_at(cx.end(month.plus(-1)));
        let change = if previous == 0 {
            Cell::Null
        } else {
            Cell::ratio(Ratio::new(
                i128::from(total - previous) * 100,
                previous.into(),
            ))
        };
        table.push([
            Cell::Month(month),
            Cell::Int(total),
            Cell::Int(total - previous),
            change,
        ]);
    }
    Ok(table)
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

fn activated_log(cx: &Ctx<'_>) -> anyhow::Result<Table> {
    let profiles = cx.facts.profiles()?;
    let members = cx.facts.members()?;
    let mut table = Table::default();
    let logins = cx.facts.logins()?;
    for (user, record) in logins.iter() {
        let Some(activated_at) = record.activated_at else {
            continue;
        };
        let (name, email) = profile(&profiles, user);
        table.push([
            Cell::shared(logins.text(user)),
            name,
            email,
            Cell::shared(members.orgs_of(user)),
            Cell::Instant(activated_at),
            Cell::Int(record.logins),
            Cell::Int(record.weeks),
            Cell::Instant(record.last),
        ]);
    }
    table.sort(&[(4, Order::Desc)]);
    Ok(table)
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

fn team_engagement(cx: &Ctx<'_>) -> anyhow::Result<Table> {
    engagement(cx, cx.settings.engaged_teams as usize)
}

/// Teams (with a member at `as_of`) with at least one login in the last
/// month of the period, and in the month before: the dashboard's
/// "engaged teams" figure. Read from the same
/// per-team counts as `users.team_engagement`, over every team.
pub fn engaged_teams(cx: &Ctx<'_>) -> anyhow::Result<Option<(i64, i64)>> {
    let Some(last) = cx.period().last().copied() else {
        return Ok(None);
    };
    let table = engagement(cx, usize::MAX)?;
    let zero = Ratio::new(0, 1);
    let (mut now, mut before) = (0, 0);
    for row in table.rows() {
        let (Cell::Month(month), Cell::Text(rank)) = (&row[0], &row[1]) else {
            continue;
        };
        if *month != last || &**rank != "most" {
            continue;
        }
        if let (Cell::Ratio(daily), Cell::Ratio(change)) = (&row[4], &row[5]) {
            now += i64::from(**daily > zero);
            // The month before (which may lie before the period): the
            // month's daily logins minus their change.
            before += i64::from(daily.minus(**change) > zero);
        }
    }
    Ok(Some((now, before)))
}

fn engagement(cx: &Ctx<'_>, limit: usize) -> anyhow::Result<Table> {
    let as_of_day = cx.cal.day_of(cx.report.as_of);
    let members = cx.facts.members()?;
    let period = cx.period();
    let Some(&first) = period.first() else {
        return Ok(Table::default());
    };
    // The month before the period too, for the first month's change.
    let before = first.plus(-1);
    let mut months = period.clone();
    months.push(before);
    let slots = period.len() + 1;
    // Each team's (member, day) pairs per month, from the month before:
    // each member's login days added to each of their teams.
    let login_days = cx.facts.login_days(&months)?;
    let mut index: FxHashMap<(&OrgSlug, &str), usize> = FxHashMap::default();
    let mut pairs: Vec<Vec<i64>> = Vec::new();
    for (org, user, membership) in members.iter() {
        let days = login_days.by_member.get(&(org.clone(), user));
        for team in membership.teams.iter() {
            let i = *index.entry((org, team.as_str())).or_insert_with(|| {
                pairs.push(vec![0; slots]);
                pairs.len() - 1
            });
            for (month, n) in days.into_iter().flatten() {
                if let Ok(m) = usize::try_from(month.0 - before.0)
                    && m < slots
                {
                    pairs[i][m] += n;
                }
            }
        }
    }
    let teams: BTreeMap<(&OrgSlug, &str), &Vec<i64>> = index
        .into_iter()
        .map(|(team, i)| (team, &pairs[i]))
        .collect();
    let pairs = |org: &OrgSlug, team: &str, month: Month| -> i64 {
        teams
            .get(&(org, team))
            .and_then(|p| p.get(usize::try_from(month.0 - before.0).ok()?))
            .copied()
            .unwrap_or(0)
    };
    let daily = |org: &OrgSlug, team: &str, month: Month| -> Ratio {
        let days = if month == as_of_day.month() {
            as_of_day.0 - month.first_day().0 + 1
        } else {
            month.days()
        };
        Ratio::new(pairs(org, team, month).into(), days.into())
    };
    let mut table = Table::default();
    for month in period {
        let mut scored: Vec<(Ratio, Ratio, &OrgSlug, &str)> = teams
            .keys()
            .map(|&(org, team)| {
                let now = daily(org, team, month);
                (now, now.minus(daily(org, team, month.plus(-1))), org, team)
            })
            .collect();
        scored.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| (a.2, a.3).cmp(&(b.2, b.3))));
        let most: Vec<_> = scored.iter().take(limit).cloned().collect();
        scored.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| (a.2, a.3).cmp(&(b.2, b.3))));
        let least: Vec<_> = scored.iter().take(limit).cloned().collect();
        for (rank, list) in [("most", most), ("least", least)] {
            for (now, change, org, team) in list {
                table.push([
                    Cell::Month(month),
                    Cell::text(rank),
                    Cell::text(org.as_str()),
                    Cell::text(team),
                    Cell::ratio(now),
                    Cell::ratio(change),
                ]);
            }
        }
    }
    Ok(table)
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

fn inactive(cx: &Ctx<'_>) -> anyhow::Result<Table> {
    let as_of = cx.report.as_of;
    let threshold = cx
        .cal
        .months_before(as_of, cx.settings.inactive_after_months.into());
    let logins = cx.facts.logins()?;
    let profiles = cx.facts.profiles()?;
    let members = cx.facts.members()?;
    let mut table = Table::default();
    for (user, orgs) in members.users() {
        let last = logins.get(user).map(|r| r.last);
        if last.is_some_and(|t| t >= threshold) {
            continue;
        }
        let (name, email) = profile(&profiles, user);
        let days = last.map_or(Cell::Null, |t| {
            Cell::Int((as_of.0 - t.0).div_euclid(MICROS_PER_DAY))
        });
        table.push([
            Cell::shared(members.text(user)),
            name,
            email,
            Cell::shared(orgs),
            Cell::opt_instant(last),
            days,
        ]);
    }
    table.sort(&[(4, Order::Asc), (0, Order::Asc)]);
    Ok(table)
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

fn latest_logins(cx: &Ctx<'_>) -> anyhow::Result<Table> {
    let as_of = cx.report.as_of;
    let since = Micros(as_of.0 - i64::from(cx.settings.latest_logins_days) * 24 * MICROS_PER_HOUR);
    let profiles = cx.facts.profiles()?;
    let members = cx.facts.members()?;
    let mut table = Table::default();
    let recent = cx.facts.logins_since(since)?;
    for (user, (last, count)) in recent.iter() {
        table.push([
            Cell::shared(recent.text(user)),
            profile(&profiles, user).0,
            Cell::shared(members.orgs_of(user)),
            Cell::Instant(*last),
            Cell::Int(*count),
        ]);
    }
    table.sort(&[(3, Order::Desc)]);
    Ok(table)
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

fn popular_pages(cx: &Ctx<'_>) -> anyhow::Result<Table> {
    let members = cx.facts.members()?;
    let counts = cx.facts.counts(
        Metric::PageView,
        &cx.period(),
        GroupBy::ORG.user().subject(),
    )?;
    // Who is an admin of which org, as sets of users.
    let mut admins: FxHashMap<&OrgSlug, NameSet> = FxHashMap::default();
    for (org, user, membership) in members.iter() {
        if membership.role == Role::Admin {
            admins.entry(org).or_default().insert(user);
        }
    }
    let mut admins_of: FxHashMap<Name, Option<&NameSet>> = FxHashMap::default();
    // Per page: the views and the viewers of admins (0) and of everyone
    // else (1), by the viewer's role in the view's org.
    type Viewed = [(i64, NameSet); 2];
    let mut by_page: FxHashMap<Name, Viewed> = FxHashMap::default();
    for count in counts.iter() {
        let (Some(user), Some(page)) = (count.user, count.subject) else {
            continue;
        };
        let org_admins = *admins_of
            .entry(count.org)
            .or_insert_with(|| admins.get(counts.org(count)));
        let admin = org_admins.is_some_and(|a| a.contains(user));
        let slot = &mut by_page.entry(page).or_default()[usize::from(!admin)];
        slot.0 += count.n;
        slot.1.insert(user);
    }
    let mut table = Table::default();
    for (i, role) in ["admin", "member"].into_iter().enumerate() {
        let mut rows = Table::from_rows(by_page.iter().filter(|(_, viewed)| viewed[i].0 > 0).map(
            |(page, viewed)| {
                vec![
                    Cell::text(role),
                    Cell::shared(counts.text(*page)),
                    Cell::Int(viewed[i].0),
                    Cell::int(viewed[i].1.len()),
                ]
            },
        ));
        rows.sort(&[(2, Order::Desc), (1, Order::Asc)]);
        rows.truncate(cx.settings.popular_pages as usize);
        table.append(rows);
    }
    Ok(table)
}
