//! A seeded generator of realistic portal events, in the mix of the acme
//! fixture (page views and logins most, then actions, automations and AI,
//! a little state), with power-law user activity and people who keep their
//! org, teams and role. Used by `bench`, `demo` and tests; the same seed
//! gives the same events.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use crate::time::{MICROS_PER_DAY, Micros};

const ORGS: [&str; 3] = ["acme-eu", "acme-us", "acme-labs"];
/// How people spread over the orgs: most in the two large ones.
const ORG_WEIGHTS: [u32; 3] = [45, 40, 15];
const TEAMS: [&str; 8] = [
    "platform", "data", "mobile", "identity", "search", "payments", "frontend", "sre",
];
const PAGES: [&str; 12] = [
    "/",
    "/catalog",
    "/catalog/service",
    "/self-serve",
    "/scorecards",
    "/teams",
    "/insights",
    "/ai-agents",
    "/settings",
    "/catalog/deployment",
    "/catalog/domain",
    "/automations",
];
const ACTIONS: [(&str, &str); 8] = [
    ("deploy_service", "Deploy a service"),
    ("create_service", "Create a microservice"),
    ("rollback", "Roll back a deployment"),
    ("create_env", "Create an environment"),
    ("grant_access", "Request temporary access"),
    ("scale_up", "Scale a service"),
    ("open_incident", "Open an incident"),
    ("run_pipeline", "Run a pipeline"),
];
const AUTOMATIONS: [(&str, &str); 5] = [
    ("notify_owner", "Notify the owner on failure"),
    ("sync_teams", "Sync teams from the directory"),
    ("expire_access", "Expire temporary access"),
    ("scorecard_alert", "Alert on scorecard drop"),
    ("cleanup_envs", "Clean up idle environments"),
];
/// Each blueprint with the data source that fills it and its size in a
/// large org at the start of the history.
const CATALOG: [(&str, &str, u32); 6] = [
    ("service", "github", 420),
    ("deployment", "k8s", 900),
    ("domain", "manual", 25),
    ("environment", "k8s", 60),
    ("pipeline", "github", 310),
    ("team", "manual", 40),
];
const DATA_SOURCE_TYPES: [(&str, &str); 6] = [
    ("github", "GitHub"),
    ("k8s", "Kubernetes"),
    ("pagerduty", "PagerDuty"),
    ("sonarqube", "SonarQube"),
    ("snyk", "Snyk"),
    ("jira", "Jira"),
];
const SOURCES: [&str; 5] = ["ai_assistant", "agent_widget", "slack", "api", "mcp"];
const AGENTS: [(&str, &str); 4] = [
    ("portal-assistant", "assistant"),
    ("incident-helper", "incident"),
    ("code-reviewer", "review"),
    ("onboarding-guide", "assistant"),
];
const MCP_TOOLS: [&str; 4] = [
    "get_entity",
    "search_catalog",
    "run_action",
    "list_scorecards",
];
const FIRST_NAMES: [&str; 16] = [
    "Ana", "Ben", "Chloé", "Dev", "Emeka", "Fatima", "Goran", "Hana", "Ivan", "Jun", "Kofi",
    "Lena", "Mateo", "Nadia", "Omar", "Priya",
];
const LAST_NAMES: [&str; 12] = [
    "Alvarez", "Brown", "Chen", "Dubois", "Eriksen", "Fischer", "García", "Haddad", "Ito",
    "Jensen", "Kowalski", "Lopez",
];

/// Someone who uses the portal: always in the same org and teams.
struct Person {
    /// When they start and stop using the portal, as parts of the period.
    joins: f64,
    leaves: f64,
    id: String,
    name: String,
    org: &'static str,
    role: &'static str,
    teams: Vec<&'static str>,
}

pub struct Generator {
    rng: StdRng,
    people: Vec<Person>,
    start: Micros,
    end: Micros,
    serial: u64,
    /// Events the generator is expected to produce: times advance through
    /// the period over that many, as a live portal sends them.
    total: u64,
    /// Whether people join and leave over the period (the demo), or are
    /// all there throughout (benchmarks and tests).
    growth: bool,
    /// People who join later, by join time, latest first: each gets a
    /// `member_upserted` when the history reaches their join time.
    joining: Vec<usize>,
    ids: IdStyle,
}

/// How senders make event ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum IdStyle {
    /// The fixture's mix: a third time-ordered (ULID-like), a half random
    /// UUIDv4, the rest counters.
    Mixed,
    /// Every id a random UUIDv4: each insert lands at a random place of
    /// the key index.
    Uuid,
    /// Every id time-ordered (ULID-like).
    Ordered,
}

impl Generator {
    /// `users` people over the period `[start, end]`.
    pub fn new(seed: u64, users: usize, start: Micros, end: Micros) -> Generator {
        let mut rng = StdRng::seed_from_u64(seed);
        let people = (0..users.max(1))
            .map(|i| {
                let org = ORGS[weighted(&mut rng, &ORG_WEIGHTS)];
                let first = FIRST_NAMES[rng.random_range(0..FIRST_NAMES.len())];
                let last = LAST_NAMES[rng.random_range(0..LAST_NAMES.len())];
                let mut teams = vec![TEAMS[rng.random_range(0..TEAMS.len())]];
                if rng.random_bool(0.2) {
                    let second = TEAMS[rng.random_range(0..TEAMS.len())];
                    if second != teams[0] {
                        teams.push(second);
                    }
                }
                // The most active people were there from the start; the
                // rest join along the way, and about one in ten leaves.
                let joins = if i < users / 2 || rng.random_bool(0.3) {
                    0.0
                } else {
                    rng.random_range(0.0..0.9)
                };
                let leaves = if rng.random_bool(0.1) {
                    rng.random_range(joins..1.0)
                } else {
                    f64::INFINITY
                };
                Person {
                    joins,
                    leaves,
                    id: format!("user{i:05}@acme.example"),
                    name: format!("{first} {last}"),
                    org,
                    role: if rng.random_bool(0.08) {
                        "admin"
                    } else {
                        "member"
                    },
                    teams,
                }
            })
            .collect();
        Generator {
            rng,
            people,
            start,
            end,
            serial: 0,
            total: 0,
            growth: false,
            joining: Vec::new(),
            ids: IdStyle::Mixed,
        }
    }

    /// The same generator with ids made in `style`.
    pub fn with_ids(mut self, style: IdStyle) -> Generator {
        self.ids = style;
        self
    }

    /// `users` people, all there throughout, sending about `events` events
    /// over the `days` days before `end`, in time order.
    pub fn for_span(seed: u64, events: u64, users: usize, days: i64, end: Micros) -> Generator {
        let mut generator = Generator::new(seed, users, Micros(end.0 - days * MICROS_PER_DAY), end);
        generator.total = events;
        generator
    }

    /// About 300 users per million events, over the 13 months before `end`.
    pub fn for_events(seed: u64, events: u64, end: Micros) -> Generator {
        let users = ((events as f64 / 1_000_000.0) * 300.0).max(20.0) as usize;
        Generator::for_events_and_users(seed, events, users, end)
    }

    /// `users` people, all there throughout, sending about `events` events
    /// over the 13 months before `end`, in time order.
    pub fn for_events_and_users(seed: u64, events: u64, users: usize, end: Micros) -> Generator {
        let mut generator = Generator::new(seed, users, Micros(end.0 - 395 * MICROS_PER_DAY), end);
        generator.total = events;
        generator
    }

    /// `users` people sending about `events` events over the 13 months
    /// before `end`, in time order.
    pub fn for_company(seed: u64, users: usize, events: u64, end: Micros) -> Generator {
        let mut generator = Generator::new(seed, users, Micros(end.0 - 395 * MICROS_PER_DAY), end);
        generator.total = events;
        generator.growth = true;
        let mut joining: Vec<usize> = (0..generator.people.len())
            .filter(|&i| generator.people[i].joins > 0.0)
            .collect();
        joining.sort_by(|a, b| {
            generator.people[*b]
                .joins
                .total_cmp(&generator.people[*a].joins)
        });
        generator.joining = joining;
        generator
    }

    /// The company as it stood when the history starts: every person a
    /// member, and each org's first data sources. A demo sends these first.
    pub fn prologue(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        let at = |i: usize| Micros(self.start.0 + i as i64 * 1_000_000).to_string();
        let mut i = 0;
        for org in ORGS {
            for (n, (kind, name)) in DATA_SOURCE_TYPES.iter().take(3).enumerate() {
                lines.push(
                    json!({"id": format!("boot-ds-{org}-{n}"), "type": "data_source_created", "org": org,
                           "time": at(i), "data_source": format!("{org}-{kind}"),
                           "data_source_type": kind, "name": format!("{name} ({org})")})
                    .to_string(),
                );
                i += 1;
            }
        }
        for (n, p) in self.people.iter().enumerate() {
            if self.growth && p.joins > 0.0 {
                continue;
            }
            lines.push(
                json!({"id": format!("boot-member-{n}"), "type": "member_upserted", "org": p.org,
                       "time": at(i), "user": p.id, "role": p.role, "name": p.name,
                       "email": p.id, "teams": p.teams})
                .to_string(),
            );
            i += 1;
        }
        lines
    }

    /// Events arrive roughly in time order, up to an hour late or early;
    /// without a known total, times are spread at random over the period.
    fn next_time(&mut self) -> Micros {
        let span = self.end.0 - self.start.0;
        let t = if self.total == 0 {
            self.rng.random_range(self.start.0..=self.end.0)
        } else {
            let progress =
                self.start.0 + (span as f64 * (self.serial as f64 / self.total as f64)) as i64;
            let jitter = self.rng.random_range(-3_600_000_000..=3_600_000_000i64);
            (progress + jitter).clamp(self.start.0, self.end.0)
        };
        Micros(t / 1_000_000 * 1_000_000)
    }

    /// How far through the period `t` is, from 0 to 1.
    fn progress(&self, t: Micros) -> f64 {
        (t.0 - self.start.0) as f64 / (self.end.0 - self.start.0).max(1) as f64
    }

    /// A person drawn with power-law weights (a few are very active), among
    /// those using the portal at `time`.
    fn person(&mut self, time: Micros) -> usize {
        let progress = self.progress(time);
        for _ in 0..20 {
            let u: f64 = self.rng.random();
            let i =
                (((self.people.len() as f64) * u.powf(2.5)) as usize).min(self.people.len() - 1);
            let p = &self.people[i];
            if !self.growth || (p.joins <= progress && progress < p.leaves) {
                return i;
            }
        }
        0
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.rng.random_range(0..items.len())]
    }

    /// An id in the fixture's mix of sender styles: about a third
    /// time-ordered (ULID-like), a half random (UUIDv4), the rest counters.
    fn id(&mut self, time: Micros) -> String {
        let roll = match self.ids {
            IdStyle::Mixed => self.rng.random_range(0..100u32),
            IdStyle::Uuid => 50,
            IdStyle::Ordered => 0,
        };
        match roll {
            0..35 => format!(
                "evt_{:012x}{:010x}",
                time.0 / 1000,
                self.rng.random::<u64>() & 0xff_ffff_ffff
            ),
            35..81 => {
                let (a, b): (u128, u128) = (self.rng.random(), self.rng.random());
                let hex = format!("{:032x}", a ^ (b << 64));
                format!(
                    "{}-{}-4{}-a{}-{}",
                    &hex[..8],
                    &hex[8..12],
                    &hex[13..16],
                    &hex[17..20],
                    &hex[20..]
                )
            }
            _ => self.serial.to_string(),
        }
    }

    /// An org's complete entity counts at `time`: the catalog grows by
    /// about half over the period, the small org's is a quarter the size.
    fn snapshot(&mut self, org: &str, time: Micros) -> serde_json::Value {
        let scale = match org {
            "acme-labs" => 0.25,
            "acme-us" => 0.8,
            _ => 1.0,
        } * (1.0 + 0.5 * self.progress(time));
        let counts: Vec<_> = CATALOG
            .iter()
            .map(|(blueprint, source, size)| {
                let noise = self.rng.random_range(0.97..1.03);
                let count = (f64::from(*size) * scale * noise).round() as i64;
                json!({"blueprint": blueprint, "data_source": source, "count": count})
            })
            .collect();
        json!({"type": "entity_snapshot", "counts": counts})
    }

    /// One event as a JSON line (without the newline).
    pub fn next_line(&mut self) -> String {
        self.serial += 1;
        let time = self.next_time();
        let id = self.id(time);
        if let Some(&next) = self.joining.last()
            && self.people[next].joins <= self.progress(time)
        {
            self.joining.pop();
            let p = &self.people[next];
            return json!({"id": id, "type": "member_upserted", "org": p.org, "time": time.to_string(),
                          "user": p.id, "role": p.role, "name": p.name, "email": p.id, "teams": p.teams})
            .to_string();
        }
        // Parts in 9,967, as in the fixture: data sources change rarely
        // (0.09% creations, 0.03% deletions).
        let roll = self.rng.random_range(0..9_967u32);
        let someone = self.person(time);
        let (user, user_org) = (self.people[someone].id.clone(), self.people[someone].org);
        let any_org = ORGS[weighted(&mut self.rng, &ORG_WEIGHTS)];
        let (org, mut event) = match roll {
            0..3_800 => (
                user_org,
                json!({"type": "page_view", "user": user, "page": self.pick(&PAGES)}),
            ),
            3_800..7_300 => (user_org, json!({"type": "login", "user": user})),
            7_300..8_050 => {
                let (action, title) =
                    ACTIONS[weighted(&mut self.rng, &[30, 14, 6, 10, 12, 8, 4, 16])];
                if self.rng.random_bool(0.5) {
                    let status = if self.rng.random_bool(0.93) {
                        "success"
                    } else {
                        "failure"
                    };
                    (
                        user_org,
                        json!({"type": "action_run", "action": action, "trigger": "ui", "user": user,
                           "action_title": title, "status": status}),
                    )
                } else {
                    (
                        any_org,
                        json!({"type": "action_run", "action": action, "trigger": "api", "action_title": title}),
                    )
                }
            }
            8_050..8_770 => {
                let (automation, title) = AUTOMATIONS[self.rng.random_range(0..AUTOMATIONS.len())];
                (
                    any_org,
                    json!({"type": "automation_run", "automation": automation,
                                 "automation_title": title, "status": "success"}),
                )
            }
            8_770..9_520 => {
                let (agent, agent_type) = AGENTS[self.rng.random_range(0..AGENTS.len())];
                (
                    user_org,
                    json!({"type": "ai_invocation", "agent": agent, "agent_type": agent_type,
                                  "source": self.pick(&SOURCES), "user": user}),
                )
            }
            9_520..9_690 => (
                user_org,
                json!({"type": "mcp_call", "tool": self.pick(&MCP_TOOLS), "user": user}),
            ),
            9_690..9_840 => {
                // Someone joins another team, or changes role.
                let person = &mut self.people[someone];
                if self.rng.random_bool(0.5) {
                    let team = TEAMS[self.rng.random_range(0..TEAMS.len())];
                    person.teams = vec![team];
                }
                (
                    person.org,
                    json!({"type": "member_upserted", "user": person.id, "role": person.role,
                                    "name": person.name, "email": person.id, "teams": person.teams}),
                )
            }
            9_840..9_940 => (any_org, self.snapshot(any_org, time)),
            9_940..9_955 => (user_org, json!({"type": "member_removed", "user": user})),
            9_955..9_964 => {
                let n = self.rng.random_range(0..DATA_SOURCE_TYPES.len());
                let (kind, name) = DATA_SOURCE_TYPES[n];
                (
                    any_org,
                    json!({"type": "data_source_created", "data_source": format!("{any_org}-{kind}"),
                                 "data_source_type": kind, "name": format!("{name} ({any_org})")}),
                )
            }
            _ => {
                let (kind, _) =
                    DATA_SOURCE_TYPES[self.rng.random_range(3..DATA_SOURCE_TYPES.len())];
                (
                    any_org,
                    json!({"type": "data_source_deleted", "data_source": format!("{any_org}-{kind}")}),
                )
            }
        };
        let serde_json::Value::Object(fields) = &mut event else {
            unreachable!("events are objects")
        };
        fields.insert("id".into(), id.into());
        fields.insert("org".into(), org.into());
        fields.insert("time".into(), time.to_string().into());
        event.to_string()
    }
}

/// An index drawn with the given weights.
fn weighted(rng: &mut StdRng, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    let mut roll = rng.random_range(0..total);
    for (i, w) in weights.iter().enumerate() {
        if roll < *w {
            return i;
        }
        roll -= w;
    }
    weights.len() - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_events() {
        let end = Micros::parse_rfc3339("2026-10-20T18:00:00Z").unwrap();
        let a: Vec<_> = {
            let mut g = Generator::for_events(7, 1000, end);
            (0..50).map(|_| g.next_line()).collect()
        };
        let b: Vec<_> = {
            let mut g = Generator::for_events(7, 1000, end);
            (0..50).map(|_| g.next_line()).collect()
        };
        assert_eq!(a, b);
    }
}
