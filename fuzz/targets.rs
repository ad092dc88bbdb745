//! The fuzz targets: each feeds bytes to one of Ara's real parsers and checks what must hold for any
//! input — no panic, and the invariants below. Shared by the cargo-fuzz binaries (`fuzz/fuzz_targets`,
//! the long run) and `tests/fuzz.rs` (the corpus plus bounded mutations, in CI).

use std::sync::OnceLock;

use ara::adapters::auth::{JwtAuth, JwtSettings};
use ara::adapters::ws::ClientFrame;
use ara::domain::ChannelName;
use base64::Engine;
use serde_json::{Map, Value};

/// A target: bytes in, a panic on a broken invariant.
pub type Target = fn(&[u8]);

/// Every target, by the name of its corpus directory (`fuzz/corpus/<name>`).
pub const TARGETS: &[(&str, Target)] = &[
    ("client_frame", client_frame),
    ("pubsub_message", pubsub_message),
    ("template_render", template_render),
    ("token", token),
    ("settings", settings),
];

/// A WebSocket client frame, as `handle_text` reads it; a frame that parses names channels and ids
/// that the domain rules then accept or refuse, without panicking.
pub fn client_frame(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match serde_json::from_str::<ClientFrame>(text) {
        Ok(ClientFrame::Subscribe { channels, .. } | ClientFrame::Unsubscribe { channels }) => {
            for channel in &channels {
                if let Ok(name) = ChannelName::parse(channel) {
                    assert_eq!(name.as_str(), channel, "a valid channel name is kept as given");
                }
            }
        }
        Ok(ClientFrame::Ack { notification_id }) => {
            let _ = uuid::Uuid::parse_str(&notification_id);
        }
        Ok(ClientFrame::Refresh { token }) => {
            let _ = auth().verify(&token);
        }
        Ok(ClientFrame::Ping) | Err(_) => {}
    }
}

/// A message published on the Redis trigger channel.
pub fn pubsub_message(data: &[u8]) {
    if let Ok(message) = ara::adapters::redis::parse_pubsub_message(data) {
        // What parsed is valid by construction: its tenant parses again as itself.
        let again = ara::domain::TenantId::parse(message.tenant.as_str());
        assert!(again.is_ok(), "a parsed tenant id must be valid: {:?}", message.tenant);
    }
}

/// A template payload and its variables: `<template JSON>\n<variables JSON object>`.
pub fn template_render(data: &[u8]) {
    const LIMIT: usize = 4096;
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (template, variables) = text.split_once('\n').unwrap_or((text, "{}"));
    let Ok(template) = serde_json::from_str::<Value>(template) else { return };
    let variables: Map<String, Value> = serde_json::from_str(variables).unwrap_or_default();
    let names = ara::domain::template::placeholders(&template);
    match ara::domain::template::render(&template, &variables, LIMIT) {
        Ok(rendered) => {
            // Every name the template uses was supplied, and the output stayed near the limit.
            for name in &names {
                let root = name.split('.').next().unwrap_or_default();
                assert!(variables.contains_key(root), "rendered without variable {name}");
            }
            let size = serde_json::to_vec(&rendered).map_or(0, |v| v.len());
            // The limit counts a lower bound of the serialized size: escapes may take up to six bytes each.
            assert!(size <= LIMIT * 6 + 64, "rendered {size} bytes past a {LIMIT}-byte limit");
        }
        Err(ara::domain::template::RenderError::MissingVariables(missing)) => {
            assert!(!missing.is_empty());
            for name in &missing {
                assert!(names.contains(name), "reported missing {name}, which the template does not use");
            }
        }
        Err(ara::domain::template::RenderError::Invalid(_)) => {}
    }
}

const SECRET: &str = "fuzz-secret-that-is-at-least-32-bytes";

fn auth() -> &'static JwtAuth {
    static AUTH: OnceLock<JwtAuth> = OnceLock::new();
    AUTH.get_or_init(|| JwtAuth::new(JwtSettings { secret: SECRET.into(), issuer: None, audience: Some("ara".into()) }))
}

/// A token's header and claims: `<header JSON>\n<claims JSON>`, signed with the server's secret so that
/// verification gets past the signature into header and claims parsing. Without a newline the bytes
/// are verified as a raw token string.
pub fn token(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Some((header, claims)) = text.split_once('\n') else {
        let _ = auth().verify(text);
        return;
    };
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let message = format!("{}.{}", b64.encode(header), b64.encode(claims));
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes());
    let Ok(signature) = jsonwebtoken::crypto::sign(message.as_bytes(), &key, jsonwebtoken::Algorithm::HS256) else {
        return;
    };
    if let Ok(identity) = auth().verify(&format!("{message}.{signature}")) {
        // Only HS256, and only a valid subject and tenant, get through.
        let header: Value = serde_json::from_str(header).unwrap_or_default();
        assert_eq!(header["alg"], "HS256", "accepted a token whose header says {header}");
        assert!(ara::domain::UserId::parse(identity.user.as_str()).is_ok());
    }
}

/// Setting names, from ara.example.toml: `[section] name` is `SECTION_NAME`.
fn setting_names() -> &'static [String] {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut section = String::new();
        let mut names = Vec::new();
        for line in include_str!("../ara.example.toml").lines() {
            let line = line.trim_start_matches(['#', ' ']);
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = format!("{}_", name.to_ascii_uppercase());
            } else if let Some((key, _)) = line.split_once(" = ") {
                if !key.is_empty() && key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                    names.push(format!("{section}{}", key.to_ascii_uppercase()));
                }
            }
        }
        names
    })
}

/// Settings from environment pairs, one per line: the first byte picks a known setting (or, past the
/// list, uses the rest of the line as a raw `KEY=value`), the rest of the line is its value.
pub fn settings(data: &[u8]) {
    let names = setting_names();
    let mut owned = Vec::new();
    for line in data.split(|b| *b == b'\n') {
        let Some((&pick, value)) = line.split_first() else { continue };
        let value = String::from_utf8_lossy(value).into_owned();
        match names.get(usize::from(pick)) {
            Some(name) => owned.push((name.clone(), value)),
            None => {
                let (key, value) = value.split_once('=').unwrap_or((&value, ""));
                owned.push((key.to_owned(), value.to_owned()));
            }
        }
    }
    let pairs = owned.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    if let Ok(settings) = ara::app::Settings::from_pairs(pairs) {
        // Accepted settings describe themselves without panicking (the start-up log line).
        let _ = format!("{settings:?}");
    }
}
