//! In-platform supply on the dashboard: a supplier opens products for
//! resale (`listing`), resellers find and add them (`catalog`), suppliers
//! see and pause their resellers and invite new ones with a discount
//! (`resellers`, `invites`), and both sides read the
//! ledger between them (`ledger`; operators export all of it).

pub mod catalog;
pub mod external;
pub mod invites;
pub mod ledger;
pub mod listing;
pub mod payment_source;
pub mod resellers;
