//! What a widget returns: named columns and rows of typed cells, sorted by
//! the contract's rule (the widget's own keys, then every remaining column
//! left to right, ascending, `null` first).

use std::cmp::Ordering;
use std::sync::Arc;

use crate::calendar::{Day, Month};
use crate::time::Micros;

/// An exact rational number (averages, percentages), rounded only for output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ratio {
    num: i128,
    den: i128,
}

impl Ratio {
    pub fn new(num: i128, den: i128) -> Ratio {
        assert!(den != 0, "a ratio needs a non-zero denominator");
        if den < 0 {
            Ratio {
                num: -num,
                den: -den,
            }
        } else {
            Ratio { num, den }
        }
    }

    pub fn int(n: i64) -> Ratio {
        Ratio {
            num: n.into(),
            den: 1,
        }
    }

    pub fn minus(self, other: Ratio) -> Ratio {
        Ratio::new(
            self.num * other.den - other.num * self.den,
            self.den * other.den,
        )
    }

    /// Hundredths, rounded half away from zero.
    pub fn hundredths(self) -> i128 {
        let scaled = self.num.abs() * 100;
        let (q, r) = (scaled / self.den, scaled % self.den);
        let rounded = if 2 * r >= self.den { q + 1 } else { q };
        if self.num < 0 { -rounded } else { rounded }
    }
}

impl Ord for Ratio {
    fn cmp(&self, other: &Ratio) -> Ordering {
        (self.num * other.den).cmp(&(other.num * self.den))
    }
}

impl PartialOrd for Ratio {
    fn partial_cmp(&self, other: &Ratio) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The empty string, shared by every empty text.
pub fn empty_text() -> &'static Arc<str> {
    static EMPTY: std::sync::LazyLock<Arc<str>> = std::sync::LazyLock::new(|| Arc::from(""));
    &EMPTY
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cell {
    Null,
    /// Shared: a table of users names the same few strings many times.
    Text(Arc<str>),
    Int(i64),
    Ratio(Ratio),
    Instant(Micros),
    Date(Day),
    Month(Month),
}

impl Cell {
    pub fn text(s: impl Into<Arc<str>>) -> Cell {
        Cell::Text(s.into())
    }

    /// A text cell sharing a string already held.
    pub fn shared(s: &Arc<str>) -> Cell {
        Cell::Text(s.clone())
    }

    /// An empty text cell, sharing one empty string.
    pub fn empty() -> Cell {
        Cell::Text(empty_text().clone())
    }

    pub fn int(n: impl TryInto<i64>) -> Cell {
        Cell::Int(n.try_into().unwrap_or(i64::MAX))
    }

    pub fn opt_instant(t: Option<Micros>) -> Cell {
        t.map_or(Cell::Null, Cell::Instant)
    }
}

impl Ord for Cell {
    fn cmp(&self, other: &Cell) -> Ordering {
        use Cell::*;
        match (self, other) {
            (Null, Null) => Ordering::Equal,
            (Null, _) => Ordering::Less,
            (_, Null) => Ordering::Greater,
            // Tables repeat shared strings (a user on several rows): the
            // same string is equal without reading it.
            (Text(a), Text(b)) if Arc::ptr_eq(a, b) => Ordering::Equal,
            (Text(a), Text(b)) => a.as_bytes().cmp(b.as_bytes()),
            (Int(a), Int(b)) => a.cmp(b),
            (Ratio(a), Ratio(b)) => a.cmp(b),
            (Int(a), Ratio(b)) => self::Ratio::int(*a).cmp(b),
            (Ratio(a), Int(b)) => a.cmp(&self::Ratio::int(*b)),
            (Instant(a), Instant(b)) => a.cmp(b),
            (Date(a), Date(b)) => a.cmp(b),
            (Month(a), Month(b)) => a.cmp(b),
            // Columns hold one type; mixed cells only meet in a broken widget.
            (a, b) => a.rank().cmp(&b.rank()),
        }
    }
}

impl PartialOrd for Cell {
    fn partial_cmp(&self, other: &Cell) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Cell {
    fn rank(&self) -> u8 {
        match self {
            Cell::Null => 0,
            Cell::Text(_) => 1,
            Cell::Int(_) | Cell::Ratio(_) => 2,
            Cell::Instant(_) => 3,
            Cell::Date(_) => 4,
            Cell::Month(_) => 5,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

/// A widget's answer: its rows, one cell per column that the widget
/// declares (`Widget::columns`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// Sorts by `keys`, then by every other column left to right, ascending.
    pub fn sort(&mut self, keys: &[(usize, Order)]) {
        sort_rows(&mut self.rows, keys);
    }
}

pub fn sort_rows(rows: &mut [Vec<Cell>], keys: &[(usize, Order)]) {
    let width = rows.first().map_or(0, Vec::len);
    let mut order: Vec<(usize, Order)> = keys.to_vec();
    order.extend(
        (0..width)
            .filter(|c| !keys.iter().any(|(k, _)| k == c))
            .map(|c| (c, Order::Asc)),
    );
    // Every column takes part, so rows that compare equal are equal and
    // an unstable sort (faster, without a buffer) gives the same table.
    rows.sort_unstable_by(|a, b| {
        for &(col, dir) in &order {
            let ord = a[col].cmp(&b[col]);
            let ord = if dir == Order::Desc {
                ord.reverse()
            } else {
                ord
            };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_round_half_away_from_zero() {
        assert_eq!(Ratio::new(49, 10).hundredths(), 490);
        assert_eq!(Ratio::new(1, 8).hundredths(), 13); // 0.125
        assert_eq!(Ratio::new(-1, 8).hundredths(), -13);
        assert_eq!(Ratio::new(1, 3).hundredths(), 33);
        assert_eq!(Ratio::new(2, -3).hundredths(), -67);
        assert_eq!(Ratio::new(-1, 1000).hundredths(), 0);
        // A difference is taken before rounding: 0.125 - 0.12 = 0.005 -> 0.01.
        assert_eq!(Ratio::new(1, 8).minus(Ratio::new(12, 100)).hundredths(), 1);
    }

    #[test]
    fn ties_fall_back_to_the_other_columns_ascending() {
        let mut rows = vec![
            vec![Cell::text("b"), Cell::Int(2)],
            vec![Cell::text("a"), Cell::Int(2)],
            vec![Cell::text("c"), Cell::Int(5)],
            vec![Cell::Null, Cell::Int(2)],
        ];
        sort_rows(&mut rows, &[(1, Order::Desc)]);
        let firsts: Vec<_> = rows.iter().map(|r| r[0].clone()).collect();
        assert_eq!(
            firsts,
            [
                Cell::text("c"),
                Cell::Null,
                Cell::text("a"),
                Cell::text("b")
            ]
        );
    }

    #[test]
    fn text_sorts_by_bytes() {
        let mut rows = vec![
            vec![Cell::text("a")],
            vec![Cell::text("B")],
            vec![Cell::text("+g")],
        ];
        sort_rows(&mut rows, &[]);
        assert_eq!(
            rows,
            [
                vec![Cell::text("+g")],
                vec![Cell::text("B")],
                vec![Cell::text("a")]
            ]
        );
    }
}
