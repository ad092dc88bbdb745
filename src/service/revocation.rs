//! Revoking tokens and disconnecting users. A revocation is recorded in the store (shared by every
//! node when it is Redis), refuses the tokens it covers at connect and refresh, and closes the live
//! connections it covers: at once on this node, and on the others when they next read the store's
//! change log ([`NotificationService::apply_revocations`], run every `REVOCATION_SYNC_INTERVAL_MS`).
//!
//! Every call names its tenant: the API resolves it from the caller.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::bounded::bounded;
use super::{ConnectError, NotificationService};
use crate::domain::{ConnectionId, TenantId, UserKey, VerifiedToken};
use crate::ports::{AuthError, CloseReason, DynRevocationStore, Revocation, RevocationError};

/// The store, the bound on its calls, and how long a revocation must be kept when the token's own
/// expiry is unknown.
pub struct RevocationConfig {
    pub store: DynRevocationStore,
    pub timeout: Duration,
    /// The longest lifetime a client token has: an issued-before revocation is kept this long after
    /// its moment, a `jti` revoked without its `exp` this long from now.
    pub max_token_lifetime: Duration,
}

/// Where this node is in the store's change log.
#[derive(Default)]
pub struct RevocationCursor(AtomicU64);

/// What a revocation or disconnect did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed {
    /// Live connections on this node that were closed.
    pub connections: usize,
}

fn later(at: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    at + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::days(365))
}

impl NotificationService {
    pub fn with_revocations(mut self, config: RevocationConfig) -> Self {
        self.revocations = Some(config);
        self
    }

    /// Verifies `raw` and refuses it when revoked; a store that cannot answer refuses it too.
    pub(super) async fn verify_unrevoked(&self, raw: &str) -> Result<VerifiedToken, ConnectError> {
        let token = self.verifier.verify(raw).await?;
        let Some(config) = &self.revocations else { return Ok(token) };
        let check = config.store.is_revoked(&token, self.clock.now());
        match bounded(&*self.timer, config.timeout, check, RevocationError::Unavailable).await {
            Ok(false) => Ok(token),
            Ok(true) => Err(AuthError::Revoked.into()),
            Err(e) => Err(ConnectError::RevocationUnavailable(e)),
        }
    }

    async fn record(&self, revocation: &Revocation, until: DateTime<Utc>) -> Result<(), RevocationError> {
        let Some(config) = &self.revocations else {
            return Err(RevocationError::Unavailable("no revocation store is configured".into()));
        };
        bounded(&*self.timer, config.timeout, config.store.revoke(revocation, until), RevocationError::Unavailable)
            .await
    }

    fn max_lifetime(&self) -> Duration {
        self.revocations.as_ref().map_or(Duration::from_secs(86_400), |c| c.max_token_lifetime)
    }

    /// Revokes the token `jti` of `tenant`, kept until `expires_at` (its `exp`; unknown: the longest
    /// token lifetime from now), and closes the live connections holding it.
    ///
    /// # Errors
    /// The store's: nothing was revoked (and nothing closed).
    pub async fn revoke_token(
        &self,
        tenant: &TenantId,
        jti: &str,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<Closed, RevocationError> {
        let now = self.clock.now();
        let until = match expires_at {
            Some(exp) => later(exp, self.token_policy.leeway).max(now + chrono::Duration::seconds(1)),
            None => later(now, self.max_lifetime()),
        };
        let revocation = Revocation::Token { tenant: tenant.clone(), jti: jti.to_owned() };
        self.record(&revocation, until).await?;
        Ok(self.close_covered(&revocation, CloseReason::TokenRevoked))
    }

    /// Revokes every token of `user` issued before `before` (and those without `iat`), and closes the
    /// live connections holding one.
    pub async fn revoke_issued_before(&self, user: &UserKey, before: DateTime<Utc>) -> Result<Closed, RevocationError> {
        let now = self.clock.now();
        let until =
            later(before, self.max_lifetime() + self.token_policy.leeway).max(now + chrono::Duration::seconds(1));
        let revocation = Revocation::IssuedBefore { user: user.clone(), before };
        self.record(&revocation, until).await?;
        Ok(self.close_covered(&revocation, CloseReason::TokenRevoked))
    }

    /// Closes `user`'s live connections on this node (only `connection`, when given). Unless
    /// `reconnect`, the tokens they hold are revoked first, so that the client cannot come straight
    /// back with them: the connection's `jti` for one connection, every token issued until now for
    /// all of them. Returns `None` when `connection` is not one of the user's.
    ///
    /// # Errors
    /// The store's, when a revocation was needed: nothing was closed.
    pub async fn disconnect(
        &self,
        user: &UserKey,
        connection: Option<ConnectionId>,
        reconnect: bool,
    ) -> Result<Option<Closed>, RevocationError> {
        let mut targets = Vec::new();
        self.registry.for_each_of_user(user, |entry| {
            if connection.is_none_or(|id| id == entry.id) {
                targets.push(entry.clone());
            }
        });
        if connection.is_some() && targets.is_empty() {
            return Ok(None);
        }
        if !reconnect {
            match connection {
                None => {
                    // A moment just past now: tokens minted in this very second are covered too.
                    let before = self.clock.now() + chrono::Duration::seconds(1);
                    let until = later(before, self.max_lifetime() + self.token_policy.leeway);
                    self.record(&Revocation::IssuedBefore { user: user.clone(), before }, until).await?;
                }
                Some(_) => {
                    for token in targets.iter().filter_map(|e| e.token.get()) {
                        if let Some(jti) = &token.jti {
                            let until = later(token.expires_at, self.token_policy.leeway);
                            let revocation = Revocation::Token { tenant: user.tenant.clone(), jti: jti.clone() };
                            self.record(&revocation, until).await?;
                        }
                    }
                }
            }
        }
        for entry in &targets {
            entry.sink.close(CloseReason::Disconnected { reconnect });
        }
        Ok(Some(Closed { connections: targets.len() }))
    }

    /// Closes this node's connections whose token `revocation` covers.
    fn close_covered(&self, revocation: &Revocation, reason: CloseReason) -> Closed {
        let mut closed = 0;
        let mut close = |entry: &std::sync::Arc<crate::delivery::ConnectionEntry>| {
            if entry.token.get().is_some_and(|t| revocation.covers(&t)) {
                entry.sink.close(reason.clone());
                closed += 1;
            }
        };
        match revocation {
            Revocation::IssuedBefore { user, .. } => {
                self.registry.for_each_of_user(user, &mut close);
            }
            Revocation::Token { tenant, .. } => self.registry.for_each_in_tenant(tenant, &mut close),
        }
        Closed { connections: closed }
    }

    /// Reads what was revoked since the last call (on any node) and closes the local connections it
    /// covers. Returns how many were closed.
    ///
    /// # Errors
    /// The store's; the cursor stays, and the next call reads the same revocations again.
    pub async fn apply_revocations(&self) -> Result<usize, RevocationError> {
        let Some(config) = &self.revocations else { return Ok(0) };
        let mut closed = 0;
        loop {
            let cursor = self.revocation_cursor.0.load(Ordering::Acquire);
            let since = config.store.since(cursor, 1000);
            let (revocations, next) =
                bounded(&*self.timer, config.timeout, since, RevocationError::Unavailable).await?;
            for revocation in &revocations {
                closed += self.close_covered(revocation, CloseReason::TokenRevoked).connections;
            }
            self.revocation_cursor.0.store(next, Ordering::Release);
            if revocations.len() < 1000 {
                return Ok(closed);
            }
        }
    }

    /// Skips the change log up to now: a node that starts has nothing open to close.
    pub async fn skip_old_revocations(&self) -> Result<(), RevocationError> {
        let Some(config) = &self.revocations else { return Ok(()) };
        loop {
            let cursor = self.revocation_cursor.0.load(Ordering::Acquire);
            let (revocations, next) = config.store.since(cursor, 1000).await?;
            self.revocation_cursor.0.store(next, Ordering::Release);
            if revocations.len() < 1000 {
                return Ok(());
            }
        }
    }

    pub fn revocation_backend(&self) -> Option<&'static str> {
        self.revocations.as_ref().map(|c| c.store.backend())
    }
}
