//! The token a live connection holds: set at connect, replaced by a refresh, read by the lifetime
//! timer (warn before `exp`, close after it), by revocation (its `jti` and `iat`) and by private
//! channel checks (its `channels` claim).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;

use crate::domain::VerifiedToken;

/// When a connection hears about its token's end, and when the end comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenPolicy {
    /// `token_expiring` is sent this long before `exp` (at once for a token with less left).
    pub notice: Duration,
    /// The connection is closed this long after `exp` (the clock-skew leeway the token was accepted
    /// with), unless a refresh came first.
    pub leeway: Duration,
}

impl Default for TokenPolicy {
    fn default() -> Self {
        Self { notice: Duration::from_secs(60), leeway: Duration::from_secs(30) }
    }
}

/// What the lifetime timer should do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenCheck {
    /// Nothing is due (a refresh moved the dates, or there is no token).
    Fine,
    /// Tell the client, once per token: it ends at `expires_at`, the connection closes at `closes_at`.
    Expiring { expires_at: DateTime<Utc>, closes_at: DateTime<Utc> },
    /// Past `exp` plus leeway: close the connection.
    Expired,
}

struct Held {
    token: Arc<VerifiedToken>,
    warned: bool,
}

#[derive(Default)]
pub struct TokenSlot {
    held: Mutex<Option<Held>>,
    /// Bumped on every change, so a timer knows when to look again.
    generation: AtomicU64,
}

fn after(at: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    at + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

fn before(at: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    at - chrono::Duration::from_std(d).unwrap_or(chrono::Duration::zero())
}

impl TokenSlot {
    /// Holds `token` from now on (a new one has not been warned about).
    pub fn set(&self, token: VerifiedToken) {
        *self.held.lock() = Some(Held { token: Arc::new(token), warned: false });
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    pub fn get(&self) -> Option<Arc<VerifiedToken>> {
        self.held.lock().as_ref().map(|h| h.token.clone())
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// When the next [`TokenSlot::check`] has something to do; `None` without a token.
    pub fn next_due(&self, policy: &TokenPolicy) -> Option<DateTime<Utc>> {
        let held = self.held.lock();
        let held = held.as_ref()?;
        Some(if held.warned {
            after(held.token.expires_at, policy.leeway)
        } else {
            before(held.token.expires_at, policy.notice)
        })
    }

    /// What is due at `now`; marks the warning as given when it returns [`TokenCheck::Expiring`].
    pub fn check(&self, now: DateTime<Utc>, policy: &TokenPolicy) -> TokenCheck {
        let mut held = self.held.lock();
        let Some(held) = held.as_mut() else { return TokenCheck::Fine };
        let expires_at = held.token.expires_at;
        let closes_at = after(expires_at, policy.leeway);
        if now >= closes_at {
            return TokenCheck::Expired;
        }
        if !held.warned && now >= before(expires_at, policy.notice) {
            held.warned = true;
            return TokenCheck::Expiring { expires_at, closes_at };
        }
        TokenCheck::Fine
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Identity, TenantId, UserId};

    fn token(expires_at: DateTime<Utc>) -> VerifiedToken {
        VerifiedToken {
            identity: Identity { tenant: TenantId::default_tenant(), user: UserId::parse("u").unwrap() },
            expires_at,
            issued_at: None,
            jti: None,
            channels: vec![],
            channel: None,
            key_id: None,
        }
    }

    #[test]
    fn warns_once_before_exp_then_expires_after_the_leeway() {
        let policy = TokenPolicy { notice: Duration::from_secs(60), leeway: Duration::from_secs(30) };
        let slot = TokenSlot::default();
        assert_eq!(slot.next_due(&policy), None);
        let t0 = Utc::now();
        let exp = t0 + chrono::Duration::seconds(300);
        slot.set(token(exp));
        assert_eq!(slot.next_due(&policy), Some(exp - chrono::Duration::seconds(60)));
        assert_eq!(slot.check(t0, &policy), TokenCheck::Fine);
        let warn_at = exp - chrono::Duration::seconds(10);
        let closes_at = exp + chrono::Duration::seconds(30);
        assert_eq!(slot.check(warn_at, &policy), TokenCheck::Expiring { expires_at: exp, closes_at });
        assert_eq!(slot.check(warn_at, &policy), TokenCheck::Fine, "once");
        assert_eq!(slot.next_due(&policy), Some(closes_at));
        assert_eq!(slot.check(exp + chrono::Duration::seconds(29), &policy), TokenCheck::Fine);
        assert_eq!(slot.check(closes_at, &policy), TokenCheck::Expired);
        // A refresh starts over.
        let g = slot.generation();
        slot.set(token(exp + chrono::Duration::seconds(600)));
        assert!(slot.generation() > g);
        assert_eq!(slot.check(closes_at, &policy), TokenCheck::Fine);
    }
}
