//! Chaos tests: the real `ara` binary under steady send traffic while a fault is really done to it or
//! to its store, each store a private server of its own on a free port (a persistent `redis-server`,
//! a Postgres cluster made with `initdb`), each fault started by the test itself:
//!
//! - `sigkill`: Ara SIGKILLed and restarted, three times, under traffic, on Redis and on Postgres;
//! - `outages`: Redis and Postgres killed and started again mid-traffic; a [`fault_proxy`] between
//!   Ara and its store adding latency, stalling like a lossy link, and cutting the link so that it
//!   hangs.
//!
//! For each: every send answered within a bound, nothing accepted lost, duplicated or reordered (an
//! audit by notification id, see [`audit`]), `/health` honest within seconds, recovery without a
//! restart, and the figures printed (`cargo test --test chaos -- --nocapture` shows them).
//! docs/RELIABILITY.md says what each one proves.

mod ara;
mod audit;
mod backends;
#[allow(dead_code)]
#[path = "../support/fault_proxy.rs"]
mod fault_proxy;
mod outages;
#[path = "../support/postgres_cluster.rs"]
mod postgres_cluster;
#[allow(dead_code)]
#[path = "../api/redis_support.rs"]
mod redis_support;
mod sigkill;
