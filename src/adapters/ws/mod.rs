//! The WebSocket transport: `GET /ws?token=JWT` upgrades, connects through the service, and runs one
//! task that reads client frames and writes the connection's outbound queue.

mod protocol;
mod session;
mod upgrade;

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use tokio_util::task::TaskTracker;

use crate::ports::DynTransportMetrics;
use crate::service::NotificationService;

pub use protocol::{ClientFrame, ServerFrame};

/// What the WebSocket handlers share.
#[derive(Clone)]
pub struct WsState(Arc<WsShared>);

pub struct WsShared {
    pub service: Arc<NotificationService>,
    pub metrics: DynTransportMetrics,
    /// Connection tasks, awaited at shutdown.
    pub tasks: TaskTracker,
}

impl WsState {
    pub fn new(shared: WsShared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for WsState {
    type Target = WsShared;
    fn deref(&self) -> &WsShared {
        &self.0
    }
}

/// `GET /ws`.
pub fn router(state: WsState) -> Router {
    Router::new().route("/ws", get(upgrade::upgrade)).with_state(state)
}
