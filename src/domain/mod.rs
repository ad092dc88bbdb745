//! The pure core of Ara: notifications, their targets, identities and the rules that validate them.
//!
//! Nothing in here knows about sockets, runtimes or stores; everything is plain data and pure functions,
//! so the rules can be unit-tested beside the types they govern.

pub mod audit;
pub mod channel_grant;
pub mod cluster;
pub mod error;
pub mod ids;
pub mod notification;
pub mod policy;
pub mod quoted;
pub mod target;
pub mod template;
pub mod tenant;
pub mod token;

pub use channel_grant::{grant_covers, PrivateChannels};
pub use error::{ErrorChain, ValidationError};
pub use ids::{ChannelName, ConnectionId, Identity, TenantId, Transport, UserId, UserKey};
pub use notification::{Notification, NotificationDraft, Priority};
pub use policy::{ConnectionPolicy, Limits, SlowConsumerPolicy};
pub use quoted::Quoted;
pub use target::Target;
pub use template::{Template, TemplateId, TemplateSpec};
pub use tenant::{Tenant, TenantKey, TenantLimits, TenantStatus, TokenKey};
pub use token::VerifiedToken;
pub mod ack;
pub mod queue;
