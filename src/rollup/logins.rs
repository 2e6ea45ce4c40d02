//! What the rollups keep of logins, and why it is enough to answer every
//! login question exactly at any instant:
//!
//! - [`LoginSummary`], per user and org over all time: the weeks with a
//!   login, what activation needs, and for each month with a login the
//!   number of logins and the latest login up to its end.
//! - [`MonthLogins`](super::month_logins::MonthLogins), per user, org and
//!   month: every login time of the month, grouped by local day.
//!
//! A report as of `t` in month `M` takes a user's logins up to the end of
//! the month before `M` from the summary, and those of `M` up to `t` from
//! that month's login times: no raw event is read and nothing after `t`
//! is looked at.
//!
//! A user's activation instant is `max(tN, tW)`, where `tN` is their N-th
//! earliest login and `tW` the first login of their W-th distinct week, so
//! keeping only the N earliest logins and the first login of the W earliest
//! weeks is enough to know it exactly, whatever order logins arrive in, and
//! to merge it across orgs for a report on several of them. Activation is
//! permanent, so the instant holds for every report after it.

use super::RollupSettings;
use super::codec::{Reader, put_signed, put_varint};
use super::weeks::WeekSet;
use crate::calendar::{Day, Month, Week};
use crate::time::Micros;

/// The logins of one month with a login, and the latest, counted from
/// the beginning up to the end of that month.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MonthMark {
    pub month: Month,
    pub logins: i64,
    pub last: Micros,
}

/// One user's logins in one org (or merged over several), over all time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoginSummary {
    /// Weeks with a login.
    pub weeks: WeekSet,
    /// The earliest logins, sorted, at most `activation_min_logins`.
    pub earliest: Vec<Micros>,
    /// The earliest weeks with their first login, by week, at most
    /// `activation_min_weeks`.
    pub first_in_weeks: Vec<(Week, Micros)>,
    /// Each month with a login, oldest first.
    pub months: Vec<MonthMark>,
}

impl LoginSummary {
    /// Adds a login at `time`, on the local `day`.
    pub fn add(&mut self, time: Micros, day: Day, settings: &RollupSettings) {
        let week = day.week();
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
        // The month's mark starts from the month before it, and the login
        // counts in it and every later month's mark.
        let month = day.month();
        let at = match self.months.binary_search_by_key(&month, |m| m.month) {
            Ok(i) => i,
            Err(i) => {
                let before = i
                    .checked_sub(1)
                    .map(|p| (self.months[p].logins, self.months[p].last));
                let (logins, last) = before.unwrap_or((0, time));
                self.months.insert(
                    i,
                    MonthMark {
                        month,
                        logins,
                        last,
                    },
                );
                i
            }
        };
        for mark in &mut self.months[at..] {
            mark.logins += 1;
            mark.last = mark.last.max(time);
        }
    }

    /// Merges the summaries of one user in several orgs.
    pub fn merge(summaries: &[&LoginSummary], settings: &RollupSettings) -> LoginSummary {
        if let [only] = summaries {
            // Most users log in to one org: nothing to add up.
            return (*only).clone();
        }
        let mut merged = LoginSummary::default();
        let mut months: Vec<Month> = Vec::new();
        for s in summaries {
            merged.weeks.union(&s.weeks);
            merged.earliest.extend(&s.earliest);
            for &(week, time) in &s.first_in_weeks {
                match merged.first_in_weeks.iter_mut().find(|(w, _)| *w == week) {
                    Some(entry) => entry.1 = entry.1.min(time),
                    None => merged.first_in_weeks.push((week, time)),
                }
            }
            months.extend(s.months.iter().map(|m| m.month));
        }
        merged.earliest.sort_unstable();
        merged
            .earliest
            .truncate(settings.activation_min_logins as usize);
        merged.first_in_weeks.sort_unstable();
        merged
            .first_in_weeks
            .truncate(settings.activation_min_weeks as usize);
        months.sort_unstable();
        months.dedup();
        merged.months = months
            .into_iter()
            .map(|month| {
                let mut mark = MonthMark {
                    month,
                    logins: 0,
                    last: Micros(i64::MIN),
                };
                for s in summaries {
                    if let Some(m) = s.through(month) {
                        mark.logins += m.logins;
                        mark.last = mark.last.max(m.last);
                    }
                }
                mark
            })
            .collect();
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

    /// The logins up to the end of `month`: the mark of the latest month
    /// with a login at or before it.
    pub fn through(&self, month: Month) -> Option<&MonthMark> {
        let i = self.months.partition_point(|m| m.month <= month);
        i.checked_sub(1).map(|i| &self.months[i])
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            16 + 5 * self.earliest.len() + 8 * self.first_in_weeks.len() + 12 * self.months.len(),
        );
        put_varint(&mut out, self.earliest.len() as u64);
        let mut previous = 0;
        for t in &self.earliest {
            put_signed(&mut out, t.0 - previous);
            previous = t.0;
        }
        put_varint(&mut out, self.first_in_weeks.len() as u64);
        for (w, t) in &self.first_in_weeks {
            put_signed(&mut out, w.0);
            put_signed(&mut out, t.0);
        }
        put_varint(&mut out, self.months.len() as u64);
        let (mut month, mut logins) = (0, 0);
        for m in &self.months {
            put_signed(&mut out, m.month.0 - month);
            put_signed(&mut out, m.logins - logins);
            put_signed(&mut out, m.last.0);
            (month, logins) = (m.month.0, m.logins);
        }
        put_signed(&mut out, self.weeks.base);
        put_varint(&mut out, self.weeks.bits.len() as u64);
        out.extend_from_slice(&self.weeks.bits);
        out
    }

    pub fn decode(bytes: &[u8]) -> anyhow::Result<LoginSummary> {
        let mut r = Reader::new(bytes);
        let n = r.count()?;
        let mut earliest = Vec::with_capacity(n);
        let mut previous = 0;
        for _ in 0..n {
            previous += r.signed()?;
            earliest.push(Micros(previous));
        }
        let n = r.count()?;
        let mut first_in_weeks = Vec::with_capacity(n);
        for _ in 0..n {
            first_in_weeks.push((Week(r.signed()?), Micros(r.signed()?)));
        }
        let n = r.count()?;
        let mut months = Vec::with_capacity(n);
        let (mut month, mut logins) = (0, 0);
        for _ in 0..n {
            month += r.signed()?;
            logins += r.signed()?;
            months.push(MonthMark {
                month: Month(month),
                logins,
                last: Micros(r.signed()?),
            });
        }
        let base = r.signed()?;
        let len = r.count()?;
        let bits = r.take(len)?.to_vec();
        Ok(LoginSummary {
            weeks: WeekSet { base, bits },
            earliest,
            first_in_weeks,
            months,
        })
    }
}

/// What a report as of an instant asks of one user's summary in one org.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SummaryAt {
    /// The logins up to the end of the month before the report's.
    pub through: Option<MonthMark>,
    /// Weeks with a login before the report's week.
    pub weeks_before: i64,
    /// The activation instant, whenever it was.
    pub activated_at: Option<Micros>,
}

impl LoginSummary {
    /// The summary as fixed-width words, for readers to keep side by side
    /// and read in place ([`SummaryAt::read`]): the earliest logins, the
    /// first logins of the earliest weeks, the month marks, and the weeks
    /// as 64-bit words of bits, each list after its length.
    pub fn flatten(&self, out: &mut Vec<i64>) {
        out.push(self.earliest.len() as i64);
        out.extend(self.earliest.iter().map(|t| t.0));
        out.push(self.first_in_weeks.len() as i64);
        for (w, t) in &self.first_in_weeks {
            out.extend([w.0, t.0]);
        }
        out.push(self.months.len() as i64);
        for m in &self.months {
            out.extend([m.month.0, m.logins, m.last.0]);
        }
        out.push(self.weeks.base);
        let words = self.weeks.bits.chunks(8).map(|chunk| {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            i64::from_le_bytes(word)
        });
        out.push(self.weeks.bits.len().div_ceil(8) as i64);
        out.extend(words);
    }

    /// The summary [`LoginSummary::flatten`] wrote.
    pub fn unflatten(words: &[i64]) -> LoginSummary {
        let sections = Sections::of(words);
        let earliest = sections.earliest.iter().map(|t| Micros(*t)).collect();
        let first_in_weeks = sections
            .firsts
            .chunks(2)
            .map(|p| (Week(p[0]), Micros(p[1])))
            .collect();
        let months = sections
            .marks
            .chunks(3)
            .map(|m| MonthMark {
                month: Month(m[0]),
                logins: m[1],
                last: Micros(m[2]),
            })
            .collect();
        let mut weeks = WeekSet {
            base: sections.base,
            bits: sections.bits.iter().flat_map(|w| w.to_le_bytes()).collect(),
        };
        while weeks.bits.last() == Some(&0) {
            weeks.bits.pop();
        }
        LoginSummary {
            weeks,
            earliest,
            first_in_weeks,
            months,
        }
    }
}

/// The sections of a flattened summary.
struct Sections<'a> {
    earliest: &'a [i64],
    /// (week, time) pairs.
    firsts: &'a [i64],
    /// (month, logins, last) triples.
    marks: &'a [i64],
    base: i64,
    bits: &'a [i64],
}

impl<'a> Sections<'a> {
    fn of(words: &'a [i64]) -> Sections<'a> {
        let mut at = 0;
        let mut list = |width: usize| {
            let n = words[at] as usize * width;
            let items = &words[at + 1..at + 1 + n];
            at += 1 + n;
            items
        };
        let (earliest, firsts, marks) = (list(1), list(2), list(3));
        let base = words[at];
        let n = words[at + 1] as usize;
        Sections {
            earliest,
            firsts,
            marks,
            base,
            bits: &words[at + 2..at + 2 + n],
        }
    }
}

impl SummaryAt {
    /// Reads [`SummaryAt`] in place from a summary's words (see
    /// [`LoginSummary::flatten`]): reports ask this of every user.
    pub fn read(words: &[i64], before: Month, week: Week, settings: &RollupSettings) -> SummaryAt {
        let (n, w) = (
            settings.activation_min_logins as usize,
            settings.activation_min_weeks as usize,
        );
        let Sections {
            earliest,
            firsts,
            marks,
            base,
            bits,
        } = Sections::of(words);
        // The latest mark of a month at or before `before`.
        let count = marks.len() / 3;
        let i = partition_point(count, |i| marks[3 * i] <= before.0);
        let through = i.checked_sub(1).map(|i| MonthMark {
            month: Month(marks[3 * i]),
            logins: marks[3 * i + 1],
            last: Micros(marks[3 * i + 2]),
        });
        let nth_login = n.checked_sub(1).and_then(|i| earliest.get(i));
        let wth_week = w.checked_sub(1).and_then(|i| firsts.get(2 * i + 1));
        SummaryAt {
            through,
            weeks_before: weeks_before(base, bits, week),
            activated_at: match (nth_login, wth_week) {
                (Some(a), Some(b)) => Some(Micros(*a.max(b))),
                _ => None,
            },
        }
    }
}

/// The first of `0..n` for which `pred` is false (all before it true).
fn partition_point(n: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Weeks with a bit before `week`, in 64-bit words of bits from `base`.
fn weeks_before(base: i64, words: &[i64], week: Week) -> i64 {
    let Ok(end) = usize::try_from(week.0 - base) else {
        return 0;
    };
    let end = end.min(words.len() * 64);
    let whole: u32 = words[..end / 64]
        .iter()
        .map(|w| (*w as u64).count_ones())
        .sum();
    let part = match end % 64 {
        0 => 0,
        r => ((words[end / 64] as u64) & ((1u64 << r) - 1)).count_ones(),
    };
    i64::from(whole + part)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    fn settings() -> RollupSettings {
        RollupSettings::new("Europe/Berlin", &Settings::default()).unwrap()
    }

    const DAY: i64 = 86_400_000_000;
    /// Monday 5 January 2026, midnight UTC, plus `d` days.
    fn t(d: i64) -> Micros {
        Micros(1_767_571_200_000_000 + d * DAY)
    }

    #[test]
    fn activation_does_not_depend_on_arrival_order() {
        let s = settings();
        // Logins on day 0, day 1 (same week), day 9 (the next week) and day
        // 20 (the week after): three logins by day 9, three weeks only at day 20.
        let times: Vec<Micros> = [0, 1, 9, 20].map(t).to_vec();
        let mut first = None;
        for order in [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1]] {
            let mut summary = LoginSummary::default();
            for i in order {
                summary.add(times[i], s.calendar.day_of(times[i]), &s);
            }
            assert_eq!(summary.activated_at(&s), Some(times[3]), "{order:?}");
            let round = LoginSummary::decode(&summary.encode()).unwrap();
            assert_eq!(round, summary);
            // What a report reads of the words is what the summary says.
            let mut words = Vec::new();
            summary.flatten(&mut words);
            assert_eq!(LoginSummary::unflatten(&words), summary);
            for d in [-7, 0, 9, 20, 40, 400] {
                let week = s.calendar.week_of(t(d));
                let before = s.calendar.month_of(t(d)).plus(-1);
                let at = SummaryAt::read(&words, before, week, &s);
                assert_eq!(at.through, summary.through(before).copied());
                assert_eq!(at.weeks_before, summary.weeks.count_before(week));
                assert_eq!(at.activated_at, summary.activated_at(&s));
            }
            assert_eq!(*first.get_or_insert(summary.clone()), summary);
        }
    }

    #[test]
    fn month_marks_count_every_login_up_to_each_month_end() {
        let s = settings();
        let mut summary = LoginSummary::default();
        // January twice, then March, then a late one in February.
        for d in [0, 3, 60, 30] {
            summary.add(t(d), s.calendar.day_of(t(d)), &s);
        }
        let jan = Month::new(2026, 1);
        let marks: Vec<(Month, i64, Micros)> = summary
            .months
            .iter()
            .map(|m| (m.month, m.logins, m.last))
            .collect();
        assert_eq!(
            marks,
            [
                (jan, 2, t(3)),
                (jan.plus(1), 3, t(30)),
                (jan.plus(2), 4, t(60))
            ]
        );
        assert_eq!(summary.through(jan.plus(-1)), None);
        assert_eq!(summary.through(jan.plus(5)).unwrap().logins, 4);
    }

    #[test]
    fn merging_orgs_matches_one_history() {
        let s = settings();
        let (mut a, mut b, mut all) = (
            LoginSummary::default(),
            LoginSummary::default(),
            LoginSummary::default(),
        );
        for (d, org_a) in [(0, true), (8, false), (9, true), (16, false), (40, true)] {
            let target = if org_a { &mut a } else { &mut b };
            target.add(t(d), s.calendar.day_of(t(d)), &s);
            all.add(t(d), s.calendar.day_of(t(d)), &s);
        }
        let merged = LoginSummary::merge(&[&a, &b], &s);
        assert_eq!(merged, all);
        assert_eq!(merged.activated_at(&s), Some(t(16)));
        assert_eq!(a.activated_at(&s), Some(t(40)));
        assert_eq!(b.activated_at(&s), None);
    }
}
