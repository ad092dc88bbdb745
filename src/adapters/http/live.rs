//! The HTTP edge's settings that may change while Ara runs (hot reload): the API key, the allowed
//! origins and the generation of the settings in force. The app writes them; every request reads
//! the current value, so a reload applies from the next request on, with no lock on the hot path.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use arc_swap::{ArcSwap, ArcSwapOption};
use axum::http::HeaderValue;

/// Which browser origins may call the API and open WebSocket and SSE connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginRule {
    Any,
    Only(Vec<HeaderValue>),
}

impl OriginRule {
    /// `None` (unset or `*`) allows any origin.
    pub fn from_list(origins: Option<Vec<String>>) -> Self {
        match origins {
            None => OriginRule::Any,
            // Validated as `http(s)://…` at start; anything a header cannot hold matches nothing.
            Some(list) => OriginRule::Only(list.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect()),
        }
    }

    pub fn allows(&self, origin: &HeaderValue) -> bool {
        match self {
            OriginRule::Any => true,
            OriginRule::Only(list) => {
                list.iter().any(|allowed| allowed.as_bytes().eq_ignore_ascii_case(origin.as_bytes()))
            }
        }
    }
}

pub struct LiveHttp {
    api_key: ArcSwapOption<String>,
    origins: ArcSwap<OriginRule>,
    generation: AtomicU64,
}

impl LiveHttp {
    pub fn new(api_key: Option<String>, origins: OriginRule) -> Arc<Self> {
        Arc::new(Self {
            api_key: ArcSwapOption::from(api_key.map(Arc::new)),
            origins: ArcSwap::from_pointee(origins),
            generation: AtomicU64::new(1),
        })
    }

    /// `None`: the API takes requests without a key.
    pub fn api_key(&self) -> Option<Arc<String>> {
        self.api_key.load_full()
    }

    pub fn allows_origin(&self, origin: &HeaderValue) -> bool {
        self.origins.load().allows(origin)
    }

    /// 1 for the settings Ara started with, one more for each reload applied.
    pub fn generation(&self) -> u64 {
        self.generation.load(Relaxed)
    }

    /// Puts new values in force and returns the new generation.
    pub fn apply(&self, api_key: Option<String>, origins: OriginRule) -> u64 {
        self.api_key.store(api_key.map(Arc::new));
        self.origins.store(Arc::new(origins));
        self.generation.fetch_add(1, Relaxed) + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_match_exactly_but_not_by_case() {
        let rule = OriginRule::from_list(Some(vec!["https://app.example.com".into()]));
        assert!(rule.allows(&HeaderValue::from_static("https://app.example.com")));
        assert!(rule.allows(&HeaderValue::from_static("HTTPS://APP.example.com")));
        assert!(!rule.allows(&HeaderValue::from_static("https://app.example.com.evil.test")));
        assert!(!rule.allows(&HeaderValue::from_static("null")));
        assert!(OriginRule::from_list(None).allows(&HeaderValue::from_static("null")));
    }
}
