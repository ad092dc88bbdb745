//! A deadline on receiving an API request's body (`SERVER_REQUEST_TIMEOUT_SECONDS`), counted from the
//! moment its headers were read. A client that sends half a body, or trickles it a byte at a time,
//! gets a 408 `REQUEST_TIMEOUT` instead of holding a connection and a handler forever.
//!
//! One deadline for the whole body rather than tower-http's `RequestBodyTimeoutLayer`, which restarts
//! its timer after every frame and so lets a trickle last indefinitely. Only the API routes get it:
//! `/ws` and `/sse` have no body and live for hours.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use hyper::body::{Frame, SizeHint};
use tokio::time::{Instant, Sleep};

/// How long a body may take, as the middleware's state.
#[derive(Debug, Clone, Copy)]
pub struct BodyDeadline(pub Duration);

/// The body read failed because its deadline passed; found in the extractor's error chain.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
pub struct BodyTimedOut;

/// `map_request` middleware: wraps every request body that is not already complete.
pub async fn bound_request_body(State(BodyDeadline(limit)): State<BodyDeadline>, request: Request) -> Request {
    if request.body().is_end_stream() {
        return request;
    }
    let deadline = Instant::now() + limit;
    request.map(|body| Body::new(DeadlineBody { inner: body, deadline, sleep: None }))
}

/// True when `error` (a body or extractor error) was caused by [`BodyTimedOut`].
pub fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    std::iter::successors(Some(error), |e| e.source()).any(|e| e.is::<BodyTimedOut>())
}

struct DeadlineBody {
    inner: Body,
    deadline: Instant,
    /// Made on the first poll that has to wait, so a body that is already buffered costs no timer.
    sleep: Option<Pin<Box<Sleep>>>,
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        let deadline = this.deadline;
        let sleep = this.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut)))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn a_trickling_body_fails_at_the_deadline() {
        // A byte every 100 ms, forever: each frame arrives in time, the whole body never does.
        let trickle = futures_util::stream::unfold((), |()| async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Some((Ok::<_, std::io::Error>(Frame::data(Bytes::from_static(b"x"))), ()))
        });
        let request = Request::new(Body::new(http_body_util::StreamBody::new(trickle)));
        let started = Instant::now();
        let request = bound_request_body(State(BodyDeadline(Duration::from_millis(500))), request).await;
        let error = request.into_body().collect().await.expect_err("the body times out");
        assert!(timed_out(&error), "{error}");
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(500) && took < Duration::from_secs(3), "{took:?}");
    }

    #[tokio::test]
    async fn a_complete_body_is_left_alone() {
        let request = Request::new(Body::empty());
        let request = bound_request_body(State(BodyDeadline(Duration::from_secs(1))), request).await;
        assert!(request.body().is_end_stream());
    }
}
