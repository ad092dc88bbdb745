//! A circuit breaker: after `failure_threshold` failures in a row it opens and refuses calls at once
//! for `open_duration`; then it lets one probe through at a time (half-open), and closes again after
//! `success_threshold` successes in a row. Any failure while half-open opens it again.
//!
//! So that an unreachable Redis costs callers nothing but a quick error instead of a timeout each.
//! The state machine takes the time as an argument, which keeps it testable without sleeping.

use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::Serialize;

#[derive(Debug, Clone, Copy)]
pub struct BreakerSettings {
    pub failure_threshold: u32,
    pub success_threshold: u32,
    pub open_duration: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

/// Permission to make one call; report its outcome with [`CircuitBreaker::record`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permit {
    probe: bool,
}

#[derive(Debug)]
struct Inner {
    state: BreakerState,
    failures: u32,
    successes: u32,
    opened_at: Option<Instant>,
    /// When the current probe started; a probe whose caller vanished expires after `open_duration`.
    probe_in_flight: Option<Instant>,
    times_opened: u64,
}

#[derive(Debug)]
pub struct CircuitBreaker {
    settings: BreakerSettings,
    inner: Mutex<Inner>,
}

impl CircuitBreaker {
    pub fn new(settings: BreakerSettings) -> Self {
        let settings = BreakerSettings {
            failure_threshold: settings.failure_threshold.max(1),
            success_threshold: settings.success_threshold.max(1),
            open_duration: settings.open_duration,
        };
        let inner = Inner {
            state: BreakerState::Closed,
            failures: 0,
            successes: 0,
            opened_at: None,
            probe_in_flight: None,
            times_opened: 0,
        };
        Self { settings, inner: Mutex::new(inner) }
    }

    /// Asks to make a call now; `None` means refuse it without trying.
    pub fn try_acquire(&self) -> Option<Permit> {
        self.try_acquire_at(Instant::now())
    }

    pub fn try_acquire_at(&self, now: Instant) -> Option<Permit> {
        let mut inner = self.inner.lock();
        if inner.state == BreakerState::Open {
            let waited = inner.opened_at.map_or(Duration::MAX, |at| now.saturating_duration_since(at));
            if waited < self.settings.open_duration {
                return None;
            }
            inner.state = BreakerState::HalfOpen;
            inner.successes = 0;
            inner.probe_in_flight = None;
        }
        let probe_busy =
            inner.probe_in_flight.is_some_and(|at| now.saturating_duration_since(at) < self.settings.open_duration);
        match inner.state {
            BreakerState::Closed => Some(Permit { probe: false }),
            // One probe at a time: a recovering server is not flooded by every waiting caller.
            BreakerState::HalfOpen if !probe_busy => {
                inner.probe_in_flight = Some(now);
                Some(Permit { probe: true })
            }
            _ => None,
        }
    }

    /// Reports how a permitted call went.
    pub fn record(&self, permit: Permit, success: bool) {
        self.record_at(permit, success, Instant::now());
    }

    pub fn record_at(&self, permit: Permit, success: bool, now: Instant) {
        let mut inner = self.inner.lock();
        if permit.probe {
            inner.probe_in_flight = None;
        }
        match (inner.state, success) {
            (BreakerState::Closed, true) => inner.failures = 0,
            (BreakerState::Closed, false) => {
                inner.failures += 1;
                if inner.failures >= self.settings.failure_threshold {
                    Self::open(&mut inner, now);
                }
            }
            (BreakerState::HalfOpen, true) if permit.probe => {
                inner.successes += 1;
                if inner.successes >= self.settings.success_threshold {
                    inner.state = BreakerState::Closed;
                    inner.failures = 0;
                    tracing::info!("Redis circuit breaker closed: Redis answers again");
                }
            }
            (BreakerState::HalfOpen, false) if permit.probe => Self::open(&mut inner, now),
            // Outcomes of calls started before the last transition say nothing about the present.
            _ => {}
        }
    }

    fn open(inner: &mut Inner, now: Instant) {
        if inner.state != BreakerState::Open {
            inner.times_opened += 1;
            tracing::warn!("Redis circuit breaker opened: calls to Redis fail fast until a probe succeeds");
        }
        inner.state = BreakerState::Open;
        inner.opened_at = Some(now);
        inner.failures = 0;
        inner.successes = 0;
    }

    /// The state as a caller would see it now (an open breaker past its duration reads half-open).
    pub fn state(&self) -> BreakerState {
        let inner = self.inner.lock();
        match (inner.state, inner.opened_at) {
            (BreakerState::Open, Some(at)) if at.elapsed() >= self.settings.open_duration => BreakerState::HalfOpen,
            (state, _) => state,
        }
    }

    /// How many times the breaker has opened since start.
    pub fn times_opened(&self) -> u64 {
        self.inner.lock().times_opened
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> CircuitBreaker {
        CircuitBreaker::new(BreakerSettings {
            failure_threshold: 3,
            success_threshold: 2,
            open_duration: Duration::from_secs(10),
        })
    }

    fn fail(b: &CircuitBreaker, now: Instant) {
        let permit = b.try_acquire_at(now).expect("call allowed");
        b.record_at(permit, false, now);
    }

    #[test]
    fn opens_after_consecutive_failures_only() {
        let (b, now) = (breaker(), Instant::now());
        fail(&b, now);
        fail(&b, now);
        let p = b.try_acquire_at(now).unwrap();
        b.record_at(p, true, now);
        fail(&b, now);
        fail(&b, now);
        assert_eq!(b.state(), BreakerState::Closed);
        fail(&b, now);
        assert_eq!(b.state(), BreakerState::Open);
        assert!(b.try_acquire_at(now + Duration::from_secs(9)).is_none());
        assert_eq!(b.times_opened(), 1);
    }

    #[test]
    fn half_open_lets_one_probe_through_and_closes_after_successes() {
        let (b, now) = (breaker(), Instant::now());
        (0..3).for_each(|_| fail(&b, now));
        let later = now + Duration::from_secs(10);
        let probe = b.try_acquire_at(later).expect("probe allowed after the open duration");
        assert!(b.try_acquire_at(later).is_none(), "a second caller waits for the probe");
        b.record_at(probe, true, later);
        let probe = b.try_acquire_at(later).unwrap();
        b.record_at(probe, true, later);
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.try_acquire_at(later).is_some());
    }

    #[test]
    fn a_failed_probe_opens_again() {
        let (b, now) = (breaker(), Instant::now());
        (0..3).for_each(|_| fail(&b, now));
        let later = now + Duration::from_secs(11);
        let probe = b.try_acquire_at(later).unwrap();
        b.record_at(probe, false, later);
        assert!(b.try_acquire_at(later + Duration::from_secs(5)).is_none());
        assert!(b.try_acquire_at(later + Duration::from_secs(10)).is_some());
        assert_eq!(b.times_opened(), 2);
    }

    #[test]
    fn late_outcomes_do_not_flip_a_new_state() {
        let (b, now) = (breaker(), Instant::now());
        let stale = b.try_acquire_at(now).unwrap();
        (0..3).for_each(|_| fail(&b, now));
        b.record_at(stale, true, now);
        assert!(b.try_acquire_at(now).is_none(), "still open");
    }
}
