//! Key layout. On one Redis server every key is `<prefix>:…`, as it always was. On Redis Cluster a
//! script may only touch keys of one slot, so keys that a script uses together share a hash tag:
//!
//! - data that grows with the users (offline queues, ACK records) is spread over
//!   [`CLUSTER_BUCKETS`] buckets, each with its own tag `{<prefix>:<bucket>}` under which its keys
//!   and its index (queue registry, ACK deadline index and counters) live; the bucket is a stable
//!   hash of what the key is about, and sweepers walk every bucket;
//! - small node-wide state that scripts read as a whole (presence, the revocation log) lives under
//!   one tag, `{<prefix>}`, so on one shard.

use crate::domain::cluster::stable_hash;

/// Buckets per spread key family on Redis Cluster. Fixed: changing it would orphan what is stored
/// (a bucket is part of every key's name). 16 spreads over as many masters as most clusters have,
/// and a sweep costs one round trip per bucket.
pub const CLUSTER_BUCKETS: u16 = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyLayout {
    /// One Redis server: no hash tags, one bucket.
    Single,
    /// Redis Cluster: hash-tagged buckets.
    Cluster,
}

impl KeyLayout {
    /// The buckets to walk.
    pub fn buckets(self) -> impl Iterator<Item = u16> {
        let count = match self {
            KeyLayout::Single => 1,
            KeyLayout::Cluster => CLUSTER_BUCKETS,
        };
        0..count
    }

    /// The bucket of whatever `parts` name (a tenant and user, a notification id).
    pub fn bucket_of(self, parts: &[&[u8]]) -> u16 {
        match self {
            KeyLayout::Single => 0,
            // The remainder is below CLUSTER_BUCKETS, so it fits.
            KeyLayout::Cluster => (stable_hash(parts) % u64::from(CLUSTER_BUCKETS)) as u16,
        }
    }

    /// What every key of `bucket` starts with: `prefix` itself on one server, `{prefix:bucket}` on a
    /// cluster.
    pub fn bucket_prefix(self, prefix: &str, bucket: u16) -> String {
        match self {
            KeyLayout::Single => prefix.to_owned(),
            KeyLayout::Cluster => format!("{{{prefix}:{bucket}}}"),
        }
    }

    /// What keys that must share one slot start with: `prefix`, or `{prefix}` on a cluster.
    pub fn one_slot(self, prefix: &str) -> String {
        match self {
            KeyLayout::Single => prefix.to_owned(),
            KeyLayout::Cluster => format!("{{{prefix}}}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_server_keeps_the_old_names() {
        let layout = KeyLayout::Single;
        assert_eq!(layout.bucket_prefix("ara:queue", layout.bucket_of(&[b"t", b"alice"])), "ara:queue");
        assert_eq!(layout.one_slot("ara:cluster"), "ara:cluster");
        assert_eq!(layout.buckets().count(), 1);
    }

    #[test]
    fn a_cluster_spreads_stably_over_every_bucket() {
        let layout = KeyLayout::Cluster;
        let bucket = layout.bucket_of(&[b"t", b"alice"]);
        assert_eq!(bucket, layout.bucket_of(&[b"t", b"alice"]), "the same user, the same bucket");
        assert_eq!(layout.bucket_prefix("ara:queue", 3), "{ara:queue:3}");
        assert_eq!(layout.one_slot("ara:cluster"), "{ara:cluster}");
        let used: std::collections::HashSet<u16> =
            (0..1000).map(|n| layout.bucket_of(&[b"t", n.to_string().as_bytes()])).collect();
        assert_eq!(used.len(), usize::from(CLUSTER_BUCKETS), "a thousand users use every bucket");
    }
}
