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
pub struct JsonRows<'a>(&'a Table);

impl serde::Serialize for JsonRows<'_> {
    fn serialize<S: serde::Serializer>(&self, out: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut rows = out.serialize_seq(Some(self.0.len()))?;
        for row in self.0.rows() {
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
        rows: JsonRows(table),
    }
}

/// The same JSON as [`to_json`] serialized by serde_json, written by hand:
/// answers of a large company run to megabytes, and writing them cell by
/// cell straight into the output is several times faster.
pub fn json(widget: &Widget, report: &Report, table: &Table) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + table.len() * 24 * widget.columns.len());
    out.extend_from_slice(b"{\"widget\":");
    json_str(&mut out, widget.id);
    out.extend_from_slice(b",\"as_of\":\"");
    out.extend_from_slice(report.as_of.rfc3339().as_str().as_bytes());
    out.extend_from_slice(b"\",\"from\":");
    json_str(&mut out, &report.from.to_string());
    out.extend_from_slice(b",\"to\":");
    json_str(&mut out, &report.to.to_string());
    out.extend_from_slice(b",\"columns\":[");
    for (i, (name, _)) in widget.columns.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json_str(&mut out, name);
    }
    out.extend_from_slice(b"],\"rows\":[");
    for (r, row) in table.rows().enumerate() {
        if r > 0 {
            out.push(b',');
        }
        out.push(b'[');
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json_cell(&mut out, cell);
        }
        out.push(b']');
    }
    out.extend_from_slice(b"]}");
    out
}

fn json_cell(out: &mut Vec<u8>, cell: &Cell) {
    match cell {
        Cell::Null => out.extend_from_slice(b"null"),
        Cell::Text(s) => json_str(out, s),
        Cell::Int(n) => push_int(out, *n as i128),
        Cell::Ratio(r) => {
            // As serde_json writes the f64 of the hundredths: the shortest
            // form that reads back, with at least one decimal (`4.9`,
            // `5.0`, `0.01`, `0.0`, never `-0.0`).
            let h = r.hundredths();
            if h < 0 {
                out.push(b'-');
            }
            let h = h.abs();
            push_int(out, h / 100);
            out.push(b'.');
            match h % 100 {
                0 => out.push(b'0'),
                c if c % 10 == 0 => out.push(b'0' + (c / 10) as u8),
                c => {
                    out.push(b'0' + (c / 10) as u8);
                    out.push(b'0' + (c % 10) as u8);
                }
            }
        }
        Cell::Instant(t) => {
            out.push(b'"');
            out.extend_from_slice(t.rfc3339().as_str().as_bytes());
            out.push(b'"');
        }
        other => json_str(out, &text_of(other)),
    }
}

fn push_int(out: &mut Vec<u8>, n: i128) {
    if n < 0 {
        out.push(b'-');
    }
    let mut digits = [0u8; 40];
    let mut at = digits.len();
    let mut v = n.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// A JSON string, escaped as serde_json escapes it.
fn json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[(b >> 4) as usize]);
            out.push(HEX[(b & 0xf) as usize]);
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
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
    for row in std::iter::once(header.as_slice()).chain(table.rows()) {
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
    fn hand_written_json_is_serde_json_s() {
        let widget = crate::metrics::widget("users.activated_log").unwrap();
        let report = Report {
            as_of: crate::time::Micros(1_780_000_000_123_450),
            from: crate::calendar::Month::new(2025, 11),
            to: crate::calendar::Month::new(2026, 10),
            orgs: None,
        };
        let mut rows = Vec::new();
        for (i, text) in [
            "plain",
            "quote\" back\\ slash",
            "line\nbreak\ttab\r",
            "\u{1}\u{1f}\u{7f}é😀",
            "",
        ]
        .into_iter()
        .enumerate()
        {
            let i = i as i64;
            rows.push(vec![
                Cell::text(text),
                Cell::Null,
                Cell::Int(i64::MIN + i),
                Cell::Int(i64::MAX - i),
                Cell::Instant(crate::time::Micros(1_780_000_000_000_000 + i * 100_000)),
                Cell::Date(crate::calendar::Day(20_000 + i)),
                Cell::Month(crate::calendar::Month::new(2026, 1 + i)),
                Cell::Int(-i),
            ]);
        }
        for (num, den) in [
            (0, 1),
            (-1, 1000),
            (5, 1),
            (49, 10),
            (1, 100),
            (-1, 2),
            (12345, 7),
            (-99999, 3),
        ] {
            rows.push(vec![Cell::ratio(Ratio::new(num, den)); 8]);
        }
        let table = Table::from_rows(rows);
        let serde = serde_json::to_vec(&to_json(widget, &report, &table)).unwrap();
        assert_eq!(
            String::from_utf8(json(widget, &report, &table)).unwrap(),
            String::from_utf8(serde).unwrap()
        );
    }

    #[test]
    fn csv_quotes_escapes_and_formats() {
        let widget = crate::metrics::widget("actions.automations_monthly").unwrap();
        let table = Table::from_rows([
            vec![
                Cell::text("=HYPERLINK(\"x\")"),
                Cell::Int(-1),
                Cell::ratio(Ratio::new(-1, 1000)),
            ],
            vec![
                Cell::text("x,y"),
                Cell::Null,
                Cell::ratio(Ratio::new(49, 10)),
            ],
            vec![
                Cell::text("-5"),
                Cell::text("line\nbreak"),
                Cell::ratio(Ratio::new(-1, 2)),
            ],
        ]);
        assert_eq!(
            to_csv(widget, &table),
            "month,org,runs\r\n\"'=HYPERLINK(\"\"x\"\")\",-1,0.00\r\n\"x,y\",,4.90\r\n'-5,\"line\nbreak\",-0.50\r\n"
        );
    }
}
