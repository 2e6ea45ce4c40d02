//! What the widgets read: counts per month, state at an instant, and each
//! user's login record, all already restricted to the report (its orgs and
//! `time <= as_of`).
//!
//! Two implementations answer the same questions: [`History`](super::History) from the raw
//! events (the reference reading of the contract, used as the oracle in
//! tests), and the store's rollups (what the server uses), whose cost does
//! not grow with the length of the history.

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU32;
use std::sync::{Arc, OnceLock};

use rustc_hash::FxHashMap;

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

/// A user, page, action, … as facts name it: a number that every equal
/// name of one [`Facts`] shares. Widgets join on these numbers (a report
/// of a large company joins hundreds of thousands of counts to members)
/// and look the text up in the answer's [`Texts`] only to show it. Names
/// of two different `Facts` are never compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(pub NonZeroU32);

/// A set of names as a bitmap by number: numbers are small and dense (a
/// store's string ids), so a set of thousands of users is a few KiB read
/// in place, where a hash set took most of the time of the widgets
/// joining counts to people.
#[derive(Clone, Debug, Default)]
pub struct NameSet {
    words: Vec<u64>,
    len: usize,
}

impl NameSet {
    /// Adds `name`; whether it was new.
    pub fn insert(&mut self, name: Name) -> bool {
        let i = name.0.get() as usize;
        let (word, bit) = (i / 64, 1u64 << (i % 64));
        if word >= self.words.len() {
            self.words.resize(word + 1, 0);
        }
        let new = self.words[word] & bit == 0;
        self.words[word] |= bit;
        self.len += usize::from(new);
        new
    }

    pub fn contains(&self, name: Name) -> bool {
        let i = name.0.get() as usize;
        self.words
            .get(i / 64)
            .is_some_and(|w| w & (1u64 << (i % 64)) != 0)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The texts of the names an answer holds.
#[derive(Clone, Debug, Default)]
pub struct Texts(FxHashMap<Name, Arc<str>>);

impl Texts {
    pub fn insert(&mut self, name: Name, text: Arc<str>) {
        self.0.insert(name, text);
    }

    /// The text of `name` (empty if the answer does not hold it, which a
    /// store never hands out).
    pub fn get(&self, name: Name) -> &Arc<str> {
        self.0.get(&name).unwrap_or(super::table::empty_text())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Events of one metric in one org with the same keys (those not asked
/// for are `None`). Names only: the texts are in [`Counts`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Count {
    pub month: Option<Month>,
    pub org: Name,
    pub user: Option<Name>,
    pub subject: Option<Name>,
    pub facet: Option<Name>,
    pub n: i64,
}

/// Counts with the texts of their names and the slugs of their orgs.
#[derive(Clone, Debug, Default)]
pub struct Counts {
    pub rows: Vec<Count>,
    pub texts: Texts,
    orgs: FxHashMap<Name, OrgSlug>,
}

impl Counts {
    pub fn new(rows: Vec<Count>, texts: Texts, orgs: FxHashMap<Name, OrgSlug>) -> Counts {
        Counts { rows, texts, orgs }
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Count> {
        self.rows.iter()
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The org of a count.
    pub fn org(&self, count: &Count) -> &OrgSlug {
        self.orgs
            .get(&count.org)
            .expect("every org of a count has its slug")
    }

    /// The text of a name of these counts.
    pub fn text(&self, name: Name) -> &Arc<str> {
        self.texts.get(name)
    }

    /// The text of an optional name of these counts.
    pub fn str(&self, name: Option<Name>) -> Option<&str> {
        name.map(|n| &**self.texts.get(n))
    }
}

/// Values by name, with the texts of the names.
#[derive(Clone, Debug)]
pub struct Named<V> {
    pub by_name: FxHashMap<Name, V>,
    pub texts: Texts,
}

impl<V> Default for Named<V> {
    fn default() -> Named<V> {
        Named {
            by_name: FxHashMap::default(),
            texts: Texts::default(),
        }
    }
}

impl<V> Named<V> {
    pub fn get(&self, name: Name) -> Option<&V> {
        self.by_name.get(&name)
    }

    pub fn iter(&self) -> impl Iterator<Item = (Name, &V)> {
        self.by_name.iter().map(|(n, v)| (*n, v))
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    pub fn text(&self, name: Name) -> &Arc<str> {
        self.texts.get(name)
    }
}

/// A member's role and teams in one org.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    pub role: Role,
    /// Sorted, without repeats; shared, as a store decodes them once.
    pub teams: Arc<[String]>,
}

/// Name and e-mail, each absent until some member event gives it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Profile {
    pub name: Option<Arc<str>>,
    pub email: Option<Arc<str>>,
}

impl Profile {
    /// The name, `""` when never given.
    pub fn name(&self) -> &Arc<str> {
        self.name.as_ref().unwrap_or(super::table::empty_text())
    }

    /// The e-mail, `""` when never given.
    pub fn email(&self) -> &Arc<str> {
        self.email.as_ref().unwrap_or(super::table::empty_text())
    }
}

/// Who is a member of which org at one instant.
#[derive(Debug, Default)]
pub struct Members {
    /// Each member's orgs, sorted, with their role and teams there.
    by_user: FxHashMap<Name, Vec<(OrgSlug, Membership)>>,
    /// The members' texts.
    texts: Texts,
    /// Each member's orgs joined with `;`, built on first use.
    joined: OnceLock<FxHashMap<Name, Arc<str>>>,
}

impl Members {
    pub fn new(
        memberships: impl IntoIterator<Item = (OrgSlug, Name, Membership)>,
        texts: Texts,
    ) -> Members {
        let mut by_user: FxHashMap<Name, Vec<(OrgSlug, Membership)>> = FxHashMap::default();
        for (org, user, membership) in memberships {
            by_user.entry(user).or_default().push((org, membership));
        }
        for orgs in by_user.values_mut() {
            orgs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        }
        Members {
            by_user,
            texts,
            joined: OnceLock::new(),
        }
    }

    pub fn get(&self, org: &OrgSlug, user: Name) -> Option<&Membership> {
        let orgs = self.by_user.get(&user)?;
        orgs.iter().find(|(o, _)| o == org).map(|(_, m)| m)
    }

    /// Every membership: org, user, role and teams, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&OrgSlug, Name, &Membership)> {
        self.by_user
            .iter()
            .flat_map(|(user, orgs)| orgs.iter().map(move |(org, m)| (org, *user, m)))
    }

    /// The text of a member.
    pub fn text(&self, user: Name) -> &Arc<str> {
        self.texts.get(user)
    }

    /// Memberships (pairs of org and user).
    pub fn len(&self) -> usize {
        self.by_user.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.by_user.is_empty()
    }

    /// Each member with their orgs, sorted and joined with `;`, in no
    /// particular order.
    pub fn users(&self) -> impl Iterator<Item = (Name, &Arc<str>)> {
        self.joined().iter().map(|(user, orgs)| (*user, orgs))
    }

    /// A user's orgs joined with `;`, `""` for a user who is no member.
    pub fn orgs_of(&self, user: Name) -> &Arc<str> {
        self.joined()
            .get(&user)
            .unwrap_or(super::table::empty_text())
    }

    fn joined(&self) -> &FxHashMap<Name, Arc<str>> {
        self.joined.get_or_init(|| {
            self.by_user
                .iter()
                .map(|(user, orgs)| {
                    let names: Vec<&str> = orgs.iter().map(|(o, _)| o.as_str()).collect();
                    (*user, Arc::from(names.join(";")))
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
pub type Profiles = FxHashMap<Name, Profile>;

/// Each user's login record, by user.
pub type LoginRecords = Named<LoginRecord>;

/// For each user with a login in a window: the latest and how many.
pub type RecentLogins = Named<(Micros, i64)>;

/// For each `(org, user)`: the months with their number of distinct days
/// with a login, oldest first; and the users' texts.
#[derive(Clone, Debug, Default)]
pub struct LoginDays {
    pub by_member: FxHashMap<(OrgSlug, Name), Vec<(Month, i64)>>,
    pub texts: Texts,
}

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
    ) -> anyhow::Result<Arc<Counts>>;

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
    fn logins_since(&self, since: Micros) -> anyhow::Result<Arc<RecentLogins>>;
}
