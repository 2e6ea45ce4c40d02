//! Rendering a widget's [`Table`] as the contract's JSON and CSV. Pure:
//! rendering never queries.

use crate::metrics::table::{Cell, Table};
use crate::metrics::{Report, Widget};

/// A cell as JSON: text, number or null. Written straight to the output,
/// without building a `serde_json::Value` per cell.
struct JsonCell<'a>(&'a Cell);

impl serde::Serialize for JsonCell<'_> {
    fn serialize<S: serde::Serializer>(&self, out: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Cell::Null => out.serialize_none(),
            Cell::Text(s) => out.serialize_str(s),
            Cell::Instant(t) => out.serialize_str(t.rfc3339().as_str()),
            Cell::Int(n) => out.serialize_i64(*n),
            Cell::Ratio(r) => {
                let h = r.hundredths();
                // `0.0`, never `-0.0`.
                out.serialize_f64(if h == 0 { 0.0 } else { h as f64 / 100.0 })
            }
            other => out.serialize_str(&text_of(other)),
        }
    }
}

/// A table's rows as JSON arrays, borrowed from the table.
#[derive(Debug)]
pub struct JsonRows<'a>(&'a [Vec<Cell>]);

impl serde::Serialize for JsonRows<'_> {
    fn serialize<S: serde::Serializer>(&self, out: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut rows = out.serialize_seq(Some(self.0.len()))?;
        for row in self.0 {
            rows.serialize_element(&JsonRow(row))?;
        }
        rows.end()
    }
}

struct JsonRow<'a>(&'a [Cell]);

impl serde::Serialize for JsonRow<'_> {
    fn serialize<S: serde::Serializer>(&self, out: S) -> Result<S::Ok, S::Error> {
        out.collect_seq(self.0.iter().map(JsonCell))
    }
}

/// The text of a cell as both forms write it (and the dashboard shows it).
pub fn text_of(cell: &Cell) -> String {
    match cell {
        Cell::Null => String::new(),
        Cell::Text(s) => s.to_string(),
        Cell::Int(n) => n.to_string(),
        Cell::Ratio(r) => {
            let h = r.hundredths();
            let sign = if h < 0 { "-" } else { "" };
            format!("{sign}{}.{:02}", h.abs() / 100, h.abs() % 100)
        }
        Cell::Instant(t) => t.to_string(),
        Cell::Date(d) => d.to_string(),
        Cell::Month(m) => m.to_string(),
    }
}

/// A widget's JSON answer.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct WidgetAnswer<'a> {
    /// The widget id.
    pub widget: String,
    /// The report's `as_of`, RFC 3339 in UTC.
    pub as_of: String,
    /// The first month of the period, `YYYY-MM`.
    pub from: String,
    /// The last month of the period, `YYYY-MM` (cut at the month of `as_of`).
    pub to: String,
    pub columns: Vec<String>,
    /// One array per row, a cell per column: text, number or null.
    #[schema(value_type = Vec<Vec<serde_json::Value>>)]
    pub rows: JsonRows<'a>,
}

/// `{"widget", "as_of", "from", "to", "columns", "rows"}`.
pub fn to_json<'a>(widget: &Widget, report: &Report, table: &'a Table) -> WidgetAnswer<'a> {
    WidgetAnswer {
        widget: widget.id.to_owned(),
        as_of: report.as_of.to_string(),
        from: report.from.to_string(),
        to: report.to.to_string(),
        columns: widget
            .columns
            .iter()
            .map(|(name, _)| name.to_string())
            .collect(),
        rows: JsonRows(&table.rows),
    }
}

/// RFC 4180 with CRLF after every line; text that a spreadsheet would run
/// as a formula gets a leading `'`; numbers are never altered.
pub fn to_csv(widget: &Widget, table: &Table) -> String {
    let mut out = String::new();
    let header: Vec<Cell> = widget
        .columns
        .iter()
        .map(|(name, _)| Cell::text(*name))
        .collect();
    for row in std::iter::once(&header).chain(&table.rows) {
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let mut text = text_of(cell);
            if matches!(cell, Cell::Text(_)) && text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                text.insert(0, '\'');
            }
            if text.contains([',', '"', '\r', '\n']) {
                out.push('"');
                out.push_str(&text.replace('"', "\"\""));
                out.push('"');
            } else {
                out.push_str(&text);
            }
        }
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::table::Ratio;

    #[test]
    fn csv_quotes_escapes_and_formats() {
        let widget = crate::metrics::widget("actions.automations_monthly").unwrap();
        let table = Table {
            rows: vec![
                vec![
                    Cell::text("=HYPERLINK(\"x\")"),
                    Cell::Int(-1),
                    Cell::Ratio(Ratio::new(-1, 1000)),
                ],
                vec![
                    Cell::text("x,y"),
                    Cell::Null,
                    Cell::Ratio(Ratio::new(49, 10)),
                ],
                vec![
                    Cell::text("-5"),
                    Cell::text("line\nbreak"),
                    Cell::Ratio(Ratio::new(-1, 2)),
                ],
            ],
        };
        assert_eq!(
            to_csv(widget, &table),
            "month,org,runs\r\n\"'=HYPERLINK(\"\"x\"\")\",-1,0.00\r\n\"x,y\",,4.90\r\n'-5,\"line\nbreak\",-0.50\r\n"
        );
    }
}
