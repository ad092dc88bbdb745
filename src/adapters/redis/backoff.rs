//! Reconnection delays: exponential (doubling from `min` up to `max`) with ±10% jitter, so that
//! nodes that lost Redis together do not all come back in the same millisecond.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

/// An endless series of delays; the jitter is applied on top of backon's exponential schedule.
pub fn delays(min: Duration, max: Duration) -> impl Iterator<Item = Duration> {
    let max = max.max(min);
    ExponentialBuilder::default()
        .with_min_delay(min)
        .with_max_delay(max)
        .with_factor(2.0)
        .without_max_times()
        .build()
        .map(jitter)
}

/// `delay` ±10%.
fn jitter(delay: Duration) -> Duration {
    delay.mul_f64(0.9 + fastrand::f64() * 0.2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_maximum_within_ten_percent() {
        let got: Vec<Duration> = delays(Duration::from_millis(100), Duration::from_millis(1000)).take(7).collect();
        let expected = [100u64, 200, 400, 800, 1000, 1000, 1000];
        for (d, e) in got.iter().zip(expected) {
            let ms = d.as_secs_f64() * 1000.0;
            let e = e as f64;
            assert!(ms >= e * 0.9 - 0.001 && ms <= e * 1.1 + 0.001, "{ms}ms is not {e}ms ±10%");
        }
    }

    #[test]
    fn jitter_varies() {
        let samples: std::collections::HashSet<_> = (0..20).map(|_| jitter(Duration::from_secs(1))).collect();
        assert!(samples.len() > 1);
    }
}
