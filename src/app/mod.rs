//! Configuration and the composition root: the only module that knows every adapter.

pub mod application;
pub mod cli;
pub mod config;
pub mod logging;
mod resilience;
mod stores;

pub use application::{Application, StartupError};
pub use config::{ConfigError, RunMode, Settings};
