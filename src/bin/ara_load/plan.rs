//! Profiles and the resolved plan of one run: how many connections, how fast, for how long.
//!
//! A profile gives sizes for every scenario; per-connection scenarios (`ws`, `http`, `batch`, `e2e`)
//! read `stages`, fan-out scenarios (`fanout`, `sse`) read `fanout_stages`, whose rates are sends per
//! second that each reach every connection.

use std::time::Duration;

use serde::Serialize;

use crate::cli::{Args, ProfileName, Scenario};

/// A stretch of the run at one rate (sends/s; 0 = unlimited, or no pings for `ws`).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Stage {
    #[serde(serialize_with = "secs")]
    pub duration: Duration,
    pub rate: u32,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

fn stage(seconds: u64, rate: u32) -> Stage {
    Stage { duration: Duration::from_secs(seconds), rate }
}

pub struct Profile {
    pub connections: usize,
    pub connect_rate: u32,
    pub senders: usize,
    pub stages: Vec<Stage>,
    pub fanout_stages: Vec<Stage>,
    pub p99_ms: f64,
}

pub fn profile(name: ProfileName) -> Profile {
    match name {
        ProfileName::Smoke => Profile {
            connections: 10,
            connect_rate: 100,
            senders: 2,
            stages: vec![stage(5, 20)],
            fanout_stages: vec![stage(5, 10)],
            p99_ms: 250.0,
        },
        ProfileName::Baseline => Profile {
            connections: 1_000,
            connect_rate: 500,
            senders: 8,
            stages: vec![stage(30, 100)],
            fanout_stages: vec![stage(30, 10)],
            p99_ms: 50.0,
        },
        ProfileName::Medium => Profile {
            connections: 5_000,
            connect_rate: 1_000,
            senders: 16,
            stages: vec![stage(60, 500)],
            fanout_stages: vec![stage(60, 20)],
            p99_ms: 50.0,
        },
        ProfileName::High => Profile {
            connections: 10_000,
            connect_rate: 2_000,
            senders: 32,
            stages: vec![stage(60, 1_000)],
            fanout_stages: vec![stage(60, 25)],
            p99_ms: 50.0,
        },
        ProfileName::Stress => Profile {
            connections: 15_000,
            connect_rate: 2_500,
            senders: 64,
            stages: vec![stage(30, 1_000), stage(30, 2_500), stage(30, 5_000), stage(30, 10_000)],
            fanout_stages: vec![stage(30, 10), stage(30, 20), stage(30, 40)],
            p99_ms: 250.0,
        },
        ProfileName::Soak => Profile {
            connections: 5_000,
            connect_rate: 1_000,
            senders: 8,
            stages: vec![stage(600, 200)],
            fanout_stages: vec![stage(600, 5)],
            p99_ms: 50.0,
        },
        ProfileName::Spike => Profile {
            connections: 2_000,
            connect_rate: 2_000,
            senders: 32,
            stages: vec![stage(20, 100), stage(10, 5_000), stage(20, 100)],
            fanout_stages: vec![stage(20, 5), stage(10, 50), stage(20, 5)],
            p99_ms: 250.0,
        },
    }
}

/// Everything a scenario needs to know, after the profile and the flags were combined.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub scenario: Scenario,
    pub profile: ProfileName,
    pub connections: usize,
    pub connect_rate: u32,
    pub senders: usize,
    pub stages: Vec<Stage>,
    pub messages: Option<u64>,
    pub batch_size: usize,
    pub broadcast: bool,
    pub window: u64,
    pub stall_fraction: f64,
    pub payload_bytes: usize,
    pub churn: f64,
    #[serde(serialize_with = "secs")]
    pub drain: Duration,
    #[serde(serialize_with = "secs")]
    pub settle: Duration,
}

impl Plan {
    pub fn resolve(args: &Args) -> Result<(Self, f64), String> {
        let p = profile(args.profile);
        let fanout = matches!(args.scenario, Scenario::Fanout | Scenario::Sse);
        let mut stages = if fanout { p.fanout_stages } else { p.stages };
        match (args.rate, args.duration) {
            (Some(rate), duration) => {
                let duration = duration.unwrap_or_else(|| stages.iter().map(|s| s.duration).sum());
                stages = vec![Stage { duration, rate }];
            }
            (None, Some(duration)) => {
                // Stretch or shrink the profile's stages to the requested length.
                let total: f64 = stages.iter().map(|s| s.duration.as_secs_f64()).sum();
                let k = duration.as_secs_f64() / total.max(f64::EPSILON);
                for s in &mut stages {
                    s.duration = s.duration.mul_f64(k);
                }
            }
            (None, None) => {}
        }
        if !(0.0..1.0).contains(&args.stall_fraction) {
            return Err("--stall-fraction must be at least 0 and below 1".into());
        }
        if !(0.0..=1.0).contains(&args.churn) {
            return Err("--churn must be a share of the connections, 0 to 1".into());
        }
        if args.batch_size == 0 || args.batch_size > 100 {
            return Err("--batch-size must be 1..=100 (the server's batch limit)".into());
        }
        let connections = args.connections.unwrap_or(p.connections);
        if connections == 0 {
            return Err("--connections must be at least 1".into());
        }
        let plan = Self {
            scenario: args.scenario,
            profile: args.profile,
            connections,
            connect_rate: args.connect_rate.unwrap_or(p.connect_rate).max(1),
            senders: args.senders.unwrap_or(if fanout { 1 } else { p.senders }).max(1),
            stages,
            messages: args.messages,
            batch_size: args.batch_size,
            broadcast: args.broadcast,
            window: args.window.max(1),
            stall_fraction: args.stall_fraction,
            payload_bytes: args.payload_bytes,
            churn: args.churn,
            drain: args.drain,
            settle: args.settle,
        };
        Ok((plan, args.max_p99_ms.unwrap_or(p.p99_ms)))
    }

    pub fn send_duration(&self) -> Duration {
        self.stages.iter().map(|s| s.duration).sum()
    }

    /// The rate in force `elapsed` into the sending phase, or `None` once every stage is over.
    pub fn rate_at(&self, elapsed: Duration) -> Option<u32> {
        let mut end = Duration::ZERO;
        for s in &self.stages {
            end += s.duration;
            if elapsed < end {
                return Some(s.rate);
            }
        }
        None
    }

    /// How long the whole run may take at most: connecting, settling, sending, draining, and slack.
    pub fn deadline(&self) -> Duration {
        let connecting = Duration::from_secs_f64(self.connections as f64 / f64::from(self.connect_rate));
        connecting + self.settle + self.send_duration() + self.drain + Duration::from_secs(60)
    }

    pub fn stalled_clients(&self) -> usize {
        (self.connections as f64 * self.stall_fraction).round() as usize
    }
}
