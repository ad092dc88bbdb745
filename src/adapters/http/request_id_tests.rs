use std::sync::{Arc, Mutex};

use axum::routing::get;
use axum::{middleware, Router};
use tower::ServiceExt;
use tower_http::trace::TraceLayer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::Layer;

use super::*;
use axum::http::Request as HttpRequest;

/// These tests share callsites (the span maker, the handler's log line). `tracing` caches whether a
/// callsite is wanted, and a callsite first hit on one thread while another is installing its scoped
/// subscriber can miss that subscriber; running them one at a time keeps the log test deterministic.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Log output captured in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

fn app() -> Router {
    Router::new()
        .route(
            "/users/{user_id}",
            get(|| async {
                tracing::info!("handled");
                "ok"
            }),
        )
        .layer(TraceLayer::new_for_http().make_span_with(make_span).on_response(RecordResponse))
        .layer(middleware::from_fn(propagate))
}

async fn call(request: axum::http::request::Builder) -> axum::response::Response {
    app().oneshot(request.body(Body::empty()).unwrap()).await.unwrap()
}

fn id_of(response: &axum::response::Response) -> &str {
    response.headers().get(&HEADER).expect("every response has X-Request-Id").to_str().unwrap()
}

#[tokio::test]
async fn a_sane_id_is_echoed() {
    let _serial = SERIAL.lock().await;
    let response = call(HttpRequest::get("/users/u1").header("x-request-id", "abc-123_DEF.4")).await;
    assert_eq!(id_of(&response), "abc-123_DEF.4");
    let longest = "x".repeat(MAX_LEN);
    let response = call(HttpRequest::get("/users/u1").header("x-request-id", &longest)).await;
    assert_eq!(id_of(&response), longest);
}

#[tokio::test]
async fn a_missing_or_unacceptable_id_is_replaced_by_a_uuid_v7() {
    let _serial = SERIAL.lock().await;
    let too_long = "x".repeat(MAX_LEN + 1);
    for given in [None, Some(""), Some("has space"), Some(too_long.as_str()), Some("tab\there")] {
        let mut request = HttpRequest::get("/users/u1");
        if let Some(value) = given {
            request = request.header("x-request-id", value);
        }
        let response = call(request).await;
        let id = Uuid::parse_str(id_of(&response)).unwrap_or_else(|_| panic!("{given:?} was not replaced"));
        assert_eq!(id.get_version_num(), 7);
    }
    // Not found still gets one.
    let response = call(HttpRequest::get("/nowhere")).await;
    assert_eq!(response.status(), 404);
    assert!(Uuid::parse_str(id_of(&response)).is_ok());
}

#[tokio::test]
async fn log_lines_carry_the_request_id_and_never_the_query_or_credentials() {
    let _serial = SERIAL.lock().await;
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .json()
            .with_writer(move || writer.clone())
            .with_filter(tracing_subscriber::filter::LevelFilter::DEBUG),
    );
    let _default = tracing::subscriber::set_default(subscriber);
    let response = call(
        HttpRequest::get("/users/u1?token=SECRET-QUERY-TOKEN&channels=a")
            .header("x-request-id", "req-42")
            .header("authorization", "Bearer SECRET-BEARER")
            .header("x-api-key", "SECRET-API-KEY"),
    )
    .await;
    assert_eq!(response.status(), 200);
    let text = logs.text();
    let handled = text.lines().find(|l| l.contains("\"handled\"")).expect("the handler's line is logged");
    let line: serde_json::Value = serde_json::from_str(handled).unwrap();
    let span = &line["span"];
    assert_eq!(span["request_id"], "req-42", "{handled}");
    assert_eq!(span["http.route"], "/users/{user_id}", "{handled}");
    assert_eq!(span["url.path"], "/users/u1", "{handled}");
    assert_eq!(span["http.request.method"], "GET", "{handled}");
    assert!(text.contains("finished processing request"), "the response is logged at DEBUG: {text}");
    assert!(!text.contains("SECRET"), "a secret reached the logs: {text}");
    assert!(!text.contains("token="), "the query reached the logs: {text}");
}
