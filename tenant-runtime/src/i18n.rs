//! The buyer's language: the one type both planes share (`kapu_web::i18n`).

pub use kapu_web::i18n::Lang;
