//! The dispatcher's fan-out path in isolation: one notification serialized once and queued on 10,000
//! in-memory connections, by channel and by broadcast.
//!
//! Two sinks: a counting sink (the dispatcher's own cost: registry walk, `Bytes` clones, stats) and
//! the real bounded `ChannelSink` the WebSocket and SSE transports use, drained between rounds (adds
//! tokio's mpsc). Run `cargo bench --bench fanout [-- SUBSCRIBERS]`.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ara::delivery::{connection_queue, QueueReceiver, SlowConsumerPolicy};
use ara::delivery::{ConnectionRegistry, DeliveryStats, Dispatcher};
use ara::domain::{ChannelName, Identity, NotificationDraft, Target, TenantId, UserId};
use ara::domain::{Limits, Transport};
use ara::ports::{CloseReason, ConnectionSink, OutboundFrame, SinkError};

/// Sends per round; stays below the channel sink's capacity so that nobody becomes a slow consumer.
const ROUND: usize = 64;
const MIN_TIME: Duration = Duration::from_secs(2);

struct CountingSink(AtomicU64);

impl ConnectionSink for CountingSink {
    fn try_send(&self, frame: OutboundFrame) -> Result<(), SinkError> {
        black_box(frame);
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
    fn close(&self, _reason: CloseReason) {}
}

fn dispatcher(subscribers: usize, sink: impl Fn() -> Arc<dyn ConnectionSink>) -> (Dispatcher, ChannelName) {
    let limits = Limits {
        max_connections: subscribers,
        max_connections_per_user: 1,
        max_subscriptions_per_connection: 1,
        ..Limits::default()
    };
    let registry = Arc::new(ConnectionRegistry::new());
    let channel = ChannelName::parse("bench").expect("valid channel");
    for i in 0..subscribers {
        let identity = Identity {
            tenant: TenantId::default_tenant(),
            user: UserId::parse(&format!("user-{i}")).expect("valid user"),
        };
        let entry =
            registry.register(identity, Transport::WebSocket, sink(), chrono::Utc::now(), &limits).expect("room");
        registry.subscribe(&entry, std::slice::from_ref(&channel), 1).expect("subscribed");
    }
    (Dispatcher::new(registry, Arc::new(DeliveryStats::default())), channel)
}

fn notification() -> ara::domain::Notification {
    let payload = serde_json::json!({ "ara_seq": 1, "ara_sent_us": 1_700_000_000_000_000u64, "text": "hello" });
    NotificationDraft::new(TenantId::default_tenant(), "bench.fanout".into(), payload, None, None, 4096)
        .expect("valid draft")
        .accept(chrono::Utc::now())
}

/// Runs rounds of `ROUND` sends until `MIN_TIME` passed; `between` runs untimed after each round.
fn measure(name: &str, subscribers: usize, d: &Dispatcher, target: &Target, mut between: impl FnMut()) {
    let n = notification();
    let (mut sends, mut busy) = (0u64, Duration::ZERO);
    while busy < MIN_TIME {
        let started = Instant::now();
        for _ in 0..ROUND {
            let (report, _) = d.deliver_local(&n, target);
            assert_eq!(report.delivered, subscribers, "every subscriber takes the frame");
        }
        busy += started.elapsed();
        sends += ROUND as u64;
        between();
    }
    let deliveries = sends * subscribers as u64;
    println!(
        "{name:<34} {subscribers:>7} subscribers  {:>9.1} µs/send  {:>6.1} ns/delivery  {:>6.2} M deliveries/s",
        busy.as_secs_f64() * 1e6 / sends as f64,
        busy.as_secs_f64() * 1e9 / deliveries as f64,
        deliveries as f64 / busy.as_secs_f64() / 1e6,
    );
}

fn main() {
    let subscribers: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(10_000);
    let (counting, channel) = dispatcher(subscribers, || Arc::new(CountingSink(AtomicU64::new(0))));
    measure("channel, counting sink", subscribers, &counting, &Target::Channel(channel.clone()), || {});
    measure("broadcast, counting sink", subscribers, &counting, &Target::Broadcast, || {});

    let receivers = parking_lot::Mutex::new(Vec::<QueueReceiver>::new());
    let (real, channel) = dispatcher(subscribers, || {
        let (sink, receiver) = connection_queue(1024, SlowConsumerPolicy::Disconnect);
        receivers.lock().push(receiver);
        sink
    });
    let mut receivers = receivers.into_inner();
    let mut drain = || {
        for r in &mut receivers {
            while r.try_next_frame().is_some() {}
        }
    };
    measure("channel, ChannelSink (mpsc 1024)", subscribers, &real, &Target::Channel(channel), &mut drain);
    measure("broadcast, ChannelSink (mpsc 1024)", subscribers, &real, &Target::Broadcast, &mut drain);
}
