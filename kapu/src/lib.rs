//! The `kapu` binary's library: composes the planes into one app. The CLI
//! (`main.rs`) and the integration tests both start Kapu through [`App`].

pub mod app;
pub mod backup;
pub mod canary;
pub mod http_server;
pub mod metrics;
pub mod migrate;
pub mod telemetry;

pub use app::App;
