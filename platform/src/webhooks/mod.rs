//! Outbound webhooks: the merchant's page (`page`) and the delivery job
//! (`deliver`). Events are queued by the planes that cause them
//! (`kapu_core::store::webhooks::emit_event_for_tenant`).

pub mod deliver;
pub mod page;
