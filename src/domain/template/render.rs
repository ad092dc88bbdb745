//! The substitution engine: fills `{{variable}}` placeholders in a payload template.
//!
//! Rules:
//! - Placeholders live in JSON strings at any depth of objects and arrays; object keys are left alone.
//! - A name is a dotted path of segments of `A-Z a-z 0-9 _ -`: `{{user.name}}` walks into objects and
//!   `{{items.0}}` into arrays. Whitespace inside the braces is ignored (`{{ name }}`).
//! - A string that is exactly one placeholder takes the variable's JSON value (`"{{count}}"` → `3`);
//!   inside a longer string a string variable is inserted as is and any other value as its JSON text.
//! - Braces that do not enclose a valid name (`{{}}`, `{{a b}}`, an unterminated `{{`) are literal text.
//! - Not re-entrant: inserted values are never scanned again, so a variable holding `{{x}}` stays
//!   `{{x}}` and a caller cannot reach variables the template does not name.
//! - Every missing variable is reported at once, each name once, in the order the template (as stored,
//!   object keys sorted) first uses it.
//! - Rendering stops once the output grows past the payload limit, so that a small template with large
//!   variables cannot make the server build a huge value before the size check refuses it.

use std::collections::HashSet;
use std::io;

use serde_json::{Map, Value};

use crate::domain::ValidationError;

/// Why a template could not be turned into a notification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("missing template variables: {}", .0.join(", "))]
    MissingVariables(Vec<String>),
    /// The rendered notification breaks a rule (size, ttl, ...).
    #[error("{0}")]
    Invalid(ValidationError),
}

/// Renders `template` with `variables`. Fails with every missing name, or when the output exceeds
/// `max_bytes` (counted as a lower bound of its serialized size, so nothing a draft accepts is refused).
pub fn render(template: &Value, variables: &Map<String, Value>, max_bytes: usize) -> Result<Value, RenderError> {
    let mut renderer = Renderer { variables, missing: Vec::new(), seen: HashSet::new(), left: max_bytes };
    let rendered = renderer
        .value(template)
        .map_err(|Overflow| RenderError::Invalid(ValidationError::RenderedPayloadTooLarge { max: max_bytes }))?;
    if renderer.missing.is_empty() {
        Ok(rendered)
    } else {
        Err(RenderError::MissingVariables(renderer.missing))
    }
}

/// The variable names `template` uses, each once, in reading order: objects by sorted key (how
/// `serde_json` keeps them), arrays in order, each string left to right.
pub fn placeholders(template: &Value) -> Vec<String> {
    fn walk(v: &Value, seen: &mut HashSet<String>, out: &mut Vec<String>) {
        match v {
            Value::String(s) => {
                for piece in pieces(s) {
                    if let Piece::Var(name) = piece {
                        if seen.insert(name.to_owned()) {
                            out.push(name.to_owned());
                        }
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, seen, out)),
            Value::Object(map) => map.values().for_each(|i| walk(i, seen, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(template, &mut HashSet::new(), &mut out);
    out
}

/// A piece of a template string: literal text, or a placeholder's (trimmed) name.
#[derive(Debug, PartialEq)]
enum Piece<'a> {
    Text(&'a str),
    Var(&'a str),
}

fn pieces(s: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let (mut literal_from, mut search_from) = (0, 0);
    while let Some(offset) = s[search_from..].find("{{") {
        let open = search_from + offset;
        let Some(len) = s[open + 2..].find("}}") else { break };
        let close = open + 2 + len;
        let name = s[open + 2..close].trim();
        if is_name(name) {
            if open > literal_from {
                out.push(Piece::Text(&s[literal_from..open]));
            }
            out.push(Piece::Var(name));
            search_from = close + 2;
            literal_from = search_from;
        } else {
            // Keep the first brace as text and look again from the second: `{{{x}}}` renders `{X}`.
            search_from = open + 1;
        }
    }
    if literal_from < s.len() {
        out.push(Piece::Text(&s[literal_from..]));
    }
    out
}

fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .split('.')
            .all(|seg| !seg.is_empty() && seg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
}

fn lookup<'v>(variables: &'v Map<String, Value>, name: &str) -> Option<&'v Value> {
    let mut segments = name.split('.');
    let mut current = variables.get(segments.next()?)?;
    for segment in segments {
        current = match current {
            Value::Object(map) => map.get(segment)?,
            Value::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}

/// The output outgrew the budget.
struct Overflow;

struct Renderer<'v> {
    variables: &'v Map<String, Value>,
    missing: Vec<String>,
    seen: HashSet<String>,
    /// Output bytes still allowed.
    left: usize,
}

impl Renderer<'_> {
    fn spend(&mut self, bytes: usize) -> Result<(), Overflow> {
        self.left = self.left.checked_sub(bytes).ok_or(Overflow)?;
        Ok(())
    }

    fn miss(&mut self, name: &str) {
        if self.seen.insert(name.to_owned()) {
            self.missing.push(name.to_owned());
        }
    }

    fn value(&mut self, v: &Value) -> Result<Value, Overflow> {
        match v {
            Value::String(s) => self.string(s),
            Value::Array(items) => items.iter().map(|i| self.value(i)).collect::<Result<_, _>>().map(Value::Array),
            Value::Object(map) => {
                let mut out = Map::new();
                for (key, item) in map {
                    self.spend(key.len())?;
                    out.insert(key.clone(), self.value(item)?);
                }
                Ok(Value::Object(out))
            }
            scalar => {
                self.spend(json_len(scalar))?;
                Ok(scalar.clone())
            }
        }
    }

    fn string(&mut self, s: &str) -> Result<Value, Overflow> {
        let pieces = pieces(s);
        if let [Piece::Var(name)] = pieces.as_slice() {
            return match lookup(self.variables, name) {
                Some(value) => {
                    self.spend(json_len(value))?;
                    Ok(value.clone())
                }
                None => {
                    self.miss(name);
                    Ok(Value::Null)
                }
            };
        }
        let mut out = String::new();
        for piece in pieces {
            match piece {
                Piece::Text(text) => {
                    self.spend(text.len())?;
                    out.push_str(text);
                }
                Piece::Var(name) => match lookup(self.variables, name) {
                    Some(Value::String(text)) => {
                        self.spend(text.len())?;
                        out.push_str(text);
                    }
                    Some(other) => {
                        self.spend(json_len(other))?;
                        out.push_str(&other.to_string());
                    }
                    None => self.miss(name),
                },
            }
        }
        Ok(Value::String(out))
    }
}

/// The serialized size of `v`, without building the text.
fn json_len(v: &Value) -> usize {
    struct Count(usize);
    impl io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing a `Value` into a sink that never fails cannot fail; if it did, count it as unbounded.
    match serde_json::to_writer(&mut count, v) {
        Ok(()) => count.0,
        Err(_) => usize::MAX,
    }
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
