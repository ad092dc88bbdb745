//! What `ara config` shows: every setting's effective value and where it came from (built-in
//! default, the TOML file, the environment or `.env`), with secrets masked. Also the list of every
//! setting's environment name, read off the settings type, which the deployment files are checked
//! against.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use figment::{Figment, Source as FigmentSource};
use serde_json::Value;

use super::config::{ConfigError, Settings};

/// What a masked secret shows instead of its value.
pub const MASK: &str = "***";

/// Where an effective value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    File(PathBuf),
    Env,
    /// An environment variable that `.env` set.
    DotEnv,
}

impl Source {
    pub fn label(&self) -> String {
        match self {
            Source::Default => "default".into(),
            Source::File(path) => format!("file {}", path.display()),
            Source::Env => "env".into(),
            Source::DotEnv => ".env".into(),
        }
    }
}

/// One setting as `ara config` shows it.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The environment name, e.g. `WEBSOCKET_MAX_CONNECTIONS`.
    pub setting: String,
    /// The TOML key, e.g. `websocket.max_connections`.
    pub toml_key: String,
    /// The effective value, masked where it is secret; `Null` when unset.
    pub value: Value,
    pub source: Source,
}

/// Why the report could not be made: the configuration does not load, and who set the bad value.
#[derive(Debug)]
pub struct ReportError {
    pub error: ConfigError,
    pub source: Option<Source>,
}

/// The `(TOML key, environment name)` of every setting, in the order of the settings type.
pub fn known_settings() -> Vec<(String, String)> {
    let defaults = serde_json::to_value(Settings::default()).unwrap_or(Value::Null);
    flatten(&defaults)
        .into_iter()
        .map(|(path, _)| {
            let env = env_name(&path);
            (path, env)
        })
        .collect()
}

/// Every setting's environment name (`SERVER_PORT`, `JWT_SECRET`, …).
pub fn known_env_keys() -> Vec<String> {
    known_settings().into_iter().map(|(_, env)| env).collect()
}

/// Loads the configuration as `ara serve` would and reports every setting.
pub fn report(file: Option<&Path>) -> Result<Vec<Entry>, ReportError> {
    let before: HashSet<String> = std::env::vars_os().filter_map(|(k, _)| k.into_string().ok()).collect();
    let figment = Settings::layered(file).map_err(|error| ReportError { error, source: None })?;
    let source_of = |toml_key: &str, setting: &str| source(&figment, &before, toml_key, setting);
    let settings = Settings::from_figment(figment.clone()).map_err(|error| {
        let source = match &error {
            ConfigError::Invalid { setting, .. } => {
                known_settings().into_iter().find(|(_, env)| env == setting).map(|(path, env)| source_of(&path, &env))
            }
            ConfigError::File { .. } => None,
        };
        ReportError { error, source }
    })?;
    let secrets = secret_paths(&settings);
    let values = serde_json::to_value(&settings).unwrap_or(Value::Null);
    Ok(flatten(&values)
        .into_iter()
        .map(|(path, value)| {
            let setting = env_name(&path);
            let value = match value {
                // Secrets serialize as `***`; the layered sources still hold what was set, which
                // `mask_secret` shows without its password.
                Value::String(s) if secrets.contains(&path) => {
                    let set = figment.find_value(&path).ok().and_then(|v| v.into_string()).unwrap_or(s);
                    Value::String(mask_secret(&set))
                }
                Value::String(s) => Value::String(mask_url_password(&s)),
                other => other,
            };
            Entry { source: source_of(&path, &setting), setting, toml_key: path, value }
        })
        .collect())
}

fn source(figment: &Figment, env_before: &HashSet<String>, toml_key: &str, setting: &str) -> Source {
    let from_file = figment.find_metadata(toml_key).and_then(|m| match &m.source {
        Some(FigmentSource::File(path)) => Some(path.clone()),
        _ => None,
    });
    if let Some(path) = from_file {
        return Source::File(path);
    }
    // The environment is matched without regard to case, as `Settings::load` does.
    let mut names = std::env::vars_os().filter_map(|(k, _)| k.into_string().ok());
    match names.find(|name| name.eq_ignore_ascii_case(setting)) {
        Some(name) if env_before.contains(&name) => Source::Env,
        Some(_) => Source::DotEnv,
        None => Source::Default,
    }
}

/// `websocket.max_connections` → `WEBSOCKET_MAX_CONNECTIONS`.
pub(crate) fn env_name(path: &str) -> String {
    path.replace('.', "_").to_ascii_uppercase()
}

/// Leaves of a settings object as `(dotted path, value)`; sections are objects, settings are not.
pub(crate) fn flatten(value: &Value) -> Vec<(String, Value)> {
    fn walk(prefix: &str, value: &Value, out: &mut Vec<(String, Value)>) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                    walk(&path, inner, out);
                }
            }
            leaf => out.push((prefix.to_owned(), leaf.clone())),
        }
    }
    let mut out = Vec::new();
    walk("", value, &mut out);
    out
}

/// The paths of the settings that hold a [`super::config::Secret`]. They are found in the settings'
/// `Debug` output, where a secret prints as `Secret(***)`: a secret added to the settings type later
/// is masked here without anyone having to remember this list.
fn secret_paths(settings: &Settings) -> HashSet<String> {
    let debug = format!("{settings:#?}");
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut secrets = HashSet::new();
    for line in debug.lines() {
        let indent = line.len() - line.trim_start().len();
        let text = line.trim();
        stack.retain(|(level, _)| *level < indent);
        if let Some((name, _)) =
            text.split_once(": ").filter(|(n, _)| n.chars().all(|c| c.is_alphanumeric() || c == '_'))
        {
            stack.push((indent, name.to_owned()));
        }
        if text == "Secret(***)," || text == "Secret(***)" || text.ends_with(": Secret(***),") {
            secrets.insert(stack.iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>().join("."));
        }
    }
    secrets
}

/// A secret shows as `***`; a secret URL keeps its scheme, host, port, path and harmless query
/// parameters (`sslmode=`), which is what one checks a deployment by.
fn mask_secret(value: &str) -> String {
    if value.is_empty() {
        return String::new();
    }
    match url::Url::parse(value) {
        Ok(url) if url.has_host() => mask_url(url),
        _ => MASK.into(),
    }
}

/// Any value that is a URL with a password loses the password.
fn mask_url_password(value: &str) -> String {
    match url::Url::parse(value) {
        Ok(url) if url.password().is_some() || url.query().is_some() => mask_url(url),
        _ => value.to_owned(),
    }
}

fn mask_url(mut url: url::Url) -> String {
    if url.password().is_some() {
        let _ = url.set_password(Some(MASK));
    }
    let secret_param = |key: &str| {
        let key = key.to_ascii_lowercase();
        ["pass", "secret", "token", "auth", "apikey", "api_key"].iter().any(|word| key.contains(word))
    };
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if secret_param(&k) { MASK.to_owned() } else { v.into_owned() };
            (k.into_owned(), v)
        })
        .collect();
    if !pairs.is_empty() {
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    // `***` is percent-encoded in a URL; shown plainly, it reads as the mask it is.
    url.to_string().replace("%2A%2A%2A", MASK)
}

/// The report as `KEY=value  # source` lines, aligned, sections in the settings' order.
pub fn render_text(entries: &[Entry], file: Option<&Path>) -> String {
    let mut out = String::from("# Effective Ara settings; secrets are masked (***).\n");
    match file {
        Some(path) => out.push_str(&format!("# TOML file: {}\n", path.display())),
        None => out.push_str("# No TOML file (--config / ARA_CONFIG).\n"),
    }
    let lines: Vec<(String, String)> = entries
        .iter()
        .map(|e| {
            let value = match &e.value {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let unset = if e.value.is_null() { " (unset)" } else { "" };
            (format!("{}={value}", e.setting), format!("# {}{unset}", e.source.label()))
        })
        .collect();
    let width = lines.iter().map(|(l, _)| l.len()).max().unwrap_or(0).min(72);
    for (line, comment) in lines {
        out.push_str(&format!("{line:<width$}  {comment}\n"));
    }
    out
}

/// The report as a JSON array of `{setting, toml_key, value, source[, file]}`.
pub fn render_json(entries: &[Entry]) -> String {
    let list: Vec<Value> = entries
        .iter()
        .map(|e| {
            let mut item = BTreeMap::new();
            item.insert("setting", Value::String(e.setting.clone()));
            item.insert("toml_key", Value::String(e.toml_key.clone()));
            item.insert("value", e.value.clone());
            let (source, file) = match &e.source {
                Source::Default => ("default", None),
                Source::File(path) => ("file", Some(path.display().to_string())),
                Source::Env => ("env", None),
                Source::DotEnv => (".env", None),
            };
            item.insert("source", Value::String(source.into()));
            if let Some(file) = file {
                item.insert("file", Value::String(file));
            }
            serde_json::to_value(item).unwrap_or(Value::Null)
        })
        .collect();
    serde_json::to_string_pretty(&list).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_settings_cover_every_section_and_map_back_to_themselves() {
        let keys = known_env_keys();
        for key in ["RUN_MODE", "API_KEY", "SERVER_PORT", "JWT_SECRET", "DATABASE_URL", "REDIS_TLS_CA_CERT"] {
            assert!(keys.contains(&key.to_owned()), "{key} missing from {keys:?}");
        }
        // Every name is one that the environment mapping reads: another value set under it either
        // changes the setting or is refused naming it.
        let defaults = flatten(&serde_json::to_value(Settings::default()).unwrap());
        for (path, default) in defaults {
            let env = env_name(&path);
            let other = match &default {
                Value::Bool(b) => (!b).to_string(),
                Value::Number(n) => (n.as_f64().unwrap_or(0.0) as u64 + 1).to_string(),
                _ => "x-other".to_owned(),
            };
            match Settings::from_pairs([(env.as_str(), other.as_str())]) {
                Ok(s) => {
                    let now = flatten(&serde_json::to_value(&s).unwrap());
                    let value = now.iter().find(|(p, _)| *p == path).map(|(_, v)| v.clone());
                    assert_ne!(value, Some(default.clone()), "{env}={other} did not change {path}");
                }
                Err(ConfigError::Invalid { setting, .. }) => assert_eq!(setting, env, "{env}={other}"),
                Err(e) => panic!("{env}: {e}"),
            }
        }
    }

    #[test]
    fn secrets_are_found_from_the_settings_type() {
        let settings = Settings::from_pairs([
            ("JWT_SECRET", "a-secret-that-is-long-enough-for-anyone"),
            ("API_KEY", "k"),
            ("DATABASE_URL", "postgres://u:p@db/ara"),
            ("REDIS_URL", "redis://:p@cache:6379"),
        ])
        .unwrap();
        let found = secret_paths(&settings);
        for path in ["jwt.secret", "api_key", "database.url", "redis.url"] {
            assert!(found.contains(path), "{path} not found in {found:?}");
        }
        assert_eq!(found.len(), 4, "{found:?}");
    }

    #[test]
    fn masking_keeps_what_identifies_a_server() {
        assert_eq!(mask_secret("s3cret"), MASK);
        assert_eq!(
            mask_secret("postgres://ara:pw@db:5432/ara?sslmode=verify-full&password=x"),
            "postgres://ara:***@db:5432/ara?sslmode=verify-full&password=***"
        );
        assert_eq!(mask_secret("rediss://:pw@cache:6380/0"), "rediss://:***@cache:6380/0");
        assert_eq!(mask_secret("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(mask_url_password("http://user:pw@collector:4317"), "http://user:***@collector:4317/");
        assert_eq!(mask_url_password("plain text"), "plain text");
    }
}
