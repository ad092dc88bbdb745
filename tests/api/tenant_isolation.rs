//! Isolation under random traffic: random tenants (same user and channel names in each), random
//! WebSocket and SSE clients with random subscriptions, offline users, and random sends of every
//! target type, batches, templates (each tenant its own, same id) and Redis Pub/Sub messages naming a
//! tenant. A model says who must get what; every client must get exactly that, nothing of another
//! tenant. Then offline users connect and get exactly their tenant's queue replayed; ACKs of another
//! tenant's notification are refused; channel info and the tenant's `/stats` count only the tenant.
//!
//! The seed is printed; `ARA_ISOLATION_SEED=<n>` replays a failure.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{SseClient, WsClient};
use crate::pubsub::wait_for_health;
use crate::redis_support::{publish_json, shared_redis, unique};
use crate::tenants::{admin, call, send_as, spawn_tenants, tenant_with_key, ADMIN_KEY};

const TENANTS: usize = 3;
const USERS: usize = 4;
const CHANNELS: usize = 3;
const ROUNDS: usize = 40;

enum Transport {
    Ws(WsClient),
    Sse(SseClient),
}

struct Client {
    tenant: usize,
    user: usize,
    channels: BTreeSet<usize>,
    transport: Transport,
    /// Event types this client must receive.
    expected: BTreeSet<String>,
}

fn tenant_name(t: usize) -> String {
    format!("iso-{t}")
}

fn pick<T: Clone>(rng: &mut fastrand::Rng, from: &[T]) -> T {
    from[rng.usize(..from.len())].clone()
}

/// A random non-empty subset of `0..n`.
fn subset(rng: &mut fastrand::Rng, n: usize) -> BTreeSet<usize> {
    let mut set: BTreeSet<usize> = (0..n).filter(|_| rng.bool()).collect();
    if set.is_empty() {
        set.insert(rng.usize(..n));
    }
    set
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_crosses_a_tenant_under_random_traffic() {
    let seed = std::env::var("ARA_ISOLATION_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x007e_4a17_u64);
    println!("tenant isolation seed: {seed} (replay with ARA_ISOLATION_SEED={seed})");
    let mut rng = fastrand::Rng::with_seed(seed);

    let redis = shared_redis().await;
    let channel = unique("ara-test-tenants");
    let mut pairs = vec![];
    if let Some(url) = &redis {
        pairs =
            vec![("REDIS_URL", url.as_str()), ("REDIS_PUBSUB_ENABLED", "true"), ("REDIS_CHANNELS", channel.as_str())];
    }
    let app = spawn_tenants(&pairs).await;
    if redis.is_some() {
        wait_for_health(&app, "subscribed", |h| h["dependencies"]["pubsub"]["subscribed"] == true).await;
    }
    let mut keys = Vec::new();
    for t in 0..TENANTS {
        let key = tenant_with_key(&app, &tenant_name(t), json!({})).await;
        let template = json!({"id": "tpl", "name": "T", "event_type": "templated",
            "payload_template": {"tenant": tenant_name(t), "v": "{{v}}"}});
        assert_eq!(send_as(&app, &key, "/api/v1/templates", &template).await.status, 201);
        keys.push(key);
    }
    // A suspended tenant, for Pub/Sub messages that must be dropped.
    tenant_with_key(&app, "iso-suspended", json!({})).await;
    admin(&app, Method::POST, "/api/v1/tenants/iso-suspended/suspend", None).await;

    // Clients: each (tenant, user) online with 1-2 connections, or offline.
    let mut clients: Vec<Client> = Vec::new();
    let mut offline: BTreeSet<(usize, usize)> = BTreeSet::new();
    for t in 0..TENANTS {
        for u in 0..USERS {
            if rng.f32() < 0.35 {
                offline.insert((t, u));
                continue;
            }
            for _ in 0..rng.usize(1..=2) {
                let channels = if rng.bool() { subset(&mut rng, CHANNELS) } else { BTreeSet::new() };
                let names: Vec<String> = channels.iter().map(|c| format!("c{c}")).collect();
                let transport = if rng.f32() < 0.7 {
                    let mut ws = app.connect_user(&format!("u{u}"), &tenant_name(t)).await;
                    if !names.is_empty() {
                        ws.subscribe(&names.iter().map(String::as_str).collect::<Vec<_>>()).await;
                    }
                    Transport::Ws(ws)
                } else {
                    let list = (!names.is_empty()).then(|| names.join(","));
                    Transport::Sse(app.connect_sse(&format!("u{u}"), &tenant_name(t), list.as_deref()).await)
                };
                clients.push(Client { tenant: t, user: u, channels, transport, expected: BTreeSet::new() });
            }
        }
    }
    println!("{} clients, offline (tenant, user): {offline:?}", clients.len());

    // Random sends, and who the model says gets each.
    let mut queued: BTreeMap<(usize, usize), Vec<String>> = BTreeMap::new();
    let mut pubsub_sent = 0u64;
    for round in 0..ROUNDS {
        let t = rng.usize(..TENANTS);
        let event = format!("ev-{round}");
        let payload = json!({"tenant": tenant_name(t), "round": round});
        let kinds = ["user", "users", "broadcast", "channel", "channels", "batch", "template", "pubsub"];
        let kind = pick(&mut rng, &kinds);
        let kind = if kind == "pubsub" && redis.is_none() { "broadcast" } else { kind };
        // (users, channels, everyone) the send reaches in tenant t.
        let (users, chans, everyone): (BTreeSet<usize>, BTreeSet<usize>, bool) = match kind {
            "user" | "template" => ([rng.usize(..USERS)].into(), BTreeSet::new(), false),
            "users" => (subset(&mut rng, USERS), BTreeSet::new(), false),
            "channel" => (BTreeSet::new(), [rng.usize(..CHANNELS)].into(), false),
            "channels" => (BTreeSet::new(), subset(&mut rng, CHANNELS), false),
            "batch" => (subset(&mut rng, USERS), BTreeSet::new(), false),
            "pubsub" => {
                if rng.bool() {
                    ([rng.usize(..USERS)].into(), BTreeSet::new(), false)
                } else {
                    (BTreeSet::new(), subset(&mut rng, CHANNELS), false)
                }
            }
            _ => (BTreeSet::new(), BTreeSet::new(), true),
        };
        let user_ids: Vec<String> = users.iter().map(|u| format!("u{u}")).collect();
        let chan_ids: Vec<String> = chans.iter().map(|c| format!("c{c}")).collect();
        let key = &keys[t];
        match kind {
            "user" => {
                let body =
                    json!({"target_user_id": user_ids[0], "event_type": event, "payload": payload, "priority": "High"});
                assert_eq!(send_as(&app, key, "/api/v1/notifications/send", &body).await.status, 200);
            }
            "template" => {
                let body = json!({"target_user_id": user_ids[0], "template_id": "tpl", "variables": {"v": round}});
                let sent = send_as(&app, key, "/api/v1/notifications/send", &body).await;
                assert_eq!(sent.status, 200, "{}", sent.text);
            }
            "users" => {
                let body =
                    json!({"target_user_ids": user_ids, "event_type": event, "payload": payload, "priority": "High"});
                assert_eq!(send_as(&app, key, "/api/v1/notifications/send-to-users", &body).await.status, 200);
            }
            "channel" => {
                let body = json!({"channel": chan_ids[0], "event_type": event, "payload": payload});
                assert_eq!(send_as(&app, key, "/api/v1/notifications/channel", &body).await.status, 200);
            }
            "channels" => {
                let body = json!({"channels": chan_ids, "event_type": event, "payload": payload});
                assert_eq!(send_as(&app, key, "/api/v1/notifications/channels", &body).await.status, 200);
            }
            "batch" => {
                let items: Vec<Value> = user_ids
                    .iter()
                    .map(|u| json!({"target": {"type": "user", "id": u}, "event_type": event, "payload": payload, "priority": "High"}))
                    .collect();
                let sent = send_as(&app, key, "/api/v1/notifications/batch", &json!({"notifications": items})).await;
                assert_eq!((sent.status.as_u16(), &sent.body["failed"]), (200, &json!(0)), "{}", sent.text);
            }
            "pubsub" => {
                let target = if users.is_empty() {
                    json!({"type": "channels", "names": chan_ids})
                } else {
                    json!({"type": "user", "id": user_ids[0]})
                };
                let message =
                    json!({"target": target, "event_type": event, "payload": payload, "tenant_id": tenant_name(t)});
                publish_json(redis.as_deref().unwrap_or_default(), &channel, &message).await;
                pubsub_sent += 1;
            }
            _ => {
                let body = json!({"event_type": event, "payload": payload});
                assert_eq!(send_as(&app, key, "/api/v1/notifications/broadcast", &body).await.status, 200);
            }
        }
        let event = if kind == "template" { "templated".to_owned() } else { event };
        let tag = format!("{event}#{round}");
        for c in clients.iter_mut().filter(|c| c.tenant == t) {
            if everyone || users.contains(&c.user) || !c.channels.is_disjoint(&chans) {
                c.expected.insert(tag.clone());
            }
        }
        for u in &users {
            if offline.contains(&(t, *u)) {
                queued.entry((t, *u)).or_default().push(tag.clone());
            }
        }
    }
    // Pub/Sub messages for an unknown and a suspended tenant are dropped.
    if let Some(url) = &redis {
        for ghost in ["iso-ghost", "iso-suspended"] {
            let message = json!({"target": {"type": "broadcast"}, "event_type": "ghost", "tenant_id": ghost});
            publish_json(url, &channel, &message).await;
        }
        let deadline = std::time::Instant::now() + crate::helpers::POLL_DEADLINE;
        loop {
            let stats = call(&app, Method::GET, "/stats", ADMIN_KEY, None, None).await.body;
            let p = &stats["pubsub"];
            if p["delivered"].as_u64() == Some(pubsub_sent) && p["malformed"].as_u64() == Some(2) {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "seed {seed}: Pub/Sub never handled every message: {p}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    // Every client gets exactly what the model says, all of its own tenant.
    for c in clients.iter_mut() {
        let mut got = BTreeSet::new();
        for _ in 0..c.expected.len() {
            let n = match &mut c.transport {
                Transport::Ws(ws) => ws.recv_notification().await,
                Transport::Sse(sse) => sse.recv_notification().await.1,
            };
            assert_eq!(
                n["payload"]["tenant"],
                tenant_name(c.tenant),
                "seed {seed}: a notification crossed tenants: {n}"
            );
            let round = n["payload"]["round"].as_u64().or_else(|| n["payload"]["v"].as_u64()).expect("a round");
            got.insert(format!("{}#{round}", n["event_type"].as_str().unwrap_or_default()));
        }
        assert_eq!(got, c.expected, "seed {seed}: client u{} of {}", c.user, tenant_name(c.tenant));
        match &mut c.transport {
            Transport::Ws(ws) => ws.expect_no_message(Duration::from_millis(50)).await,
            Transport::Sse(sse) => sse.expect_no_event(Duration::from_millis(50)).await,
        }
    }

    // Channel info and the tenant's /stats count only the tenant.
    for (t, key) in keys.iter().enumerate() {
        let mine: Vec<&Client> = clients.iter().filter(|c| c.tenant == t).collect();
        let list = call(&app, Method::GET, "/api/v1/channels", key, None, None).await;
        for ch in 0..CHANNELS {
            let want = mine.iter().filter(|c| c.channels.contains(&ch)).count();
            let listed = list.body["channels"].as_array().unwrap().iter().find(|i| i["name"] == format!("c{ch}"));
            assert_eq!(
                listed.map_or(0, |i| i["subscriber_count"].as_u64().unwrap() as usize),
                want,
                "seed {seed}: {}",
                list.text
            );
        }
        let stats = call(&app, Method::GET, "/stats", key, None, None).await;
        let users: BTreeSet<usize> = mine.iter().map(|c| c.user).collect();
        assert_eq!(
            (stats.body["connections"].as_u64(), stats.body["users"].as_u64()),
            (Some(mine.len() as u64), Some(users.len() as u64)),
            "seed {seed}: {}",
            stats.text
        );
    }

    // Offline users come online: exactly their tenant's queue, in order; ACKs stay in the tenant.
    for ((t, u), tags) in &queued {
        let mut ws = app.connect_user(&format!("u{u}"), &tenant_name(*t)).await;
        let mut got = Vec::new();
        let mut ids = Vec::new();
        for _ in tags {
            let n = ws.recv_notification().await;
            assert_eq!(n["payload"]["tenant"], tenant_name(*t), "seed {seed}: replay crossed tenants: {n}");
            let round = n["payload"]["round"].as_u64().or_else(|| n["payload"]["v"].as_u64()).expect("a round");
            got.push(format!("{}#{round}", n["event_type"].as_str().unwrap_or_default()));
            ids.push(n["id"].as_str().unwrap_or_default().to_owned());
        }
        assert_eq!(&got, tags, "seed {seed}: replay of u{u} in {}", tenant_name(*t));
        ws.expect_no_message(Duration::from_millis(50)).await;
        // The same user name in another tenant cannot ACK it (a namesake with nothing queued, whose
        // connect replays nothing the model still expects).
        let others = (1..TENANTS).map(|d| (t + d) % TENANTS).find(|o| !queued.contains_key(&(*o, *u)));
        if let (Some(id), Some(other)) = (ids.first(), others) {
            let mut namesake = app.connect_user(&format!("u{u}"), &tenant_name(other)).await;
            namesake.send_json(&json!({"type": "Ack", "payload": {"notification_id": id}})).await;
            let frame = loop {
                let f = namesake.recv_json().await;
                if f["type"] != "notification" {
                    break f;
                }
            };
            assert_eq!(frame["type"], "error", "seed {seed}: {frame}");
            assert!(
                matches!(frame["code"].as_str(), Some("NOT_YOUR_NOTIFICATION" | "UNKNOWN_NOTIFICATION")),
                "{frame}"
            );
            ws.send_json(&json!({"type": "Ack", "payload": {"notification_id": id}})).await;
            assert_eq!(ws.recv_json().await, json!({"type": "acked", "notification_id": id}));
        }
    }
    // The admin key sees every tenant, and the node's view adds them up.
    let node = call(&app, Method::GET, "/stats", ADMIN_KEY, None, None).await;
    assert!(node.body["connections"].as_u64().unwrap() >= clients.len() as u64, "{}", node.text);
}
