//! A seeded generator of realistic portal events, in the mix of the acme
//! fixture (page views and logins most, then actions, automations and AI,
//! a little state), with power-law user activity. Used by `bench` and
//! tests; the same seed gives the same events.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use crate::time::{MICROS_PER_DAY, Micros};

const ORGS: [&str; 3] = ["acme-eu", "acme-us", "acme-labs"];
const TEAMS: [&str; 6] = [
    "platform", "data", "mobile", "identity", "search", "payments",
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
const ACTIONS: [&str; 8] = [
    "deploy_service",
    "create_service",
    "rollback",
    "create_env",
    "grant_access",
    "scale_up",
    "open_incident",
    "run_pipeline",
];
const BLUEPRINTS: [&str; 6] = [
    "service",
    "deployment",
    "domain",
    "environment",
    "pipeline",
    "team",
];
const SOURCES: [&str; 5] = ["ai_assistant", "agent_widget", "slack", "api", "mcp"];

pub struct Generator {
    rng: StdRng,
    users: Vec<String>,
    start: Micros,
    end: Micros,
    serial: u64,
    /// Events the generator is expected to produce: times advance through
    /// the period over that many, as a live portal sends them.
    total: u64,
}

impl Generator {
    /// `users` people over the period `[start, end]`.
    pub fn new(seed: u64, users: usize, start: Micros, end: Micros) -> Generator {
        let users = (0..users.max(1))
            .map(|i| format!("user{i:05}@acme.example"))
            .collect();
        Generator {
            rng: StdRng::seed_from_u64(seed),
            users,
            start,
            end,
            serial: 0,
            total: 0,
        }
    }

    /// About 300 users per million events, over the 13 months before `end`.
    pub fn for_events(seed: u64, events: u64, end: Micros) -> Generator {
        let users = ((events as f64 / 1_000_000.0) * 300.0).max(20.0) as usize;
        let mut generator = Generator::new(seed, users, Micros(end.0 - 395 * MICROS_PER_DAY), end);
        generator.total = events;
        generator
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

    /// A user drawn with power-law weights: a few are very active.
    fn user(&mut self) -> String {
        let u: f64 = self.rng.random();
        let i = ((self.users.len() as f64) * u.powf(2.5)) as usize;
        self.users[i.min(self.users.len() - 1)].clone()
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.rng.random_range(0..items.len())]
    }

    /// An id in the fixture's mix of sender styles: about a third
    /// time-ordered (ULID-like), a half random (UUIDv4), the rest counters.
    fn id(&mut self, time: Micros) -> String {
        match self.rng.random_range(0..100u32) {
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

    /// One event as a JSON line (without the newline).
    pub fn next_line(&mut self) -> String {
        self.serial += 1;
        let time = self.next_time();
        let org = self.pick(&ORGS);
        let id = self.id(time);
        let roll = self.rng.random_range(0..10_000u32);
        let mut event = match roll {
            0..3_800 => {
                json!({"type": "page_view", "user": self.user(), "page": self.pick(&PAGES)})
            }
            3_800..7_300 => json!({"type": "login", "user": self.user()}),
            7_300..8_050 => {
                let action = self.pick(&ACTIONS);
                if self.rng.random_bool(0.5) {
                    json!({"type": "action_run", "action": action, "trigger": "ui", "user": self.user(),
                           "action_title": action.replace('_', " "), "status": "success"})
                } else {
                    json!({"type": "action_run", "action": action, "trigger": "api"})
                }
            }
            8_050..8_770 => {
                json!({"type": "automation_run", "automation": self.pick(&ACTIONS), "status": "success"})
            }
            8_770..9_520 => {
                json!({"type": "ai_invocation", "agent": "portal-assistant", "agent_type": "assistant",
                                   "source": self.pick(&SOURCES), "user": self.user()})
            }
            9_520..9_690 => json!({"type": "mcp_call", "tool": "get_entity", "user": self.user()}),
            9_690..9_840 => {
                let teams = vec![self.pick(&TEAMS), self.pick(&TEAMS)];
                let user = self.user();
                json!({"type": "member_upserted", "user": user, "role": "member", "name": user, "teams": teams})
            }
            9_840..9_940 => {
                let counts: Vec<_> = BLUEPRINTS
                    .iter()
                    .map(|b| json!({"blueprint": b, "data_source": "manual", "count": self.rng.random_range(0..500)}))
                    .collect();
                json!({"type": "entity_snapshot", "counts": counts})
            }
            9_940..9_955 => json!({"type": "member_removed", "user": self.user()}),
            9_955..9_985 => {
                let n = self.rng.random_range(0..20);
                json!({"type": "data_source_created", "data_source": format!("ds-{n}"),
                       "data_source_type": "github", "name": format!("Source {n}")})
            }
            _ => {
                json!({"type": "data_source_deleted", "data_source": format!("ds-{}", self.rng.random_range(0..20))})
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
