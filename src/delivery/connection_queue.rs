//! One connection's outbound queue: a [`ConnectionSink`] backed by a bounded tokio channel, plus a close signal that bypasses the queue
//! so that a full queue can still be told to close.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::{broadcast, mpsc, Notify};

pub use crate::domain::SlowConsumerPolicy;
use crate::ports::{CloseReason, ConnectionSink, OutboundFrame, SinkError};

struct CloseSignal {
    reason: Mutex<Option<CloseReason>>,
    /// Set with `reason`; read without the lock on every send.
    closing: AtomicBool,
    /// Woken (all waiters) once `closing` is set: the queue's reader and a writer blocked on a full
    /// socket both wait on it.
    notify: Notify,
}

impl CloseSignal {
    fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// Returns once the connection is asked to close. The waiter is registered before the flag is read,
    /// so a close that lands in between is not missed.
    async fn closed(&self) {
        let notified = self.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if self.is_closing() {
            return;
        }
        notified.await;
    }
}

/// Waits for a connection's close signal without touching its queue, for a writer that is blocked on
/// its socket and cannot read the queue meanwhile.
#[derive(Clone)]
pub struct CloseWatch(Arc<CloseSignal>);

impl CloseWatch {
    pub async fn closed(&self) {
        self.0.closed().await;
    }

    /// The reason the connection was asked to close, once it was.
    pub fn reason(&self) -> Option<CloseReason> {
        self.0.reason.lock().clone()
    }
}

pub struct ConnectionQueue {
    tx: Sender,
    close: Arc<CloseSignal>,
}

/// A bounded mpsc queue refuses new frames when full; a broadcast ring overwrites the oldest and lets
/// the receiver count what it missed.
enum Sender {
    Bounded(mpsc::Sender<OutboundFrame>),
    Ring(broadcast::Sender<OutboundFrame>),
}

enum Receiver {
    Bounded(mpsc::Receiver<OutboundFrame>),
    Ring(broadcast::Receiver<OutboundFrame>),
}

/// The transport's end: frames in queue order, or the reason to close.
pub struct QueueReceiver {
    rx: Receiver,
    close: Arc<CloseSignal>,
    /// Frames overwritten since the transport last reported them.
    dropped: u64,
}

pub enum Next {
    Frame(OutboundFrame),
    /// This many frames were overwritten before the client read them (`DropOldest` only).
    Dropped(u64),
    Close(CloseReason),
}

/// Creates a sink whose queue holds at most `capacity` frames.
pub fn connection_queue(capacity: usize, policy: SlowConsumerPolicy) -> (Arc<ConnectionQueue>, QueueReceiver) {
    let capacity = capacity.max(1);
    let (tx, rx) = match policy {
        SlowConsumerPolicy::Disconnect => {
            let (tx, rx) = mpsc::channel(capacity);
            (Sender::Bounded(tx), Receiver::Bounded(rx))
        }
        SlowConsumerPolicy::DropOldest => {
            let (tx, rx) = broadcast::channel(capacity);
            (Sender::Ring(tx), Receiver::Ring(rx))
        }
    };
    let close =
        Arc::new(CloseSignal { reason: Mutex::new(None), closing: AtomicBool::new(false), notify: Notify::new() });
    (Arc::new(ConnectionQueue { tx, close: close.clone() }), QueueReceiver { rx, close, dropped: 0 })
}

impl ConnectionSink for ConnectionQueue {
    fn try_send(&self, frame: OutboundFrame) -> Result<(), SinkError> {
        // A connection being closed takes nothing more, so a slow consumer is reported (and counted)
        // once, not on every later dispatch.
        if self.close.is_closing() {
            return Err(SinkError::Closed);
        }
        match &self.tx {
            Sender::Bounded(tx) => tx.try_send(frame).map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => SinkError::Full,
                mpsc::error::TrySendError::Closed(_) => SinkError::Closed,
            }),
            // Never full: the ring overwrites its oldest frame instead.
            Sender::Ring(tx) => tx.send(frame).map(|_| ()).map_err(|_| SinkError::Closed),
        }
    }

    fn close(&self, reason: CloseReason) {
        let mut slot = self.close.reason.lock();
        // The first reason wins: a shutdown after a slow-consumer close does not rewrite history.
        if slot.is_none() {
            *slot = Some(reason);
            self.close.closing.store(true, Ordering::Release);
            self.close.notify.notify_waiters();
        }
    }
}

impl QueueReceiver {
    /// Waits for the next frame; a pending close takes precedence over queued frames.
    pub async fn next(&mut self) -> Option<Next> {
        if let Some(reason) = self.close.reason.lock().clone() {
            return Some(Next::Close(reason));
        }
        if self.dropped > 0 {
            return Some(Next::Dropped(std::mem::take(&mut self.dropped)));
        }
        tokio::select! {
            biased;
            _ = self.close.closed() => self.close.reason.lock().clone().map(Next::Close),
            next = recv(&mut self.rx) => next,
        }
    }

    pub fn close_watch(&self) -> CloseWatch {
        CloseWatch(self.close.clone())
    }

    /// A frame already queued, without waiting; used to coalesce writes.
    pub fn try_next_frame(&mut self) -> Option<OutboundFrame> {
        if self.close.reason.lock().is_some() {
            return None;
        }
        match &mut self.rx {
            Receiver::Bounded(rx) => rx.try_recv().ok(),
            Receiver::Ring(rx) => match rx.try_recv() {
                Ok(frame) => Some(frame),
                Err(broadcast::error::TryRecvError::Lagged(n)) => {
                    // Reported by the next `next()`, before the frames that follow the gap.
                    self.dropped += n;
                    None
                }
                Err(_) => None,
            },
        }
    }
}

async fn recv(rx: &mut Receiver) -> Option<Next> {
    match rx {
        Receiver::Bounded(rx) => rx.recv().await.map(Next::Frame),
        Receiver::Ring(rx) => match rx.recv().await {
            Ok(frame) => Some(Next::Frame(frame)),
            Err(broadcast::error::RecvError::Lagged(n)) => Some(Next::Dropped(n)),
            Err(broadcast::error::RecvError::Closed) => None,
        },
    }
}
