//! What arrives over the bus: only fanned out to this node's connections (or queued for a user who
//! left meanwhile), never routed again.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{bump, now_ms};
use crate::delivery::frame::notification_frame;
use crate::domain::cluster::{Envelope, Route};
use crate::domain::{ErrorChain, Notification, Target, UserKey};
use crate::ports::BusEvent;
use crate::service::bounded::Outage;
use crate::service::send::{Hop, UserOutcome};
use crate::service::NotificationService;

impl NotificationService {
    /// Handles one bus event, in the order the bus delivered them.
    pub(crate) async fn on_bus_event(&self, event: BusEvent) {
        let Some(cluster) = self.cluster.clone() else { return };
        let payload = match event {
            BusEvent::Message { payload, .. } => payload,
            BusEvent::Resubscribed => {
                bump(&cluster.counters.resubscriptions, 1);
                tracing::warn!("the cluster bus subscription came back; what other nodes sent meanwhile was missed");
                return;
            }
        };
        bump(&cluster.counters.received, 1);
        let envelope = match Envelope::decode(payload) {
            Ok(envelope) => envelope,
            Err(e) => {
                bump(&cluster.counters.malformed, 1);
                tracing::warn!(error = %e, "dropped a bus message that is not an envelope");
                return;
            }
        };
        let mine = envelope.origin == cluster.node;
        match (&envelope.route, mine) {
            (Route::Canary { .. }, true) => {
                cluster.canary_at_ms.store(now_ms(), Ordering::Relaxed);
                return;
            }
            // A canary of another node, or this node's own channel or broadcast send coming back.
            (Route::Canary { .. }, false) | (_, true) => return,
            _ => {}
        }
        let notification = match Notification::decode(envelope.tenant.clone(), envelope.frame) {
            Ok(n) => Arc::new(n),
            Err(e) => {
                bump(&cluster.counters.malformed, 1);
                tracing::warn!(error = %e, "dropped a bus message whose notification cannot be read");
                return;
            }
        };
        let frame = notification_frame(&notification);
        let tenant = &notification.tenant;
        match envelope.route {
            Route::Users { ids } => {
                let outage = Outage::default();
                for user in ids {
                    let key = UserKey::new(tenant.clone(), user);
                    self.deliver_arrival(&notification, &frame, &key, &outage).await;
                }
            }
            Route::Channels { names } => {
                // A message for several channels arrives once per channel topic subscribed here.
                if names.len() > 1 && !cluster.recent.lock().first_time(notification.id) {
                    return;
                }
                let target = match <[_; 1]>::try_from(names) {
                    Ok([one]) => Target::Channel(one),
                    Err(names) => Target::Channels(names),
                };
                self.dispatcher.deliver_frame(&frame, tenant, &target);
            }
            Route::Broadcast => {
                self.dispatcher.deliver_frame(&frame, tenant, &Target::Broadcast);
            }
            Route::Canary { .. } => {}
        }
    }

    /// A user's message from another node: live to the connections here (tracked for its ACK), else
    /// queued under the user's lease.
    async fn deliver_arrival(
        &self,
        n: &Arc<Notification>,
        frame: &crate::ports::OutboundFrame,
        key: &UserKey,
        outage: &Outage,
    ) {
        if self.registry.user_is_online(key) && self.deliver_tracked(n, frame, key, outage).await > 0 {
            return;
        }
        match self.queue_for(n, frame, key, outage, Hop::Arrival).await {
            UserOutcome::QueueFailed(e) => {
                tracing::warn!(error = %ErrorChain(&e), notification = %n.id, "a notification from another node found its user gone and could not be queued");
            }
            UserOutcome::Offline => {
                tracing::debug!(notification = %n.id, "a notification from another node found its user gone");
            }
            _ => {}
        }
    }
}
