//! The events a report can see (its orgs, up to `as_of`), in state order
//! (`time`, then `id`, then `org`), with the state derived from them:
//! memberships and profiles. This is the reference reading of the
//! contract that every widget is computed from.

use std::collections::{BTreeMap, HashMap};

use crate::event::{Event, EventBody, OrgSlug, Role};
use crate::store::Store;
use crate::time::Micros;

use super::Report;

pub struct History {
    events: Vec<Event>,
}

/// A member's role and teams in one org.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    pub role: Role,
    pub teams: Vec<String>,
}

/// Name and e-mail, each `""` when never given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Profile {
    pub name: String,
    pub email: String,
}

/// Who is a member of which org at one instant.
pub struct Members {
    pub by_org_user: BTreeMap<(OrgSlug, String), Membership>,
}

impl Members {
    pub fn get(&self, org: &OrgSlug, user: &str) -> Option<&Membership> {
        self.by_org_user.get(&(org.clone(), user.to_owned()))
    }

    /// The orgs each member belongs to, sorted.
    pub fn orgs_by_user(&self) -> BTreeMap<&str, Vec<&str>> {
        let mut orgs: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (org, user) in self.by_org_user.keys() {
            orgs.entry(user.as_str()).or_default().push(org.as_str());
        }
        for list in orgs.values_mut() {
            list.sort_unstable();
        }
        orgs
    }
}

impl History {
    /// Reads the report's events from the store.
    pub fn load(store: &dyn Store, report: &Report) -> anyhow::Result<History> {
        let mut events = Vec::new();
        store.for_each_event(&mut |event| {
            if event.time <= report.as_of && report.includes(&event.org) {
                events.push(event);
            }
            Ok(())
        })?;
        Ok(History::from_events(events, report))
    }

    pub fn from_events(events: impl IntoIterator<Item = Event>, report: &Report) -> History {
        let mut events: Vec<Event> = events
            .into_iter()
            .filter(|e| e.time <= report.as_of && report.includes(&e.org))
            .collect();
        events.sort_by(|a, b| {
            (a.time, a.id.as_bytes(), &a.org).cmp(&(b.time, b.id.as_bytes(), &b.org))
        });
        History { events }
    }

    /// Every visible event, in state order.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The memberships at `t`: each `(org, user)` whose latest member event
    /// at or before `t` is an upsert.
    pub fn members_at(&self, t: Micros) -> Members {
        let mut by_org_user = BTreeMap::new();
        for event in self.events.iter().take_while(|e| e.time <= t) {
            match &event.body {
                EventBody::MemberUpserted {
                    user, role, teams, ..
                } => {
                    by_org_user.insert(
                        (event.org.clone(), user.clone()),
                        Membership {
                            role: *role,
                            teams: teams.clone(),
                        },
                    );
                }
                EventBody::MemberRemoved { user } => {
                    by_org_user.remove(&(event.org.clone(), user.clone()));
                }
                _ => {}
            }
        }
        Members { by_org_user }
    }

    /// Each user's profile: every field from their latest upsert that has it.
    pub fn profiles(&self) -> HashMap<String, Profile> {
        let mut profiles: HashMap<String, Profile> = HashMap::new();
        for event in &self.events {
            if let EventBody::MemberUpserted {
                user, name, email, ..
            } = &event.body
            {
                let profile = profiles.entry(user.clone()).or_default();
                if let Some(name) = name {
                    profile.name = name.clone();
                }
                if let Some(email) = email {
                    profile.email = email.clone();
                }
            }
        }
        profiles
    }

    /// The orgs that have any event (the orgs of a report without `org=`).
    pub fn orgs(&self) -> Vec<OrgSlug> {
        let mut orgs: Vec<OrgSlug> = self.events.iter().map(|e| e.org.clone()).collect();
        orgs.sort();
        orgs.dedup();
        orgs
    }
}
