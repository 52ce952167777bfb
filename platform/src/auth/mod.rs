//! Who is asking, and may they: sessions, CSRF, passwords, login throttling,
//! and the extractors handlers take (`Merchant`, `ShopAccess`, `OwnerAccess`),
//! so a handler cannot forget to check.

pub mod csrf;
pub mod password;
pub mod request_ip;
pub mod session;
pub mod session_store;
pub mod shop_access;
pub mod throttle;
