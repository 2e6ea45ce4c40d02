//! Events of the ingest contract (`events.md`) as validated domain types.
//!
//! Everything downstream of this module (the writer, the store, the
//! metrics) receives only [`Event`] values, which hold no invalid state:
//! validation happens once, here, at the edge.

pub mod columns;
pub mod framing;
pub mod json;
pub mod validate;

use std::fmt;

use crate::time::Micros;

/// An organization slug: `[a-z0-9][a-z0-9_-]{0,63}`. Shared, as reports
/// hold one per cell.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrgSlug(std::sync::Arc<str>);

impl OrgSlug {
    pub fn parse(s: &str) -> Option<OrgSlug> {
        let b = s.as_bytes();
        let first_ok = matches!(b.first(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit());
        let rest_ok = b[1.min(b.len())..]
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-');
        (first_ok && rest_ok && b.len() <= 64).then(|| OrgSlug(s.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrgSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One accepted event: where, which, when, and what.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub org: OrgSlug,
    /// The sender's id, unique per org (1–128 bytes, no control characters).
    pub id: String,
    pub time: Micros,
    pub body: EventBody,
}

#[derive(Clone, Debug, PartialEq)]
pub enum EventBody {
    Login {
        user: String,
    },
    PageView {
        user: String,
        page: String,
        title: Option<String>,
    },
    ActionRun {
        action: String,
        trigger: Trigger,
        user: Option<String>,
        title: Option<String>,
        status: Option<RunStatus>,
    },
    AutomationRun {
        automation: String,
        title: Option<String>,
        status: Option<RunStatus>,
    },
    AiInvocation {
        agent: String,
        agent_type: String,
        source: String,
        user: Option<String>,
    },
    McpCall {
        tool: String,
        user: Option<String>,
    },
    EntitySnapshot {
        counts: Vec<EntityCount>,
    },
    DataSourceCreated {
        data_source: String,
        data_source_type: String,
        name: String,
    },
    DataSourceDeleted {
        data_source: String,
    },
    MemberUpserted {
        user: String,
        role: Role,
        name: Option<String>,
        email: Option<String>,
        /// Sorted, without repeats.
        teams: Vec<String>,
    },
    MemberRemoved {
        user: String,
    },
}

impl EventBody {
    pub fn kind(&self) -> EventKind {
        match self {
            EventBody::Login { .. } => EventKind::Login,
            EventBody::PageView { .. } => EventKind::PageView,
            EventBody::ActionRun { .. } => EventKind::ActionRun,
            EventBody::AutomationRun { .. } => EventKind::AutomationRun,
            EventBody::AiInvocation { .. } => EventKind::AiInvocation,
            EventBody::McpCall { .. } => EventKind::McpCall,
            EventBody::EntitySnapshot { .. } => EventKind::EntitySnapshot,
            EventBody::DataSourceCreated { .. } => EventKind::DataSourceCreated,
            EventBody::DataSourceDeleted { .. } => EventKind::DataSourceDeleted,
            EventBody::MemberUpserted { .. } => EventKind::MemberUpserted,
            EventBody::MemberRemoved { .. } => EventKind::MemberRemoved,
        }
    }
}

/// The event types, with the stable numeric codes the store keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    Login = 1,
    PageView = 2,
    ActionRun = 3,
    AutomationRun = 4,
    AiInvocation = 5,
    McpCall = 6,
    EntitySnapshot = 7,
    DataSourceCreated = 8,
    DataSourceDeleted = 9,
    MemberUpserted = 10,
    MemberRemoved = 11,
}

impl EventKind {
    pub const ALL: [EventKind; 11] = [
        EventKind::Login,
        EventKind::PageView,
        EventKind::ActionRun,
        EventKind::AutomationRun,
        EventKind::AiInvocation,
        EventKind::McpCall,
        EventKind::EntitySnapshot,
        EventKind::DataSourceCreated,
        EventKind::DataSourceDeleted,
        EventKind::MemberUpserted,
        EventKind::MemberRemoved,
    ];

    pub fn name(self) -> &'static str {
        match self {
            EventKind::Login => "login",
            EventKind::PageView => "page_view",
            EventKind::ActionRun => "action_run",
            EventKind::AutomationRun => "automation_run",
            EventKind::AiInvocation => "ai_invocation",
            EventKind::McpCall => "mcp_call",
            EventKind::EntitySnapshot => "entity_snapshot",
            EventKind::DataSourceCreated => "data_source_created",
            EventKind::DataSourceDeleted => "data_source_deleted",
            EventKind::MemberUpserted => "member_upserted",
            EventKind::MemberRemoved => "member_removed",
        }
    }

    pub fn from_name(name: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.name() == name)
    }

    pub fn code(self) -> i64 {
        self as i64
    }

    pub fn from_code(code: i64) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// How an action run was started.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Trigger {
    Ui = 1,
    Api = 2,
}

/// The outcome of an action or automation run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RunStatus {
    Success = 1,
    Failure = 2,
    InProgress = 3,
}

/// A member's role in an org.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Admin = 1,
    Member = 2,
}

macro_rules! named_enum {
    ($ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            pub const NAMES: &'static [&'static str] = &[$($name),+];

            pub fn name(self) -> &'static str {
                match self { $($ty::$variant => $name),+ }
            }

            pub fn from_name(name: &str) -> Option<$ty> {
                match name { $($name => Some($ty::$variant),)+ _ => None }
            }

            pub fn code(self) -> i64 {
                self as i64
            }

            pub fn from_code(code: i64) -> Option<$ty> {
                [$($ty::$variant),+].into_iter().find(|v| v.code() == code)
            }
        }
    };
}

named_enum!(Trigger { Ui => "ui", Api => "api" });
named_enum!(RunStatus { Success => "success", Failure => "failure", InProgress => "in_progress" });
named_enum!(Role { Admin => "admin", Member => "member" });

/// One entry of an entity snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntityCount {
    pub blueprint: String,
    pub data_source: String,
    pub count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_slugs() {
        for good in ["acme-eu", "a", "0", "a_b-c", &"a".repeat(64)] {
            assert!(OrgSlug::parse(good).is_some(), "{good}");
        }
        for bad in [
            "",
            "Acme",
            "-a",
            "_a",
            "a b",
            "acme.eu",
            &"a".repeat(65),
            "é",
        ] {
            assert!(OrgSlug::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn kind_codes_round_trip() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::from_code(kind.code()), Some(kind));
            assert_eq!(EventKind::from_name(kind.name()), Some(kind));
        }
    }
}
