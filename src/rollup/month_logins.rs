//! Every login time of one user in one org and month, the part of the login
//! rollups a report reads for the month of its `as_of` (see `logins`).

use super::codec::{Reader, put_signed, put_varint};
use crate::calendar::{Day, Month};
use crate::time::Micros;

/// Every login of one user in one org and month, sorted, grouped by local
/// day.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MonthLogins {
    times: Vec<Micros>,
    /// Each day with a login, and how many logins the month holds up to
    /// the end of that day: day `i` has `times[ends[i - 1]..ends[i]]`.
    days: Vec<(Day, u32)>,
}

impl MonthLogins {
    /// Adds logins, each with its local day (all of one month).
    pub fn add(&mut self, logins: &[(Day, Micros)]) {
        let mut all: Vec<(Day, Micros)> = self.iter().chain(logins.iter().copied()).collect();
        all.sort_unstable();
        *self = MonthLogins::from_sorted(&all);
    }

    fn from_sorted(logins: &[(Day, Micros)]) -> MonthLogins {
        let mut out = MonthLogins {
            times: Vec::with_capacity(logins.len()),
            days: Vec::new(),
        };
        for &(day, time) in logins {
            out.times.push(time);
            match out.days.last_mut() {
                Some((d, end)) if *d == day => *end += 1,
                _ => out.days.push((day, out.times.len() as u32)),
            }
        }
        out
    }

    fn iter(&self) -> impl Iterator<Item = (Day, Micros)> + '_ {
        self.days()
            .flat_map(|(day, times)| times.iter().map(move |t| (day, *t)))
    }

    /// Each day with a login, with its logins, oldest first.
    pub fn days(&self) -> impl DoubleEndedIterator<Item = (Day, &[Micros])> + '_ {
        self.view().days()
    }

    /// Days with a login.
    pub fn day_count(&self) -> usize {
        self.days.len()
    }

    /// Every login of the month, sorted.
    pub fn times(&self) -> &[Micros] {
        &self.times
    }

    /// The same logins as borrowed slices.
    pub fn view(&self) -> DayGroups<'_> {
        DayGroups {
            times: &self.times,
            days: &self.days,
        }
    }

    pub fn encode(&self, month: Month) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + 2 * self.days.len() + 3 * self.times.len());
        put_varint(&mut out, self.days.len() as u64);
        let first_day = month.first_day().0;
        let mut previous = 0;
        for (day, times) in self.days() {
            put_varint(&mut out, (day.0 - first_day) as u64);
            put_varint(&mut out, times.len() as u64);
            for t in times {
                put_signed(&mut out, t.0 - previous);
                previous = t.0;
            }
        }
        out
    }

    pub fn decode(month: Month, bytes: &[u8]) -> anyhow::Result<MonthLogins> {
        let mut r = Reader::new(bytes);
        let n = r.count()?;
        let first_day = month.first_day().0;
        let mut out = MonthLogins {
            times: Vec::with_capacity(bytes.len() / 3),
            days: Vec::with_capacity(n),
        };
        let mut previous = 0;
        for _ in 0..n {
            let day = Day(first_day + r.varint()? as i64);
            for _ in 0..r.count()? {
                previous += r.signed()?;
                out.times.push(Micros(previous));
            }
            out.days.push((day, out.times.len() as u32));
        }
        Ok(out)
    }
}

/// A month's logins of one user as borrowed slices: the times, sorted, and
/// each day with how many logins the month holds up to its end (see
/// [`MonthLogins`]). Readers keep every user's in one array.
#[derive(Clone, Copy, Debug)]
pub struct DayGroups<'a> {
    pub times: &'a [Micros],
    pub days: &'a [(Day, u32)],
}

impl<'a> DayGroups<'a> {
    /// Each day with a login, with its logins, oldest first.
    pub fn days(self) -> impl DoubleEndedIterator<Item = (Day, &'a [Micros])> {
        self.days.iter().enumerate().map(move |(i, (day, end))| {
            let start = if i == 0 { 0 } else { self.days[i - 1].1 };
            (*day, &self.times[start as usize..*end as usize])
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000_000;
    /// Monday 5 January 2026, midnight UTC, plus `d` days.
    fn t(d: i64) -> Micros {
        Micros(1_767_571_200_000_000 + d * DAY)
    }

    #[test]
    fn month_logins_group_by_day_and_round_trip() {
        let jan = Month::new(2026, 1);
        let day = |d: i64| Day(jan.first_day().0 + d);
        let mut logins = MonthLogins::default();
        logins.add(&[(day(4), t(0)), (day(5), t(1)), (day(4), Micros(t(0).0 + 5))]);
        logins.add(&[(day(4), Micros(t(0).0 - 7))]);
        let days: Vec<(Day, usize)> = logins.days().map(|(d, ts)| (d, ts.len())).collect();
        assert_eq!(days, [(day(4), 3), (day(5), 1)]);
        assert!(logins.times().is_sorted());
        assert_eq!(
            MonthLogins::decode(jan, &logins.encode(jan)).unwrap(),
            logins
        );
    }
}
