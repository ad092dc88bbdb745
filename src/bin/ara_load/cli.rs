//! The command line: a scenario, a profile, and flags that override the profile or set thresholds.

use std::time::Duration;

use clap::{Parser, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    /// Open N WebSocket connections, subscribe each to a channel, hold them; clients ping at `--rate`
    /// pings/s in total (0 = idle) and the pong round trip is measured.
    Ws,
    /// HTTP `send` to online users at `--rate` requests/s (0 = as fast as `--senders` connections go).
    Http,
    /// HTTP `batch` of `--batch-size` user sends at `--rate` batches/s.
    Batch,
    /// N WebSocket clients + HTTP senders at `--rate` sends/s; latency from the payload's send time to
    /// receipt.
    E2e,
    /// N subscribers of one channel (or `--broadcast`); `--rate` sends/s, each delivered to everyone.
    Fanout,
    /// Like fanout, over Server-Sent Events.
    Sse,
    /// N WebSocket clients of which `--churn` per second reconnect, + HTTP sends at `--rate` to random
    /// users; the server's RSS, descriptors and tasks must return to their baseline (`--server-pid`).
    Churn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProfileName {
    Smoke,
    Baseline,
    Medium,
    High,
    Stress,
    Soak,
    Spike,
}

#[derive(Debug, Parser)]
#[command(
    name = "ara-load",
    version,
    about = "Load generator for Ara: WebSocket, HTTP, batch, end-to-end, fan-out and SSE scenarios",
    after_help = "Exit status: 0 when every threshold holds, 1 when one fails, 2 on a usage error.\n\
                  Only loopback servers are accepted (127.0.0.0/8, ::1, localhost)."
)]
pub struct Args {
    /// What to run.
    #[arg(value_enum)]
    pub scenario: Scenario,
    /// Preset sizes and rates; the flags below override single values.
    #[arg(long, short, value_enum, default_value = "smoke")]
    pub profile: ProfileName,
    /// The server's base URL (http:// or ws://); loopback only.
    #[arg(long, default_value = "http://127.0.0.1:8080", env = "ARA_LOAD_URL")]
    pub url: String,
    /// Cluster runs: the nodes client connections go to, comma-separated, client `i` on node
    /// `i % n` (HTTP sends still go to `--url`); unset, clients connect to `--url` too.
    #[arg(long, value_delimiter = ',')]
    pub client_urls: Vec<String>,
    /// HS256 secret the server verifies tokens with (`JWT_SECRET`); defaults to Ara's development secret.
    #[arg(long, env = "ARA_LOAD_JWT_SECRET")]
    pub jwt_secret: Option<String>,
    /// `iss` claim, when the server sets `JWT_ISSUER`.
    #[arg(long)]
    pub jwt_issuer: Option<String>,
    /// `aud` claim, when the server sets `JWT_AUDIENCE`.
    #[arg(long)]
    pub jwt_audience: Option<String>,
    /// Sent as `X-API-Key` on HTTP API calls.
    #[arg(long, env = "ARA_LOAD_API_KEY")]
    pub api_key: Option<String>,

    /// Client connections (WebSocket or SSE).
    #[arg(long, short = 'c')]
    pub connections: Option<usize>,
    /// New connections per second while ramping up.
    #[arg(long)]
    pub connect_rate: Option<u32>,
    /// Sends per second (pings per second for `ws`); replaces the profile's stages with one stage.
    /// 0 means: as fast as the senders go (for `ws`: no pings, idle connections).
    #[arg(long, short)]
    pub rate: Option<u32>,
    /// How long to send (or hold, for `ws`); with `--rate`, the length of its single stage.
    #[arg(long, short, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Stop sending after this many sends.
    #[arg(long, short)]
    pub messages: Option<u64>,
    /// Concurrent HTTP sender connections.
    #[arg(long)]
    pub senders: Option<usize>,
    /// Notifications per batch request (`batch`).
    #[arg(long, default_value_t = 50)]
    pub batch_size: usize,
    /// Fan-out to every connection of the tenant instead of a channel (`fanout`, `sse`).
    #[arg(long)]
    pub broadcast: bool,
    /// With `--rate 0` (`fanout`, `sse`): at most this many sends in flight, i.e. not yet received by
    /// every reading client. Keeps an unlimited run from overflowing per-connection queues.
    #[arg(long, default_value_t = 8)]
    pub window: u64,
    /// Fraction of clients that never read (slow consumers), e.g. 0.01; excluded from loss and latency.
    #[arg(long, default_value_t = 0.0)]
    pub stall_fraction: f64,
    /// Extra bytes of padding in each notification payload.
    #[arg(long, default_value_t = 0)]
    pub payload_bytes: usize,
    /// Loopback source addresses 127.0.0.1..=127.0.0.N to spread client connections over (each one
    /// gives ~28k ephemeral ports).
    #[arg(long, default_value_t = 4)]
    pub source_ips: u8,
    /// How long to wait for outstanding deliveries after the last send.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub drain: Duration,
    /// `churn`: the share of connections that hang up and connect again every second.
    #[arg(long, default_value_t = 0.01)]
    pub churn: f64,
    /// Hold the connections this long after connecting before sending (lets RSS settle).
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    pub settle: Duration,

    /// Names this run's users (`load-<id>-<i>`) and channels (`load-<id>`), so that another load
    /// generator (wrk, k6) can send to the clients this run holds; random by default.
    #[arg(long, value_parser = parse_run_id)]
    pub run_id: Option<String>,

    /// The server's process id: its VmRSS is sampled from /proc before, during and after the run.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Print the report as JSON on stdout (the progress line stays on stderr).
    #[arg(long)]
    pub json: bool,
    /// No progress line.
    #[arg(long, short)]
    pub quiet: bool,

    /// Threshold: lowest acceptable connection success rate.
    #[arg(long, default_value_t = 0.99)]
    pub min_connect_success: f64,
    /// Threshold: highest acceptable p99 of the scenario's main latency, in milliseconds.
    #[arg(long)]
    pub max_p99_ms: Option<f64>,
    /// Threshold: highest acceptable share of lost deliveries (0 = none may be lost).
    #[arg(long, default_value_t = 0.0)]
    pub max_loss: f64,
    /// Threshold: highest acceptable share of failed HTTP requests.
    #[arg(long, default_value_t = 0.01)]
    pub max_error_rate: f64,
}

/// Run ids become part of user ids and channel names: keep them to characters both accept.
fn parse_run_id(text: &str) -> Result<String, String> {
    let ok = !text.is_empty() && text.len() <= 32 && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(text.to_owned())
    } else {
        Err("1-32 characters of A-Z a-z 0-9 _".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::parse_run_id;

    #[test]
    fn run_ids_are_safe_inside_user_ids_and_channel_names() {
        assert_eq!(parse_run_id("bench_1"), Ok("bench_1".to_owned()));
        assert!(parse_run_id("").is_err());
        assert!(parse_run_id("a-b").is_err(), "'-' separates the run id from the client index");
        assert!(parse_run_id("with space").is_err());
        assert!(parse_run_id(&"x".repeat(33)).is_err());
    }
}
