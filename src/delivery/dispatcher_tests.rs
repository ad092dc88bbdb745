use super::*;
use crate::delivery::registry::{Limits, Transport};
use crate::domain::{ChannelName, Identity, NotificationDraft, TenantId, UserId};
use crate::ports::ConnectionSink;
use parking_lot::Mutex;

/// Records frames up to `capacity`, then reports itself full.
struct RecordingSink {
    capacity: usize,
    frames: Mutex<Vec<OutboundFrame>>,
    closed: Mutex<Option<CloseReason>>,
}

impl RecordingSink {
    fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Self { capacity, frames: Mutex::new(Vec::new()), closed: Mutex::new(None) })
    }
    fn count(&self) -> usize {
        self.frames.lock().len()
    }
}

impl ConnectionSink for RecordingSink {
    fn try_send(&self, frame: OutboundFrame) -> Result<(), SinkError> {
        let mut frames = self.frames.lock();
        if frames.len() >= self.capacity {
            return Err(SinkError::Full);
        }
        frames.push(frame);
        Ok(())
    }
    fn close(&self, reason: CloseReason) {
        *self.closed.lock() = Some(reason);
    }
}

fn setup() -> (Dispatcher, Arc<ConnectionRegistry>) {
    let registry = Arc::new(ConnectionRegistry::new());
    (Dispatcher::new(registry.clone(), Arc::new(DeliveryStats::default())), registry)
}

fn connect(r: &ConnectionRegistry, tenant: &str, user: &str, cap: usize) -> (Arc<ConnectionEntry>, Arc<RecordingSink>) {
    let sink = RecordingSink::new(cap);
    let id = Identity { tenant: TenantId::parse(tenant).unwrap(), user: UserId::parse(user).unwrap() };
    let entry = r.register(id, Transport::WebSocket, sink.clone(), chrono::Utc::now(), &Limits::default()).unwrap();
    (entry, sink)
}

fn note(tenant: &str) -> Notification {
    NotificationDraft::new(TenantId::parse(tenant).unwrap(), "e".into(), serde_json::json!({"k": 1}), None, None, 1024)
        .unwrap()
        .accept(chrono::Utc::now())
}

fn chan(name: &str) -> ChannelName {
    ChannelName::parse(name).unwrap()
}

#[test]
fn user_target_reaches_every_device_and_reports_offline_users() {
    let (d, r) = setup();
    let (_, phone) = connect(&r, "t", "alice", 10);
    let (_, laptop) = connect(&r, "t", "alice", 10);
    let target = Target::Users(vec![UserId::parse("alice").unwrap(), UserId::parse("bob").unwrap()]);
    let (report, offline) = d.deliver_local(&note("t"), &target);
    assert_eq!(report, DispatchReport { delivered: 2, offline_users: 1 });
    assert_eq!(offline[0].user.as_str(), "bob");
    assert_eq!((phone.count(), laptop.count()), (1, 1));
    // The frame is shared, not copied per recipient.
    assert_eq!(phone.frames.lock()[0].json.as_ptr(), laptop.frames.lock()[0].json.as_ptr());
}

#[test]
fn broadcast_and_channels_stay_in_their_tenant() {
    let (d, r) = setup();
    let (a, a_sink) = connect(&r, "t1", "a", 10);
    let (b, b_sink) = connect(&r, "t2", "a", 10);
    r.subscribe(&a, &[chan("x"), chan("y")], 50).unwrap();
    r.subscribe(&b, &[chan("x")], 50).unwrap();
    d.deliver_local(&note("t1"), &Target::Broadcast);
    assert_eq!((a_sink.count(), b_sink.count()), (1, 0));
    let (report, _) = d.deliver_local(&note("t1"), &Target::Channels(vec![chan("x"), chan("y")]));
    assert_eq!(report.delivered, 1, "one copy despite two matching channels");
    d.deliver_local(&note("t2"), &Target::Channel(chan("x")));
    assert_eq!((a_sink.count(), b_sink.count()), (2, 1));
    d.deliver_local(&note("t1"), &Target::User(UserId::parse("a").unwrap()));
    assert_eq!((a_sink.count(), b_sink.count()), (3, 1));
}

#[test]
fn slow_consumer_is_closed_and_others_still_served() {
    let (d, r) = setup();
    let (_, slow) = connect(&r, "t", "slow", 1);
    let (_, fast) = connect(&r, "t", "fast", 10);
    d.deliver_local(&note("t"), &Target::Broadcast);
    let (report, _) = d.deliver_local(&note("t"), &Target::Broadcast);
    assert_eq!(report.delivered, 1);
    assert_eq!(*slow.closed.lock(), Some(CloseReason::SlowConsumer));
    assert_eq!(fast.count(), 2);
    assert_eq!(d.stats().snapshot().slow_consumers_disconnected, 1);
}
