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
    /// Boxed: few cells hold one, and it would double every cell's size.
    Ratio(Box<Ratio>),
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

    pub fn ratio(r: Ratio) -> Cell {
        Cell::Ratio(Box::new(r))
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
            (Int(a), Ratio(b)) => self::Ratio::int(*a).cmp(&**b),
            (Ratio(a), Int(b)) => (**a).cmp(&self::Ratio::int(*b)),
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
/// declares (`Widget::columns`), kept in one flat array (row after row):
/// a table of users holds a hundred thousand rows, which one allocation
/// builds, walks and frees much faster than a vector each.
#[derive(Clone, Debug, Default)]
pub struct Table {
    width: usize,
    cells: Vec<Cell>,
}

/// Equal rows; the width of a table without rows is no matter.
impl PartialEq for Table {
    fn eq(&self, other: &Table) -> bool {
        self.cells == other.cells && (self.cells.is_empty() || self.width == other.width)
    }
}

impl Table {
    /// An empty table whose rows will have `width` cells.
    pub fn with_width(width: usize) -> Table {
        Table {
            width,
            cells: Vec::new(),
        }
    }

    /// A table of these rows (all of one width).
    pub fn from_rows(rows: impl IntoIterator<Item = Vec<Cell>>) -> Table {
        let mut table = Table::default();
        for row in rows {
            table.push_row(row);
        }
        table
    }

    /// Adds a row; every row of a table has as many cells as the first.
    pub fn push<const N: usize>(&mut self, row: [Cell; N]) {
        self.push_row(row);
    }

    pub fn push_row(&mut self, row: impl IntoIterator<Item = Cell>) {
        let before = self.cells.len();
        self.cells.extend(row);
        let width = self.cells.len() - before;
        if self.width == 0 && before == 0 {
            self.width = width;
        }
        assert_eq!(width, self.width, "every row of a table has its width");
    }

    pub fn len(&self) -> usize {
        self.cells.len().checked_div(self.width).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The rows in order, each a slice of cells.
    pub fn rows(&self) -> std::slice::Chunks<'_, Cell> {
        self.cells.chunks(self.width.max(1))
    }

    pub fn row(&self, i: usize) -> &[Cell] {
        &self.cells[i * self.width..(i + 1) * self.width]
    }

    pub fn first(&self) -> Option<&[Cell]> {
        (!self.is_empty()).then(|| self.row(0))
    }

    /// Keeps the first `rows` rows.
    pub fn truncate(&mut self, rows: usize) {
        self.cells.truncate(rows * self.width);
    }

    /// Adds the rows of `other` after these.
    pub fn append(&mut self, other: Table) {
        if other.is_empty() {
            return;
        }
        if self.is_empty() {
            self.width = other.width;
        }
        assert_eq!(
            self.width, other.width,
            "appended rows have the table's width"
        );
        self.cells.extend(other.cells);
    }

    /// The rows for which `keep` holds, in order.
    pub fn filtered(&self, keep: impl Fn(&[Cell]) -> bool) -> Table {
        let mut out = Table::with_width(self.width);
        for row in self.rows().filter(|r| keep(r)) {
            out.cells.extend_from_slice(row);
        }
        out
    }

    /// Sorts by `keys`, then by every other column left to right, ascending.
    pub fn sort(&mut self, keys: &[(usize, Order)]) {
        let index = sorted_order(self, keys);
        let width = self.width;
        let mut old = std::mem::take(&mut self.cells);
        self.cells.reserve_exact(old.len());
        for i in index {
            let row = &mut old[i as usize * width..(i as usize + 1) * width];
            self.cells
                .extend(row.iter_mut().map(|c| std::mem::replace(c, Cell::Null)));
        }
    }

    fn cell(&self, row: u32, col: usize) -> &Cell {
        &self.cells[row as usize * self.width + col]
    }
}

/// The order of `table`'s rows by `keys`, then by every other column left
/// to right, ascending.
fn sorted_order(table: &Table, keys: &[(usize, Order)]) -> Vec<u32> {
    let width = table.width;
    let mut order: Vec<(usize, Order)> = keys.to_vec();
    order.extend(
        (0..width)
            .filter(|c| !keys.iter().any(|(k, _)| k == c))
            .map(|c| (c, Order::Asc)),
    );
    // A column at a time: rows are sorted by the first column, then only
    // the runs of rows tied on it by the next, and so on. Large tables list
    // users, and this compares their texts only where earlier columns tie,
    // and by rank rather than byte by byte where many rows tie.
    let rows = table.len();
    let mut index: Vec<u32> = (0..rows as u32).collect();
    let mut ties: Vec<(usize, usize)> = vec![(0, rows)];
    for &(col, dir) in &order {
        let keys = column_keys(table, &index, &ties, col);
        let mut next = Vec::new();
        for &(start, end) in &ties {
            let run = &mut index[start..end];
            let equal: &dyn Fn(u32, u32) -> bool = match &keys {
                Some(keys) => {
                    run.sort_unstable_by_key(|i| keys[*i as usize]);
                    if dir == Order::Desc {
                        run.reverse();
                    }
                    &|a, b| keys[a as usize] == keys[b as usize]
                }
                None => {
                    run.sort_unstable_by(|a, b| {
                        let ord = table.cell(*a, col).cmp(table.cell(*b, col));
                        if dir == Order::Desc {
                            ord.reverse()
                        } else {
                            ord
                        }
                    });
                    &|a, b| table.cell(a, col) == table.cell(b, col)
                }
            };
            let mut from = 0;
            for i in 1..=run.len() {
                if i == run.len() || !equal(run[i], run[from]) {
                    if i - from > 1 {
                        next.push((start + from, start + i));
                    }
                    from = i;
                }
            }
        }
        ties = next;
        if ties.is_empty() {
            break;
        }
    }
    // Rows still tied are equal in every column: their order is no matter.
    index
}

/// Each tied row's cell of `col` as a number that sorts and compares as
/// the cell does (null 0), in an array by row, so that runs sort without
/// following every row through memory: integers, instants, dates and
/// months by value, and texts by rank, each distinct text (found by the
/// address most rows share) compared once. `None` for columns of other
/// cells, or with few rows, sorted cell by cell.
fn column_keys(
    table: &Table,
    index: &[u32],
    ties: &[(usize, usize)],
    col: usize,
) -> Option<Vec<u128>> {
    let tied = || ties.iter().flat_map(|(s, e)| &index[*s..*e]).copied();
    if tied().count() <= 64 {
        return None;
    }
    let mut keys = vec![0u128; table.len()];
    let value = |v: i64| 1 + (v as i128 - i64::MIN as i128) as u128;
    let mut texts: Vec<u32> = Vec::new();
    for i in tied() {
        keys[i as usize] = match table.cell(i, col) {
            Cell::Null => 0,
            Cell::Int(v) => value(*v),
            Cell::Instant(t) => value(t.0),
            Cell::Date(d) => value(d.0),
            Cell::Month(m) => value(m.0),
            Cell::Text(_) => {
                texts.push(i);
                0
            }
            Cell::Ratio(_) => return None,
        };
    }
    if texts.is_empty() {
        return Some(keys);
    }
    if texts.len()
        != tied()
            .filter(|i| !matches!(table.cell(*i, col), Cell::Null))
            .count()
    {
        // Texts beside numbers: a broken column, compared cell by cell.
        return None;
    }
    let text = |i: u32| match table.cell(i, col) {
        Cell::Text(t) => t,
        _ => unreachable!("only texts are ranked"),
    };
    let address = |t: &Arc<str>| Arc::as_ptr(t) as *const u8 as usize;
    let mut slot: rustc_hash::FxHashMap<usize, u32> = Default::default();
    let mut distinct: Vec<&Arc<str>> = Vec::new();
    for &i in &texts {
        let t = text(i);
        slot.entry(address(t)).or_insert_with(|| {
            distinct.push(t);
            distinct.len() as u32 - 1
        });
    }
    let mut by_text: Vec<u32> = (0..distinct.len() as u32).collect();
    by_text.sort_unstable_by(|a, b| {
        distinct[*a as usize]
            .as_bytes()
            .cmp(distinct[*b as usize].as_bytes())
    });
    // Equal texts behind different addresses share a rank.
    let mut rank_of = vec![0u128; distinct.len()];
    let mut rank = 0;
    for (k, d) in by_text.iter().enumerate() {
        if k > 0 && distinct[by_text[k - 1] as usize] != distinct[*d as usize] {
            rank += 1;
        }
        rank_of[*d as usize] = rank + 1;
    }
    for i in texts {
        keys[i as usize] = rank_of[slot[&address(text(i))] as usize];
    }
    Some(keys)
}

#[cfg(test)]
fn compare(a: &[Cell], b: &[Cell], order: &[(usize, Order)]) -> Ordering {
    for &(col, dir) in order {
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
        let mut table = Table::from_rows([
            vec![Cell::text("b"), Cell::Int(2)],
            vec![Cell::text("a"), Cell::Int(2)],
            vec![Cell::text("c"), Cell::Int(5)],
            vec![Cell::Null, Cell::Int(2)],
        ]);
        table.sort(&[(1, Order::Desc)]);
        let firsts: Vec<_> = table.rows().map(|r| r[0].clone()).collect();
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
    fn large_tables_sort_as_small_ones() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let shared: Vec<Arc<str>> = ["b", "a", "ab", "", "B"].map(Arc::from).to_vec();
        let rows: Vec<Vec<Cell>> = (0..500)
            .map(|_| {
                let text = match rng.random_range(0..6) {
                    5 => Cell::Null,
                    // Equal texts behind different addresses too.
                    4 => Cell::text("ab"),
                    i => Cell::shared(&shared[i]),
                };
                vec![
                    text,
                    Cell::Int(rng.random_range(-3..3)),
                    Cell::opt_instant(rng.random_bool(0.8).then(|| Micros(rng.random_range(0..4)))),
                ]
            })
            .collect();
        for keys in [
            &[(1, Order::Desc)][..],
            &[(2, Order::Asc), (0, Order::Desc)],
        ] {
            let mut fast = Table::from_rows(rows.clone());
            fast.sort(keys);
            let mut order: Vec<(usize, Order)> = keys.to_vec();
            order.extend(
                (0..3)
                    .filter(|c| !keys.iter().any(|(k, _)| k == c))
                    .map(|c| (c, Order::Asc)),
            );
            let mut slow = rows.clone();
            slow.sort_by(|a, b| compare(a, b, &order));
            assert_eq!(fast, Table::from_rows(slow), "{keys:?}");
        }
    }

    #[test]
    fn text_sorts_by_bytes() {
        let mut table = Table::from_rows([
            vec![Cell::text("a")],
            vec![Cell::text("B")],
            vec![Cell::text("+g")],
        ]);
        table.sort(&[]);
        assert_eq!(
            table,
            Table::from_rows([
                vec![Cell::text("+g")],
                vec![Cell::text("B")],
                vec![Cell::text("a")]
            ])
        );
    }
}
