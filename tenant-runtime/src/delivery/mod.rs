//! Getting keys to the buyer: the order view (API and pages) and email.

pub mod email;
pub mod view;
