//! The template use cases on their own (no HTTP), with the real in-memory store. The store never
//! waits, so a minimal poll loop drives the futures.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use chrono::Duration;
use parking_lot::Mutex;
use serde_json::json;

use ara::adapters::memory::MemoryTemplateStore;
use ara::domain::{Priority, TemplateId, TemplateSpec, TenantId, ValidationError};
use ara::ports::{Clock, TemplateStoreError};
use ara::service::{ContentSource, ResolveError, TemplateResolver};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::yield_now();
    }
}

/// A clock the test moves by hand; starts with sub-millisecond digits to show they are dropped.
struct ManualClock(Mutex<DateTime<Utc>>);

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock()
    }
}

fn resolver_with_clock() -> (TemplateResolver, Arc<ManualClock>) {
    let start = DateTime::from_timestamp(1_750_000_000, 123_456_789).unwrap_or_default();
    let clock = Arc::new(ManualClock(Mutex::new(start)));
    (TemplateResolver::new(Arc::new(MemoryTemplateStore::new()), clock.clone()), clock)
}

fn resolver() -> TemplateResolver {
    resolver_with_clock().0
}

fn spec() -> TemplateSpec {
    let payload = json!({"title": "Hi {{name}}", "n": "{{n}}"});
    TemplateSpec::new("Greeting".into(), "greet".into(), payload, Some(Priority::High), Some(120)).unwrap()
}

fn vars(v: Value) -> Option<Map<String, Value>> {
    v.as_object().cloned()
}

#[test]
fn content_is_either_inline_or_a_template() {
    let inline = ContentSource::from_parts(Some("e".into()), None, None, None).unwrap();
    assert_eq!(inline, ContentSource::Inline { event_type: "e".into(), payload: json!({}) });
    let t = ContentSource::from_parts(None, None, Some("t-1".into()), vars(json!({"a": 1}))).unwrap();
    assert!(
        matches!(t, ContentSource::Template { ref id, ref variables } if id.as_str() == "t-1" && variables.len() == 1)
    );
    let t = ContentSource::from_parts(None, None, Some("t".into()), None).unwrap();
    assert!(matches!(t, ContentSource::Template { ref variables, .. } if variables.is_empty()));

    let refused = |e: Option<&str>, p: Option<Value>, t: Option<&str>, v: Option<Map<String, Value>>| {
        ContentSource::from_parts(e.map(Into::into), p, t.map(Into::into), v).unwrap_err()
    };
    for err in [
        refused(Some("e"), None, Some("t"), None),
        refused(None, Some(json!({})), Some("t"), None),
        refused(Some("e"), None, None, vars(json!({}))),
        refused(None, Some(json!({})), None, None),
        refused(None, None, None, None),
    ] {
        assert!(matches!(err, ResolveError::InvalidContent(_)), "{err:?}");
    }
    assert!(matches!(refused(None, None, Some("bad id"), None), ResolveError::Validation(_)));
}

#[test]
fn crud_stamps_times_and_keeps_created_at() {
    block_on(crud_stamps_times_and_keeps_created_at_async());
}

async fn crud_stamps_times_and_keeps_created_at_async() {
    let (r, clock) = resolver_with_clock();
    let id = TemplateId::parse("greet").unwrap();
    let created = r.create(&home(), id.clone(), spec()).await.unwrap();
    assert_eq!(created.created_at, created.updated_at);
    assert_eq!(created.created_at.timestamp_subsec_nanos(), 123_000_000, "millisecond precision");
    assert!(matches!(r.create(&home(), id.clone(), spec()).await, Err(TemplateStoreError::Duplicate(_))));
    *clock.0.lock() += Duration::seconds(5);
    let updated = r.update(&home(), &id, spec()).await.unwrap();
    assert_eq!(updated.created_at, created.created_at);
    assert_eq!(updated.updated_at, created.updated_at + Duration::seconds(5));
    assert_eq!(r.list(&home()).await.unwrap(), std::slice::from_ref(&updated));
    assert_eq!(r.get(&home(), &id).await.unwrap(), Some(updated));
    r.delete(&home(), &id).await.unwrap();
    assert!(matches!(r.delete(&home(), &id).await, Err(TemplateStoreError::NotFound(_))));
}

#[test]
fn drafts_come_from_templates_or_inline_content() {
    block_on(drafts_come_from_templates_or_inline_content_async());
}

async fn drafts_come_from_templates_or_inline_content_async() {
    let r = resolver();
    r.create(&home(), TemplateId::parse("greet").unwrap(), spec()).await.unwrap();
    let acme = TenantId::parse("acme").unwrap();
    let source = ContentSource::from_parts(None, None, Some("greet".into()), vars(json!({"name": "Ann", "n": 2})));
    let draft = r.draft(acme.clone(), source.unwrap(), None, None, 1024).await.unwrap();
    assert_eq!(draft.tenant, acme, "the draft belongs to the sender; the template is global");
    assert_eq!(draft.payload(), json!({"title": "Hi Ann", "n": 2}));
    assert_eq!((draft.event_type.as_str(), draft.priority, draft.ttl_seconds), ("greet", Priority::High, Some(120)));

    let inline = ContentSource::Inline { event_type: "e".into(), payload: json!({"a": 1}) };
    let draft = r.draft(acme.clone(), inline, Some(Priority::Low), Some(9), 1024).await.unwrap();
    assert_eq!((draft.priority, draft.ttl_seconds, draft.payload()), (Priority::Low, Some(9), json!({"a": 1})));
}

#[test]
fn draft_errors_name_what_is_wrong() {
    block_on(draft_errors_name_what_is_wrong_async());
}

async fn draft_errors_name_what_is_wrong_async() {
    let r = resolver();
    r.create(&home(), TemplateId::parse("greet").unwrap(), spec()).await.unwrap();
    let tenant = TenantId::default_tenant();
    let by_template = |id: &str, v: Value| ContentSource::Template {
        id: TemplateId::parse(id).unwrap(),
        variables: v.as_object().cloned().unwrap_or_default(),
    };
    let err = r.draft(tenant.clone(), by_template("nope", json!({})), None, None, 1024).await.unwrap_err();
    assert!(matches!(err, ResolveError::TemplateNotFound(ref id) if id.as_str() == "nope"));
    let err = r.draft(tenant.clone(), by_template("greet", json!({})), None, None, 1024).await.unwrap_err();
    assert_eq!(err.to_string(), "missing template variables: n, name");
    let err = r.draft(tenant.clone(), by_template("greet", json!({"name": "A", "n": 1})), None, Some(0), 1024).await;
    assert!(matches!(err, Err(ResolveError::Validation(ValidationError::InvalidTtl { .. }))));
    let big = json!({"name": "x".repeat(2000), "n": 1});
    let err = r.draft(tenant, by_template("greet", big), None, None, 1024).await.unwrap_err();
    assert!(matches!(err, ResolveError::Validation(ValidationError::RenderedPayloadTooLarge { .. })), "{err:?}");
}

fn home() -> ara::domain::TenantId {
    ara::domain::TenantId::default_tenant()
}
