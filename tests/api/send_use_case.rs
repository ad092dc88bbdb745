//! The send use case on its own (no HTTP), with the real memory stores: what a send does when a
//! connection closes under it, and when a send and a connect of the same user race.

use std::sync::Arc;
use std::time::Duration;

use ara::adapters::auth::{JwtAuth, JwtSettings};
use ara::adapters::memory::{MemoryAckStore, MemoryOfflineQueue, MemoryTemplateStore};
use ara::adapters::runtime::TokioTimer;
use ara::delivery::Next;
use ara::domain::queue::QueuePolicy;
use ara::domain::{ConnectionPolicy, Identity, Limits, NotificationDraft, Target, TenantId, Transport, UserId};
use ara::ports::{AckStore, CloseReason, OfflineQueue, PolicySource, RateQuotas, SystemClock};
use ara::service::{AckConfig, NotificationService, QueueConfig, ServiceParts, TemplateResolver};

struct Defaults;

impl PolicySource for Defaults {
    fn limits(&self, _: &TenantId) -> Limits {
        Limits::default()
    }
    fn connection(&self, _: &TenantId) -> ConnectionPolicy {
        ConnectionPolicy::default()
    }
    fn queue(&self, _: &TenantId) -> QueuePolicy {
        QueuePolicy::default()
    }
    fn max_payload_bytes(&self, _: &TenantId) -> usize {
        64 * 1024
    }
    fn rate_quotas(&self) -> Option<RateQuotas> {
        None
    }
}

struct Fixture {
    service: Arc<NotificationService>,
    queue: Arc<MemoryOfflineQueue>,
    acks: Arc<MemoryAckStore>,
}

fn fixture() -> Fixture {
    let queue = Arc::new(MemoryOfflineQueue::new());
    let acks = Arc::new(MemoryAckStore::new());
    let timeout = Duration::from_secs(1);
    let parts = ServiceParts {
        clock: Arc::new(SystemClock),
        timer: Arc::new(TokioTimer),
        policies: Arc::new(Defaults),
        templates: Arc::new(TemplateResolver::new(Arc::new(MemoryTemplateStore::new()), Arc::new(SystemClock))),
        verifier: Arc::new(JwtAuth::new(JwtSettings { secret: "test".into(), ..Default::default() })),
    };
    let service = NotificationService::new(parts)
        .with_offline_queue(QueueConfig { store: queue.clone(), timeout })
        .with_acks(AckConfig { store: acks.clone(), timeout_seconds: 30, redeliver: true, store_timeout: timeout });
    Fixture { service: Arc::new(service), queue, acks }
}

fn alice() -> Identity {
    Identity { tenant: TenantId::default_tenant(), user: UserId::parse("alice").unwrap() }
}

fn draft(n: u32) -> NotificationDraft {
    NotificationDraft::new(TenantId::default_tenant(), "e".into(), serde_json::json!({"n": n}), None, None, 1024)
        .unwrap()
}

#[tokio::test]
async fn a_send_to_a_closing_connection_is_queued_and_not_tracked() {
    let f = fixture();
    let (handle, _receiver) = f.service.connect(alice(), Transport::WebSocket, None, &[]).await.expect("connects");
    // Still registered (its user is online), but closing: it takes no frame.
    handle.close(CloseReason::Shutdown);

    let report = f.service.send(draft(0), &Target::User(alice().user)).await.expect("the send succeeds");
    assert_eq!((report.delivered_to, report.queued), (0, 1), "{report:?}");
    assert_eq!(f.queue.stats().await.unwrap().queued_messages, 1, "the notification waits in the queue");
    assert_eq!(f.acks.stats().await.unwrap().pending, 0, "and is not also awaiting an ACK");
    assert_eq!(f.service.delivery_stats().acks_tracked, 0);
    drop(handle);
}

/// Sends race a connect of the same user: every notification arrives exactly once, replayed or live,
/// and nothing is left in the queue once the user is online (none queued after the replay that
/// should have carried it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_racing_a_connect_arrive_once_and_leave_nothing_queued() {
    for round in 0..20 {
        let f = fixture();
        let sender = {
            let service = f.service.clone();
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for n in 0..50 {
                    ids.push(service.send(draft(n), &Target::User(alice().user)).await.expect("sent").notification_id);
                }
                ids
            })
        };
        tokio::time::sleep(Duration::from_micros(200 * round)).await;
        let (handle, mut receiver) = f.service.connect(alice(), Transport::WebSocket, None, &[]).await.unwrap();
        let sent = sender.await.unwrap();
        let mut got = Vec::new();
        while got.len() < sent.len() {
            match tokio::time::timeout(Duration::from_secs(2), receiver.next()).await {
                Ok(Some(Next::Frame(frame))) => got.extend(frame.notification_id),
                other => panic!("round {round}: expected a notification, got {:?}", other.is_ok()),
            }
        }
        assert_eq!(got, sent, "round {round}: each once, in order");
        let left = f.queue.peek(&alice().key(), 100, chrono::Utc::now()).await.unwrap();
        // Replayed entries leave the queue when their transport confirms the write; here nothing
        // writes, so what is left must be exactly the replayed ones.
        let replayed: Vec<_> = left.iter().map(|i| i.notification.id).collect();
        assert!(replayed.iter().all(|id| sent.contains(id)), "round {round}");
        assert!(replayed.len() <= sent.len());
        drop(handle);
    }
}

#[tokio::test]
async fn a_delivered_notification_is_tracked_before_its_ack_can_arrive() {
    let f = fixture();
    let (handle, mut receiver) = f.service.connect(alice(), Transport::WebSocket, None, &[]).await.unwrap();
    let report = f.service.send(draft(0), &Target::User(alice().user)).await.unwrap();
    assert_eq!(report.delivered_to, 1);
    // The frame is in the connection's queue: the record exists already, so an immediate ACK works.
    let Some(Next::Frame(frame)) = receiver.next().await else { panic!("a frame") };
    assert_eq!(frame.notification_id, Some(report.notification_id));
    handle.ack(report.notification_id).await.expect("the ACK finds its record");
    assert_eq!(f.acks.stats().await.unwrap().acknowledged, 1);
}
