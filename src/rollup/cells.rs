//! The one mapping from a counted event to its cell: the metric, and the
//! user, subject and facet it is counted under (beside its org and local
//! day). The writer's rollups and the raw-history oracle both use it.
//!
//! | metric | event | user | subject | facet |
//! | --- | --- | --- | --- | --- |
//! | `ActionRun` | action_run | user | action | trigger (`ui`/`api`) |
//! | `AutomationRun` | automation_run | | | |
//! | `AiInvocation` | ai_invocation | user | agent_type | source |
//! | `McpCall` | mcp_call | user | | |
//! | `PageView` | page_view | user | page | |

use crate::event::EventKind;
use crate::event::columns::Columns;

/// Counted event kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    ActionRun,
    AutomationRun,
    AiInvocation,
    McpCall,
    PageView,
}

impl Metric {
    pub const ALL: [Metric; 5] = [
        Metric::ActionRun,
        Metric::AutomationRun,
        Metric::AiInvocation,
        Metric::McpCall,
        Metric::PageView,
    ];

    /// The stored code (1 to 5).
    pub fn code(self) -> i64 {
        match self {
            Metric::ActionRun => 1,
            Metric::AutomationRun => 2,
            Metric::AiInvocation => 3,
            Metric::McpCall => 4,
            Metric::PageView => 5,
        }
    }

    pub fn from_code(code: i64) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.code() == code)
    }

    /// The metric an event kind counts in, if any.
    pub fn of_kind(kind: EventKind) -> Option<Metric> {
        match kind {
            EventKind::ActionRun => Some(Metric::ActionRun),
            EventKind::AutomationRun => Some(Metric::AutomationRun),
            EventKind::AiInvocation => Some(Metric::AiInvocation),
            EventKind::McpCall => Some(Metric::McpCall),
            EventKind::PageView => Some(Metric::PageView),
            _ => None,
        }
    }
}

/// The keys one event is counted under, besides its org and day; `S` is
/// a string or the store's id of one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cell<S> {
    pub metric: Metric,
    pub user: Option<S>,
    pub subject: Option<S>,
    pub facet: Option<S>,
}

/// The cell an event with these columns counts in, if it counts;
/// `triggers` are the names of `ui` and `api` in the form of `S`.
pub fn cell_of<S: Copy>(columns: &Columns<S>, triggers: [S; 2]) -> Option<Cell<S>> {
    let kind = EventKind::from_code(columns.kind)?;
    let metric = Metric::of_kind(kind)?;
    let (user, subject, facet) = match metric {
        Metric::ActionRun => {
            // The trigger is the code's low bits (1: ui, 2: api).
            let trigger = match columns.code % 4 {
                1 => triggers[0],
                _ => triggers[1],
            };
            (columns.user, columns.subject, Some(trigger))
        }
        Metric::AutomationRun => (None, None, None),
        Metric::AiInvocation => (columns.user, columns.label, columns.extra),
        Metric::McpCall => (columns.user, None, None),
        Metric::PageView => (columns.user, columns.subject, None),
    };
    Some(Cell {
        metric,
        user,
        subject,
        facet,
    })
}

/// The names of the triggers, as [`cell_of`] takes them for strings.
pub const TRIGGER_NAMES: [&str; 2] = ["ui", "api"];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::columns::to_columns;
    use crate::event::{EventBody, Trigger};

    #[test]
    fn an_action_run_counts_under_its_user_action_and_trigger() {
        let body = EventBody::ActionRun {
            action: "deploy".into(),
            trigger: Trigger::Api,
            user: Some("ann".into()),
            title: None,
            status: None,
        };
        let cell = cell_of(&to_columns(&body), TRIGGER_NAMES).unwrap();
        assert_eq!(
            cell,
            Cell {
                metric: Metric::ActionRun,
                user: Some("ann"),
                subject: Some("deploy"),
                facet: Some("api")
            }
        );
        let login = EventBody::Login { user: "ann".into() };
        assert!(cell_of(&to_columns(&login), TRIGGER_NAMES).is_none());
    }
}
