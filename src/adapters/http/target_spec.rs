//! The `target` object of batch items (and of Redis Pub/Sub messages):
//! `{"type":"user","id"}`, `{"type":"users","ids"}`, `{"type":"broadcast"}`, `{"type":"channel","name"}`,
//! `{"type":"channels","names"}`.

use serde::Deserialize;

use crate::domain::{ChannelName, Target, UserId, ValidationError};

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum TargetSpec {
    User {
        #[schema(value_type = super::openapi::UserIdSchema)]
        id: String,
    },
    Users {
        #[schema(value_type = Vec<super::openapi::UserIdSchema>, min_items = 1, max_items = 1000)]
        ids: Vec<String>,
    },
    Broadcast,
    Channel {
        #[schema(value_type = super::openapi::ChannelNameSchema)]
        name: String,
    },
    Channels {
        #[schema(value_type = Vec<super::openapi::ChannelNameSchema>, min_items = 1, max_items = 1000)]
        names: Vec<String>,
    },
}

impl TargetSpec {
    pub fn into_target(self) -> Result<Target, ValidationError> {
        Ok(match self {
            TargetSpec::User { id } => Target::User(UserId::parse(&id)?),
            TargetSpec::Users { ids } => Target::users(&ids)?,
            TargetSpec::Broadcast => Target::Broadcast,
            TargetSpec::Channel { name } => Target::Channel(ChannelName::parse(&name)?),
            TargetSpec::Channels { names } => Target::channels(&names)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_documented_shape() {
        let t: TargetSpec = serde_json::from_str(r#"{"type":"user","id":"u1"}"#).unwrap();
        assert_eq!(t.into_target().unwrap(), Target::User(UserId::parse("u1").unwrap()));
        let t: TargetSpec = serde_json::from_str(r#"{"type":"channels","names":["a","b"]}"#).unwrap();
        assert!(matches!(t.into_target().unwrap(), Target::Channels(c) if c.len() == 2));
        let t: TargetSpec = serde_json::from_str(r#"{"type":"broadcast"}"#).unwrap();
        assert_eq!(t.into_target().unwrap(), Target::Broadcast);
        assert!(serde_json::from_str::<TargetSpec>(r#"{"type":"planet"}"#).is_err());
        let t: TargetSpec = serde_json::from_str(r#"{"type":"channel","name":"bad name"}"#).unwrap();
        assert!(t.into_target().is_err());
    }
}
