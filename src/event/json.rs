//! A strict JSON tree for one event.
//!
//! `serde_json::Value` keeps the last of two repeated keys without a word;
//! the contract rejects such an event (`invalid_json`). This tree fails on a
//! repeated key at any depth, borrows strings from the input where it can,
//! and keeps integers apart from other numbers so that `2.5` or `1e3` is
//! never taken for a count.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

#[derive(Debug, PartialEq)]
pub enum Json<'a> {
    Null,
    Bool(bool),
    /// A number written as an integer that fits in 64 bits.
    Int(i128),
    /// Any other number (fraction, exponent or out of range).
    Float,
    Str(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    Object(Vec<(Cow<'a, str>, Json<'a>)>),
}

impl<'a> Json<'a> {
    /// Parses one JSON value. A repeated key anywhere is an error of
    /// category `Data`; broken syntax is `Syntax` or `Eof`.
    pub fn parse(bytes: &'a [u8]) -> Result<Json<'a>, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// The member `key` of an object; `null` counts as absent.
    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        match self {
            Json::Object(members) => members
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v)
                .filter(|v| !matches!(v, Json::Null)),
            _ => None,
        }
    }

    /// What kind of JSON value this is, for error messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Int(_) | Json::Float => "a number",
            Json::Str(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Json<'de>, E> {
        Ok(Json::Int(i128::from(v)))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json<'de>, E> {
        Ok(Json::Int(i128::from(v)))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Json<'de>, E> {
        Ok(Json::Float)
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Owned(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let mut members: Vec<(Cow<'de, str>, Json<'de>)> = Vec::new();
        // Small objects (every event) are checked by a scan; past that, a
        // set keeps the check linear however many keys an object has.
        let mut seen: Option<std::collections::HashSet<Cow<'de, str>>> = None;
        // Keys come through `Json` itself because `Cow<str>` would always
        // allocate; JSON keys are always strings.
        while let Some(key) = map.next_key::<Json<'de>>()? {
            let Json::Str(key) = key else {
                return Err(de::Error::custom("object keys must be strings"));
            };
            if members.len() >= MAX_OBJECT_KEYS {
                return Err(de::Error::custom(format_args!(
                    "an object has more than {MAX_OBJECT_KEYS} keys"
                )));
            }
            let repeated = match &mut seen {
                Some(set) => !set.insert(key.clone()),
                None => members.iter().any(|(k, _)| *k == key),
            };
            if repeated {
                return Err(de::Error::custom(format_args!(
                    "the key `{key}` is repeated"
                )));
            }
            let value = map.next_value()?;
            members.push((key, value));
            if seen.is_none() && members.len() == SCAN_KEYS {
                seen = Some(members.iter().map(|(k, _)| k.clone()).collect());
            }
        }
        Ok(Json::Object(members))
    }
}

/// The most keys one object may have: an event has a dozen fields, and
/// `counts` entries have two.
pub const MAX_OBJECT_KEYS: usize = 1_000;
/// Objects up to this many keys check repeats by a scan.
const SCAN_KEYS: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_are_data_errors_at_any_depth() {
        for input in [r#"{"a":1,"a":2}"#, r#"{"c":[{"x":1,"x":1}]}"#] {
            let err = Json::parse(input.as_bytes()).unwrap_err();
            assert_eq!(err.classify(), serde_json::error::Category::Data, "{input}");
        }
    }

    #[test]
    fn numbers_keep_integer_apart() {
        let tree = Json::parse(br#"[1, -3, 2.5, 1e3, 5.0, 99999999999999999999]"#).unwrap();
        assert_eq!(
            tree,
            Json::Array(vec![
                Json::Int(1),
                Json::Int(-3),
                Json::Float,
                Json::Float,
                Json::Float,
                Json::Float
            ])
        );
    }

    #[test]
    fn null_members_count_as_absent() {
        let tree = Json::parse(br#"{"user":null,"page":"/"}"#).unwrap();
        assert_eq!(tree.get("user"), None);
        assert_eq!(tree.get("page"), Some(&Json::Str("/".into())));
    }

    #[test]
    fn syntax_errors_are_not_data_errors() {
        for input in ["{\"a\":", "NaN", "{\"a\":1} x"] {
            let err = Json::parse(input.as_bytes()).unwrap_err();
            assert_ne!(err.classify(), serde_json::error::Category::Data, "{input}");
        }
    }

    #[test]
    fn many_keys_are_checked_in_linear_time_and_bounded() {
        let object = |n: usize, last: &str| {
            let mut s = String::from("{");
            for i in 0..n {
                s.push_str(&format!("\"k{i}\":0,"));
            }
            s.push_str(&format!("\"{last}\":1}}"));
            s
        };
        let err = Json::parse(object(900, "k899").as_bytes()).unwrap_err();
        assert!(format!("{err}").contains("`k899` is repeated"), "{err}");
        assert!(Json::parse(object(998, "last").as_bytes()).is_ok());
        let err = Json::parse(object(MAX_OBJECT_KEYS, "last").as_bytes()).unwrap_err();
        assert!(format!("{err}").contains("more than 1000 keys"), "{err}");
        // 100,000 distinct keys end quickly at the bound, not after a
        // quadratic scan.
        let err = Json::parse(object(100_000, "last").as_bytes()).unwrap_err();
        assert!(format!("{err}").contains("more than 1000 keys"), "{err}");
    }
}
