//! Ties a registry entry to the life of its transport task: dropping the guard unregisters it, whether
//! the connection ran or its upgrade never happened.

use std::sync::Arc;

use crate::service::{ConnectionEntry, ConnectionRegistry};

pub struct Registration {
    pub registry: Arc<ConnectionRegistry>,
    pub entry: Arc<ConnectionEntry>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.registry.unregister(self.entry.id);
    }
}
