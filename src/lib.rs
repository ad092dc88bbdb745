//! Ara: a real-time notification service.
//!
//! Layout (hexagonal): `domain` holds the pure rules, `ports` the traits the core needs from the world,
//! `service` the delivery core (connection registry and dispatcher) written against those ports,
//! `adapters` the transports and stores, and `app` the configuration and composition root.

pub mod adapters;
pub mod app;
pub mod delivery;
pub mod domain;
pub mod ports;
pub mod service;
