//! What every task of a run shares: the target, the token signer, the plan, and the measurements.

use std::sync::Arc;

use ara::adapters::auth::{JwtAuth, JwtSettings};
use tokio_util::sync::CancellationToken;

use crate::net::{Server, Sources};
use crate::plan::Plan;
use crate::stats::{Counters, Latency};

pub struct Ctx {
    pub server: Server,
    /// Where client connections go (client `i` to `clients[i % len]`); `[server]` by default.
    pub clients: Vec<Server>,
    pub sources: Sources,
    pub plan: Plan,
    pub api_key: Option<String>,
    jwt: JwtAuth,
    /// Distinguishes this run's users and channel from an earlier run's on the same server.
    pub run_id: String,
    pub counters: Counters,
    /// TCP connect → `connected` frame (or SSE `connected` event).
    pub connect_latency: Latency,
    /// HTTP request → response.
    pub http_latency: Latency,
    /// Payload send time → receipt by a client.
    pub delivery_latency: Latency,
    /// `Ping` frame → `pong` frame.
    pub pong_latency: Latency,
    /// Cancelled when clients should hang up.
    pub stop: CancellationToken,
}

pub struct Auth {
    pub secret: String,
    pub issuer: Option<String>,
    pub audience: Option<String>,
}

impl Ctx {
    pub fn new(
        server: Server,
        sources: Sources,
        plan: Plan,
        auth: Auth,
        api_key: Option<String>,
        run_id: Option<String>,
    ) -> Arc<Self> {
        let jwt = JwtAuth::new(JwtSettings { secret: auth.secret, issuer: auth.issuer, audience: auth.audience });
        Arc::new(Self {
            clients: Vec::new(),
            server,
            sources,
            plan,
            api_key,
            jwt,
            run_id: run_id.unwrap_or_else(|| format!("{:06x}", fastrand::u32(..0x0100_0000))),
            counters: Counters::default(),
            connect_latency: Latency::default(),
            http_latency: Latency::default(),
            delivery_latency: Latency::default(),
            pong_latency: Latency::default(),
            stop: CancellationToken::new(),
        })
    }

    /// With client connections spread over `clients` (a cluster run).
    pub fn with_clients(mut self: Arc<Self>, clients: Vec<Server>) -> Arc<Self> {
        if let Some(ctx) = Arc::get_mut(&mut self) {
            ctx.clients = clients;
        }
        self
    }

    /// The node client `i` connects to.
    pub fn client_server(&self, i: usize) -> &Server {
        match self.clients.len() {
            0 => &self.server,
            n => &self.clients[i % n],
        }
    }

    /// The user id of client `i`.
    pub fn user(&self, i: usize) -> String {
        format!("load-{}-{i}", self.run_id)
    }

    /// The channel of this run's fan-out (and of `ws` subscriptions, spread over ten channels).
    pub fn channel(&self, i: usize) -> String {
        match self.plan.scenario {
            crate::cli::Scenario::Ws => format!("load-{}-{}", self.run_id, i % 10),
            _ => format!("load-{}", self.run_id),
        }
    }

    /// A token for client `i`, valid well past the run's deadline.
    pub fn token(&self, i: usize) -> Result<String, String> {
        let ttl = self.plan.deadline().as_secs() + 3600;
        self.jwt.mint(&self.user(i), None, ttl).map_err(|e| format!("cannot sign a token: {e}"))
    }
}
