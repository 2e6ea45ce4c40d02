//! Members and profiles at `as_of`, from the member log applied up to it.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::ReportFacts;
use crate::args;
use crate::event::Role;
use crate::event::columns::decode_teams;
use crate::metrics::facts::{Members, Membership, Profile, Profiles};
use crate::store::cache::{Key, MemberLog};
use crate::store::parts::{MemberEvent, Part};

impl ReportFacts<'_> {
    fn member_log(&self) -> anyhow::Result<Arc<MemberLog>> {
        self.part(Key::Part(Part::MemberLog), || {
            let mut log = MemberLog::default();
            self.db().each(
                "SELECT l.org, o.value, l.\"user\", l.time, l.id, l.role, l.teams, l.name, l.email
                   FROM member_log l JOIN strings o ON o.id = l.org",
                args![],
                &mut |r| {
                    log.0.push(MemberEvent {
                        org: r.int(0)?,
                        org_slug: Self::slug(&r.text(1)?)?,
                        user: r.int(2)?,
                        time: r.int(3)?,
                        id: r.text(4)?.into(),
                        role: r.int(5)?,
                        teams: match r.opt_text(6)? {
                            Some(json) => Some(decode_teams(&json)?.into()),
                            None => None,
                        },
                        name: r.opt_int(7)?,
                        email: r.opt_int(8)?,
                    });
                    Ok(())
                },
            )?;
            log.sort();
            Ok(log)
        })
    }

    /// The member events of the report's orgs up to `as_of`, in order.
    fn member_events<'l>(&self, log: &'l MemberLog) -> impl Iterator<Item = &'l MemberEvent> {
        let end = log.0.partition_point(|e| e.time <= self.as_of.0);
        log.0[..end].iter().filter(|e| self.includes(e.org))
    }

    pub(super) fn read_members(&self) -> anyhow::Result<Members> {
        let log = self.member_log()?;
        let mut latest: FxHashMap<(i64, i64), &MemberEvent> = FxHashMap::default();
        for event in self.member_events(&log) {
            latest.insert((event.org, event.user), event);
        }
        let latest_users: Vec<i64> = latest.keys().map(|(_, u)| *u).collect();
        let names = self.names(latest_users.iter().copied())?;
        let mut memberships = Vec::with_capacity(latest.len());
        for ((_, user), event) in latest {
            let Some(role) = Role::from_code(event.role) else {
                continue;
            };
            let teams = event.teams.clone().unwrap_or_else(|| Arc::from([]));
            memberships.push((
                event.org_slug.clone(),
                Self::named(user)?,
                Membership { role, teams },
            ));
        }
        let texts = Self::texts(&names, latest_users)?;
        Ok(Members::new(memberships, texts))
    }

    pub(super) fn read_profiles(&self) -> anyhow::Result<Profiles> {
        let log = self.member_log()?;
        // For each user: the string ids of the latest name and e-mail.
        let mut latest: FxHashMap<i64, (Option<i64>, Option<i64>)> = FxHashMap::default();
        for event in self.member_events(&log).filter(|e| e.role != 0) {
            let entry = latest.entry(event.user).or_default();
            if event.name.is_some() {
                entry.0 = event.name;
            }
            if event.email.is_some() {
                entry.1 = event.email;
            }
        }
        let names = self.names(
            latest
                .iter()
                .flat_map(|(user, (n, e))| [Some(*user), *n, *e])
                .flatten(),
        )?;
        let text = |id: Option<i64>| -> anyhow::Result<Option<Arc<str>>> {
            id.map(|id| Self::name(&names, id).cloned()).transpose()
        };
        latest
            .into_iter()
            .map(|(user, (name, email))| {
                Ok((
                    Self::named(user)?,
                    Profile {
                        name: text(name)?,
                        email: text(email)?,
                    },
                ))
            })
            .collect()
    }
}
