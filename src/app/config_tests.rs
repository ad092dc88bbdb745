use super::*;

#[test]
fn env_names_map_to_sections() {
    assert_eq!(env_key_to_path("WEBSOCKET_MAX_CONNECTIONS").as_deref(), Some("websocket.max_connections"));
    assert_eq!(env_key_to_path("JWT_SECRET").as_deref(), Some("jwt.secret"));
    assert_eq!(env_key_to_path("API_KEY").as_deref(), Some("api_key"));
    assert_eq!(env_key_to_path("SERVER_PORT").as_deref(), Some("server.port"));
    assert_eq!(env_key_to_path("PATH"), None);
    assert_eq!(env_key_to_path("SERVER"), None);
}

#[test]
fn defaults_need_nothing() {
    let s = Settings::from_pairs([]).unwrap();
    assert_eq!(s.server.port, 8080);
    assert_eq!(s.server.host, "0.0.0.0");
    assert_eq!(s.websocket.max_connections_per_user, 5);
    assert_eq!(s.jwt_secret(), DEV_JWT_SECRET);
    assert_eq!(s.api_key(), None);
}

#[test]
fn values_are_typed_and_named_in_errors() {
    let s = Settings::from_pairs([("WEBSOCKET_MAX_CONNECTIONS", "42"), ("API_KEY", "12345")]).unwrap();
    assert_eq!(s.websocket.max_connections, 42);
    assert_eq!(s.api_key(), Some("12345"));
    let err = Settings::from_pairs([("SERVER_PORT", "eighty")]).unwrap_err().to_string();
    assert!(err.contains("SERVER_PORT"), "{err}");
    let err = Settings::from_pairs([("WEBSOCKET_MAX_CONNECTIONS", "0")]).unwrap_err().to_string();
    assert!(err.contains("WEBSOCKET_MAX_CONNECTIONS"), "{err}");
    let err = Settings::from_pairs([("RUN_MODE", "staging")]).unwrap_err().to_string();
    assert!(err.contains("RUN_MODE"), "{err}");
}

#[test]
fn production_refuses_weak_setups() {
    let err = Settings::from_pairs([("RUN_MODE", "production")]).unwrap_err().to_string();
    assert!(err.contains("JWT_SECRET"), "{err}");
    let err =
        Settings::from_pairs([("RUN_MODE", "production"), ("JWT_SECRET", DEV_JWT_SECRET)]).unwrap_err().to_string();
    assert!(err.contains("JWT_SECRET"), "{err}");
    let strong = "a-production-secret-of-enough-length-123";
    let err = Settings::from_pairs([("RUN_MODE", "production"), ("JWT_SECRET", strong)]).unwrap_err().to_string();
    assert!(err.contains("API_KEY"), "{err}");
    assert!(Settings::from_pairs([("RUN_MODE", "production"), ("JWT_SECRET", strong), ("API_KEY", "k")]).is_ok());
}

#[test]
fn cors_origins_parse() {
    let s = Settings::from_pairs([("CORS_ORIGINS", "https://a.example, https://b.example")]).unwrap();
    assert_eq!(s.cors.origin_list().unwrap(), vec!["https://a.example", "https://b.example"]);
    assert_eq!(Settings::from_pairs([("CORS_ORIGINS", "*")]).unwrap().cors.origin_list(), None);
}

#[test]
fn toml_file_is_layered_under_env() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ara.toml");
    std::fs::write(&path, "[websocket]\nmax_connections = 77\n[server]\nport = 9999\n").unwrap();
    let figment = Figment::from(Serialized::defaults(Settings::default())).merge(Toml::file(&path));
    let s = Settings::from_figment(figment).unwrap();
    assert_eq!((s.websocket.max_connections, s.server.port), (77, 9999));
}

#[test]
fn store_backends_are_checked() {
    let s = Settings::from_pairs([("QUEUE_BACKEND", "redis"), ("ACK_ENABLED", "false")]).unwrap();
    assert_eq!(s.queue.backend, StoreBackend::Redis);
    assert!(!s.ack.enabled);
    let err = Settings::from_pairs([("QUEUE_BACKEND", "mongo")]).unwrap_err().to_string();
    assert!(err.contains("QUEUE_BACKEND") && err.contains("postgres"), "{err}");
    let err = Settings::from_pairs([("ACK_BACKEND", "postgres")]).unwrap_err().to_string();
    assert!(err.contains("DATABASE_URL"), "{err}");
    let err = Settings::from_pairs([("CORS_ORIGINS", "app.example.com")]).unwrap_err().to_string();
    assert!(err.contains("CORS_ORIGINS"), "{err}");
}

#[test]
fn template_backend_is_checked() {
    assert_eq!(Settings::from_pairs([]).unwrap().template.backend, TemplateBackend::Memory);
    let err = Settings::from_pairs([("TEMPLATE_BACKEND", "postgres")]).unwrap_err().to_string();
    assert!(err.contains("DATABASE_URL") && err.contains("TEMPLATE_BACKEND"), "{err}");
    let s = Settings::from_pairs([("TEMPLATE_BACKEND", "postgres"), ("DATABASE_URL", "postgres://db/ara")]).unwrap();
    assert_eq!(s.template.backend, TemplateBackend::Postgres);
    let err = Settings::from_pairs([("TEMPLATE_BACKEND", "redis")]).unwrap_err().to_string();
    assert!(err.contains("TEMPLATE_BACKEND") && err.contains("memory"), "{err}");
}

#[test]
fn redis_key_prefixes_lose_one_trailing_colon() {
    let defaults = Settings::from_pairs([]).unwrap();
    let prefixes = |s: &Settings| {
        (s.queue.redis_key_prefix.clone(), s.ack.redis_key_prefix.clone(), s.ratelimit.redis_key_prefix.clone())
    };
    assert_eq!(prefixes(&defaults), ("ara:queue".into(), "ara:ack".into(), "ara:ratelimit".into()));
    // As the reference shows them, and without the colon: the same keys.
    let s = Settings::from_pairs([
        ("QUEUE_REDIS_KEY_PREFIX", "ara:queue:"),
        ("ACK_REDIS_KEY_PREFIX", "ara:ack"),
        ("RATELIMIT_REDIS_KEY_PREFIX", "ara:ratelimit:"),
    ])
    .unwrap();
    assert_eq!(prefixes(&s), prefixes(&defaults));
    // Once only, and from the end only.
    let s =
        Settings::from_pairs([("QUEUE_REDIS_KEY_PREFIX", "ara:queue::"), ("ACK_REDIS_KEY_PREFIX", ":a:b")]).unwrap();
    assert_eq!((s.queue.redis_key_prefix.as_str(), s.ack.redis_key_prefix.as_str()), ("ara:queue:", ":a:b"));
    // From a TOML file too.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ara.toml");
    std::fs::write(&path, "[queue]\nredis_key_prefix = \"q:\"\n[ratelimit]\nredis_key_prefix = \"rl:\"\n").unwrap();
    let figment = Figment::from(Serialized::defaults(Settings::default())).merge(Toml::file(&path));
    let s = Settings::from_figment(figment).unwrap();
    assert_eq!((s.queue.redis_key_prefix.as_str(), s.ratelimit.redis_key_prefix.as_str()), ("q", "rl"));
}

/// `ara.example.toml` is the reference of the file format: it must name every setting (commented
/// out when unset by default) and give each its default.
#[test]
fn the_example_file_holds_every_setting_at_its_default() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/ara.example.toml");
    let figment = Figment::from(Serialized::defaults(Settings::default())).merge(Toml::file(path));
    let loaded = serde_json::to_value(Settings::from_figment(figment).unwrap()).unwrap();
    let defaults = serde_json::to_value(Settings::from_pairs([]).unwrap()).unwrap();
    assert_eq!(loaded, defaults, "a value in ara.example.toml is not its default");

    let text = std::fs::read_to_string(path).unwrap();
    let mut named = std::collections::HashSet::new();
    let mut section = String::new();
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = format!("{name}.");
            continue;
        }
        let setting = line.trim_start_matches('#').trim_start();
        if let Some((key, _)) = setting.split_once(" = ") {
            if key.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                named.insert(format!("{section}{key}"));
            }
        }
    }
    let mut missing = Vec::new();
    for (key, value) in defaults.as_object().unwrap() {
        match value.as_object() {
            Some(fields) => missing.extend(fields.keys().map(|f| format!("{key}.{f}"))),
            None => missing.push(key.clone()),
        }
    }
    missing.retain(|setting| !named.contains(setting));
    assert!(missing.is_empty(), "ara.example.toml does not name {missing:?}");
}

#[test]
fn a_misspelt_setting_is_warned_about_with_the_closest_name() {
    let settings = Settings::from_pairs([("WEBSOCKET_MAX_CONECTIONS", "5")]).unwrap();
    assert_eq!(settings.websocket.max_connections, 10_000, "the typo sets nothing");
    assert_eq!(settings.warnings.len(), 1, "{:?}", settings.warnings);
    assert!(settings.warnings[0].contains("did you mean WEBSOCKET_MAX_CONNECTIONS?"), "{:?}", settings.warnings);
}

#[test]
fn unknown_toml_sections_and_keys_are_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ara.toml");
    std::fs::write(&path, "[websockets]\nmax_connections = 5\n\n[queue]\nmax_size_per_usr = 3\n").unwrap();
    let settings = Settings::load(Some(&path)).unwrap();
    let all = settings.warnings.join("\n");
    assert!(all.contains("[websockets]; did you mean [websocket]?"), "{all}");
    assert!(all.contains("[queue] max_size_per_usr; did you mean [queue] max_size_per_user?"), "{all}");
}

#[test]
fn secrets_never_serialize_their_value() {
    let settings = Settings::from_pairs([("JWT_SECRET", "s3cret-value"), ("API_KEY", "k3y")]).unwrap();
    let json = serde_json::to_string(&settings).unwrap();
    assert!(!json.contains("s3cret-value") && !json.contains("k3y"), "{json}");
    assert!(json.contains("***"));
    assert_eq!(settings.jwt_secret(), "s3cret-value", "the value itself is still there to use");
}
