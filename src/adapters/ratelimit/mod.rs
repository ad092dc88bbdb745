//! Rate limiter adapters: `local` (governor, per node), `redis` (a Lua GCRA script, shared by every
//! node) and `fallback`, which puts the local one behind the Redis one for outages.

mod fallback;
mod local;

pub use fallback::{FallbackRateLimiter, FallbackStats};
pub use local::LocalRateLimiter;
