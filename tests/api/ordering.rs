//! Notifications to one connection arrive in the order the server accepted them.

use serde_json::json;

use crate::helpers::spawn_app;

const SENDS: u64 = 200;

#[tokio::test]
async fn sequential_sends_to_a_user_arrive_in_order_on_every_device() {
    let app = spawn_app(&[]).await;
    let mut phone = app.connect_user("alice", "default").await;
    let mut laptop = app.connect_user("alice", "default").await;

    let mut ids = Vec::new();
    for seq in 0..SENDS {
        let report = app.send_to_user("alice", "tick", json!({"seq": seq})).await;
        assert_eq!(report.delivered_to, 2);
        ids.push(report.notification_id);
    }
    for device in [&mut phone, &mut laptop] {
        for (seq, id) in ids.iter().enumerate() {
            let n = device.recv_notification().await;
            assert_eq!(n["payload"]["seq"], seq, "out of order: {n}");
            assert_eq!(n["id"], id.as_str());
        }
    }
}

#[tokio::test]
async fn interleaved_target_types_keep_their_order_on_one_connection() {
    let app = spawn_app(&[]).await;
    let mut client = app.connect_user("alice", "default").await;
    client.subscribe(&["a", "b"]).await;
    for seq in 0..50u64 {
        let (path, body) = match seq % 4 {
            0 => ("/api/v1/notifications/send", json!({"target_user_id": "alice"})),
            1 => ("/api/v1/notifications/broadcast", json!({})),
            2 => ("/api/v1/notifications/channel", json!({"channel": "a"})),
            _ => ("/api/v1/notifications/channels", json!({"channels": ["a", "b"]})),
        };
        let mut body = body;
        body["event_type"] = json!("tick");
        body["payload"] = json!({"seq": seq});
        assert_eq!(app.send(path, &body).await.delivered_to, 1);
    }
    for seq in 0..50u64 {
        assert_eq!(client.recv_notification().await["payload"]["seq"], seq);
    }
}
