//! Frames for transports: a notification's client-facing JSON, written once when it was accepted and
//! shared by every recipient and transport, and the trace link a sampled dispatch hands them.

use crate::domain::Notification;
use crate::ports::{FrameData, OutboundFrame, TraceLink};

/// The `notification` frame WebSocket sends as text and SSE as event data: the bytes the
/// notification was written to when it was accepted, shared, not copied.
pub fn notification_frame(n: &Notification) -> OutboundFrame {
    OutboundFrame::new(FrameData {
        notification_id: Some(n.id),
        event: "notification",
        json: n.frame().clone(),
        replayed: false,
        accepted_at_ms: n.created_at.timestamp_millis(),
        trace: None,
    })
}

/// The link a frame carries to `span` when that span is sampled, so each socket write can become its
/// child. Read once per dispatch; with no span exporter installed it is `None` at the cost of a type
/// check.
pub fn trace_link(span: &tracing::Span) -> Option<TraceLink> {
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    if span.is_disabled() {
        return None;
    }
    let cx = span.context();
    let otel_span = cx.span();
    let sc = otel_span.span_context();
    sc.is_sampled().then(|| TraceLink { trace_id: sc.trace_id().to_bytes(), span_id: sc.span_id().to_bytes() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{NotificationDraft, Priority, TenantId};

    #[test]
    fn frame_has_the_documented_shape() {
        let n = NotificationDraft::new(
            TenantId::default_tenant(),
            "order.shipped".into(),
            serde_json::json!({"order": 7}),
            Some(Priority::High),
            None,
            1024,
        )
        .unwrap()
        .accept(chrono::Utc::now());
        let frame = notification_frame(&n);
        let v: serde_json::Value = serde_json::from_slice(&frame.json).unwrap();
        assert_eq!(v["type"], "notification");
        assert_eq!(v["id"], n.id.to_string());
        assert_eq!(v["event_type"], "order.shipped");
        assert_eq!(v["payload"]["order"], 7);
        assert_eq!(v["priority"], "High");
        assert!(v["timestamp"].as_str().unwrap().ends_with('Z'));
        assert_eq!(frame.notification_id, Some(n.id));
    }
}
