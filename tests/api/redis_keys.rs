//! Redis keys are `<prefix>:<rest>` whether `*_REDIS_KEY_PREFIX` is written with its trailing `:`
//! (as the reference shows it) or without.

use serde_json::json;

use crate::helpers::spawn_app;
use crate::redis_support::{shared_redis, unique};

#[tokio::test]
async fn a_prefix_written_with_its_colon_does_not_double_it() {
    let Some(url) = shared_redis().await else { return };
    let base = unique("ara-test-keys");
    let configured = format!("{base}:");
    let app =
        spawn_app(&[("QUEUE_BACKEND", "redis"), ("REDIS_URL", &url), ("QUEUE_REDIS_KEY_PREFIX", &configured)]).await;
    let report = app.send_to_user("ghost", "queued.for.later", json!({})).await;
    assert_eq!(report.delivered_to, 0);

    let client = redis::Client::open(url.as_str()).expect("a Redis URL");
    let mut con = client.get_multiplexed_async_connection().await.expect("Redis answers");
    let mut keys: Vec<String> =
        redis::cmd("KEYS").arg(format!("{base}*")).query_async(&mut con).await.expect("KEYS works");
    keys.sort();
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL").arg(&keys).query_async(&mut con).await.expect("DEL works");
    }
    assert_eq!(keys, [format!("{base}:oq-registry"), format!("{base}:oq:default:ghost")]);
}
