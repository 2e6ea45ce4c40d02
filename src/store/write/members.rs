//! The `member_log` table: every member event. Readers take the members
//! and profiles at any instant from it (`report::members`).

use std::sync::Arc;

use anyhow::Context;

use super::super::events::NewEvent;
use super::super::parts::{Change, MemberEvent, Part};
use super::super::sql::{Arg, ColType, Db, exec_rows};
use crate::args;
use crate::event::EventBody;
use crate::event::columns::encode_teams;

/// The member events of one transaction.
#[derive(Default)]
pub struct MemberTally {
    events: Vec<MemberEvent>,
}

impl MemberTally {
    pub fn add(&mut self, new: &NewEvent<'_>) -> anyhow::Result<()> {
        let c = &new.columns;
        let teams = match &new.event.body {
            EventBody::MemberUpserted { teams, .. } => Some(Arc::from(teams.as_slice())),
            _ => None,
        };
        self.events.push(MemberEvent {
            org: new.org,
            org_slug: new.event.org.clone(),
            user: c.user.context("a stored member event without its user")?,
            time: new.event.time.0,
            id: new.event.id.as_str().into(),
            role: if teams.is_some() { c.code } else { 0 },
            teams,
            name: c.label,
            email: c.extra,
        });
        Ok(())
    }

    pub fn write(self, db: &dyn Db) -> anyhow::Result<Vec<(Part, Change)>> {
        if self.events.is_empty() {
            return Ok(Vec::new());
        }
        let teams: Vec<Option<String>> = self
            .events
            .iter()
            .map(|m| m.teams.as_deref().map(encode_teams))
            .collect();
        let rows: Vec<Vec<Arg<'_>>> = self
            .events
            .iter()
            .zip(&teams)
            .map(|(m, teams)| {
                args![
                    m.org,
                    m.user,
                    m.time,
                    &*m.id,
                    m.role,
                    teams.as_deref(),
                    m.name,
                    m.email
                ]
                .to_vec()
            })
            .collect();
        exec_rows(
            db,
            "INSERT INTO member_log (org, \"user\", time, id, role, teams, name, email) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            &[
                ColType::Int,
                ColType::Int,
                ColType::Int,
                ColType::Text,
                ColType::Int,
                ColType::Text,
                ColType::Int,
                ColType::Int,
            ],
            &rows,
        )?;
        Ok(vec![(Part::MemberLog, Change::MemberLog(self.events))])
    }
}
