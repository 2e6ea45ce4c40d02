//! What the widgets read: counts per month, state at an instant, and each
//! user's login record, all already restricted to the report (its orgs and
//! `time <= as_of`).
//!
//! Two implementations answer the same questions: [`History`](super::History) from the raw
//! events (the reference reading of the contract, used as the oracle in
//! tests), and the store's rollups (what the server uses), whose cost does
//! not grow with the length of the history.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use crate::calendar::Month;
use crate::event::{EntityCount, OrgSlug, Role};
use crate::time::Micros;

pub use crate::rollup::cells::Metric;

/// Which keys of a count a widget needs; the org is always kept. Counts
/// that differ only in the other keys are added up. What `subject` and
/// `facet` are depends on the metric (see `rollup::cells`): action and
/// trigger for action runs, agent type and source for AI invocations,
/// the page for page views.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GroupBy {
    pub month: bool,
    pub user: bool,
    pub subject: bool,
    pub facet: bool,
}

impl GroupBy {
    /// The org alone: totals over the months asked for.
    pub const ORG: GroupBy = GroupBy {
        month: false,
        user: false,
        subject: false,
        facet: false,
    };

    pub const fn month(self) -> GroupBy {
        GroupBy {
            month: true,
            ..self
        }
    }

    pub const fn user(self) -> GroupBy {
        GroupBy { user: true, ..self }
    }

    pub const fn subject(self) -> GroupBy {
        GroupBy {
            subject: true,
            ..self
        }
    }

    pub const fn facet(self) -> GroupBy {
        GroupBy {
            facet: true,
            ..self
        }
    }
}

/// Events of one metric in one org with the same keys (those not asked
/// for are `None`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Count {
    pub month: Option<Month>,
    pub org: OrgSlug,
    /// Shared strings: a history has few distinct users, pages and actions
    /// and many cells naming them.
    pub user: Option<Arc<str>>,
    pub subject: Option<Arc<str>>,
    pub facet: Option<Arc<str>>,
    pub n: i64,
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
#[derive(Debug, Default)]
pub struct Members {
    pub by_org_user: BTreeMap<(OrgSlug, String), Membership>,
    /// Each member's orgs, built on first use: a store may keep one
    /// `Members` for many reports.
    orgs: OnceLock<BTreeMap<String, String>>,
}

impl Members {
    pub fn new(by_org_user: BTreeMap<(OrgSlug, String), Membership>) -> Members {
        Members {
            by_org_user,
            orgs: OnceLock::new(),
        }
    }

    pub fn get(&self, org: &OrgSlug, user: &str) -> Option<&Membership> {
        self.by_org_user.get(&(org.clone(), user.to_owned()))
    }

    /// The orgs each member belongs to, sorted and joined with `;`.
    pub fn orgs_by_user(&self) -> &BTreeMap<String, String> {
        self.orgs.get_or_init(|| {
            let mut orgs: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for (org, user) in self.by_org_user.keys() {
                orgs.entry(user.as_str()).or_default().push(org.as_str());
            }
            orgs.into_iter()
                .map(|(user, mut list)| {
                    list.sort_unstable();
                    (user.to_owned(), list.join(";"))
                })
                .collect()
        })
    }
}

/// One event of a data source's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceEvent {
    pub time: Micros,
    /// `Some((type, name))` for a creation, `None` for a deletion.
    pub created: Option<(String, String)>,
}

/// A data source's history at `as_of`, as the log shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceSummary {
    /// Its earliest creation.
    pub first_created: Micros,
    /// Type and name of its latest creation.
    pub kind: String,
    pub name: String,
    /// The time of its latest event, when that is a deletion.
    pub deleted_at: Option<Micros>,
}

/// A user's logins in the report's orgs up to `as_of`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginRecord {
    pub logins: i64,
    /// Distinct ISO weeks with a login.
    pub weeks: i64,
    pub last: Micros,
    /// When the user became activated, if they did by `as_of`.
    pub activated_at: Option<Micros>,
}

/// Each user's profile, by user.
pub type Profiles = HashMap<String, Profile>;

/// Each user's login record, by user.
pub type LoginRecords = BTreeMap<String, LoginRecord>;

/// For each `(org, user)`: the months with their number of distinct days
/// with a login, oldest first.
pub type LoginDays = BTreeMap<(OrgSlug, String), Vec<(Month, i64)>>;

/// The answers that can be large (a row per user and more) are shared
/// (`Arc`): a store may hand out one it kept from an earlier report.
pub trait Facts {
    /// Counts of `metric` in `months` (none after the month of `as_of`;
    /// that month only up to `as_of`) by org and `keys`, zeros left out,
    /// in no particular order.
    fn counts(
        &self,
        metric: Metric,
        months: &[Month],
        keys: GroupBy,
    ) -> anyhow::Result<Arc<Vec<Count>>>;

    /// For each action run in `[from, to]` with an `action_title`, the title
    /// of the latest (by time, then id, then org).
    fn action_titles(&self, from: Micros, to: Micros) -> anyhow::Result<HashMap<String, String>>;

    /// Every org with any event.
    fn orgs(&self) -> anyhow::Result<Vec<OrgSlug>>;

    /// The memberships at `as_of`.
    fn members(&self) -> anyhow::Result<Arc<Members>>;

    /// Profiles at `as_of`.
    fn profiles(&self) -> anyhow::Result<Arc<Profiles>>;

    /// Each org's entity counts in force at `t` (`t <= as_of`).
    fn snapshots_at(&self, t: Micros) -> anyhow::Result<BTreeMap<OrgSlug, Vec<EntityCount>>>;

    /// The sum of every org's entity counts in force at `t`.
    fn entity_total_at(&self, t: Micros) -> anyhow::Result<i64> {
        Ok(self
            .snapshots_at(t)?
            .values()
            .flatten()
            .map(|c| c.count as i64)
            .sum())
    }

    /// The time of the earliest snapshot.
    fn first_snapshot(&self) -> anyhow::Result<Option<Micros>>;

    /// Every data source with a creation at or before `as_of`.
    fn data_source_summaries(&self) -> anyhow::Result<BTreeMap<(OrgSlug, String), SourceSummary>>;

    /// For each of `times` (none after `as_of`): how many data sources
    /// exist then (their latest event at or before it is a creation).
    fn data_sources_existing(&self, times: &[Micros]) -> anyhow::Result<Vec<i64>>;

    /// Every user with a login.
    fn logins(&self) -> anyhow::Result<Arc<LoginRecords>>;

    /// For each `(org, user)` and month of `months` with a login: the
    /// number of distinct days with a login by that user in that org.
    fn login_days(&self, months: &[Month]) -> anyhow::Result<Arc<LoginDays>>;

    /// For each user with a login in `(since, as_of]`: the latest and how many.
    fn logins_since(&self, since: Micros) -> anyhow::Result<BTreeMap<String, (Micros, i64)>>;
}
