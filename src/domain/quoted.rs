//! How a value a user gave appears inside a message: in double quotes, escaped like a JSON string,
//! so the message stays on one line and shows exactly where the value starts and ends. Rust's
//! `{:?}` would do much the same for a `&str`, but prints newtypes as `TemplateId("x")` and escapes
//! in Rust's own notation; every user-facing message uses this instead.

use std::fmt;

/// `Quoted("a\"b")` displays as `"a\"b"`.
pub struct Quoted<'a>(pub &'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write;
        f.write_char('"')?;
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                c if c.is_control() => write!(f, "\\u{:04x}", u32::from(c))?,
                c => f.write_char(c)?,
            }
        }
        f.write_char('"')
    }
}

#[cfg(test)]
mod tests {
    use super::Quoted;

    #[test]
    fn quotes_and_escapes_like_json() {
        assert_eq!(Quoted("nope").to_string(), r#""nope""#);
        assert_eq!(Quoted("a\"b\\c\nd\u{1b}é").to_string(), r#""a\"b\\c\nd\u001bé""#);
        let json: String = serde_json::from_str(&Quoted("x\u{7}\t\"y").to_string()).unwrap();
        assert_eq!(json, "x\u{7}\t\"y");
    }
}
