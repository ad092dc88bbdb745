//! The tokio runtime behind the [`Timer`] port.

use std::time::Duration;

use crate::ports::{Sleep, Timer};

#[derive(Debug, Default, Clone, Copy)]
pub struct TokioTimer;

impl Timer for TokioTimer {
    fn sleep(&self, duration: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(duration))
    }
}
