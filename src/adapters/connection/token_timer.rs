//! The timer a transport keeps for its connection's token: it fires when the service says a check
//! is due (`token_expiring` to send, or the close), and is re-armed only when the token changed or
//! after it fired, so the writer's loop pays one atomic load per turn, not a timer per frame.

use std::pin::Pin;

use tokio::time::{Instant, Sleep};

use crate::service::ConnectionHandle;

pub struct TokenTimer {
    sleep: Pin<Box<Sleep>>,
    /// The token generation the timer was armed for; `None` to re-arm on the next wait.
    armed_for: Option<u64>,
    active: bool,
}

impl Default for TokenTimer {
    fn default() -> Self {
        Self { sleep: Box::pin(tokio::time::sleep_until(Instant::now())), armed_for: None, active: false }
    }
}

impl TokenTimer {
    /// Resolves when [`ConnectionHandle::check_token`] has something to do; never for a connection
    /// without a token.
    pub async fn due(&mut self, handle: &ConnectionHandle) {
        let generation = handle.token_generation();
        if self.armed_for != Some(generation) {
            self.armed_for = Some(generation);
            self.active = match handle.token_due() {
                Some(at) => {
                    let wait = (at - chrono::Utc::now()).to_std().unwrap_or_default();
                    self.sleep.as_mut().reset(Instant::now() + wait);
                    true
                }
                None => false,
            };
        }
        if !self.active {
            return std::future::pending().await;
        }
        self.sleep.as_mut().await;
        // Fired: whatever was due is handled now, and the next due time is asked for on the next wait.
        self.armed_for = None;
    }
}
