//! The WebSocket transport: `GET /ws?token=JWT` upgrades, registers the connection, and runs one task
//! that reads client frames and one that writes the connection's outbound queue.

mod protocol;
mod session;
mod upgrade;

pub use protocol::{ClientFrame, ServerFrame};
pub use upgrade::upgrade;
