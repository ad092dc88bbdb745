//! The vocabulary of cluster mode: node ids, the topics nodes publish on, what presence counts, and
//! the envelope a notification crosses the bus in. Pure data; the ports and adapters move it.

use std::fmt;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};

use super::{ChannelName, TenantId, UserId, UserKey, ValidationError};

/// One node (process) of a cluster. Two live nodes never share one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct NodeId(Arc<str>);

impl NodeId {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let ok = !raw.is_empty()
            && raw.len() <= 64
            && raw.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !ok {
            return Err(ValidationError::InvalidNodeId { id: raw.chars().take(80).collect() });
        }
        Ok(Self(raw.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for NodeId {
    type Error = ValidationError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<NodeId> for String {
    fn from(v: NodeId) -> String {
        v.0.to_string()
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a bus message goes: one node, or every node that has local interest in a tenant's channel
/// or in the tenant's broadcasts (any live connection of the tenant).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Topic {
    Node(NodeId),
    Channel(TenantId, ChannelName),
    Tenant(TenantId),
}

impl Topic {
    /// The topic's name below the cluster prefix; the separators cannot occur inside a name.
    pub fn name(&self) -> String {
        match self {
            Topic::Node(node) => format!("node:{node}"),
            Topic::Channel(tenant, channel) => format!("chan:{tenant}:{channel}"),
            Topic::Tenant(tenant) => format!("tenant:{tenant}"),
        }
    }
}

/// What presence counts per node: a user's connections, a channel's subscribers, or one of a
/// tenant's totals on the node.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PresenceKey {
    User(UserKey),
    Channel(TenantId, ChannelName),
    Tenant(TenantId, TenantMeasure),
}

/// A tenant's totals on one node, which summed over the live nodes give the cluster's. (Distinct
/// users and channels are not sums: they are counted from the user and channel keys themselves.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TenantMeasure {
    Connections,
    /// Notifications the node accepted on one UTC day (days since the epoch).
    MessagesOn(i64),
    /// Notifications the node accepted since it started.
    Messages,
}

impl PresenceKey {
    /// What every user key's name starts with.
    pub const USERS: &'static str = "user:";
    /// What every channel key's name starts with.
    pub const CHANNELS: &'static str = "chan:";

    /// What the names of a tenant's user keys start with (tenant ids hold no `:`).
    pub fn user_prefix(tenant: &TenantId) -> String {
        format!("{}{tenant}:", Self::USERS)
    }

    /// What the names of a tenant's channel keys start with.
    pub fn channel_prefix(tenant: &TenantId) -> String {
        format!("{}{tenant}:", Self::CHANNELS)
    }

    /// The tenant id in a user or channel key's name.
    pub fn tenant_in(name: &str) -> Option<&str> {
        let rest = name.strip_prefix(Self::USERS).or_else(|| name.strip_prefix(Self::CHANNELS))?;
        rest.split_once(':').map(|(tenant, _)| tenant)
    }

    /// The channel a key name of `tenant` stands for, if it is one.
    pub fn channel_of(tenant: &TenantId, name: &str) -> Option<ChannelName> {
        name.strip_prefix(&Self::channel_prefix(tenant)).and_then(|rest| ChannelName::parse(rest).ok())
    }

    pub fn name(&self) -> String {
        match self {
            PresenceKey::User(key) => format!("{}{}", Self::user_prefix(&key.tenant), key.user),
            PresenceKey::Channel(tenant, channel) => format!("{}{channel}", Self::channel_prefix(tenant)),
            PresenceKey::Tenant(tenant, measure) => match measure {
                TenantMeasure::Connections => format!("tenant:{tenant}:conns"),
                TenantMeasure::MessagesOn(day) => format!("tenant:{tenant}:msgs:{day}"),
                TenantMeasure::Messages => format!("tenant:{tenant}:msgs"),
            },
        }
    }
}

/// A live node as presence last heard of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeStatus {
    pub node_id: NodeId,
    /// Live connections the node reported with its last heartbeat.
    pub connections: usize,
}

/// How many of something (connections, subscribers) one node holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeCount {
    pub node_id: NodeId,
    pub connections: usize,
}

/// Who a bus message is for on the node that receives it: it is only fanned out locally there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum Route {
    /// These users' local connections (live, else queued by the receiver).
    Users { ids: Vec<UserId> },
    /// Local subscribers of any of these channels, once each.
    Channels { names: Vec<ChannelName> },
    /// Every local connection of the tenant.
    Broadcast,
    /// A node's own readiness probe; carries no notification.
    Canary { stamp_ms: i64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Header {
    origin: NodeId,
    tenant: TenantId,
    route: Route,
}

/// One bus message: its header and the notification's client frame, written once by the sending
/// node and decoded by the receiver with `Notification::decode`.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub origin: NodeId,
    pub tenant: TenantId,
    pub route: Route,
    /// Empty for a canary.
    pub frame: Bytes,
}

/// A bus message that is not an envelope.
#[derive(Debug, thiserror::Error)]
#[error("not a cluster envelope: {0}")]
pub struct EnvelopeError(String);

impl Envelope {
    /// The header as one line of JSON (compact JSON never holds a raw newline), then the frame.
    pub fn encode(&self) -> Bytes {
        let header = Header { origin: self.origin.clone(), tenant: self.tenant.clone(), route: self.route.clone() };
        // Names and numbers only: serializing cannot fail.
        let head = serde_json::to_vec(&header).unwrap_or_default();
        let mut out = BytesMut::with_capacity(head.len() + 1 + self.frame.len());
        out.put_slice(&head);
        out.put_u8(b'\n');
        out.put_slice(&self.frame);
        out.freeze()
    }

    pub fn decode(raw: Bytes) -> Result<Self, EnvelopeError> {
        let split = raw.iter().position(|b| *b == b'\n').ok_or_else(|| EnvelopeError("no header line".into()))?;
        let header: Header = serde_json::from_slice(&raw[..split]).map_err(|e| EnvelopeError(e.to_string()))?;
        Ok(Self { origin: header.origin, tenant: header.tenant, route: header.route, frame: raw.slice(split + 1..) })
    }
}

/// A stable 64-bit FNV-1a hash: the same bytes give the same value on every node and build, which
/// `std`'s hasher does not promise.
pub fn stable_hash(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.iter().chain(&[0xff]) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_are_names() {
        assert!(NodeId::parse("node-1.a_b").is_ok());
        assert!(NodeId::parse("").is_err());
        assert!(NodeId::parse("a:b").is_err());
        assert!(NodeId::parse(&"n".repeat(65)).is_err());
    }

    #[test]
    fn an_envelope_reads_back() {
        let e = Envelope {
            origin: NodeId::parse("n1").unwrap(),
            tenant: TenantId::default_tenant(),
            route: Route::Users { ids: vec![UserId::parse("alice").unwrap()] },
            frame: Bytes::from_static(b"{\"type\":\"notification\",\n\"x\":1}"),
        };
        assert_eq!(Envelope::decode(e.encode()).unwrap(), e);
        assert!(Envelope::decode(Bytes::from_static(b"{}")).is_err());
    }

    #[test]
    fn the_hash_is_stable_and_separates_parts() {
        assert_eq!(stable_hash(&[b"a", b"bc"]), stable_hash(&[b"a", b"bc"]));
        assert_ne!(stable_hash(&[b"ab", b"c"]), stable_hash(&[b"a", b"bc"]));
        assert_eq!(stable_hash(&[b""]), 0xaf64_724c_8602_eb6e);
    }
}
