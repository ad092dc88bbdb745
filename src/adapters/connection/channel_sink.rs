//! A [`ConnectionSink`] backed by a bounded tokio channel, plus a close signal that bypasses the queue
//! so that a full queue can still be told to close.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::{mpsc, Notify};

use crate::ports::{CloseReason, ConnectionSink, OutboundFrame, SinkError};

struct CloseSignal {
    reason: Mutex<Option<CloseReason>>,
    /// Set with `reason`; read without the lock on every send.
    closing: AtomicBool,
    notify: Notify,
}

pub struct ChannelSink {
    tx: mpsc::Sender<OutboundFrame>,
    close: Arc<CloseSignal>,
}

/// The transport's end: frames in queue order, or the reason to close.
pub struct SinkReceiver {
    rx: mpsc::Receiver<OutboundFrame>,
    close: Arc<CloseSignal>,
}

pub enum Next {
    Frame(OutboundFrame),
    Close(CloseReason),
}

/// Creates a sink whose queue holds at most `capacity` frames.
pub fn channel_sink(capacity: usize) -> (Arc<ChannelSink>, SinkReceiver) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let close =
        Arc::new(CloseSignal { reason: Mutex::new(None), closing: AtomicBool::new(false), notify: Notify::new() });
    (Arc::new(ChannelSink { tx, close: close.clone() }), SinkReceiver { rx, close })
}

impl ConnectionSink for ChannelSink {
    fn try_send(&self, frame: OutboundFrame) -> Result<(), SinkError> {
        // A connection being closed takes nothing more, so a slow consumer is reported (and counted)
        // once, not on every later dispatch.
        if self.close.closing.load(Ordering::Acquire) {
            return Err(SinkError::Closed);
        }
        self.tx.try_send(frame).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => SinkError::Full,
            mpsc::error::TrySendError::Closed(_) => SinkError::Closed,
        })
    }

    fn close(&self, reason: CloseReason) {
        let mut slot = self.close.reason.lock();
        // The first reason wins: a shutdown after a slow-consumer close does not rewrite history.
        if slot.is_none() {
            *slot = Some(reason);
            self.close.closing.store(true, Ordering::Release);
            self.close.notify.notify_one();
        }
    }
}

impl SinkReceiver {
    /// Waits for the next frame; a pending close takes precedence over queued frames.
    pub async fn next(&mut self) -> Option<Next> {
        if let Some(reason) = self.close.reason.lock().clone() {
            return Some(Next::Close(reason));
        }
        tokio::select! {
            biased;
            _ = self.close.notify.notified() => self.close.reason.lock().clone().map(Next::Close),
            frame = self.rx.recv() => frame.map(Next::Frame),
        }
    }

    /// A frame already queued, without waiting; used to coalesce writes.
    pub fn try_next_frame(&mut self) -> Option<OutboundFrame> {
        if self.close.reason.lock().is_some() {
            return None;
        }
        self.rx.try_recv().ok()
    }
}
