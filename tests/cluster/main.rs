//! Cluster tests: three processes of the real `ara` binary on loopback sharing one Redis (the shared
//! server, or a private `redis-server` where the test stops it), driven by real HTTP and WebSocket
//! clients and audited by notification id.
//!
//! - `routing`: a send to one node reaches a user on another once; devices on two nodes both get it;
//!   channel and broadcast sends reach every subscriber once; a Pub/Sub message is queued once for
//!   an offline user; sends racing a replay on another node lose nothing.
//! - `failures`: a node SIGKILLed under traffic (presence gone within the ttl, its users' queue
//!   replayed on another node in order); Redis stopped and started (every node not ready, then
//!   ready and delivering without a restart); one node cut off from Redis by a TCP proxy (that node
//!   not ready, the others unaffected).
//! - `on_redis_cluster`: the same promises with `REDIS_CLUSTER=true` on a three-master Redis
//!   Cluster the test starts (sharded bus, hash-tagged keys).

mod failures;
#[allow(dead_code)]
#[path = "../support/fault_proxy.rs"]
mod fault_proxy;
mod node;
mod on_redis_cluster;
#[allow(dead_code)]
#[path = "../support/redis_cluster.rs"]
mod redis_cluster;
#[allow(dead_code)]
#[path = "../api/redis_support.rs"]
mod redis_support;
mod routing;
mod tenant_quotas;
