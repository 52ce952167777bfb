//! Payments: starting them with failover, turning verified notifications into
//! delivered orders exactly once, and reconciling attempts whose notification
//! never came.

pub mod confirm;
pub mod reconcile;
pub mod start;
