//! Which settings exist, and what a misspelt one was probably meant to be. Unknown names are warned
//! about, not refused: environment variables of other programs share Ara's prefixes (`SERVER_*`,
//! `REDIS_*`), and a warning naming the closest setting is what catches `WEBSOCKET_MAX_CONECTIONS`.

use std::collections::{BTreeMap, BTreeSet};

use figment::value::{Dict, Value};

use super::{Settings, SECTIONS, TOP_LEVEL};

/// Every setting, as `section → fields` (`""` for the top-level ones), read off the settings type.
pub fn known() -> BTreeMap<String, BTreeSet<String>> {
    let mut known: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let Ok(serde_json::Value::Object(top)) = serde_json::to_value(Settings::default()) else { return known };
    for (key, value) in top {
        match value {
            serde_json::Value::Object(fields) if SECTIONS.contains(&key.as_str()) => {
                known.entry(key).or_default().extend(fields.keys().cloned());
            }
            _ => {
                known.entry(String::new()).or_default().insert(key);
            }
        }
    }
    known
}

/// Every setting's environment name (`WEBSOCKET_MAX_CONNECTIONS`), sorted.
pub fn env_names() -> Vec<String> {
    let mut names = crate::app::config_report::known_env_keys();
    names.sort();
    names
}

/// The closest of `candidates` to `word`, if close enough to be a slip of the keyboard.
fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.len() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(word, c), c))
        .filter(|(distance, _)| *distance <= limit)
        .min()
        .map(|(_, c)| c)
}

fn suggestion(name: &str, closest: Option<String>) -> String {
    match closest {
        Some(close) => format!("unknown setting {name}; did you mean {close}?"),
        None => format!("unknown setting {name}; it is ignored"),
    }
}

/// Warnings for environment variables that carry a section prefix but name no setting.
pub fn check_env<'a>(keys: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let known = known();
    let names = env_names();
    let mut warnings = Vec::new();
    for key in keys {
        let lower = key.to_ascii_lowercase();
        let Some(section) = SECTIONS.iter().find(|s| lower.strip_prefix(*s).is_some_and(|r| r.starts_with('_'))) else {
            continue;
        };
        if super::tenant::override_path(&lower).is_some() {
            continue;
        }
        let field = &lower[section.len() + 1..];
        if known.get(*section).is_some_and(|fields| fields.contains(field)) {
            continue;
        }
        let close = closest(key, names.iter().map(String::as_str)).map(str::to_owned);
        warnings.push(suggestion(key, close));
    }
    warnings
}

/// Warnings for a TOML file's unknown sections and keys.
pub fn check_toml(file: &Dict) -> Vec<String> {
    let known = known();
    let top = known.get("").cloned().unwrap_or_default();
    let mut warnings = Vec::new();
    for (key, value) in file {
        match (value, known.get(key.as_str())) {
            (Value::Dict(_, fields), Some(allowed)) => {
                for field in fields.keys().filter(|f| !allowed.contains(*f)) {
                    let close = closest(field, allowed.iter().map(String::as_str)).map(|c| format!("[{key}] {c}"));
                    warnings.push(suggestion(&format!("[{key}] {field}"), close));
                }
            }
            (Value::Dict(..), None) => {
                let close = closest(key, SECTIONS.iter().copied()).map(|c| format!("[{c}]"));
                warnings.push(suggestion(&format!("[{key}]"), close));
            }
            _ if top.contains(key.as_str()) || TOP_LEVEL.contains(&key.as_str()) => {}
            _ => {
                let close = closest(key, TOP_LEVEL.iter().copied()).map(str::to_owned);
                warnings.push(suggestion(key, close));
            }
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misspelt_variable_is_named_with_the_closest_setting() {
        let warnings = check_env(["WEBSOCKET_MAX_CONECTIONS", "WEBSOCKET_MAX_CONNECTIONS", "PATH", "SERVER_SOFTWARE"]);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("did you mean WEBSOCKET_MAX_CONNECTIONS?"), "{warnings:?}");
        assert!(warnings[1].contains("SERVER_SOFTWARE") && warnings[1].contains("ignored"), "{warnings:?}");
    }

    #[test]
    fn every_section_and_field_is_known() {
        let names = env_names();
        for expected in ["API_KEY", "WEBSOCKET_MAX_CONNECTIONS", "DATABASE_TIMEOUT_MS", "OTEL_ENABLED", "RUN_MODE"] {
            assert!(names.iter().any(|n| n == expected), "{expected} missing from {names:?}");
        }
    }
}
