//! TLS to the stores, as a managed Postgres or Redis asks for it: a private Postgres and Redis that
//! accept TLS only, with certificates from a CA the test makes. Ara must connect with the CA it is
//! given (`sslrootcert=` in `DATABASE_URL`, `REDIS_TLS_CA_CERT`), refuse a server its CA did not
//! sign, and present a client certificate when Redis asks for one.

use std::time::Duration;

use ara::app::{Application, Settings};
use serde_json::json;

use crate::helpers::{spawn_app, TestApp, RECV_TIMEOUT};
use crate::pubsub::app_with_pubsub;
use crate::tls_support::{path_str, Pki, TlsPostgres, TlsRedis};

/// A store that cannot be opened must stop the start-up within this (timeouts are set to 2 s).
const BUILD_DEADLINE: Duration = Duration::from_secs(15);

/// Why the application does not start with these settings.
async fn build_error(pairs: &[(&str, &str)]) -> String {
    let base = [("SERVER_HOST", "127.0.0.1"), ("SERVER_PORT", "0"), ("RATELIMIT_ENABLED", "false")];
    let settings = match Settings::from_pairs(base.iter().chain(pairs).copied()) {
        Ok(settings) => settings,
        Err(e) => return ara::domain::ErrorChain(&e).to_string(),
    };
    match tokio::time::timeout(BUILD_DEADLINE, Application::build(settings)).await {
        Ok(Ok(_)) => panic!("the application must not start with {pairs:?}"),
        Ok(Err(e)) => ara::domain::ErrorChain(&e).to_string(),
        Err(_) => panic!("start-up did not give up within {BUILD_DEADLINE:?} with {pairs:?}"),
    }
}

/// A notification to an offline user is queued in the store, and replayed when the user connects:
/// both trips went through the store.
async fn queue_round_trip(app: &TestApp, user: &str) {
    let report = app.send_to_user(user, "tls.check", json!({"over": "tls"})).await;
    assert_eq!((report.delivered_to, report.queued), (0, 1), "queued in the store");
    let mut client = app.connect_user(user, "default").await;
    let replayed = tokio::time::timeout(RECV_TIMEOUT, client.recv_notification()).await.expect("replayed in time");
    assert_eq!(replayed["payload"]["over"], "tls", "{replayed}");
}

#[tokio::test]
async fn postgres_over_tls_checks_the_server_against_the_given_ca() {
    let pki = Pki::new();
    let pg = TlsPostgres::start(&pki);
    let ca = format!("sslrootcert={}", path_str(&pki.ca));

    // verify-full: the chain and the name, for a host name and for an IP address.
    for host in ["localhost", "127.0.0.1"] {
        let url = pg.url(host, &format!("sslmode=verify-full&{ca}"));
        let app = spawn_app(&[
            ("DATABASE_URL", url.as_str()),
            ("QUEUE_BACKEND", "postgres"),
            ("ACK_BACKEND", "postgres"),
            ("TEMPLATE_BACKEND", "postgres"),
        ])
        .await;
        queue_round_trip(&app, &format!("pg-tls-{}", host.replace('.', "-"))).await;
    }
    // require: encrypted without checking the certificate, as libpq does.
    let url = pg.url("localhost", "sslmode=require");
    let app = spawn_app(&[("DATABASE_URL", url.as_str()), ("QUEUE_BACKEND", "postgres")]).await;
    queue_round_trip(&app, "pg-tls-require").await;

    // A certificate from a CA we were not told to trust is refused, and so is a plain connection
    // (which proves the successes above were TLS: this server accepts nothing else).
    let timeout = [("QUEUE_BACKEND", "postgres"), ("DATABASE_TIMEOUT_MS", "2000")];
    let wrong_ca = pg.url("localhost", &format!("sslmode=verify-full&sslrootcert={}", path_str(&pki.other_ca)));
    let err = build_error(&[&[("DATABASE_URL", wrong_ca.as_str())][..], &timeout].concat()).await;
    assert!(err.contains("QUEUE_BACKEND") && err.to_lowercase().contains("certificate"), "{err}");
    let plain = pg.url("localhost", "sslmode=disable");
    let err = build_error(&[&[("DATABASE_URL", plain.as_str())][..], &timeout].concat()).await;
    assert!(err.contains("no encryption") || err.contains("pg_hba.conf"), "a plain connection is refused: {err}");
}

#[tokio::test]
async fn redis_over_tls_checks_the_server_against_redis_tls_ca_cert() {
    let pki = Pki::new();
    let redis = TlsRedis::start(&pki, false);
    let ca = path_str(&pki.ca);
    for host in ["localhost", "127.0.0.1"] {
        let url = redis.url(host);
        let app = spawn_app(&[
            ("REDIS_URL", url.as_str()),
            ("REDIS_TLS_CA_CERT", ca),
            ("QUEUE_BACKEND", "redis"),
            ("ACK_BACKEND", "redis"),
            ("RATELIMIT_ENABLED", "true"),
            ("RATELIMIT_BACKEND", "redis"),
        ])
        .await;
        queue_round_trip(&app, &format!("redis-tls-{}", host.replace('.', "-"))).await;
        let health = app.get("/health").await;
        assert_eq!(health.status, 200, "{}", health.text);
    }

    // The Pub/Sub trigger subscribes over the same TLS client.
    let url = redis.url("localhost");
    let app = app_with_pubsub(&url, "tls-news", &[("REDIS_TLS_CA_CERT", ca)]).await;
    let mut client = app.connect_user("redis-tls-pubsub", "default").await;
    let certificates = redis::TlsCertificates { client_tls: None, root_cert: Some(std::fs::read(&pki.ca).unwrap()) };
    let publisher = redis::Client::build_with_tls(url.as_str(), certificates).expect("a TLS client");
    let mut con = publisher.get_multiplexed_async_connection().await.expect("the test connects over TLS");
    let message = json!({"target": {"type": "user", "id": "redis-tls-pubsub"}, "event_type": "tls.pubsub"});
    let receivers: i64 =
        redis::cmd("PUBLISH").arg("tls-news").arg(message.to_string()).query_async(&mut con).await.unwrap();
    assert_eq!(receivers, 1, "Ara is subscribed");
    assert_eq!(client.recv_notification().await["event_type"], "tls.pubsub");

    let url = redis.url("localhost");
    let timeout = [("QUEUE_BACKEND", "redis"), ("REDIS_TIMEOUT_MS", "2000"), ("REDIS_URL", url.as_str())];
    // Not signed by the CA we trust: refused. The system's trust store does not know the test CA either.
    let err = build_error(&[&timeout[..], &[("REDIS_TLS_CA_CERT", path_str(&pki.other_ca))]].concat()).await;
    assert!(err.contains("QUEUE_BACKEND") && err.contains("does not answer"), "{err}");
    let err = build_error(&timeout).await;
    assert!(err.contains("QUEUE_BACKEND") && err.contains("does not answer"), "{err}");

    // Files that cannot be used stop the start-up naming the setting, and so does TLS material for
    // a plain redis:// URL.
    let err = build_error(&[&timeout[..], &[("REDIS_TLS_CA_CERT", "/nonexistent/ca.pem")]].concat()).await;
    assert!(err.contains("REDIS_TLS_CA_CERT") && err.contains("/nonexistent/ca.pem"), "{err}");
    let not_pem = pki.dir.path().join("not.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    let err = build_error(&[&timeout[..], &[("REDIS_TLS_CA_CERT", path_str(&not_pem))]].concat()).await;
    assert!(err.contains("REDIS_TLS_CA_CERT") && err.contains("no usable PEM certificate"), "{err}");
    let plain = format!("redis://127.0.0.1:{}", redis.port);
    let err =
        build_error(&[("QUEUE_BACKEND", "redis"), ("REDIS_URL", plain.as_str()), ("REDIS_TLS_CA_CERT", ca)]).await;
    assert!(err.contains("REDIS_TLS_CA_CERT is set but REDIS_URL is not a rediss:// URL"), "{err}");
}

#[tokio::test]
async fn redis_client_certificate_is_presented_when_the_server_asks() {
    let pki = Pki::new();
    let redis = TlsRedis::start(&pki, true);
    let url = redis.url("localhost");
    let (ca, cert, key) = (path_str(&pki.ca), path_str(&pki.client_cert), path_str(&pki.client_key));
    let base = [("REDIS_URL", url.as_str()), ("REDIS_TLS_CA_CERT", ca), ("QUEUE_BACKEND", "redis")];

    let err = build_error(&[&base[..], &[("REDIS_TIMEOUT_MS", "2000")]].concat()).await;
    assert!(err.contains("does not answer"), "no client certificate, no connection: {err}");
    let err = build_error(&[&base[..], &[("REDIS_TLS_CLIENT_CERT", cert)]].concat()).await;
    assert!(err.contains("REDIS_TLS_CLIENT_KEY"), "a certificate without its key: {err}");

    let app = spawn_app(&[&base[..], &[("REDIS_TLS_CLIENT_CERT", cert), ("REDIS_TLS_CLIENT_KEY", key)]].concat()).await;
    queue_round_trip(&app, "redis-mtls").await;
}
