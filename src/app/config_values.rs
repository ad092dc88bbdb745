//! How setting values are read: secrets that never show, and text that stays text.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// A string that never shows in logs, debug output or anything serialized (`***`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("***")
    }
}

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        string_like(d).map(Secret)
    }
}

/// Environment values that look like numbers (`API_KEY=12345`) still mean text.
#[derive(Deserialize)]
#[serde(untagged)]
enum StringLike {
    S(String),
    I(i64),
    U(u64),
    F(f64),
    B(bool),
}

impl From<StringLike> for String {
    fn from(raw: StringLike) -> String {
        match raw {
            StringLike::S(s) => s,
            StringLike::I(i) => i.to_string(),
            StringLike::U(u) => u.to_string(),
            StringLike::F(f) => f.to_string(),
            StringLike::B(b) => b.to_string(),
        }
    }
}

pub(super) fn string_like<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    StringLike::deserialize(d).map(String::from)
}

/// A `*_REDIS_KEY_PREFIX`. Keys are formed as `<prefix>:<rest>`, so one trailing `:` (as in
/// `ara:queue:`) is dropped here, once for every store, instead of doubling into `ara:queue::oq:…`.
/// Only one: `ara:queue::` keeps the double colon of keys written before this rule.
pub(super) fn key_prefix<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let raw = string_like(d)?;
    Ok(raw.strip_suffix(':').map_or_else(|| raw.clone(), str::to_owned))
}

pub(super) fn opt_string_like<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<StringLike>::deserialize(d)?.map(String::from).filter(|s| !s.is_empty()))
}
