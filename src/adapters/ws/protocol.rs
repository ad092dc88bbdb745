//! The JSON frames of the WebSocket protocol. Client frames are PascalCase (`Subscribe`), server
//! frames lowercase (`subscribed`), as documented in docs/PROTOCOL.md.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::domain::ConnectionId;
use crate::ports::OutboundFrame;

/// A client frame. Unknown fields, beside `type` and `payload` or inside `payload`, make it invalid
/// (`INVALID_FRAME` naming the field): read through [`WireFrame`], since serde has no per-variant
/// `deny_unknown_fields`.
#[derive(Debug, Deserialize)]
#[serde(from = "WireFrame")]
pub enum ClientFrame {
    /// `token`: a channel subscription token for a private channel.
    Subscribe {
        channels: Vec<String>,
        token: Option<String>,
    },
    Unsubscribe {
        channels: Vec<String>,
    },
    Ping,
    Ack {
        notification_id: String,
    },
    /// A new token for the same user and tenant, before the current one expires.
    Refresh {
        token: String,
    },
}

#[derive(Deserialize)]
#[serde(tag = "type", content = "payload", deny_unknown_fields)]
enum WireFrame {
    #[serde(alias = "subscribe")]
    Subscribe(SubscribePayload),
    #[serde(alias = "unsubscribe")]
    Unsubscribe(Channels),
    #[serde(alias = "ping")]
    Ping,
    #[serde(alias = "ack")]
    Ack(AckPayload),
    #[serde(alias = "refresh")]
    Refresh(RefreshPayload),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshPayload {
    token: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Channels {
    channels: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubscribePayload {
    channels: Vec<String>,
    #[serde(default)]
    token: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AckPayload {
    notification_id: String,
}

impl From<WireFrame> for ClientFrame {
    fn from(frame: WireFrame) -> Self {
        match frame {
            WireFrame::Subscribe(SubscribePayload { channels, token }) => ClientFrame::Subscribe { channels, token },
            WireFrame::Unsubscribe(Channels { channels }) => ClientFrame::Unsubscribe { channels },
            WireFrame::Ping => ClientFrame::Ping,
            WireFrame::Ack(AckPayload { notification_id }) => ClientFrame::Ack { notification_id },
            WireFrame::Refresh(RefreshPayload { token }) => ClientFrame::Refresh { token },
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame<'a> {
    Connected {
        connection_id: ConnectionId,
        user_id: &'a str,
        tenant_id: &'a str,
    },
    Subscribed {
        channels: Vec<&'a str>,
    },
    Unsubscribed {
        channels: Vec<&'a str>,
    },
    Pong,
    Acked {
        notification_id: &'a str,
    },
    Error {
        code: &'a str,
        message: &'a str,
    },
    /// `count` notifications were dropped because the client read too slowly (`drop_oldest` policy).
    Dropped {
        count: u64,
    },
    /// The connection's token ends at `expires_at`; without a `Refresh` the connection is closed at
    /// `closes_at` (`exp` plus the clock-skew leeway).
    TokenExpiring {
        expires_at: chrono::DateTime<chrono::Utc>,
        closes_at: chrono::DateTime<chrono::Utc>,
        expires_in_seconds: i64,
    },
    /// A `Refresh` was accepted: the connection now lasts until `expires_at`.
    TokenRefreshed {
        expires_at: chrono::DateTime<chrono::Utc>,
    },
}

impl ServerFrame<'_> {
    pub fn event(&self) -> &'static str {
        match self {
            ServerFrame::Connected { .. } => "connected",
            ServerFrame::Subscribed { .. } => "subscribed",
            ServerFrame::Unsubscribed { .. } => "unsubscribed",
            ServerFrame::Pong => "pong",
            ServerFrame::Acked { .. } => "acked",
            ServerFrame::Error { .. } => "error",
            ServerFrame::Dropped { .. } => "dropped",
            ServerFrame::TokenExpiring { .. } => "token_expiring",
            ServerFrame::TokenRefreshed { .. } => "token_refreshed",
        }
    }

    pub fn to_outbound(&self) -> OutboundFrame {
        // Only strings, integers and timestamps: serialization cannot fail.
        let json = serde_json::to_vec(self).unwrap_or_default();
        OutboundFrame::control(self.event(), Bytes::from(json))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_documented_client_frames() {
        let f: ClientFrame = serde_json::from_str(r#"{"type":"Subscribe","payload":{"channels":["a"]}}"#).unwrap();
        assert!(matches!(f, ClientFrame::Subscribe { channels, token: None } if channels == ["a"]));
        let f: ClientFrame = serde_json::from_str(r#"{"type":"Ping"}"#).unwrap();
        assert!(matches!(f, ClientFrame::Ping));
        let f: ClientFrame = serde_json::from_str(r#"{"type":"Ack","payload":{"notification_id":"x"}}"#).unwrap();
        assert!(matches!(f, ClientFrame::Ack { .. }));
        assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"Nope"}"#).is_err());
        let f: ClientFrame = serde_json::from_str(r#"{"type":"subscribe","payload":{"channels":[]}}"#).unwrap();
        assert!(matches!(f, ClientFrame::Subscribe { .. }), "lowercase types are accepted too");
        let f: ClientFrame = serde_json::from_str(r#"{"type":"Refresh","payload":{"token":"t"}}"#).unwrap();
        assert!(matches!(f, ClientFrame::Refresh { token } if token == "t"));
    }

    #[test]
    fn refuses_unknown_fields_naming_them() {
        for (raw, field) in [
            (r#"{"type":"Subscribe","payload":{"channels":["a"],"chanels":["b"]}}"#, "chanels"),
            (r#"{"type":"Ack","payload":{"notification_id":"x","extra":1}}"#, "extra"),
            (r#"{"type":"Ping","id":1}"#, "id"),
        ] {
            let e = serde_json::from_str::<ClientFrame>(raw).unwrap_err().to_string();
            assert!(e.contains(&format!("\"{field}\"")) || e.contains(&format!("`{field}`")), "{raw}: {e}");
        }
    }

    #[test]
    fn server_frames_are_lowercase() {
        let v: serde_json::Value = serde_json::from_slice(&ServerFrame::Pong.to_outbound().json).unwrap();
        assert_eq!(v, serde_json::json!({"type": "pong"}));
        let e = ServerFrame::Error { code: "X", message: "m" }.to_outbound();
        let v: serde_json::Value = serde_json::from_slice(&e.json).unwrap();
        assert_eq!(v, serde_json::json!({"type": "error", "code": "X", "message": "m"}));
    }
}
