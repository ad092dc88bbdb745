//! Validation failures of domain values; every variant names the field that was wrong.

use thiserror::Error;

use super::Quoted;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValidationError {
    #[error("invalid channel name {}: must be 1-64 characters of A-Z a-z 0-9 _ . -", Quoted(.name))]
    InvalidChannelName { name: String },
    #[error("invalid user id: must be 1-128 characters without control characters")]
    InvalidUserId,
    #[error("invalid tenant id {}: must be 1-64 characters of A-Z a-z 0-9 _ . -", Quoted(.id))]
    InvalidTenantId { id: String },
    #[error("event_type must not be empty and at most 128 characters")]
    InvalidEventType,
    #[error("{field} must not be empty")]
    EmptyList { field: &'static str },
    #[error("{field} holds {len} entries; at most {max} are allowed")]
    TooMany { field: &'static str, len: usize, max: usize },
    #[error("payload is {size} bytes; at most {max} are allowed")]
    PayloadTooLarge { size: usize, max: usize },
    #[error("ttl must be between 1 and {max} seconds")]
    InvalidTtl { max: u32 },
    #[error("invalid template id {}: must be 1-64 characters of A-Z a-z 0-9 _ -", Quoted(.id))]
    InvalidTemplateId { id: String },
    #[error("template name must not be empty, at most 128 characters and free of control characters")]
    InvalidTemplateName,
    #[error("the rendered payload exceeds {max} bytes")]
    RenderedPayloadTooLarge { max: usize },
    #[error("invalid node id {}: must be 1-64 characters of A-Z a-z 0-9 _ . -", Quoted(.id))]
    InvalidNodeId { id: String },
}

/// Shows an error with every source below it (`a: b: c`), for logs: `%e` alone prints only the top.
pub struct ErrorChain<'a>(pub &'a dyn std::error::Error);

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(e) = source {
            write!(f, ": {e}")?;
            source = e.source();
        }
        Ok(())
    }
}
