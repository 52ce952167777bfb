//! Shops: the list and "create shop", the dashboard home, settings and the
//! test/live switch.

pub mod audit;
pub mod channels;
pub mod create;
pub mod dashboard;
pub mod export;
pub mod list;
pub mod logo;
pub mod mode;
pub mod notifications;
pub mod risk;
pub mod settings;
pub mod slug;
pub mod team;
pub mod theme;
