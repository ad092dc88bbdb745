//! Spans reach a real OTLP/gRPC receiver: an in-process collector (opentelemetry-proto's tonic
//! `TraceService`) on a random port. A send that carries a caller's `traceparent` must come out as one
//! trace: the caller's span → `POST /api/v1/notifications/send` → `notify.send` → `dispatch` →
//! `ws.write`. Its own test binary, because it installs the process-wide subscriber.

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ara::app::telemetry::{self, TelemetryGuard};
use ara::app::Settings;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::Span;
use serde_json::{json, Value};

use helpers::spawn_app;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN_ID: &str = "00f067aa0ba902b7";
/// A caller that decided not to sample: Ara must follow its decision.
const UNSAMPLED_TRACE_ID: &str = "5c0e4a2b9d8f7e6a5c0e4a2b9d8f7e6a";

#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Vec<ExportTraceServiceRequest>>>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.0.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

impl Collector {
    /// Serves on a random local port; returns the endpoint.
    async fn start(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let service = TraceServiceServer::new(self.clone());
        tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
                .await
                .unwrap();
        });
        format!("http://{addr}")
    }

    fn spans(&self) -> Vec<Span> {
        let requests = self.0.lock().unwrap();
        requests
            .iter()
            .flat_map(|r| &r.resource_spans)
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| s.spans.clone())
            .collect()
    }

    fn service_names(&self) -> Vec<String> {
        let requests = self.0.lock().unwrap();
        requests
            .iter()
            .flat_map(|r| &r.resource_spans)
            .filter_map(|r| r.resource.as_ref())
            .filter_map(|r| attr(&r.attributes, "service.name").map(|v| text(&v)))
            .collect()
    }
}

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

fn attr(attributes: &[KeyValue], key: &str) -> Option<Any> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| kv.value.as_ref()).and_then(|v| v.value.clone())
}

fn text(value: &Any) -> String {
    match value {
        Any::StringValue(s) => s.clone(),
        Any::IntValue(i) => i.to_string(),
        Any::BoolValue(b) => b.to_string(),
        Any::DoubleValue(d) => d.to_string(),
        other => format!("{other:?}"),
    }
}

fn attr_text(span: &Span, key: &str) -> String {
    attr(&span.attributes, key).map(|v| text(&v)).unwrap_or_else(|| panic!("{} has no {key}: {span:?}", span.name))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn named<'a>(spans: &'a [Span], name: &str) -> &'a Span {
    let found: Vec<&Span> = spans.iter().filter(|s| s.name == name).collect();
    assert_eq!(found.len(), 1, "expected one {name} span in the trace, got {}: {spans:#?}", found.len());
    found[0]
}

/// Flushes the exporter until `done` holds for the collected spans.
async fn flush_until(guard: &Arc<TelemetryGuard>, collector: &Collector, done: impl Fn(&[Span]) -> bool) -> Vec<Span> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let g = guard.clone();
        tokio::task::spawn_blocking(move || g.force_flush()).await.unwrap().expect("flush succeeds");
        let spans = collector.spans();
        if done(&spans) {
            return spans;
        }
        assert!(Instant::now() < deadline, "the expected spans never arrived; got {spans:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_is_one_trace_from_the_callers_span_to_the_socket_write() {
    let collector = Collector::default();
    let endpoint = collector.start().await;
    let logs = Captured::default();
    let settings = Settings::from_pairs([
        ("OTEL_ENABLED", "true"),
        ("OTEL_ENDPOINT", endpoint.as_str()),
        ("OTEL_SERVICE_NAME", "ara-test"),
        ("OTEL_SAMPLING_RATIO", "1.0"),
        ("LOG_FORMAT", "json"),
        ("LOG_LEVEL", "info,tower_http=debug"),
    ])
    .unwrap();
    let writer = logs.clone();
    let guard = Arc::new(telemetry::init_with_writer(&settings, move || writer.clone()).expect("telemetry installs"));
    assert!(guard.is_exporting());

    let app = spawn_app(&[]).await;
    let token = app.token("alice", "default");
    let mut ws = app.connect_ws(&token).await;

    let send = |traceparent: String, request_id: &'static str| {
        app.client
            .post(app.url("/api/v1/notifications/send"))
            .header("traceparent", traceparent)
            .header("x-request-id", request_id)
            .header("authorization", "Bearer not-a-real-secret-value")
            .json(&json!({"target_user_id": "alice", "event_type": "order.shipped", "payload": {"order": 7}}))
            .send()
    };
    let response = send(format!("00-{TRACE_ID}-{CALLER_SPAN_ID}-01"), "trace-req-1").await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-request-id"], "trace-req-1");
    let body: Value = response.json().await.unwrap();
    let notification_id = body["notification_id"].as_str().unwrap().to_owned();
    assert_eq!(ws.recv_notification().await["id"], notification_id.as_str());

    let unsampled = send(format!("00-{UNSAMPLED_TRACE_ID}-{CALLER_SPAN_ID}-00"), "trace-req-2").await.unwrap();
    assert_eq!(unsampled.status(), 200);
    ws.recv_notification().await;

    let all = flush_until(&guard, &collector, |spans| {
        spans.iter().any(|s| s.name == "ws.write" && hex(&s.trace_id) == TRACE_ID)
    })
    .await;
    let trace: Vec<Span> = all.iter().filter(|s| hex(&s.trace_id) == TRACE_ID).cloned().collect();

    let http = named(&trace, "POST /api/v1/notifications/send");
    assert_eq!(hex(&http.parent_span_id), CALLER_SPAN_ID, "the HTTP span continues the caller's span");
    assert_eq!(http.kind, SpanKind::Server as i32);
    assert_eq!(attr_text(http, "http.route"), "/api/v1/notifications/send");
    assert_eq!(attr_text(http, "http.request.method"), "POST");
    assert_eq!(attr_text(http, "request_id"), "trace-req-1");
    assert_eq!(attr_text(http, "http.response.status_code"), "200");

    let notify = named(&trace, "notify.send");
    assert_eq!(notify.parent_span_id, http.span_id, "notify.send is a child of the HTTP span");
    assert_eq!(attr_text(notify, "ara.tenant"), "default");
    assert_eq!(attr_text(notify, "ara.notification_id"), notification_id);
    assert_eq!(attr_text(notify, "ara.event_type"), "order.shipped");
    assert_eq!(attr_text(notify, "ara.target_type"), "user");
    assert_eq!(attr_text(notify, "ara.delivered"), "1");

    let dispatch = named(&trace, "dispatch");
    assert_eq!(dispatch.parent_span_id, notify.span_id, "dispatch is a child of notify.send");
    assert_eq!(attr_text(dispatch, "ara.delivered"), "1");

    let write = named(&trace, "ws.write");
    assert_eq!(write.parent_span_id, dispatch.span_id, "the socket write is a child of the dispatch");
    assert_eq!(attr_text(write, "ara.notification_id"), notification_id);

    assert!(
        all.iter().all(|s| hex(&s.trace_id) != UNSAMPLED_TRACE_ID),
        "a caller's decision not to sample was ignored"
    );
    assert!(collector.service_names().iter().all(|n| n == "ara-test"));

    // The upgrade request is traced with its path only: its `?token=` never reaches a span or a log.
    let upgrade = all.iter().find(|s| s.name == "GET /ws").expect("the upgrade request has a span");
    assert_eq!(attr_text(upgrade, "url.path"), "/ws");
    let exported = format!("{:?}", collector.0.lock().unwrap());
    assert!(!exported.contains(&token), "the token reached an exported span");
    assert!(!exported.contains("not-a-real-secret-value"), "a header reached an exported span");
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(!logs.contains(&token), "the token reached the logs");
    assert!(!logs.contains("not-a-real-secret-value"), "a header reached the logs");
    let request_line = logs
        .lines()
        .filter(|l| l.contains("finished processing request"))
        .find(|l| l.contains("trace-req-1"))
        .unwrap_or_else(|| panic!("no log line of the request carries its id:\n{logs}"));
    let line: Value = serde_json::from_str(request_line).unwrap();
    assert_eq!(line["span"]["request_id"], "trace-req-1", "{request_line}");
}
