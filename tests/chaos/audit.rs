//! Traffic under a fault and the loss audit after it.
//!
//! One sender per offline user posts `send` after `send`, each carrying `{"user", "seq"}`, and records
//! how each was answered and how long that took. Once the fault is over, every user's queue is drained
//! over WebSocket and held against the record, by notification id:
//!
//! - every send answered `200` with `queued: 1` is replayed exactly once (zero lost, zero duplicated);
//! - replays come in the order the sends were accepted (each user's sends are sequential);
//! - nothing is replayed that was not sent;
//! - a send refused with `503 QUEUE_UNAVAILABLE`, or left without an answer (the server was killed
//!   under it), may have been queued or not: it may be replayed, at most once, and is counted;
//! - every send was answered (or its connection refused or reset) within the bound: none hangs.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::task::JoinHandle;

use crate::ara::Ara;

#[derive(Debug, Clone)]
pub enum Outcome {
    /// 200 with `queued: 1`: the notification with this id must be replayed.
    Accepted(String),
    /// `503 QUEUE_UNAVAILABLE` with `not_queued: 1`.
    NotQueued,
    /// No HTTP answer: connection refused or reset (the server is down or was killed), or timed out.
    NoAnswer(String),
    /// Anything else: always a failure.
    Unexpected(u16, String),
}

#[derive(Debug, Clone)]
pub struct Attempt {
    pub user: usize,
    pub seq: u64,
    pub started: Instant,
    pub took: Duration,
    pub outcome: Outcome,
}

/// Senders running until [`Traffic::stop`].
pub struct Traffic {
    pub users: Vec<String>,
    stop: Arc<AtomicBool>,
    senders: Vec<JoinHandle<Vec<Attempt>>>,
}

impl Traffic {
    /// `users` senders against `ara`, each pausing `pace` between sends.
    pub fn start(ara: &Ara, users: usize, pace: Duration) -> Self {
        let run = uuid::Uuid::now_v7().simple().to_string();
        let users: Vec<String> = (0..users).map(|u| format!("chaos-{run}-{u}")).collect();
        let stop = Arc::new(AtomicBool::new(false));
        let senders = users
            .iter()
            .enumerate()
            .map(|(index, user)| {
                let (client, url, stop, user) =
                    (ara.http(), ara.url("/api/v1/notifications/send"), stop.clone(), user.clone());
                tokio::spawn(sender(client, url, index, user, stop, pace))
            })
            .collect();
        Self { users, stop, senders }
    }

    /// Stops the senders and returns every attempt.
    pub async fn stop(self) -> (Vec<String>, Vec<Attempt>) {
        self.stop.store(true, Ordering::Relaxed);
        let mut attempts = Vec::new();
        for sender in self.senders {
            attempts.extend(sender.await.expect("a sender task ran"));
        }
        (self.users, attempts)
    }
}

async fn sender(
    client: reqwest::Client,
    url: String,
    index: usize,
    user: String,
    stop: Arc<AtomicBool>,
    pace: Duration,
) -> Vec<Attempt> {
    let mut attempts = Vec::new();
    let mut seq = 0;
    while !stop.load(Ordering::Relaxed) {
        let body = json!({"target_user_id": user, "event_type": "chaos", "payload": {"user": user, "seq": seq}});
        let started = Instant::now();
        let outcome = match client.post(&url).json(&body).send().await {
            Err(e) => Outcome::NoAnswer(e.to_string()),
            Ok(reply) => {
                let status = reply.status().as_u16();
                let text = reply.text().await.unwrap_or_default();
                classify(status, &text)
            }
        };
        let took = started.elapsed();
        if matches!(outcome, Outcome::NoAnswer(_)) {
            // The server is down: do not spin on refused connections.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        attempts.push(Attempt { user: index, seq, started, took, outcome });
        seq += 1;
        tokio::time::sleep(pace).await;
    }
    attempts
}

fn classify(status: u16, text: &str) -> Outcome {
    let body: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    match status {
        200 if body["queued"] == 1 && body["delivered_to"] == 0 => match body["notification_id"].as_str() {
            Some(id) => Outcome::Accepted(id.to_owned()),
            None => Outcome::Unexpected(status, text.to_owned()),
        },
        503 if body["error"]["code"] == "QUEUE_UNAVAILABLE" && body["error"]["details"]["not_queued"] == 1 => {
            Outcome::NotQueued
        }
        _ => Outcome::Unexpected(status, text.to_owned()),
    }
}

/// Whether a `503 QUEUE_UNAVAILABLE` may still have been queued: a write whose reply was lost or came
/// too late may have been done (see `Backend::refused`). Such replays are always counted; with
/// `NotQueuedAfter(t)` the replay of a 503 whose send started at or after `t` is a failure (one that
/// was in flight when the store went down may have been committed just before).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Refused {
    MayBeQueued,
    NotQueuedAfter(Instant),
}

/// What the audit found; [`Report::assert_nothing_lost`] fails the test on a loss.
#[derive(Debug, Default)]
pub struct Report {
    pub accepted: usize,
    pub refused: usize,
    pub unanswered: usize,
    /// Why the first send without an answer had none.
    pub first_unanswered: Option<String>,
    pub unexpected: Vec<String>,
    pub slowest: Duration,
    pub over_bound: Vec<String>,
    pub replayed: usize,
    pub lost: Vec<String>,
    pub duplicated: Vec<String>,
    pub reordered: Vec<String>,
    pub foreign: Vec<String>,
    pub refused_replayed: usize,
    /// When the sends of the replayed 503s started.
    pub refused_replayed_started: Vec<Instant>,
    pub unanswered_replayed: usize,
}

/// Drains every user's queue and holds it against `attempts`. `bound`: what any answer may take.
pub async fn audit(ara: &Ara, users: &[String], attempts: &[Attempt], bound: Duration) -> Report {
    let mut report = Report::default();
    // (user, seq) → outcome, and id → (user, seq) for the accepted ones.
    let mut by_seq: HashMap<(usize, u64), &Attempt> = HashMap::new();
    let mut accepted_ids: HashMap<&str, (usize, u64)> = HashMap::new();
    for attempt in attempts {
        by_seq.insert((attempt.user, attempt.seq), attempt);
        report.slowest = report.slowest.max(attempt.took);
        if attempt.took > bound {
            report.over_bound.push(format!(
                "user {} seq {}: {:?} after {:?}",
                attempt.user, attempt.seq, attempt.outcome, attempt.took
            ));
        }
        match &attempt.outcome {
            Outcome::Accepted(id) => {
                report.accepted += 1;
                accepted_ids.insert(id, (attempt.user, attempt.seq));
            }
            Outcome::NotQueued => report.refused += 1,
            Outcome::NoAnswer(why) => {
                report.unanswered += 1;
                report.first_unanswered.get_or_insert_with(|| why.clone());
            }
            Outcome::Unexpected(status, body) => report.unexpected.push(format!("{status}: {body}")),
        }
    }
    let mut replayed_ids = HashSet::new();
    for (index, user) in users.iter().enumerate() {
        let frames = ara.drain(user).await;
        let mut last_seq = None;
        for frame in frames {
            report.replayed += 1;
            let id = frame["id"].as_str().unwrap_or_default().to_owned();
            let seq = frame["payload"]["seq"].as_u64();
            let from = frame["payload"]["user"].as_str();
            let Some(seq) = seq.filter(|_| from == Some(user.as_str())) else {
                report.foreign.push(format!("{user}: {frame}"));
                continue;
            };
            if !replayed_ids.insert(id.clone()) {
                report.duplicated.push(format!("{user} seq {seq} id {id}"));
                continue;
            }
            if last_seq.is_some_and(|last| seq <= last) {
                report.reordered.push(format!("{user}: seq {seq} after {last_seq:?}"));
            }
            last_seq = Some(seq);
            match by_seq.get(&(index, seq)).map(|a| (&a.outcome, a.started)) {
                Some((Outcome::Accepted(accepted), _)) if *accepted == id => {}
                Some((Outcome::Accepted(accepted), _)) => {
                    report.foreign.push(format!("{user} seq {seq}: replayed id {id}, accepted as {accepted}"))
                }
                Some((Outcome::NotQueued, started)) => {
                    report.refused_replayed += 1;
                    report.refused_replayed_started.push(started);
                }
                Some((Outcome::NoAnswer(_), _)) => report.unanswered_replayed += 1,
                Some((Outcome::Unexpected(..), _)) | None => report.foreign.push(format!("{user}: {frame}")),
            }
        }
    }
    for (id, (user, seq)) in &accepted_ids {
        if !replayed_ids.contains(*id) {
            report.lost.push(format!("{} seq {seq} id {id}", users[*user]));
        }
    }
    report
}

impl Report {
    /// Prints the figures, then fails on any loss, duplicate, reordering, stranger, unexpected answer
    /// or answer past the bound; `refused` says whether a 503 may have been queued.
    pub fn assert_nothing_lost(&self, name: &str, refused: Refused) {
        eprintln!(
            "chaos {name}: accepted {} refused(503) {} unanswered {} | replayed {} (of them refused {} \
             unanswered {}) | lost {} duplicated {} reordered {} foreign {} unexpected {} | slowest answer {:?} \
             | first unanswered: {:?}",
            self.accepted,
            self.refused,
            self.unanswered,
            self.replayed,
            self.refused_replayed,
            self.unanswered_replayed,
            self.lost.len(),
            self.duplicated.len(),
            self.reordered.len(),
            self.foreign.len(),
            self.unexpected.len(),
            self.slowest,
            self.first_unanswered,
        );
        assert!(self.accepted > 0, "{name}: no send was accepted: the test proved nothing");
        assert!(self.unexpected.is_empty(), "{name}: unexpected answers: {:?}", first(&self.unexpected));
        assert!(self.over_bound.is_empty(), "{name}: answers past the bound: {:?}", first(&self.over_bound));
        assert!(
            self.lost.is_empty(),
            "{name}: {} accepted notifications lost: {:?}",
            self.lost.len(),
            first(&self.lost)
        );
        assert!(self.duplicated.is_empty(), "{name}: duplicates: {:?}", first(&self.duplicated));
        assert!(self.reordered.is_empty(), "{name}: out of order: {:?}", first(&self.reordered));
        assert!(self.foreign.is_empty(), "{name}: replayed but never sent: {:?}", first(&self.foreign));
        if let Refused::NotQueuedAfter(from) = refused {
            let late = self.refused_replayed_started.iter().filter(|started| **started >= from).count();
            assert_eq!(
                late, 0,
                "{name}: notifications refused with 503 while the store was down were queued after all"
            );
        }
    }
}

fn first(items: &[String]) -> &[String] {
    &items[..items.len().min(5)]
}

/// Every attempt started at or after `from` was accepted, and there was at least one per user: the
/// server recovered by itself.
pub fn assert_recovered(name: &str, users: usize, attempts: &[Attempt], from: Instant) {
    let after: Vec<&Attempt> = attempts.iter().filter(|a| a.started >= from).collect();
    for user in 0..users {
        assert!(after.iter().any(|a| a.user == user), "{name}: user {user} sent nothing after the recovery");
    }
    let failed: Vec<_> = after.iter().filter(|a| !matches!(a.outcome, Outcome::Accepted(_))).take(5).collect();
    assert!(failed.is_empty(), "{name}: sends still failing after the recovery: {failed:?}");
}
