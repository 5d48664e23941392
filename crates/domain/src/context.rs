//! What a unit of work was started by, carried across `await`s: the id of the HTTP request (or
//! of the job) it serves. Jobs queued while serving a request keep that request's id, so the
//! worker's log lines name it too.

use std::future::Future;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// Runs `work` with `id` as the current request id.
pub async fn with_request_id<F: Future>(id: String, work: F) -> F::Output {
    REQUEST_ID.scope(id, work).await
}

/// The current request id, if the work was started by a request.
pub fn request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}
