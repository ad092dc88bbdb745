//! What a run counts: latency histograms (HDR, microseconds), counters, and per-client delivery
//! tracking that tells lost from duplicated messages.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use parking_lot::Mutex;
use serde::Serialize;

/// Highest latency a histogram records (larger values are clamped): 5 minutes, in microseconds.
const MAX_MICROS: u64 = 300_000_000;
/// Histograms are sharded so that thousands of client tasks rarely wait on one lock.
const SHARDS: usize = 16;

pub struct Latency {
    shards: Vec<Mutex<Histogram<u64>>>,
}

impl Default for Latency {
    fn default() -> Self {
        let new = || Mutex::new(Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("valid histogram bounds"));
        Self { shards: (0..SHARDS).map(|_| new()).collect() }
    }
}

impl Latency {
    pub fn record(&self, shard: usize, micros: u64) {
        let _ = self.shards[shard % SHARDS].lock().record(micros.clamp(1, MAX_MICROS));
    }

    pub fn merged(&self) -> Histogram<u64> {
        let mut all = Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("valid histogram bounds");
        for shard in &self.shards {
            let _ = all.add(&*shard.lock());
        }
        all
    }

    pub fn summary(&self) -> Summary {
        Summary::of(&self.merged())
    }
}

/// Percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Summary {
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Summary {
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Self {
            count: h.len(),
            mean_ms: h.mean() / 1000.0,
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }
}

/// Counters shared by every task of a run.
#[derive(Default)]
pub struct Counters {
    pub connect_attempted: AtomicU64,
    pub connect_ok: AtomicU64,
    pub connect_failed: AtomicU64,
    pub open: AtomicU64,
    pub closed_by_server: AtomicU64,
    pub sends: AtomicU64,
    pub sends_ok: AtomicU64,
    pub sends_failed: AtomicU64,
    /// Sends the schedule wanted but the senders could not keep up with.
    pub sends_missed: AtomicU64,
    /// Deliveries the reading clients should see (from successful sends).
    pub expected: AtomicU64,
    /// `delivered_to` summed over the server's answers.
    pub server_delivered: AtomicU64,
    pub received: AtomicU64,
    pub unique: AtomicU64,
    pub duplicates: AtomicU64,
    pub server_error_frames: AtomicU64,
    pub first_send_us: AtomicU64,
    pub last_receive_us: AtomicU64,
    failures: Mutex<BTreeMap<String, u64>>,
    close_codes: Mutex<BTreeMap<String, u64>>,
    statuses: Mutex<BTreeMap<String, u64>>,
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn sub(counter: &AtomicU64, n: u64) {
        counter.fetch_sub(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub fn connect_failure(&self, reason: String) {
        Self::add(&self.connect_failed, 1);
        *self.failures.lock().entry(reason).or_default() += 1;
    }

    pub fn closed(&self, code: String) {
        *self.close_codes.lock().entry(code).or_default() += 1;
    }

    pub fn http_status(&self, status: String) {
        *self.statuses.lock().entry(status).or_default() += 1;
    }

    pub fn failures(&self) -> BTreeMap<String, u64> {
        self.failures.lock().clone()
    }

    pub fn close_codes(&self) -> BTreeMap<String, u64> {
        self.close_codes.lock().clone()
    }

    pub fn statuses(&self) -> BTreeMap<String, u64> {
        self.statuses.lock().clone()
    }

    pub fn mark_first_send(&self, us: u64) {
        let _ = self.first_send_us.compare_exchange(0, us, Ordering::Relaxed, Ordering::Relaxed);
    }

    pub fn mark_receive(&self, us: u64) {
        self.last_receive_us.fetch_max(us, Ordering::Relaxed);
    }
}

/// Microseconds since the Unix epoch: the clock the payload's send time uses, so that a sender and a
/// receiver on the same machine agree.
pub fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or_default()
}

/// The sequence numbers one client has seen (each client's numbers are dense from 0).
#[derive(Default)]
pub struct Seen {
    bits: Vec<u64>,
    pub unique: u64,
    pub duplicates: u64,
}

impl Seen {
    /// Records `seq`; returns false for a duplicate.
    pub fn record(&mut self, seq: u64) -> bool {
        let (word, bit) = ((seq / 64) as usize, seq % 64);
        if word >= self.bits.len() {
            self.bits.resize(word + 1, 0);
        }
        let mask = 1u64 << bit;
        if self.bits[word] & mask != 0 {
            self.duplicates += 1;
            return false;
        }
        self.bits[word] |= mask;
        self.unique += 1;
        true
    }
}

/// The sequence number and send time a load-test payload carries, found without a full JSON parse
/// (the receiving side must stay cheaper than the server it measures).
pub fn probe(frame: &str) -> Option<(u64, u64)> {
    Some((number_after(frame, "\"ara_seq\":")?, number_after(frame, "\"ara_sent_us\":")?))
}

fn number_after(text: &str, key: &str) -> Option<u64> {
    let start = text.find(key)? + key.len();
    let digits = text[start..].trim_start();
    let end = digits.find(|c: char| !c.is_ascii_digit()).unwrap_or(digits.len());
    digits[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_tells_duplicates() {
        let mut s = Seen::default();
        assert!(s.record(0) && s.record(130) && !s.record(0));
        assert_eq!((s.unique, s.duplicates), (2, 1));
    }

    #[test]
    fn probe_reads_the_payload() {
        let f = r#"{"type":"notification","payload":{"ara_sent_us":1700000000123456,"ara_seq":42,"pad":"x"}}"#;
        assert_eq!(probe(f), Some((42, 1_700_000_000_123_456)));
        assert_eq!(probe(r#"{"type":"pong"}"#), None);
    }

    #[test]
    fn summary_is_in_milliseconds() {
        let l = Latency::default();
        for us in 1..=1000 {
            l.record(us as usize, us * 10);
        }
        let s = l.summary();
        assert_eq!(s.count, 1000);
        assert!((s.p50_ms - 5.0).abs() < 0.1 && (s.max_ms - 10.0).abs() < 0.1, "{s:?}");
    }
}
