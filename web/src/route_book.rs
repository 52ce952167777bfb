//! A router that keeps the list of its paths as it is built, so a test can
//! walk every route the app serves (axum's `Router` cannot list them): a
//! route added anywhere is in the list, with nothing kept by hand.

use axum::Router;
use axum::routing::MethodRouter;

/// A [`Router`] and every path added to it, nested prefixes included.
pub struct RouteBook<S = ()> {
    router: Router<S>,
    paths: Vec<String>,
}

impl<S: Clone + Send + Sync + 'static> Default for RouteBook<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Clone + Send + Sync + 'static> RouteBook<S> {
    pub fn new() -> Self {
        Self { router: Router::new(), paths: Vec::new() }
    }

    /// Adds `path` as [`Router::route`] does, and notes it.
    pub fn route(mut self, path: &str, method_router: MethodRouter<S>) -> Self {
        self.router = self.router.route(path, method_router);
        self.paths.push(path.to_string());
        self
    }

    /// Nests `other` under `prefix` as [`Router::nest`] does, and notes its paths.
    pub fn nest(mut self, prefix: &str, other: RouteBook<S>) -> Self {
        self.paths
            .extend(other.paths.iter().map(|p| if p == "/" { prefix.to_string() } else { format!("{prefix}{p}") }));
        self.router = self.router.nest(prefix, other.router);
        self
    }

    /// Changes the router (fallbacks, layers) without adding paths.
    pub fn map(mut self, f: impl FnOnce(Router<S>) -> Router<S>) -> Self {
        self.router = f(self.router);
        self
    }

    /// The paths, in the order they were added.
    pub fn paths(&self) -> &[String] {
        &self.paths
    }

    pub fn into_router(self) -> Router<S> {
        self.router
    }
}
