//! What Ara talks to: one Redis server, or a Redis Cluster reached through seed nodes
//! (`REDIS_CLUSTER=true`). [`RedisConnection`] puts both connection kinds behind the crate's
//! `ConnectionLike`, so every store, script and pipeline runs unchanged on either; the cluster
//! connection routes each command (and each script, by its first key) to the master of its slot.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{AsyncPushSender, ConnectionLike, MultiplexedConnection};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::{
    AsyncConnectionConfig, Cmd, ConnectionInfo, Pipeline, ProtocolVersion, RedisFuture, RedisResult, TlsCertificates,
    Value,
};

use super::keys::KeyLayout;

/// The seed nodes of a Redis Cluster and the TLS material for every node; enough to build a client
/// for the shared connection and, with a push channel, one for each subscription.
#[derive(Clone)]
pub struct ClusterSeeds {
    pub nodes: Vec<ConnectionInfo>,
    pub certs: Option<TlsCertificates>,
}

impl ClusterSeeds {
    /// A client whose every connection attempt and reply is bounded by `timeout`; with `push`, on
    /// RESP3 with what the nodes push (Pub/Sub messages, disconnections) sent there.
    pub fn client(&self, timeout: Duration, push: Option<Arc<dyn AsyncPushSender>>) -> RedisResult<ClusterClient> {
        let mut builder =
            ClusterClientBuilder::new(self.nodes.clone()).connection_timeout(timeout).response_timeout(timeout);
        if let Some(certs) = &self.certs {
            builder = builder.certs(certs.clone());
        }
        if let Some(push) = push {
            builder = builder.use_protocol(ProtocolVersion::RESP3).push_sender(move |info| push.send(info));
        }
        builder.build()
    }

    /// `host:port,host:port` of the seeds (never the URLs, which may carry a password).
    pub fn addrs(&self) -> String {
        self.nodes.iter().map(|n| n.addr.to_string()).collect::<Vec<_>>().join(",")
    }
}

/// One Redis server or a Redis Cluster.
#[derive(Clone)]
pub enum RedisTarget {
    Single(redis::Client),
    Cluster(ClusterSeeds),
}

impl RedisTarget {
    pub fn layout(&self) -> KeyLayout {
        match self {
            RedisTarget::Single(_) => KeyLayout::Single,
            RedisTarget::Cluster(_) => KeyLayout::Cluster,
        }
    }

    pub fn addr(&self) -> String {
        match self {
            RedisTarget::Single(client) => client.get_connection_info().addr.to_string(),
            RedisTarget::Cluster(seeds) => seeds.addrs(),
        }
    }

    /// A command connection, bounded by `timeout` per attempt and per reply.
    pub async fn connect(&self, timeout: Duration) -> RedisResult<RedisConnection> {
        match self {
            RedisTarget::Single(client) => {
                let config = AsyncConnectionConfig::new().set_connection_timeout(timeout).set_response_timeout(timeout);
                Ok(RedisConnection::Single(client.get_multiplexed_async_connection_with_config(&config).await?))
            }
            RedisTarget::Cluster(seeds) => {
                Ok(RedisConnection::Cluster(seeds.client(timeout, None)?.get_async_connection().await?))
            }
        }
    }
}

/// A connection to one server or to the cluster; cheap to clone (both share their sockets).
#[derive(Clone)]
pub enum RedisConnection {
    Single(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            RedisConnection::Single(con) => con.req_packed_command(cmd),
            RedisConnection::Cluster(con) => con.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            RedisConnection::Single(con) => con.req_packed_commands(pipeline, offset, count),
            RedisConnection::Cluster(con) => con.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            RedisConnection::Single(con) => con.get_db(),
            RedisConnection::Cluster(con) => con.get_db(),
        }
    }
}
