//! Tenant-scoped queries. Every function takes the tenant id and says so in
//! its name; a row of another tenant is simply not found.

pub mod card_keys;
pub mod channels;
pub mod orders;
pub mod payments;
pub mod products;
