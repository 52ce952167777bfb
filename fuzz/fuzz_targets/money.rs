//! Prices typed by merchants and amounts sent by providers: no panic, and
//! whatever parses formats back to the same amount.
#![no_main]

use kapu_billing::money::{format_decimal, parse_decimal_minor};
use kapu_core::money::{format_minor, parse_major};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for currency in ["CNY", "USD", "JPY", "EUR"] {
        if let Some(minor) = parse_major(text, currency) {
            assert!(minor >= 0, "{text:?} parsed negative");
            let shown = format_minor(minor, currency);
            assert_eq!(parse_major(&shown, currency), Some(minor), "{text:?} → {shown:?}");
        }
    }
    if let Ok(minor) = parse_decimal_minor(text) {
        assert_eq!(parse_decimal_minor(&format_decimal(minor)), Ok(minor), "{text:?}");
    }
});
