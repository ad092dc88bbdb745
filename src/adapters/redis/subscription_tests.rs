use std::sync::atomic::Ordering;
use std::time::Duration;

use redis::{PushInfo, PushKind, Value};

use super::{push_channel, Received, SubStream};

fn push(kind: PushKind, channel: &str, rest: &[u8]) -> PushInfo {
    let data = vec![Value::BulkString(channel.as_bytes().to_vec()), Value::BulkString(rest.to_vec())];
    PushInfo { kind, data }
}

fn described(received: Option<Received>) -> String {
    match received {
        Some(Received::Message { channel, payload }) => {
            format!("message {channel} {}", String::from_utf8_lossy(&payload))
        }
        Some(Received::Unsubscribed(channel)) => format!("unsubscribed {channel}"),
        Some(Received::Lost(why)) => format!("lost: {why}"),
        None => "closed".to_owned(),
    }
}

#[tokio::test]
async fn the_answer_to_our_own_unsubscribe_is_not_a_lost_channel() {
    let (sender, pushes, state) = push_channel(16);
    let mut stream = SubStream::Cluster { pushes, state: state.clone() };
    state.own_unsubscribes.lock().insert("a".to_owned(), 1);
    assert!(sender.send(push(PushKind::SUnsubscribe, "a", b"")).is_ok());
    assert!(sender.send(push(PushKind::SSubscribe, "a", b"")).is_ok());
    assert!(sender.send(push(PushKind::SMessage, "a", b"1")).is_ok());
    assert!(sender.send(push(PushKind::SUnsubscribe, "a", b"")).is_ok());
    assert_eq!(described(stream.next().await), "message a 1", "ours and the confirmation are skipped");
    assert_eq!(described(stream.next().await), "unsubscribed a", "one more is the server's");
    assert!(state.own_unsubscribes.lock().is_empty());
}

#[tokio::test]
async fn a_full_push_buffer_loses_the_subscription() {
    let (sender, pushes, state) = push_channel(2);
    let mut stream = SubStream::Cluster { pushes, state };
    for i in 0..3u8 {
        let _ = sender.send(push(PushKind::SMessage, "a", &[b'0' + i]));
    }
    assert_eq!(described(stream.next().await), "lost: more messages arrived than the node could take");
}

#[tokio::test]
async fn a_failed_unsubscribe_wakes_a_waiting_stream_and_loses_the_subscription() {
    let (_sender, pushes, state) = push_channel(2);
    let mut stream = SubStream::Cluster { pushes, state: state.clone() };
    let waiting = tokio::spawn(async move { described(stream.next().await) });
    tokio::task::yield_now().await;
    state.unsure.store(true, Ordering::Release);
    state.wake.notify_one();
    // A deadline against hanging, not a timing assertion.
    let got = tokio::time::timeout(Duration::from_secs(30), waiting).await.expect("the stream wakes").unwrap();
    assert_eq!(got, "lost: an unsubscribe failed, so the subscribed channels are unknown");
}
