use super::*;
use crate::domain::UserId;
use crate::ports::{ConnectionSink, OutboundFrame, SinkError};

#[derive(Default)]
struct NullSink;

impl ConnectionSink for NullSink {
    fn try_send(&self, _frame: OutboundFrame) -> Result<(), SinkError> {
        Ok(())
    }
    fn close(&self, _reason: CloseReason) {}
}

fn ident(tenant: &str, user: &str) -> Identity {
    Identity { tenant: TenantId::parse(tenant).unwrap(), user: UserId::parse(user).unwrap() }
}

/// A registry with the limits its tests apply on every call.
struct Limited {
    registry: ConnectionRegistry,
    limits: Limits,
}

impl std::ops::Deref for Limited {
    type Target = ConnectionRegistry;
    fn deref(&self) -> &ConnectionRegistry {
        &self.registry
    }
}

impl Limited {
    fn register(
        &self,
        identity: Identity,
        transport: Transport,
        sink: DynSink,
        now: DateTime<Utc>,
    ) -> Result<Arc<ConnectionEntry>, RegisterError> {
        self.registry.register(identity, transport, sink, now, &self.limits)
    }

    fn subscribe(
        &self,
        entry: &Arc<ConnectionEntry>,
        channels: &[ChannelName],
    ) -> Result<Vec<ChannelName>, SubscribeError> {
        self.registry.subscribe(entry, channels, self.limits.max_subscriptions_per_connection)
    }
}

fn registry(max: usize, per_user: usize, subs: usize) -> Limited {
    let limits = Limits {
        max_connections: max,
        max_connections_per_user: per_user,
        max_subscriptions_per_connection: subs,
        ..Limits::default()
    };
    Limited { registry: ConnectionRegistry::new(), limits }
}

fn chans(names: &[&str]) -> Vec<ChannelName> {
    names.iter().map(|n| ChannelName::parse(n).unwrap()).collect()
}

#[test]
fn enforces_total_and_per_user_limits() {
    let r = registry(3, 2, 5);
    let now = Utc::now();
    r.register(ident("t", "a"), Transport::WebSocket, Arc::new(NullSink), now).unwrap();
    r.register(ident("t", "a"), Transport::WebSocket, Arc::new(NullSink), now).unwrap();
    assert_eq!(
        r.register(ident("t", "a"), Transport::WebSocket, Arc::new(NullSink), now).err(),
        Some(RegisterError::UserLimit { max: 2 })
    );
    let c = r.register(ident("t", "b"), Transport::Sse, Arc::new(NullSink), now).unwrap();
    assert_eq!(
        r.register(ident("t", "c"), Transport::WebSocket, Arc::new(NullSink), now).err(),
        Some(RegisterError::ServerFull { max: 3 })
    );
    assert!(r.unregister(c.id));
    assert!(!r.unregister(c.id));
    r.register(ident("t", "c"), Transport::WebSocket, Arc::new(NullSink), now).unwrap();
    assert_eq!(r.connection_count(), 3);
    assert_eq!(r.user_count(), 2);
}

#[test]
fn subscriptions_are_indexed_per_tenant_and_cleaned_up() {
    let r = registry(10, 5, 2);
    let now = Utc::now();
    let a = r.register(ident("t1", "a"), Transport::WebSocket, Arc::new(NullSink), now).unwrap();
    let b = r.register(ident("t2", "a"), Transport::WebSocket, Arc::new(NullSink), now).unwrap();
    assert_eq!(r.subscribe(&a, &chans(&["x", "x"])).unwrap().len(), 1);
    r.subscribe(&b, &chans(&["x"])).unwrap();
    assert_eq!(r.subscribe(&a, &chans(&["y", "z"])), Err(SubscribeError::TooMany { max: 2 }));
    let mut seen = Vec::new();
    r.for_each_in_channel(&a.identity.tenant, &chans(&["x"])[0], |e| seen.push(e.id));
    assert_eq!(seen, vec![a.id]);
    assert_eq!(r.unsubscribe(&a, &chans(&["x", "nope"])).len(), 1);
    assert_eq!(r.channel_count(), 1);
    r.unregister(b.id);
    assert_eq!(r.channel_count(), 0);
    assert_eq!(r.subscribe(&b, &chans(&["x"])), Err(SubscribeError::Closed));
    assert_eq!(r.channel_count(), 0);
}

#[test]
fn idle_connections_are_closed() {
    let r = registry(10, 5, 2);
    let now = Utc::now();
    let a = r.register(ident("t", "a"), Transport::WebSocket, Arc::new(NullSink), now).unwrap();
    r.register(ident("t", "b"), Transport::WebSocket, Arc::new(NullSink), now).unwrap();
    let later = now + chrono::Duration::seconds(200);
    a.touch(later);
    assert_eq!(r.close_idle_by(later, |_| std::time::Duration::from_millis(120_000)), 1);
}

#[test]
fn channel_info_is_per_tenant() {
    let r = registry(10, 5, 5);
    let now = Utc::now();
    let a = r.register(ident("t1", "a"), Transport::WebSocket, Arc::new(NullSink), now).unwrap();
    let a2 = r.register(ident("t1", "a"), Transport::Sse, Arc::new(NullSink), now).unwrap();
    let b = r.register(ident("t2", "b"), Transport::WebSocket, Arc::new(NullSink), now).unwrap();
    r.subscribe(&a, &chans(&["x", "y"])).unwrap();
    r.subscribe(&a2, &chans(&["x", "z"])).unwrap();
    r.subscribe(&b, &chans(&["x"])).unwrap();
    let t1 = a.identity.tenant.clone();
    assert_eq!(
        r.channels_of(&t1),
        vec![(chans(&["x"])[0].clone(), 2), (chans(&["y"])[0].clone(), 1), (chans(&["z"])[0].clone(), 1)]
    );
    assert_eq!(r.channel_subscribers(&t1, &chans(&["x"])[0]), Some(2));
    assert_eq!(r.channel_subscribers(&t1, &chans(&["nope"])[0]), None);
    assert_eq!(r.subscriptions_of(&a.identity.key()), Some((2, chans(&["x", "y", "z"]))));
    assert_eq!(r.subscriptions_of(&ident("t2", "a").key()), None);
}
