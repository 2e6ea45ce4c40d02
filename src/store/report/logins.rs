//! Login records, login days and recent logins at `as_of`, from each
//! user's login summary (everything up to the end of the month before
//! `as_of`) and their login times of the months involved: no raw event,
//! and nothing after `as_of`, is read.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use anyhow::Context;
use rustc_hash::FxHashMap;

use super::ReportFacts;
use crate::args;
use crate::calendar::Month;
use crate::metrics::facts::{LoginDays, LoginRecord, LoginRecords};
use crate::rollup::logins::{LoginSummary, MonthLogins};
use crate::store::cache::{Key, LoginDays as DayCounts, LoginSummaries, MonthLoginsByUser};
use crate::store::parts::Part;
use crate::time::Micros;

impl ReportFacts<'_> {
    fn login_summaries(&self) -> anyhow::Result<Arc<LoginSummaries>> {
        self.part(Key::Part(Part::LoginSummaries), || {
            let mut all = LoginSummaries::default();
            self.db().each(
                "SELECT s.org, s.\"user\", s.summary FROM login_summaries s",
                args![],
                &mut |r| {
                    let summary =
                        LoginSummary::decode(&r.bytes(2)?).context("a stored login summary")?;
                    all.0.insert((r.int(0)?, r.int(1)?), Arc::new(summary));
                    Ok(())
                },
            )?;
            Ok(all)
        })
    }

    fn month_logins(&self, month: Month) -> anyhow::Result<Arc<MonthLoginsByUser>> {
        self.part(Key::Part(Part::MonthLogins(month)), || {
            let mut all = MonthLoginsByUser::default();
            self.db().each(
                "SELECT m.org, m.\"user\", m.times FROM month_logins m WHERE m.month = ?1",
                args![month.0],
                &mut |r| {
                    let logins =
                        MonthLogins::decode(month, &r.bytes(2)?).context("stored month logins")?;
                    all.0.insert((r.int(0)?, r.int(1)?), Arc::new(logins));
                    Ok(())
                },
            )?;
            Ok(all)
        })
    }

    fn login_day_counts(&self, month: Month) -> anyhow::Result<Arc<DayCounts>> {
        self.part(Key::LoginDays(month), || {
            let mut all = DayCounts::default();
            self.db().each(
                "SELECT m.org, m.\"user\", m.days FROM month_logins m WHERE m.month = ?1",
                args![month.0],
                &mut |r| {
                    all.0
                        .insert((r.int(0)?, r.int(1)?), u32::try_from(r.int(2)?)?);
                    Ok(())
                },
            )?;
            Ok(all)
        })
    }

    pub(super) fn read_logins(&self) -> anyhow::Result<LoginRecords> {
        let settings = self.settings;
        let summaries = self.login_summaries()?;
        let this_month = self.month_logins(self.month)?;
        let before = self.month.plus(-1);
        let week = self.today.week();
        let week_start = self.day_start(week.monday());
        let as_of = self.as_of;
        let mut by_user: FxHashMap<i64, Vec<(i64, &LoginSummary)>> = FxHashMap::default();
        for (&(org, user), summary) in &summaries.0 {
            if self.includes(org) {
                by_user.entry(user).or_default().push((org, summary));
            }
        }
        let mut records: Vec<(i64, LoginRecord)> = Vec::with_capacity(by_user.len());
        for (user, orgs) in by_user {
            let (mut logins, mut last, mut in_week) = (0i64, None::<Micros>, false);
            for &(org, summary) in &orgs {
                if let Some(mark) = summary.through(before) {
                    logins += mark.logins;
                    last = last.max(Some(mark.last));
                    in_week |= mark.last >= week_start;
                }
                if let Some(month) = this_month.0.get(&(org, user)) {
                    let times = month.times();
                    let upto = times.partition_point(|t| *t <= as_of);
                    if upto > 0 {
                        logins += upto as i64;
                        last = last.max(Some(times[upto - 1]));
                        in_week |= times[upto - 1] >= week_start;
                    }
                }
            }
            let Some(last) = last.filter(|_| logins > 0) else {
                continue;
            };
            let list: Vec<&LoginSummary> = orgs.iter().map(|(_, s)| *s).collect();
            let merged;
            let summary = match list.as_slice() {
                [only] => *only,
                several => {
                    merged = LoginSummary::merge(several, settings);
                    &merged
                }
            };
            records.push((
                user,
                LoginRecord {
                    logins,
                    weeks: summary.weeks.count_before(week) + i64::from(in_week),
                    last,
                    activated_at: summary.activated_at(settings).filter(|t| *t <= as_of),
                },
            ));
        }
        let names = self.names(records.iter().map(|(id, _)| *id))?;
        records
            .into_iter()
            .map(|(id, record)| Ok((Self::name(&names, id)?.to_string(), record)))
            .collect()
    }

    pub(super) fn read_login_days(&self, months: &[Month]) -> anyhow::Result<LoginDays> {
        let wanted: BTreeSet<Month> = months
            .iter()
            .copied()
            .filter(|m| *m <= self.month)
            .collect();
        let mut days: BTreeMap<(i64, i64), Vec<(Month, i64)>> = BTreeMap::new();
        for month in wanted {
            if month < self.month {
                for (&(org, user), n) in &self.login_day_counts(month)?.0 {
                    if *n > 0 && self.includes(org) {
                        days.entry((org, user))
                            .or_default()
                            .push((month, i64::from(*n)));
                    }
                }
                continue;
            }
            // The month of `as_of`: its days up to `as_of`.
            let today = self.today;
            for (&(org, user), logins) in &self.month_logins(month)?.0 {
                if !self.includes(org) {
                    continue;
                }
                let n = logins
                    .days()
                    .filter(|(day, times)| {
                        *day < today || (*day == today && times[0] <= self.as_of)
                    })
                    .count() as i64;
                if n > 0 {
                    days.entry((org, user)).or_default().push((month, n));
                }
            }
        }
        let names = self.names(days.keys().flat_map(|(o, u)| [*o, *u]))?;
        days.into_iter()
            .map(|((org, user), months)| {
                Ok((
                    (
                        Self::slug(Self::name(&names, org)?)?,
                        Self::name(&names, user)?.to_string(),
                    ),
                    months,
                ))
            })
            .collect()
    }

    pub(super) fn read_logins_since(
        &self,
        since: Micros,
    ) -> anyhow::Result<BTreeMap<String, (Micros, i64)>> {
        let mut recent: FxHashMap<i64, (Micros, i64)> = FxHashMap::default();
        if since < self.as_of {
            let first = self.settings.calendar.month_of(since);
            for month in first.0..=self.month.0 {
                for (&(org, user), logins) in &self.month_logins(Month(month))?.0 {
                    if !self.includes(org) {
                        continue;
                    }
                    let times = logins.times();
                    let from = times.partition_point(|t| *t <= since);
                    let upto = times.partition_point(|t| *t <= self.as_of);
                    if upto > from {
                        let entry = recent.entry(user).or_insert((times[upto - 1], 0));
                        entry.0 = entry.0.max(times[upto - 1]);
                        entry.1 += (upto - from) as i64;
                    }
                }
            }
        }
        let names = self.names(recent.keys().copied())?;
        recent
            .into_iter()
            .map(|(id, value)| Ok((Self::name(&names, id)?.to_string(), value)))
            .collect()
    }
}
