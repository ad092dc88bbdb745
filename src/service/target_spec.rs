//! The `target` object of batch items (and of Redis Pub/Sub messages):
//! `{"type":"user","id"}`, `{"type":"users","ids"}`, `{"type":"broadcast"}`, `{"type":"channel","name"}`,
//! `{"type":"channels","names"}`.

use serde::Deserialize;

use crate::domain::{ChannelName, Target, UserId, ValidationError};

/// Unknown fields are refused; `Broadcast` is an empty struct variant rather than a unit one because
/// serde ignores extra fields next to the tag of a unit variant.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum TargetSpec {
    User {
        #[schema(value_type = crate::domain::UserId)]
        id: String,
    },
    Users {
        #[schema(value_type = Vec<crate::domain::UserId>, min_items = 1, max_items = 1000)]
        ids: Vec<String>,
    },
    Broadcast {},
    Channel {
        #[schema(value_type = crate::domain::ChannelName)]
        name: String,
    },
    Channels {
        #[schema(value_type = Vec<crate::domain::ChannelName>, min_items = 1, max_items = 1000)]
        names: Vec<String>,
    },
}

impl TargetSpec {
    pub fn to_target(&self) -> Result<Target, ValidationError> {
        Ok(match self {
            TargetSpec::User { id } => Target::User(UserId::parse(id)?),
            TargetSpec::Users { ids } => Target::users(ids)?,
            TargetSpec::Broadcast {} => Target::Broadcast,
            TargetSpec::Channel { name } => Target::Channel(ChannelName::parse(name)?),
            TargetSpec::Channels { names } => Target::channels(names)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_documented_shape() {
        let t: TargetSpec = serde_json::from_str(r#"{"type":"user","id":"u1"}"#).unwrap();
        assert_eq!(t.to_target().unwrap(), Target::User(UserId::parse("u1").unwrap()));
        let t: TargetSpec = serde_json::from_str(r#"{"type":"channels","names":["a","b"]}"#).unwrap();
        assert!(matches!(t.to_target().unwrap(), Target::Channels(c) if c.len() == 2));
        let t: TargetSpec = serde_json::from_str(r#"{"type":"broadcast"}"#).unwrap();
        assert_eq!(t.to_target().unwrap(), Target::Broadcast);
        assert!(serde_json::from_str::<TargetSpec>(r#"{"type":"planet"}"#).is_err());
        let t: TargetSpec = serde_json::from_str(r#"{"type":"channel","name":"bad name"}"#).unwrap();
        assert!(t.to_target().is_err());
    }

    #[test]
    fn refuses_unknown_fields_naming_them() {
        for raw in [r#"{"type":"user","id":"u1","tenant":"acme"}"#, r#"{"type":"broadcast","tenant":"acme"}"#] {
            let e = serde_json::from_str::<TargetSpec>(raw).unwrap_err().to_string();
            assert!(e.contains("unknown field `tenant`"), "{raw}: {e}");
        }
    }
}
