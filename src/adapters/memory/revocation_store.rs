//! Revocations in this process's memory: enough for one node. Kept until each record's `until`, and
//! the change log for [`RevocationStore::since`] holds the last [`MAX_LOG`] entries.

use std::collections::{HashMap, VecDeque};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;

use crate::domain::{TenantId, UserKey, VerifiedToken};
use crate::ports::{Revocation, RevocationError, RevocationStore};

const MAX_LOG: usize = 10_000;

#[derive(Default)]
struct State {
    tokens: HashMap<(TenantId, String), DateTime<Utc>>,
    users: HashMap<UserKey, (DateTime<Utc>, DateTime<Utc>)>,
    log: VecDeque<(u64, Revocation)>,
    next: u64,
}

#[derive(Default)]
pub struct MemoryRevocationStore {
    state: Mutex<State>,
}

impl MemoryRevocationStore {
    pub fn new() -> Self {
        Self::default()
    }
}

impl State {
    fn forget_expired(&mut self, now: DateTime<Utc>) {
        self.tokens.retain(|_, until| *until > now);
        self.users.retain(|_, (_, until)| *until > now);
    }
}

#[async_trait]
impl RevocationStore for MemoryRevocationStore {
    async fn revoke(&self, revocation: &Revocation, until: DateTime<Utc>) -> Result<(), RevocationError> {
        let mut state = self.state.lock();
        state.forget_expired(Utc::now());
        match revocation {
            Revocation::Token { tenant, jti } => {
                let kept = state.tokens.entry((tenant.clone(), jti.clone())).or_insert(until);
                *kept = (*kept).max(until);
            }
            Revocation::IssuedBefore { user, before } => {
                let kept = state.users.entry(user.clone()).or_insert((*before, until));
                *kept = (kept.0.max(*before), kept.1.max(until));
            }
        }
        state.next += 1;
        let seq = state.next;
        state.log.push_back((seq, revocation.clone()));
        while state.log.len() > MAX_LOG {
            state.log.pop_front();
        }
        Ok(())
    }

    async fn is_revoked(&self, token: &VerifiedToken, now: DateTime<Utc>) -> Result<bool, RevocationError> {
        let state = self.state.lock();
        if let Some(jti) = &token.jti {
            let key = (token.identity.tenant.clone(), jti.clone());
            if state.tokens.get(&key).is_some_and(|until| *until > now) {
                return Ok(true);
            }
        }
        Ok(state.users.get(&token.identity.key()).is_some_and(|(before, until)| {
            *until > now && Revocation::IssuedBefore { user: token.identity.key(), before: *before }.covers(token)
        }))
    }

    async fn since(&self, cursor: u64, max: usize) -> Result<(Vec<Revocation>, u64), RevocationError> {
        let state = self.state.lock();
        let newer: Vec<_> = state.log.iter().filter(|(seq, _)| *seq > cursor).take(max).cloned().collect();
        let next = newer.last().map_or(cursor, |(seq, _)| *seq);
        Ok((newer.into_iter().map(|(_, r)| r).collect(), next))
    }

    async fn check_health(&self) -> Result<(), RevocationError> {
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "memory"
    }
}
