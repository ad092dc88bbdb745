//! A bounded many-producer, one-consumer queue that never blocks a producer: a full queue refuses
//! at once. The send path hands bus messages to it and returns; one task drains it into the bus, so
//! local delivery never waits on Redis.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::task::Poll;

use futures_util::task::AtomicWaker;
use parking_lot::Mutex;

pub struct Outbox<T> {
    items: Mutex<VecDeque<T>>,
    capacity: usize,
    waker: AtomicWaker,
}

/// The queue held `capacity` items already.
#[derive(Debug)]
pub struct Full;

impl<T> Outbox<T> {
    pub fn new(capacity: usize) -> Self {
        Self { items: Mutex::new(VecDeque::new()), capacity: capacity.max(1), waker: AtomicWaker::new() }
    }

    /// Adds every item or none.
    pub fn push_all(&self, batch: Vec<T>) -> Result<(), Full> {
        if batch.is_empty() {
            return Ok(());
        }
        {
            let mut items = self.items.lock();
            if items.len() + batch.len() > self.capacity {
                return Err(Full);
            }
            items.extend(batch);
        }
        self.waker.wake();
        Ok(())
    }

    /// Wakes the consumer with nothing new (it has something else to look at).
    pub fn wake(&self) {
        self.waker.wake();
    }

    pub fn len(&self) -> usize {
        self.items.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits for at least one item (or a [`Self::wake`]), then takes up to `max`, oldest first. One
    /// consumer only.
    pub async fn next_batch(&self, max: usize) -> Vec<T> {
        // Registered once: polled again means woken, possibly with nothing to take.
        let mut woken = false;
        poll_fn(|cx| {
            let take = |items: &mut VecDeque<T>| {
                let n = items.len().min(max);
                items.drain(..n).collect::<Vec<T>>()
            };
            let batch = take(&mut self.items.lock());
            if !batch.is_empty() {
                return Poll::Ready(batch);
            }
            if std::mem::take(&mut woken) {
                return Poll::Ready(batch);
            }
            self.waker.register(cx.waker());
            woken = true;
            // An item pushed between the look and the registration would otherwise wait for the next.
            let batch = take(&mut self.items.lock());
            if batch.is_empty() {
                Poll::Pending
            } else {
                Poll::Ready(batch)
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_outbox_refuses_the_whole_batch() {
        let outbox = Outbox::new(3);
        assert!(outbox.push_all(vec![1, 2]).is_ok());
        assert!(outbox.push_all(vec![3, 4]).is_err());
        assert_eq!(outbox.len(), 2);
        let batch = futures_util::FutureExt::now_or_never(outbox.next_batch(10));
        assert_eq!(batch, Some(vec![1, 2]));
        assert!(futures_util::FutureExt::now_or_never(outbox.next_batch(10)).is_none());
    }
}
