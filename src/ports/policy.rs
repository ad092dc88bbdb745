//! Where the limits in force come from. The app builds one source; every part that applies a limit
//! asks it when the limit is used, so a limit can differ per tenant and change while Ara runs.
//!
//! Contract: answers at once (no I/O: a source backed by a store keeps a cache), and the same answer
//! for the same tenant until the source is changed.

use std::sync::Arc;

use crate::domain::queue::QueuePolicy;
use crate::domain::{ConnectionPolicy, Limits, TenantId};

use super::Quota;

/// The rate-limit budgets of one caller class.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateQuotas {
    /// HTTP API requests.
    pub http: Quota,
    /// New WebSocket and SSE connections per client address.
    pub connections: Quota,
}

pub trait PolicySource: Send + Sync {
    fn limits(&self, tenant: &TenantId) -> Limits;
    fn connection(&self, tenant: &TenantId) -> ConnectionPolicy;
    fn queue(&self, tenant: &TenantId) -> QueuePolicy;
    /// Largest payload a send of this tenant may carry, serialized.
    fn max_payload_bytes(&self, tenant: &TenantId) -> usize;
    /// `None` when rate limiting is off.
    fn rate_quotas(&self) -> Option<RateQuotas>;
}

pub type DynPolicySource = Arc<dyn PolicySource>;
