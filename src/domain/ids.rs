//! Identifiers parsed at the edge: once a value of these types exists, it is valid.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::ValidationError;

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

/// A tenant: the isolation boundary for users, channels and broadcasts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct TenantId(Arc<str>);

impl TryFrom<String> for TenantId {
    type Error = ValidationError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<TenantId> for String {
    fn from(v: TenantId) -> String {
        v.0.to_string()
    }
}

impl TenantId {
    pub const DEFAULT: &'static str = "default";

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        if raw.is_empty() || raw.len() > 64 || !raw.chars().all(is_name_char) {
            return Err(ValidationError::InvalidTenantId { id: truncate(raw) });
        }
        Ok(Self(raw.into()))
    }

    pub fn default_tenant() -> Self {
        Self(Self::DEFAULT.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A user id as the tenant's own system knows it (the JWT `sub`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct UserId(Arc<str>);

impl TryFrom<String> for UserId {
    type Error = ValidationError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<UserId> for String {
    fn from(v: UserId) -> String {
        v.0.to_string()
    }
}

impl UserId {
    pub const MAX_LEN: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        if raw.is_empty() || raw.chars().count() > Self::MAX_LEN || raw.chars().any(char::is_control) {
            return Err(ValidationError::InvalidUserId);
        }
        Ok(Self(raw.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A channel name, unique within a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct ChannelName(Arc<str>);

impl TryFrom<String> for ChannelName {
    type Error = ValidationError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<ChannelName> for String {
    fn from(v: ChannelName) -> String {
        v.0.to_string()
    }
}

impl ChannelName {
    pub const MAX_LEN: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        if raw.is_empty() || raw.len() > Self::MAX_LEN || !raw.chars().all(is_name_char) {
            return Err(ValidationError::InvalidChannelName { name: truncate(raw) });
        }
        Ok(Self(raw.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A user within its tenant: the key of every per-user index and queue.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserKey {
    pub tenant: TenantId,
    pub user: UserId,
}

impl UserKey {
    pub fn new(tenant: TenantId, user: UserId) -> Self {
        Self { tenant, user }
    }
}

/// Who is on the other end of a connection, as proven by its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub tenant: TenantId,
    pub user: UserId,
}

impl Identity {
    pub fn key(&self) -> UserKey {
        UserKey::new(self.tenant.clone(), self.user.clone())
    }
}

/// A live connection, unique within one running node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConnectionId(pub u64);

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Invalid input is echoed back in errors; keep the echo short.
fn truncate(raw: &str) -> String {
    raw.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_follow_the_rules() {
        assert!(ChannelName::parse("orders.eu-1_x").is_ok());
        assert!(ChannelName::parse(&"a".repeat(64)).is_ok());
        assert!(ChannelName::parse(&"a".repeat(65)).is_err());
        assert!(ChannelName::parse("").is_err());
        assert!(ChannelName::parse("with space").is_err());
        assert!(ChannelName::parse("tenant:chan").is_err());
        assert!(ChannelName::parse("ünicode").is_err());
    }

    #[test]
    fn user_ids_follow_the_rules() {
        assert!(UserId::parse("user-1@example.com").is_ok());
        assert!(UserId::parse(&"u".repeat(128)).is_ok());
        assert!(UserId::parse(&"u".repeat(129)).is_err());
        assert!(UserId::parse("").is_err());
        assert!(UserId::parse("a\nb").is_err());
    }

    #[test]
    fn tenant_ids_follow_the_rules() {
        assert!(TenantId::parse("acme-corp").is_ok());
        assert!(TenantId::parse("").is_err());
        assert!(TenantId::parse("a/b").is_err());
        assert_eq!(TenantId::default_tenant().as_str(), "default");
    }
}

/// How a client is connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    WebSocket,
    Sse,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::WebSocket => "websocket",
            Transport::Sse => "sse",
        }
    }
}
