//! The reference reading of the contract: [`Facts`] computed straight from
//! the raw events a report can see (its orgs, up to `as_of`), in state
//! order (`time`, then `id`, then `org`). Its cost grows with the history,
//! so the server never uses it: it answers from rollups, and the tests hold
//! the two equal. It shares one thing with the rollups on purpose, the
//! mapping of an event to the cell it counts in (`rollup::cells`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::num::NonZeroU32;
use std::sync::Arc;

use super::Report;
use super::facts::{
    Count, Counts, Facts, GroupBy, LoginDays, LoginRecord, LoginRecords, Members, Membership,
    Metric, Name, Profiles, RecentLogins, SourceEvent, SourceSummary, Texts,
};
use crate::calendar::{Calendar, Day, Month};
use crate::config::Settings;
use crate::event::columns::to_columns;
use crate::event::{EntityCount, Event, EventBody, OrgSlug};
use crate::rollup::cells::{TRIGGER_NAMES, cell_of};
use crate::time::Micros;

pub struct History {
    events: Vec<Event>,
    cal: Calendar,
    settings: Settings,
    as_of: Micros,
    /// The number of each name handed out (see [`Name`]).
    names: std::cell::RefCell<HashMap<Arc<str>, u32>>,
}

impl History {
    pub fn new(
        events: impl IntoIterator<Item = Event>,
        report: &Report,
        cal: &Calendar,
        settings: &Settings,
    ) -> History {
        let mut events: Vec<Event> = events
            .into_iter()
            .filter(|e| e.time <= report.as_of && report.includes(&e.org))
            .collect();
        events.sort_by(|a, b| {
            (a.time, a.id.as_bytes(), &a.org).cmp(&(b.time, b.id.as_bytes(), &b.org))
        });
        History {
            events,
            cal: cal.clone(),
            settings: settings.clone(),
            as_of: report.as_of,
            names: Default::default(),
        }
    }

    /// `text` as a [`Name`]: equal texts get equal numbers.
    fn name(&self, text: &str) -> Name {
        let mut names = self.names.borrow_mut();
        if let Some(id) = names.get(text) {
            return Name(NonZeroU32::new(*id).expect("numbered from one"));
        }
        let id = names.len() as u32 + 1;
        names.insert(text.into(), id);
        Name(NonZeroU32::new(id).expect("numbered from one"))
    }

    /// The texts of every name handed out so far.
    fn texts(&self) -> Texts {
        let mut texts = Texts::default();
        for (text, id) in self.names.borrow().iter() {
            texts.insert(
                Name(NonZeroU32::new(*id).expect("numbered from one")),
                text.clone(),
            );
        }
        texts
    }

    fn logins_iter(&self) -> impl Iterator<Item = (&OrgSlug, &str, Micros)> {
        self.events.iter().filter_map(|e| match &e.body {
            EventBody::Login { user } => Some((&e.org, user.as_str(), e.time)),
            _ => None,
        })
    }
}

impl History {
    /// The count (with `n` 0) that `event` adds to for `metric` and `keys`,
    /// if it counts: the rollups' own cell mapping, with the keys not asked
    /// for left out.
    fn count_of(
        &self,
        metric: Metric,
        keys: GroupBy,
        event: &Event,
        month: Month,
    ) -> Option<Count> {
        let columns = to_columns(&event.body);
        let cell = cell_of(&columns, TRIGGER_NAMES).filter(|c| c.metric == metric)?;
        let keep =
            |value: Option<&str>, wanted: bool| value.filter(|_| wanted).map(|v| self.name(v));
        Some(Count {
            month: keys.month.then_some(month),
            org: self.name(event.org.as_str()),
            user: keep(cell.user, keys.user),
            subject: keep(cell.subject, keys.subject),
            facet: keep(cell.facet, keys.facet),
            n: 0,
        })
    }
}

/// The answers, computed from the events.
impl History {
    pub fn counts(&self, metric: Metric, months: &[Month], keys: GroupBy) -> Counts {
        let wanted: BTreeSet<Month> = months.iter().copied().collect();
        let mut counts: BTreeMap<Count, i64> = BTreeMap::new();
        let mut orgs = rustc_hash::FxHashMap::default();
        for event in &self.events {
            let month = self.cal.month_of(event.time);
            if wanted.contains(&month)
                && let Some(cell) = self.count_of(metric, keys, event, month)
            {
                orgs.insert(cell.org, event.org.clone());
                *counts.entry(cell).or_default() += 1;
            }
        }
        let rows = counts
            .into_iter()
            .map(|(count, n)| Count { n, ..count })
            .collect();
        Counts::new(rows, self.texts(), orgs)
    }

    pub fn action_titles(&self, from: Micros, to: Micros) -> HashMap<String, String> {
        let mut titles = HashMap::new();
        for event in self
            .events
            .iter()
            .filter(|e| from <= e.time && e.time <= to)
        {
            if let EventBody::ActionRun {
                action,
                title: Some(title),
                ..
            } = &event.body
            {
                titles.insert(action.clone(), title.clone());
            }
        }
        titles
    }

    pub fn orgs(&self) -> Vec<OrgSlug> {
        let orgs: BTreeSet<&OrgSlug> = self.events.iter().map(|e| &e.org).collect();
        orgs.into_iter().cloned().collect()
    }

    pub fn members(&self) -> Members {
        let mut state: BTreeMap<(OrgSlug, String), Membership> = BTreeMap::new();
        for event in &self.events {
            match &event.body {
                EventBody::MemberUpserted {
                    user, role, teams, ..
                } => {
                    state.insert(
                        (event.org.clone(), user.clone()),
                        Membership {
                            role: *role,
                            teams: teams.clone().into(),
                        },
                    );
                }
                EventBody::MemberRemoved { user } => {
                    state.remove(&(event.org.clone(), user.clone()));
                }
                _ => {}
            }
        }
        let memberships: Vec<(OrgSlug, Name, Membership)> = state
            .into_iter()
            .map(|((org, user), m)| (org, self.name(&user), m))
            .collect();
        Members::new(memberships, self.texts())
    }

    pub fn profiles(&self) -> Profiles {
        let mut profiles = Profiles::default();
        for event in &self.events {
            if let EventBody::MemberUpserted {
                user, name, email, ..
            } = &event.body
            {
                let profile = profiles.entry(self.name(user)).or_default();
                if let Some(name) = name {
                    profile.name = Some(name.as_str().into());
                }
                if let Some(email) = email {
                    profile.email = Some(email.as_str().into());
                }
            }
        }
        profiles
    }

    pub fn snapshots_at(&self, t: Micros) -> BTreeMap<OrgSlug, Vec<EntityCount>> {
        let mut latest = BTreeMap::new();
        for event in self.events.iter().take_while(|e| e.time <= t) {
            if let EventBody::EntitySnapshot { counts } = &event.body {
                latest.insert(event.org.clone(), counts.clone());
            }
        }
        latest
    }

    pub fn first_snapshot(&self) -> Option<Micros> {
        self.events
            .iter()
            .find(|e| matches!(e.body, EventBody::EntitySnapshot { .. }))
            .map(|e| e.time)
    }

    pub fn data_sources(&self) -> BTreeMap<(OrgSlug, String), Vec<SourceEvent>> {
        let mut sources: BTreeMap<(OrgSlug, String), Vec<SourceEvent>> = BTreeMap::new();
        for event in &self.events {
            let (source, created) = match &event.body {
                EventBody::DataSourceCreated {
                    data_source,
                    data_source_type,
                    name,
                } => (data_source, Some((data_source_type.clone(), name.clone()))),
                EventBody::DataSourceDeleted { data_source } => (data_source, None),
                _ => continue,
            };
            sources
                .entry((event.org.clone(), source.clone()))
                .or_default()
                .push(SourceEvent {
                    time: event.time,
                    created,
                });
        }
        sources
    }

    pub fn logins(&self) -> LoginRecords {
        let min_logins = i64::from(self.settings.activation_min_logins);
        let min_weeks = self.settings.activation_min_weeks as usize;
        let mut weeks: HashMap<&str, BTreeSet<_>> = HashMap::new();
        let mut records = LoginRecords::default();
        for (_, user, time) in self.logins_iter() {
            let user_weeks = weeks.entry(user).or_default();
            user_weeks.insert(self.cal.week_of(time));
            let record = records
                .by_name
                .entry(self.name(user))
                .or_insert(LoginRecord {
                    logins: 0,
                    weeks: 0,
                    last: time,
                    activated_at: None,
                });
            record.logins += 1;
            record.weeks = user_weeks.len() as i64;
            record.last = time;
            if record.activated_at.is_none()
                && record.logins >= min_logins
                && user_weeks.len() >= min_weeks
            {
                record.activated_at = Some(time);
            }
        }
        records.texts = self.texts();
        records
    }

    pub fn login_days(&self, months: &[Month]) -> LoginDays {
        let wanted: BTreeSet<Month> = months.iter().copied().collect();
        let mut days: BTreeSet<(&OrgSlug, &str, Day)> = BTreeSet::new();
        for (org, user, time) in self.logins_iter() {
            let day = self.cal.day_of(time);
            if wanted.contains(&day.month()) {
                days.insert((org, user, day));
            }
        }
        let mut counts = LoginDays::default();
        for (org, user, day) in days {
            let months = counts
                .by_member
                .entry((org.clone(), self.name(user)))
                .or_default();
            match months.last_mut() {
                Some((month, n)) if *month == day.month() => *n += 1,
                _ => months.push((day.month(), 1)),
            }
        }
        counts.texts = self.texts();
        counts
    }

    pub fn logins_since(&self, since: Micros) -> RecentLogins {
        let mut recent = RecentLogins::default();
        for (_, user, time) in self
            .logins_iter()
            .filter(|(_, _, t)| *t > since && *t <= self.as_of)
        {
            let entry = recent.by_name.entry(self.name(user)).or_insert((time, 0));
            entry.0 = entry.0.max(time);
            entry.1 += 1;
        }
        recent.texts = self.texts();
        recent
    }
}

impl Facts for History {
    fn counts(
        &self,
        metric: Metric,
        months: &[Month],
        keys: GroupBy,
    ) -> anyhow::Result<Arc<Counts>> {
        Ok(Arc::new(History::counts(self, metric, months, keys)))
    }

    fn action_titles(&self, from: Micros, to: Micros) -> anyhow::Result<HashMap<String, String>> {
        Ok(History::action_titles(self, from, to))
    }

    fn orgs(&self) -> anyhow::Result<Vec<OrgSlug>> {
        Ok(History::orgs(self))
    }

    fn members(&self) -> anyhow::Result<Arc<Members>> {
        Ok(Arc::new(History::members(self)))
    }

    fn profiles(&self) -> anyhow::Result<Arc<Profiles>> {
        Ok(Arc::new(History::profiles(self)))
    }

    fn snapshots_at(&self, t: Micros) -> anyhow::Result<BTreeMap<OrgSlug, Vec<EntityCount>>> {
        Ok(History::snapshots_at(self, t))
    }

    fn first_snapshot(&self) -> anyhow::Result<Option<Micros>> {
        Ok(History::first_snapshot(self))
    }

    fn data_source_summaries(&self) -> anyhow::Result<BTreeMap<(OrgSlug, String), SourceSummary>> {
        Ok(super::datasources::summaries_of(&History::data_sources(
            self,
        )))
    }

    fn data_sources_existing(&self, times: &[Micros]) -> anyhow::Result<Vec<i64>> {
        Ok(super::datasources::existing_of(
            &History::data_sources(self),
            times,
        ))
    }

    fn logins(&self) -> anyhow::Result<Arc<LoginRecords>> {
        Ok(Arc::new(History::logins(self)))
    }

    fn login_days(&self, months: &[Month]) -> anyhow::Result<Arc<LoginDays>> {
        Ok(Arc::new(History::login_days(self, months)))
    }

    fn logins_since(&self, since: Micros) -> anyhow::Result<Arc<RecentLogins>> {
        Ok(Arc::new(History::logins_since(self, since)))
    }
}
