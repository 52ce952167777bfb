//! The request id (`x-request-id`, set or kept by the outermost HTTP layer)
//! of the request this task serves, so what the request starts carries it:
//! jobs it queues store it and log it when they run, so one order's story,
//! from checkout to the delivery email, shares one id in the JSON logs.

tokio::task_local! {
    static REQUEST_ID: String;
}

/// Runs `f` as part of the request `id`.
pub async fn with_request_id<F: std::future::Future>(id: String, f: F) -> F::Output {
    REQUEST_ID.scope(id, f).await
}

/// The id of the request this task serves, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok().filter(|id| !id.is_empty())
}
