//! The end of a run: one report (a table, or JSON with `--json`) and the thresholds that decide the
//! exit status.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::cli::Scenario;
use crate::ctx::Ctx;
use crate::plan::Plan;
use crate::scenario::Outcome;
use crate::stats::{Counters, Summary};

#[derive(Debug, Serialize)]
pub struct Report {
    pub scenario: Scenario,
    pub url: String,
    pub plan: Plan,
    pub elapsed_s: f64,
    pub connections: Connections,
    pub http: Http,
    pub delivery: Delivery,
    /// `Ping` → `pong` round trips (`ws` with a rate).
    pub pong_latency: Summary,
    pub resources: Memory,
    /// The server's `/stats` at the end of the run, when it answered.
    pub server_stats: Option<serde_json::Value>,
    pub thresholds: Vec<Threshold>,
    pub passed: bool,
}

#[derive(Debug, Serialize)]
pub struct Connections {
    pub attempted: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub success_rate: f64,
    pub stalled: usize,
    pub failures: BTreeMap<String, u64>,
    /// Reading clients the server closed before the run ended.
    pub closed_by_server: u64,
    pub close_reasons: BTreeMap<String, u64>,
    pub connect_latency: Summary,
}

#[derive(Debug, Serialize)]
pub struct Http {
    pub requests: u64,
    pub ok: u64,
    pub failed: u64,
    pub error_rate: f64,
    /// Sends the schedule wanted that the senders could not make in time.
    pub missed: u64,
    pub requests_per_s: f64,
    pub statuses: BTreeMap<String, u64>,
    pub latency: Summary,
}

#[derive(Debug, Serialize)]
pub struct Delivery {
    /// Deliveries the reading clients should have seen, from the successful sends.
    pub expected: u64,
    pub received: u64,
    pub unique: u64,
    pub lost: u64,
    pub duplicates: u64,
    pub loss_rate: f64,
    /// `delivered_to` summed over the server's answers (includes slow consumers).
    pub server_delivered: u64,
    /// Unique deliveries per second, first send to last receipt.
    pub messages_per_s: f64,
    pub error_frames: u64,
    /// Payload send time → receipt.
    pub latency: Summary,
}

#[derive(Debug, Default, Serialize)]
pub struct Memory {
    pub server_pid: Option<u32>,
    pub server_rss_before_kib: Option<u64>,
    pub server_rss_connected_kib: Option<u64>,
    pub server_rss_end_kib: Option<u64>,
    pub server_rss_peak_kib: Option<u64>,
    /// (RSS when connected − RSS before) / connections held.
    pub server_bytes_per_connection: Option<f64>,
    /// Seconds since start and VmRSS in KiB, every 5 s.
    pub server_rss_samples: Vec<(f64, u64)>,
    pub client_rss_end_kib: Option<u64>,
    /// CPU seconds (user + system) the server used during the sending phase (or the hold, for `ws`).
    pub server_cpu_s: Option<f64>,
    /// CPU seconds ara-load used during the same phase.
    pub client_cpu_s: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct Threshold {
    pub name: &'static str,
    pub limit: String,
    pub actual: String,
    pub passed: bool,
}

pub struct Limits {
    pub min_connect_success: f64,
    pub max_p99_ms: f64,
    pub max_loss: f64,
    pub max_error_rate: f64,
}

pub fn build(ctx: &Ctx, url: String, outcome: Outcome, limits: &Limits) -> Report {
    let Outcome { elapsed_s, send_s, stalled, memory, server_stats } = outcome;
    let c = &ctx.counters;
    let g = Counters::get;
    let attempted = g(&c.connect_attempted);
    let succeeded = g(&c.connect_ok);
    let requests = g(&c.sends);
    let failed = g(&c.sends_failed);
    let expected = g(&c.expected);
    let unique = g(&c.unique);
    let (first, last) = (g(&c.first_send_us), g(&c.last_receive_us));
    let window_s = if last > first && first > 0 { (last - first) as f64 / 1e6 } else { 0.0 };
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let mut report = Report {
        scenario: ctx.plan.scenario,
        url,
        plan: ctx.plan.clone(),
        elapsed_s,
        connections: Connections {
            attempted,
            succeeded,
            failed: g(&c.connect_failed),
            success_rate: ratio(succeeded, attempted),
            stalled,
            failures: c.failures(),
            closed_by_server: g(&c.closed_by_server),
            close_reasons: c.close_codes(),
            connect_latency: ctx.connect_latency.summary(),
        },
        http: Http {
            requests,
            ok: g(&c.sends_ok),
            failed,
            error_rate: ratio(failed, requests),
            missed: g(&c.sends_missed),
            requests_per_s: if send_s > 0.0 { requests as f64 / send_s } else { 0.0 },
            statuses: c.statuses(),
            latency: ctx.http_latency.summary(),
        },
        delivery: Delivery {
            expected,
            received: g(&c.received),
            unique,
            lost: expected.saturating_sub(unique),
            duplicates: g(&c.duplicates),
            loss_rate: ratio(expected.saturating_sub(unique), expected),
            server_delivered: g(&c.server_delivered),
            messages_per_s: if window_s > 0.0 { unique as f64 / window_s } else { 0.0 },
            error_frames: g(&c.server_error_frames),
            latency: ctx.delivery_latency.summary(),
        },
        pong_latency: ctx.pong_latency.summary(),
        resources: memory,
        server_stats,
        thresholds: Vec::new(),
        passed: false,
    };
    report.thresholds = thresholds(&report, limits);
    report.passed = report.thresholds.iter().all(|t| t.passed);
    report
}

/// The latency a scenario is judged by, and its name.
fn main_latency(r: &Report) -> (&'static str, Summary) {
    match r.scenario {
        Scenario::Ws if r.pong_latency.count > 0 => ("pong p99", r.pong_latency),
        Scenario::Ws => ("connect p99", r.connections.connect_latency),
        Scenario::Http | Scenario::Batch => ("http p99", r.http.latency),
        Scenario::E2e | Scenario::Fanout | Scenario::Sse | Scenario::Churn => ("delivery p99", r.delivery.latency),
    }
}

fn thresholds(r: &Report, l: &Limits) -> Vec<Threshold> {
    let mut out = vec![check(
        "connection success",
        format!(">= {:.2}%", l.min_connect_success * 100.0),
        format!("{:.2}%", r.connections.success_rate * 100.0),
        r.connections.success_rate >= l.min_connect_success,
    )];
    out.push(check(
        "reading clients closed by server",
        "0".into(),
        r.connections.closed_by_server.to_string(),
        r.connections.closed_by_server == 0,
    ));
    let (name, latency) = main_latency(r);
    out.push(check(
        name,
        format!("<= {} ms", l.max_p99_ms),
        format!("{:.3} ms", latency.p99_ms),
        latency.count > 0 && latency.p99_ms <= l.max_p99_ms,
    ));
    if r.scenario != Scenario::Ws {
        out.push(check(
            "http error rate",
            format!("<= {:.2}%", l.max_error_rate * 100.0),
            format!("{:.2}%", r.http.error_rate * 100.0),
            r.http.requests > 0 && r.http.error_rate <= l.max_error_rate,
        ));
        out.push(check(
            "lost deliveries",
            format!("<= {:.4}%", l.max_loss * 100.0),
            format!("{} ({:.4}%)", r.delivery.lost, r.delivery.loss_rate * 100.0),
            r.delivery.expected > 0 && r.delivery.loss_rate <= l.max_loss,
        ));
        out.push(check(
            "duplicate deliveries",
            "0".into(),
            r.delivery.duplicates.to_string(),
            r.delivery.duplicates == 0,
        ));
    }
    out
}

fn check(name: &'static str, limit: String, actual: String, passed: bool) -> Threshold {
    Threshold { name, limit, actual, passed }
}

fn row(out: &mut String, name: &str, s: &Summary) {
    let _ = writeln!(
        out,
        "  {name:<18} {:>9} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
        s.count, s.p50_ms, s.p90_ms, s.p99_ms, s.p999_ms, s.max_ms
    );
}

/// A command-line value as it is typed (`e2e`, `smoke`), not as Rust spells the variant.
fn value_name(value: &impl clap::ValueEnum) -> String {
    value.to_possible_value().map(|v| v.get_name().to_owned()).unwrap_or_default()
}

/// The human-readable summary.
pub fn table(r: &Report) -> String {
    let mut o = String::new();
    let c = &r.connections;
    let (scenario, profile) = (value_name(&r.scenario), value_name(&r.plan.profile));
    let _ = writeln!(o, "ara-load {scenario} / {profile} against {} — {:.1} s", r.url, r.elapsed_s);
    let _ = writeln!(
        o,
        "connections  {} of {} ({:.2}%), {} stalled, {} closed by server",
        c.succeeded,
        c.attempted,
        c.success_rate * 100.0,
        c.stalled,
        c.closed_by_server
    );
    for (reason, n) in &c.failures {
        let _ = writeln!(o, "  failed: {reason} × {n}");
    }
    if r.http.requests > 0 {
        let h = &r.http;
        let _ = writeln!(
            o,
            "http         {} requests, {} ok, {} failed, {} missed — {:.0} req/s",
            h.requests, h.ok, h.failed, h.missed, h.requests_per_s
        );
    }
    let d = &r.delivery;
    if d.expected > 0 || d.received > 0 {
        let _ = writeln!(
            o,
            "delivery     {} expected, {} unique, {} lost, {} duplicates — {:.0} msgs/s",
            d.expected, d.unique, d.lost, d.duplicates, d.messages_per_s
        );
    }
    let m = &r.resources;
    if let (Some(before), Some(after)) = (m.server_rss_before_kib, m.server_rss_connected_kib) {
        let _ = writeln!(
            o,
            "server RSS   {before} KiB before, {after} KiB connected, {} KiB end, {} KiB peak; {:.0} B/connection",
            m.server_rss_end_kib.unwrap_or(0),
            m.server_rss_peak_kib.unwrap_or(0),
            m.server_bytes_per_connection.unwrap_or(0.0)
        );
    }
    if let (Some(server), Some(client)) = (m.server_cpu_s, m.client_cpu_s) {
        let _ = writeln!(o, "cpu          server {server:.1} s, ara-load {client:.1} s while sending");
    }
    let _ = writeln!(
        o,
        "\n  {:<18} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "latency (ms)", "count", "p50", "p90", "p99", "p99.9", "max"
    );
    row(&mut o, "connect", &c.connect_latency);
    for (name, s) in [("http", &r.http.latency), ("delivery", &d.latency), ("pong", &r.pong_latency)] {
        if s.count > 0 {
            row(&mut o, name, s);
        }
    }
    let _ = writeln!(o, "\n  {:<34} {:<16} {:<22} result", "threshold", "limit", "actual");
    for t in &r.thresholds {
        let _ =
            writeln!(o, "  {:<34} {:<16} {:<22} {}", t.name, t.limit, t.actual, if t.passed { "ok" } else { "FAIL" });
    }
    let _ = writeln!(o, "\n{}", if r.passed { "PASSED" } else { "FAILED" });
    o
}
