//! The company calendar: local days, ISO weeks and months in the company
//! time zone, DST included, as `metrics.md` defines them.
//!
//! Civil dates are plain numbers here ([`Day`], [`Month`]); `jiff` and its
//! bundled tz database do the one thing that needs the zone: converting
//! between instants and local wall-clock times. When a wall-clock time does
//! not exist (a DST gap) it moves forward by the gap, and one that exists
//! twice takes the earlier instant (jiff's "compatible" rule, which is the
//! contract's).

use std::fmt;

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

use crate::time::{Micros, civil_from_days, days_from_civil, days_in_month};

/// A local calendar date, as days since 1970-01-01.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub i64);

impl Day {
    pub fn from_ymd(year: i64, month: i64, day: i64) -> Day {
        Day(days_from_civil(year, month, day))
    }

    pub fn ymd(self) -> (i64, i64, i64) {
        civil_from_days(self.0)
    }

    /// The ISO week (Monday to Sunday) holding this day.
    pub fn week(self) -> Week {
        // 1970-01-01 was a Thursday: shifting by 3 makes weeks start on Monday.
        Week((self.0 + 3).div_euclid(7))
    }

    pub fn month(self) -> Month {
        let (y, m, _) = self.ymd();
        Month::new(y, m)
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

/// An ISO week, numbered from the week of 1970-01-01.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Week(pub i64);

impl Week {
    pub fn monday(self) -> Day {
        Day(self.0 * 7 - 3)
    }
}

/// A calendar month, as `year * 12 + (month - 1)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month(pub i64);

impl Month {
    pub fn new(year: i64, month: i64) -> Month {
        Month(year * 12 + month - 1)
    }

    pub fn year(self) -> i64 {
        self.0.div_euclid(12)
    }

    /// 1 to 12.
    pub fn number(self) -> i64 {
        self.0.rem_euclid(12) + 1
    }

    pub fn plus(self, months: i64) -> Month {
        Month(self.0 + months)
    }

    pub fn first_day(self) -> Day {
        Day::from_ymd(self.year(), self.number(), 1)
    }

    pub fn days(self) -> i64 {
        days_in_month(self.year(), self.number())
    }

    /// Parses `YYYY-MM`.
    pub fn parse(s: &str) -> Option<Month> {
        let b = s.as_bytes();
        if b.len() != 7
            || b[4] != b'-'
            || !b
                .iter()
                .enumerate()
                .all(|(i, c)| i == 4 || c.is_ascii_digit())
        {
            return None;
        }
        let year: i64 = s[..4].parse().ok()?;
        let month: i64 = s[5..].parse().ok()?;
        (1..=12).contains(&month).then(|| Month::new(year, month))
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year(), self.number())
    }
}

/// A local wall-clock time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalTime {
    pub day: Day,
    /// Microseconds since local midnight (wall clock).
    pub micros_of_day: i64,
}

/// The company calendar.
#[derive(Clone, Debug)]
pub struct Calendar {
    tz: TimeZone,
}

impl Calendar {
    /// The calendar of an IANA time zone, from the bundled tz database.
    pub fn new(name: &str) -> anyhow::Result<Calendar> {
        let tz =
            TimeZone::get(name).map_err(|e| anyhow::anyhow!("unknown time zone `{name}`: {e}"))?;
        Ok(Calendar { tz })
    }

    pub fn utc() -> Calendar {
        Calendar { tz: TimeZone::UTC }
    }

    /// The local wall-clock time of an instant.
    pub fn local(&self, t: Micros) -> LocalTime {
        let ts = Timestamp::from_microsecond(t.0).expect("instants are within jiff's range");
        let dt = self.tz.to_datetime(ts);
        let day = Day::from_ymd(dt.year().into(), dt.month().into(), dt.day().into());
        let micros_of_day = ((i64::from(dt.hour()) * 60 + i64::from(dt.minute())) * 60
            + i64::from(dt.second()))
            * 1_000_000
            + i64::from(dt.subsec_nanosecond()) / 1_000;
        LocalTime { day, micros_of_day }
    }

    pub fn day_of(&self, t: Micros) -> Day {
        self.local(t).day
    }

    pub fn month_of(&self, t: Micros) -> Month {
        self.day_of(t).month()
    }

    pub fn week_of(&self, t: Micros) -> Week {
        self.day_of(t).week()
    }

    /// The instant of a local wall-clock time (gaps move forward, folds
    /// take the earlier instant).
    pub fn instant(&self, local: LocalTime) -> Micros {
        let (y, m, d) = local.day.ymd();
        let us = local.micros_of_day;
        let dt = DateTime::new(
            y as i16,
            m as i8,
            d as i8,
            (us / 3_600_000_000) as i8,
            (us / 60_000_000 % 60) as i8,
            (us / 1_000_000 % 60) as i8,
            (us % 1_000_000 * 1_000) as i32,
        )
        .expect("a valid civil date-time");
        let ts = self
            .tz
            .to_ambiguous_timestamp(dt)
            .compatible()
            .expect("within jiff's range");
        Micros(ts.as_microsecond())
    }

    /// The first instant whose local date is `day`.
    pub fn day_start(&self, day: Day) -> Micros {
        self.instant(LocalTime {
            day,
            micros_of_day: 0,
        })
    }

    pub fn month_start(&self, month: Month) -> Micros {
        self.day_start(month.first_day())
    }

    /// The last instant of `month`.
    pub fn month_end(&self, month: Month) -> Micros {
        Micros(self.month_start(month.plus(1)).0 - 1)
    }

    /// The same local wall-clock time `months` calendar months earlier, the
    /// day clamped to the end of a shorter month.
    pub fn months_before(&self, t: Micros, months: i64) -> Micros {
        let local = self.local(t);
        let (y, m, d) = local.day.ymd();
        let month = Month::new(y, m).plus(-months);
        let day = Day::from_ymd(month.year(), month.number(), d.min(month.days()));
        self.instant(LocalTime {
            day,
            micros_of_day: local.micros_of_day,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Micros {
        Micros::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn iso_weeks_cross_years() {
        // 2020-12-31 (Thursday) and 2021-01-03 (Sunday) are in ISO week 2020-W53;
        // 2021-01-04 (Monday) starts 2021-W01.
        let thu = Day::from_ymd(2020, 12, 31);
        let sun = Day::from_ymd(2021, 1, 3);
        let mon = Day::from_ymd(2021, 1, 4);
        assert_eq!(thu.week(), sun.week());
        assert_ne!(sun.week(), mon.week());
        assert_eq!(sun.week().monday(), Day::from_ymd(2020, 12, 28));
        assert_eq!(mon.week().monday(), mon);
        // 2024-12-30 (Monday) belongs to 2025-W01, with 2025-01-05.
        assert_eq!(
            Day::from_ymd(2024, 12, 30).week(),
            Day::from_ymd(2025, 1, 5).week()
        );
    }

    #[test]
    fn days_follow_the_zone_across_dst() {
        let berlin = Calendar::new("Europe/Berlin").unwrap();
        // Spring forward 2026-03-29 at 02:00 local: the day has 23 hours.
        let start = berlin.day_start(Day::from_ymd(2026, 3, 29));
        let next = berlin.day_start(Day::from_ymd(2026, 3, 30));
        assert_eq!(start, at("2026-03-28T23:00:00Z"));
        assert_eq!(next, at("2026-03-29T22:00:00Z"));
        assert_eq!(
            berlin.day_of(at("2026-03-29T21:59:59.999999Z")),
            Day::from_ymd(2026, 3, 29)
        );
        assert_eq!(
            berlin.day_of(at("2026-03-29T22:00:00Z")),
            Day::from_ymd(2026, 3, 30)
        );
        // Fall back 2026-10-25: 25 hours.
        assert_eq!(
            berlin.day_start(Day::from_ymd(2026, 10, 25)),
            at("2026-10-24T22:00:00Z")
        );
        assert_eq!(
            berlin.day_start(Day::from_ymd(2026, 10, 26)),
            at("2026-10-25T23:00:00Z")
        );

        let la = Calendar::new("America/Los_Angeles").unwrap();
        // 2026-03-08 02:30 does not exist in Los Angeles: it moves forward to 03:30 PDT.
        let gap = LocalTime {
            day: Day::from_ymd(2026, 3, 8),
            micros_of_day: 9_000_000_000,
        };
        assert_eq!(la.instant(gap), at("2026-03-08T10:30:00Z"));
        // 2026-11-01 01:30 happens twice: the earlier (PDT) instant.
        let fold = LocalTime {
            day: Day::from_ymd(2026, 11, 1),
            micros_of_day: 5_400_000_000,
        };
        assert_eq!(la.instant(fold), at("2026-11-01T08:30:00Z"));
    }

    #[test]
    fn months_end_at_their_last_instant() {
        let berlin = Calendar::new("Europe/Berlin").unwrap();
        let october = Month::new(2026, 10);
        assert_eq!(berlin.month_start(october), at("2026-09-30T22:00:00Z"));
        assert_eq!(berlin.month_end(october), at("2026-10-31T22:59:59.999999Z"));
        assert_eq!(berlin.month_of(at("2026-10-31T22:59:59.999999Z")), october);
        assert_eq!(
            berlin.month_of(at("2026-10-31T23:00:00Z")),
            Month::new(2026, 11)
        );
        assert_eq!(Month::new(2026, 1).plus(-1), Month::new(2025, 12));
        assert_eq!(Month::parse("2026-02"), Some(Month::new(2026, 2)));
        assert_eq!(Month::parse("2026-13"), None);
        assert_eq!(Month::parse("2026-2"), None);
        assert_eq!(Month::new(2024, 2).days(), 29);
    }

    #[test]
    fn months_before_clamps_the_day_and_keeps_the_wall_clock() {
        let berlin = Calendar::new("Europe/Berlin").unwrap();
        // 31 May 12:00 CEST minus 3 months: 28 Feb 12:00 CET.
        assert_eq!(
            berlin.months_before(at("2026-05-31T10:00:00Z"), 3),
            at("2026-02-28T11:00:00Z")
        );
        assert_eq!(
            berlin.months_before(at("2024-05-31T10:00:00Z"), 3),
            at("2024-02-29T11:00:00Z")
        );
        let la = Calendar::new("America/Los_Angeles").unwrap();
        // 8 June 02:30 PDT minus 3 months lands in the gap of 8 March: 03:30 PDT.
        assert_eq!(
            la.months_before(at("2026-06-08T09:30:00Z"), 3),
            at("2026-03-08T10:30:00Z")
        );
        // Across a year boundary.
        assert_eq!(
            Calendar::utc().months_before(at("2026-01-15T00:00:00Z"), 3),
            at("2025-10-15T00:00:00Z")
        );
    }
}
