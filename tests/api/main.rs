//! End-to-end tests: the real server, in-process on a random port, driven over real HTTP and
//! WebSocket connections.

mod helpers;
// Shared with the store contract suites: fresh Postgres databases and Redis prefixes.
#[allow(dead_code)]
#[path = "../support_backends/mod.rs"]
mod support_backends;

mod acks;
mod admin;
mod api_key;
mod audit;
mod auth;
mod batch;
mod channel_info;
mod cli;
mod cli_tools;
mod cors;
mod delivery;
mod docs_examples;
// Shared with the chaos suite, which also uses its latency and loss.
#[path = "../support/fault_proxy.rs"]
mod fault_proxy;
mod fd_exhaustion;
mod generated_client;
mod generated_tenant_client;
mod health_stats;
mod heartbeat;
mod hot_reload;
mod http_timeouts;
mod integral_numbers;
mod jwks_server;
mod key_sets;
mod limits;
mod observability;
mod offline_queue;
mod openapi_spec;
mod ordering;
mod postgres_outage;
mod private_channels;
mod protocol;
mod pubsub;
mod rate_limit;
mod readiness;
mod redis_keys;
mod redis_outage;
mod redis_support;
mod revocation;
mod runtime_tasks;
mod secrets_in_outputs;
mod send_use_case;
mod server_tls;
mod shutdown;
mod slow_consumer;
mod spec_conformance;
mod sse;
mod store_outage;
mod store_tls;
mod template_use_case;
mod templates;
mod tenancy;
mod tenant_isolation;
mod tenant_nodes;
mod tenant_quotas;
mod tenant_tokens;
mod tenants;
mod tls_support;
mod token_lifetime;
mod unknown_fields;
mod validation;
