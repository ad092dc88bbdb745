//! Striped per-user async locks. They serialize, for one user, "queue while offline" against "replay
//! and come online", so a notification is never queued after the replay that should have carried it.
//! Stripes bound memory whatever the number of users; two users sharing a stripe only wait on each
//! other during a store round trip.

use std::hash::{DefaultHasher, Hash, Hasher};

use futures_util::lock::{Mutex, MutexGuard};

use crate::domain::UserKey;

const STRIPES: usize = 512;

pub struct UserLocks {
    stripes: Vec<Mutex<()>>,
}

impl Default for UserLocks {
    fn default() -> Self {
        Self { stripes: (0..STRIPES).map(|_| Mutex::new(())).collect() }
    }
}

impl UserLocks {
    pub async fn lock(&self, user: &UserKey) -> MutexGuard<'_, ()> {
        let mut hasher = DefaultHasher::new();
        user.hash(&mut hasher);
        self.stripes[(hasher.finish() as usize) % STRIPES].lock().await
    }
}
