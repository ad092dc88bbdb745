//! The use case every trigger (HTTP, Redis Pub/Sub, batch) runs: accept a notification, deliver it to
//! live connections, and account for the users who were offline.

use std::sync::Arc;

use uuid::Uuid;

use crate::domain::{NotificationDraft, Target};
use crate::ports::DynClock;

use super::Dispatcher;

/// What a send did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SendReport {
    pub notification_id: Uuid,
    /// Connections the notification was handed to.
    pub delivered_to: usize,
    /// Targeted users with no live connection.
    pub offline_users: usize,
}

pub struct NotificationService {
    dispatcher: Arc<Dispatcher>,
    clock: DynClock,
}

impl NotificationService {
    pub fn new(dispatcher: Arc<Dispatcher>, clock: DynClock) -> Self {
        Self { dispatcher, clock }
    }

    pub fn dispatcher(&self) -> &Arc<Dispatcher> {
        &self.dispatcher
    }

    /// Accepts `draft` now and delivers it to `target` within the draft's tenant.
    pub async fn send(&self, draft: NotificationDraft, target: &Target) -> SendReport {
        let notification = draft.accept(self.clock.now());
        let (report, _offline) = self.dispatcher.deliver_local(&notification, target);
        SendReport {
            notification_id: notification.id,
            delivered_to: report.delivered,
            offline_users: report.offline_users,
        }
    }
}
