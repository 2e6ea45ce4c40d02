//! Splits a body or a file into the raw bytes of its events, in either
//! form of the contract: one JSON array, or NDJSON (one event per line,
//! blank lines ignored).
//!
//! Reading is streaming: only one event's bytes are held at a time, so a
//! file of any size is read in bounded memory. The scanner measures each
//! event's nesting depth as it goes, so that an event nested too deeply is
//! rejected without ever being handed to a recursive parser.

use std::io::{self, BufRead};

/// How the events are framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A single JSON array of events.
    Array,
    /// One JSON value per line; blank lines are skipped and not counted.
    Ndjson,
}

/// One event's raw bytes and its 0-based index among the events.
pub struct Item<'a> {
    pub index: u64,
    pub bytes: &'a [u8],
    /// The deepest nesting inside the event (the event object itself is 1).
    pub depth: usize,
    /// More than `max_item_bytes`: `bytes` holds only the beginning.
    pub truncated: bool,
}

/// The body as a whole is not what its format promises.
#[derive(Debug, thiserror::Error)]
pub enum FramingError {
    #[error("the body is not a JSON array: {0}")]
    NotArray(String),
    #[error("failed to read the events: {0}")]
    Io(#[from] io::Error),
}

enum ArrayState {
    BeforeOpen,
    AfterOpen,
    AfterItem,
    Closed,
}

/// A streaming reader of events.
pub struct Items<R> {
    reader: R,
    format: Format,
    state: ArrayState,
    next_index: u64,
    max_item_bytes: usize,
    buf: Vec<u8>,
}

impl<R: BufRead> Items<R> {
    pub fn new(reader: R, format: Format, max_item_bytes: usize) -> Items<R> {
        Items {
            reader,
            format,
            state: ArrayState::BeforeOpen,
            next_index: 0,
            max_item_bytes,
            buf: Vec::new(),
        }
    }

    /// The next event, or `None` at the end.
    pub fn next_item(&mut self) -> Result<Option<Item<'_>>, FramingError> {
        let found = match self.format {
            Format::Ndjson => self.next_line()?,
            Format::Array => self.next_array_item()?,
        };
        let Some((depth, truncated)) = found else {
            return Ok(None);
        };
        let index = self.next_index;
        self.next_index += 1;
        Ok(Some(Item {
            index,
            bytes: &self.buf,
            depth,
            truncated,
        }))
    }

    fn next_line(&mut self) -> Result<Option<(usize, bool)>, FramingError> {
        loop {
            self.buf.clear();
            let mut truncated = false;
            let mut read_any = false;
            loop {
                let chunk = self.reader.fill_buf()?;
                if chunk.is_empty() {
                    break;
                }
                read_any = true;
                let (take, end_of_line) = match chunk.iter().position(|&c| c == b'\n') {
                    Some(pos) => (pos, true),
                    None => (chunk.len(), false),
                };
                let room = self.max_item_bytes.saturating_sub(self.buf.len());
                if take > room {
                    truncated = true;
                }
                self.buf.extend_from_slice(&chunk[..take.min(room)]);
                self.reader
                    .consume(if end_of_line { take + 1 } else { take });
                if end_of_line {
                    break;
                }
            }
            if !read_any {
                return Ok(None);
            }
            if self.buf.last() == Some(&b'\r') {
                self.buf.pop();
            }
            if !truncated && self.buf.iter().all(|c| is_ws(*c)) {
                continue;
            }
            return Ok(Some((nesting_depth(&self.buf), truncated)));
        }
    }

    fn next_array_item(&mut self) -> Result<Option<(usize, bool)>, FramingError> {
        loop {
            let next = self.skip_ws()?;
            match (&self.state, next) {
                (ArrayState::BeforeOpen, Some(b'[')) => {
                    self.reader.consume(1);
                    self.state = ArrayState::AfterOpen;
                }
                (ArrayState::BeforeOpen, _) => {
                    return Err(FramingError::NotArray("it does not start with `[`".into()));
                }
                (ArrayState::AfterOpen | ArrayState::AfterItem, Some(b']')) => {
                    self.reader.consume(1);
                    self.state = ArrayState::Closed;
                }
                (ArrayState::AfterItem, Some(b',')) => {
                    self.reader.consume(1);
                    if self.skip_ws()? == Some(b']') {
                        return Err(FramingError::NotArray("a `,` is followed by `]`".into()));
                    }
                    self.state = ArrayState::AfterOpen;
                }
                (ArrayState::AfterOpen, Some(_)) => {
                    let found = self.scan_value()?;
                    self.state = ArrayState::AfterItem;
                    return Ok(Some(found));
                }
                (ArrayState::AfterOpen | ArrayState::AfterItem, None) => {
                    return Err(FramingError::NotArray(
                        "it ends before its closing `]`".into(),
                    ));
                }
                (ArrayState::AfterItem, Some(c)) => {
                    return Err(FramingError::NotArray(format!(
                        "expected `,` or `]` after an event, found `{}`",
                        c.escape_ascii()
                    )));
                }
                (ArrayState::Closed, None) => return Ok(None),
                (ArrayState::Closed, Some(_)) => {
                    return Err(FramingError::NotArray(
                        "there is data after the closing `]`".into(),
                    ));
                }
            }
        }
    }

    /// Skips JSON white space; returns the next byte without consuming it.
    fn skip_ws(&mut self) -> io::Result<Option<u8>> {
        loop {
            let chunk = self.reader.fill_buf()?;
            if chunk.is_empty() {
                return Ok(None);
            }
            match chunk.iter().position(|c| !is_ws(*c)) {
                Some(pos) => {
                    let next = chunk[pos];
                    self.reader.consume(pos);
                    return Ok(Some(next));
                }
                None => {
                    let len = chunk.len();
                    self.reader.consume(len);
                }
            }
        }
    }

    /// Reads one JSON value of the array into `buf`, stopping before the
    /// `,` or `]` that follows it. Syntax inside the value is checked later
    /// by the parser; this only finds where the value ends.
    fn scan_value(&mut self) -> Result<(usize, bool), FramingError> {
        self.buf.clear();
        let mut scan = Scan::default();
        let mut truncated = false;
        loop {
            let chunk = self.reader.fill_buf()?;
            if chunk.is_empty() {
                return Err(FramingError::NotArray("it ends inside an event".into()));
            }
            let (used, done) = scan.feed(chunk);
            let room = self.max_item_bytes.saturating_sub(self.buf.len());
            if used > room {
                truncated = true;
            }
            self.buf.extend_from_slice(&chunk[..used.min(room)]);
            self.reader.consume(used);
            if done {
                if self.buf.is_empty() {
                    return Err(FramingError::NotArray(
                        "an event is missing between separators".into(),
                    ));
                }
                return Ok((scan.max_depth, truncated));
            }
        }
    }
}

/// The state of [`Items::scan_value`] across chunks.
#[derive(Default)]
struct Scan {
    depth: usize,
    max_depth: usize,
    in_string: bool,
    escaped: bool,
    started: bool,
}

impl Scan {
    /// Consumes bytes of one value; returns how many belong to it and
    /// whether it ended within them.
    fn feed(&mut self, chunk: &[u8]) -> (usize, bool) {
        for (i, &c) in chunk.iter().enumerate() {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if c == b'\\' {
                    self.escaped = true;
                } else if c == b'"' {
                    self.in_string = false;
                    if self.depth == 0 {
                        return (i + 1, true);
                    }
                }
                continue;
            }
            match c {
                b'"' => {
                    self.in_string = true;
                    self.started = true;
                }
                b'{' | b'[' => {
                    self.depth += 1;
                    self.max_depth = self.max_depth.max(self.depth);
                    self.started = true;
                }
                b'}' | b']' if self.depth == 0 => return (i, true),
                b'}' | b']' => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        return (i + 1, true);
                    }
                }
                b',' if self.depth == 0 => return (i, true),
                c if self.depth == 0 && is_ws(c) && self.started => return (i, true),
                _ => self.started = true,
            }
        }
        (chunk.len(), false)
    }
}

/// The deepest nesting of arrays and objects in `bytes`, strings skipped.
pub fn nesting_depth(bytes: &[u8]) -> usize {
    let mut max = 0;
    let mut rest = bytes;
    while !rest.is_empty() {
        let mut scan = Scan::default();
        let (used, done) = scan.feed(rest);
        max = max.max(scan.max_depth);
        if !done {
            break;
        }
        // A value that ends may be followed by more in a malformed line;
        // keep measuring so that no nesting hides behind it.
        rest = &rest[used.max(1)..];
    }
    max
}

fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(
        input: &str,
        format: Format,
        max: usize,
    ) -> Result<Vec<(u64, String, usize, bool)>, String> {
        let mut reader = Items::new(
            io::BufReader::with_capacity(3, input.as_bytes()),
            format,
            max,
        );
        let mut out = Vec::new();
        loop {
            match reader.next_item() {
                Ok(Some(item)) => out.push((
                    item.index,
                    String::from_utf8_lossy(item.bytes).into_owned(),
                    item.depth,
                    item.truncated,
                )),
                Ok(None) => return Ok(out),
                Err(e) => return Err(e.to_string()),
            }
        }
    }

    #[test]
    fn ndjson_skips_blank_lines_without_counting_them() {
        let got = items("{\"a\":1}\r\n\n  \r\n[[]]\nnull", Format::Ndjson, 100).unwrap();
        assert_eq!(
            got,
            vec![
                (0, "{\"a\":1}".into(), 1, false),
                (1, "[[]]".into(), 2, false),
                (2, "null".into(), 0, false)
            ]
        );
    }

    #[test]
    fn ndjson_marks_long_lines_and_keeps_going() {
        let got = items("{\"a\":\"xxxxxxxx\"}\n{}\n", Format::Ndjson, 4).unwrap();
        assert_eq!(
            got,
            vec![(0, "{\"a\"".into(), 1, true), (1, "{}".into(), 1, false)]
        );
    }

    #[test]
    fn arrays_split_at_top_level_commas_only() {
        let got = items(
            r#" [ {"a":"],\"}"} , [1,[2]] ,"s", 12 ,null ] "#,
            Format::Array,
            100,
        )
        .unwrap();
        let texts: Vec<_> = got.iter().map(|i| (i.1.as_str(), i.2)).collect();
        assert_eq!(
            texts,
            [
                (r#"{"a":"],\"}"}"#, 1),
                ("[1,[2]]", 2),
                ("\"s\"", 0),
                ("12", 0),
                ("null", 0)
            ]
        );
    }

    #[test]
    fn empty_array_has_no_items() {
        assert_eq!(items("[]", Format::Array, 10).unwrap(), vec![]);
        assert_eq!(items(" [ ] \n", Format::Array, 10).unwrap(), vec![]);
    }

    #[test]
    fn malformed_arrays_are_refused_whole() {
        for bad in [
            "",
            "{}",
            "[{}",
            "[{} {}]",
            "[{},]",
            "[] x",
            "[{\"a\":1}",
            "[,{}]",
        ] {
            assert!(items(bad, Format::Array, 100).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn depth_is_measured_outside_strings() {
        assert_eq!(nesting_depth(br#"{"a":"[[[[{{{"}"#), 1);
        assert_eq!(nesting_depth(br#"{"a":[{"b":[]}]}"#), 4);
        assert_eq!(nesting_depth(b"{} [[[]]]"), 3);
        assert_eq!(nesting_depth("[".repeat(100_000).as_bytes()), 100_000);
    }
}
