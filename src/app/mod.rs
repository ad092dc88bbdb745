//! Configuration and the composition root: the only module that knows every adapter.

pub mod application;
pub mod auth;
pub mod cli;
mod cli_checktoken;
mod cli_config;
pub mod cli_healthcheck;
mod cli_healthcheck_tls;
mod cluster;
pub mod config;
pub mod config_report;
mod diagnostics;
pub mod fd_limit;
mod log_filter;
pub mod logging;
mod policies;
mod reload;
mod resilience;
pub mod spec;
mod stores;
pub mod telemetry;
mod tenancy;

pub use application::{Application, StartupError};
pub use config::{ConfigError, RunMode, Settings};
