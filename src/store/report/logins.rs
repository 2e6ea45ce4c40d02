//! Login records, login days and recent logins at `as_of`, from each
//! user's login summary (everything up to the end of the month before
//! `as_of`) and their login times of the months involved: no raw event,
//! and nothing after `as_of`, is read.

use std::collections::BTreeSet;
use std::sync::Arc;

use anyhow::Context;
use rustc_hash::FxHashMap;

use super::ReportFacts;
use crate::args;
use crate::calendar::Month;
use crate::event::OrgSlug;
use crate::metrics::facts::{LoginDays, LoginRecord, LoginRecords, RecentLogins};
use crate::rollup::logins::{LoginSummary, SummaryAt};
use crate::rollup::month_logins::MonthLogins;
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
                    all.put((r.int(0)?, r.int(1)?), &summary)
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
                    all.put((r.int(0)?, r.int(1)?), &logins)
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
        // Each user's orgs: most have one, whose summary is read in place;
        // the few with several are merged from their decoded summaries.
        let mut records: FxHashMap<i64, LoginRecord> = FxHashMap::default();
        let mut several: FxHashMap<i64, Vec<&[i64]>> = FxHashMap::default();
        for ((org, user), bytes) in summaries.iter() {
            if !self.includes(org) {
                continue;
            }
            let at = SummaryAt::read(bytes, before, week, settings);
            let (mut logins, mut last) = match at.through {
                Some(mark) => (mark.logins, Some(mark.last)),
                None => (0, None),
            };
            if let Some(month) = this_month.get((org, user)) {
                let times = month.times;
                let upto = times.partition_point(|t| *t <= as_of);
                if upto > 0 {
                    logins += upto as i64;
                    last = last.max(Some(times[upto - 1]));
                }
            }
            let in_week = last.is_some_and(|t| t >= week_start);
            let record = LoginRecord {
                logins,
                // Completed below, with this week.
                weeks: at.weeks_before,
                last: last.unwrap_or(Micros(i64::MIN)),
                activated_at: at.activated_at.filter(|t| *t <= as_of),
            };
            match records.entry(user) {
                std::collections::hash_map::Entry::Vacant(slot) => {
                    let mut record = record;
                    record.weeks += i64::from(in_week);
                    slot.insert(record);
                }
                std::collections::hash_map::Entry::Occupied(mut slot) => {
                    // A second org: add up, and merge the summaries below.
                    let kept = slot.get_mut();
                    kept.logins += record.logins;
                    kept.last = kept.last.max(record.last);
                    several.insert(user, Vec::new());
                }
            }
        }
        // Users of several orgs: weeks and activation from their merged
        // summaries (a week counts once whatever the org).
        if !several.is_empty() {
            for ((org, user), bytes) in summaries.iter() {
                if let Some(list) = several.get_mut(&user)
                    && self.includes(org)
                {
                    list.push(bytes);
                }
            }
        }
        let mut out = Vec::with_capacity(records.len());
        for (user, mut record) in records {
            if let Some(several) = several.get(&user) {
                let decoded: Vec<LoginSummary> =
                    several.iter().map(|w| LoginSummary::unflatten(w)).collect();
                let refs: Vec<&LoginSummary> = decoded.iter().collect();
                let merged = LoginSummary::merge(&refs, settings);
                record.weeks = merged.weeks.count_before(week)
                    + i64::from(record.last >= week_start && record.last <= as_of);
                record.activated_at = merged.activated_at(settings).filter(|t| *t <= as_of);
            }
            if record.logins > 0 {
                out.push((user, record));
            }
        }
        let names = self.names(out.iter().map(|(id, _)| *id))?;
        let texts = Self::texts(&names, out.iter().map(|(id, _)| *id))?;
        let by_name = out
            .into_iter()
            .map(|(id, record)| Ok((Self::named(id)?, record)))
            .collect::<anyhow::Result<_>>()?;
        Ok(LoginRecords { by_name, texts })
    }

    pub(super) fn read_login_days(&self, months: &[Month]) -> anyhow::Result<LoginDays> {
        let wanted: BTreeSet<Month> = months
            .iter()
            .copied()
            .filter(|m| *m <= self.month)
            .collect();
        let mut days: FxHashMap<(i64, i64), Vec<(Month, i64)>> = FxHashMap::default();
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
            for ((org, user), logins) in self.month_logins(month)?.iter() {
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
        let mut slugs: FxHashMap<i64, OrgSlug> = FxHashMap::default();
        let mut out = LoginDays {
            texts: Self::texts(&names, days.keys().map(|(_, u)| *u))?,
            ..LoginDays::default()
        };
        for ((org, user), months) in days {
            let slug = match slugs.get(&org) {
                Some(slug) => slug.clone(),
                None => {
                    let slug = Self::slug(Self::name(&names, org)?)?;
                    slugs.insert(org, slug.clone());
                    slug
                }
            };
            out.by_member.insert((slug, Self::named(user)?), months);
        }
        Ok(out)
    }

    pub(super) fn read_logins_since(&self, since: Micros) -> anyhow::Result<RecentLogins> {
        let mut recent: FxHashMap<i64, (Micros, i64)> = FxHashMap::default();
        // The first login after `since`: the window moves with `as_of`, and
        // this login leaves it once `as_of` is as far past it.
        let mut next_out: Option<Micros> = None;
        if since < self.as_of {
            let first = self.settings.calendar.month_of(since);
            for month in first.0..=self.month.0 {
                for ((org, user), logins) in self.month_logins(Month(month))?.iter() {
                    if !self.includes(org) {
                        continue;
                    }
                    let times = logins.times;
                    let from = times.partition_point(|t| *t <= since);
                    let upto = times.partition_point(|t| *t <= self.as_of);
                    if let Some(first) = times.get(from) {
                        next_out = Some(next_out.map_or(*first, |n| n.min(*first)));
                    }
                    if upto > from {
                        let entry = recent.entry(user).or_insert((times[upto - 1], 0));
                        entry.0 = entry.0.max(times[upto - 1]);
                        entry.1 += (upto - from) as i64;
                    }
                }
            }
        }
        if let Some(first) = next_out {
            self.bound(Micros(first.0 + (self.as_of.0 - since.0)));
        }
        let names = self.names(recent.keys().copied())?;
        let texts = Self::texts(&names, recent.keys().copied())?;
        let by_name = recent
            .into_iter()
            .map(|(id, value)| Ok((Self::named(id)?, value)))
            .collect::<anyhow::Result<_>>()?;
        Ok(RecentLogins { by_name, texts })
    }
}
