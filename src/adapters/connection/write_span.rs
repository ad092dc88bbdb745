//! Socket-write spans. A frame from a sampled dispatch carries that dispatch's ids (a
//! [`TraceLink`]); the transport opens its write span and makes it a child of the dispatch, so one
//! trace runs from the HTTP request to every socket. Frames without a link — tracing off, or the
//! trace not sampled — cost one `Option` check.

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::Context;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::ports::TraceLink;

/// Makes `span` (a fresh root span) a child of the dispatch `link` names.
pub fn continue_dispatch(span: &Span, link: TraceLink) {
    let parent = SpanContext::new(
        TraceId::from_bytes(link.trace_id),
        SpanId::from_bytes(link.span_id),
        TraceFlags::SAMPLED,
        false,
        TraceState::NONE,
    );
    // Fails only when no span exporter is installed, and then no frame carries a link.
    let _ = span.set_parent(Context::new().with_remote_span_context(parent));
}
