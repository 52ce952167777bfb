//! The catalog: products, categories, coupons, and card keys (import, list, export).

pub mod categories;
pub mod coupons;
pub mod key_import;
pub mod keys;
pub mod product_form;
pub mod products;
