//! Integer fields that take any JSON number with an integral value: JSON has one number type, and to
//! JSON Schema (so to the OpenAPI spec, which says `integer`) `500.0` is the integer 500. A fraction,
//! a negative number or one out of range is refused as serde would.

use serde::de::{Deserializer, Error, Unexpected};
use serde::Deserialize;

/// For `Option<u32>` fields (with `#[serde(default)]`): `null` or absent is `None`.
pub fn option_u32<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else { return Ok(None) };
    if let Some(n) = number.as_u64() {
        return u32::try_from(n).map(Some).map_err(|_| Error::invalid_value(Unexpected::Unsigned(n), &"a u32"));
    }
    if let Some(n) = number.as_i64() {
        return Err(Error::invalid_value(Unexpected::Signed(n), &"a u32"));
    }
    match number.as_f64() {
        Some(f) if f.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&f) => Ok(Some(f as u32)),
        Some(f) => Err(Error::invalid_value(Unexpected::Float(f), &"a u32")),
        None => Err(Error::custom("not a number")),
    }
}

#[cfg(test)]
mod tests {
    #[derive(Debug, serde::Deserialize)]
    struct Body {
        #[serde(default, deserialize_with = "super::option_u32")]
        ttl: Option<u32>,
    }

    fn ttl(json: &str) -> Result<Option<u32>, String> {
        serde_json::from_str::<Body>(json).map(|b| b.ttl).map_err(|e| e.to_string())
    }

    #[test]
    fn integral_numbers_are_integers() {
        assert_eq!(ttl(r#"{"ttl":500}"#), Ok(Some(500)));
        assert_eq!(ttl(r#"{"ttl":500.0}"#), Ok(Some(500)));
        assert_eq!(ttl(r#"{"ttl":5e2}"#), Ok(Some(500)));
        assert_eq!(ttl(r#"{"ttl":null}"#), Ok(None));
        assert_eq!(ttl("{}"), Ok(None));
        assert_eq!(ttl(r#"{"ttl":4294967295}"#), Ok(Some(u32::MAX)));
    }

    #[test]
    fn fractions_negatives_and_overflows_are_refused() {
        for bad in [
            r#"{"ttl":500.5}"#,
            r#"{"ttl":-1}"#,
            r#"{"ttl":-1.0}"#,
            r#"{"ttl":4294967296}"#,
            r#"{"ttl":1e300}"#,
            r#"{"ttl":"5"}"#,
        ] {
            assert!(ttl(bad).is_err(), "{bad} was accepted");
        }
    }
}
