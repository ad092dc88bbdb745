//! The delivery core.
