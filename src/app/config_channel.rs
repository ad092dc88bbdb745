//! The `CHANNEL_*` settings: which channels are private.

use serde::{Deserialize, Serialize};

use super::values::string_like;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ChannelSettings {
    /// `CHANNEL_PRIVATE_PREFIX`: channels whose name starts with it need authorization (a token's
    /// `channels` claim or a subscription token); empty: no channel is private.
    #[serde(deserialize_with = "string_like")]
    pub private_prefix: String,
}

impl Default for ChannelSettings {
    fn default() -> Self {
        Self { private_prefix: "private-".into() }
    }
}
