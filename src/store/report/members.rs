//! Members and profiles at `as_of`, from the member log applied up to it.

use std::collections::BTreeMap;
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
                        teams: r.opt_text(6)?.map(Arc::from),
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
        let names = self.names(latest.keys().flat_map(|(o, u)| [*o, *u]))?;
        let mut by_org_user = BTreeMap::new();
        for ((_, user), event) in latest {
            let Some(role) = Role::from_code(event.role) else {
                continue;
            };
            let teams = decode_teams(event.teams.as_deref().unwrap_or("[]"))?;
            by_org_user.insert(
                (
                    event.org_slug.clone(),
                    Self::name(&names, user)?.to_string(),
                ),
                Membership { role, teams },
            );
        }
        Ok(Members::new(by_org_user))
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
        let text = |id: Option<i64>| -> anyhow::Result<String> {
            Ok(match id {
                Some(id) => Self::name(&names, id)?.to_string(),
                None => String::new(),
            })
        };
        latest
            .into_iter()
            .map(|(user, (name, email))| {
                Ok((
                    Self::name(&names, user)?.to_string(),
                    Profile {
                        name: text(name)?,
                        email: text(email)?,
                    },
                ))
            })
            .collect()
    }
}
