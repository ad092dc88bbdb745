//! Who a notification is for.

use super::{ChannelName, UserId, ValidationError};

/// A delivery target, always within the sender's tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    User(UserId),
    Users(Vec<UserId>),
    Broadcast,
    Channel(ChannelName),
    Channels(Vec<ChannelName>),
}

impl Target {
    /// At most this many users or channels in one multi-target send.
    pub const MAX_LIST_LEN: usize = 1000;

    pub fn users(raw: &[String]) -> Result<Self, ValidationError> {
        check_list("target_user_ids", raw.len())?;
        let mut users: Vec<UserId> = raw.iter().map(|u| UserId::parse(u)).collect::<Result<_, _>>()?;
        dedup_in_order(&mut users);
        Ok(Target::Users(users))
    }

    pub fn channels(raw: &[String]) -> Result<Self, ValidationError> {
        check_list("channels", raw.len())?;
        let mut chans: Vec<ChannelName> = raw.iter().map(|c| ChannelName::parse(c)).collect::<Result<_, _>>()?;
        dedup_in_order(&mut chans);
        Ok(Target::Channels(chans))
    }

    /// The label used in stats and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Target::User(_) => "user",
            Target::Users(_) => "users",
            Target::Broadcast => "broadcast",
            Target::Channel(_) => "channel",
            Target::Channels(_) => "channels",
        }
    }
}

fn check_list(field: &'static str, len: usize) -> Result<(), ValidationError> {
    if len == 0 {
        return Err(ValidationError::EmptyList { field });
    }
    if len > Target::MAX_LIST_LEN {
        return Err(ValidationError::TooMany { field, len, max: Target::MAX_LIST_LEN });
    }
    Ok(())
}

/// A user listed twice still gets one copy.
fn dedup_in_order<T: std::hash::Hash + Eq + Clone>(items: &mut Vec<T>) {
    let mut seen = std::collections::HashSet::with_capacity(items.len());
    items.retain(|i| seen.insert(i.clone()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_validated_and_deduplicated() {
        let t = Target::users(&["a".into(), "b".into(), "a".into()]).unwrap();
        assert_eq!(t, Target::Users(vec![UserId::parse("a").unwrap(), UserId::parse("b").unwrap()]));
        assert!(matches!(Target::users(&[]), Err(ValidationError::EmptyList { .. })));
        assert!(Target::channels(&["ok".into(), "bad name".into()]).is_err());
        let many: Vec<String> = (0..1001).map(|i| i.to_string()).collect();
        assert!(matches!(Target::users(&many), Err(ValidationError::TooMany { .. })));
    }
}
