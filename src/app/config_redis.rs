//! The checks of every setting the shared Redis connection and the Redis Pub/Sub trigger read
//! (`REDIS_PUBSUB_ENABLED`, `REDIS_CHANNELS`, `REDIS_TIMEOUT_MS`, `REDIS_BREAKER_*`,
//! `REDIS_RECONNECT_*`, `REDIS_PUBSUB_KEEPALIVE_MS`, `REDIS_PUBSUB_CANARY_INTERVAL_MS`, and the key
//! prefixes with `REDIS_CLUSTER`).

use super::{ConfigError, Settings};

pub(super) fn validate(s: &Settings) -> Result<(), ConfigError> {
    let invalid = |setting: &str, message: String| Err(ConfigError::Invalid { setting: setting.into(), message });
    let redis = &s.redis;
    if redis.pubsub_enabled {
        if s.redis_url().is_none() {
            return invalid("REDIS_URL", "must be set when REDIS_PUBSUB_ENABLED is true".into());
        }
        if redis.channel_list().is_empty() {
            return invalid("REDIS_CHANNELS", "must name at least one channel".into());
        }
    }
    for (name, value) in [
        ("REDIS_TIMEOUT_MS", redis.timeout_ms),
        ("REDIS_BREAKER_FAILURE_THRESHOLD", u64::from(redis.breaker_failure_threshold)),
        ("REDIS_BREAKER_SUCCESS_THRESHOLD", u64::from(redis.breaker_success_threshold)),
        ("REDIS_BREAKER_OPEN_MS", redis.breaker_open_ms),
        ("REDIS_RECONNECT_MIN_DELAY_MS", redis.reconnect_min_delay_ms),
        ("REDIS_PUBSUB_KEEPALIVE_MS", redis.pubsub_keepalive_ms),
        ("REDIS_PUBSUB_CANARY_INTERVAL_MS", redis.pubsub_canary_interval_ms),
    ] {
        if value == 0 {
            return invalid(name, "must be greater than 0".into());
        }
    }
    if redis.cluster {
        // A prefix with its own hash tag would pin every bucket of it to one slot.
        for (name, prefix) in [
            ("QUEUE_REDIS_KEY_PREFIX", &s.queue.redis_key_prefix),
            ("ACK_REDIS_KEY_PREFIX", &s.ack.redis_key_prefix),
            ("CLUSTER_REDIS_KEY_PREFIX", &s.cluster.redis_key_prefix),
            ("RATELIMIT_REDIS_KEY_PREFIX", &s.ratelimit.redis_key_prefix),
            ("REVOCATION_REDIS_KEY_PREFIX", &s.revocation.redis_key_prefix),
        ] {
            if prefix.contains(['{', '}']) {
                let message = "must not contain { or } with REDIS_CLUSTER=true (Ara adds the hash tags itself)";
                return invalid(name, message.into());
            }
        }
    }
    if redis.reconnect_max_delay_ms < redis.reconnect_min_delay_ms {
        return invalid("REDIS_RECONNECT_MAX_DELAY_MS", "must not be below REDIS_RECONNECT_MIN_DELAY_MS".into());
    }
    Ok(())
}
