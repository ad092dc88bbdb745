//! Dashboard logins: random session ids kept in memory (per node), each with its own CSRF token.
//! The id travels only in an `HttpOnly; SameSite=Strict` cookie; the CSRF token is handed to the page
//! by `GET /admin/api/session` and must come back in `X-CSRF-Token` with every request that acts.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use parking_lot::Mutex;
use thiserror::Error;

use crate::adapters::http::caller::constant_time_eq;

pub const COOKIE: &str = "ara_admin";
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Live logins kept at most; past it the oldest is dropped, so a flood of logins cannot grow memory.
const MAX_SESSIONS: usize = 1024;

#[derive(Debug, Error)]
#[error("the system's random number generator failed: {0}")]
pub struct RandomError(String);

#[derive(Clone)]
pub struct Session {
    pub csrf: String,
    pub expires: Instant,
}

pub struct Sessions {
    ttl: Duration,
    live: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, live: Mutex::new(HashMap::new()) }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Starts a session; returns its id (for the cookie).
    pub fn create(&self) -> Result<String, RandomError> {
        let id = random_hex()?;
        let session = Session { csrf: random_hex()?, expires: Instant::now() + self.ttl };
        let mut live = self.live.lock();
        let now = Instant::now();
        live.retain(|_, s| s.expires > now);
        if live.len() >= MAX_SESSIONS {
            if let Some(oldest) = live.iter().min_by_key(|(_, s)| s.expires).map(|(k, _)| k.clone()) {
                live.remove(&oldest);
            }
        }
        live.insert(id.clone(), session);
        Ok(id)
    }

    /// The live session named by the request's cookie.
    pub fn find(&self, headers: &HeaderMap) -> Option<Session> {
        let id = cookie_value(headers, COOKIE)?;
        let live = self.live.lock();
        // Looked up by a hash map, then compared in constant time: the lookup's timing depends on the
        // id's hash, not on how much of a guessed id matched.
        let (stored, session) = live.get_key_value(id)?;
        (constant_time_eq(stored.as_bytes(), id.as_bytes()) && session.expires > Instant::now())
            .then(|| session.clone())
    }

    /// The session, if the request also carries its CSRF token.
    pub fn authorize(&self, headers: &HeaderMap) -> Option<Session> {
        let session = self.find(headers)?;
        let given = headers.get(CSRF_HEADER)?.as_bytes();
        constant_time_eq(given, session.csrf.as_bytes()).then_some(session)
    }

    pub fn end(&self, headers: &HeaderMap) {
        if let Some(id) = cookie_value(headers, COOKIE) {
            self.live.lock().remove(id);
        }
    }
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(name)?.strip_prefix('='))
}

/// 256 random bits from the operating system, as hex.
fn random_hex() -> Result<String, RandomError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| RandomError(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_cookie(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(axum::http::header::COOKIE, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn a_session_needs_its_cookie_and_for_acting_its_csrf_token() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let id = sessions.create().unwrap();
        let mut headers = with_cookie(&format!("other=1; {COOKIE}={id}"));
        let session = sessions.find(&headers).expect("found by its cookie");
        assert!(sessions.authorize(&headers).is_none(), "no CSRF token");
        headers.insert(CSRF_HEADER, HeaderValue::from_str("wrong").unwrap());
        assert!(sessions.authorize(&headers).is_none());
        headers.insert(CSRF_HEADER, HeaderValue::from_str(&session.csrf).unwrap());
        assert!(sessions.authorize(&headers).is_some());
        assert!(sessions.find(&with_cookie(&format!("{COOKIE}={id}x"))).is_none());
        sessions.end(&headers);
        assert!(sessions.find(&headers).is_none(), "ended");
    }

    #[test]
    fn sessions_expire_and_are_bounded() {
        let sessions = Sessions::new(Duration::from_millis(0));
        let id = sessions.create().unwrap();
        assert!(sessions.find(&with_cookie(&format!("{COOKIE}={id}"))).is_none());
        let sessions = Sessions::new(Duration::from_secs(60));
        for _ in 0..MAX_SESSIONS + 10 {
            sessions.create().unwrap();
        }
        assert_eq!(sessions.live.lock().len(), MAX_SESSIONS);
    }

    #[test]
    fn ids_are_random() {
        let a = random_hex().unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, random_hex().unwrap());
    }
}
