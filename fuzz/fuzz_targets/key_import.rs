//! A pasted or uploaded key file, split on every delimiter merchants can
//! choose: no panic, and every entry is a trimmed, non-empty piece of the
//! input with its line number, in order.
#![no_main]

use kapu_core::store::key_imports::{Delimiter, split_entries};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for name in ["newline", "comma", "space", "tab", "semicolon", "pipe"] {
        let Some(d) = Delimiter::parse(name) else { continue };
        let entries = split_entries(text, d);
        let mut last = 0;
        for e in &entries {
            assert!(!e.text.is_empty(), "empty entry");
            assert_eq!(e.text.trim(), e.text, "untrimmed entry");
            assert!(e.line >= last && e.line >= 1, "line numbers go forward");
            last = e.line;
        }
    }
});
