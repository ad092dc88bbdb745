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
