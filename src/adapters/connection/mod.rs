//! What the WebSocket and SSE transports share: where a client's token comes from, and their write
//! spans. Everything else they do goes through the service's `connect` and the `ConnectionHandle` it
//! returns.

mod open;
pub mod token_timer;
pub mod write_span;

pub use open::{bearer_token, TokenQuery};
pub use token_timer::TokenTimer;
