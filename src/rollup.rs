//! Engine-neutral parts of the rollups that the writer keeps beside the
//! events: what they depend on ([`RollupSettings`]) and the per-user login
//! state ([`LoginState`]) with its compact encoding.
//!
//! A user's activation instant is `max(tN, tW)`, where `tN` is their N-th
//! earliest login and `tW` the first login of their W-th distinct week, so
//! keeping only the N earliest logins and the first login of the W earliest
//! weeks is enough to know it exactly, whatever order logins arrive in, and
//! to merge it across orgs for a report on several of them.

use crate::calendar::{Calendar, Week};
use crate::config::{Config, Settings};
use crate::time::Micros;

/// The settings the rollups are computed with; when they change, the
/// rollups are rebuilt from the events.
#[derive(Clone, Debug)]
pub struct RollupSettings {
    pub timezone: String,
    pub calendar: Calendar,
    pub activation_min_logins: u32,
    pub activation_min_weeks: u32,
}

impl RollupSettings {
    pub fn new(timezone: &str, settings: &Settings) -> anyhow::Result<RollupSettings> {
        Ok(RollupSettings {
            timezone: timezone.to_owned(),
            calendar: Calendar::new(timezone)?,
            activation_min_logins: settings.activation_min_logins,
            activation_min_weeks: settings.activation_min_weeks,
        })
    }

    pub fn from_config(config: &Config) -> anyhow::Result<RollupSettings> {
        RollupSettings::new(&config.company.timezone, &config.metrics)
    }

    /// What the stored rollups are compared with.
    pub fn fingerprint(&self) -> String {
        format!(
            "timezone={};activation_min_logins={};activation_min_weeks={}",
            self.timezone, self.activation_min_logins, self.activation_min_weeks
        )
    }
}

/// One user's logins in one org.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoginState {
    pub logins: i64,
    pub last: Micros,
    /// Weeks with a login.
    pub weeks: WeekSet,
    /// The earliest logins, sorted, at most `activation_min_logins`.
    pub earliest: Vec<Micros>,
    /// The earliest weeks with their first login, by week, at most
    /// `activation_min_weeks`.
    pub first_in_weeks: Vec<(Week, Micros)>,
}

impl LoginState {
    pub fn add(&mut self, time: Micros, week: Week, settings: &RollupSettings) {
        self.last = if self.logins == 0 {
            time
        } else {
            self.last.max(time)
        };
        self.logins += 1;
        self.weeks.insert(week);
        let pos = self.earliest.partition_point(|t| *t <= time);
        self.earliest.insert(pos, time);
        self.earliest
            .truncate(settings.activation_min_logins as usize);
        match self.first_in_weeks.binary_search_by_key(&week, |(w, _)| *w) {
            Ok(i) => self.first_in_weeks[i].1 = self.first_in_weeks[i].1.min(time),
            Err(i) => {
                self.first_in_weeks.insert(i, (week, time));
                self.first_in_weeks
                    .truncate(settings.activation_min_weeks as usize);
            }
        }
    }

    /// Merges the states of one user in several orgs.
    pub fn merge(states: &[LoginState], settings: &RollupSettings) -> LoginState {
        let mut merged = if let [only] = states {
            // Most users log in to one org: nothing to add up.
            only.clone()
        } else {
            let mut merged = LoginState::default();
            for s in states {
                merged.last = if merged.logins == 0 {
                    s.last
                } else {
                    merged.last.max(s.last)
                };
                merged.logins += s.logins;
                merged.weeks.union(&s.weeks);
                merged.earliest.extend(&s.earliest);
                for &(week, time) in &s.first_in_weeks {
                    match merged.first_in_weeks.iter_mut().find(|(w, _)| *w == week) {
                        Some(entry) => entry.1 = entry.1.min(time),
                        None => merged.first_in_weeks.push((week, time)),
                    }
                }
            }
            merged
        };
        merged.earliest.sort_unstable();
        merged
            .earliest
            .truncate(settings.activation_min_logins as usize);
        merged.first_in_weeks.sort_unstable();
        merged
            .first_in_weeks
            .truncate(settings.activation_min_weeks as usize);
        merged
    }

    /// The instant the user became activated, if they did.
    pub fn activated_at(&self, settings: &RollupSettings) -> Option<Micros> {
        let n = settings.activation_min_logins as usize;
        let w = settings.activation_min_weeks as usize;
        let nth_login = *self.earliest.get(n.checked_sub(1)?)?;
        let wth_week = self.first_in_weeks.get(w.checked_sub(1)?)?.1;
        Some(nth_login.max(wth_week))
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(32 + 8 * self.earliest.len() + 16 * self.first_in_weeks.len());
        out.extend_from_slice(&(self.earliest.len() as u32).to_le_bytes());
        for t in &self.earliest {
            out.extend_from_slice(&t.0.to_le_bytes());
        }
        out.extend_from_slice(&(self.first_in_weeks.len() as u32).to_le_bytes());
        for (w, t) in &self.first_in_weeks {
            out.extend_from_slice(&w.0.to_le_bytes());
            out.extend_from_slice(&t.0.to_le_bytes());
        }
        out.extend_from_slice(&self.weeks.base.to_le_bytes());
        out.extend_from_slice(&self.weeks.bits);
        out
    }

    /// Decodes what [`LoginState::encode`] wrote; `logins` and `last` are
    /// kept in their own columns.
    pub fn decode(logins: i64, last: Micros, bytes: &[u8]) -> anyhow::Result<LoginState> {
        let mut r = Reader { bytes, pos: 0 };
        let n = r.u32()? as usize;
        let earliest = (0..n)
            .map(|_| r.i64().map(Micros))
            .collect::<anyhow::Result<_>>()?;
        let n = r.u32()? as usize;
        let first_in_weeks = (0..n)
            .map(|_| Ok((Week(r.i64()?), Micros(r.i64()?))))
            .collect::<anyhow::Result<_>>()?;
        let base = r.i64()?;
        let bits = bytes[r.pos..].to_vec();
        Ok(LoginState {
            logins,
            last,
            weeks: WeekSet { base, bits },
            earliest,
            first_in_weeks,
        })
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> anyhow::Result<[u8; N]> {
        let slice = self
            .bytes
            .get(self.pos..self.pos + N)
            .ok_or_else(|| anyhow::anyhow!("login state is cut short"))?;
        self.pos += N;
        Ok(slice.try_into().expect("length checked"))
    }

    fn u32(&mut self) -> anyhow::Result<u32> {
        Ok(u32::from_le_bytes(self.take()?))
    }

    fn i64(&mut self) -> anyhow::Result<i64> {
        Ok(i64::from_le_bytes(self.take()?))
    }
}

/// A set of weeks as a bitmap starting at `base`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WeekSet {
    base: i64,
    bits: Vec<u8>,
}

impl WeekSet {
    pub fn insert(&mut self, week: Week) {
        if self.bits.is_empty() {
            self.base = week.0;
        }
        if week.0 < self.base {
            let shift = (self.base - week.0) as usize;
            let mut moved = WeekSet {
                base: week.0,
                bits: vec![0; (shift + self.bits.len() * 8).div_ceil(8)],
            };
            for w in self.iter() {
                moved.set(w);
            }
            *self = moved;
        }
        self.set(week);
    }

    fn set(&mut self, week: Week) {
        let i = (week.0 - self.base) as usize;
        if i / 8 >= self.bits.len() {
            self.bits.resize(i / 8 + 1, 0);
        }
        self.bits[i / 8] |= 1 << (i % 8);
    }

    pub fn contains(&self, week: Week) -> bool {
        let Ok(i) = usize::try_from(week.0 - self.base) else {
            return false;
        };
        self.bits
            .get(i / 8)
            .is_some_and(|b| b & (1 << (i % 8)) != 0)
    }

    pub fn iter(&self) -> impl Iterator<Item = Week> + '_ {
        (0..self.bits.len() * 8)
            .filter(|i| self.bits[i / 8] & (1 << (i % 8)) != 0)
            .map(|i| Week(self.base + i as i64))
    }

    pub fn union(&mut self, other: &WeekSet) {
        for w in other.iter() {
            self.insert(w);
        }
    }

    /// Weeks strictly before `week`.
    pub fn count_before(&self, week: Week) -> i64 {
        self.iter().take_while(|w| *w < week).count() as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    fn settings() -> RollupSettings {
        RollupSettings::new("Europe/Berlin", &Settings::default()).unwrap()
    }

    #[test]
    fn activation_does_not_depend_on_arrival_order() {
        let s = settings();
        let day = 86_400_000_000;
        // Logins on Monday 5 January 2026 (day 0), day 1 (same week), day 9 (the next week)
        // and day 20 (the week after): three logins by day 9, three weeks only at day 20.
        let times: Vec<Micros> = [0, 1, 9, 20]
            .iter()
            .map(|d| Micros(1_767_571_200_000_000 + d * day))
            .collect();
        let week = |t: Micros| s.calendar.week_of(t);
        for order in [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1]] {
            let mut state = LoginState::default();
            for i in order {
                state.add(times[i], week(times[i]), &s);
            }
            assert_eq!(state.activated_at(&s), Some(times[3]), "{order:?}");
            let round = LoginState::decode(state.logins, state.last, &state.encode()).unwrap();
            assert_eq!(round, state);
        }
    }

    #[test]
    fn merging_orgs_matches_one_history() {
        let s = settings();
        let day = 86_400_000_000;
        let t = |d: i64| Micros(1_767_571_200_000_000 + d * day);
        let (mut a, mut b, mut all) = (
            LoginState::default(),
            LoginState::default(),
            LoginState::default(),
        );
        for (d, org_a) in [(0, true), (8, false), (9, true), (16, false), (30, true)] {
            let target = if org_a { &mut a } else { &mut b };
            target.add(t(d), s.calendar.week_of(t(d)), &s);
            all.add(t(d), s.calendar.week_of(t(d)), &s);
        }
        let merged = LoginState::merge(&[a.clone(), b.clone()], &s);
        assert_eq!(merged.activated_at(&s), all.activated_at(&s));
        assert_eq!(merged.activated_at(&s), Some(t(16)));
        assert_eq!(a.activated_at(&s), Some(t(30)));
        assert_eq!(b.activated_at(&s), None);
        assert_eq!(merged.weeks.iter().count(), 4);
    }

    #[test]
    fn week_sets_grow_both_ways() {
        let mut set = WeekSet::default();
        for w in [100, 90, 130, 91, 100] {
            set.insert(Week(w));
        }
        assert_eq!(
            set.iter().map(|w| w.0).collect::<Vec<_>>(),
            [90, 91, 100, 130]
        );
        assert_eq!(set.count_before(Week(100)), 2);
        assert!(set.contains(Week(130)) && !set.contains(Week(89)) && !set.contains(Week(131)));
    }
}
