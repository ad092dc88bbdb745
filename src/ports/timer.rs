//! Waiting, as a port: the delivery core bounds its store calls without knowing the runtime.
//!
//! Contract: `sleep(d)` resolves no earlier than `d` from the call and soon after; dropping it
//! cancels it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

pub trait Timer: Send + Sync {
    fn sleep(&self, duration: Duration) -> Sleep;
}

pub type DynTimer = Arc<dyn Timer>;
