//! The send use case on its own (no HTTP): a registered connection whose sink is already closing
//! takes nothing, so the notification goes to the queue — and is not also tracked for an ACK, which
//! with `ACK_REDELIVER` would deliver it twice with one id.

use std::sync::Arc;
use std::time::Duration;

use ara::adapters::memory::{MemoryAckStore, MemoryOfflineQueue};
use ara::adapters::runtime::TokioTimer;
use ara::delivery::{connection_queue, SlowConsumerPolicy};
use ara::domain::queue::QueuePolicy;
use ara::domain::{Identity, NotificationDraft, Target, TenantId, UserId};
use ara::ports::{AckStore, CloseReason, ConnectionSink, OfflineQueue, SystemClock};
use ara::service::{
    AckConfig, ConnectionRegistry, DeliveryStats, Dispatcher, Limits, NotificationService, OfflineQueueConfig,
    Transport,
};

#[tokio::test]
async fn a_send_to_a_closing_connection_is_queued_and_not_tracked() {
    let registry = Arc::new(ConnectionRegistry::new(Limits::default()));
    let dispatcher = Arc::new(Dispatcher::new(registry.clone(), Arc::new(DeliveryStats::default())));
    let policy = QueuePolicy::default();
    let queue = Arc::new(MemoryOfflineQueue::new(policy));
    let acks = Arc::new(MemoryAckStore::new());
    let timeout = Duration::from_secs(1);
    let notifier = NotificationService::new(dispatcher, Arc::new(SystemClock), Arc::new(TokioTimer))
        .with_offline_queue(OfflineQueueConfig { store: queue.clone(), policy, timeout })
        .with_acks(AckConfig { store: acks.clone(), timeout_seconds: 30, redeliver: true, store_timeout: timeout });

    let tenant = TenantId::default_tenant();
    let user = UserId::parse("alice").unwrap();
    let (sink, _receiver) = connection_queue(4, SlowConsumerPolicy::Disconnect);
    notifier
        .connect(Identity { tenant: tenant.clone(), user: user.clone() }, Transport::WebSocket, sink.clone(), None)
        .await
        .expect("the connection registers");
    // Still registered (its user is online), but closing: it takes no frame.
    sink.close(CloseReason::Shutdown);

    let draft = NotificationDraft::new(tenant, "e".into(), serde_json::json!({}), None, None, 1024).unwrap();
    let report = notifier.send(draft, &Target::User(user)).await.expect("the send succeeds");
    assert_eq!((report.delivered_to, report.queued), (0, 1), "{report:?}");
    assert_eq!(queue.stats().await.unwrap().queued_messages, 1, "the notification waits in the queue");
    assert_eq!(acks.stats().await.unwrap().pending, 0, "and is not also awaiting an ACK");
    assert_eq!(notifier.dispatcher().stats().snapshot().acks_tracked, 0);
}
