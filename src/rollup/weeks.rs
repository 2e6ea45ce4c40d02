//! Sets of weeks, as kept in a login summary: which weeks had a login.

use crate::calendar::Week;

/// A set of weeks as a bitmap starting at `base`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WeekSet {
    pub(super) base: i64,
    pub(super) bits: Vec<u8>,
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
        // One form per set of weeks, whatever order they came in.
        while self.bits.last() == Some(&0) {
            self.bits.pop();
        }
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
        let Ok(end) = usize::try_from(week.0 - self.base) else {
            return 0;
        };
        let end = end.min(self.bits.len() * 8);
        let whole: u32 = self.bits[..end / 8].iter().map(|b| b.count_ones()).sum();
        let part = match end % 8 {
            0 => 0,
            r => (self.bits[end / 8] & ((1u8 << r) - 1)).count_ones(),
        };
        i64::from(whole + part)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(set.count_before(Week(101)), 3);
        assert_eq!(set.count_before(Week(500)), 4);
        assert_eq!(set.count_before(Week(10)), 0);
        assert!(set.contains(Week(130)) && !set.contains(Week(89)) && !set.contains(Week(131)));
    }
}
