//! What the WebSocket and SSE transports share: the bounded per-connection outbound queue, the
//! registration guard, the authenticate-and-register step that precedes both, and their write spans.

mod open;
mod registration;
pub mod write_span;

pub use open::{authenticate, bearer_token, open_connection, TokenQuery};
pub use registration::Registration;
