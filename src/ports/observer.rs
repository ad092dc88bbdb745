//! The one seam every connection's life passes through: the service tells each observer when a
//! connection opens, changes its subscriptions and closes. Metrics observe it today; presence, cluster
//! routing and the admin dashboard hang off the same seam.
//!
//! Contract: called inline on the connection's path, so an observer returns at once (no I/O, no
//! waiting); `closed` is called exactly once per `opened`, with how long the connection lived.

use std::sync::Arc;
use std::time::Duration;

use crate::domain::{ChannelName, ConnectionId, Identity, Transport};

/// What an observer learns about a connection.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionInfo<'a> {
    pub id: ConnectionId,
    pub identity: &'a Identity,
    pub transport: Transport,
}

pub trait ConnectionObserver: Send + Sync {
    fn opened(&self, connection: ConnectionInfo<'_>);
    fn closed(&self, connection: ConnectionInfo<'_>, lived: Duration);
    fn subscribed(&self, _connection: ConnectionInfo<'_>, _channels: &[ChannelName]) {}
    fn unsubscribed(&self, _connection: ConnectionInfo<'_>, _channels: &[ChannelName]) {}
}

pub type DynConnectionObserver = Arc<dyn ConnectionObserver>;
