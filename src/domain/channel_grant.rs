//! Private channels: which channel names need authorization, and whether a grant (an entry of a
//! token's `channels` claim) covers one.

/// Whether `pattern` covers `channel`: equal, or with each `*` standing for any run of characters
/// (none included). `private-team-*` covers `private-team-7`; `*` covers everything.
pub fn grant_covers(pattern: &str, channel: &str) -> bool {
    let mut parts = pattern.split('*');
    let Some(first) = parts.next() else { return false };
    let Some(mut rest) = channel.strip_prefix(first) else { return false };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        // No `*`: exact match.
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// Which channels are private: those whose name starts with the prefix (none when it is empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateChannels {
    pub prefix: String,
}

impl Default for PrivateChannels {
    fn default() -> Self {
        Self { prefix: "private-".into() }
    }
}

impl PrivateChannels {
    pub fn is_private(&self, channel: &str) -> bool {
        !self.prefix.is_empty() && channel.starts_with(&self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_match_exactly_or_by_pattern() {
        assert!(grant_covers("private-a", "private-a"));
        assert!(!grant_covers("private-a", "private-ab"));
        assert!(!grant_covers("private-ab", "private-a"));
        assert!(grant_covers("private-team-*", "private-team-7"));
        assert!(grant_covers("private-team-*", "private-team-"));
        assert!(!grant_covers("private-team-*", "private-other"));
        assert!(grant_covers("*", "anything"));
        assert!(grant_covers("private-*-ops", "private-eu-ops"));
        assert!(!grant_covers("private-*-ops", "private-eu-opsx"));
        assert!(grant_covers("private-*-*", "private-a-b"));
        assert!(!grant_covers("private-a*a", "private-a"), "the two a's cannot overlap");
        assert!(grant_covers("private-a*a", "private-aa"));
    }

    #[test]
    fn privacy_is_the_prefix() {
        let p = PrivateChannels::default();
        assert!(p.is_private("private-x") && !p.is_private("public") && !p.is_private("privatex"));
        assert!(!PrivateChannels { prefix: String::new() }.is_private("private-x"), "an empty prefix: none");
    }
}
