//! The SQL both engines speak, behind one small interface ([`Db`]), so the
//! rollups and the widgets' queries are written once for SQLite and
//! PostgreSQL alike.
//!
//! Statements use `?1`, `?2`… placeholders (PostgreSQL's are rewritten to
//! `$1`…), and quote the column `"user"` (a reserved word in PostgreSQL).
//! The few functions the engines spell differently come from [`Dialect`].

use std::cell::RefCell;
use std::collections::HashMap;

use anyhow::Context;

/// A statement argument.
#[derive(Clone, Copy, Debug)]
pub enum Arg<'a> {
    Int(i64),
    Text(&'a str),
    Bytes(&'a [u8]),
    Null,
}

impl From<i64> for Arg<'_> {
    fn from(v: i64) -> Self {
        Arg::Int(v)
    }
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(v: &'a str) -> Self {
        Arg::Text(v)
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(v: &'a String) -> Self {
        Arg::Text(v)
    }
}

impl<'a> From<&'a [u8]> for Arg<'a> {
    fn from(v: &'a [u8]) -> Self {
        Arg::Bytes(v)
    }
}

impl<'a> From<&'a Vec<u8>> for Arg<'a> {
    fn from(v: &'a Vec<u8>) -> Self {
        Arg::Bytes(v)
    }
}

impl From<Option<i64>> for Arg<'_> {
    fn from(v: Option<i64>) -> Self {
        v.map_or(Arg::Null, Arg::Int)
    }
}

impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(v: Option<&'a str>) -> Self {
        v.map_or(Arg::Null, Arg::Text)
    }
}

/// `args![a, b, c]`: a slice of [`Arg`]s.
#[macro_export]
macro_rules! args {
    ($($v:expr),* $(,)?) => {
        &[$($crate::store::sql::Arg::from($v)),*][..]
    };
}

/// One result row; columns by position.
pub trait Row {
    fn int(&self, i: usize) -> anyhow::Result<i64>;
    fn opt_int(&self, i: usize) -> anyhow::Result<Option<i64>>;
    fn text(&self, i: usize) -> anyhow::Result<String>;
    fn opt_text(&self, i: usize) -> anyhow::Result<Option<String>>;
    fn bytes(&self, i: usize) -> anyhow::Result<Vec<u8>>;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The larger of two values (`max(a, b)` in SQLite).
    pub fn greatest(self) -> &'static str {
        match self {
            Dialect::Sqlite => "max",
            Dialect::Postgres => "GREATEST",
        }
    }

    /// The smaller of two values.
    pub fn least(self) -> &'static str {
        match self {
            Dialect::Sqlite => "min",
            Dialect::Postgres => "LEAST",
        }
    }
}

/// The type of a column in a bulk statement (PostgreSQL binds each column
/// as one array of that type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColType {
    Int,
    Text,
    Bytes,
}

/// A connection (or transaction) that runs statements.
pub trait Db {
    fn dialect(&self) -> Dialect;
    /// Runs a statement; returns the rows it changed.
    fn exec(&self, sql: &str, args: &[Arg<'_>]) -> anyhow::Result<u64>;
    /// Runs a statement once for each of `rows`; returns the rows each run
    /// changed.
    fn exec_each(&self, sql: &str, rows: &[Vec<Arg<'_>>]) -> anyhow::Result<Vec<u64>> {
        rows.iter().map(|args| self.exec(sql, args)).collect()
    }
    /// Calls `f` with each row of a query.
    fn each(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        f: &mut dyn FnMut(&dyn Row) -> anyhow::Result<()>,
    ) -> anyhow::Result<()>;

    /// Runs a statement containing `VALUES (?1, …, ?n)` for every row of
    /// `rows` (each with `types.len()` arguments), giving any returned rows
    /// to `f`. SQLite runs it once per row; PostgreSQL once in all, with
    /// the values as arrays (`unnest`), which saves a round trip per row.
    fn each_row_of(
        &self,
        sql: &str,
        types: &[ColType],
        rows: &[Vec<Arg<'_>>],
        f: &mut dyn FnMut(&dyn Row) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let _ = types;
        for row in rows {
            self.each(sql, row, f)?;
        }
        Ok(())
    }
}

/// [`Db::each_row_of`] for statements that return nothing.
pub fn exec_rows(
    db: &dyn Db,
    sql: &str,
    types: &[ColType],
    rows: &[Vec<Arg<'_>>],
) -> anyhow::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    db.each_row_of(sql, types, rows, &mut |_| Ok(()))
}

/// `VALUES (?1, …, ?n)` in `sql` as `SELECT * FROM unnest(?1::t1[], …)`.
fn unnest_values(sql: &str, types: &[ColType]) -> anyhow::Result<String> {
    let placeholders: Vec<String> = (1..=types.len()).map(|i| format!("?{i}")).collect();
    let values = format!("VALUES ({})", placeholders.join(", "));
    anyhow::ensure!(
        sql.contains(&values),
        "a bulk statement needs `{values}`: {sql}"
    );
    let arrays: Vec<String> = types
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let ty = match t {
                ColType::Int => "bigint",
                ColType::Text => "text",
                ColType::Bytes => "bytea",
            };
            format!("?{}::{ty}[]", i + 1)
        })
        .collect();
    Ok(sql.replacen(
        &values,
        &format!("SELECT * FROM unnest({})", arrays.join(", ")),
        1,
    ))
}

/// A connection held for a while (a report's, given back to a pool when
/// dropped): a [`Db`] through the one it holds.
pub trait Lease {
    fn held(&self) -> &dyn Db;
}

impl<L: Lease> Db for L {
    fn dialect(&self) -> Dialect {
        self.held().dialect()
    }

    fn exec(&self, sql: &str, args: &[Arg<'_>]) -> anyhow::Result<u64> {
        self.held().exec(sql, args)
    }

    fn exec_each(&self, sql: &str, rows: &[Vec<Arg<'_>>]) -> anyhow::Result<Vec<u64>> {
        self.held().exec_each(sql, rows)
    }

    fn each(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        f: &mut dyn FnMut(&dyn Row) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        self.held().each(sql, args, f)
    }

    fn each_row_of(
        &self,
        sql: &str,
        types: &[ColType],
        rows: &[Vec<Arg<'_>>],
        f: &mut dyn FnMut(&dyn Row) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        self.held().each_row_of(sql, types, rows, f)
    }
}

/// The first row of a query, if any, through `f`.
pub fn first<T>(
    db: &dyn Db,
    sql: &str,
    args: &[Arg<'_>],
    f: impl FnOnce(&dyn Row) -> anyhow::Result<T>,
) -> anyhow::Result<Option<T>> {
    let mut f = Some(f);
    let mut out = None;
    db.each(sql, args, &mut |row| {
        if let Some(f) = f.take() {
            out = Some(f(row)?);
        }
        Ok(())
    })?;
    Ok(out)
}

// SQLite.

impl rusqlite::ToSql for Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Arg::Int(v) => ValueRef::Integer(*v),
            Arg::Text(v) => ValueRef::Text(v.as_bytes()),
            Arg::Bytes(v) => ValueRef::Blob(v),
            Arg::Null => ValueRef::Null,
        }))
    }
}

impl Row for rusqlite::Row<'_> {
    fn int(&self, i: usize) -> anyhow::Result<i64> {
        Ok(self.get(i)?)
    }
    fn opt_int(&self, i: usize) -> anyhow::Result<Option<i64>> {
        Ok(self.get(i)?)
    }
    fn text(&self, i: usize) -> anyhow::Result<String> {
        Ok(self.get(i)?)
    }
    fn opt_text(&self, i: usize) -> anyhow::Result<Option<String>> {
        Ok(self.get(i)?)
    }
    fn bytes(&self, i: usize) -> anyhow::Result<Vec<u8>> {
        Ok(self.get(i)?)
    }
}

impl Db for rusqlite::Connection {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    /// One prepared statement, run once per row.
    fn each_row_of(
        &self,
        sql: &str,
        _types: &[ColType],
        rows: &[Vec<Arg<'_>>],
        f: &mut dyn FnMut(&dyn Row) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut stmt = self.prepare_cached(sql)?;
        for row in rows {
            let mut returned = stmt.query(rusqlite::params_from_iter(row.iter()))?;
            while let Some(r) = returned.next()? {
                f(r)?;
            }
        }
        Ok(())
    }

    fn exec(&self, sql: &str, args: &[Arg<'_>]) -> anyhow::Result<u64> {
        let mut stmt = self.prepare_cached(sql)?;
        Ok(stmt.execute(rusqlite::params_from_iter(args.iter()))? as u64)
    }

    /// One prepared statement, run once per row.
    fn exec_each(&self, sql: &str, rows: &[Vec<Arg<'_>>]) -> anyhow::Result<Vec<u64>> {
        let mut stmt = self.prepare_cached(sql)?;
        rows.iter()
            .map(|args| Ok(stmt.execute(rusqlite::params_from_iter(args.iter()))? as u64))
            .collect()
    }

    fn each(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        f: &mut dyn FnMut(&dyn Row) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let mut stmt = self.prepare_cached(sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(args.iter()))?;
        while let Some(row) = rows.next()? {
            f(row)?;
        }
        Ok(())
    }
}

// PostgreSQL.

impl postgres::types::ToSql for Arg<'_> {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Arg::Int(v) => v.to_sql(ty, out),
            Arg::Text(v) => v.to_sql(ty, out),
            Arg::Bytes(v) => v.to_sql(ty, out),
            Arg::Null => Ok(postgres::types::IsNull::Yes),
        }
    }

    fn accepts(ty: &postgres::types::Type) -> bool {
        <i64 as postgres::types::ToSql>::accepts(ty)
            || <&str as postgres::types::ToSql>::accepts(ty)
            || <&[u8] as postgres::types::ToSql>::accepts(ty)
    }

    postgres::types::to_sql_checked!();
}

impl Row for postgres::Row {
    fn int(&self, i: usize) -> anyhow::Result<i64> {
        self.opt_int(i)?
            .with_context(|| format!("column {i} is NULL where a number was expected"))
    }
    /// Integer literals (`SELECT 0`) are `int4` in PostgreSQL; columns are
    /// `int8`. Both read as `i64`.
    fn opt_int(&self, i: usize) -> anyhow::Result<Option<i64>> {
        use postgres::types::Type;
        let ty = self.columns()[i].type_();
        Ok(if *ty == Type::INT4 {
            self.try_get::<_, Option<i32>>(i)?.map(i64::from)
        } else if *ty == Type::INT2 {
            self.try_get::<_, Option<i16>>(i)?.map(i64::from)
        } else {
            self.try_get::<_, Option<i64>>(i)?
        })
    }
    fn text(&self, i: usize) -> anyhow::Result<String> {
        Ok(self.try_get(i)?)
    }
    fn opt_text(&self, i: usize) -> anyhow::Result<Option<String>> {
        Ok(self.try_get(i)?)
    }
    fn bytes(&self, i: usize) -> anyhow::Result<Vec<u8>> {
        Ok(self.try_get(i)?)
    }
}

/// `?1` placeholders as PostgreSQL's `$1`.
pub fn postgres_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if c == '\'' {
            quoted = !quoted;
        }
        if c == '?' && !quoted && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

/// A PostgreSQL client or transaction, with its prepared statements.
pub struct Pg<C: postgres::GenericClient> {
    client: RefCell<C>,
    statements: RefCell<HashMap<String, postgres::Statement>>,
}

impl<C: postgres::GenericClient> Pg<C> {
    pub fn new(client: C) -> Pg<C> {
        Pg {
            client: RefCell::new(client),
            statements: RefCell::new(HashMap::new()),
        }
    }

    pub fn into_inner(self) -> C {
        self.client.into_inner()
    }

    pub fn client(&self) -> std::cell::RefMut<'_, C> {
        self.client.borrow_mut()
    }

    fn statement(&self, sql: &str) -> anyhow::Result<postgres::Statement> {
        if let Some(statement) = self.statements.borrow().get(sql) {
            return Ok(statement.clone());
        }
        let statement = self
            .client
            .borrow_mut()
            .prepare(&postgres_placeholders(sql))
            .with_context(|| format!("failed to prepare: {sql}"))?;
        let mut statements = self.statements.borrow_mut();
        // Statements with literal lists vary; keep the cache bounded.
        if statements.len() >= 512 {
            statements.clear();
        }
        statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}

fn pg_args<'a>(args: &'a [Arg<'a>]) -> Vec<&'a (dyn postgres::types::ToSql + Sync)> {
    args.iter()
        .map(|a| a as &(dyn postgres::types::ToSql + Sync))
        .collect()
}

/// One column of a bulk statement's rows, as a PostgreSQL array.
enum Column<'a> {
    Int(Vec<Option<i64>>),
    Text(Vec<Option<&'a str>>),
    Bytes(Vec<Option<&'a [u8]>>),
}

impl<'a> Column<'a> {
    fn of(ty: ColType, i: usize, rows: &[Vec<Arg<'a>>]) -> anyhow::Result<Column<'a>> {
        // Column `i` of every row through `pick`, which takes the argument
        // of the expected type (`None` for anything else); nulls stay nulls.
        fn values<'a, T>(
            rows: &[Vec<Arg<'a>>],
            i: usize,
            kind: &str,
            pick: fn(Arg<'a>) -> Option<T>,
        ) -> anyhow::Result<Vec<Option<T>>> {
            rows.iter()
                .map(|row| {
                    let arg = *row
                        .get(i)
                        .with_context(|| format!("a bulk row lacks column {i}"))?;
                    match (arg, pick(arg)) {
                        (Arg::Null, _) => Ok(None),
                        (_, Some(v)) => Ok(Some(v)),
                        (other, None) => anyhow::bail!("column {i} expects {kind}, got {other:?}"),
                    }
                })
                .collect()
        }
        Ok(match ty {
            ColType::Int => Column::Int(values(rows, i, "integers", |a| match a {
                Arg::Int(v) => Some(v),
                _ => None,
            })?),
            ColType::Text => Column::Text(values(rows, i, "text", |a| match a {
                Arg::Text(v) => Some(v),
                _ => None,
            })?),
            ColType::Bytes => Column::Bytes(values(rows, i, "bytes", |a| match a {
                Arg::Bytes(v) => Some(v),
                _ => None,
            })?),
        })
    }

    fn as_sql(&self) -> &(dyn postgres::types::ToSql + Sync) {
        match self {
            Column::Int(v) => v,
            Column::Text(v) => v,
            Column::Bytes(v) => v,
        }
    }
}

impl<C: postgres::GenericClient> Db for Pg<C> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn each_row_of(
        &self,
        sql: &str,
        types: &[ColType],
        rows: &[Vec<Arg<'_>>],
        f: &mut dyn FnMut(&dyn Row) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let statement = self.statement(&unnest_values(sql, types)?)?;
        let columns = types
            .iter()
            .enumerate()
            .map(|(i, t)| Column::of(*t, i, rows))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let params: Vec<&(dyn postgres::types::ToSql + Sync)> =
            columns.iter().map(Column::as_sql).collect();
        let returned = self.client.borrow_mut().query(&statement, &params)?;
        for row in &returned {
            f(row)?;
        }
        Ok(())
    }

    fn exec(&self, sql: &str, args: &[Arg<'_>]) -> anyhow::Result<u64> {
        let statement = self.statement(sql)?;
        Ok(self
            .client
            .borrow_mut()
            .execute(&statement, &pg_args(args))?)
    }

    fn each(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        f: &mut dyn FnMut(&dyn Row) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let statement = self.statement(sql)?;
        let rows = self.client.borrow_mut().query(&statement, &pg_args(args))?;
        for row in &rows {
            f(row)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_values_become_arrays() {
        assert_eq!(
            unnest_values(
                "INSERT INTO t (a, b) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                &[ColType::Int, ColType::Text]
            )
            .unwrap(),
            "INSERT INTO t (a, b) SELECT * FROM unnest(?1::bigint[], ?2::text[]) ON CONFLICT DO NOTHING"
        );
        assert!(unnest_values("INSERT INTO t (a) VALUES (1)", &[ColType::Int]).is_err());
    }

    #[test]
    fn placeholders() {
        assert_eq!(
            postgres_placeholders("SELECT ?1, '?2' WHERE a = ?12 AND b = ?"),
            "SELECT $1, '?2' WHERE a = $12 AND b = ?"
        );
    }
}
