//! Property tests (proptest) of the domain rules, each against a model written here:
//!
//! - target resolution: target lists are validated and de-duplicated in order; and, on the real
//!   server, a send reaches exactly the connections the model says — the sender's tenant only, one copy
//!   each, whatever mix of users, tenants, channels and targets (tenant namespacing end to end);
//! - template substitution: typed and in-string substitution, literal text kept, no re-entry, every
//!   missing variable reported once;
//! - queue policy: expiry is the earlier of the queue ttl and the notification's own; a queue keeps the
//!   newest `max_per_user`, in order, and reports what it dropped; queues of the same user id in two
//!   tenants never mix.

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

use ara::adapters::memory::MemoryOfflineQueue;
use ara::domain::queue::{QueuePolicy, QueuedNotification};
use ara::domain::template::{placeholders, render, RenderError};
use ara::domain::{NotificationDraft, Target, TenantId, UserId, UserKey};
use ara::ports::OfflineQueue;
use chrono::{DateTime, Utc};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Map, Value};

// ---------------------------------------------------------------- target resolution (domain)

/// Ids that are valid user ids and channel names, and some that are neither.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-c]{1,2}",
        1 => "[A-Za-z0-9_.-]{1,64}",
        1 => Just(String::new()),
        1 => "[a-z]{1,3}[ \u{0}\n][a-z]{0,2}",
    ]
}

fn valid_user(raw: &str) -> bool {
    !raw.is_empty() && raw.chars().count() <= 128 && !raw.chars().any(char::is_control)
}

fn valid_channel(raw: &str) -> bool {
    !raw.is_empty() && raw.len() <= 64 && raw.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

fn dedup(raw: &[String]) -> Vec<String> {
    let mut seen = HashSet::new();
    raw.iter().filter(|r| seen.insert((*r).clone())).cloned().collect()
}

proptest! {
    #[test]
    fn user_lists_resolve_to_each_valid_user_once_in_order(raw in proptest::collection::vec(name(), 0..12)) {
        match Target::users(&raw) {
            Ok(Target::Users(users)) => {
                prop_assert!(!raw.is_empty() && raw.iter().all(|r| valid_user(r)), "accepted {raw:?}");
                let got: Vec<String> = users.iter().map(|u| u.as_str().to_owned()).collect();
                prop_assert_eq!(got, dedup(&raw));
            }
            Ok(other) => prop_assert!(false, "a user list became {other:?}"),
            Err(_) => prop_assert!(raw.is_empty() || raw.iter().any(|r| !valid_user(r)), "refused {raw:?}"),
        }
    }

    #[test]
    fn channel_lists_resolve_to_each_valid_channel_once_in_order(raw in proptest::collection::vec(name(), 0..12)) {
        match Target::channels(&raw) {
            Ok(Target::Channels(channels)) => {
                prop_assert!(!raw.is_empty() && raw.iter().all(|r| valid_channel(r)), "accepted {raw:?}");
                let got: Vec<String> = channels.iter().map(|c| c.as_str().to_owned()).collect();
                prop_assert_eq!(got, dedup(&raw));
            }
            Ok(other) => prop_assert!(false, "a channel list became {other:?}"),
            Err(_) => prop_assert!(raw.is_empty() || raw.iter().any(|r| !valid_channel(r)), "refused {raw:?}"),
        }
    }

    #[test]
    fn tenant_ids_are_exactly_short_names(raw in prop_oneof!["[A-Za-z0-9_.-]{1,70}", ".{0,8}"]) {
        let valid = valid_channel(&raw);
        prop_assert_eq!(TenantId::parse(&raw).is_ok(), valid, "{:?}", raw);
    }
}

// ---------------------------------------------------------------- target resolution (server)

const TENANTS: [&str; 2] = ["default", "acme"];
const USERS: [&str; 3] = ["u0", "u1", "u2"];
const CHANNELS: [&str; 3] = ["c0", "c1", "c2"];

#[derive(Debug, Clone)]
struct Client {
    tenant: usize,
    user: usize,
    channels: BTreeSet<usize>,
}

#[derive(Debug, Clone)]
enum Send {
    User(usize),
    Users(Vec<usize>),
    Broadcast,
    Channel(usize),
    Channels(Vec<usize>),
}

fn clients() -> impl Strategy<Value = Vec<Client>> {
    let client = (0..TENANTS.len(), 0..USERS.len(), proptest::collection::btree_set(0..CHANNELS.len(), 0..=3))
        .prop_map(|(tenant, user, channels)| Client { tenant, user, channels });
    // At most 3 connections per user and tenant: under WEBSOCKET_MAX_CONNECTIONS_PER_USER.
    proptest::collection::vec(client, 1..7)
}

fn send() -> impl Strategy<Value = Send> {
    prop_oneof![
        (0..USERS.len()).prop_map(Send::User),
        proptest::collection::vec(0..USERS.len(), 1..4).prop_map(Send::Users),
        Just(Send::Broadcast),
        (0..CHANNELS.len()).prop_map(Send::Channel),
        proptest::collection::vec(0..CHANNELS.len(), 1..4).prop_map(Send::Channels),
    ]
}

/// Which clients the model says get the send: HTTP sends act for the `default` tenant (index 0).
fn addressed(clients: &[Client], send: &Send) -> Vec<bool> {
    clients
        .iter()
        .map(|c| {
            c.tenant == 0
                && match send {
                    Send::User(u) => c.user == *u,
                    Send::Users(us) => us.contains(&c.user),
                    Send::Broadcast => true,
                    Send::Channel(ch) => c.channels.contains(ch),
                    Send::Channels(chs) => chs.iter().any(|ch| c.channels.contains(ch)),
                }
        })
        .collect()
}

#[test]
fn a_send_reaches_exactly_the_modelled_connections_of_its_tenant() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let app = runtime.block_on(helpers::spawn_app(&[("QUEUE_ENABLED", "false")]));
    let mut runner = TestRunner::new(Config { cases: 24, failure_persistence: None, ..Config::default() });
    let cases = std::sync::atomic::AtomicU32::new(0);
    let result = runner.run(&(clients(), send()), |(clients, send)| {
        let case = cases.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Names of this case only, so that earlier cases' connections (closed) cannot interfere.
        let user = |u: usize| format!("{}-{case}", USERS[u]);
        let channel = |c: usize| format!("{}-{case}", CHANNELS[c]);
        runtime.block_on(async {
            let mut sockets = Vec::new();
            for c in &clients {
                let mut ws = app.connect_user(&user(c.user), TENANTS[c.tenant]).await;
                let names: Vec<String> = c.channels.iter().map(|&ch| channel(ch)).collect();
                if !names.is_empty() {
                    ws.subscribe(&names.iter().map(String::as_str).collect::<Vec<_>>()).await;
                }
                sockets.push(ws);
            }
            let (path, body) = match &send {
                Send::User(u) => ("/api/v1/notifications/send", json!({"target_user_id": user(*u)})),
                Send::Users(us) => (
                    "/api/v1/notifications/send-to-users",
                    json!({"target_user_ids": us.iter().map(|&u| user(u)).collect::<Vec<_>>()}),
                ),
                Send::Broadcast => ("/api/v1/notifications/broadcast", json!({})),
                Send::Channel(ch) => ("/api/v1/notifications/channel", json!({"channel": channel(*ch)})),
                Send::Channels(chs) => (
                    "/api/v1/notifications/channels",
                    json!({"channels": chs.iter().map(|&ch| channel(ch)).collect::<Vec<_>>()}),
                ),
            };
            let mut body = body;
            body["event_type"] = json!(format!("prop.{case}"));
            let reply = app.post(path, &body).await;
            prop_assert_eq!(reply.status.as_u16(), 200, "{}", reply.text);
            let model = addressed(&clients, &send);
            let expected = model.iter().filter(|a| **a).count();
            if !matches!(send, Send::Broadcast) {
                // Broadcasts also reach connections left from earlier cases; the frames below still hold.
                prop_assert_eq!(reply.body["delivered_to"].as_u64(), Some(expected as u64), "{}", reply.text);
            }
            for (ws, addressed) in sockets.iter_mut().zip(&model) {
                if *addressed {
                    let frame = ws.recv_notification().await;
                    prop_assert_eq!(&frame["event_type"], &json!(format!("prop.{case}")));
                }
                // Exactly one copy, and nothing for those not addressed.
                ws.expect_no_message(Duration::from_millis(150)).await;
            }
            for ws in sockets {
                ws.close().await;
            }
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

// ---------------------------------------------------------------- template substitution

fn variable_name() -> impl Strategy<Value = String> {
    "[a-e]{1,2}"
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        ".{0,12}".prop_map(Value::String),
        Just(json!("{{a}}")),
    ];
    leaf.prop_recursive(2, 12, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z]{1,3}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Text without braces, so that it holds no placeholder of its own.
fn plain_text() -> impl Strategy<Value = String> {
    "[^{}]{0,10}"
}

fn variables() -> impl Strategy<Value = Map<String, Value>> {
    proptest::collection::btree_map(variable_name(), json_value(), 0..6).prop_map(|m| m.into_iter().collect())
}

proptest! {
    #[test]
    fn templates_without_placeholders_render_to_themselves(template in json_value(), vars in variables()) {
        let text = template.to_string();
        prop_assume!(!text.contains("{{"));
        prop_assert_eq!(render(&template, &vars, 1 << 20), Ok(template.clone()));
        prop_assert!(placeholders(&template).is_empty());
    }

    #[test]
    fn a_whole_string_placeholder_takes_the_value_and_an_embedded_one_its_text(
        name in variable_name(), value in json_value(), before in plain_text(), after in plain_text(),
    ) {
        let vars: Map<String, Value> = [(name.clone(), value.clone())].into_iter().collect();
        let template = json!({"whole": format!("{{{{{name}}}}}"), "inside": format!("{before}{{{{ {name} }}}}{after}")});
        let rendered = render(&template, &vars, 1 << 20).expect("every variable is given");
        prop_assert_eq!(&rendered["whole"], &value);
        let text = match &value { Value::String(s) => s.clone(), other => other.to_string() };
        // Not re-entrant: a value holding `{{a}}` stays as it is. With no text around it, the spaced
        // placeholder is a whole string too.
        let inside = if before.is_empty() && after.is_empty() { value.clone() } else { json!(format!("{before}{text}{after}")) };
        prop_assert_eq!(&rendered["inside"], &inside);
    }

    #[test]
    fn every_missing_variable_is_reported_once_in_reading_order(
        used in proptest::collection::vec(variable_name(), 1..6),
        given in proptest::collection::btree_set(variable_name(), 0..6),
    ) {
        let template = Value::Array(used.iter().map(|n| json!(format!("x {{{{{n}}}}} y"))).collect());
        let vars: Map<String, Value> = given.iter().map(|n| (n.clone(), json!(1))).collect();
        let order = placeholders(&template);
        prop_assert_eq!(&order, &dedup(&used));
        let missing: Vec<String> = order.iter().filter(|n| !given.contains(*n)).cloned().collect();
        match render(&template, &vars, 1 << 20) {
            Ok(_) => prop_assert!(missing.is_empty(), "rendered although {missing:?} are missing"),
            Err(RenderError::MissingVariables(reported)) => prop_assert_eq!(reported, missing),
            Err(other) => prop_assert!(false, "unexpected {other:?}"),
        }
    }

    #[test]
    fn braces_that_enclose_no_name_stay_literal(text in "[a-z {}]{0,16}") {
        let template = json!(text);
        prop_assume!(placeholders(&template).is_empty());
        prop_assert_eq!(render(&template, &Map::new(), 1 << 20), Ok(template.clone()));
    }
}

// ---------------------------------------------------------------- queue policy

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + seconds, 0).expect("a time")
}

fn note(tenant: &str, n: u32, ttl: Option<u32>, now: DateTime<Utc>) -> ara::domain::Notification {
    let tenant = TenantId::parse(tenant).expect("a tenant");
    NotificationDraft::new(tenant, "q".into(), json!({"n": n}), None, ttl, 4096).expect("a draft").accept(now)
}

proptest! {
    #[test]
    fn queued_entries_expire_at_the_earlier_of_queue_ttl_and_their_own(
        queue_ttl in 1u32..100_000, own in proptest::option::of(1u32..100_000), queued_after in 0i64..1000,
    ) {
        let policy = QueuePolicy { max_per_user: 10, message_ttl_seconds: queue_ttl };
        let created = at(0);
        let now = at(queued_after);
        let item = QueuedNotification::new(Arc::new(note("default", 0, own, created)), now, &policy);
        let queue_expiry = now + chrono::Duration::seconds(i64::from(queue_ttl));
        let expected = match own {
            Some(own) => queue_expiry.min(created + chrono::Duration::seconds(i64::from(own))),
            None => queue_expiry,
        };
        prop_assert_eq!(item.expires_at, expected);
        prop_assert!(!item.is_expired(expected - chrono::Duration::milliseconds(1)));
        prop_assert!(item.is_expired(expected));
    }
}

#[derive(Debug, Clone)]
struct Push {
    tenant: usize,
    user: usize,
}

#[test]
fn a_queue_keeps_the_newest_entries_per_tenant_and_user_in_order() {
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
    let pushes =
        proptest::collection::vec((0..2usize, 0..2usize).prop_map(|(tenant, user)| Push { tenant, user }), 0..40);
    let mut runner = TestRunner::new(Config { cases: 128, ..Config::default() });
    let result = runner.run(&(pushes, 1usize..6), |(pushes, max)| {
        runtime.block_on(async {
            let policy = QueuePolicy { max_per_user: max, message_ttl_seconds: 3600 };
            let queue = MemoryOfflineQueue::new();
            // The same user ids in both tenants: a queue is per tenant and user.
            let key = |p: &Push| {
                UserKey::new(TenantId::parse(TENANTS[p.tenant]).unwrap(), UserId::parse(USERS[p.user]).unwrap())
            };
            let mut model: BTreeMap<(usize, usize), Vec<u32>> = BTreeMap::new();
            let mut dropped_model = 0u64;
            let mut dropped = 0u64;
            for (n, push) in pushes.iter().enumerate() {
                let n = n as u32;
                let item =
                    QueuedNotification::new(Arc::new(note(TENANTS[push.tenant], n, None, at(0))), at(0), &policy);
                dropped += queue.enqueue(&key(push), &item, policy.max_per_user).await.expect("memory never fails");
                let entries = model.entry((push.tenant, push.user)).or_default();
                entries.push(n);
                if entries.len() > max {
                    entries.remove(0);
                    dropped_model += 1;
                }
            }
            prop_assert_eq!(dropped, dropped_model);
            for (tenant, tenant_name) in TENANTS.iter().enumerate() {
                for user in 0..2 {
                    let push = Push { tenant, user };
                    let peeked = queue.peek(&key(&push), 1000, at(1)).await.expect("memory never fails");
                    let got: Vec<u32> = peeked
                        .iter()
                        .map(|q| {
                            assert_eq!(q.notification.tenant.as_str(), *tenant_name, "another tenant's entry");
                            q.notification.payload()["n"].as_u64().unwrap_or(u64::MAX) as u32
                        })
                        .collect();
                    let expected = model.get(&(tenant, user)).cloned().unwrap_or_default();
                    prop_assert_eq!(got, expected, "tenant {} user {}", tenant, user);
                }
            }
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
