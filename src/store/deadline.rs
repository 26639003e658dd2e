//! The moment the caller stops waiting for a store call, carried with the call.
//!
//! The service bounds every store call; an out-of-process store needs that
//! bound too, so that work it receives late (a paused Redis running a queued
//! script) is refused instead of applied after the caller was told it failed.
//! A task-local keeps it out of every store method's signature.

use std::future::Future;
use std::time::Instant;

tokio::task_local! {
    static GIVE_UP: Instant;
}

/// Runs `call` with `give_up` as its deadline.
pub async fn within<F: Future>(give_up: Instant, call: F) -> F::Output {
    GIVE_UP.scope(give_up, call).await
}

/// The deadline of the store call running on this task, if it has one.
pub fn current() -> Option<Instant> {
    GIVE_UP.try_with(|at| *at).ok()
}
