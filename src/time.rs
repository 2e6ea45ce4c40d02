//! Instants as microseconds since the Unix epoch, and the strict RFC 3339
//! parser and formatter used at the edges.
//!
//! Parsing is written here rather than taken from a date crate because the
//! contract is narrower than what general parsers accept: RFC 3339 with a
//! mandatory offset, and fractional digits beyond the microsecond dropped
//! (truncated, never rounded). Time-zone arithmetic lives elsewhere.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// An instant, in whole microseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Micros(pub i64);

pub const MICROS_PER_SECOND: i64 = 1_000_000;
pub const MICROS_PER_HOUR: i64 = 3_600 * MICROS_PER_SECOND;
pub const MICROS_PER_DAY: i64 = 24 * MICROS_PER_HOUR;

impl Micros {
    pub fn now() -> Micros {
        let elapsed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("the system clock is set before 1970");
        Micros(elapsed.as_micros() as i64)
    }

    /// Parses an RFC 3339 date-time with an offset (`Z` or `±HH:MM`).
    /// Returns `None` for anything else, including impossible dates
    /// (`2026-02-30`) and leap seconds.
    pub fn parse_rfc3339(s: &str) -> Option<Micros> {
        let b = s.as_bytes();
        if b.len() < 20 {
            return None;
        }
        let year = digits(b, 0, 4)?;
        let month = digits(b, 5, 2)?;
        let day = digits(b, 8, 2)?;
        let hour = digits(b, 11, 2)?;
        let minute = digits(b, 14, 2)?;
        let second = digits(b, 17, 2)?;
        if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
            return None;
        }
        if b[13] != b':' || b[16] != b':' {
            return None;
        }
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        let mut pos = 19;
        let mut micros = 0i64;
        if b[pos] == b'.' {
            pos += 1;
            let start = pos;
            while pos < b.len() && b[pos].is_ascii_digit() {
                if pos - start < 6 {
                    micros = micros * 10 + i64::from(b[pos] - b'0');
                }
                pos += 1;
            }
            let n = pos - start;
            if n == 0 {
                return None;
            }
            for _ in n..6 {
                micros *= 10;
            }
        }
        let offset_minutes = match b.get(pos)? {
            b'Z' | b'z' if pos + 1 == b.len() => 0,
            sign @ (b'+' | b'-') if pos + 6 == b.len() => {
                let oh = digits(b, pos + 1, 2)?;
                let om = digits(b, pos + 4, 2)?;
                if b[pos + 3] != b':' || oh > 23 || om > 59 {
                    return None;
                }
                let m = oh * 60 + om;
                if *sign == b'-' { -m } else { m }
            }
            _ => return None,
        };
        let days = days_from_civil(year, month, day);
        let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
        Some(Micros(seconds * MICROS_PER_SECOND + micros))
    }

    /// The civil date and time in UTC: (year, month, day, hour, minute, second, micros).
    pub fn to_utc_parts(self) -> (i64, i64, i64, i64, i64, i64, i64) {
        let secs = self.0.div_euclid(MICROS_PER_SECOND);
        let micros = self.0.rem_euclid(MICROS_PER_SECOND);
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        (y, m, d, rem / 3_600, rem % 3_600 / 60, rem % 60, micros)
    }
}

/// RFC 3339 in UTC with `Z`; fractional seconds only when non-zero, with
/// trailing zeros removed (the output form of the metrics contract).
impl fmt::Display for Micros {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, mo, d, h, mi, s, us) = self.to_utc_parts();
        if !(0..=9999).contains(&y) {
            write!(f, "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}")?;
            if us != 0 {
                let frac = format!("{us:06}");
                write!(f, ".{}", frac.trim_end_matches('0'))?;
            }
            return f.write_str("Z");
        }
        f.write_str(self.rfc3339().as_str())
    }
}

/// An instant written as RFC 3339, on the stack: reports write tens of
/// thousands of them, and the formatting machinery cost more than the rest
/// of a row.
pub struct Rfc3339 {
    bytes: [u8; 27],
    len: usize,
}

impl Rfc3339 {
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).expect("ASCII digits and separators")
    }
}

impl Micros {
    /// The instant as [`fmt::Display`] writes it, for years 0 to 9999.
    pub fn rfc3339(self) -> Rfc3339 {
        let (y, mo, d, h, mi, s, us) = self.to_utc_parts();
        let mut bytes = *b"0000-00-00T00:00:00.000000Z";
        let mut put = |at: usize, value: i64, width: usize| {
            let mut v = value;
            for i in (at..at + width).rev() {
                bytes[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, y.clamp(0, 9999), 4);
        put(5, mo, 2);
        put(8, d, 2);
        put(11, h, 2);
        put(14, mi, 2);
        put(17, s, 2);
        let len = if us == 0 {
            bytes[19] = b'Z';
            20
        } else {
            put(20, us, 6);
            let mut end = 26;
            while bytes[end - 1] == b'0' {
                end -= 1;
            }
            bytes[end] = b'Z';
            end + 1
        };
        Rfc3339 { bytes, len }
    }
}

fn digits(b: &[u8], start: usize, len: usize) -> Option<i64> {
    let mut value = 0i64;
    for &c in b.get(start..start + len)? {
        if !c.is_ascii_digit() {
            return None;
        }
        value = value * 10 + i64::from(c - b'0');
    }
    Some(value)
}

pub fn is_leap_year(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

pub fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Option<&str>) {
        let parsed = Micros::parse_rfc3339(input).map(|m| m.to_string());
        assert_eq!(parsed.as_deref(), expected, "parsing {input:?}");
    }

    #[test]
    fn parses_offsets_and_fractions() {
        check("2026-05-04T10:00:00Z", Some("2026-05-04T10:00:00Z"));
        check("2026-05-04T12:00:00+02:00", Some("2026-05-04T10:00:00Z"));
        check("2025-07-31T21:59:46-07:00", Some("2025-08-01T04:59:46Z"));
        check("2026-05-04T10:00:00.000Z", Some("2026-05-04T10:00:00Z"));
        check("2026-05-04T10:00:00.120Z", Some("2026-05-04T10:00:00.12Z"));
        check("2026-05-04t10:00:00z", Some("2026-05-04T10:00:00Z"));
        check("2026-05-04T15:30:00+05:30", Some("2026-05-04T10:00:00Z"));
        check(
            "0001-01-01T00:00:00.000001Z",
            Some("0001-01-01T00:00:00.000001Z"),
        );
        check("9999-12-31T23:59:59.5Z", Some("9999-12-31T23:59:59.5Z"));
    }

    #[test]
    fn truncates_beyond_microseconds() {
        check(
            "2026-05-04T10:00:00.1234569Z",
            Some("2026-05-04T10:00:00.123456Z"),
        );
        check(
            "2026-05-04T10:00:00.9999999-01:00",
            Some("2026-05-04T11:00:00.999999Z"),
        );
    }

    #[test]
    fn rejects_what_rfc3339_does_not_allow() {
        for bad in [
            "2026-02-30T10:00:00Z",
            "2026-05-04T10:00:00",
            "2026-05-04 10:00:00Z",
            "2026-05-04T10:00Z",
            "2026-05-04T24:00:00Z",
            "2026-05-04T10:00:60Z",
            "2026-05-04T10:00:00.Z",
            "2026-05-04T10:00:00+0200",
            "2026-05-04T10:00:00+02:00x",
            "2026-13-01T10:00:00Z",
            "26-05-04T10:00:00Z",
            "",
        ] {
            check(bad, None);
        }
    }

    #[test]
    fn leap_days() {
        check("2024-02-29T00:00:00Z", Some("2024-02-29T00:00:00Z"));
        check("2100-02-29T00:00:00Z", None);
        check("2000-02-29T23:59:59Z", Some("2000-02-29T23:59:59Z"));
    }

    #[test]
    fn civil_round_trip() {
        for days in [-1_000_000, -1, 0, 1, 10_957, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
